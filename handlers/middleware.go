package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/session"
)

const (
	ctxLang    = "lang"
	ctxSession = "session"
	ctxUser    = "user"
)

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// The keys are canonical already and the value slices are shared
		// by every response, which saves four allocations a request.
		// Sharing is safe: Set replaces a slice, Add appends to a full one,
		// which copies it, and nothing writes into a header value.
		h["Content-Security-Policy"] = cspHeader
		h["X-Content-Type-Options"] = nosniffHeader
		h["Referrer-Policy"] = referrerHeader
		h["X-Frame-Options"] = frameHeader

		return next(c)
	}
}

// queryValue returns the first value of key in the request's query, or "".
func queryValue(r *http.Request, key string) string {
	if r.URL.RawQuery == "" {
		return ""
	}

	return r.URL.Query().Get(key)
}

// Values of the security headers, each with length and capacity 1.
var (
	cspHeader      = []string{"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	nosniffHeader  = []string{"nosniff"}
	referrerHeader = []string{"same-origin"}
	frameHeader    = []string{"DENY"}
)

// language picks the page language and keeps a choice made with the switch
// in a cookie.
func (a *App) language(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		lang := i18n.Negotiate(r)
		// Most requests have no query, and parsing one allocates a map.
		if q := queryValue(r, "lang"); i18n.Supported(q) {
			c.SetCookie(&http.Cookie{
				Name:     i18n.CookieName,
				Value:    q,
				Path:     "/",
				MaxAge:   int(365 * 24 * time.Hour / time.Second),
				HttpOnly: true,
				SameSite: http.SameSiteLaxMode,
			})
		}
		c.Set(ctxLang, lang)
		c.Response().Header().Add("Vary", "Accept-Language, Cookie")

		return next(c)
	}
}

func (a *App) requireReady(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a.ready.Load() {
			return next(c)
		}

		timer := time.NewTimer(startupGrace)
		defer timer.Stop()
		select {
		case <-a.readyCh:
			return next(c)
		case <-timer.C:
		case <-c.Request().Context().Done():
		}

		return &Error{Status: http.StatusServiceUnavailable, Key: "error.503"}
	}
}

// loadSession reads the session and its user. A bad cookie is cleared and
// the visitor is anonymous. A session whose user is gone or disabled ends.
func (a *App) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		w, r := c.Response(), c.Request()

		s, err := a.sessions.Load(r)
		if err != nil {
			return err
		}
		if s.BadCookie {
			a.sessions.ClearCookie(w)
		}

		if s.Authenticated() {
			user, err := a.userByID(r.Context(), s.UserID)
			switch {
			case errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled()):
				a.log.Info("Session ended because its user is gone or disabled.", "user_id", s.UserID)
				if err := a.sessions.Logout(w, r, s); err != nil {
					return err
				}
				s = &session.Session{}
			case err != nil:
				return err
			default:
				if err := a.sessions.Touch(r, s); err != nil {
					return err
				}
				if s.Touched() {
					if err := a.store.TouchUserSession(r.Context(), s.Key(), s.UserID, r.UserAgent(), c.RealIP()); err != nil {
						return err
					}
				}
				c.Set(ctxUser, user)
			}
		}
		c.Set(ctxSession, s)

		return next(c)
	}
}

// requireUser sends an anonymous visitor to the login page. A GET or HEAD
// carries its path and query in next, so that the login returns there. The
// dashboard needs no next, because every login goes there by default.
func (a *App) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if userOf(c) != nil {
			return next(c)
		}

		r := c.Request()
		target := r.URL.RequestURI()
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && target != defaultNext && localPath(target) {
			return a.redirect(c, "/login?next="+url.QueryEscape(target))
		}

		return a.redirect(c, "/login")
	}
}

func langOf(c echo.Context) string {
	if lang, ok := c.Get(ctxLang).(string); ok {
		return lang
	}

	return i18n.Negotiate(c.Request())
}

// sessionOf returns the request's session, or an anonymous one.
func sessionOf(c echo.Context) *session.Session {
	if s, ok := c.Get(ctxSession).(*session.Session); ok {
		return s
	}

	return &session.Session{}
}

func userOf(c echo.Context) *db.User {
	user, _ := c.Get(ctxUser).(*db.User)
	return user
}
