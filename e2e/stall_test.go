package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestStalledDatabase holds a lock on the session table, as a long
// migration or a stuck transaction would. A page that needs the table must
// return 503 within a few seconds instead of hanging, and SIGTERM must still
// stop the process within stopTimeout.
func TestStalledDatabase(t *testing.T) {
	const (
		email    = "stall@example.com"
		password = "stalled database test"
	)

	d := newDeployment(t)
	d.createUser(t, email, "Stall", password)
	p := d.start(t)

	client := newWebClient(nil)
	client.logIn(t, d.baseURL(), email, password, nil)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.databaseURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE web_sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatalf("lock web_sessions: %v", err)
	}

	start := time.Now()
	resp, err := client.request(http.MethodGet, d.baseURL()+"/dashboard", nil, nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("GET /dashboard with the table locked: %v", err)
	}
	if resp.status != http.StatusServiceUnavailable {
		t.Errorf("GET /dashboard with the table locked: got %d, want 503", resp.status)
	}
	if elapsed > 8*time.Second {
		t.Errorf("GET /dashboard with the table locked took %s, want at most 8 s", elapsed.Round(time.Millisecond))
	}

	// A request is stuck on the lock when SIGTERM arrives.
	stuck := make(chan struct{})
	go func() {
		defer close(stuck)
		client.request(http.MethodGet, d.baseURL()+"/dashboard", nil, nil)
	}()
	time.Sleep(300 * time.Millisecond)
	p.stop(t)
	<-stuck

	if err := tx.Rollback(ctx); err != nil && err != pgx.ErrTxClosed {
		t.Errorf("release the lock: %v", err)
	}
	requireNoPanic(t, d.log.String())
}
