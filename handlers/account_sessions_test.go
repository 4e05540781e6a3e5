package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portero/portero/db"
)

// User-Agent headers of real browsers, for the sessions page.
const (
	chromeOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	firefoxOnLinux  = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
	safariOnIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// testClock is the session manager's clock in handler tests: the real time
// plus an offset that tests move forward.
type testClock struct {
	offset atomic.Int64
}

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// loginWithAgent logs c in as email, sending userAgent as the browser's
// User-Agent header, and requires the redirect to the dashboard.
func (e *env) loginWithAgent(c *http.Client, email, userAgent string) {
	e.t.Helper()

	page := e.get(c, "/login", "User-Agent", userAgent)
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		e.t.Fatalf("GET /login: no csrf_token field in the page (status %d)", page.status)
	}
	form := url.Values{"csrf_token": {m[1]}, "email": {email}, "password": {testPassword}}
	resp := e.post(c, "/login", form, "User-Agent", userAgent)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		e.t.Fatalf("login as %s: got %d to %q, want 303 to /dashboard", email, resp.status, resp.location)
	}
}

// loggedInAgain returns a new client logged in as an existing user.
func (e *env) loggedInAgain(email string) *http.Client {
	e.t.Helper()

	c := e.client()
	e.loginWithAgent(c, email, firefoxOnLinux)

	return c
}

// requireSignedIn fails the test unless c gets the dashboard.
func (e *env) requireSignedIn(c *http.Client, clientName string) {
	e.t.Helper()

	if resp := e.get(c, "/dashboard"); resp.status != http.StatusOK {
		e.t.Errorf("dashboard for %s: got %d to %q, want 200", clientName, resp.status, resp.location)
	}
}

// requireSignedOut fails the test unless c is sent to the login page.
func (e *env) requireSignedOut(c *http.Client, clientName string) {
	e.t.Helper()

	if resp := e.get(c, "/dashboard"); resp.status != http.StatusSeeOther || resp.location != "/login" {
		e.t.Errorf("dashboard for %s: got %d to %q, want 303 to /login", clientName, resp.status, resp.location)
	}
}

var sessionItem = regexp.MustCompile(`<li id="session-(\d+)"( class="current")?>\s*<h2 id="session-\d+-name">([^<]*)`)

// listedSession is one entry of the sessions page.
type listedSession struct {
	id      string
	device  string
	current bool
}

// sessionsPage loads the sessions page in English and returns its entries.
func (e *env) sessionsPage(c *http.Client) (response, []listedSession) {
	e.t.Helper()

	resp := e.get(c, "/account/sessions?lang=en")
	if resp.status != http.StatusOK {
		e.t.Fatalf("GET /account/sessions: got %d, want 200", resp.status)
	}
	var list []listedSession
	for _, m := range sessionItem.FindAllStringSubmatch(resp.body, -1) {
		list = append(list, listedSession{id: m[1], current: m[2] != "", device: strings.TrimSpace(m[3])})
	}

	return resp, list
}

// otherSessionID returns the id of the only session on c's sessions page
// that is not c's own.
func (e *env) otherSessionID(c *http.Client) string {
	e.t.Helper()

	_, list := e.sessionsPage(c)
	var others []string
	for _, s := range list {
		if !s.current {
			others = append(others, s.id)
		}
	}
	if len(others) != 1 {
		e.t.Fatalf("other sessions on the sessions page: got %d, want 1", len(others))
	}

	return others[0]
}

// currentSessionID returns the id of c's own session on its sessions page.
func (e *env) currentSessionID(c *http.Client) string {
	e.t.Helper()

	_, list := e.sessionsPage(c)
	for _, s := range list {
		if s.current {
			return s.id
		}
	}
	e.t.Fatal("sessions page: got no entry marked current, want one")

	return ""
}

// revoke posts the form that ends the session id, with a current password
// when pw is not empty.
func (e *env) revoke(c *http.Client, id, pw string) response {
	e.t.Helper()

	form := url.Values{"csrf_token": {e.csrfToken(c, "/account/sessions")}, "id": {id}}
	if pw != "" {
		form.Set("current_password", pw)
	}

	return e.post(c, "/account/sessions/revoke?lang=en", form)
}

func (e *env) revokeOthers(c *http.Client, pw string) response {
	e.t.Helper()

	form := url.Values{"csrf_token": {e.csrfToken(c, "/account/sessions")}}
	if pw != "" {
		form.Set("current_password", pw)
	}

	return e.post(c, "/account/sessions/revoke-others?lang=en", form)
}

