package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
)

func TestCSRFRejectsForgedPosts(t *testing.T) {
	e := newEnv(t)
	e.createUser("jo@example.com", "Jo")

	form := func(token string) url.Values {
		return url.Values{"csrf_token": {token}, "email": {"jo@example.com"}, "password": {testPassword}}
	}
	otherToken := e.csrfToken(e.client(), "/login")

	tests := []struct {
		name    string
		token   func(c *http.Client) string
		headers []string
	}{
		{"no token", func(*http.Client) string { return "" }, nil},
		{"token of another browser", func(*http.Client) string { return otherToken }, nil},
		{"garbage token", func(*http.Client) string { return "abc" }, nil},
		{"cross-site fetch", func(c *http.Client) string { return e.csrfToken(c, "/login") }, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", func(c *http.Client) string { return e.csrfToken(c, "/login") }, []string{"Origin", "https://attacker.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			e.csrfToken(c, "/login")
			resp := e.post(c, "/login", form(tt.token(c)), tt.headers...)

			if resp.status != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.status)
			}
			if !strings.Contains(resp.header.Get("Content-Type"), "text/html") || !strings.Contains(resp.body, "El formulario ha caducado") {
				t.Errorf("403 body is not the Spanish error page: %.200q", resp.body)
			}
			if strings.Contains(resp.body, "goroutine") || strings.Contains(resp.body, ".go:") {
				t.Error("403 page contains a stack trace")
			}
		})
	}

	c := e.client()
	token := e.csrfToken(c, "/login")
	ok := e.post(c, "/login", form(token), "Sec-Fetch-Site", "same-origin", "Origin", e.server.URL)
	if ok.status != http.StatusSeeOther {
		t.Errorf("same-origin post with a valid token: got %d, want 303", ok.status)
	}
}

func TestLogoutNeedsCSRFToken(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("kim@example.com")

	if resp := e.post(c, "/logout", url.Values{}); resp.status != http.StatusForbidden {
		t.Errorf("logout without token: got %d, want 403", resp.status)
	}
	if resp := e.get(c, "/dashboard"); resp.status != http.StatusOK {
		t.Errorf("dashboard after forged logout: got %d, want 200", resp.status)
	}
}

var htmlLang = regexp.MustCompile(`<html lang="([a-z]+)">`)

func TestLanguageNegotiation(t *testing.T) {
	e := newEnv(t)

	tests := []struct {
		name    string
		path    string
		headers []string
		want    string
		text    string
	}{
		{"default", "/login", nil, "es", "Iniciar sesión"},
		{"english browser", "/login", []string{"Accept-Language", "en-GB,en;q=0.9"}, "en", "Log in"},
		{"unsupported language", "/login", []string{"Accept-Language", "fr-FR,de;q=0.8"}, "es", "Contraseña"},
		{"switch overrides header", "/login?lang=en", []string{"Accept-Language", "es"}, "en", "Password"},
		{"error page in english", "/no-such-page", []string{"Accept-Language", "en"}, "en", "Page not found."},
		{"error page in spanish", "/no-such-page", nil, "es", "No se encontró la página."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.get(e.client(), tt.path, tt.headers...)
			m := htmlLang.FindStringSubmatch(resp.body)
			if m == nil || m[1] != tt.want {
				t.Fatalf("html lang: got %v, want %s", m, tt.want)
			}
			if !strings.Contains(resp.body, tt.text) {
				t.Errorf("page lacks %q", tt.text)
			}
		})
	}
}

func TestLanguageSwitchIsKept(t *testing.T) {
	e := newEnv(t)
	c := e.client()

	page := e.get(c, "/login")
	for _, link := range []string{`href="?lang=en"`, `href="?lang=es"`} {
		if !strings.Contains(page.body, link) {
			t.Errorf("login page lacks the switch link %s", link)
		}
	}

	e.get(c, "/login?lang=en")
	if resp := e.get(c, "/login"); !strings.Contains(resp.body, `<html lang="en">`) {
		t.Error("after choosing English, the next page is not in English")
	}
}

