package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// addKey registers key for the logged-in client c under name, and requires
// the redirect that reports success.
func (e *env) addKey(c *http.Client, key *softKey, name string) {
	e.t.Helper()

	token := e.csrfToken(c, "/account/keys")
	options := e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {name}})
	credential := key.register(options, testOrigin)
	resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {name}, "credential": {credential}})
	if resp.status != http.StatusSeeOther || resp.location != "/account/keys?done=added" {
		e.t.Fatalf("POST /account/keys: got %d to %q, want 303 to /account/keys?done=added; body: %s", resp.status, resp.location, resp.body)
	}
}

// userWithKey creates a user with a registered key and returns the key.
func (e *env) userWithKey(email string) *softKey {
	e.t.Helper()

	c := e.loggedIn(email)
	key := newSoftKey(e.t)
	e.addKey(c, key, "USB key")

	return key
}

var keyOptionsAttr = regexp.MustCompile(`data-options="([^"]*)"`)

// keyOptions posts form to /account/keys/options, requires the page that
// requests the key, and returns its WebAuthn creation options.
func (e *env) keyOptions(c *http.Client, form url.Values) string {
	e.t.Helper()

	resp := e.post(c, "/account/keys/options", form)
	m := keyOptionsAttr.FindStringSubmatch(resp.body)
	if resp.status != http.StatusOK || m == nil {
		e.t.Fatalf("POST /account/keys/options: got %d without data-options, want 200 with them; body: %s", resp.status, resp.body)
	}

	return html.UnescapeString(m[1])
}

// pendingLogin logs c in with the password, requires the redirect to the
// security-key step, and returns the login options of that step's page.
func (e *env) pendingLogin(c *http.Client, email string) string {
	e.t.Helper()

	// The login page sends a logged-in client to the dashboard, so such a
	// client takes its token from another form.
	tokenPage := "/login"
	if e.get(c, "/login").status == http.StatusSeeOther {
		tokenPage = "/account/keys"
	}
	token := e.csrfToken(c, tokenPage)
	resp := e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {email}, "password": {testPassword}})
	if resp.status != http.StatusSeeOther || resp.location != "/login/key" {
		e.t.Fatalf("login with a key: got %d to %q, want 303 to /login/key", resp.status, resp.location)
	}
	page := e.get(c, "/login/key")
	m := keyOptionsAttr.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		e.t.Fatalf("GET /login/key: got %d without data-options, want 200 with them", page.status)
	}

	return html.UnescapeString(m[1])
}

// postAssertion posts a WebAuthn assertion to the security-key step.
func (e *env) postAssertion(c *http.Client, credential string) response {
	e.t.Helper()

	tokenPage := "/login/key"
	if e.get(c, tokenPage).status == http.StatusSeeOther {
		tokenPage = "/login"
	}
	token := e.csrfToken(c, tokenPage)
	return e.post(c, "/login/key", url.Values{"csrf_token": {token}, "credential": {credential}})
}

