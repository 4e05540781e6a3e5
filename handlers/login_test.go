package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
)

func TestLoginDashboardLogout(t *testing.T) {
	e := newEnv(t)
	e.createUser("ana@example.com", "Ana Pérez")
	c := e.client()

	if resp := e.get(c, "/"); resp.status != http.StatusSeeOther || resp.location != "/login" {
		t.Fatalf("GET / anonymous: got %d to %q, want 303 to /login", resp.status, resp.location)
	}

	resp := e.login(c, "ANA@example.com", testPassword)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("login: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}

	dash := e.get(c, "/dashboard")
	if dash.status != http.StatusOK {
		t.Fatalf("dashboard: got %d, want 200", dash.status)
	}
	for _, want := range []string{"Ana Pérez", "ana@example.com", `id="session-started"`, `id="session-expires"`, `id="logout"`} {
		if !strings.Contains(dash.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if got := dash.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("dashboard Cache-Control: got %q, want no-store", got)
	}
	if resp := e.get(c, "/"); resp.location != "/dashboard" {
		t.Errorf("GET / logged in: got redirect to %q, want /dashboard", resp.location)
	}

	old := e.sessionCookie(c).Value
	token := csrfField.FindStringSubmatch(dash.body)[1]
	out := e.post(c, "/logout", url.Values{"csrf_token": {token}})
	if out.status != http.StatusSeeOther || !strings.HasPrefix(out.location, "/login") {
		t.Fatalf("logout: got %d to %q, want 303 to /login", out.status, out.location)
	}
	if resp := e.get(c, "/dashboard"); resp.status != http.StatusSeeOther {
		t.Errorf("dashboard after logout: got %d, want 303", resp.status)
	}

	replay := e.getWithCookie("/dashboard", old)
	if replay.status != http.StatusSeeOther || replay.location != "/login" {
		t.Errorf("replayed cookie: got %d to %q, want 303 to /login", replay.status, replay.location)
	}
}

func TestLogoutExpiresCookie(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("bo@example.com")
	token := e.csrfToken(c, "/dashboard")

	req, _ := http.NewRequest(http.MethodPost, e.server.URL+"/logout", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var found bool
	for _, ck := range resp.Cookies() {
		if ck.Name == testCookie {
			found = true
			if ck.MaxAge >= 0 || ck.Path != "/" || !ck.HttpOnly {
				t.Errorf("logout cookie: got MaxAge=%d Path=%q HttpOnly=%v, want expired, /, true", ck.MaxAge, ck.Path, ck.HttpOnly)
			}
		}
	}
	if !found {
		t.Error("logout response does not expire the session cookie")
	}
}

func TestLogoutNeedsPost(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("cy@example.com")

	if resp := e.get(c, "/logout"); resp.status != http.StatusMethodNotAllowed && resp.status != http.StatusNotFound {
		t.Errorf("GET /logout: got %d, want 405 or 404", resp.status)
	}
	if resp := e.get(c, "/dashboard"); resp.status != http.StatusOK {
		t.Errorf("dashboard after GET /logout: got %d, want 200 (still logged in)", resp.status)
	}
}

func TestLoginFailureIsGeneric(t *testing.T) {
	e := newEnv(t)
	e.createUser("dee@example.com", "Dee")

	wrong := e.login(e.client(), "dee@example.com", "not the right password")
	unknown := e.login(e.client(), "nobody@example.com", "not the right password")

	for name, resp := range map[string]response{"wrong password": wrong, "unknown email": unknown} {
		if resp.status != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, resp.status)
		}
		if !strings.Contains(resp.body, "El correo o la contraseña no son correctos.") {
			t.Errorf("%s: page lacks the generic Spanish message", name)
		}
	}

	strip := func(s string) string {
		s = csrfField.ReplaceAllString(s, "")
		return strings.NewReplacer("dee@example.com", "", "nobody@example.com", "").Replace(s)
	}
	if strip(wrong.body) != strip(unknown.body) {
		t.Error("pages for a wrong password and an unknown email differ, want identical apart from the CSRF token")
	}
	if strings.Contains(e.logs.String(), "not the right password") {
		t.Error("the log contains the submitted password")
	}
	if !strings.Contains(e.logs.String(), "reason=wrong_password") || !strings.Contains(e.logs.String(), "level=WARN") {
		t.Error("failed logins are not logged at Warn with a reason")
	}
}

func TestLoginMissingFields(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	token := e.csrfToken(c, "/login")

	resp := e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {"x@example.com"}})
	if resp.status != http.StatusUnprocessableEntity {
		t.Errorf("missing password: got %d, want 422", resp.status)
	}
	if !strings.Contains(resp.body, `value="x@example.com"`) {
		t.Error("the form does not keep the typed email")
	}
}

