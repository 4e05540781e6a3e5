package handlers_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
)

const testDeviceCookie = "portero_device"

// cookieNamed returns the cookie with the name, or nil.
func cookieNamed(cookies []*http.Cookie, name string) *http.Cookie {
	for _, ck := range cookies {
		if ck.Name == name {
			return ck
		}
	}

	return nil
}

// deviceCookieOf returns the client's device cookie, or nil.
func (e *env) deviceCookieOf(c *http.Client) *http.Cookie {
	u, _ := url.Parse(e.server.URL)
	return cookieNamed(c.Jar.Cookies(u), testDeviceCookie)
}

// clientWithDevice returns a new client whose jar holds only the device
// cookie value.
func (e *env) clientWithDevice(value string) *http.Client {
	c := e.client()
	u, _ := url.Parse(e.server.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: testDeviceCookie, Value: value, Path: "/"}})

	return c
}

// trustedDevice logs a new client in as email and out again, and returns
// the client, which keeps its device cookie.
func (e *env) trustedDevice(email, pw string) *http.Client {
	e.t.Helper()

	c := e.client()
	if resp := e.login(c, email, pw); resp.status != http.StatusSeeOther {
		e.t.Fatalf("login of %s: got %d, want 303", email, resp.status)
	}
	if e.deviceCookieOf(c) == nil {
		e.t.Fatalf("login of %s: got no device cookie, want one", email)
	}
	token := e.csrfToken(c, "/dashboard")
	if resp := e.post(c, "/logout", url.Values{"csrf_token": {token}}); resp.status != http.StatusSeeOther {
		e.t.Fatalf("logout of %s: got %d, want 303", email, resp.status)
	}

	return c
}

// lockAccount sends the failures that lock email from a browser without a
// device cookie, and returns that browser.
func (e *env) lockAccount(email string) *http.Client {
	e.t.Helper()

	attacker := e.client()
	token := e.csrfToken(attacker, "/login")
	for i := 1; i <= defaultPolicy.AccountMaxFailures; i++ {
		if resp := e.attempt(attacker, token, email, wrongPassword); resp.status != http.StatusUnauthorized {
			e.t.Fatalf("failure %d for %s: got %d, want 401", i, email, resp.status)
		}
	}
	if _, locked := e.failureRow(db.FailureKindAccount); locked <= 0 {
		e.t.Fatalf("account %s after %d failures: got no lock, want one", email, defaultPolicy.AccountMaxFailures)
	}

	return attacker
}

// loginFrom posts the login form from c and returns the response.
func (e *env) loginFrom(c *http.Client, email, pw string) response {
	e.t.Helper()

	return e.attempt(c, e.csrfToken(c, "/login"), email, pw)
}

func TestDeviceCookieIssuedAtLogin(t *testing.T) {
	e := newEnv(t)
	e.createUser("ada@example.com", "Ada")
	c := e.client()

	resp := e.login(c, "ada@example.com", testPassword)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.status)
	}
	device := cookieNamed(resp.cookies, testDeviceCookie)
	if device == nil {
		t.Fatal("login response: got no device cookie, want one")
	}
	if !device.HttpOnly || device.SameSite != http.SameSiteStrictMode || device.Path != "/" || device.Domain != "" || device.Secure {
		t.Errorf("device cookie: got HttpOnly=%v SameSite=%v Path=%q Domain=%q Secure=%v, want true, Strict, /, none, false",
			device.HttpOnly, device.SameSite, device.Path, device.Domain, device.Secure)
	}
	if want := 365 * 24 * 60 * 60; device.MaxAge != want {
		t.Errorf("device cookie Max-Age: got %d, want %d", device.MaxAge, want)
	}
	// The value is the issue time, a 16-byte nonce and a 32-byte MAC, with
	// room for nothing else, such as the email or the user ID.
	parts := strings.Split(device.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("device cookie value: got %d parts, want 3 (issue time, nonce, MAC)", len(parts))
	}
	issued, err := strconv.ParseInt(parts[0], 10, 64)
	if age := time.Since(time.Unix(issued, 0)); err != nil || age < -time.Second || age > time.Minute {
		t.Errorf("device cookie issue time: got %q, want the Unix time of the login", parts[0])
	}
	for i, wantLen := range map[int]int{1: 16, 2: 32} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || len(raw) != wantLen {
			t.Errorf("device cookie part %d: got %d bytes (error %v), want %d", i+1, len(raw), err, wantLen)
		}
	}

	// Each login issues a new nonce.
	again := cookieNamed(e.login(e.client(), "ada@example.com", testPassword).cookies, testDeviceCookie)
	if again == nil || again.Value == device.Value {
		t.Error("second login: got no new device cookie value, want a new one")
	}

	if strings.Contains(e.logs.String(), parts[1]) || strings.Contains(e.logs.String(), parts[2]) {
		t.Error("the log contains the device cookie value")
	}
}

