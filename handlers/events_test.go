package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/i18n"
)

const testUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// storedEvent is one row of security_events as the tests read it.
type storedEvent struct {
	userID    int64
	kind      string
	clientIP  string
	userAgent string
	details   string
}

// storedEvents returns every stored event, oldest first. userID is 0 for
// an event without a user.
func (e *env) storedEvents() []storedEvent {
	e.t.Helper()

	rows, err := e.db.Pool.Query(context.Background(), `
		SELECT COALESCE(user_id, 0), kind, client_ip, user_agent, details::text
		FROM security_events
		ORDER BY id`)
	if err != nil {
		e.t.Fatalf("read security_events: %v", err)
	}
	defer rows.Close()

	var events []storedEvent
	for rows.Next() {
		var ev storedEvent
		if err := rows.Scan(&ev.userID, &ev.kind, &ev.clientIP, &ev.userAgent, &ev.details); err != nil {
			e.t.Fatalf("scan security_events: %v", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("read security_events: %v", err)
	}

	return events
}

// eventsOfKind returns the stored events of one kind, oldest first.
func (e *env) eventsOfKind(kind string) []storedEvent {
	e.t.Helper()

	var found []storedEvent
	for _, ev := range e.storedEvents() {
		if ev.kind == kind {
			found = append(found, ev)
		}
	}

	return found
}

// loginAs logs c in with the test User-Agent and returns the response.
func (e *env) loginAs(c *http.Client, email, pw string) response {
	e.t.Helper()

	token := e.csrfToken(c, "/login")
	return e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {email}, "password": {pw}}, "User-Agent", testUserAgent)
}

// logLines returns the lines of the log that contain every one of parts.
func (e *env) logLines(parts ...string) []string {
	var lines []string
	for line := range strings.Lines(e.logs.String()) {
		matches := true
		for _, p := range parts {
			matches = matches && strings.Contains(line, p)
		}
		if matches {
			lines = append(lines, line)
		}
	}

	return lines
}

