package mail_test

import (
	"strings"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/internal/testdb"
)

// Migration 00013 adds the security key events to security_event_is_notice,
// which the mail trigger of migration 00015 calls, so they are mailed too.
func TestDeliveryMailsSecurityKeyEvents(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "security_key_added", ClientIP: "198.51.100.7", UserAgent: firefoxOnLinux})
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "security_key_removed", ClientIP: "198.51.100.7", UserAgent: firefoxOnLinux})

	deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil))

	mails := server.Mails()
	if len(mails) != 1 {
		t.Fatalf("mails received: got %d, want 1 with both events", len(mails))
	}
	body := decodedBody(t, mails[0].Data)
	for _, want := range []string{
		"Llave de seguridad añadida",
		"Llave de seguridad quitada",
		"Security key added",
		"Security key removed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body: got no %q, want it in\n%s", want, body)
		}
	}
}
