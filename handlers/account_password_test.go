package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

// newTestPassword meets every rule and is not in the common list.
const newTestPassword = "tangerine ladder 41 quietly"

func (e *env) changePassword(c *http.Client, current, newPassword, confirmation string) response {
	e.t.Helper()

	form := url.Values{
		"csrf_token":       {e.csrfToken(c, "/account/password")},
		"current_password": {current},
		"new_password":     {newPassword},
		"confirm_password": {confirmation},
	}

	return e.post(c, "/account/password?lang=en", form)
}

// storedHash returns the password hash of the user with email.
func (e *env) storedHash(email string) string {
	e.t.Helper()

	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("UserByEmail(%s): %v", email, err)
	}

	return u.PasswordHash
}

func TestPasswordPage(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.com")

	resp := e.get(c, "/account/password?lang=en")
	if resp.status != http.StatusOK {
		t.Fatalf("GET /account/password: got %d, want 200", resp.status)
	}
	for _, want := range []string{
		"Use at least 12 characters and at most 72 bytes.",
		`id="current_password" name="current_password" type="password" autocomplete="current-password"`,
		`id="new_password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="password-rules"`,
		`id="confirm_password" name="confirm_password" type="password" autocomplete="new-password"`,
		`data-show="Show password"`,
		`data-meter="new_password-meter"`,
		`aria-live="polite"`,
		`<script src="/static/password.js?v=`,
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("password page: got no %q, want it", want)
		}
	}
	if got := resp.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("password page Cache-Control: got %q, want no-store", got)
	}
	csp := resp.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy: got %q, want script-src 'self' without unsafe-inline", csp)
	}
	if strings.Contains(resp.body, "<script>") || strings.Contains(resp.body, " onclick=") {
		t.Error("password page: got inline script, want only the external file")
	}

	login := e.get(e.client(), "/login?lang=en")
	if !strings.Contains(login.body, `data-show="Show password"`) {
		t.Error("login page: got no show-password attribute on the password field, want one")
	}
}

func TestPasswordScriptServed(t *testing.T) {
	e := newEnv(t)

	resp := e.get(e.client(), "/static/password.js")
	if resp.status != http.StatusOK {
		t.Fatalf("GET /static/password.js: got %d, want 200", resp.status)
	}
	if got := resp.header.Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
		t.Errorf("password.js Content-Type: got %q, want text/javascript", got)
	}
	if !strings.Contains(resp.body, "aria-pressed") {
		t.Error("password.js: got no aria-pressed, want the toggle button code")
	}
}

func TestPasswordChangeRejects(t *testing.T) {
	tests := []struct {
		name         string
		current      string
		newPassword  string
		confirmation string
		wantStatus   int
		wantMessage  string
		wantFailures int
	}{
		{"missing current password", "", newTestPassword, newTestPassword, http.StatusUnprocessableEntity, "Enter your current password.", 0},
		{"missing new password", testPassword, "", "", http.StatusUnprocessableEntity, "Enter the new password twice.", 0},
		{"missing confirmation", testPassword, newTestPassword, "", http.StatusUnprocessableEntity, "Enter the new password twice.", 0},
		{"too short", testPassword, "eleven char", "eleven char", http.StatusUnprocessableEntity, "at least 12 characters", 0},
		{"73 bytes", testPassword, strings.Repeat("ñ", 36) + "a", strings.Repeat("ñ", 36) + "a", http.StatusUnprocessableEntity, "longer than 72 bytes", 0},
		{"the email", testPassword, "ANA@Example.com", "ANA@Example.com", http.StatusUnprocessableEntity, "cannot be your email address", 0},
		{"common password", testPassword, "LeaveMeAlone", "LeaveMeAlone", http.StatusUnprocessableEntity, "too common", 0},
		{"confirmation differs", testPassword, newTestPassword, newTestPassword + "!", http.StatusUnprocessableEntity, "do not match", 0},
		{"same as the current one", testPassword, testPassword, testPassword, http.StatusUnprocessableEntity, "must differ from the current one", 0},
		{"wrong current password", wrongPassword, newTestPassword, newTestPassword, http.StatusForbidden, "The current password is incorrect.", 1},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.loggedIn("ana@example.com")
			other := e.loggedInAgain("ana@example.com")
			cookie := e.sessionCookie(c).Value

			resp := e.changePassword(c, tt.current, tt.newPassword, tt.confirmation)
			if resp.status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.status, tt.wantStatus)
			}
			if !strings.Contains(resp.body, tt.wantMessage) {
				t.Errorf("page: got no message %q, want it", tt.wantMessage)
			}
			if !strings.Contains(resp.body, `id="new_password"`) {
				t.Error("page: got no password form, want the form again")
			}
			for _, typed := range []string{tt.current, tt.newPassword, tt.confirmation} {
				if typed != "" && strings.Contains(resp.body, `value="`+typed) {
					t.Errorf("page: got a typed password in a value attribute, want the fields empty")
				}
			}

			if !password.Matches(e.storedHash("ana@example.com"), testPassword) {
				t.Error("stored hash: got one that no longer matches the old password, want it unchanged")
			}
			// The browser has the device cookie of its login, so a wrong
			// current password counts on the device, not on the account.
			if failures, _ := e.failureRow(db.FailureKindDevice); failures != tt.wantFailures {
				t.Errorf("device failures: got %d, want %d", failures, tt.wantFailures)
			}
			if got := e.sessionCookie(c).Value; got != cookie {
				t.Error("session cookie: got a new one, want the same after a rejected change")
			}
			e.requireSignedIn(c, "the session that sent the form")
			e.requireSignedIn(other, "the other session")
		})
	}
}

