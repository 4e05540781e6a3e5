package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

const testCookie = "portero_session"

var (
	testSecret      = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH")
	testOtherSecret = []byte("ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkji")
)

func newTestManager(t *testing.T, database *db.DB, secret, previous []byte) *Manager {
	t.Helper()

	return NewManager(database.SQL, Options{
		CookieName:     testCookie,
		MaxAge:         720 * time.Hour,
		IdleTimeout:    168 * time.Hour,
		Secret:         secret,
		PreviousSecret: previous,
	})
}

// login starts a session for userID and returns its cookie.
func login(t *testing.T, m *Manager, userID int64) *http.Cookie {
	t.Helper()

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	if _, err := m.Login(w, r, nil, userID, nil); err != nil {
		t.Fatalf("Login: %v", err)
	}

	for _, c := range w.Result().Cookies() {
		if c.Name == testCookie {
			return c
		}
	}
	t.Fatal("Login set no session cookie")

	return nil
}

func load(t *testing.T, m *Manager, cookies ...*http.Cookie) *Session {
	t.Helper()

	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	s, err := m.Load(r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	return s
}

func countRows(t *testing.T, database *db.DB) int {
	t.Helper()

	var n int
	if err := database.Pool.QueryRow(context.Background(), "SELECT count(*) FROM web_sessions").Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}

	return n
}

func TestLoginThenLoad(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	cookie := login(t, m, 42)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Errorf("cookie attributes: got HttpOnly=%v SameSite=%v Path=%q, want true, Lax, /", cookie.HttpOnly, cookie.SameSite, cookie.Path)
	}
	if want := int((720 * time.Hour) / time.Second); cookie.MaxAge != want {
		t.Errorf("cookie Max-Age: got %d, want %d (the absolute timeout)", cookie.MaxAge, want)
	}

	s := load(t, m, cookie)
	if s.UserID != 42 {
		t.Fatalf("UserID: got %d, want 42", s.UserID)
	}
	if got := countRows(t, database); got != 1 {
		t.Errorf("rows: got %d, want 1", got)
	}
}

func TestLoginReplacesSession(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	before := login(t, m, 1)
	current := load(t, m, before)

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.AddCookie(before)
	if _, err := m.Login(w, r, current, 2, nil); err != nil {
		t.Fatalf("Login: %v", err)
	}

	if s := load(t, m, before); s.Authenticated() {
		t.Errorf("cookie from before the login: got user %d, want anonymous", s.UserID)
	}
	if got := countRows(t, database); got != 1 {
		t.Errorf("rows after second login: got %d, want 1 (the old row deleted)", got)
	}
}

func TestLogoutDeletesRow(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	cookie := login(t, m, 7)
	s := load(t, m, cookie)

	w := httptest.NewRecorder()
	if err := m.Logout(w, httptest.NewRequest(http.MethodPost, "/logout", nil), s); err != nil {
		t.Fatalf("Logout: %v", err)
	}

	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].Name != testCookie || cleared[0].MaxAge >= 0 || cleared[0].Path != "/" {
		t.Errorf("logout cookie: got %+v, want %s expired with Path=/", cleared, testCookie)
	}
	if got := countRows(t, database); got != 0 {
		t.Errorf("rows after logout: got %d, want 0", got)
	}
	if s := load(t, m, cookie); s.Authenticated() || !s.BadCookie {
		t.Errorf("replayed cookie: got user %d BadCookie=%v, want anonymous with BadCookie", s.UserID, s.BadCookie)
	}
}

func TestDeletedRowNotRevived(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	cookie := login(t, m, 7)
	var key []byte
	if err := database.Pool.QueryRow(context.Background(), "DELETE FROM web_sessions RETURNING key").Scan(&key); err != nil {
		t.Fatalf("delete row: %v", err)
	}

	// pgstore would keep the old ID for the next save; a new login from
	// that request must still get a fresh ID.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookie)
	s, err := m.Load(r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := m.Login(httptest.NewRecorder(), r, s, 7, nil); err != nil {
		t.Fatalf("Login: %v", err)
	}

	var reused bool
	if err := database.Pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM web_sessions WHERE key = $1)", key).Scan(&reused); err != nil {
		t.Fatalf("query: %v", err)
	}
	if reused {
		t.Error("a deleted session ID was stored again, want a new ID")
	}
}

func TestExpiredRowRefused(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	cookie := login(t, m, 9)
	if _, err := database.Pool.Exec(context.Background(), "UPDATE web_sessions SET expires_on = now() - interval '1 second'"); err != nil {
		t.Fatalf("expire row: %v", err)
	}

	if s := load(t, m, cookie); s.Authenticated() {
		t.Errorf("expired row: got user %d, want anonymous", s.UserID)
	}
	if got := countRows(t, database); got != 1 {
		t.Errorf("rows: got %d, want 1 (cleanup has not run)", got)
	}
}

