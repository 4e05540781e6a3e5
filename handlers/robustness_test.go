package handlers_test

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

func TestLoginOddEmailsAreOrdinaryFailures(t *testing.T) {
	e := newEnv(t)

	for name, email := range map[string]string{
		"NUL byte":      "a\x00b@example.com",
		"invalid UTF-8": "\xff@example.com",
		"control":       "a\x07b@example.com",
		"too long":      strings.Repeat("a", 300) + "@example.com",
	} {
		resp := e.login(e.client(), email, "some wrong password")
		if resp.status != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, resp.status)
		}
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("odd emails logged an error:\n%s", e.logs.String())
	}
}

func TestLoginIgnoresQueryCredentials(t *testing.T) {
	e := newEnv(t)
	e.createUser("qa@example.com", "Q")
	c := e.client()
	token := e.csrfToken(c, "/login")

	query := url.Values{"email": {"qa@example.com"}, "password": {testPassword}}.Encode()
	resp := e.post(c, "/login?"+query, url.Values{"csrf_token": {token}})
	if resp.status == http.StatusSeeOther {
		t.Error("credentials in the query string logged in, want them ignored")
	}
}

func TestMalformedFormIs400(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	token := e.csrfToken(c, "/login")

	req, _ := http.NewRequest(http.MethodPost, e.server.URL+"/login", strings.NewReader("email=%zz&csrf_token="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp := e.do(c, req); resp.status != http.StatusBadRequest {
		t.Errorf("invalid percent-encoding: got %d, want 400", resp.status)
	}
}

func TestErrorTitlesTranslated(t *testing.T) {
	e := newEnv(t)

	tests := []struct {
		lang, path, want string
	}{
		{"es", "/no-such-page", "<h1>Página no encontrada</h1>"},
		{"en", "/no-such-page", "<h1>Page not found</h1>"},
	}
	for _, tt := range tests {
		resp := e.get(e.client(), tt.path, "Accept-Language", tt.lang)
		if !strings.Contains(resp.body, tt.want) {
			t.Errorf("%s %s: page lacks %s", tt.lang, tt.path, tt.want)
		}
	}

	resp := e.post(e.client(), "/logout", url.Values{}, "Accept-Language", "es")
	if resp.status != http.StatusForbidden || !strings.Contains(resp.body, "<h1>Acceso denegado</h1>") {
		t.Errorf("forged logout in Spanish: got %d without the Spanish title", resp.status)
	}
}

func TestWrongMethodIs405(t *testing.T) {
	e := newEnv(t)

	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/logout"},
		{http.MethodPut, "/login"},
		{http.MethodDelete, "/healthz"},
	} {
		req, _ := http.NewRequest(tt.method, e.server.URL+tt.path, nil)
		resp := e.do(e.client(), req)
		if resp.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: got %d, want 405", tt.method, tt.path, resp.status)
		}
		if resp.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
}

func TestOtherSchemeHeadersIgnored(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})

	for _, header := range [][]string{{"X-Forwarded-Ssl", "on"}, {"X-Url-Scheme", "https"}, {"X-Forwarded-Protocol", "https"}} {
		resp := e.get(e.client(), "/login", header...)
		if !strings.Contains(resp.body, "Se necesita HTTPS") || resp.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: treated as HTTPS, want only X-Forwarded-Proto believed", header[0])
		}
	}
}

