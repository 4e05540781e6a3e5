package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/internal/testlog"
	"github.com/portero/portero/mail"
)

const firefoxOnLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

func TestDeliverySendsQueuedNotice(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "lockout", ClientIP: "198.51.100.7", UserAgent: firefoxOnLinux})

	if sent := deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil)); sent != 1 {
		t.Fatalf("mails sent: got %d, want 1", sent)
	}

	mails := server.Mails()
	if len(mails) != 1 {
		t.Fatalf("mails received: got %d, want 1", len(mails))
	}
	if mails[0].From != "portero@example.org" || len(mails[0].To) != 1 || mails[0].To[0] != "ana@example.org" {
		t.Errorf("envelope: got from %q to %v, want from portero@example.org to [ana@example.org]", mails[0].From, mails[0].To)
	}
	body := decodedBody(t, mails[0].Data)
	for _, want := range []string{
		"Inicio de sesión bloqueado tras varios intentos fallidos",
		"Login locked after repeated failed attempts",
		"Firefox en Linux",
		"Firefox on Linux",
		"198.51.100.7",
		"ana@example.org",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body: got no %q, want it in\n%s", want, body)
		}
	}

	rows := outboxRows(t, database)
	if len(rows) != 1 || !rows[0].sent || rows[0].attempts != 1 {
		t.Errorf("outbox: got %+v, want one row sent on attempt 1", rows)
	}
	// A second pass finds nothing to send.
	if sent := deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil)); sent != 0 {
		t.Errorf("mails sent by a second pass: got %d, want 0", sent)
	}
}

func TestDeliveryHidesAdminDevice(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "user_disabled", ClientIP: "203.0.113.9", UserAgent: firefoxOnLinux, Details: map[string]any{"by": "admin", "admin_id": 1}})

	deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil))

	mails := server.Mails()
	if len(mails) != 1 {
		t.Fatalf("mails received: got %d, want 1", len(mails))
	}
	body := decodedBody(t, mails[0].Data)
	for _, want := range []string{"Cuenta desactivada (por un administrador)", "Account disabled (by an administrator)"} {
		if !strings.Contains(body, want) {
			t.Errorf("body: got no %q, want it in\n%s", want, body)
		}
	}
	for _, unwanted := range []string{"203.0.113.9", "Firefox"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("body: got the admin's %q, want only the event and its time", unwanted)
		}
	}
}

func TestDeliveryRetriesAfterRefusedConnection(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	logs := &testlog.Buffer{}
	down := smtptest.Start(t, nil)
	port := down.Port()
	down.Close()
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "password_changed", Details: map[string]any{"by": "cli"}})

	sent, err := newDeliverer(database, plainSender(port), logs).DeliverDue(context.Background())
	if !errors.Is(err, mail.ErrNotSent) || sent != 0 {
		t.Fatalf("DeliverDue with the server down: got %d, %v; want 0, ErrNotSent", sent, err)
	}
	rows := outboxRows(t, database)
	if len(rows) != 1 {
		t.Fatalf("outbox rows: got %d, want 1", len(rows))
	}
	if rows[0].sent || rows[0].failed || rows[0].attempts != 1 || rows[0].due || !strings.Contains(rows[0].lastError, "connect") {
		t.Errorf("outbox row after the failure: got %+v, want attempt 1 kept for later, with the connect error", rows[0])
	}
	if !strings.Contains(logs.String(), "it will be retried") {
		t.Errorf("log: got %q, want a retry warning", logs.String())
	}

	// The retry delay passes and the server is back.
	server := smtptest.Start(t, nil)
	makeDue(t, database)
	if sent := deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil)); sent != 1 {
		t.Fatalf("mails sent after the outage: got %d, want 1", sent)
	}
	if got := len(mailsTo(server, "ana@example.org")); got != 1 {
		t.Errorf("mails received after the outage: got %d, want 1", got)
	}
	rows = outboxRows(t, database)
	if !rows[0].sent || rows[0].attempts != 2 || rows[0].lastError != "" {
		t.Errorf("outbox row after the retry: got %+v, want sent on attempt 2", rows[0])
	}
}

