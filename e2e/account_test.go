package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// firefoxUserAgent is a real Firefox header, sent by the HTTP client that
// plays a second device.
const firefoxUserAgent = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"

// TestChangePasswordInBrowser changes the password on /account/password in
// Chromium, with the show-password button and the strength hint, and checks
// that the browser keeps a session under a new cookie while the session of
// another device ends.
func TestChangePasswordInBrowser(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	oldPassword := "Cigüeña-" + randomHex(t, 8)
	newPassword := "tangerine ladder " + randomHex(t, 4)

	ctx := newBrowser(t, englishBrowser)
	d := newDeployment(t)
	d.createUser(t, email, name, oldPassword)
	server := d.start(t)

	phone := newWebClient(nil)
	phone.logIn(t, d.baseURL(), email, oldPassword, nil)
	logIn(t, ctx, d.baseURL(), email, oldPassword)
	oldCookie := browserCookie(t, ctx, d.baseURL(), sessionCookieName)
	if oldCookie == nil {
		t.Fatal("browser session cookie after login: got none, want one")
	}

	do(t, ctx, "open the password page from the dashboard",
		chromedp.Click(chromedp.CSS("#password-link")),
		chromedp.WaitVisible(chromedp.CSS("#current_password + button.reveal")),
	)
	if got := currentPath(t, ctx); got != "/account/password" {
		t.Fatalf("page after the password link: got %s, want /account/password", got)
	}
	if n := get(t, ctx, "count the show-password buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.reveal").length`)); n != 3 {
		t.Errorf("show-password buttons: got %d, want 3, one for each password field", n)
	}

	toggle := chromedp.CSS("#current_password + button.reveal")
	toggleName := get(t, ctx, "read the accessible name of the toggle", chromedp.AttributeValue(toggle, "aria-label"))
	if want := "Show password (Current password)"; toggleName.Value != want {
		t.Errorf("aria-label of the toggle of #current_password: got %q, want %q", toggleName.Value, want)
	}
	requireFieldType(t, ctx, "current_password", "password", "before the toggle")
	requirePressed(t, ctx, toggle, "false", "before the toggle")
	do(t, ctx, "type the current password and show it",
		chromedp.SendKeys(chromedp.CSS("#current_password"), oldPassword),
		chromedp.Click(toggle),
	)
	requireFieldType(t, ctx, "current_password", "text", "after one click on the toggle")
	requirePressed(t, ctx, toggle, "true", "after one click on the toggle")
	if shownPassword := get(t, ctx, "read the shown password", chromedp.Value(chromedp.CSS("#current_password"))); shownPassword != oldPassword {
		t.Errorf("shown current password: got %d characters that differ, want the typed password", len([]rune(shownPassword)))
	}
	do(t, ctx, "hide the password again", chromedp.Click(toggle))
	requireFieldType(t, ctx, "current_password", "password", "after a second click on the toggle")
	requirePressed(t, ctx, toggle, "false", "after a second click on the toggle")

	do(t, ctx, "type a short new password", chromedp.SendKeys(chromedp.CSS("#new_password"), "short"))
	requireHint(t, ctx, "Too short")
	do(t, ctx, "replace it with the new password",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("new_password").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#new_password"), newPassword),
	)
	requireHint(t, ctx, "Strength:")
	do(t, ctx, "show the new password and submit the form",
		chromedp.SendKeys(chromedp.CSS("#confirm_password"), newPassword),
		chromedp.Click(chromedp.CSS("#new_password + button.reveal")),
		chromedp.Click(chromedp.CSS("#change-password")),
		chromedp.WaitVisible(chromedp.CSS("#form-notice")),
	)
	if got := currentPath(t, ctx); got != "/account/password?changed=1" {
		t.Errorf("page after the change: got %s, want /account/password?changed=1", got)
	}

	newCookie := browserCookie(t, ctx, d.baseURL(), sessionCookieName)
	if newCookie == nil || newCookie.Value == oldCookie.Value {
		t.Fatal("browser session cookie after the change: got none or the old one, want a new one")
	}
	requireSignedIn(t, server, newCookie.Value, email, "with the browser's new cookie")
	requireSignedOut(t, server, oldCookie.Value, "with the browser's cookie from before the change")
	requireSignedOut(t, server, phone.cookies[sessionCookieName], "on the other device after the change")

	fresh := newWebClient(nil)
	fresh.logIn(t, d.baseURL(), email, newPassword, nil)

	server.stop(t)
	requireNoSecrets(t, d.log.String(), map[string]string{
		"old password": oldPassword,
		"new password": newPassword,
		"old cookie":   oldCookie.Value,
		"new cookie":   newCookie.Value,
	})
}

// TestRevokeSessionInBrowser ends the session of another device from the
// sessions page in Chromium.
func TestRevokeSessionInBrowser(t *testing.T) {
	const email = "ana@example.com"
	password := "Cigüeña-" + randomHex(t, 8)

	ctx := newBrowser(t, englishBrowser)
	d := newDeployment(t)
	d.createUser(t, email, "Ana Pérez", password)
	server := d.start(t)

	phone := newWebClient(nil)
	phone.logIn(t, d.baseURL(), email, password, http.Header{"User-Agent": {firefoxUserAgent}})
	logIn(t, ctx, d.baseURL(), email, password)

	do(t, ctx, "open the sessions page from the dashboard",
		chromedp.Click(chromedp.CSS("#sessions-link")),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
	)
	if got := currentPath(t, ctx); got != "/account/sessions" {
		t.Fatalf("page after the sessions link: got %s, want /account/sessions", got)
	}
	if n := sessionCount(t, ctx); n != 2 {
		t.Fatalf("sessions listed: got %d, want 2", n)
	}
	current := get(t, ctx, "read the current session", chromedp.Text(chromedp.CSS("#sessions > li.current h2")))
	if !strings.Contains(current, "Chrome") || !strings.Contains(current, "This session") {
		t.Errorf("current session: got %q, want Chrome marked as this session", current)
	}
	other := get(t, ctx, "read the other session", chromedp.Text(chromedp.CSS("#sessions > li:not(.current) h2")))
	if !strings.Contains(other, "Firefox 127 on Linux") {
		t.Errorf("other session: got %q, want Firefox 127 on Linux", other)
	}

	do(t, ctx, "end the other session",
		chromedp.Click(chromedp.CSS("#sessions > li:not(.current) button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if got := currentPath(t, ctx); got != "/account/sessions?revoked=one" {
		t.Errorf("page after ending the session: got %s, want /account/sessions?revoked=one", got)
	}
	if n := sessionCount(t, ctx); n != 1 {
		t.Errorf("sessions listed after ending one: got %d, want 1", n)
	}

	requireSignedOut(t, server, phone.cookies[sessionCookieName], "on the device whose session ended")
	cookie := browserCookie(t, ctx, d.baseURL(), sessionCookieName)
	if cookie == nil {
		t.Fatal("browser session cookie: got none, want the session that ended the other")
	}
	requireSignedIn(t, server, cookie.Value, email, "in the browser that ended the other session")
	server.stop(t)
	requireNoPanic(t, d.log.String())
}

// TestLoginWithoutJavaScript logs in with scripts turned off: the form
// works and has no show-password button, which the script adds.
func TestLoginWithoutJavaScript(t *testing.T) {
	const email = "ana@example.com"
	password := "Cigüeña-" + randomHex(t, 8)

	ctx := newBrowser(t, englishBrowser)
	d := newDeployment(t)
	d.createUser(t, email, "Ana Pérez", password)
	d.start(t)

	callCtx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Call(callCtx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn off scripts: %v", err)
	}

	do(t, ctx, "open the login page", chromedp.Navigate(d.baseURL()+"/login"))
	if n := get(t, ctx, "count the show-password buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.reveal").length`)); n != 0 {
		t.Errorf("show-password buttons with scripts off: got %d, want 0", n)
	}
	logIn(t, ctx, d.baseURL(), email, password)
	requireDashboard(t, ctx, "after a login without JavaScript", email, "Ana Pérez")

	do(t, ctx, "open the password page", chromedp.Navigate(d.baseURL()+"/account/password"))
	hidden := get(t, ctx, "check the strength hint", chromedp.Evaluate[bool](`document.getElementById("new_password-meter").hidden`))
	if !hidden {
		t.Error("strength hint with scripts off: got shown, want hidden, because only the script fills it")
	}
}

