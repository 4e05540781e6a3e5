package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// sessionCookieName is the name of the session cookie when APP_ENV is not
// production. Production uses __Host-portero_session.
const sessionCookieName = "portero_session"

// TestSessionSurvivesRestart logs in with Chromium, restarts the server
// after SIGTERM and after SIGKILL, and checks that the browser keeps its
// session each time because sessions live in PostgreSQL. Then it logs out
// and replays the old cookie, which must no longer work.
func TestSessionSurvivesRestart(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	// Non-ASCII letters check that the form sends the password as UTF-8.
	password := "Cigüeña-" + randomHex(t, 8)

	// The browser starts first, so that a missing Chromium fails at once.
	ctx := newBrowser(t)
	d := newDeployment(t)
	d.createUser(t, email, name, password)
	server := d.start(t)

	logIn(t, ctx, d.baseURL(), email, password)
	requireDashboard(t, ctx, "after login", email, name)

	server.stop(t)
	server = d.start(t)
	reload(t, ctx, "reload the dashboard after SIGTERM and restart")
	requireDashboard(t, ctx, "after SIGTERM and restart", email, name)

	server.crash(t)
	server = d.start(t)
	reload(t, ctx, "reload the dashboard after SIGKILL and restart")
	requireDashboard(t, ctx, "after SIGKILL and restart", email, name)

	cookie := browserCookie(t, ctx, d.baseURL(), sessionCookieName)
	if cookie == nil {
		t.Fatalf("browser cookie %s: got none, want the session cookie", sessionCookieName)
	}
	if !cookie.HTTPOnly {
		t.Errorf("cookie %s HttpOnly: got false, want true", sessionCookieName)
	}
	// The same request with the live session shows that a 303 after the
	// logout comes from the logout, not from a cookie this client sends wrong.
	resp := getDashboard(t, d.baseURL(), cookie.Value)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /dashboard with the live session cookie: got status %d, want 200", resp.StatusCode)
	}

	do(t, ctx, "log out",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)
	if got, want := currentPath(t, ctx), "/login?logged_out=1"; got != want {
		t.Errorf("page after logout: got %s, want %s", got, want)
	}
	if left := browserCookie(t, ctx, d.baseURL(), sessionCookieName); left != nil {
		t.Errorf("browser cookie %s after logout: got a value, want none", sessionCookieName)
	}

	resp = getDashboard(t, d.baseURL(), cookie.Value)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /dashboard with the cookie from before the logout: got status %d, want 303", resp.StatusCode)
	}
	if got := resp.Header.Get("Location"); got != "/login" {
		t.Errorf("redirect with the cookie from before the logout: got Location %q, want /login", got)
	}
	if !clearsCookie(resp, sessionCookieName) {
		t.Errorf("response to the cookie from before the logout: got no Set-Cookie that deletes %s, want one", sessionCookieName)
	}

	// Stopping the last process makes its output complete before the check.
	server.stop(t)
	requireNoSecrets(t, d.log.String(), map[string]string{
		"password":             password,
		"session cookie value": cookie.Value,
		"SESSION_SECRET":       d.sessionSecret,
	})
}

// logIn fills in and submits the login form at baseURL.
func logIn(t *testing.T, ctx context.Context, baseURL, email, password string) {
	t.Helper()

	do(t, ctx, "open the login page", chromedp.Navigate(baseURL+"/login"))
	do(t, ctx, "type the email and the password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	if typed := get(t, ctx, "read the password field", chromedp.Value(chromedp.CSS("#password"))); typed != password {
		t.Fatalf("password field after typing: got %d characters that differ from the password, want the password", len([]rune(typed)))
	}
	do(t, ctx, "submit the login form",
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#user-email")),
	)
}

// requireDashboard fails the test unless the tab shows the dashboard of the
// user. when names the moment for the failure message.
func requireDashboard(t *testing.T, ctx context.Context, when, email, name string) {
	t.Helper()

	if got := currentPath(t, ctx); got != "/dashboard" {
		t.Fatalf("page %s: got %s, want /dashboard", when, got)
	}
	if got := get(t, ctx, "read #user-email", chromedp.Text(chromedp.CSS("#user-email"))); got != email {
		t.Errorf("#user-email %s: got %q, want %q", when, got, email)
	}
	if got := get(t, ctx, "read the main content", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(got, name) {
		t.Errorf("dashboard %s: got text %q, want it to contain %q", when, got, name)
	}
}

// getDashboard requests /dashboard with only the session cookie, as a
// client that stole it would, and without following redirects.
func getDashboard(t *testing.T, baseURL, sessionCookie string) *http.Response {
	t.Helper()

	req, err := http.NewRequest(http.MethodGet, baseURL+"/dashboard", nil)
	if err != nil {
		t.Fatalf("build GET /dashboard: %v", err)
	}
	// The header is set by hand so that the value goes out byte for byte.
	req.Header.Set("Cookie", sessionCookieName+"="+sessionCookie)

	resp, err := noRedirectClient().Do(req)
	if err != nil {
		t.Fatalf("GET /dashboard: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	return resp
}

// clearsCookie reports whether resp deletes the cookie with a Set-Cookie
// header whose Max-Age is zero or negative.
func clearsCookie(resp *http.Response, name string) bool {
	for _, cookie := range resp.Cookies() {
		if cookie.Name == name && cookie.MaxAge < 0 {
			return true
		}
	}

	return false
}