func TestLoginPageAccessibility(t *testing.T) {
	e := newEnv(t)
	body := e.get(e.client(), "/login").body

	for _, want := range []string{
		`<label for="email">`,
		`<label for="password">`,
		`autocomplete="username"`,
		`autocomplete="current-password"`,
		`name="viewport"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if resp := e.get(e.client(), "/healthz"); resp.status != http.StatusOK {
		t.Errorf("healthz: got %d, want 200", resp.status)
	}
	if resp := e.get(e.client(), "/readyz"); resp.status != http.StatusOK {
		t.Errorf("readyz: got %d, want 200", resp.status)
	}

	waiting := newEnvWith(t, envOptions{notReady: true})
	if resp := waiting.get(waiting.client(), "/readyz"); resp.status != http.StatusServiceUnavailable {
		t.Errorf("readyz before migrations: got %d, want 503", resp.status)
	}
	if resp := waiting.get(waiting.client(), "/healthz"); resp.status != http.StatusServiceUnavailable {
		t.Errorf("healthz before migrations: got %d, want 503 (still starting)", resp.status)
	}
	resp := waiting.get(waiting.client(), "/login")
	if resp.status != http.StatusServiceUnavailable || !strings.Contains(resp.body, "la base de datos no responde") {
		t.Errorf("login before migrations: got %d, want 503 with the Spanish page", resp.status)
	}
}

func TestDatabaseDownGives503(t *testing.T) {
	e := newEnv(t)
	e.createUser("lu@example.com", "Lu")
	c := e.client()
	e.login(c, "lu@example.com", testPassword)
	token := e.csrfToken(c, "/dashboard")

	// A second app on a pool whose server is gone: nothing listens there.
	// It counts as started, as a process would after the database left.
	down, err := db.Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	broken := newEnvOn(t, down, envOptions{noCache: true})

	u, _ := url.Parse(e.server.URL)
	bu, _ := url.Parse(broken.server.URL)
	c.Jar.SetCookies(bu, c.Jar.Cookies(u))

	if resp := broken.get(c, "/dashboard", "Accept-Language", "en"); resp.status != http.StatusServiceUnavailable || !strings.Contains(resp.body, "database is not responding") {
		t.Errorf("dashboard with the database down: got %d, want 503 with the English page", resp.status)
	}
	form := url.Values{"csrf_token": {token}, "email": {"lu@example.com"}, "password": {testPassword}}
	if resp := broken.post(c, "/login", form); resp.status != http.StatusServiceUnavailable {
		t.Errorf("login with the database down: got %d, want 503", resp.status)
	}
	if resp := broken.get(c, "/readyz"); resp.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database down: got %d, want 503", resp.status)
	}
	if resp := broken.get(c, "/healthz"); resp.status != http.StatusOK {
		t.Errorf("healthz with the database gone after start: got %d, want 200", resp.status)
	}
}

func TestStaticFilesCached(t *testing.T) {
	e := newEnv(t)
	page := e.get(e.client(), "/login").body
	m := regexp.MustCompile(`href="(/static/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("login page does not link a fingerprinted stylesheet")
	}

	resp := e.get(e.client(), m[1])
	if resp.status != http.StatusOK || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: got %d %q, want 200 text/css", resp.status, resp.header.Get("Content-Type"))
	}
	if got := resp.header.Get("Cache-Control"); !strings.Contains(got, "max-age=31536000") {
		t.Errorf("stylesheet Cache-Control: got %q, want a year", got)
	}
	if resp := e.get(e.client(), "/static/nothing.css"); resp.status != http.StatusNotFound {
		t.Errorf("unknown static file: got %d, want 404", resp.status)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	shared := e.loggedIn("many@example.com")
	var own []*http.Client
	for i := range 6 {
		own = append(own, e.loggedIn("user"+string(rune('a'+i))+"@example.com"))
	}

	var wg sync.WaitGroup
	failures := make(chan string, 100)
	for i := range 12 {
		wg.Go(func() {
			for range 8 {
				for _, c := range []*http.Client{shared, own[i%len(own)]} {
					resp, err := c.Get(e.server.URL + "/dashboard")
					if err != nil {
						failures <- err.Error()
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failures <- resp.Status
					}
				}
			}
		})
	}
	wg.Wait()
	close(failures)

	for f := range failures {
		t.Errorf("concurrent dashboard request: %s", f)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("max@example.com")
	cookie := e.sessionCookie(c).Value
	e.get(c, "/dashboard")
	e.login(e.client(), "max@example.com", "a wrong password value")

	logs := e.logs.String()
	for name, secret := range map[string]string{"password": testPassword, "wrong password": "a wrong password value", "cookie": cookie, "secret": string(testSecret)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if !strings.Contains(logs, `msg="User logged in."`) {
		t.Error("the log has no line for the successful login")
	}
}

func TestHeadServedLikeGet(t *testing.T) {
	e := newEnv(t)

	for _, path := range []string{"/healthz", "/readyz", "/login", "/"} {
		req, _ := http.NewRequest(http.MethodHead, e.server.URL+path, nil)
		resp := e.do(e.client(), req)
		if resp.status != http.StatusOK && resp.status != http.StatusSeeOther {
			t.Errorf("HEAD %s: got %d, want 200 or 303", path, resp.status)
		}
		if resp.body != "" {
			t.Errorf("HEAD %s: got a body of %d bytes, want none", path, len(resp.body))
		}
	}
}

func TestPageWaitsForStartup(t *testing.T) {
	e := newEnvWith(t, envOptions{notReady: true})

	done := make(chan response, 1)
	go func() { done <- e.get(e.client(), "/login") }()

	// The request is parked until the app turns ready, well within the
	// grace period, and then served normally.
	time.Sleep(200 * time.Millisecond)
	e.app.SetReady()

	select {
	case resp := <-done:
		if resp.status != http.StatusOK {
			t.Errorf("login requested during startup: got %d, want 200", resp.status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("login requested during startup: no response after 10 s")
	}
}
