package handlers_test

import (
	"net/http"
	"testing"
)

// TestSecurityHeadersOnEveryResponse checks the security headers over HTTP
// on pages, a redirect, a 404, a static file and /healthz, twice each, so
// that a response that changed the shared header values would show on the
// next one.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	user := e.loggedIn("ines@example.com")
	anonymous := e.client()

	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
	}
	requests := []struct {
		name   string
		client *http.Client
		path   string
		status int
	}{
		{"login page", anonymous, "/login", http.StatusOK},
		{"dashboard", user, "/dashboard", http.StatusOK},
		{"dashboard in English", user, "/dashboard?lang=en", http.StatusOK},
		{"redirect to login", anonymous, "/dashboard", http.StatusSeeOther},
		{"not found", anonymous, "/no-such-page", http.StatusNotFound},
		{"static file", anonymous, "/static/password.js", http.StatusOK},
		{"healthz", anonymous, "/healthz", http.StatusOK},
	}
	for round := range 2 {
		for _, r := range requests {
			resp := e.get(r.client, r.path)
			if resp.status != r.status {
				t.Errorf("round %d, %s: got status %d, want %d", round, r.name, resp.status, r.status)
			}
			for name, value := range want {
				if got := resp.header.Values(name); len(got) != 1 || got[0] != value {
					t.Errorf("round %d, %s: %s got %q, want exactly [%q]", round, r.name, name, got, value)
				}
			}
		}
	}
}

// TestPageHeadersFollowLanguage checks Content-Language and Cache-Control
// on pages in both languages, chosen by the query, by Accept-Language and
// by default.
func TestPageHeadersFollowLanguage(t *testing.T) {
	e := newEnv(t)
	user := e.loggedIn("joan@example.com")

	for _, tt := range []struct {
		name    string
		path    string
		headers []string
		want    string
	}{
		{"default", "/dashboard", nil, "es"},
		{"query", "/dashboard?lang=en", nil, "en"},
		{"Accept-Language", "/login", []string{"Accept-Language", "en-GB,en;q=0.9"}, "en"},
		{"Accept-Language with Spanish first", "/login", []string{"Accept-Language", "es-MX, en;q=0.5"}, "es"},
	} {
		c := user
		if tt.path == "/login" {
			c = e.client()
		}
		resp := e.get(c, tt.path, tt.headers...)
		if resp.status != http.StatusOK {
			t.Fatalf("%s: got status %d, want 200", tt.name, resp.status)
		}
		if got := resp.header.Values("Content-Language"); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: Content-Language got %q, want [%q]", tt.name, got, tt.want)
		}
		if got := resp.header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
			t.Errorf("%s: Cache-Control got %q, want [\"no-store\"]", tt.name, got)
		}
	}
}
