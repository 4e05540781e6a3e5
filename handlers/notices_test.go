package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	noticeKinds   = regexp.MustCompile(`<strong class="notice-kind">([^<]*)</strong>`)
	dismissLastID = regexp.MustCompile(`name="last" value="([0-9]+)"`)
)

// noticeLabels returns the labels of the notices on a page, newest first.
func noticeLabels(body string) []string {
	var labels []string
	for _, m := range noticeKinds.FindAllStringSubmatch(body, -1) {
		labels = append(labels, m[1])
	}

	return labels
}

// dismissNotices posts the dismiss form of the dashboard of c.
func (e *env) dismissNotices(c *http.Client) response {
	e.t.Helper()

	page := e.get(c, "/dashboard")
	m := dismissLastID.FindStringSubmatch(page.body)
	if m == nil {
		e.t.Fatal("dashboard has no dismiss form")
	}
	token := csrfField.FindStringSubmatch(page.body)[1]

	return e.post(c, "/account/notices/dismiss", url.Values{"csrf_token": {token}, "last": {m[1]}, "back": {"/dashboard"}})
}

func TestNoticeAfterAdminPasswordReset(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.loggedIn("bo@example.com")
	bo := e.user("bo@example.com")

	reset := e.adminPost(admin, userPath(bo, "/password"), url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
	if reset.status != http.StatusSeeOther {
		t.Fatalf("reset: got %d, want 303", reset.status)
	}

	c := e.client()
	if resp := e.login(c, "bo@example.com", newPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("login with the new password: got %d, want 303", resp.status)
	}
	spanish := e.get(c, "/dashboard", "Accept-Language", "es")
	if got := noticeLabels(spanish.body); len(got) != 1 || got[0] != "Contraseña cambiada" {
		t.Errorf("Spanish notices: got %q, want [Contraseña cambiada]", got)
	}
	for _, want := range []string{"Avisos de seguridad", "(por un administrador)", "Marcar como leídos"} {
		if !strings.Contains(spanish.body, want) {
			t.Errorf("Spanish dashboard lacks %q", want)
		}
	}
	if strings.Contains(spanish.body, newPassword) {
		t.Error("dashboard contains the new password")
	}

	english := e.get(c, "/account", "Accept-Language", "en")
	if got := noticeLabels(english.body); len(got) != 1 || got[0] != "Password changed" {
		t.Errorf("English notices on /account: got %q, want [Password changed]", got)
	}
	for _, want := range []string{"Security notices", "(by an administrator)", "Mark as read"} {
		if !strings.Contains(english.body, want) {
			t.Errorf("English account page lacks %q", want)
		}
	}
}

func TestNoticeAfterFailedLoginsByOthers(t *testing.T) {
	e := newEnv(t)
	e.createUser("ana@example.com", "Ana")
	first := e.client()
	e.loginWithAgent(first, "ana@example.com", testUserAgent)

	attacker := e.client()
	for range 2 {
		token := e.csrfToken(attacker, "/login")
		resp := e.post(attacker, "/login", url.Values{"csrf_token": {token}, "email": {"ana@example.com"}, "password": {"wrong password 123"}}, "User-Agent", chromeOnWindows)
		if resp.status != http.StatusUnauthorized {
			t.Fatalf("failed login: got %d, want 401", resp.status)
		}
	}
	e.settle()

	// The session that was open during the attack shows the notices, and
	// so does the session of the next login.
	for name, c := range map[string]*http.Client{"open session": first, "next login": e.client()} {
		if name == "next login" {
			e.loginWithAgent(c, "ana@example.com", testUserAgent)
		}
		page := e.get(c, "/dashboard", "Accept-Language", "en")
		got := noticeLabels(page.body)
		if len(got) != 2 || got[0] != "Failed login attempt" || got[1] != "Failed login attempt" {
			t.Errorf("%s: notices got %q, want two failed logins", name, got)
		}
		if !strings.Contains(page.body, "Chrome on Windows") {
			t.Errorf("%s: notices lack the attacker's browser", name)
		}
	}
}

func TestNoticeAfterLoginFromNewUserAgent(t *testing.T) {
	e := newEnv(t)
	e.createUser("cy@example.com", "Cy")
	usual := e.client()
	e.loginWithAgent(usual, "cy@example.com", testUserAgent)
	if got := noticeLabels(e.get(usual, "/dashboard").body); len(got) != 0 {
		t.Fatalf("notices after the first login: got %q, want none", got)
	}

	other := e.client()
	e.loginWithAgent(other, "cy@example.com", chromeOnWindows)
	if got := noticeLabels(e.get(other, "/dashboard").body); len(got) != 0 {
		t.Errorf("notices of the new session about its own login: got %q, want none", got)
	}
	e.settle()

	page := e.get(usual, "/dashboard", "Accept-Language", "es")
	got := noticeLabels(page.body)
	if len(got) != 1 || got[0] != "Inicio de sesión desde un navegador o una dirección IP nuevos" {
		t.Errorf("notices of the usual session: got %q, want the new-device login", got)
	}
	if !strings.Contains(page.body, "Chrome en Windows") {
		t.Error("new-device notice lacks the browser and operating system")
	}

	// A browser update, here Firefox 128 to 129, is no new device.
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE users SET notices_pending = false, notices_seen_at = now()`); err != nil {
		t.Fatal(err)
	}
	updated := strings.Replace(testUserAgent, "128.0", "129.0", 2)
	e.loginWithAgent(e.client(), "cy@example.com", updated)
	if cy := e.user("cy@example.com"); cy.NoticesPending {
		t.Error("a login from a newer version of a known browser set notices_pending")
	}
}

func TestNoticesDismissedOnOtherInstance(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.db, envOptions{})
	a.createUser("dee@example.com", "Dee")
	onA, onB := a.client(), b.client()
	a.loginWithAgent(onA, "dee@example.com", testUserAgent)
	b.loginWithAgent(onB, "dee@example.com", testUserAgent)

	if resp := a.login(a.client(), "dee@example.com", "wrong password 123"); resp.status != http.StatusUnauthorized {
		t.Fatalf("failed login: got %d, want 401", resp.status)
	}
	b.settle()
	if got := noticeLabels(b.get(onB, "/dashboard").body); len(got) != 1 {
		t.Fatalf("notices on the second instance before the dismissal: got %q, want one", got)
	}

	resp := a.dismissNotices(onA)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("dismiss: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	if got := noticeLabels(a.get(onA, "/dashboard").body); len(got) != 0 {
		t.Errorf("notices after the dismissal: got %q, want none", got)
	}
	b.settle()
	if got := noticeLabels(b.get(onB, "/dashboard").body); len(got) != 0 {
		t.Errorf("notices of another session on the second instance after the dismissal: got %q, want none", got)
	}
	if dee := a.user("dee@example.com"); dee.NoticesPending {
		t.Error("notices_pending is still set after the dismissal")
	}
}

func TestDismissNoticesNeedsCSRFToken(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("eve@example.com")
	if resp := e.login(e.client(), "eve@example.com", "wrong password 123"); resp.status != http.StatusUnauthorized {
		t.Fatalf("failed login: got %d, want 401", resp.status)
	}
	e.settle()

	m := dismissLastID.FindStringSubmatch(e.get(c, "/dashboard").body)
	if m == nil {
		t.Fatal("dashboard has no dismiss form")
	}
	for name, token := range map[string]string{"without a token": "", "with a wrong token": "forged"} {
		form := url.Values{"last": {m[1]}}
		if token != "" {
			form.Set("csrf_token", token)
		}
		if resp := e.post(c, "/account/notices/dismiss", form); resp.status != http.StatusForbidden {
			t.Errorf("dismiss %s: got %d, want 403", name, resp.status)
		}
	}
	if got := noticeLabels(e.get(c, "/dashboard").body); len(got) != 1 {
		t.Errorf("notices after the rejected dismissals: got %q, want one", got)
	}
}

// lockEventsTable locks security_events, and the session and user tables,
// until the test ends, so that any read of them waits.
func lockEventsTable(t *testing.T, e *env) {
	t.Helper()
	lockTables(t, e, "web_sessions, users, security_events")
}

// TestDashboardWithoutNoticesReadsNoEvents shows that the dashboard queries
// no events while the user has nothing pending: it loads while every table
// it could read is locked.
func TestDashboardWithoutNoticesReadsNoEvents(t *testing.T) {
	e := newEnvWith(t, envOptions{alwaysLive: true})
	c := e.loggedIn("fay@example.com")
	if r := e.get(c, "/dashboard"); r.status != http.StatusOK {
		t.Fatalf("first dashboard: %d", r.status)
	}

	lockEventsTable(t, e)

	c.Timeout = 2 * time.Second
	if r := e.get(c, "/dashboard"); r.status != http.StatusOK {
		t.Fatalf("dashboard while the tables are locked: %d, want 200", r.status)
	}
}

// TestDashboardWithNoticesReadsEvents is the control of the test above:
// with a notice pending, the same dashboard reads security_events and waits
// for the lock.
func TestDashboardWithNoticesReadsEvents(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("gil@example.com")
	if resp := e.login(e.client(), "gil@example.com", "wrong password 123"); resp.status != http.StatusUnauthorized {
		t.Fatalf("failed login: got %d, want 401", resp.status)
	}
	e.settle()
	if got := noticeLabels(e.get(c, "/dashboard").body); len(got) != 1 {
		t.Fatalf("notices before the lock: got %q, want one", got)
	}

	lockEventsTable(t, e)

	c.Timeout = time.Second
	if _, err := c.Get(e.server.URL + "/dashboard"); err == nil {
		t.Fatal("the dashboard with a pending notice answered while security_events was locked")
	}
}
