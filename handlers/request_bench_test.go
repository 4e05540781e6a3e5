package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkDashboardRequest measures one logged-in GET /dashboard through
// every middleware, served from the in-memory session copy, without the
// network. It needs TEST_DATABASE_URL for the login.
func BenchmarkDashboardRequest(b *testing.B) {
	e := newEnvWith(b, envOptions{})
	c := e.loggedIn("bench@example.com")
	u, _ := url.Parse(e.server.URL)
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	h := e.app.Handler()

	// The first request loads the session into memory.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("dashboard: %d", w.Code)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("dashboard: %d", w.Code)
		}
	}
}
