package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/internal/cache"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
	"github.com/portero/portero/session"
)

const (
	testCookie   = "portero_session"
	testPassword = "correct horse battery staple"
	testCost     = 4
)

var testSecret = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH")

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	t        testing.TB
	cost     int
	db       *db.DB
	app      *handlers.App
	server   *httptest.Server
	sessions *session.Manager
	logs     *lockedBuffer
	// bcrypt is the app's limiter; tests hold its slots and count its calls.
	bcrypt *password.Limiter
	// clock is the session manager's clock, which tests move forward.
	clock *testClock
	// feed passes the database's change notifications to the app's cache;
	// nil with envOptions.noCache.
	feed *testFeed
}

// defaultPolicy is the login policy of a default configuration.
var defaultPolicy = db.LoginPolicy{
	Window:             15 * time.Minute,
	AccountMaxFailures: 5,
	IPMaxFailures:      50,
	FirstLockout:       time.Minute,
	MaxLockout:         15 * time.Minute,
}

type envOptions struct {
	cost     int
	notReady bool
	secret   []byte
	// production turns on Secure cookies, HTTPS enforcement and the
	// trusted proxies in trusted.
	production bool
	trusted    []*net.IPNet
	// policy replaces the fields of defaultPolicy that are set.
	policy db.LoginPolicy
	// bcryptSlots is the number of bcrypt slots, 4 when 0.
	bcryptSlots int
	// bcryptWait is how long a login waits for a slot, 5 s when 0. bcrypt
	// runs at the lowest CPU priority, so on a machine busy with other
	// tests a hash can take far longer than its CPU time.
	bcryptWait time.Duration
	// alwaysLive keeps the in-memory copies in use for the whole test,
	// without a listener, so that a test of what they serve does not
	// depend on heartbeats arriving in time on a busy machine. Changes
	// made by other instances or behind the app's back are not heard.
	alwaysLive bool
	// noCache turns off the in-memory copies of sessions and users, which
	// are on in production and in every other test.
	noCache bool
	// pepper is the PASSWORD_PEPPER value, and nil leaves it unset.
	pepper []byte
}

func newEnv(t *testing.T) *env {
	return newEnvWith(t, envOptions{})
}

func newEnvWith(t testing.TB, opts envOptions) *env {
	t.Helper()

	database, _ := testdb.New(t)
	return newEnvOn(t, database, opts)
}

func newEnvOn(t testing.TB, database *db.DB, opts envOptions) *env {
	t.Helper()

	if opts.cost == 0 {
		opts.cost = testCost
	}
	if opts.secret == nil {
		opts.secret = testSecret
	}
	policy := defaultPolicy
	if opts.policy.Window != 0 {
		policy.Window = opts.policy.Window
	}
	if opts.policy.AccountMaxFailures != 0 {
		policy.AccountMaxFailures = opts.policy.AccountMaxFailures
	}
	if opts.policy.IPMaxFailures != 0 {
		policy.IPMaxFailures = opts.policy.IPMaxFailures
	}
	if opts.policy.FirstLockout != 0 {
		policy.FirstLockout = opts.policy.FirstLockout
	}
	if opts.policy.MaxLockout != 0 {
		policy.MaxLockout = opts.policy.MaxLockout
	}
	if opts.bcryptSlots == 0 {
		opts.bcryptSlots = 4
	}
	if opts.bcryptWait == 0 {
		opts.bcryptWait = 5 * time.Second
	}
	limiter := password.NewLimiter(opts.bcryptSlots, opts.bcryptWait)

	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	cookieName := testCookie
	if opts.production {
		cookieName = "__Host-" + testCookie
	}
	clock := &testClock{}
	var guard *cache.Guard
	if !opts.noCache {
		guard = cache.NewGuard(nil)
	}
	sessions := session.NewManager(database.SQL, session.Options{
		CookieName:  cookieName,
		Secure:      opts.production,
		MaxAge:      720 * time.Hour,
		IdleTimeout: 168 * time.Hour,
		Secret:      opts.secret,
		Now:         clock.now,
		Cache:       guard,
	})
	app, err := handlers.New(handlers.Options{
		Store:          database,
		Sessions:       sessions,
		Logger:         logger,
		BcryptCost:     opts.cost,
		PasswordPepper: opts.pepper,
		IdleTimeout:    168 * time.Hour,
		CSRFSecret:     opts.secret,
		CSRFMaxAge:     720 * time.Hour,
		SecureCookies:  opts.production,
		RequireHTTPS:   opts.production,
		TrustedProxies: opts.trusted,
		LoginPolicy:    policy,
		ThrottleSecret: opts.secret,
		Bcrypt:         limiter,
		Cache:          guard,
	})
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	var feed *testFeed
	switch {
	case guard != nil && opts.alwaysLive:
		guard.Alive(time.Now().Add(time.Hour))
	case guard != nil:
		feed = startFeed(t, database, guard, app)
	}
	if !opts.notReady {
		app.SetReady()
	}

	server := httptest.NewServer(app.Handler())
	t.Cleanup(server.Close)

	return &env{t: t, cost: opts.cost, db: database, app: app, server: server, sessions: sessions, logs: logs, bcrypt: limiter, clock: clock, feed: feed}
}