// requireFieldType fails the test unless the input with id has type want.
func requireFieldType(t *testing.T, ctx context.Context, id, want, when string) {
	t.Helper()

	got := get(t, ctx, "read the type of #"+id, chromedp.Evaluate[string](`document.getElementById("`+id+`").type`))
	if got != want {
		t.Errorf("type of #%s %s: got %q, want %q", id, when, got, want)
	}
}

// requirePressed fails the test unless the toggle's aria-pressed is want.
func requirePressed(t *testing.T, ctx context.Context, toggle chromedp.CSS, want, when string) {
	t.Helper()

	got := get(t, ctx, "read aria-pressed", chromedp.AttributeValue(toggle, "aria-pressed"))
	if got.Value != want {
		t.Errorf("aria-pressed %s: got %q, want %q", when, got.Value, want)
	}
}

// requireHint waits until the polite live region of the strength hint
// contains want, which it does about 0.6 s after the last key press.
func requireHint(t *testing.T, ctx context.Context, want string) {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	expression := `document.querySelector("#new_password-meter [aria-live=polite]").textContent.includes("` + want + `")`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expression, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		live := get(t, context.WithoutCancel(ctx), "read the hint", chromedp.Text(chromedp.CSS("#new_password-meter [aria-hidden=true]:not(meter)")))
		t.Errorf("strength hint: got %q, want it to contain %q (%v)", live, want, err)
	}
}

