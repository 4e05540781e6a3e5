package handlers

import (
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/password"
	"github.com/portero/portero/session"
	"github.com/portero/portero/static"
	"github.com/portero/portero/templates"
)

// newRenderApp builds an App that can render pages but has no database and
// no session store, so that rendering can be measured alone.
func newRenderApp(tb testing.TB) *App {
	tb.Helper()

	a, err := New(Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		BcryptCost:  4,
		IdleTimeout: 168 * time.Hour,
		CSRFSecret:  []byte("render-benchmark-csrf-secret-000"),
		LoginPolicy: db.LoginPolicy{
			Window:             15 * time.Minute,
			AccountMaxFailures: 5,
			IPMaxFailures:      50,
			FirstLockout:       time.Minute,
			MaxLockout:         15 * time.Minute,
		},
		ThrottleSecret: []byte("render-benchmark-throttle-secret"),
		Bcrypt:         password.NewLimiter(1, time.Second),
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}

	return a
}

// BenchmarkRenderDashboard measures the dashboard handler after the
// middleware has run: page data, template execution and the response write.
func BenchmarkRenderDashboard(b *testing.B) {
	a := newRenderApp(b)
	e := echo.New()
	user := &db.User{ID: 7, Email: "ana@example.org", DisplayName: "Ana Pérez", Role: db.RoleAdmin}
	authed := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	s := &session.Session{UserID: user.ID, AuthedAt: authed, SeenAt: authed, ExpiresAt: authed.Add(168 * time.Hour)}

	for _, lang := range i18n.Languages {
		b.Run(lang, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
			rec := httptest.NewRecorder()
			c := e.NewContext(req, rec)
			b.ReportAllocs()

			for b.Loop() {
				rec.Body.Reset()
				c.Reset(req, rec)
				c.Set(ctxLang, lang)
				c.Set(ctxUser, user)
				c.Set(ctxSession, s)
				c.Set(ctxCSRFToken, "benchmark-csrf-token")
				if err := a.dashboard(c); err != nil {
					b.Fatalf("dashboard: %v", err)
				}
			}
		})
	}
}

// BenchmarkParseTemplates measures the template work of a start: parsing
// every page and rendering its language-only parts.
func BenchmarkParseTemplates(b *testing.B) {
	assets, err := loadAssets(static.FS)
	if err != nil {
		b.Fatalf("load assets: %v", err)
	}
	a := &App{assets: assets}
	funcs := template.FuncMap{"asset": a.assetURL}
	b.ReportAllocs()

	for b.Loop() {
		if _, err := parseTemplates(templates.FS, funcs); err != nil {
			b.Fatalf("parseTemplates: %v", err)
		}
	}
}