func (e *env) createUser(email, name string) *db.User {
	e.t.Helper()

	hash, err := password.Hash(testPassword, e.cost)
	if err != nil {
		e.t.Fatalf("hash: %v", err)
	}
	u, err := e.db.CreateUser(context.Background(), email, name, hash)
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}

	return u
}

// client returns an HTTP client with its own cookie jar that does not
// follow redirects, so tests see each 303.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status   int
	body     string
	header   http.Header
	location string
	cookies  []*http.Cookie
}

func (e *env) do(c *http.Client, req *http.Request) response {
	e.t.Helper()

	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)

	return response{status: resp.StatusCode, body: string(body), header: resp.Header, location: resp.Header.Get("Location"), cookies: resp.Cookies()}
}

func (e *env) get(c *http.Client, path string, headers ...string) response {
	e.t.Helper()

	req, _ := http.NewRequest(http.MethodGet, e.server.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}

	return e.do(c, req)
}

func (e *env) post(c *http.Client, path string, form url.Values, headers ...string) response {
	e.t.Helper()

	req, _ := http.NewRequest(http.MethodPost, e.server.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}

	return e.do(c, req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken loads path and returns the CSRF token of its form.
func (e *env) csrfToken(c *http.Client, path string) string {
	e.t.Helper()

	resp := e.get(c, path)
	m := csrfField.FindStringSubmatch(resp.body)
	if m == nil {
		e.t.Fatalf("GET %s: no csrf_token field in the page (status %d)", path, resp.status)
	}

	return m[1]
}

func (e *env) login(c *http.Client, email, pw string) response {
	e.t.Helper()

	token := e.csrfToken(c, "/login")
	return e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {email}, "password": {pw}})
}

// loggedIn returns a client logged in as a new user.
func (e *env) loggedIn(email string) *http.Client {
	e.t.Helper()

	e.createUser(email, "Test User")
	c := e.client()
	if resp := e.login(c, email, testPassword); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		e.t.Fatalf("login: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}

	return c
}

func (e *env) sessionCookie(c *http.Client) *http.Cookie {
	e.t.Helper()

	u, _ := url.Parse(e.server.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == testCookie {
			return ck
		}
	}
	e.t.Fatal("client has no session cookie")

	return nil
}

// withCookie returns a client without a jar that sends only the given cookie.
func (e *env) withCookie(value string) (*http.Client, func(*http.Request)) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: testCookie, Value: value}) }
}

func (e *env) getWithCookie(path, value string) response {
	e.t.Helper()

	c, add := e.withCookie(value)
	req, _ := http.NewRequest(http.MethodGet, e.server.URL+path, nil)
	add(req)

	return e.do(c, req)
}