func TestDeliveryRetriesAfterTemporaryRejection(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	server.Reject("451 4.3.0 Try again later")
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "session_revoked"})
	deliverer := newDeliverer(database, plainSender(server.Port()), nil)

	if _, err := deliverer.DeliverDue(context.Background()); !errors.Is(err, mail.ErrNotSent) {
		t.Fatalf("DeliverDue while the server rejects: got %v, want ErrNotSent", err)
	}
	rows := outboxRows(t, database)
	if len(rows) != 1 || rows[0].sent || rows[0].failed || !strings.Contains(rows[0].lastError, "451") {
		t.Fatalf("outbox after the rejection: got %+v, want one row kept with the 451 reply", rows)
	}
	// Until the retry delay passes, nothing is sent.
	server.Reject("")
	if sent := deliverAll(t, deliverer); sent != 0 {
		t.Errorf("mails sent before the retry delay: got %d, want 0", sent)
	}

	makeDue(t, database)
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Fatalf("mails sent after the retry delay: got %d, want 1", sent)
	}
	if got := len(server.Mails()); got != 1 {
		t.Errorf("mails received: got %d, want 1", got)
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	logs := &testlog.Buffer{}
	server := smtptest.Start(t, nil)
	server.Reject("452 4.2.2 Mailbox full")
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "role_changed"})
	deliverer := newDeliverer(database, plainSender(server.Port()), logs)
	deliverer.Retry.MaxAttempts = 2

	for attempt := 1; attempt <= 2; attempt++ {
		makeDue(t, database)
		if _, err := deliverer.DeliverDue(context.Background()); !errors.Is(err, mail.ErrNotSent) {
			t.Fatalf("attempt %d: got %v, want ErrNotSent", attempt, err)
		}
	}

	rows := outboxRows(t, database)
	if len(rows) != 1 || !rows[0].failed || rows[0].sent || rows[0].attempts != 2 {
		t.Fatalf("outbox after 2 failed attempts: got %+v, want one row given up", rows)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "given up after the last attempt") {
		t.Errorf("log: got %q, want an error that the mail was given up", logs.String())
	}
	server.Reject("")
	makeDue(t, database)
	if sent := deliverAll(t, deliverer); sent != 0 {
		t.Errorf("mails sent after giving up: got %d, want 0", sent)
	}
}

func TestDeliveryGivesUpInvalidAddress(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	// SQL run by hand can store any text as an email.
	bad := testdb.CreateUser(t, database, "ana@example.org\r\nBcc: eve@example.net")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: bad.ID, Kind: "password_changed"})

	if sent := deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil)); sent != 0 {
		t.Errorf("mails sent: got %d, want 0", sent)
	}
	if got := len(server.Mails()); got != 0 {
		t.Errorf("mails received: got %d, want 0", got)
	}
	rows := outboxRows(t, database)
	if len(rows) != 1 || !rows[0].failed || rows[0].attempts != 1 {
		t.Errorf("outbox: got %+v, want the row given up on the first attempt", rows)
	}
}

func TestCrashedClaimSentAfterLease(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "password_changed"})

	// An instance claims the row and dies before it sends the mail.
	claimOne(t, database)
	deliverer := newDeliverer(database, plainSender(server.Port()), nil)
	if sent := deliverAll(t, deliverer); sent != 0 {
		t.Errorf("mails sent while the lease runs: got %d, want 0", sent)
	}

	// The lease ends.
	makeDue(t, database)
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Fatalf("mails sent after the lease: got %d, want 1", sent)
	}
	if got := len(mailsTo(server, "ana@example.org")); got != 1 {
		t.Errorf("mails received: got %d, want 1", got)
	}
	rows := outboxRows(t, database)
	if len(rows) != 1 || !rows[0].sent || rows[0].attempts != 2 {
		t.Errorf("outbox: got %+v, want the row sent on attempt 2", rows)
	}
}

func TestTwoDeliverersSendEachEventOnce(t *testing.T) {
	t.Parallel()
	database, url := newMailDB(t)
	server := smtptest.Start(t, nil)
	const users, eventsPerUser = 3, 8
	for u := range users {
		user := testdb.CreateUser(t, database, fmt.Sprintf("user%d@example.org", u))
		for e := range eventsPerUser {
			testdb.AddEvent(t, database, db.SecurityEvent{UserID: user.ID, Kind: "login_failed", ClientIP: fmt.Sprintf("198.51.100.%d", 100+u*eventsPerUser+e)})
		}
	}

	// A second pool on the same database stands for a second instance.
	other, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	deliverers := []*mail.Deliverer{
		newDeliverer(database, plainSender(server.Port()), nil),
		newDeliverer(other, plainSender(server.Port()), nil),
	}
	var wg sync.WaitGroup
	for _, d := range deliverers {
		// Without the gap each claim takes what is due, so the instances
		// compete for the rows of every user.
		d.Claim.UserGap = 0
		d.Claim.Limit = 3
		wg.Go(func() { deliverAll(t, d) })
	}
	wg.Wait()

	seen := map[string]int{}
	for _, m := range server.Mails() {
		body := decodedBody(t, m.Data)
		for _, line := range strings.Split(body, "\n") {
			if ip, ok := strings.CutPrefix(line, "  Dirección IP: "); ok {
				seen[m.To[0]+" "+ip]++
			}
		}
	}
	for u := range users {
		for e := range eventsPerUser {
			key := fmt.Sprintf("user%d@example.org 198.51.100.%d", u, 100+u*eventsPerUser+e)
			if seen[key] != 1 {
				t.Errorf("mails with the event %s: got %d, want 1", key, seen[key])
			}
		}
	}
	if len(seen) != users*eventsPerUser {
		t.Errorf("distinct events mailed: got %d, want %d", len(seen), users*eventsPerUser)
	}
	for i, row := range outboxRows(t, database) {
		if !row.sent || row.attempts != 1 {
			t.Errorf("outbox row %d: got %+v, want sent on attempt 1", i, row)
		}
	}
}