func TestLowCostHashFailsAsSlowly(t *testing.T) {
	// Users imported from another app may have hashes of a lower cost than
	// BCRYPT_COST; their failed logins must not be faster than those of
	// unknown emails.
	e := newEnvWith(t, envOptions{cost: 8, policy: db.LoginPolicy{AccountMaxFailures: 100, IPMaxFailures: 100}})
	hash, err := password.Hash(testPassword, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateUser(t.Context(), "old@example.com", "Old", hash); err != nil {
		t.Fatal(err)
	}
	e.app.WarmUp()

	type attempt struct {
		client  *http.Client
		form    url.Values
		samples []time.Duration
	}
	newAttempt := func(email string) *attempt {
		c := e.client()
		return &attempt{client: c, form: url.Values{"csrf_token": {e.csrfToken(c, "/login")}, "email": {email}, "password": {"wrong password here"}}}
	}
	known, unknown := newAttempt("old@example.com"), newAttempt("nobody@example.com")
	for range 10 {
		for _, a := range []*attempt{known, unknown} {
			start := time.Now()
			e.post(a.client, "/login", a.form)
			a.samples = append(a.samples, time.Since(start))
		}
	}

	median := func(s []time.Duration) time.Duration { slices.Sort(s); return s[len(s)/2] }
	ratio := float64(median(known.samples)) / float64(median(unknown.samples))
	if ratio < 0.67 || ratio > 1.5 {
		t.Errorf("median time low-cost user/unknown email: got ratio %.2f, want between 0.67 and 1.5", ratio)
	}
}

func TestWeakLegacyPasswordAsksForChange(t *testing.T) {
	e := newEnv(t)

	// A common password of an imported user: the rules reject it for new
	// passwords, but its hash came from the old app.
	hash, err := bcrypt.GenerateFromPassword([]byte("password1234"), testCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateUser(t.Context(), "legacy@example.com", "Legacy", string(hash)); err != nil {
		t.Fatal(err)
	}

	c := e.client()
	resp := e.login(c, "legacy@example.com", "password1234")
	if resp.status != http.StatusSeeOther || resp.location != "/account/password?weak=1" {
		t.Fatalf("login with a common password: got %d to %q, want 303 to /account/password?weak=1", resp.status, resp.location)
	}
	page := e.get(c, resp.location, "Accept-Language", "en")
	if !strings.Contains(page.body, "no longer meets the rules") {
		t.Error("the password page does not explain why a new password is needed")
	}

	strong := e.client()
	e.createUser("strong@example.com", "Strong")
	if resp := e.login(strong, "strong@example.com", testPassword); resp.location != "/dashboard" {
		t.Errorf("login with a good password: got redirect to %q, want /dashboard", resp.location)
	}
}

func TestSessionKeyNeverInURLsOrPages(t *testing.T) {
	e := newEnv(t)
	e.createUser("url@example.com", "URL")
	c := e.client()

	login := e.login(c, "url@example.com", testPassword)
	var key []byte
	if err := e.db.Pool.QueryRow(t.Context(), "SELECT key FROM web_sessions").Scan(&key); err != nil {
		t.Fatalf("read session key: %v", err)
	}

	responses := map[string]response{"POST /login": login}
	for _, path := range []string{"/", "/dashboard", "/account", "/account/sessions", "/account/password"} {
		responses["GET "+path] = e.get(c, path)
	}
	for name, resp := range responses {
		if strings.Contains(resp.location, string(key)) {
			t.Errorf("%s: the session key is in the Location header", name)
		}
		if strings.Contains(resp.body, string(key)) {
			t.Errorf("%s: the session key is in the page", name)
		}
	}
}

func TestLoginWithoutIndexLeavesNoSession(t *testing.T) {
	e := newEnv(t)
	e.createUser("lock@example.com", "Lock")
	c := e.client()
	token := e.csrfToken(c, "/login")

	// A lock that blocks the index insert, as a stalled database would;
	// the server's lock_timeout gives up after 3 s.
	tx, err := e.db.Pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	if _, err := tx.Exec(t.Context(), "LOCK TABLE user_sessions IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}

	resp := e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {"lock@example.com"}, "password": {testPassword}})
	tx.Rollback(t.Context())

	if resp.status != http.StatusServiceUnavailable {
		t.Errorf("login with the index locked: got %d, want 503", resp.status)
	}
	for _, ck := range resp.cookies {
		if ck.Name == testCookie && ck.Value != "" {
			t.Error("the 503 response sets a session cookie")
		}
	}
	var rows int
	e.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM web_sessions").Scan(&rows)
	if rows != 0 {
		t.Errorf("session rows after the failed login: got %d, want 0", rows)
	}
	if page := e.get(c, "/dashboard"); page.status != http.StatusSeeOther {
		t.Errorf("dashboard after the failed login: got %d, want 303 (anonymous)", page.status)
	}
}
