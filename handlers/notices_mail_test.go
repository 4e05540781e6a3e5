package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/config"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/mail"
)

func TestPasswordChangeSendsMail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.SetMailEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	server := smtptest.Start(t, nil)
	from := netmail.Address{Name: "Portero", Address: "portero@example.org"}
	sender := &mail.Sender{Server: config.SMTP{Host: "127.0.0.1", Port: server.Port(), From: from, TLS: config.SMTPNoTLS}}
	deliverer := mail.NewDeliverer(e.db, sender, from, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := e.loggedIn("ana@example.com")
	csrfToken := e.csrfToken(c, "/account/password")
	oldCookie := e.sessionCookie(c).Value

	if resp := e.changePassword(c, testPassword, newTestPassword, newTestPassword); resp.status != 303 {
		t.Fatalf("change password: got %d, want 303", resp.status)
	}
	deliverCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if sent, err := deliverer.DeliverDue(deliverCtx); err != nil || sent != 1 {
		t.Fatalf("DeliverDue: got %d, %v; want 1, nil", sent, err)
	}

	mails := server.Mails()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "ana@example.com" {
		t.Fatalf("mails received: got %+v, want one to ana@example.com", mails)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(mails[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := string(decoded)
	spanish, english := strings.Index(body, "Contraseña cambiada"), strings.Index(body, "Password changed")
	if spanish < 0 || english < 0 || spanish > english {
		t.Errorf("body: got Spanish at %d and English at %d, want both with Spanish first in\n%s", spanish, english, body)
	}
	for _, want := range []string{"127.0.0.1", "ana@example.com", " UTC"} {
		if !strings.Contains(body, want) {
			t.Errorf("body: got no %q, want it in\n%s", want, body)
		}
	}

	secrets := []string{testPassword, newTestPassword, oldCookie, e.sessionCookie(c).Value, csrfToken}
	rows, err := e.db.Pool.Query(ctx, `SELECT convert_from(key, 'UTF8') FROM web_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, key)
	}
	rows.Close()
	for _, secret := range secrets {
		if strings.Contains(mails[0].Data, secret) || strings.Contains(body, secret) {
			t.Errorf("mail: got a password, token, cookie or session key, want none")
		}
	}
}