func TestUserGapCollectsBurst(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	deliverer := newDeliverer(database, plainSender(server.Port()), nil)

	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed", ClientIP: "198.51.100.1"})
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Fatalf("mails for the first event: got %d, want 1", sent)
	}
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed", ClientIP: "198.51.100.2"})
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "lockout", ClientIP: "198.51.100.2"})
	if sent := deliverAll(t, deliverer); sent != 0 {
		t.Errorf("mails within a minute of the first: got %d, want 0", sent)
	}

	// A minute passes.
	if _, err := database.Pool.Exec(context.Background(), `UPDATE mail_outbox SET sent_at = sent_at - interval '61 seconds' WHERE sent_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Fatalf("mails after the gap: got %d, want 1", sent)
	}
	mails := server.Mails()
	if len(mails) != 2 {
		t.Fatalf("mails received: got %d, want 2", len(mails))
	}
	body := decodedBody(t, mails[1].Data)
	for _, want := range []string{"estos 2 eventos de seguridad", "these 2 security events", "Intento de inicio de sesión fallido", "Inicio de sesión bloqueado"} {
		if !strings.Contains(body, want) {
			t.Errorf("second mail: got no %q, want it in\n%s", want, body)
		}
	}
}

func TestRetryHoldsUsersLaterEvents(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	for i := range 3 {
		testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed", ClientIP: fmt.Sprintf("198.51.100.%d", i+1)})
	}
	deliverer := newDeliverer(database, plainSender(server.Port()), nil)
	deliverer.Claim.Limit = 2

	server.Reject("451 4.3.0 Try again later")
	if _, err := deliverer.DeliverDue(context.Background()); !errors.Is(err, mail.ErrNotSent) {
		t.Fatalf("DeliverDue while the server rejects: got %v, want ErrNotSent", err)
	}
	bob := testdb.CreateUser(t, database, "bob@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: bob.ID, Kind: "password_changed"})
	server.Reject("")

	// Ana's third event waits behind the two that wait for their retry;
	// Bob's mail does not.
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Errorf("mails sent while Ana's mail waits for its retry: got %d, want 1", sent)
	}
	if got := len(mailsTo(server, "ana@example.org")); got != 0 {
		t.Errorf("mails to Ana before her retry: got %d, want 0", got)
	}
	if got := len(mailsTo(server, "bob@example.org")); got != 1 {
		t.Errorf("mails to Bob: got %d, want 1", got)
	}
	if rows := outboxRows(t, database); len(rows) != 4 || rows[2].attempts != 0 {
		t.Errorf("outbox: got %+v, want Ana's third row not tried yet", rows)
	}

	makeDue(t, database)
	if sent := deliverAll(t, deliverer); sent != 1 {
		t.Fatalf("mails sent after the retry delay: got %d, want 1", sent)
	}
	mails := mailsTo(server, "ana@example.org")
	if len(mails) != 1 {
		t.Fatalf("mails to Ana: got %d, want 1", len(mails))
	}
	body := decodedBody(t, mails[0].Data)
	if !strings.Contains(body, "198.51.100.1") || !strings.Contains(body, "198.51.100.2") || strings.Contains(body, "198.51.100.3") {
		t.Errorf("Ana's mail: got\n%s\nwant her two oldest events", body)
	}
}

func TestClaimSkipsUserWithMailInFlight(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed"})

	// Another instance claims the row and is still sending it.
	claimOne(t, database)
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "lockout"})

	if sent := deliverAll(t, newDeliverer(database, plainSender(server.Port()), nil)); sent != 0 {
		t.Errorf("mails sent while another instance sends to the same user: got %d, want 0", sent)
	}
}

func TestShutdownReleasesInterruptedMail(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	logs := &testlog.Buffer{}
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "password_changed"})

	// A server that accepts the connection and never greets, and a
	// shutdown that starts once the send is under way.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	ctx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	go func() {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		shutdown()
		io.Copy(io.Discard, conn)
	}()

	deliverer := newDeliverer(database, plainSender(listener.Addr().(*net.TCPAddr).Port), logs)
	if _, err := deliverer.DeliverDue(ctx); err == nil {
		t.Fatal("DeliverDue interrupted by the shutdown: got no error, want one")
	}

	rows := outboxRows(t, database)
	if len(rows) != 1 || rows[0].sent || rows[0].failed || rows[0].attempts != 0 || !rows[0].due {
		t.Errorf("outbox after the interrupted send: got %+v, want the row due again with no attempt counted", rows)
	}
	if !strings.Contains(logs.String(), "interrupted by the shutdown") {
		t.Errorf("log: got %q, want the interruption", logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("log: got %q, want no warning for an interruption", logs.String())
	}
}

func TestMailOffQueuesNothing(t *testing.T) {
	t.Parallel()
	// A new database has email off, as `portero serve` without SMTP leaves it.
	database, _ := testdb.New(t)
	ctx := context.Background()
	ana := testdb.CreateUser(t, database, "ana@example.org")

	count := func() int {
		t.Helper()
		var n int
		if err := database.Pool.QueryRow(ctx, `SELECT count(*) FROM mail_outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "password_changed"})
	if got := count(); got != 0 {
		t.Errorf("rows queued with email off: got %d, want 0", got)
	}

	if err := database.SetMailEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "password_changed"})
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "logout"})
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_succeeded"})
	testdb.AddEvent(t, database, db.SecurityEvent{Kind: "login_failed", Details: map[string]any{"reason": "unknown_email"}})
	if got := count(); got != 1 {
		t.Errorf("rows queued with email on: got %d, want 1 for the password change only", got)
	}

	if err := database.SetMailEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "user_disabled"})
	if got := count(); got != 1 {
		t.Errorf("rows after email was turned off again: got %d, want 1", got)
	}
}