func TestTimeoutsFromSessionValues(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)
	start := time.Now()

	cookie := login(t, m, 3)

	tests := []struct {
		name    string
		at      time.Time
		touched bool
		want    bool
	}{
		{"fresh", start.Add(time.Minute), false, true},
		{"idle timeout passed", start.Add(168*time.Hour + time.Minute), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.now = func() time.Time { return tt.at }
			t.Cleanup(func() { m.now = time.Now })

			if got := load(t, m, cookie).Authenticated(); got != tt.want {
				t.Errorf("authenticated at %s: got %v, want %v", tt.at.Sub(start), got, tt.want)
			}
		})
	}
}

func TestAbsoluteTimeoutDespiteActivity(t *testing.T) {
	database, _ := testdb.New(t)
	m := NewManager(database.SQL, Options{
		CookieName:  testCookie,
		MaxAge:      2 * time.Hour,
		IdleTimeout: time.Hour,
		Secret:      testSecret,
	})
	start := time.Now()
	// Login reads the clock too. Pinning it to start keeps a slow login
	// from moving the session's times past the 1-second margins below.
	m.now = func() time.Time { return start }
	cookie := login(t, m, 3)

	// Activity every 50 minutes keeps the idle deadline ahead, but not
	// past the absolute one.
	for _, at := range []time.Duration{50 * time.Minute, 100 * time.Minute} {
		m.now = func() time.Time { return start.Add(at) }
		s := load(t, m, cookie)
		if !s.Authenticated() {
			t.Fatalf("at %s: got anonymous, want authenticated", at)
		}
		if err := m.Touch(httptest.NewRequest(http.MethodGet, "/", nil), s); err != nil {
			t.Fatalf("Touch at %s: %v", at, err)
		}
	}

	m.now = func() time.Time { return start.Add(2*time.Hour + time.Second) }
	if s := load(t, m, cookie); s.Authenticated() {
		t.Error("past the absolute timeout: got authenticated, want anonymous")
	}
}

// rowVersion returns the row's xmin, which changes on every update.
func rowVersion(t *testing.T, database *db.DB) string {
	t.Helper()

	var xmin string
	if err := database.Pool.QueryRow(context.Background(), "SELECT xmin::text FROM web_sessions").Scan(&xmin); err != nil {
		t.Fatalf("read xmin: %v", err)
	}

	return xmin
}

func TestTouchWritesAtMostOncePerMinute(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)
	start := time.Now()
	// Login reads the clock too. Pinning it to start keeps a slow login
	// from moving the session's times past the 1-second margins below.
	m.now = func() time.Time { return start }
	cookie := login(t, m, 5)
	initial := rowVersion(t, database)

	touchAt := func(d time.Duration) {
		t.Helper()
		m.now = func() time.Time { return start.Add(d) }
		s := load(t, m, cookie)
		if err := m.Touch(httptest.NewRequest(http.MethodGet, "/", nil), s); err != nil {
			t.Fatalf("Touch: %v", err)
		}
	}

	for range 5 {
		touchAt(30 * time.Second)
	}
	if got := rowVersion(t, database); got != initial {
		t.Fatalf("row updated within the first minute: xmin %s, want %s", got, initial)
	}

	touchAt(61 * time.Second)
	refreshed := rowVersion(t, database)
	if refreshed == initial {
		t.Fatal("row not updated after a minute, want the idle deadline refreshed")
	}

	touchAt(90 * time.Second)
	if got := rowVersion(t, database); got != refreshed {
		t.Errorf("row updated again within a minute of the refresh: xmin %s, want %s", got, refreshed)
	}
}

func TestBadCookiesAreAnonymous(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)
	valid := login(t, m, 8)

	other := newTestManager(t, database, testOtherSecret, nil)
	foreign := login(t, other, 8)

	tampered := []byte(valid.Value)
	tampered[len(tampered)/2] ^= 0x01

	tests := []struct {
		name  string
		value string
	}{
		{"garbage", "not a cookie at all"},
		{"empty", ""},
		{"tampered", string(tampered)},
		{"signed with another key", foreign.Value},
		{"express-session format", "s%3AyhK0fTL3j6m1l8E7iSv7Qg2.Fr9B1l8UoHcyQ0Vd1fP7o4o9XcDq8b1vkXn5m0kGgXc"},
		{"8 KB long", strings.Repeat("A", 8192)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, m, &http.Cookie{Name: testCookie, Value: tt.value})
			if s.Authenticated() {
				t.Errorf("got user %d, want anonymous", s.UserID)
			}
		})
	}
}

