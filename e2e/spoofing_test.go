package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestForwardedHeadersUntrusted sends forged forwarding headers straight to
// portero, whose TRUSTED_PROXIES does not cover loopback: X-Forwarded-Proto
// must not turn plain HTTP into HTTPS, and no forged address may reach the
// log.
func TestForwardedHeadersUntrusted(t *testing.T) {
	const forgedIP = "203.0.113.9"

	d := newDeployment(t)
	d.extraEnv = productionEnv("10.0.0.0/8")
	server := d.start(t)
	client := newWebClient(nil)
	forged := http.Header{
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-For":   {forgedIP},
		"X-Real-Ip":         {forgedIP},
	}

	// Were the headers believed, /login would show the form with HSTS and
	// /dashboard would redirect to /login.
	for _, path := range []string{"/login", "/dashboard"} {
		resp := client.mustRequest(t, http.MethodGet, d.baseURL()+path, nil, forged)
		if resp.status != http.StatusOK {
			t.Errorf("GET %s with forged X-Forwarded-Proto: got status %d, want 200", path, resp.status)
		}
		if !strings.Contains(resp.body, "Se necesita HTTPS") {
			t.Errorf("GET %s with forged X-Forwarded-Proto: got a page without \"Se necesita HTTPS\", want the HTTPS-required page", path)
		}
		if got := resp.header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("GET %s with forged X-Forwarded-Proto: got Strict-Transport-Security %q, want none", path, got)
		}
		if got := resp.header.Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("GET %s with forged X-Forwarded-Proto: got Set-Cookie %q, want none", path, got)
		}
	}

	// An unknown path is logged with the client address at debug level.
	resp := client.mustRequest(t, http.MethodGet, d.baseURL()+"/no-such-page", nil, forged)
	if resp.status != http.StatusNotFound {
		t.Errorf("GET /no-such-page: got status %d, want 404", resp.status)
	}

	server.stop(t)
	log := d.log.String()
	if strings.Contains(log, forgedIP) {
		t.Errorf("server log: got the forged address %s, want only the peer address", forgedIP)
	}
	// The checks above prove something only if lines with client_ip exist.
	for _, msg := range []string{"over plain HTTP", "Request failed."} {
		records := jsonRecords(log, msg)
		if len(records) != 1 {
			t.Errorf("log lines with %q: got %d, want 1", msg, len(records))
			continue
		}
		if got := records[0]["client_ip"]; got != "127.0.0.1" {
			t.Errorf("client_ip of %q: got %v, want 127.0.0.1, the peer address", msg, got)
		}
	}
}

// TestForwardedProtoNotInLocation sends forged X-Forwarded-Proto and
// X-Forwarded-Host values from a trusted peer and checks that no redirect
// carries them: portero redirects to paths, never to absolute URLs.
func TestForwardedProtoNotInLocation(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	password := "Cigüeña-" + randomHex(t, 8)

	// Development mode serves pages over plain HTTP, so every request gets
	// as far as its redirect. Loopback is trusted by default.
	d := newDeployment(t)
	d.createUser(t, email, name, password)
	server := d.start(t)

	for _, proto := range []string{"//attacker.example", "https://attacker.example", "https, //attacker.example", "javascript:alert(1)"} {
		forged := http.Header{
			"X-Forwarded-Proto": {proto},
			"X-Forwarded-Host":  {"attacker.example"},
		}
		client := newWebClient(nil)

		requireRedirect(t, client, proto, http.MethodGet, d.baseURL()+"/", nil, forged, "/login")
		requireRedirect(t, client, proto, http.MethodGet, d.baseURL()+"/dashboard", nil, forged, "/login")

		client.logIn(t, d.baseURL(), email, password, forged)
		requireRedirect(t, client, proto, http.MethodGet, d.baseURL()+"/", nil, forged, "/dashboard")

		page := client.mustRequest(t, http.MethodGet, d.baseURL()+"/dashboard", nil, forged)
		if page.status != http.StatusOK {
			t.Fatalf("GET /dashboard with X-Forwarded-Proto %q after login: got status %d, want 200", proto, page.status)
		}
		if strings.Contains(page.body, "attacker") {
			t.Errorf("GET /dashboard with X-Forwarded-Proto %q: got \"attacker\" in the page, want no forged value", proto)
		}
		form := url.Values{"csrf_token": {csrfToken(t, page.body)}}
		requireRedirect(t, client, proto, http.MethodPost, d.baseURL()+"/logout", form, forged, "/login?logged_out=1")
	}

	server.stop(t)
	requireNoPanic(t, d.log.String())
}

// requireRedirect sends one request and requires a 303 to want, with no
// forged value in any response header.
func requireRedirect(t *testing.T, client *webClient, proto, method, target string, form url.Values, header http.Header, want string) {
	t.Helper()

	resp := client.mustRequest(t, method, target, form, header)

	if resp.status != http.StatusSeeOther {
		t.Errorf("%s %s with X-Forwarded-Proto %q: got status %d, want 303", method, target, proto, resp.status)
	}
	if got := resp.header.Get("Location"); got != want {
		t.Errorf("%s %s with X-Forwarded-Proto %q: got Location %q, want %q", method, target, proto, got, want)
	}
	for name, values := range resp.header {
		for _, value := range values {
			if strings.Contains(value, "attacker") {
				t.Errorf("%s %s with X-Forwarded-Proto %q: got header %s: %q, want no forged value", method, target, proto, name, value)
			}
		}
	}
}