func TestLoginEventsStored(t *testing.T) {
	e := newEnv(t)
	user := e.createUser("ana@example.com", "Ana")

	c := e.client()
	if resp := e.loginAs(c, "ana@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.status)
	}
	cookie := e.sessionCookie(c).Value
	token := e.csrfToken(c, "/dashboard")
	if resp := e.post(c, "/logout", url.Values{"csrf_token": {token}}); resp.status != http.StatusSeeOther {
		t.Fatalf("logout: got %d, want 303", resp.status)
	}
	if resp := e.loginAs(e.client(), "ana@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d, want 401", resp.status)
	}
	if resp := e.loginAs(e.client(), "nobody@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
		t.Fatalf("unknown email: got %d, want 401", resp.status)
	}

	events := e.storedEvents()
	want := []struct {
		userID int64
		kind   string
		detail string
	}{
		{user.ID, handlers.EventLoginSucceeded, "{}"},
		{user.ID, handlers.EventLogout, "{}"},
		{user.ID, handlers.EventLoginFailed, `{"reason": "wrong_password"}`},
		{0, handlers.EventLoginFailed, `{"reason": "unknown_email"}`},
	}
	if len(events) != len(want) {
		t.Fatalf("stored events: got %d (%+v), want %d", len(events), events, len(want))
	}
	for i, w := range want {
		got := events[i]
		if got.userID != w.userID || got.kind != w.kind || got.details != w.detail {
			t.Errorf("event %d: got user %d, kind %s, details %s, want user %d, kind %s, details %s",
				i, got.userID, got.kind, got.details, w.userID, w.kind, w.detail)
		}
		if got.clientIP != "127.0.0.1" {
			t.Errorf("event %d: got client IP %q, want 127.0.0.1", i, got.clientIP)
		}
		if got.userAgent != testUserAgent && w.kind != handlers.EventLogout {
			t.Errorf("event %d: got User-Agent %q, want the browser's", i, got.userAgent)
		}
	}

	secrets := map[string]string{"password": testPassword, "wrong password": wrongPassword, "cookie": cookie, "typed unknown email": "nobody@example.com"}
	for _, ev := range events {
		row := fmt.Sprintf("%s %s %s %s", ev.kind, ev.clientIP, ev.userAgent, ev.details)
		for name, secret := range secrets {
			if strings.Contains(row, secret) {
				t.Errorf("event %s contains the %s: %s", ev.kind, name, row)
			}
		}
	}
	var keys int
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT count(*)
		FROM security_events e, web_sessions s
		WHERE position(convert_from(s.key, 'UTF8') IN e.details::text) > 0`).Scan(&keys)
	if err != nil {
		t.Fatal(err)
	}
	if keys != 0 {
		t.Errorf("events containing a session key: got %d, want 0", keys)
	}

	if lines := e.logLines(`msg="Security event."`, "event=login_succeeded", "level=INFO", fmt.Sprintf("user_id=%d", user.ID)); len(lines) != 1 {
		t.Errorf("Info log lines for the login: got %d, want 1", len(lines))
	}
	if lines := e.logLines(`msg="Security event."`, "event=login_failed", "level=WARN"); len(lines) != 2 {
		t.Errorf("Warn log lines for failed logins: got %d, want 2", len(lines))
	}
	if lines := e.logLines(`msg="Security event."`, "event=logout", "level=INFO"); len(lines) != 1 {
		t.Errorf("Info log lines for the logout: got %d, want 1", len(lines))
	}
	if strings.Contains(e.logs.String(), "nobody@example.com") {
		t.Error("the log contains the typed unknown email")
	}
}

func TestLockoutEventsStored(t *testing.T) {
	e := newEnvWith(t, envOptions{policy: db.LoginPolicy{AccountMaxFailures: 2}})
	user := e.createUser("lena@example.com", "Lena")

	for range 2 {
		e.loginAs(e.client(), "lena@example.com", wrongPassword)
		e.loginAs(e.client(), "ghost@example.com", wrongPassword)
	}

	lockouts := e.eventsOfKind(handlers.EventLockout)
	if len(lockouts) != 2 {
		t.Fatalf("lockout events: got %d (%+v), want 2", len(lockouts), lockouts)
	}
	if lockouts[0].userID != user.ID {
		t.Errorf("lockout of a known account: got user %d, want %d", lockouts[0].userID, user.ID)
	}
	if lockouts[1].userID != 0 {
		t.Errorf("lockout of an unknown email: got user %d, want none", lockouts[1].userID)
	}
	for i, ev := range lockouts {
		for _, want := range []string{`"scope": "account"`, `"failures": 2`, `"locked_for_seconds": 60`, `"account_hash"`} {
			if !strings.Contains(ev.details, want) {
				t.Errorf("lockout %d details: got %s, want it to contain %s", i, ev.details, want)
			}
		}
		if ev.clientIP != "127.0.0.1" {
			t.Errorf("lockout %d: got client IP %q, want 127.0.0.1", i, ev.clientIP)
		}
		if strings.Contains(ev.details, "ghost") || strings.Contains(ev.details, "lena") {
			t.Errorf("lockout %d details contain an email: %s", i, ev.details)
		}
	}
	if lines := e.logLines(`msg="Security event."`, "event=lockout", "level=WARN"); len(lines) != 2 {
		t.Errorf("Warn log lines for lockouts: got %d, want 2", len(lines))
	}
}

func TestIPLockoutEventHasNoUser(t *testing.T) {
	e := newEnvWith(t, envOptions{policy: db.LoginPolicy{IPMaxFailures: 3}})
	user := e.createUser("ida@example.com", "Ida")

	e.loginAs(e.client(), "one@example.com", wrongPassword)
	e.loginAs(e.client(), "two@example.com", wrongPassword)
	e.loginAs(e.client(), "ida@example.com", wrongPassword)

	lockouts := e.eventsOfKind(handlers.EventLockout)
	if len(lockouts) != 1 {
		t.Fatalf("lockout events: got %d (%+v), want 1", len(lockouts), lockouts)
	}
	if lockouts[0].userID != 0 {
		t.Errorf("IP lockout: got user %d, want none (the lock is not about user %d)", lockouts[0].userID, user.ID)
	}
	if !strings.Contains(lockouts[0].details, `"scope": "ip"`) {
		t.Errorf("IP lockout details: got %s, want scope ip", lockouts[0].details)
	}
}

func TestEventStoreFailureKeepsLogin(t *testing.T) {
	e := newEnv(t)
	e.createUser("max@example.com", "Max")
	if _, err := e.db.Pool.Exec(context.Background(), `ALTER TABLE security_events RENAME TO security_events_gone`); err != nil {
		t.Fatal(err)
	}

	c := e.client()
	if resp := e.loginAs(c, "max@example.com", testPassword); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("login while events cannot be stored: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	if resp := e.get(c, "/dashboard"); resp.status != http.StatusOK {
		t.Errorf("dashboard after the login: got %d, want 200", resp.status)
	}
	if lines := e.logLines(`msg="Security event could not be stored."`, "level=ERROR", "event=login_succeeded"); len(lines) != 1 {
		t.Errorf("Error log lines for the lost event: got %d, want 1\n%s", len(lines), e.logs.String())
	}
	if lines := e.logLines(`msg="Security event."`, "event=login_succeeded"); len(lines) != 1 {
		t.Errorf("log lines for the event itself: got %d, want 1", len(lines))
	}
}

func TestEventKindsTranslated(t *testing.T) {
	for _, lang := range i18n.Languages {
		labels := map[string]string{}
		for _, kind := range handlers.EventKinds {
			key := "event." + kind
			label := i18n.T(lang, key)
			if label == key {
				t.Errorf("label of %s in %s: got the key, want a message", kind, lang)
			}
			if other, ok := labels[label]; ok {
				t.Errorf("label %q in %s: got it for %s and %s, want one label per kind", label, lang, other, kind)
			}
			labels[label] = kind
		}
	}
	if !slices.Contains(handlers.EventKinds, handlers.EventLoginSucceeded) {
		t.Error("EventKinds lacks login_succeeded")
	}
}

func TestLoginWithBrokenUserAgent(t *testing.T) {
	e := newEnv(t)
	user := e.createUser("ua@example.com", "UA")

	// Go's HTTP server passes bytes that are not UTF-8 through in header
	// values, and a cut at 512 bytes can split a two-byte character.
	agents := map[string]string{
		"not UTF-8":            "Agent \xff\xfe/1.0",
		"cut inside character": strings.Repeat("a", 511) + "ñ tail",
	}
	for name, agent := range agents {
		c := e.client()
		token := e.csrfToken(c, "/login")
		resp := e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {"ua@example.com"}, "password": {testPassword}}, "User-Agent", agent)
		if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
			t.Errorf("login with a User-Agent %s: got %d to %q, want 303 to /dashboard", name, resp.status, resp.location)
		}
	}

	logins := e.eventsOfKind(handlers.EventLoginSucceeded)
	if len(logins) != 2 {
		t.Fatalf("login events: got %d, want 2", len(logins))
	}
	for _, ev := range logins {
		if ev.userID != user.ID || !utf8.ValidString(ev.userAgent) || len(ev.userAgent) > 512 {
			t.Errorf("login event: got user %d and User-Agent %q, want user %d and valid UTF-8 of at most 512 bytes", ev.userID, ev.userAgent, user.ID)
		}
	}
}