func TestSecurityKeyLoginNeedsKey(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	e.requireSignedOut(c, "pending login")
	if resp := e.get(c, "/account"); resp.status != http.StatusSeeOther || !strings.HasPrefix(resp.location, "/login") {
		t.Errorf("GET /account while pending: got %d to %q, want 303 to /login", resp.status, resp.location)
	}

	resp := e.postAssertion(c, key.assert(options, testOrigin))
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("POST /login/key: got %d to %q, want 303 to /dashboard; body: %s", resp.status, resp.location, resp.body)
	}
	e.requireSignedIn(c, "after the key")

	succeeded := e.eventsOfKind("login_succeeded")
	if len(succeeded) != 2 || !strings.Contains(succeeded[1].details, `"security_key_id"`) {
		t.Errorf("login_succeeded events: got %+v, want 2, the second with security_key_id", succeeded)
	}
	var lastUsed *time.Time
	var count int64
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT last_used_at, sign_count FROM security_keys`).Scan(&lastUsed, &count); err != nil {
		t.Fatalf("read security key: %v", err)
	}
	if lastUsed == nil || count != 1 {
		t.Errorf("security key after login: got last_used_at %v and sign_count %d, want a time and 1", lastUsed, count)
	}
}

func TestSecurityKeyLoginIssuesNewSessionID(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.loggedInWithKey("ana@example.org", key)
	before := e.sessionCookie(c).Value
	options := e.pendingLogin(c, "ana@example.org")
	if resp := e.postAssertion(c, key.assert(options, testOrigin)); resp.status != http.StatusSeeOther {
		t.Fatalf("POST /login/key: got %d, want 303", resp.status)
	}
	if after := e.sessionCookie(c).Value; after == before {
		t.Error("session cookie after the key step: got the old value, want a new session")
	}
	if resp := e.getWithCookie("/dashboard", before); resp.status != http.StatusSeeOther {
		t.Errorf("dashboard with the old cookie: got %d, want 303 to /login", resp.status)
	}
}

// loggedInWithKey logs a user with a key in with both factors.
func (e *env) loggedInWithKey(email string, key *softKey) *http.Client {
	e.t.Helper()

	c := e.client()
	options := e.pendingLogin(c, email)
	if resp := e.postAssertion(c, key.assert(options, testOrigin)); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		e.t.Fatalf("POST /login/key: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}

	return c
}

func TestSecurityKeyAssertionReplayRejected(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	u, _ := url.Parse(e.server.URL)
	var pending *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "portero_login_key" {
			pending = ck
		}
	}
	if pending == nil {
		t.Fatal("no portero_login_key cookie after the password")
	}
	assertion := key.assert(options, testOrigin)
	if resp := e.postAssertion(c, assertion); resp.status != http.StatusSeeOther {
		t.Fatalf("first POST /login/key: got %d, want 303", resp.status)
	}

	// An attacker who copied the pending cookie and the assertion posts
	// both again.
	attacker := e.client()
	attacker.Jar.SetCookies(u, []*http.Cookie{{Name: "portero_login_key", Value: pending.Value}})
	resp := e.post(attacker, "/login/key", url.Values{"csrf_token": {e.csrfToken(attacker, "/login/key")}, "credential": {assertion}}, "Accept-Language", "en")
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "expired or was already used") {
		t.Errorf("replayed assertion: got %d, want 401 with the expired message; body: %s", resp.status, resp.body)
	}
	e.requireSignedOut(attacker, "replay")
}

func TestSecurityKeyWrongChallengeRejected(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	first, second := e.client(), e.client()
	firstOptions := e.pendingLogin(first, "ana@example.org")
	e.pendingLogin(second, "ana@example.org")

	// The second browser posts an assertion signed for the first one's
	// challenge.
	resp := e.postAssertion(second, key.assert(firstOptions, testOrigin))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion of another challenge: got %d, want 401", resp.status)
	}
	e.requireSignedOut(second, "wrong challenge")

	failed := e.eventsOfKind("login_failed")
	if len(failed) != 1 || !strings.Contains(failed[0].details, `"security_key_invalid"`) {
		t.Errorf("login_failed events: got %+v, want one with reason security_key_invalid", failed)
	}

	// The challenge of the second browser is used up, and the first one's
	// still works.
	if resp := e.postAssertion(first, key.assert(firstOptions, testOrigin)); resp.status != http.StatusSeeOther {
		t.Errorf("first browser with its own challenge: got %d, want 303", resp.status)
	}
}

func TestSecurityKeyWrongOriginRejected(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	resp := e.postAssertion(c, key.assert(options, "https://phishing.example"))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion for another origin: got %d, want 401", resp.status)
	}
	e.requireSignedOut(c, "wrong origin")
}

func TestSecurityKeyOfOtherUserRejected(t *testing.T) {
	e := newEnv(t)
	e.userWithKey("ana@example.org")
	bobsKey := e.userWithKey("bob@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	resp := e.postAssertion(c, bobsKey.assert(options, testOrigin))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion of another user's key: got %d, want 401", resp.status)
	}
	e.requireSignedOut(c, "foreign key")
}

func TestSecurityKeyCounterRegressionRejected(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")
	e.loggedInWithKey("ana@example.org", key)
	e.loggedInWithKey("ana@example.org", key)

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	resp := e.postAssertion(c, key.assertWithCounter(options, testOrigin, 1))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion with an old counter: got %d, want 401", resp.status)
	}
	e.requireSignedOut(c, "counter regression")
	if lines := e.logLines("signature counter did not increase"); len(lines) != 1 {
		t.Errorf("log lines about the counter: got %d, want 1", len(lines))
	}
}

func TestSecurityKeyRemovedKeyRejected(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")
	owner := e.loggedInWithKey("ana@example.org", key)

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	token := e.csrfToken(owner, "/account/keys")
	if resp := e.post(owner, "/account/keys/remove", url.Values{"csrf_token": {token}, "id": {e.keyID("ana@example.org")}}); resp.status != http.StatusSeeOther {
		t.Fatalf("remove key: got %d, want 303", resp.status)
	}

	resp := e.postAssertion(c, key.assert(options, testOrigin))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion of a removed key: got %d, want 401", resp.status)
	}
	e.requireSignedOut(c, "removed key")

	// Without keys, the password alone logs in again.
	if resp := e.login(e.client(), "ana@example.org", testPassword); resp.location != "/dashboard" {
		t.Errorf("login after the last key was removed: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
}

func TestSecurityKeyPendingLoginExpires(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE webauthn_challenges SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatalf("expire challenge: %v", err)
	}

	if resp := e.get(c, "/login/key"); resp.status != http.StatusUnauthorized {
		t.Errorf("GET /login/key after expiry: got %d, want 401", resp.status)
	}
	resp := e.postAssertion(c, key.assert(options, testOrigin))
	if resp.status != http.StatusUnauthorized {
		t.Errorf("assertion after expiry: got %d, want 401", resp.status)
	}
	e.requireSignedOut(c, "expired")
}

func TestSecurityKeyFailuresCountTowardLockout(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	for range 5 {
		c := e.client()
		options := e.pendingLogin(c, "ana@example.org")
		if resp := e.postAssertion(c, key.assert(options, "https://phishing.example")); resp.status != http.StatusUnauthorized {
			t.Fatalf("bad assertion: got %d, want 401", resp.status)
		}
	}

	resp := e.login(e.client(), "ana@example.org", testPassword)
	if resp.status != http.StatusTooManyRequests {
		t.Errorf("login after 5 failed key steps: got %d, want 429", resp.status)
	}
}

// keyID returns the id of the user's only security key as a form value.
func (e *env) keyID(email string) string {
	e.t.Helper()

	var id string
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT k.id::text FROM security_keys k JOIN users u ON u.id = k.user_id WHERE u.email = $1`, email).Scan(&id)
	if err != nil {
		e.t.Fatalf("read key id of %s: %v", email, err)
	}

	return id
}

