package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Cookie names with COOKIE_SECURE, the production default.
const (
	secureSessionCookie = "__Host-portero_session"
	secureCSRFCookie    = "__Host-portero_csrf"
	secureDeviceCookie  = "__Host-portero_device"
)

// hstsValue is the Strict-Transport-Security header that portero sends over
// HTTPS in production.
const hstsValue = "max-age=31536000"

// productionEnv returns the settings of a CapRover deployment: production
// mode, whose cookies are Secure, with the lowest bcrypt cost that
// production accepts, so that logins stay fast. trustedProxies sets
// TRUSTED_PROXIES unless it is empty.
func productionEnv(trustedProxies string) []string {
	env := []string{"APP_ENV=production", "BCRYPT_COST=10"}
	if trustedProxies != "" {
		env = append(env, "TRUSTED_PROXIES="+trustedProxies)
	}

	return env
}

// TestProxyHTTPSLogin logs in with Chromium through nginx over HTTPS, as on
// CapRover, and checks the cookie attributes, HSTS, and that the login log
// line has the client address that nginx saw, not one the client claimed.
func TestProxyHTTPSLogin(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	password := "Cigüeña-" + randomHex(t, 8)
	chromePath(t)

	d := newDeployment(t)
	// Only nginx's address is trusted, so that a client on 127.0.0.1 is a
	// client, as it would be on the internet.
	d.extraEnv = productionEnv(nginxSourceAddress + "/32")
	d.createUser(t, email, name, password)
	server := d.start(t)
	proxy := startNginx(t, d.port)
	ctx := newBrowser(t, proxy.browserFlags()...)

	resp := get(t, ctx, "open the login page over HTTPS", chromedp.NavigateResponse(proxy.httpsURL()+"/login"))
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /login over HTTPS in Chromium: got status %d, want 200", resp.Status)
	}
	if got := headerValue(resp.Headers, "Strict-Transport-Security"); got != hstsValue {
		t.Errorf("Strict-Transport-Security over HTTPS in Chromium: got %q, want %q", got, hstsValue)
	}

	logIn(t, ctx, proxy.httpsURL(), email, password)
	requireDashboard(t, ctx, "after login over HTTPS", email, name)

	// The device cookie is needed only by the site's own forms, so it is
	// SameSite=Strict.
	for cookieName, sameSite := range map[string]network.CookieSameSite{
		secureSessionCookie: network.CookieSameSiteLax,
		secureCSRFCookie:    network.CookieSameSiteLax,
		secureDeviceCookie:  network.CookieSameSiteStrict,
	} {
		cookie := browserCookie(t, ctx, proxy.httpsURL()+"/", cookieName)
		if cookie == nil {
			t.Errorf("browser cookie %s: got none, want it set over HTTPS", cookieName)
			continue
		}
		requireHostCookie(t, cookie, sameSite)
	}

	// A client on 127.0.0.3 logs in with forged forwarding headers. nginx
	// appends the address it saw to X-Forwarded-For and replaces X-Real-IP.
	forged := http.Header{
		"X-Forwarded-For": {"203.0.113.77"},
		"X-Real-Ip":       {"203.0.113.78"},
	}
	client := newWebClient(proxy.transport("127.0.0.3"))
	client.logIn(t, proxy.httpsURL(), email, password, forged)
	page := client.mustRequest(t, http.MethodGet, proxy.httpsURL()+"/dashboard", nil, nil)
	if page.status != http.StatusOK {
		t.Errorf("GET /dashboard over HTTPS after the client's login: got status %d, want 200", page.status)
	}
	if got := page.header.Get("Strict-Transport-Security"); got != hstsValue {
		t.Errorf("Strict-Transport-Security on /dashboard: got %q, want %q", got, hstsValue)
	}

	// Stopping the process makes its output complete before the checks.
	server.stop(t)
	log := d.log.String()

	logins := jsonRecords(log, "User logged in.")
	if len(logins) != 2 {
		t.Fatalf("\"User logged in.\" lines: got %d, want 2 (Chromium, then the HTTP client)", len(logins))
	}
	if got := logins[0]["client_ip"]; got != "127.0.0.1" {
		t.Errorf("client_ip of Chromium's login: got %v, want 127.0.0.1, the address nginx saw", got)
	}
	if got := logins[1]["client_ip"]; got != "127.0.0.3" {
		t.Errorf("client_ip of the login with forged headers: got %v, want 127.0.0.3, the address nginx saw", got)
	}
	for _, value := range []string{"203.0.113.77", "203.0.113.78"} {
		if strings.Contains(log, value) {
			t.Errorf("server log: got the forged address %s, want only addresses that nginx saw", value)
		}
	}
	requireNoPanic(t, log)
}

