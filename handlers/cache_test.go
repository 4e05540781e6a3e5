package handlers_test

import (
	"net/http"
	"net/url"
	"testing"
)

func TestLogoutClearsSiteData(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("wes@example.com")
	token := e.csrfToken(c, "/dashboard")

	resp := e.post(c, "/logout", url.Values{"csrf_token": {token}})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("logout: got %d, want 303", resp.status)
	}
	if got, want := resp.header.Get("Clear-Site-Data"), `"cache", "storage"`; got != want {
		t.Errorf("logout Clear-Site-Data: got %q, want %q", got, want)
	}

	if got := e.get(c, "/login").header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("login page Clear-Site-Data: got %q, want none", got)
	}
}

func TestPagesNotCached(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("xan@example.com")

	pages := map[string]response{
		"login page":      e.get(e.client(), "/login"),
		"dashboard":       e.get(c, "/dashboard"),
		"failed login":    e.login(e.client(), "xan@example.com", wrongPassword),
		"login from link": e.get(e.client(), "/login?next=%2Fdashboard"),
	}
	for name, resp := range pages {
		if resp.status != http.StatusOK && resp.status != http.StatusUnauthorized {
			t.Errorf("%s: got status %d, want 200 or 401", name, resp.status)
		}
		if got := resp.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s Cache-Control: got %q, want no-store", name, got)
		}
	}
}