func TestDeviceCookieBypassesAccountLock(t *testing.T) {
	e := newEnv(t)
	e.createUser("bea@example.com", "Bea")
	owner := e.trustedDevice("bea@example.com", testPassword)
	attacker := e.lockAccount("bea@example.com")

	start := e.bcrypt.Acquired()
	if resp := e.loginFrom(attacker, "bea@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("attacker's browser with the right password: got %d, want 429", resp.status)
	}
	if resp := e.loginFrom(e.client(), "bea@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("new browser with the right password: got %d, want 429", resp.status)
	}
	if got := e.bcrypt.Acquired() - start; got != 0 {
		t.Errorf("bcrypt calls for locked attempts: got %d, want 0", got)
	}

	resp := e.loginFrom(owner, "BEA@example.com", testPassword)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("owner's browser with its device cookie: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	e.requireSignedIn(owner, "the owner after logging in through the lock")

	// The owner's login leaves the account's lock in place.
	if _, locked := e.failureRow(db.FailureKindAccount); locked <= 0 {
		t.Error("account lock after the owner's login: got none, want it kept")
	}
	if resp := e.loginFrom(attacker, "bea@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("attacker's browser after the owner's login: got %d, want 429", resp.status)
	}
	if !strings.Contains(e.logs.String(), "scope=account") {
		t.Error("the log has no account scope for the attacker's failures")
	}
}

func TestDeviceLockedPerDevice(t *testing.T) {
	e := newEnv(t)
	e.createUser("cai@example.com", "Cai")
	typo := e.trustedDevice("cai@example.com", testPassword)
	other := e.trustedDevice("cai@example.com", testPassword)

	token := e.csrfToken(typo, "/login")
	for i := 1; i <= defaultPolicy.AccountMaxFailures; i++ {
		if resp := e.attempt(typo, token, "cai@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
			t.Fatalf("device failure %d: got %d, want 401", i, resp.status)
		}
	}
	failures, locked := e.failureRow(db.FailureKindDevice)
	if failures != defaultPolicy.AccountMaxFailures || locked <= 0 {
		t.Errorf("device row: got %d failures and a %s lock, want %d and a lock", failures, locked, defaultPolicy.AccountMaxFailures)
	}
	if failures, _ := e.failureRow(db.FailureKindAccount); failures != 0 {
		t.Errorf("account failures from a trusted device: got %d, want 0", failures)
	}

	refused := e.attempt(typo, token, "cai@example.com", testPassword)
	if refused.status != http.StatusTooManyRequests || refused.header.Get("Retry-After") == "" {
		t.Errorf("locked device with the right password: got %d, Retry-After %q, want 429 with Retry-After", refused.status, refused.header.Get("Retry-After"))
	}
	if resp := e.loginFrom(other, "cai@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("another trusted device: got %d, want 303", resp.status)
	}
	if resp := e.loginFrom(e.client(), "cai@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("a browser without a device cookie: got %d, want 303", resp.status)
	}

	lockouts := e.eventsOfKind("lockout")
	if len(lockouts) != 1 || !strings.Contains(lockouts[0].details, `"scope": "device"`) || !strings.Contains(lockouts[0].details, `"device_hash"`) {
		t.Errorf("lockout events: got %+v, want one with scope device and a device hash", lockouts)
	}
}

func TestDeviceCookieSuccessResetsOnlyDevice(t *testing.T) {
	e := newEnv(t)
	e.createUser("dov@example.com", "Dov")
	owner := e.trustedDevice("dov@example.com", testPassword)

	stranger := e.client()
	token := e.csrfToken(stranger, "/login")
	for range 2 {
		e.attempt(stranger, token, "dov@example.com", wrongPassword)
	}
	token = e.csrfToken(owner, "/login")
	e.attempt(owner, token, "dov@example.com", wrongPassword)

	if resp := e.attempt(owner, token, "dov@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("owner's login: got %d, want 303", resp.status)
	}
	if failures, _ := e.failureRow(db.FailureKindDevice); failures != 0 {
		t.Errorf("device failures after the owner's login: got %d, want 0", failures)
	}
	if failures, _ := e.failureRow(db.FailureKindAccount); failures != 2 {
		t.Errorf("account failures after the owner's login: got %d, want 2 kept", failures)
	}
}

// forgedDeviceValue returns a well-formed device cookie value with a
// random MAC.
func forgedDeviceValue(t *testing.T) string {
	t.Helper()

	nonce, mac := make([]byte, 16), make([]byte, 32)
	rand.Read(nonce)
	rand.Read(mac)

	return fmt.Sprintf("%d.%s.%s", time.Now().Unix(), base64.RawURLEncoding.EncodeToString(nonce), base64.RawURLEncoding.EncodeToString(mac))
}

func TestDeviceCookieNoBypassWhenInvalid(t *testing.T) {
	e := newEnv(t)
	e.createUser("eli@example.com", "Eli")
	e.createUser("mallory@example.com", "Mallory")

	// A cookie of Mallory's own account, one signed with another secret,
	// one whose password has changed since, and made-up values.
	mallory := e.trustedDevice("mallory@example.com", testPassword)
	otherSecret := newEnvOn(t, e.db, envOptions{secret: []byte("another secret of at least 32 bytes, for tests")})
	signedElsewhere := otherSecret.trustedDevice("eli@example.com", testPassword)
	before := e.trustedDevice("eli@example.com", testPassword)
	changer := e.loggedInAgain("eli@example.com")
	if resp := e.changePassword(changer, testPassword, newTestPassword, newTestPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("password change: got %d, want 303", resp.status)
	}
	if e.deviceCookieOf(changer) == nil || e.deviceCookieOf(changer).Value == e.deviceCookieOf(before).Value {
		t.Fatal("password change: got no new device cookie, want one")
	}

	e.lockAccount("eli@example.com")
	valid := e.deviceCookieOf(before).Value
	parts := strings.Split(valid, ".")
	cases := map[string]*http.Client{
		"another account's cookie":         e.clientWithDevice(e.deviceCookieOf(mallory).Value),
		"a cookie signed with another key": e.clientWithDevice(otherSecret.deviceCookieOf(signedElsewhere).Value),
		"a cookie from the old password":   before,
		"a random MAC":                     e.clientWithDevice(forgedDeviceValue(t)),
		"a changed issue time":             e.clientWithDevice(fmt.Sprint(time.Now().Unix()+1) + "." + parts[1] + "." + parts[2]),
		"garbage":                          e.clientWithDevice("not-a-device-cookie"),
	}
	for name, c := range cases {
		start := e.bcrypt.Acquired()
		if resp := e.loginFrom(c, "eli@example.com", newTestPassword); resp.status != http.StatusTooManyRequests {
			t.Errorf("%s: got %d, want 429", name, resp.status)
		}
		if got := e.bcrypt.Acquired() - start; got != 0 {
			t.Errorf("%s: bcrypt calls: got %d, want 0", name, got)
		}
	}

	token := e.csrfToken(changer, "/dashboard")
	if resp := e.attempt(changer, token, "eli@example.com", newTestPassword); resp.status != http.StatusSeeOther {
		t.Errorf("browser that changed the password, with its new device cookie: got %d, want 303", resp.status)
	}
}

func TestDeviceCookieSameAnswerForUnknownEmail(t *testing.T) {
	e := newEnv(t)
	e.createUser("fen@example.com", "Fen")
	device := e.trustedDevice("fen@example.com", testPassword).Jar
	e.lockAccount("nobody@example.com")

	c := e.client()
	c.Jar = device
	resp := e.loginFrom(c, "nobody@example.com", testPassword)
	if resp.status != http.StatusTooManyRequests {
		t.Errorf("unknown email with another account's device cookie: got %d, want 429", resp.status)
	}
}