func TestPreviousSecretAccepted(t *testing.T) {
	database, _ := testdb.New(t)
	old := newTestManager(t, database, testOtherSecret, nil)
	cookie := login(t, old, 11)

	rotated := newTestManager(t, database, testSecret, testOtherSecret)
	if s := load(t, rotated, cookie); s.UserID != 11 {
		t.Fatalf("cookie from the previous secret: got user %d, want 11", s.UserID)
	}

	// New cookies are written with the current secret only.
	fresh := login(t, rotated, 12)
	current := newTestManager(t, database, testSecret, nil)
	if s := load(t, current, fresh); s.UserID != 12 {
		t.Errorf("new cookie read with the current secret alone: got user %d, want 12", s.UserID)
	}
	if s := load(t, old, fresh); s.Authenticated() {
		t.Error("new cookie read with the previous secret alone: got authenticated, want anonymous")
	}
}

func TestConcurrentLoads(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	shared := login(t, m, 1)
	var own []*http.Cookie
	for i := range 8 {
		own = append(own, login(t, m, int64(100+i)))
	}

	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 16 {
		wg.Go(func() {
			for range 10 {
				r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
				r.AddCookie(shared)
				s, err := m.Load(r)
				if err != nil || s.UserID != 1 {
					errs <- "shared session did not load"
					return
				}
				if err := m.Touch(r, s); err != nil {
					errs <- err.Error()
				}

				r = httptest.NewRequest(http.MethodGet, "/dashboard", nil)
				r.AddCookie(own[i%len(own)])
				s, err = m.Load(r)
				if err != nil || s.UserID != int64(100+i%len(own)) {
					errs <- "own session did not load"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)

	for e := range errs {
		t.Error(e)
	}
}

func TestCodecsHiddenFromPgstore(t *testing.T) {
	for _, c := range newCodecs(60, testSecret) {
		if _, ok := c.(*securecookie.SecureCookie); ok {
			t.Fatal("codec is a *securecookie.SecureCookie, want it wrapped so pgstore's MaxAge cannot write to it")
		}
	}
}

func TestAuthedWithin(t *testing.T) {
	database, _ := testdb.New(t)
	start := time.Now()
	clock := start
	m := NewManager(database.SQL, Options{
		CookieName:  testCookie,
		MaxAge:      720 * time.Hour,
		IdleTimeout: 168 * time.Hour,
		Secret:      testSecret,
		Now:         func() time.Time { return clock },
	})
	cookie := login(t, m, 4)

	tests := []struct {
		name  string
		after time.Duration
		want  bool
	}{
		{"at once", 0, true},
		{"9 minutes later", 9 * time.Minute, true},
		{"10 minutes later", 10 * time.Minute, false},
		{"11 minutes later", 11 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = start.Add(tt.after)
			s := load(t, m, cookie)
			if !s.Authenticated() {
				t.Fatalf("session %s after login: got anonymous, want authenticated", tt.after)
			}
			if got := m.AuthedWithin(s, 10*time.Minute); got != tt.want {
				t.Errorf("AuthedWithin(10m) %s after login: got %v, want %v", tt.after, got, tt.want)
			}
		})
	}

	if m.AuthedWithin(&Session{}, time.Hour) {
		t.Error("AuthedWithin for an anonymous session: got true, want false")
	}
}

func TestLoadGivesUpOnStalledDatabase(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)
	cookie := login(t, m, 21)

	ctx := context.Background()
	tx, err := database.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE web_sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	reqCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil).WithContext(reqCtx)
	r.AddCookie(cookie)

	start := time.Now()
	_, err = m.Load(r)
	if err == nil {
		t.Fatal("Load with the table locked: got no error, want the context's deadline")
	}
	if !db.IsUnavailable(err) {
		t.Errorf("Load error %v: got IsUnavailable false, want true so the page is a 503", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Load with the table locked returned after %s, want soon after the 300 ms deadline", elapsed)
	}
}

func TestSessionKeysAreLongAndDistinct(t *testing.T) {
	database, _ := testdb.New(t)
	m := newTestManager(t, database, testSecret, nil)

	for i := range 20 {
		login(t, m, int64(i+1))
	}

	rows, err := database.Pool.Query(context.Background(), "SELECT key FROM web_sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	seen := map[string]bool{}
	for rows.Next() {
		var key []byte
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		// pgstore writes 32 random bytes in unpadded base32: 52 characters,
		// 256 bits.
		if len(key) != 52 {
			t.Errorf("session key length: got %d characters, want 52 (256 bits in base32)", len(key))
		}
		if seen[string(key)] {
			t.Error("two sessions got the same key")
		}
		seen[string(key)] = true
	}
	if len(seen) != 20 {
		t.Errorf("session keys: got %d distinct, want 20", len(seen))
	}
}