func TestCleanupDeletesOldMail(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	ctx := context.Background()
	ana := testdb.CreateUser(t, database, "ana@example.org")
	for range 3 {
		testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed"})
	}
	if _, err := database.Pool.Exec(ctx, `UPDATE mail_outbox SET created_at = now() - interval '8 days' WHERE id IN (SELECT id FROM mail_outbox ORDER BY id LIMIT 2)`); err != nil {
		t.Fatal(err)
	}

	result, err := database.Cleanup(ctx, db.CleanupOptions{BatchSize: 1, LoginFailureWindow: 15 * time.Minute, MailMaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if result.OldMail != 2 {
		t.Errorf("old mail rows deleted: got %d, want 2", result.OldMail)
	}
	if rows := outboxRows(t, database); len(rows) != 1 {
		t.Errorf("rows left: got %d, want 1", len(rows))
	}
}

// runUntil runs d.Run until done holds, or for a minute at most, then ends
// its context and waits for it to return.
func runUntil(t *testing.T, d *mail.Deliverer, done func() bool) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(stopped)
	}()

	deadline := time.Now().Add(time.Minute)
	for !done() && time.Now().Before(deadline) {
		select {
		case <-stopped:
			t.Fatal("Run returned before its context ended")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	<-stopped
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	database, _ := newMailDB(t)
	server := smtptest.Start(t, nil)
	logs := &testlog.Buffer{}
	ana := testdb.CreateUser(t, database, "ana@example.org")
	testdb.AddEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "user_enabled"})
	deliverer := newDeliverer(database, plainSender(server.Port()), logs)
	deliverer.Poll = 10 * time.Millisecond

	runUntil(t, deliverer, func() bool { return len(server.Mails()) > 0 })

	if !strings.Contains(logs.String(), "Mail delivery stopped.") {
		t.Errorf("log: got %q, want the stop", logs.String())
	}
	if got := len(server.Mails()); got != 1 {
		t.Errorf("mails received: got %d, want 1", got)
	}
}

func TestRunLogsDatabaseError(t *testing.T) {
	t.Parallel()
	_, url := newMailDB(t)
	closed, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	logs := &testlog.Buffer{}
	deliverer := newDeliverer(closed, plainSender(smtptest.Start(t, nil).Port()), logs)
	deliverer.Poll = 10 * time.Millisecond

	runUntil(t, deliverer, func() bool { return strings.Contains(logs.String(), "Mail delivery failed; retrying.") })

	if !strings.Contains(logs.String(), "level=ERROR msg=\"Mail delivery failed; retrying.\"") {
		t.Errorf("log: got %q, want an error about the failed delivery", logs.String())
	}
}
