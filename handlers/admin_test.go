package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/password"
)

const newPassword = "purple elephant dancing slowly"

// adminClient returns a client logged in as a new admin.
func (e *env) adminClient(email string) *http.Client {
	e.t.Helper()

	c := e.loggedIn(email)
	user, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("find admin %s: %v", email, err)
	}
	if err := e.db.SetUserRole(context.Background(), user.ID, db.RoleAdmin); err != nil {
		e.t.Fatalf("make %s an admin: %v", email, err)
	}

	return c
}

// adminPost sends an admin form with the CSRF token of the user's admin
// page, as the page's forms do.
func (e *env) adminPost(c *http.Client, path string, form url.Values) response {
	e.t.Helper()

	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", e.csrfToken(c, "/admin/users"))

	return e.post(c, path, form, "Accept-Language", "en")
}

// userPath returns the admin page of a user.
func userPath(user *db.User, action string) string {
	return fmt.Sprintf("/admin/users/%d%s", user.ID, action)
}

func (e *env) user(email string) *db.User {
	e.t.Helper()

	user, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("find user %s: %v", email, err)
	}

	return user
}

// indexedSessions counts the unexpired session rows of a user.
func (e *env) indexedSessions(userID int64) int {
	e.t.Helper()

	var n int
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT count(*)
		FROM user_sessions us
		JOIN web_sessions ws ON ws.key = us.session_key
		WHERE us.user_id = $1`, userID).Scan(&n)
	if err != nil {
		e.t.Fatalf("count sessions of user %d: %v", userID, err)
	}

	return n
}

func (e *env) dashboardStatus(c *http.Client) int {
	e.t.Helper()

	return e.get(c, "/dashboard").status
}

func TestAdminPagesAccess(t *testing.T) {
	e := newEnv(t)
	user := e.loggedIn("user@example.com")
	admin := e.adminClient("admin@example.com")
	target := e.user("user@example.com")

	for _, path := range []string{"/admin/users", "/admin/events", userPath(target, ""), "/admin", "/admin/no-such-page"} {
		anon := e.get(e.client(), path)
		if anon.status != http.StatusSeeOther || anon.location != "/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s anonymous: got %d to %q, want 303 to the login page", path, anon.status, anon.location)
		}
		if resp := e.get(user, path); resp.status != http.StatusForbidden {
			t.Errorf("GET %s as a user: got %d, want 403", path, resp.status)
		}
	}
	for _, path := range []string{"/admin/users", "/admin/events", userPath(target, "")} {
		resp := e.get(admin, path)
		if resp.status != http.StatusOK {
			t.Errorf("GET %s as an admin: got %d, want 200", path, resp.status)
		}
		if got := resp.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s Cache-Control: got %q, want no-store", path, got)
		}
	}
	if resp := e.get(admin, "/admin"); resp.status != http.StatusSeeOther || resp.location != "/admin/users" {
		t.Errorf("GET /admin as an admin: got %d to %q, want 303 to /admin/users", resp.status, resp.location)
	}

	// A user cannot post either, even with a valid CSRF token of a page
	// the user may see.
	token := e.csrfToken(user, "/dashboard")
	resp := e.post(user, userPath(target, "/disable"), url.Values{"csrf_token": {token}})
	if resp.status != http.StatusForbidden {
		t.Errorf("POST disable as a user: got %d, want 403", resp.status)
	}
	resp = e.post(user, "/admin/users", url.Values{"csrf_token": {token}, "email": {"x@example.com"}, "password": {newPassword}, "password_confirm": {newPassword}})
	if resp.status != http.StatusForbidden {
		t.Errorf("POST create as a user: got %d, want 403", resp.status)
	}
	if e.user("user@example.com").Disabled() {
		t.Error("a user's POST disabled an account")
	}
}

func TestAdminUserList(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.loggedIn("ana@example.com")
	if resp := e.login(e.client(), "ana@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("second login: got %d, want 303", resp.status)
	}

	page := e.get(admin, "/admin/users", "Accept-Language", "en")
	for _, want := range []string{"admin@example.com", "ana@example.com", "Administrator", "Active", "Test User", `name="csrf_token"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("user list lacks %q", want)
		}
	}
	ana := e.user("ana@example.com")
	item := page.body[strings.Index(page.body, fmt.Sprintf(`id="user-%d"`, ana.ID)):]
	item = item[:strings.Index(item, "</li>")]
	if !strings.Contains(item, `<dd class="active-sessions">2</dd>`) {
		t.Errorf("ana's entry: got %q, want 2 active sessions", item)
	}
}

