package db_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// recorder is a db.ChangeHandler that records every call it receives.
type recorder struct {
	mu      sync.Mutex
	resets  int
	alive   int
	changes []string
	signal  chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 100)} }

func (r *recorder) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) Reset() {
	r.mu.Lock()
	r.resets++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Alive(time.Time) {
	r.mu.Lock()
	r.alive++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Changed(channel, payload string) {
	r.mu.Lock()
	r.changes = append(r.changes, channel+" "+payload)
	r.mu.Unlock()
	r.poke()
}

// waitFor waits up to 5 s for cond, which runs under the recorder's lock.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *recorder) has(change string) bool {
	for _, c := range r.changes {
		if c == change {
			return true
		}
	}

	return false
}

func startListening(t *testing.T, database *db.DB) *recorder {
	t.Helper()
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		database.Listen(ctx, rec, db.ListenOptions{
			Heartbeat: 50 * time.Millisecond,
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	rec.waitFor(t, "the first heartbeat", func() bool { return rec.alive > 0 })

	return rec
}

func hashOfKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func TestListenHearsChanges(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	exec := func(ctx context.Context, sql string, args ...any) error {
		_, err := database.Pool.Exec(ctx, sql, args...)
		return err
	}
	user, err := database.CreateUser(ctx, "listen@example.com", "Listen", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}
	insertSessionRow(t, ctx, exec, "LIVEKEY")
	insertSessionRow(t, ctx, exec, "DEADKEY")
	if err := exec(ctx, `UPDATE web_sessions SET expires_on = now() - interval '1 minute' WHERE key = $1`, []byte("DEADKEY")); err != nil {
		t.Fatal(err)
	}

	rec := startListening(t, database)
	rec.mu.Lock()
	if rec.resets == 0 {
		t.Error("Listen did not reset before its first heartbeat")
	}
	rec.mu.Unlock()

	// An update names the session by the hash of its key, never the key.
	if err := exec(ctx, `UPDATE web_sessions SET data = 'y' WHERE key = $1`, []byte("LIVEKEY")); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the session update", func() bool { return rec.has(db.SessionChannel + " " + hashOfKey("LIVEKEY")) })

	if _, err := database.DisableUser(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the user update", func() bool { return rec.has(db.UserChannel + " " + strconv.FormatInt(user.ID, 10)) })

	// Deleting both rows in one statement announces the live one only.
	if err := exec(ctx, `DELETE FROM web_sessions`); err != nil {
		t.Fatal(err)
	}
	if err := exec(ctx, `TRUNCATE users CASCADE`); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the truncate", func() bool { return rec.has(db.UserChannel + " *") })

	rec.mu.Lock()
	defer rec.mu.Unlock()
	deletes := 0
	for _, c := range rec.changes {
		if c == db.SessionChannel+" "+hashOfKey("DEADKEY") {
			t.Error("deleting an expired session row sent a notification")
		}
		if c == db.SessionChannel+" "+hashOfKey("LIVEKEY") {
			deletes++
		}
	}
	if deletes != 2 {
		t.Errorf("got %d notifications for the live session, want 2 (update, delete)", deletes)
	}
	for _, c := range rec.changes {
		for _, key := range []string{"LIVEKEY", "DEADKEY"} {
			if c == db.SessionChannel+" "+key {
				t.Errorf("a notification carries the session key %s", key)
			}
		}
	}
}

func TestListenRecoversFromLostConnection(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	rec := startListening(t, database)

	rec.mu.Lock()
	resetsBefore := rec.resets
	rec.mu.Unlock()

	// End every other backend of this database, the listener's included.
	if _, err := database.Pool.Exec(ctx, `
		SELECT pg_terminate_backend(pid)
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}

	// The loss resets, and so does the new connection before it is trusted.
	rec.waitFor(t, "two more resets", func() bool { return rec.resets >= resetsBefore+2 })
	rec.mu.Lock()
	aliveBefore := rec.alive
	rec.mu.Unlock()
	rec.waitFor(t, "heartbeats after the reconnection", func() bool { return rec.alive > aliveBefore })

	user, err := database.CreateUser(ctx, "again@example.com", "Again", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := database.DisableUser(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "a change after the reconnection", func() bool { return rec.has(db.UserChannel + " " + strconv.FormatInt(user.ID, 10)) })
}
