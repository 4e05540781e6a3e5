package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

// maxEmailLength is the longest address RFC 5321 allows in a path.
const maxEmailLength = 254

func (a *App) loginCheck(c echo.Context) error {
	r := c.Request()
	email := strings.TrimSpace(c.FormValue("email"))
	pw := c.FormValue("password")

	if email == "" || pw == "" {
		return a.loginFailed(c, email, http.StatusUnprocessableEntity, "login.missing")
	}

	var user *db.User
	var err error
	if len(email) <= maxEmailLength {
		user, err = a.store.UserByEmail(r.Context(), email)
	} else {
		err = db.ErrNotFound
	}
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}

	// An unknown email is compared against a dummy hash so that the
	// response takes as long as for a wrong password.
	hash := a.dummyHash()
	if user != nil {
		hash = user.PasswordHash
	}
	matches := password.Matches(hash, pw)

	switch {
	case user == nil:
		a.log.Warn("Login failed.", "reason", "unknown_email", "client_ip", c.RealIP())
		return a.loginFailed(c, email, http.StatusUnauthorized, "login.failed")
	case !matches:
		a.log.Warn("Login failed.", "reason", "wrong_password", "user_id", user.ID, "client_ip", c.RealIP())
		return a.loginFailed(c, email, http.StatusUnauthorized, "login.failed")
	case user.Disabled():
		a.log.Warn("Login failed.", "reason", "user_disabled", "user_id", user.ID, "client_ip", c.RealIP())
		return a.loginFailed(c, email, http.StatusUnauthorized, "login.failed")
	}

	if _, err := a.sessions.Login(c.Response(), r, sessionOf(c), user.ID); err != nil {
		return err
	}
	a.csrf.rotate(c)
	a.log.Info("User logged in.", "user_id", user.ID, "client_ip", c.RealIP())

	return a.redirect(c, "/dashboard")
}

func (a *App) loginFailed(c echo.Context, email string, status int, key string) error {
	page := a.newPage(c, "login.title")
	page.Error = page.T(key)
	if len(email) > maxEmailLength {
		email = ""
	}
	page.Data = loginForm{Email: email}

	return a.render(c, status, "login", page)
}