// sessionCount returns the number of sessions on the sessions page.
func sessionCount(t *testing.T, ctx context.Context) int {
	t.Helper()

	return get(t, ctx, "count the sessions", chromedp.Evaluate[int](`document.querySelectorAll("#sessions > li").length`))
}

// TestAccountPagesPhoneLayout renders the sessions page and the password
// page at phone width, checks that neither scrolls sideways, and saves a
// screenshot of each in E2E_SCREENSHOT_DIR.
func TestAccountPagesPhoneLayout(t *testing.T) {
	const email = "ana.perez.de.la.fuente@example.com"
	password := "Cigüeña-" + randomHex(t, 8)

	ctx := newBrowser(t, spanishBrowser)
	d := newDeployment(t)
	d.createUser(t, email, "Ana Pérez", password)
	d.start(t)
	dir := screenshotDir(t)

	other := newWebClient(nil)
	other.logIn(t, d.baseURL(), email, password, http.Header{"User-Agent": {firefoxUserAgent}})

	do(t, ctx, "set a phone viewport",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulatePortrait),
	)
	logIn(t, ctx, d.baseURL(), email, password)

	do(t, ctx, "open the sessions page", chromedp.Navigate(d.baseURL()+"/account/sessions"))
	requireNoSidewaysScroll(t, ctx, "sessions page")
	saveScreenshot(t, ctx, filepath.Join(dir, "sessions-375x800.png"))

	do(t, ctx, "open the password page and type a new password",
		chromedp.Navigate(d.baseURL()+"/account/password"),
		chromedp.SendKeys(chromedp.CSS("#new_password"), "tangerine ladder 41"),
	)
	requireHint(t, ctx, "Fortaleza:")
	requireNoSidewaysScroll(t, ctx, "password page")
	saveScreenshot(t, ctx, filepath.Join(dir, "password-375x800.png"))

	do(t, ctx, "open the security keys page", chromedp.Navigate(d.baseURL()+"/account/keys"))
	requireNoSidewaysScroll(t, ctx, "security keys page")
	saveScreenshot(t, ctx, filepath.Join(dir, "keys-375x800.png"))
}