func TestAdminCreateUser(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	adminUser := e.user("admin@example.com")

	resp := e.adminPost(admin, "/admin/users", url.Values{
		"email": {"new@example.com"}, "name": {"Nuevo"}, "password": {newPassword}, "password_confirm": {newPassword},
	})
	created, err := e.db.UserByEmail(context.Background(), "new@example.com")
	if err != nil {
		t.Fatalf("the new user is missing: %v (response %d)", err, resp.status)
	}
	if resp.status != http.StatusSeeOther || resp.location != userPath(created, "?done=created") {
		t.Errorf("create: got %d to %q, want 303 to %s", resp.status, resp.location, userPath(created, "?done=created"))
	}
	if created.Admin() || created.DisplayName != "Nuevo" {
		t.Errorf("new user: got role %q and name %q, want user and Nuevo", created.Role, created.DisplayName)
	}
	if login := e.login(e.client(), "new@example.com", newPassword); login.status != http.StatusSeeOther {
		t.Errorf("login of the new user: got %d, want 303", login.status)
	}
	if !strings.Contains(e.get(admin, resp.location, "Accept-Language", "en").body, "User created.") {
		t.Error("the user page after creation lacks the notice")
	}

	events := e.eventsOfKind(handlers.EventUserCreated)
	if len(events) != 1 || events[0].userID != created.ID ||
		!strings.Contains(events[0].details, fmt.Sprintf(`"admin_id": %d`, adminUser.ID)) || !strings.Contains(events[0].details, `"by": "admin"`) {
		t.Errorf("user_created events: got %+v, want one for user %d by admin %d", events, created.ID, adminUser.ID)
	}
	if strings.Contains(events[0].details, newPassword) {
		t.Error("the user_created event contains the password")
	}

	resp = e.adminPost(admin, "/admin/users", url.Values{
		"email": {"boss@example.com"}, "password": {newPassword}, "password_confirm": {newPassword}, "admin": {"1"},
	})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("create admin: got %d, want 303", resp.status)
	}
	if !e.user("boss@example.com").Admin() {
		t.Error("user created with the admin box: got role user, want admin")
	}
}

func TestAdminCreateUserRejects(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.createUser("taken@example.com", "Taken")

	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantMsg    string
	}{
		{"passwords differ", url.Values{"email": {"a@example.com"}, "password": {newPassword}, "password_confirm": {newPassword + "x"}}, http.StatusUnprocessableEntity, "The two new passwords do not match."},
		{"too short", url.Values{"email": {"a@example.com"}, "password": {"short"}, "password_confirm": {"short"}}, http.StatusUnprocessableEntity, "at least 12 characters"},
		{"common password", url.Values{"email": {"a@example.com"}, "password": {"password1234"}, "password_confirm": {"password1234"}}, http.StatusUnprocessableEntity, "too common"},
		{"password is the email", url.Values{"email": {"longname@example.com"}, "password": {"LongName@example.com"}, "password_confirm": {"LongName@example.com"}}, http.StatusUnprocessableEntity, "cannot be the user&#39;s email"},
		{"no password", url.Values{"email": {"a@example.com"}}, http.StatusUnprocessableEntity, "Enter the new password twice."},
		{"invalid email", url.Values{"email": {"not an email"}, "password": {newPassword}, "password_confirm": {newPassword}}, http.StatusUnprocessableEntity, "Enter a valid email address"},
		{"name too long", url.Values{"email": {"a@example.com"}, "name": {strings.Repeat("n", 101)}, "password": {newPassword}, "password_confirm": {newPassword}}, http.StatusUnprocessableEntity, "at most 100 characters"},
		{"name with a NUL byte", url.Values{"email": {"a@example.com"}, "name": {"Ana\x00"}, "password": {newPassword}, "password_confirm": {newPassword}}, http.StatusUnprocessableEntity, "control characters"},
		{"email not UTF-8", url.Values{"email": {"a\xff@example.com"}, "password": {newPassword}, "password_confirm": {newPassword}}, http.StatusUnprocessableEntity, "Enter a valid email address"},
		{"email taken", url.Values{"email": {"TAKEN@example.com"}, "password": {newPassword}, "password_confirm": {newPassword}}, http.StatusConflict, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.adminPost(admin, "/admin/users", tt.form)
			if resp.status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.status, tt.wantStatus)
			}
			if !strings.Contains(resp.body, tt.wantMsg) {
				t.Errorf("page: got no %q in the error", tt.wantMsg)
			}
			if pw := tt.form.Get("password"); pw != "" && strings.Contains(resp.body, pw) {
				t.Error("the page repeats the typed password")
			}
			if email := tt.form.Get("email"); email != "TAKEN@example.com" && !strings.Contains(resp.body, fmt.Sprintf(`value="%s"`, email)) {
				t.Errorf("the form does not keep the typed email %q", email)
			}
		})
	}

	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("users after rejected forms: got %d, want 2", n)
	}
}

func TestAdminDisableEndsSessionsAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	phone := e.loggedIn("ana@example.com")
	laptop := e.client()
	if resp := e.login(laptop, "ana@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("second login: got %d, want 303", resp.status)
	}
	ana := e.user("ana@example.com")
	if got := e.indexedSessions(ana.ID); got != 2 {
		t.Fatalf("sessions before: got %d, want 2", got)
	}

	resp := e.adminPost(admin, userPath(ana, "/disable"), nil)
	if resp.status != http.StatusSeeOther || resp.location != userPath(ana, "?done=disabled") {
		t.Fatalf("disable: got %d to %q, want 303 to the user page", resp.status, resp.location)
	}
	// The rows are gone at once, not only refused at the next request.
	if got := e.indexedSessions(ana.ID); got != 0 {
		t.Errorf("sessions right after disabling: got %d, want 0", got)
	}
	var rows int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM user_sessions WHERE user_id = $1`, ana.ID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("session index rows right after disabling: got %d, want 0", rows)
	}
	for name, c := range map[string]*http.Client{"phone": phone, "laptop": laptop} {
		if got := e.dashboardStatus(c); got != http.StatusSeeOther {
			t.Errorf("dashboard on the %s: got %d, want 303 to the login page", name, got)
		}
	}
	if login := e.login(e.client(), "ana@example.com", testPassword); login.status != http.StatusUnauthorized {
		t.Errorf("login of a disabled user: got %d, want 401", login.status)
	}
	if !strings.Contains(e.get(admin, resp.location, "Accept-Language", "en").body, "Account disabled.") {
		t.Error("the user page lacks the notice")
	}

	disabled := e.eventsOfKind(handlers.EventUserDisabled)
	if len(disabled) != 1 || disabled[0].userID != ana.ID || !strings.Contains(disabled[0].details, `"sessions_ended": 2`) || !strings.Contains(disabled[0].details, `"by": "admin"`) {
		t.Errorf("user_disabled events: got %+v, want one for user %d with 2 sessions ended, by admin", disabled, ana.ID)
	}

	resp = e.adminPost(admin, userPath(ana, "/enable"), nil)
	if resp.status != http.StatusSeeOther || resp.location != userPath(ana, "?done=enabled") {
		t.Fatalf("enable: got %d to %q, want 303 to the user page", resp.status, resp.location)
	}
	if resp := e.login(e.client(), "ana@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login after enabling: got %d, want 303", resp.status)
	}
	if enabled := e.eventsOfKind(handlers.EventUserEnabled); len(enabled) != 1 || enabled[0].userID != ana.ID {
		t.Errorf("user_enabled events: got %+v, want one for user %d", enabled, ana.ID)
	}
}

func TestAdminResetPassword(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	victim := e.loggedIn("bo@example.com")
	bo := e.user("bo@example.com")

	mismatch := e.adminPost(admin, userPath(bo, "/password"), url.Values{"password": {newPassword}, "password_confirm": {"something else entirely"}})
	if mismatch.status != http.StatusUnprocessableEntity || !strings.Contains(mismatch.body, "do not match") {
		t.Errorf("reset with different passwords: got %d, want 422 with the message", mismatch.status)
	}

	resp := e.adminPost(admin, userPath(bo, "/password"), url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
	if resp.status != http.StatusSeeOther || resp.location != userPath(bo, "?done=password") {
		t.Fatalf("reset: got %d to %q, want 303 to the user page", resp.status, resp.location)
	}
	if got := e.dashboardStatus(victim); got != http.StatusSeeOther {
		t.Errorf("dashboard of bo's old session: got %d, want 303 (ended)", got)
	}
	if got := e.indexedSessions(bo.ID); got != 0 {
		t.Errorf("bo's sessions after the reset: got %d, want 0", got)
	}
	if resp := e.login(e.client(), "bo@example.com", testPassword); resp.status != http.StatusUnauthorized {
		t.Errorf("login with the old password: got %d, want 401", resp.status)
	}
	if resp := e.login(e.client(), "bo@example.com", newPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login with the new password: got %d, want 303", resp.status)
	}
	if hash := e.user("bo@example.com").PasswordHash; !strings.HasPrefix(hash, fmt.Sprintf("$2a$%02d$", testCost)) || !password.Matches(hash, newPassword) {
		t.Errorf("stored hash: got %q, want a cost-%d hash of the new password", hash, testCost)
	}

	changed := e.eventsOfKind(handlers.EventPasswordChanged)
	if len(changed) != 1 || changed[0].userID != bo.ID || !strings.Contains(changed[0].details, `"by": "admin"`) || !strings.Contains(changed[0].details, `"sessions_ended": 1`) {
		t.Errorf("password_changed events: got %+v, want one for bo by admin with 1 session ended", changed)
	}
}

func TestAdminEndSessions(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	first := e.loggedIn("cy@example.com")
	second := e.client()
	e.login(second, "cy@example.com", testPassword)
	cy := e.user("cy@example.com")

	resp := e.adminPost(admin, userPath(cy, "/sessions/end"), nil)
	if resp.status != http.StatusSeeOther || resp.location != userPath(cy, "?done=sessions") {
		t.Fatalf("end sessions: got %d to %q, want 303 to the user page", resp.status, resp.location)
	}
	for name, c := range map[string]*http.Client{"first": first, "second": second} {
		if got := e.dashboardStatus(c); got != http.StatusSeeOther {
			t.Errorf("dashboard of the %s session: got %d, want 303", name, got)
		}
	}
	if e.user("cy@example.com").Disabled() {
		t.Error("ending the sessions disabled the user")
	}
	if resp := e.login(e.client(), "cy@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login after the sessions ended: got %d, want 303", resp.status)
	}
	revoked := e.eventsOfKind(handlers.EventSessionRevoked)
	if len(revoked) != 1 || revoked[0].userID != cy.ID || !strings.Contains(revoked[0].details, `"sessions_ended": 2`) {
		t.Errorf("session_revoked events: got %+v, want one for cy with 2 sessions ended", revoked)
	}

	// On the admin's own page, the admin's current session stays.
	other := e.client()
	e.login(other, "admin@example.com", testPassword)
	self := e.user("admin@example.com")
	if resp := e.adminPost(admin, userPath(self, "/sessions/end"), nil); resp.status != http.StatusSeeOther {
		t.Fatalf("end own sessions: got %d, want 303", resp.status)
	}
	if got := e.dashboardStatus(admin); got != http.StatusOK {
		t.Errorf("dashboard of the admin's current session: got %d, want 200", got)
	}
	if got := e.dashboardStatus(other); got != http.StatusSeeOther {
		t.Errorf("dashboard of the admin's other session: got %d, want 303", got)
	}
}

func TestAdminCannotLockThemselfOut(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	self := e.user("admin@example.com")

	tests := []struct {
		action  string
		form    url.Values
		wantMsg string
	}{
		{"/disable", nil, "You cannot disable your own account."},
		{"/role", url.Values{"role": {db.RoleUser}}, "You cannot remove your own administrator role."},
		{"/password", url.Values{"password": {newPassword}, "password_confirm": {newPassword}}, "To change your own password"},
	}
	for _, tt := range tests {
		resp := e.adminPost(admin, userPath(self, tt.action), tt.form)
		if resp.status != http.StatusUnprocessableEntity {
			t.Errorf("POST %s on self: got %d, want 422", tt.action, resp.status)
		}
		if !strings.Contains(resp.body, tt.wantMsg) {
			t.Errorf("POST %s on self: page lacks %q", tt.action, tt.wantMsg)
		}
	}

	after := e.user("admin@example.com")
	if after.Disabled() || !after.Admin() || after.PasswordHash != self.PasswordHash {
		t.Errorf("admin after the rejected actions: got disabled %v, role %s, hash changed %v, want unchanged",
			after.Disabled(), after.Role, after.PasswordHash != self.PasswordHash)
	}
	if got := e.dashboardStatus(admin); got != http.StatusOK {
		t.Errorf("admin's dashboard: got %d, want 200", got)
	}
	page := e.get(admin, userPath(self, ""))
	for _, absent := range []string{`id="disable"`, `id="change-role"`, `id="reset"`} {
		if strings.Contains(page.body, absent) {
			t.Errorf("admin's own page offers %s", absent)
		}
	}
}

func TestAdminRoleChange(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	dee := e.loggedIn("dee@example.com")
	deeUser := e.user("dee@example.com")

	if resp := e.adminPost(admin, userPath(deeUser, "/role"), url.Values{"role": {"root"}}); resp.status != http.StatusUnprocessableEntity {
		t.Errorf("role root: got %d, want 422", resp.status)
	}
	if resp := e.adminPost(admin, userPath(deeUser, "/role"), url.Values{"role": {db.RoleAdmin}}); resp.status != http.StatusSeeOther {
		t.Fatalf("make admin: got %d, want 303", resp.status)
	}
	if resp := e.get(dee, "/admin/users"); resp.status != http.StatusOK {
		t.Errorf("GET /admin/users as the new admin: got %d, want 200", resp.status)
	}
	if resp := e.adminPost(admin, userPath(deeUser, "/role"), url.Values{"role": {db.RoleUser}}); resp.status != http.StatusSeeOther {
		t.Fatalf("remove admin: got %d, want 303", resp.status)
	}
	if resp := e.get(dee, "/admin/users"); resp.status != http.StatusForbidden {
		t.Errorf("GET /admin/users after the role was removed: got %d, want 403", resp.status)
	}
	if got := e.eventsOfKind(handlers.EventRoleChanged); len(got) != 2 {
		t.Errorf("role_changed events: got %d, want 2", len(got))
	}
}

func TestAdminReauthAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.createUser("eve@example.com", "Eve")
	eve := e.user("eve@example.com")

	if page := e.get(admin, userPath(eve, "")); strings.Contains(page.body, `name="current_password"`) {
		t.Error("user page right after the login asks for the password, want no field")
	}

	e.clock.advance(10*time.Minute + time.Second)

	page := e.get(admin, userPath(eve, ""), "Accept-Language", "en")
	if !strings.Contains(page.body, `name="current_password"`) {
		t.Error("user page 10 minutes after the login lacks the current password field")
	}

	missing := e.adminPost(admin, userPath(eve, "/disable"), nil)
	if missing.status != http.StatusForbidden || !strings.Contains(missing.body, "enter your current password") {
		t.Errorf("disable without the password: got %d, want 403 asking for the password", missing.status)
	}
	wrong := e.adminPost(admin, userPath(eve, "/disable"), url.Values{"current_password": {wrongPassword}})
	if wrong.status != http.StatusForbidden || !strings.Contains(wrong.body, "The current password is incorrect.") {
		t.Errorf("disable with a wrong password: got %d, want 403 with the message", wrong.status)
	}
	if e.user("eve@example.com").Disabled() {
		t.Fatal("a POST without re-authentication disabled the user")
	}
	// The admin's browser has the device cookie of its login, so the failure
	// counts on the device.
	if failures, _ := e.failureRow(db.FailureKindDevice); failures != 1 {
		t.Errorf("device failures after a wrong password: got %d, want 1", failures)
	}
	failed := e.eventsOfKind(handlers.EventLoginFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].details, `"step": "reauthentication"`) {
		t.Errorf("login_failed events: got %+v, want one from the re-authentication", failed)
	}

	created := e.adminPost(admin, "/admin/users", url.Values{"email": {"late@example.com"}, "password": {newPassword}, "password_confirm": {newPassword}})
	if created.status != http.StatusForbidden {
		t.Errorf("create without the password: got %d, want 403", created.status)
	}

	ok := e.adminPost(admin, userPath(eve, "/disable"), url.Values{"current_password": {testPassword}})
	if ok.status != http.StatusSeeOther {
		t.Fatalf("disable with the right password: got %d, want 303", ok.status)
	}
	if !e.user("eve@example.com").Disabled() {
		t.Error("disable with the right password: user still enabled")
	}
	if failures, _ := e.failureRow(db.FailureKindDevice); failures != 0 {
		t.Errorf("device failures after a right password: got %d, want 0 (reset)", failures)
	}
}

func TestAdminReauthLockedOut(t *testing.T) {
	e := newEnvWith(t, envOptions{policy: db.LoginPolicy{AccountMaxFailures: 2}})
	admin := e.adminClient("admin@example.com")
	e.createUser("fay@example.com", "Fay")
	fay := e.user("fay@example.com")
	e.clock.advance(11 * time.Minute)

	for range 2 {
		e.adminPost(admin, userPath(fay, "/disable"), url.Values{"current_password": {wrongPassword}})
	}
	locked := e.adminPost(admin, userPath(fay, "/disable"), url.Values{"current_password": {testPassword}})
	if locked.status != http.StatusTooManyRequests || !strings.Contains(locked.body, "Too many failed attempts") {
		t.Errorf("re-authentication while locked: got %d, want 429 with the message", locked.status)
	}
	if e.user("fay@example.com").Disabled() {
		t.Error("a locked re-authentication disabled the user")
	}
}

func TestAdminEventsPage(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.com")
	e.loginAs(e.client(), "stranger@example.com", wrongPassword)

	page := e.get(admin, "/admin/events", "Accept-Language", "en")
	for _, want := range []string{"Failed login attempt", "No user", "Reason: unknown email", "Logged in", "admin@example.com"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("events page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "stranger@example.com") {
		t.Error("events page shows the typed unknown email")
	}
}
