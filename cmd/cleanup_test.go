package cmd

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// logBuffer collects log output that another goroutine writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

func insertCleanupSessions(t *testing.T, database *db.DB, expired, live int) {
	t.Helper()

	_, err := database.Pool.Exec(context.Background(), `
		INSERT INTO web_sessions (key, data, expires_on)
		SELECT convert_to('session-' || g, 'UTF8'), '\x00'::bytea,
		       CASE WHEN g <= $1::integer THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
		FROM generate_series(1, $1::integer + $2::integer) AS g`, expired, live)
	if err != nil {
		t.Fatalf("insert sessions: %v", err)
	}
}

func countSessions(t *testing.T, database *db.DB) int {
	t.Helper()

	var n int
	if err := database.Pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions`).Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}

	return n
}

func TestRunCleanupDeletesThenStops(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	insertCleanupSessions(t, database, 1200, 3)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	done := make(chan struct{})
	go func() {
		runCleanup(ctx, database, 15*time.Minute, logger)
		close(done)
	}()

	const deletedLine = `msg="Expired sessions deleted." count=1200`
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), deletedLine) {
		if time.Now().After(deadline) {
			t.Fatalf("log after 30 s: got %q, want a line with %s", logs.String(), deletedLine)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := countSessions(t, database); n != 3 {
		t.Errorf("sessions left: got %d, want the 3 live ones", n)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runCleanup still runs 10 s after ctx ended, want it stopped")
	}
	if !strings.Contains(logs.String(), `msg="Session cleanup stopped."`) {
		t.Errorf("log: got %q, want the stop line", logs.String())
	}
}

func TestRunCleanupCanceledLogsNoError(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	insertCleanupSessions(t, database, 10, 0)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	runCleanup(ctx, database, 15*time.Minute, logger)

	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log: got %q, want no error for a cleanup stopped by its context", logs.String())
	}
	if !strings.Contains(logs.String(), `msg="Session cleanup stopped."`) {
		t.Errorf("log: got %q, want the stop line", logs.String())
	}
	if n := countSessions(t, database); n != 10 {
		t.Errorf("sessions left: got %d, want all 10, because ctx ended before the first statement", n)
	}
}