func TestPasswordChangeSucceeds(t *testing.T) {
	e := newEnv(t)
	mine := e.loggedIn("ana@example.com")
	others := []*http.Client{e.loggedInAgain("ana@example.com"), e.loggedInAgain("ana@example.com")}
	bob := e.loggedIn("bob@example.com")
	oldCookie := e.sessionCookie(mine).Value
	start := e.bcrypt.Acquired()

	resp := e.changePassword(mine, testPassword, newTestPassword, newTestPassword)
	if resp.status != http.StatusSeeOther || resp.location != "/account/password?changed=1" {
		t.Fatalf("change password: got %d to %q, want 303 to /account/password?changed=1", resp.status, resp.location)
	}
	// One comparison of the current password and one new hash.
	if got := e.bcrypt.Acquired() - start; got != 2 {
		t.Errorf("bcrypt calls through the limiter: got %d, want 2", got)
	}

	newCookie := e.sessionCookie(mine).Value
	if newCookie == oldCookie {
		t.Fatal("session cookie after the change: got the old value, want a new session")
	}
	if replay := e.getWithCookie("/dashboard", oldCookie); replay.status != http.StatusSeeOther || replay.location != "/login" {
		t.Errorf("dashboard with the cookie from before the change: got %d to %q, want 303 to /login", replay.status, replay.location)
	}
	if fresh := e.getWithCookie("/dashboard", newCookie); fresh.status != http.StatusOK {
		t.Errorf("dashboard with the new cookie: got %d, want 200", fresh.status)
	}
	e.requireSignedIn(mine, "the session that changed the password")
	for i, c := range others {
		e.requireSignedOut(c, "other session "+strconv.Itoa(i+1))
	}
	e.requireSignedIn(bob, "another user")

	page := e.get(mine, "/account/password?changed=1&lang=en")
	if !strings.Contains(page.body, "Your password has been changed") {
		t.Error("password page after the change: got no notice, want one")
	}
	_, list := e.sessionsPage(mine)
	if len(list) != 1 || !list[0].current {
		t.Errorf("sessions after the change: got %+v, want only the current one, marked", list)
	}

	hash := e.storedHash("ana@example.com")
	if !password.Matches(hash, newTestPassword) {
		t.Error("stored hash: got no match for the new password, want one")
	}
	if password.Matches(hash, testPassword) {
		t.Error("stored hash: got a match for the old password, want none")
	}
	if resp := e.login(e.client(), "ana@example.com", testPassword); resp.status != http.StatusUnauthorized {
		t.Errorf("login with the old password: got %d, want 401", resp.status)
	}
	if resp := e.login(e.client(), "ana@example.com", newTestPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login with the new password: got %d, want 303", resp.status)
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "event=password_changed") || !strings.Contains(logs, "sessions_ended=2") {
		t.Error("log: got no password_changed event with sessions_ended=2, want one")
	}
	for _, secret := range []string{testPassword, newTestPassword, oldCookie, newCookie} {
		if strings.Contains(logs, secret) {
			t.Error("log: got a password or a cookie, want neither")
		}
	}
}

// TestPasswordChangeNeedsCurrentPasswordWhenRecent checks that a recent
// login, which is enough to end a session, is not enough to change the
// password.
func TestPasswordChangeNeedsCurrentPasswordWhenRecent(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.com")

	resp := e.changePassword(c, "", newTestPassword, newTestPassword)
	if resp.status != http.StatusUnprocessableEntity {
		t.Errorf("change right after login without the current password: got %d, want 422", resp.status)
	}
	if !password.Matches(e.storedHash("ana@example.com"), testPassword) {
		t.Error("stored hash: got a changed one, want the old password")
	}
}