// requireHostCookie checks the attributes that the __Host- prefix and
// portero promise: Secure, HttpOnly, the given SameSite, Path=/ and no
// Domain, which Chromium reports as the site's own host name.
func requireHostCookie(t *testing.T, cookie *network.Cookie, sameSite network.CookieSameSite) {
	t.Helper()

	if !cookie.Secure {
		t.Errorf("cookie %s Secure: got false, want true", cookie.Name)
	}
	if !cookie.HTTPOnly {
		t.Errorf("cookie %s HttpOnly: got false, want true", cookie.Name)
	}
	if cookie.SameSite != sameSite {
		t.Errorf("cookie %s SameSite: got %q, want %q", cookie.Name, cookie.SameSite, sameSite)
	}
	if cookie.Path != "/" {
		t.Errorf("cookie %s Path: got %q, want /", cookie.Name, cookie.Path)
	}
	// A cookie with a Domain attribute has a domain with a leading dot.
	if cookie.Domain != siteHost {
		t.Errorf("cookie %s domain: got %q, want %q (host-only, no Domain attribute)", cookie.Name, cookie.Domain, siteHost)
	}
}

// headerValue returns a header of a CDP response, whatever the case of its
// name.
func headerValue(headers network.Headers, name string) string {
	for key, value := range headers {
		if strings.EqualFold(key, name) {
			s, _ := value.(string)
			return s
		}
	}

	return ""
}

// TestProxyPlainHTTP requests pages through nginx's plain-HTTP server in
// production: every page explains that HTTPS is required, in the visitor's
// language, without a redirect loop, and the server warns once.
func TestProxyPlainHTTP(t *testing.T) {
	d := newDeployment(t)
	d.extraEnv = productionEnv("")
	server := d.start(t)
	proxy := startNginx(t, d.port)
	client := newWebClient(proxy.transport("127.0.0.1"))
	english := http.Header{"Accept-Language": {"en"}}

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		want   string
	}{
		{"login in Spanish", http.MethodGet, "/login", nil, http.StatusOK, "Se necesita HTTPS"},
		{"login in English", http.MethodGet, "/login", english, http.StatusOK, "HTTPS required"},
		{"home", http.MethodGet, "/", nil, http.StatusOK, "Se necesita HTTPS"},
		{"dashboard", http.MethodGet, "/dashboard", english, http.StatusOK, "HTTPS required"},
		{"login form", http.MethodPost, "/login", english, http.StatusForbidden, "HTTPS required"},
		{"login again", http.MethodGet, "/login", nil, http.StatusOK, "Se necesita HTTPS"},
	}
	for _, tt := range tests {
		var form url.Values
		if tt.method == http.MethodPost {
			form = url.Values{"email": {"ana@example.com"}, "password": {"wrong"}}
		}
		resp := client.mustRequest(t, tt.method, proxy.httpURL()+tt.path, form, tt.header)

		if resp.status != tt.status {
			t.Errorf("%s: %s %s over HTTP: got status %d, want %d", tt.name, tt.method, tt.path, resp.status, tt.status)
		}
		if location := resp.header.Get("Location"); location != "" {
			t.Errorf("%s: %s %s over HTTP: got Location %q, want no redirect", tt.name, tt.method, tt.path, location)
		}
		if !strings.Contains(resp.body, tt.want) {
			t.Errorf("%s: %s %s over HTTP: got a page without %q, want the HTTPS-required page", tt.name, tt.method, tt.path, tt.want)
		}
		if got := resp.header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s: Strict-Transport-Security over HTTP: got %q, want none", tt.name, got)
		}
		if got := resp.header.Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("%s: Set-Cookie over HTTP: got %q, want none", tt.name, got)
		}
	}

	server.stop(t)
	log := d.log.String()
	if got := strings.Count(log, "over plain HTTP"); got != 1 {
		t.Errorf("\"over plain HTTP\" warnings after %d requests: got %d, want 1", len(tests), got)
	}
	requireNoPanic(t, log)
}
