package mail_test

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
	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/mail"
)

var testFrom = netmail.Address{Name: "Portero", Address: "portero@example.org"}

// newMailDB returns a migrated database with email turned on, as
// `portero serve` leaves it when SMTP is configured.
func newMailDB(t *testing.T) (*db.DB, string) {
	t.Helper()

	database, url := testdb.New(t)
	if err := database.SetMailEnabled(context.Background(), true); err != nil {
		t.Fatal(err)
	}

	return database, url
}

// plainSender returns a sender to the test server without TLS, which the
// configuration allows on 127.0.0.1 only.
func plainSender(port int) *mail.Sender {
	return &mail.Sender{Server: config.SMTP{Host: "127.0.0.1", Port: port, From: testFrom, TLS: config.SMTPNoTLS}}
}

// newDeliverer returns a deliverer with the server's defaults that logs to
// logs, or discards its log when logs is nil.
func newDeliverer(database *db.DB, sender *mail.Sender, logs io.Writer) *mail.Deliverer {
	if logs == nil {
		logs = io.Discard
	}

	return mail.NewDeliverer(database, sender, testFrom, newLogger(logs))
}

// outboxRow is the state of one mail_outbox row.
type outboxRow struct {
	attempts  int
	sent      bool
	failed    bool
	lastError string
	due       bool
}

func outboxRows(t *testing.T, database *db.DB) []outboxRow {
	t.Helper()

	rows, err := database.Pool.Query(context.Background(), `
		SELECT attempts, sent_at IS NOT NULL, failed_at IS NOT NULL, last_error, next_attempt_at <= now()
		FROM mail_outbox
		ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var list []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.attempts, &r.sent, &r.failed, &r.lastError, &r.due); err != nil {
			t.Fatal(err)
		}
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return list
}

// claimOne claims the one due row with the server's lease, as another
// instance would, and fails the test unless it got exactly one row.
func claimOne(t *testing.T, database *db.DB) {
	t.Helper()

	claimed, err := database.ClaimMail(context.Background(), db.MailClaim{Limit: mail.MaxEventsPerMail, UserGap: mail.UserGap, Lease: mail.Lease})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimMail: got %d rows, %v; want 1, nil", len(claimed), err)
	}
}

// makeDue moves the next attempt of every queued row to now, as if the
// retry delay had passed.
func makeDue(t *testing.T, database *db.DB) {
	t.Helper()

	if _, err := database.Pool.Exec(context.Background(), `UPDATE mail_outbox SET next_attempt_at = now() WHERE sent_at IS NULL`); err != nil {
		t.Fatal(err)
	}
}

// decodedBody returns the body of a raw message, decoded from
// quoted-printable, with LF line ends.
func decodedBody(t *testing.T, raw string) string {
	t.Helper()

	msg, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	if got := msg.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding: got %q, want quoted-printable", got)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}

	return strings.ReplaceAll(string(body), "\r\n", "\n")
}

// deliverAll runs DeliverDue until it finds nothing due, with a time limit.
func deliverAll(t *testing.T, d *mail.Deliverer) int {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent, err := d.DeliverDue(ctx)
	if err != nil {
		t.Fatalf("DeliverDue: got error %v, want nil", err)
	}

	return sent
}

// mailsTo returns the mails that the server accepted for addr.
func mailsTo(server *smtptest.Server, addr string) []smtptest.Mail {
	var mails []smtptest.Mail
	for _, m := range server.Mails() {
		if len(m.To) == 1 && m.To[0] == addr {
			mails = append(mails, m)
		}
	}

	return mails
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
