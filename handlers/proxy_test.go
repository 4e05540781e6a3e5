package handlers_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()

	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}

	return n
}

// httpsHeaders makes a request look as if CapRover's nginx forwarded it
// from a browser on HTTPS at clientIP.
func httpsHeaders(clientIP string) []string {
	return []string{"X-Forwarded-Proto", "https", "X-Forwarded-For", clientIP, "X-Real-IP", clientIP}
}

func TestTrustedProxyHeaders(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})
	e.createUser("nia@example.com", "Nia")
	c := e.client()

	headers := httpsHeaders("203.0.113.7")
	page := e.get(c, "/login", headers...)
	if page.status != http.StatusOK || !strings.Contains(page.body, `name="password"`) {
		t.Fatalf("login over forwarded HTTPS: got %d without the form, want 200 with it", page.status)
	}
	if got := page.header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
		t.Errorf("Strict-Transport-Security: got %q, want max-age set", got)
	}

	// The test server is plain HTTP, so the jar would keep Secure cookies
	// away from it. They are sent by hand, as a browser on HTTPS would.
	token := csrfField.FindStringSubmatch(page.body)[1]
	req, _ := http.NewRequest(http.MethodPost, e.server.URL+"/login", strings.NewReader(url.Values{
		"csrf_token": {token}, "email": {"nia@example.com"}, "password": {testPassword},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(withCookies(req, page.cookies))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.StatusCode)
	}

	for name, sameSite := range map[string]http.SameSite{testCookie: http.SameSiteLaxMode, testDeviceCookie: http.SameSiteStrictMode} {
		cookie := cookieNamed(resp.Cookies(), "__Host-"+name)
		if cookie == nil {
			t.Errorf("no __Host-%s cookie was set", name)
			continue
		}
		if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != sameSite || cookie.Path != "/" || cookie.Domain != "" {
			t.Errorf("%s cookie: got Secure=%v HttpOnly=%v SameSite=%v Path=%q Domain=%q, want true, true, %v, /, none",
				name, cookie.Secure, cookie.HttpOnly, cookie.SameSite, cookie.Path, cookie.Domain, sameSite)
		}
	}
	if !strings.Contains(e.logs.String(), "client_ip=203.0.113.7") {
		t.Error("the login log line does not carry the address the proxy saw")
	}
}

func TestUntrustedPeerHeadersIgnored(t *testing.T) {
	// Loopback is not trusted, so the test client is a stranger.
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "10.0.0.0/8")}})
	e.createUser("oz@example.com", "Oz")

	page := e.get(e.client(), "/login", httpsHeaders("203.0.113.9")...)
	if !strings.Contains(page.body, "Se necesita HTTPS") {
		t.Error("forged X-Forwarded-Proto from an untrusted peer was believed, want the HTTPS-required page")
	}
	if page.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent on a plain HTTP request")
	}
	if strings.Contains(e.logs.String(), "203.0.113.9") {
		t.Error("the log carries a forged X-Forwarded-For address")
	}
	if !strings.Contains(e.logs.String(), "client_ip=127.0.0.1") {
		t.Error("the log does not carry the real peer address")
	}
}

func TestForwardedForTakesProxyView(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})

	// The client sent its own X-Forwarded-For; nginx appended the address
	// it saw. Only the appended one counts.
	e.get(e.client(), "/login", "X-Forwarded-Proto", "http", "X-Forwarded-For", "198.51.100.1, 203.0.113.20")
	logs := e.logs.String()
	if !strings.Contains(logs, "client_ip=203.0.113.20") {
		t.Errorf("log lacks the proxy-seen address 203.0.113.20:\n%s", logs)
	}
	if strings.Contains(logs, "198.51.100.1") {
		t.Error("the log carries the client-supplied leftmost address")
	}
}

func TestOddForwardedProtoNeverRedirects(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})

	for _, proto := range []string{"//attacker.example", "javascript", "wss", "https://attacker.example"} {
		for _, path := range []string{"/", "/dashboard"} {
			resp := e.get(e.client(), path, "X-Forwarded-Proto", proto)
			if strings.Contains(resp.location, "attacker") || strings.Contains(resp.location, "//") {
				t.Errorf("X-Forwarded-Proto %q on %s: Location %q", proto, path, resp.location)
			}
			if resp.status == http.StatusOK && !strings.Contains(resp.body, "Se necesita HTTPS") {
				t.Errorf("X-Forwarded-Proto %q on %s: treated as HTTPS, want plain HTTP", proto, path)
			}
		}
	}
}

func TestPlainHTTPInProductionExplains(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})

	for _, lang := range []struct{ header, text string }{{"es", "Se necesita HTTPS"}, {"en", "HTTPS required"}} {
		resp := e.get(e.client(), "/login", "Accept-Language", lang.header, "X-Forwarded-Proto", "http")
		if resp.status != http.StatusOK || !strings.Contains(resp.body, lang.text) || !strings.Contains(resp.body, "Force HTTPS") {
			t.Errorf("login over HTTP (%s): got %d, want 200 with the HTTPS instructions", lang.header, resp.status)
		}
		if strings.Contains(resp.body, `name="password"`) {
			t.Errorf("login over HTTP (%s) shows the form, which would loop", lang.header)
		}
	}

	if resp := e.post(e.client(), "/login", url.Values{"email": {"x@example.com"}}, "X-Forwarded-Proto", "http"); resp.status != http.StatusForbidden {
		t.Errorf("POST /login over HTTP: got %d, want 403 with the instructions", resp.status)
	}

	for range 5 {
		e.get(e.client(), "/login")
	}
	if n := strings.Count(e.logs.String(), "over plain HTTP"); n != 1 {
		t.Errorf("plain-HTTP warnings in the log: got %d, want 1 (rate-limited)", n)
	}
}

func withCookies(r *http.Request, cookies []*http.Cookie) *http.Request {
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}

	return r
}

func TestForwardedForAllTrustedTakesNearest(t *testing.T) {
	e := newEnvWith(t, envOptions{production: true, trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8"), mustCIDR(t, "10.0.0.0/8")}})

	// A client inside a trusted range writes its own first entry; only
	// the entry the nearest proxy appended is vouched for.
	e.get(e.client(), "/login", "X-Forwarded-Proto", "http", "X-Forwarded-For", "10.9.9.9, 10.0.0.5")
	logs := e.logs.String()
	if !strings.Contains(logs, "client_ip=10.0.0.5") {
		t.Errorf("log lacks the nearest hop 10.0.0.5:\n%s", logs)
	}
	if strings.Contains(logs, "10.9.9.9") {
		t.Error("the log carries the leftmost, client-written address")
	}
}

func TestOriginWithPortAccepted(t *testing.T) {
	e := newEnv(t)
	e.createUser("pia@example.com", "Pia")
	c := e.client()
	token := e.csrfToken(c, "/login")
	u, _ := url.Parse(e.server.URL)

	// The proxy passes Host without the port the browser put in Origin.
	form := url.Values{"csrf_token": {token}, "email": {"pia@example.com"}, "password": {testPassword}}
	resp := e.post(c, "/login", form, "Origin", "https://"+u.Hostname()+":8443", "Sec-Fetch-Site", "same-origin")
	if resp.status != http.StatusSeeOther {
		t.Errorf("login with Origin on another port of the same host: got %d, want 303", resp.status)
	}
}
