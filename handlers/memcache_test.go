package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/internal/cache"
)

// testFeed is the change handler of a test app: serve's, plus markers that
// let a test wait until every change committed before the marker has
// reached the app.
type testFeed struct {
	*cache.Guard
	app *handlers.App

	mu      sync.Mutex
	markers map[string]chan struct{}
	next    atomic.Int64
}

func (f *testFeed) Changed(channel, payload string) {
	if strings.HasPrefix(payload, "marker-") {
		f.mu.Lock()
		if ch, ok := f.markers[payload]; ok {
			close(ch)
			delete(f.markers, payload)
		}
		f.mu.Unlock()
		return
	}
	f.app.Changed(channel, payload)
}

func startFeed(t testing.TB, database *db.DB, guard *cache.Guard, app *handlers.App) *testFeed {
	t.Helper()
	feed := &testFeed{Guard: guard, app: app, markers: map[string]chan struct{}{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		database.Listen(ctx, feed, db.ListenOptions{
			Heartbeat: 100 * time.Millisecond,
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// Tests start with the copies in use, as a server does a moment after
	// its start.
	deadline := time.Now().Add(5 * time.Second)
	for !guard.Live() {
		if time.Now().After(deadline) {
			t.Fatal("the change listener sent no heartbeat within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	return feed
}

// settle waits until the app has heard every change committed so far. A test
// calls it after it changed rows behind the app's back, as the CLI or
// another instance would.
func (e *env) settle() {
	e.t.Helper()
	if e.feed == nil {
		return
	}
	marker := fmt.Sprintf("marker-%d", e.feed.next.Add(1))
	ch := make(chan struct{})
	e.feed.mu.Lock()
	e.feed.markers[marker] = ch
	e.feed.mu.Unlock()

	// PostgreSQL delivers notifications in the order their transactions
	// committed, so the marker comes after every earlier change.
	if _, err := e.db.Pool.Exec(context.Background(), `SELECT pg_notify($1, $2)`, db.UserChannel, marker); err != nil {
		e.t.Fatalf("send marker: %v", err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		e.t.Fatal("the change listener did not pass the marker on within 5 s")
	}
}

// lockSessionTables locks the session and user tables until the test ends,
// so that any read of them waits.
func lockSessionTables(t *testing.T, e *env) {
	t.Helper()
	lockTables(t, e, "web_sessions, users")
}

// lockTables locks the comma-separated tables until the test ends.
func lockTables(t *testing.T, e *env, tables string) {
	t.Helper()
	tx, err := e.db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(context.Background(), `LOCK TABLE `+tables+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
}

// TestCachedReadNeedsNoDatabase shows that a logged-in read is served from
// memory: while another transaction locks the session and user tables, so
// that any read of them would wait, the dashboard still loads.
func TestCachedReadNeedsNoDatabase(t *testing.T) {
	e := newEnvWith(t, envOptions{alwaysLive: true})
	c := e.loggedIn("ana@example.com")
	if r := e.get(c, "/dashboard"); r.status != http.StatusOK {
		t.Fatalf("first dashboard: %d", r.status)
	}

	lockSessionTables(t, e)

	c.Timeout = 2 * time.Second
	r := e.get(c, "/dashboard")
	if r.status != http.StatusOK || !strings.Contains(r.body, "ana@example.com") {
		t.Fatalf("dashboard while the tables are locked: %d, want 200 from memory", r.status)
	}
}

// TestUncachedReadWaitsForDatabase is the control of the test above: without
// the cache the same read waits for the lock.
func TestUncachedReadWaitsForDatabase(t *testing.T) {
	e := newEnvWith(t, envOptions{noCache: true})
	c := e.loggedIn("ana@example.com")

	lockSessionTables(t, e)

	c.Timeout = time.Second
	if _, err := c.Get(e.server.URL + "/dashboard"); err == nil {
		t.Fatal("the uncached dashboard answered while the tables were locked")
	}
}

// waitUntilLoggedOut polls the dashboard on e with c until it sends the
// visitor to the login page, and fails after limit.
func waitUntilLoggedOut(t *testing.T, e *env, c *http.Client, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := e.get(c, "/dashboard")
		if r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/login") {
			return time.Since(start)
		}
		if r.status != http.StatusOK {
			t.Fatalf("dashboard: status %d", r.status)
		}
		if time.Since(start) > limit {
			t.Fatalf("the session still works %v after it ended elsewhere", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoCachingInstances returns two apps on one database, each with its own cache and
// listener, and a client logged in through the first whose cookie also
// works on the second, as behind a load balancer.
func twoCachingInstances(t *testing.T) (a, b *env, onA, onB *http.Client) {
	t.Helper()
	a = newEnv(t)
	b = newEnvOn(t, a.db, envOptions{})
	onA = a.loggedIn("ana@example.com")

	onB = b.client()
	u, _ := url.Parse(b.server.URL)
	onB.Jar.SetCookies(u, []*http.Cookie{{Name: testCookie, Value: a.sessionCookie(onA).Value, Path: "/"}})
	for range 2 {
		if r := b.get(onB, "/dashboard"); r.status != http.StatusOK {
			t.Fatalf("dashboard on the second instance: %d", r.status)
		}
	}

	return a, b, onA, onB
}

func TestLogoutEndsRemoteSession(t *testing.T) {
	a, b, onA, onB := twoCachingInstances(t)

	token := a.csrfToken(onA, "/dashboard")
	if r := a.post(onA, "/logout", url.Values{"csrf_token": {token}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	took := waitUntilLoggedOut(t, b, onB, time.Second)
	t.Logf("the second instance refused the session %v after the logout", took)
}

func TestDisableEndsRemoteSession(t *testing.T) {
	a, b, _, onB := twoCachingInstances(t)

	// As `portero user disable` does, from outside both apps.
	if _, err := a.db.Pool.Exec(context.Background(), `UPDATE users SET disabled_at = now() WHERE email = 'ana@example.com'`); err != nil {
		t.Fatal(err)
	}
	waitUntilLoggedOut(t, b, onB, time.Second)
}

func TestLostListenerDropsCopies(t *testing.T) {
	a, b, onA, onB := twoCachingInstances(t)
	cookie := a.sessionCookie(onA).Value

	// End every listening connection: both apps lose their notifications
	// and must stop trusting their copies, then listen again.
	if _, err := a.db.Pool.Exec(context.Background(), `
		SELECT pg_terminate_backend(pid)
		FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	token := a.csrfToken(onA, "/dashboard")
	if r := a.post(onA, "/logout", url.Values{"csrf_token": {token}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	waitUntilLoggedOut(t, b, onB, time.Second)

	// The notification of the logout was sent while no app listened. Once
	// the second app listens again, it must not serve its old copy.
	deadline := time.Now().Add(5 * time.Second)
	for !b.feed.Live() {
		if time.Now().After(deadline) {
			t.Fatal("the second app did not listen again within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The refused cookie was cleared; the client sends it again, as an
	// attacker holding a copy would.
	again := b.client()
	u, _ := url.Parse(b.server.URL)
	again.Jar.SetCookies(u, []*http.Cookie{{Name: testCookie, Value: cookie, Path: "/"}})
	if r := b.get(again, "/dashboard"); r.status != http.StatusSeeOther {
		t.Fatalf("dashboard on the second app after it listens again: %d, want 303 to the login page", r.status)
	}
}