func TestDisabledUserCannotLogIn(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("ed@example.com", "Ed")
	c := e.client()
	if resp := e.login(c, "ed@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.status)
	}

	if _, err := e.db.Pool.Exec(context.Background(), "UPDATE users SET disabled_at = now() WHERE id = $1", u.ID); err != nil {
		t.Fatal(err)
	}

	if resp := e.get(c, "/dashboard"); resp.status != http.StatusSeeOther {
		t.Errorf("dashboard of a disabled user: got %d, want 303 to /login", resp.status)
	}
	if resp := e.login(e.client(), "ed@example.com", testPassword); resp.status != http.StatusUnauthorized {
		t.Errorf("login of a disabled user: got %d, want 401", resp.status)
	}
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	e.createUser("mallory@example.com", "Mallory")
	e.createUser("victim@example.com", "Victim")

	// The attacker's own valid cookie is planted in the victim's browser.
	attacker := e.client()
	e.login(attacker, "mallory@example.com", testPassword)
	planted := e.sessionCookie(attacker).Value

	victim := e.client()
	token := e.csrfToken(victim, "/login")
	u, _ := url.Parse(e.server.URL)
	victim.Jar.SetCookies(u, []*http.Cookie{{Name: testCookie, Value: planted, Path: "/"}})
	form := url.Values{"csrf_token": {token}, "email": {"victim@example.com"}, "password": {testPassword}}
	if resp := e.post(victim, "/login", form); resp.status != http.StatusSeeOther {
		t.Fatalf("victim login: got %d, want 303", resp.status)
	}

	if e.sessionCookie(victim).Value == planted {
		t.Error("login kept the session cookie from before it, want a new one")
	}
	replay := e.getWithCookie("/dashboard", planted)
	if replay.status != http.StatusSeeOther {
		t.Errorf("cookie from before the login: got %d, want 303 (anonymous)", replay.status)
	}
	if resp := e.get(victim, "/dashboard"); !strings.Contains(resp.body, "victim@example.com") {
		t.Error("victim's dashboard does not show the victim")
	}
}

func TestAuthenticatedReadWritesNothing(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("fay@example.com")

	version := func() string {
		var xmin string
		if err := e.db.Pool.QueryRow(context.Background(), "SELECT xmin::text FROM web_sessions").Scan(&xmin); err != nil {
			t.Fatalf("read xmin: %v", err)
		}
		return xmin
	}
	before := version()

	for range 20 {
		if resp := e.get(c, "/dashboard"); resp.status != http.StatusOK {
			t.Fatalf("dashboard: got %d, want 200", resp.status)
		}
	}
	if got := version(); got != before {
		t.Errorf("session row changed during reads: xmin %s, want %s", got, before)
	}
}

func TestBadCookiesNever500(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("gil@example.com")
	valid := e.sessionCookie(c).Value

	other := newEnvWith(t, envOptions{secret: []byte("ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkji")})
	oc := other.loggedIn("gil@example.com")
	foreign := other.sessionCookie(oc).Value

	tampered := []byte(valid)
	tampered[len(tampered)/3] ^= 0x04

	cookies := map[string]string{
		"garbage":                 "%%%garbage%%%",
		"tampered":                string(tampered),
		"signed with another key": foreign,
		"express-session format":  "s%3AyhK0fTL3j6m1l8E7iSv7Qg2.Fr9B1l8UoHcyQ0Vd1fP7o4o9XcDq8b1vkXn5m0kGgXc",
		"8 KB long":               strings.Repeat("x", 8*1024),
	}
	for name, value := range cookies {
		for _, path := range []string{"/", "/login", "/dashboard"} {
			resp := e.getWithCookie(path, value)
			if resp.status != http.StatusOK && resp.status != http.StatusSeeOther {
				t.Errorf("%s cookie on %s: got %d, want 200 or 303", name, path, resp.status)
			}
			if path == "/dashboard" && resp.status != http.StatusSeeOther {
				t.Errorf("%s cookie on /dashboard: got %d, want 303 (anonymous)", name, resp.status)
			}
			if !slices.ContainsFunc(resp.header.Values("Set-Cookie"), func(v string) bool {
				return strings.HasPrefix(v, testCookie+"=;")
			}) {
				t.Errorf("%s cookie on %s: the bad cookie is not cleared", name, path)
			}
		}
	}
}

func TestLoginTimingSameForUnknownEmail(t *testing.T) {
	// Cost 6 makes bcrypt dominate the request time, as in production,
	// while 40 logins under the race detector still take a few seconds.
	// The limits let all 40 failures through the login throttle.
	e := newEnvWith(t, envOptions{cost: 6, policy: db.LoginPolicy{AccountMaxFailures: 100, IPMaxFailures: 100}})
	e.createUser("hal@example.com", "Hal")
	e.app.WarmUp()

	// The two kinds of attempt alternate, so that load from other tests
	// running at the same time slows both alike and the medians stay
	// comparable.
	type attempt struct {
		client  *http.Client
		form    url.Values
		samples []time.Duration
	}
	newAttempt := func(email string) *attempt {
		c := e.client()
		token := e.csrfToken(c, "/login")
		return &attempt{client: c, form: url.Values{"csrf_token": {token}, "email": {email}, "password": {"wrong password here"}}}
	}
	known, unknown := newAttempt("hal@example.com"), newAttempt("nobody@example.com")

	for range 20 {
		for _, a := range []*attempt{known, unknown} {
			start := time.Now()
			if resp := e.post(a.client, "/login", a.form); resp.status != http.StatusUnauthorized {
				t.Fatalf("login %s: got %d, want 401", a.form.Get("email"), resp.status)
			}
			a.samples = append(a.samples, time.Since(start))
		}
	}

	median := func(samples []time.Duration) time.Duration {
		slices.Sort(samples)
		return samples[len(samples)/2]
	}
	knownMedian, unknownMedian := median(known.samples), median(unknown.samples)
	ratio := float64(unknownMedian) / float64(knownMedian)
	if ratio < 0.67 || ratio > 1.5 {
		t.Errorf("median time unknown/known email: got ratio %.2f (%s / %s), want between 0.67 and 1.5", ratio, unknownMedian, knownMedian)
	}
}

func TestDisabledCookieWithoutUserRow(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ivy@example.com")

	if _, err := e.db.Pool.Exec(context.Background(), "DELETE FROM users"); err != nil {
		t.Fatal(err)
	}
	if resp := e.get(c, "/dashboard"); resp.status != http.StatusSeeOther {
		t.Errorf("dashboard of a deleted user: got %d, want 303", resp.status)
	}

	var rows int
	e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM web_sessions").Scan(&rows)
	if rows != 0 {
		t.Errorf("session rows of a deleted user: got %d, want 0", rows)
	}
}