func TestAccountPagesRequireLogin(t *testing.T) {
	e := newEnv(t)

	for _, path := range []string{"/account/sessions", "/account/password"} {
		resp := e.get(e.client(), path)
		want := "/login?next=" + url.QueryEscape(path)
		if resp.status != http.StatusSeeOther || resp.location != want {
			t.Errorf("GET %s anonymous: got %d to %q, want 303 to %q", path, resp.status, resp.location, want)
		}
	}

	for _, path := range []string{"/account/sessions/revoke", "/account/sessions/revoke-others", "/account/password"} {
		c := e.client()
		token := e.csrfToken(c, "/login")
		resp := e.post(c, path, url.Values{"csrf_token": {token}, "id": {"1"}})
		if resp.status != http.StatusSeeOther || resp.location != "/login" {
			t.Errorf("POST %s anonymous: got %d to %q, want 303 to /login", path, resp.status, resp.location)
		}
	}
}

func TestSessionsPageListsOwnSessions(t *testing.T) {
	e := newEnv(t)
	ana := e.createUser("ana@example.com", "Ana")
	bob := e.createUser("bob@example.com", "Bob")

	chrome, firefox, goClient, bobPhone := e.client(), e.client(), e.client(), e.client()
	e.loginWithAgent(chrome, "ana@example.com", chromeOnWindows)
	e.loginWithAgent(firefox, "ana@example.com", firefoxOnLinux)
	e.loginWithAgent(goClient, "ana@example.com", "Go-http-client/1.1")
	e.loginWithAgent(bobPhone, "bob@example.com", safariOnIPhone)

	resp, list := e.sessionsPage(chrome)
	var devices []string
	for _, s := range list {
		devices = append(devices, s.device)
	}
	wantDevices := []string{"Chrome 126 on Windows", "Firefox 127 on Linux", "Unknown browser on unknown system"}
	if len(list) != 3 {
		t.Fatalf("sessions listed: got %q, want %q", devices, wantDevices)
	}
	if devices[0] != wantDevices[0] || !list[0].current {
		t.Errorf("first session: got %q current=%v, want %q marked current", devices[0], list[0].current, wantDevices[0])
	}
	for _, want := range wantDevices {
		if !slices.Contains(devices, want) {
			t.Errorf("sessions listed: got %q, want %q among them", devices, want)
		}
	}
	for _, s := range list[1:] {
		if s.current {
			t.Errorf("session %q: got marked current, want only the first", s.device)
		}
	}
	if n := strings.Count(resp.body, "This session"); n != 1 {
		t.Errorf(`"This session" on the page: got %d times, want 1`, n)
	}
	if strings.Contains(resp.body, "Safari") {
		t.Error("sessions page of ana: got bob's Safari session, want only ana's sessions")
	}
	if !strings.Contains(resp.body, `<dd class="session-ip">127.0.0.1</dd>`) {
		t.Error("sessions page: got no client IP 127.0.0.1, want it for each session")
	}
	if !strings.Contains(resp.body, `id="revoke-others"`) {
		t.Error("sessions page with other sessions: got no button to end them, want one")
	}
	if strings.Contains(resp.body, `id="reauth-note"`) {
		t.Error("sessions page right after login: got the note about the password, want none")
	}

	// Neither the session keys nor the cookies may appear in the page.
	for _, user := range []*db.User{ana, bob} {
		stored, err := e.db.UserSessions(context.Background(), user.ID)
		if err != nil {
			t.Fatalf("UserSessions: %v", err)
		}
		for _, s := range stored {
			if strings.Contains(resp.body, s.SessionKey) {
				t.Errorf("sessions page: got the key of session %d of user %d, want no session key", s.ID, user.ID)
			}
			listed := slices.ContainsFunc(list, func(l listedSession) bool { return l.id == strconv.FormatInt(s.ID, 10) })
			if wantListed := user.ID == ana.ID; listed != wantListed {
				t.Errorf("session %d of user %d listed: got %v, want %v", s.ID, user.ID, listed, wantListed)
			}
		}
	}
	for _, c := range []*http.Client{chrome, firefox, goClient, bobPhone} {
		if value := e.sessionCookie(c).Value; strings.Contains(resp.body, value) {
			t.Error("sessions page: got a session cookie value, want none")
		}
	}

	spanish := e.get(chrome, "/account/sessions?lang=es")
	for _, want := range []string{"Chrome 126 en Windows", "Navegador desconocido en sistema desconocido", "Esta sesión"} {
		if !strings.Contains(spanish.body, want) {
			t.Errorf("Spanish sessions page: got no %q, want it", want)
		}
	}

	dash := e.get(chrome, "/dashboard")
	for _, want := range []string{`href="/account/sessions"`, `href="/account/password"`} {
		if !strings.Contains(dash.body, want) {
			t.Errorf("dashboard: got no link %s, want one", want)
		}
	}
}