func TestAccountKeysListAndEvents(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")
	e.addKey(c, newSoftKey(t), `Blue <key> & "more"`)

	page := e.get(c, "/account/keys?lang=en")
	if !strings.Contains(page.body, "Blue &lt;key&gt; &amp; &#34;more&#34;") {
		t.Errorf("keys page: want the escaped key name; body: %s", page.body)
	}
	if !strings.Contains(page.body, "Never") {
		t.Error("keys page: want last use Never for a new key")
	}

	added := e.eventsOfKind("security_key_added")
	if len(added) != 1 || !strings.Contains(added[0].details, `"security_key_name"`) {
		t.Errorf("security_key_added events: got %+v, want one with the key name", added)
	}

	if notices := e.noticeCount("ana@example.org"); notices == 0 {
		t.Error("notices after adding a key: got none, want the security_key_added notice")
	}
}

// noticeCount returns how many security notices of the user are pending
// for a session other than any open one.
func (e *env) noticeCount(email string) int {
	e.t.Helper()

	var n int
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT count(*) FROM security_events e JOIN users u ON u.id = e.user_id
		WHERE u.email = $1 AND security_event_is_notice(e.kind, e.details) AND e.kind LIKE 'security_key%'`, email).Scan(&n)
	if err != nil {
		e.t.Fatalf("count notices: %v", err)
	}

	return n
}

func TestAccountKeysNeedReauthentication(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")
	e.addKey(c, newSoftKey(t), "USB key")
	e.clock.advance(11 * time.Minute)

	token := e.csrfToken(c, "/account/keys")
	id := e.keyID("ana@example.org")

	resp := e.post(c, "/account/keys/remove", url.Values{"csrf_token": {token}, "id": {id}})
	if resp.status != http.StatusForbidden || !strings.Contains(resp.body, `name="current_password"`) {
		t.Errorf("remove without password: got %d, want 403 with a password form", resp.status)
	}
	resp = e.post(c, "/account/keys/remove", url.Values{"csrf_token": {token}, "id": {id}, "current_password": {"wrong password!"}})
	if resp.status != http.StatusForbidden {
		t.Errorf("remove with a wrong password: got %d, want 403", resp.status)
	}

	options := e.post(c, "/account/keys/options", url.Values{"csrf_token": {token}, "name": {"Second"}}, "Accept-Language", "en")
	if options.status != http.StatusForbidden || !strings.Contains(options.body, "enter your current password") || keyOptionsAttr.MatchString(options.body) {
		t.Errorf("options without password: got %d, want 403 with the password message and no options", options.status)
	}
	e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"Second"}, "current_password": {testPassword}})

	resp = e.post(c, "/account/keys/remove", url.Values{"csrf_token": {token}, "id": {id}, "current_password": {testPassword}})
	if resp.status != http.StatusSeeOther || resp.location != "/account/keys?done=removed" {
		t.Errorf("remove with the password: got %d to %q, want 303 to /account/keys?done=removed", resp.status, resp.location)
	}
	if removed := e.eventsOfKind("security_key_removed"); len(removed) != 1 {
		t.Errorf("security_key_removed events: got %d, want 1", len(removed))
	}
}

func TestAccountKeysNeedCSRFToken(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")

	for _, path := range []string{"/account/keys/options", "/account/keys", "/account/keys/remove"} {
		resp := e.post(c, path, url.Values{"name": {"USB"}, "id": {"1"}})
		if resp.status != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: got %d, want 403", path, resp.status)
		}
	}
}

func TestAccountKeysRejectBadRegistrations(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")
	token := e.csrfToken(c, "/account/keys")
	key := newSoftKey(t)

	if resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {"USB"}}); resp.status != http.StatusUnprocessableEntity {
		t.Errorf("add without a credential (no JavaScript): got %d, want 422", resp.status)
	}
	long := strings.Repeat("é", 65)
	if resp := e.post(c, "/account/keys/options", url.Values{"csrf_token": {token}, "name": {long}}); resp.status != http.StatusUnprocessableEntity {
		t.Errorf("options with a 65-character name: got %d, want 422", resp.status)
	}

	// A response without a challenge of this session.
	fake := `{"publicKey":{"challenge":"AAAA","rp":{"id":"localhost"},"user":{"id":"AAAAAAAAAAE"}}}`
	if resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {"USB"}, "credential": {key.register(fake, testOrigin)}}); resp.status != http.StatusBadRequest {
		t.Errorf("add without a challenge: got %d, want 400", resp.status)
	}

	// A response to the right challenge for another origin, then a replay
	// of a correct one.
	options := e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"USB"}})
	if resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {"USB"}, "credential": {key.register(options, "https://phishing.example")}}); resp.status != http.StatusUnprocessableEntity {
		t.Errorf("add for another origin: got %d, want 422", resp.status)
	}
	options = e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"USB"}})
	credential := key.register(options, testOrigin)
	if resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {"USB"}, "credential": {credential}}); resp.status != http.StatusSeeOther {
		t.Fatalf("add: got %d, want 303", resp.status)
	}
	if resp := e.post(c, "/account/keys", url.Values{"csrf_token": {token}, "name": {"USB"}, "credential": {credential}}); resp.status != http.StatusBadRequest {
		t.Errorf("add replayed: got %d, want 400", resp.status)
	}

	// The same key again, for another user.
	bob := e.loggedIn("bob@example.org")
	bobToken := e.csrfToken(bob, "/account/keys")
	options = e.keyOptions(bob, url.Values{"csrf_token": {bobToken}, "name": {"USB"}})
	if resp := e.post(bob, "/account/keys", url.Values{"csrf_token": {bobToken}, "name": {"USB"}, "credential": {key.register(options, testOrigin)}}); resp.status != http.StatusConflict {
		t.Errorf("add a key of another user: got %d, want 409", resp.status)
	}
}

func TestAccountKeysRemoveOtherUsersKeyNotFound(t *testing.T) {
	e := newEnv(t)
	e.userWithKey("ana@example.org")
	bob := e.loggedIn("bob@example.org")

	token := e.csrfToken(bob, "/account/keys")
	resp := e.post(bob, "/account/keys/remove", url.Values{"csrf_token": {token}, "id": {e.keyID("ana@example.org")}})
	if resp.status != http.StatusNotFound {
		t.Errorf("remove another user's key: got %d, want 404", resp.status)
	}
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM security_keys`).Scan(&n); err != nil || n != 1 {
		t.Errorf("security keys: got %d (%v), want 1", n, err)
	}
}

func TestSecurityKeyStepWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")

	c := e.client()
	options := e.pendingLogin(c, "ana@example.org")
	token := e.csrfToken(c, "/login/key")
	resp := e.post(c, "/login/key", url.Values{"csrf_token": {token}}, "Accept-Language", "en")
	if resp.status != http.StatusUnprocessableEntity || !strings.Contains(resp.body, "needs JavaScript") {
		t.Errorf("key step without a credential: got %d, want 422 with the JavaScript message", resp.status)
	}
	if failed := e.eventsOfKind("login_failed"); len(failed) != 0 {
		t.Errorf("login_failed events: got %d, want none for a form sent without the script", len(failed))
	}

	// The challenge is still there, so the key works afterwards.
	if resp := e.postAssertion(c, key.assert(options, testOrigin)); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Errorf("key after the form without script: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
}

func TestAdminRemovesSecurityKeys(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.org")
	e.userWithKey("ana@example.org")
	ana := e.user("ana@example.org")

	page := e.get(admin, userPath(ana, "")+"?lang=en")
	if !strings.Contains(page.body, `id="remove-keys"`) || !strings.Contains(page.body, "Security keys of the user: 1.") {
		t.Errorf("admin page of a user with a key: want the remove-keys form with the count")
	}
	if own := e.get(admin, userPath(e.user("admin@example.org"), "")); strings.Contains(own.body, `id="remove-keys"`) {
		t.Error("admin's own page: got the remove-keys form, want none")
	}

	resp := e.adminPost(admin, userPath(ana, "/keys/remove"), nil)
	if resp.status != http.StatusSeeOther || resp.location != userPath(ana, "?done=keys") {
		t.Fatalf("remove keys: got %d to %q, want 303 to %s", resp.status, resp.location, userPath(ana, "?done=keys"))
	}
	removed := e.eventsOfKind("security_key_removed")
	if len(removed) != 1 || !strings.Contains(removed[0].details, `"by": "admin"`) || !strings.Contains(removed[0].details, `"security_keys_removed": 1`) {
		t.Errorf("security_key_removed events: got %+v, want one by admin with 1 key removed", removed)
	}
	if resp := e.login(e.client(), "ana@example.org", testPassword); resp.location != "/dashboard" {
		t.Errorf("login after the admin removed the keys: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
}

func TestAdminEndingSessionsKeepsKeys(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient("admin@example.org")
	e.userWithKey("ana@example.org")
	ana := e.user("ana@example.org")

	if resp := e.adminPost(admin, userPath(ana, "/sessions/end"), nil); resp.status != http.StatusSeeOther {
		t.Fatalf("end sessions: got %d, want 303", resp.status)
	}
	form := url.Values{"password": {"a new password for ana"}, "password_confirm": {"a new password for ana"}}
	if resp := e.adminPost(admin, userPath(ana, "/password"), form); resp.status != http.StatusSeeOther {
		t.Fatalf("reset password: got %d, want 303", resp.status)
	}

	resp := e.login(e.client(), "ana@example.org", "a new password for ana")
	if resp.status != http.StatusSeeOther || resp.location != "/login/key" {
		t.Errorf("login after the admin's changes: got %d to %q, want 303 to /login/key", resp.status, resp.location)
	}
}

func TestSecurityKeyChallengesRandom(t *testing.T) {
	e := newEnv(t)
	e.userWithKey("ana@example.org")

	seen := map[string]bool{}
	for range 3 {
		var options requestOptions
		if err := json.Unmarshal([]byte(e.pendingLogin(e.client(), "ana@example.org")), &options); err != nil {
			t.Fatalf("decode login options: %v", err)
		}
		challenge, err := base64.RawURLEncoding.DecodeString(options.PublicKey.Challenge)
		if err != nil {
			t.Fatalf("decode challenge %q: %v", options.PublicKey.Challenge, err)
		}
		if len(challenge) != 32 {
			t.Errorf("challenge length: got %d bytes, want 32", len(challenge))
		}
		if seen[string(challenge)] {
			t.Error("challenge: got one twice, want a new one for each login")
		}
		seen[string(challenge)] = true
	}
}

// A login that waits for its key was started with the password of that
// moment. Changing the password or ending the user's sessions must cancel
// it, or anyone who typed the old password could still finish with the key.
func TestSecurityKeyPendingLoginEndsWithPasswordOrSessions(t *testing.T) {
	cases := []struct {
		name string
		act  func(e *env, owner, admin *http.Client)
	}{
		{"admin resets the password", func(e *env, _, admin *http.Client) {
			form := url.Values{"password": {newPassword}, "password_confirm": {newPassword}}
			if resp := e.adminPost(admin, userPath(e.user("ana@example.org"), "/password"), form); resp.status != http.StatusSeeOther {
				e.t.Fatalf("admin password reset: got %d, want 303", resp.status)
			}
		}},
		{"admin ends the sessions", func(e *env, _, admin *http.Client) {
			if resp := e.adminPost(admin, userPath(e.user("ana@example.org"), "/sessions/end"), nil); resp.status != http.StatusSeeOther {
				e.t.Fatalf("admin ends sessions: got %d, want 303", resp.status)
			}
		}},
		{"user changes the password", func(e *env, owner, _ *http.Client) {
			if resp := e.changePassword(owner, testPassword, newTestPassword, newTestPassword); resp.status != http.StatusSeeOther {
				e.t.Fatalf("change password: got %d, want 303", resp.status)
			}
		}},
		{"user ends the other sessions", func(e *env, owner, _ *http.Client) {
			if resp := e.revokeOthers(owner, testPassword); resp.status != http.StatusSeeOther {
				e.t.Fatalf("end other sessions: got %d, want 303", resp.status)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.adminClient("admin@example.org")
			key := e.userWithKey("ana@example.org")
			owner := e.loggedInWithKey("ana@example.org", key)

			c := e.client()
			options := e.pendingLogin(c, "ana@example.org")
			token := e.csrfToken(c, "/login/key")
			tc.act(e, owner, admin)

			resp := e.post(c, "/login/key", url.Values{"csrf_token": {token}, "credential": {key.assert(options, testOrigin)}})
			if resp.status != http.StatusUnauthorized {
				t.Errorf("key step after the change: got %d to %q, want 401", resp.status, resp.location)
			}
			e.requireSignedOut(c, "pending login")
		})
	}
}

// A registration whose public key does not fit security_keys, or whose
// transports are not WebAuthn's, must give a message and no 500.
func TestAccountKeysRejectOddCredentials(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")
	token := e.csrfToken(c, "/account/keys")
	add := func(key *softKey) response {
		t.Helper()

		options := e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"USB"}})
		form := url.Values{"csrf_token": {token}, "name": {"USB"}, "credential": {key.register(options, testOrigin)}}
		return e.post(c, "/account/keys", form, "Accept-Language", "en")
	}

	// A COSE key padded with an unknown label to more than 4096 bytes.
	padded := newSoftKey(t)
	padded.coseExtra = map[int]any{-70000: make([]byte, 5000)}
	if resp := add(padded); resp.status != http.StatusUnprocessableEntity || !strings.Contains(resp.body, "could not be verified") {
		t.Errorf("add a key with a 5000-byte public key: got %d, want 422 with the message", resp.status)
	}

	// Unknown, repeated and NUL-containing transports are dropped.
	odd := newSoftKey(t)
	odd.transports = []string{"nfc", "us\x00b", "carrier-pigeon", "nfc", strings.Repeat("z", 2000), "usb"}
	if resp := add(odd); resp.status != http.StatusSeeOther {
		t.Fatalf("add a key with odd transports: got %d, want 303; body: %s", resp.status, resp.body)
	}

	var transports []string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT transports FROM security_keys`).Scan(&transports); err != nil {
		t.Fatalf("read transports: %v", err)
	}
	if strings.Join(transports, ",") != "nfc,usb" {
		t.Errorf("stored transports: got %q, want [nfc usb]", transports)
	}
}

// A user who passes the password in two tabs of one browser gets the same
// challenge in both, so the key works in either tab and no tab's key step
// counts as a failed login.
func TestSecurityKeyLoginInTwoTabs(t *testing.T) {
	e := newEnv(t)
	key := e.userWithKey("ana@example.org")
	bobsKey := e.userWithKey("bob@example.org")

	c := e.client()
	first := e.pendingLogin(c, "ana@example.org")
	second := e.pendingLogin(c, "ana@example.org")
	if first != second {
		t.Errorf("options of the second tab: got %s, want those of the first tab, %s", second, first)
	}
	if resp := e.postAssertion(c, key.assert(first, testOrigin)); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Errorf("key on the first tab: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	if failed := e.eventsOfKind("login_failed"); len(failed) != 0 {
		t.Errorf("login_failed events: got %d, want none", len(failed))
	}

	// A challenge close to its expiry, or one of another user, is not
	// shared.
	c = e.client()
	first = e.pendingLogin(c, "ana@example.org")
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE webauthn_challenges SET expires_at = now() + interval '30 seconds'`); err != nil {
		t.Fatalf("move expiry: %v", err)
	}
	if second := e.pendingLogin(c, "ana@example.org"); second == first {
		t.Error("options after a login whose challenge expires in 30 seconds: got the same, want new ones")
	}
	bobs := e.pendingLogin(c, "bob@example.org")
	if resp := e.postAssertion(c, bobsKey.assert(bobs, testOrigin)); resp.status != http.StatusSeeOther {
		t.Errorf("bob's key after ana's pending login: got %d, want 303", resp.status)
	}
}

// Registering in two tabs of one session keeps the newest registration:
// the older tab gets a message and leaves the newer one working.
func TestAccountKeysAddInTwoTabs(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.org")
	token := e.csrfToken(c, "/account/keys")
	key := newSoftKey(t)

	older := e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"First"}})
	newer := e.keyOptions(c, url.Values{"csrf_token": {token}, "name": {"Second"}})

	form := url.Values{"csrf_token": {token}, "name": {"First"}, "credential": {key.register(older, testOrigin)}}
	resp := e.post(c, "/account/keys", form, "Accept-Language", "en")
	if resp.status != http.StatusConflict || !strings.Contains(resp.body, "another tab") {
		t.Errorf("add on the older tab: got %d, want 409 with the message about another tab", resp.status)
	}

	form = url.Values{"csrf_token": {token}, "name": {"Second"}, "credential": {key.register(newer, testOrigin)}}
	if resp := e.post(c, "/account/keys", form); resp.status != http.StatusSeeOther {
		t.Errorf("add on the newer tab: got %d, want 303", resp.status)
	}
}
