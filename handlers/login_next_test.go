package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginReturnsToNext(t *testing.T) {
	e := newEnv(t)
	e.createUser("uma@example.com", "Uma")
	c := e.client()

	anonymous := e.get(c, "/dashboard?tab=session")
	wantLogin := "/login?next=" + url.QueryEscape("/dashboard?tab=session")
	if anonymous.status != http.StatusSeeOther || anonymous.location != wantLogin {
		t.Fatalf("anonymous GET /dashboard?tab=session: got %d to %q, want 303 to %q", anonymous.status, anonymous.location, wantLogin)
	}

	page := e.get(c, anonymous.location)
	if !strings.Contains(page.body, `<input type="hidden" name="next" value="/dashboard?tab=session">`) {
		t.Fatalf("login page lacks the hidden next field: %.600q", page.body)
	}
	token := csrfField.FindStringSubmatch(page.body)[1]
	form := url.Values{"csrf_token": {token}, "email": {"uma@example.com"}, "next": {"/dashboard?tab=session"}}

	form.Set("password", wrongPassword)
	failed := e.post(c, "/login", form)
	if failed.status != http.StatusUnauthorized || !strings.Contains(failed.body, `name="next" value="/dashboard?tab=session"`) {
		t.Errorf("failed login: got %d, want 401 with the next field kept", failed.status)
	}

	form.Set("password", testPassword)
	resp := e.post(c, "/login", form)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard?tab=session" {
		t.Fatalf("login with next: got %d to %q, want 303 to /dashboard?tab=session", resp.status, resp.location)
	}

	again := e.get(c, "/login?next="+url.QueryEscape("/dashboard?tab=again"))
	if again.status != http.StatusSeeOther || again.location != "/dashboard?tab=again" {
		t.Errorf("GET /login with next while logged in: got %d to %q, want 303 to /dashboard?tab=again", again.status, again.location)
	}
}

func TestLoginIgnoresForeignNext(t *testing.T) {
	e := newEnv(t)
	e.createUser("vic@example.com", "Vic")

	for _, next := range []string{
		"//evil.example",
		"https://evil.example/",
		`/\evil.example`,
		"/%2F%2Fevil.example",
		"/%5Cevil.example",
		"%2F%2Fevil.example",
		"javascript:alert(1)",
	} {
		t.Run(next, func(t *testing.T) {
			c := e.client()
			page := e.get(c, "/login?next="+url.QueryEscape(next))
			if page.status != http.StatusOK {
				t.Fatalf("GET /login: got %d, want 200", page.status)
			}
			if strings.Contains(page.body, `name="next"`) {
				t.Errorf("login page carries the foreign next %q, want no next field", next)
			}

			token := csrfField.FindStringSubmatch(page.body)[1]
			resp := e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {"vic@example.com"}, "password": {testPassword}, "next": {next}})
			if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
				t.Errorf("login with next %q: got %d to %q, want 303 to /dashboard", next, resp.status, resp.location)
			}
		})
	}
}

func TestRequireUserNext(t *testing.T) {
	e := newEnv(t)
	c := e.client()

	if resp := e.get(c, "/dashboard"); resp.location != "/login" {
		t.Errorf("anonymous GET /dashboard: got redirect to %q, want /login (the default needs no next)", resp.location)
	}

	req, _ := http.NewRequest(http.MethodHead, e.server.URL+"/dashboard?tab=x", nil)
	if resp := e.do(c, req); resp.location != "/login?next=%2Fdashboard%3Ftab%3Dx" {
		t.Errorf("anonymous HEAD /dashboard?tab=x: got redirect to %q, want /login?next=%%2Fdashboard%%3Ftab%%3Dx", resp.location)
	}
}