func TestRevokeOneSession(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	id := e.otherSessionID(mine)

	resp := e.revoke(mine, id, "")
	if resp.status != http.StatusSeeOther || resp.location != "/account/sessions?revoked=one" {
		t.Fatalf("revoke: got %d to %q, want 303 to /account/sessions?revoked=one", resp.status, resp.location)
	}
	e.requireSignedOut(other, "the ended session")
	e.requireSignedIn(mine, "the session that ended the other")

	page := e.get(mine, "/account/sessions?revoked=one&lang=en")
	if !strings.Contains(page.body, "The session has ended.") {
		t.Error("sessions page after revoke: got no notice, want \"The session has ended.\"")
	}
	if !strings.Contains(page.body, `id="no-other-sessions"`) {
		t.Error("sessions page after revoke: got other sessions, want none")
	}
	if !strings.Contains(e.logs.String(), "event=session_revoked") {
		t.Error("log: got no session_revoked event, want one")
	}
}

func TestRevokeCurrentSessionLogsOut(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	old := e.sessionCookie(mine).Value

	resp := e.revoke(mine, e.currentSessionID(mine), "")
	if resp.status != http.StatusSeeOther || resp.location != "/login?logged_out=1" {
		t.Fatalf("revoke the current session: got %d to %q, want 303 to /login?logged_out=1", resp.status, resp.location)
	}
	cleared := false
	for _, ck := range resp.cookies {
		if ck.Name == testCookie && ck.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Error("revoke the current session: got no Set-Cookie that deletes the session cookie, want one")
	}

	if replay := e.getWithCookie("/dashboard", old); replay.status != http.StatusSeeOther || replay.location != "/login" {
		t.Errorf("dashboard with the ended cookie: got %d to %q, want 303 to /login", replay.status, replay.location)
	}
	e.requireSignedIn(other, "the other session")
}

func TestRevokeOtherSessions(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	others := []*http.Client{e.loggedInAgain("ana@example.com"), e.loggedInAgain("ana@example.com")}
	bob := e.loggedIn("bob@example.com")

	resp := e.revokeOthers(mine, "")
	if resp.status != http.StatusSeeOther || resp.location != "/account/sessions?revoked=others" {
		t.Fatalf("revoke others: got %d to %q, want 303 to /account/sessions?revoked=others", resp.status, resp.location)
	}
	for i, c := range others {
		e.requireSignedOut(c, "other session "+strconv.Itoa(i+1))
	}
	e.requireSignedIn(mine, "the current session")
	e.requireSignedIn(bob, "another user")

	page, list := e.sessionsPage(mine)
	if len(list) != 1 || !list[0].current {
		t.Errorf("sessions after revoking the others: got %+v, want only the current one", list)
	}
	if strings.Contains(page.body, `id="revoke-others"`) {
		t.Error("sessions page without other sessions: got the button to end them, want none")
	}
}

func TestRevokeSessionOfAnotherUser(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	bob := e.loggedIn("bob@example.com")
	bobsID := e.currentSessionID(bob)

	resp := e.revoke(mine, bobsID, "")
	if resp.status != http.StatusNotFound {
		t.Errorf("revoke another user's session: got %d, want 404", resp.status)
	}
	if !strings.Contains(resp.body, "already ended or is not yours") {
		t.Error("revoke another user's session: got no message, want that the session is not found")
	}
	e.requireSignedIn(bob, "the other user")

	for _, id := range []string{"", "abc", "0", "-1"} {
		if resp := e.revoke(mine, id, ""); resp.status != http.StatusBadRequest {
			t.Errorf("revoke id %q: got %d, want 400", id, resp.status)
		}
	}
	e.requireSignedIn(mine, "the user who sent bad ids")
}

func TestReauthRequiredAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	id := e.otherSessionID(mine)
	e.clock.advance(11 * time.Minute)

	page, _ := e.sessionsPage(mine)
	if !strings.Contains(page.body, `id="reauth-note"`) {
		t.Error("sessions page 11 minutes after login: got no note about the password, want one")
	}

	missing := e.revoke(mine, id, "")
	if missing.status != http.StatusForbidden {
		t.Errorf("revoke without a password: got %d, want 403", missing.status)
	}
	for _, want := range []string{"enter your current password", `name="current_password"`, `autocomplete="current-password"`, `name="id" value="` + id + `"`} {
		if !strings.Contains(missing.body, want) {
			t.Errorf("revoke without a password: got a page without %q, want it", want)
		}
	}
	e.requireSignedIn(other, "the session after a revoke without a password")

	wrong := e.revoke(mine, id, wrongPassword)
	if wrong.status != http.StatusForbidden {
		t.Errorf("revoke with a wrong password: got %d, want 403", wrong.status)
	}
	if !strings.Contains(wrong.body, "The current password is incorrect.") {
		t.Error("revoke with a wrong password: got no message, want \"The current password is incorrect.\"")
	}
	e.requireSignedIn(other, "the session after a revoke with a wrong password")
	// The browser has the device cookie of its login, so the failure counts
	// on the device.
	if failures, _ := e.failureRow(db.FailureKindDevice); failures != 1 {
		t.Errorf("device failures after a wrong current password: got %d, want 1", failures)
	}
	if !strings.Contains(e.logs.String(), `level=WARN msg="Re-authentication failed."`) {
		t.Error("log: got no warning for the wrong current password, want one")
	}

	right := e.revoke(mine, id, testPassword)
	if right.status != http.StatusSeeOther || right.location != "/account/sessions?revoked=one" {
		t.Errorf("revoke with the right password: got %d to %q, want 303 to /account/sessions?revoked=one", right.status, right.location)
	}
	e.requireSignedOut(other, "the session after a revoke with the right password")
	if failures, _ := e.failureRow(db.FailureKindDevice); failures != 0 {
		t.Errorf("device failures after the right password: got %d, want 0", failures)
	}
}

func TestReauthNotNeededWithinTenMinutes(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	e.clock.advance(9 * time.Minute)

	resp := e.revokeOthers(mine, "")
	if resp.status != http.StatusSeeOther {
		t.Errorf("revoke others 9 minutes after login: got %d, want 303", resp.status)
	}
	e.requireSignedOut(other, "the other session")
}

func TestReauthRevokeOthersAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	e.clock.advance(11 * time.Minute)

	if resp := e.revokeOthers(mine, ""); resp.status != http.StatusForbidden || !strings.Contains(resp.body, `name="current_password"`) {
		t.Errorf("revoke others without a password: got %d, want 403 with a password field", resp.status)
	}
	e.requireSignedIn(other, "the other session after a refused revoke")

	if resp := e.revokeOthers(mine, testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("revoke others with the right password: got %d, want 303", resp.status)
	}
	e.requireSignedOut(other, "the other session")
}

func TestReauthWrongPasswordLocks(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	other := e.loggedInAgain("ana@example.com")
	id := e.otherSessionID(mine)
	e.clock.advance(11 * time.Minute)

	for i := range defaultPolicy.AccountMaxFailures {
		if resp := e.revoke(mine, id, wrongPassword); resp.status != http.StatusForbidden {
			t.Fatalf("wrong password %d: got %d, want 403", i+1, resp.status)
		}
	}

	start := e.bcrypt.Acquired()
	locked := e.revoke(mine, id, testPassword)
	if locked.status != http.StatusTooManyRequests {
		t.Errorf("right password while locked: got %d, want 429", locked.status)
	}
	if !strings.Contains(locked.body, "Too many failed attempts") {
		t.Error("right password while locked: got no lock message, want one")
	}
	if locked.header.Get("Retry-After") == "" {
		t.Error("right password while locked: no Retry-After header")
	}
	if got := e.bcrypt.Acquired() - start; got != 0 {
		t.Errorf("bcrypt calls while locked: got %d, want 0", got)
	}
	e.requireSignedIn(other, "the session after the locked attempt")

	// The lock is the device's, which the login form of this browser
	// shares. A browser without the device cookie is checked against the
	// account, which the wrong passwords did not touch.
	token := e.csrfToken(mine, "/account/sessions")
	if resp := e.attempt(mine, token, "ana@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("login in the same browser while its device is locked: got %d, want 429", resp.status)
	}
	if resp := e.login(e.client(), "ana@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login in a new browser while the device is locked: got %d, want 303", resp.status)
	}
}
