package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// reauthWindow is how long after a login a session may make sensitive
// changes without typing the password again.
const reauthWindow = 10 * time.Minute

// currentPasswordField is the form field that confirms a sensitive change
// with the user's password.
const currentPasswordField = "current_password"

// recentlyAuthenticated reports whether the request's session logged in
// less than reauthWindow ago.
func (a *App) recentlyAuthenticated(c echo.Context) bool {
	return a.sessions.AuthedWithin(sessionOf(c), reauthWindow)
}

// reauthenticate allows a sensitive change when the session logged in less
// than reauthWindow ago or the form's current_password matches the user's
// password. Otherwise it returns a *formError: 403 for a missing password,
// and the errors of verifyCurrentPassword for a given one.
func (a *App) reauthenticate(c echo.Context) error {
	if a.recentlyAuthenticated(c) {
		return nil
	}
	user := userOf(c)
	if user == nil {
		return &formError{Status: http.StatusForbidden, Key: "error.403"}
	}

	lang := langOf(c)
	pw := c.Request().PostFormValue(currentPasswordField)
	if pw == "" {
		return &formError{Status: http.StatusForbidden, Key: "reauth.required", Args: []any{i18n.FormatDuration(lang, reauthWindow)}}
	}

	return a.verifyCurrentPassword(c, user, pw)
}

// verifyCurrentPassword checks pw against the user's password, with the
// login throttle and a bcrypt slot. It returns nil on a match and otherwise
// a *formError: 403 for a wrong password, 429 while the login of the
// account or the client IP is locked, and 503 when every bcrypt slot is
// busy. Other errors come from the database. A wrong password counts as a
// failed login, so the login throttle also limits guesses made through an
// open session. As at login, a valid device cookie replaces the account's
// lock and count with the device's.
func (a *App) verifyCurrentPassword(c echo.Context, user *db.User, pw string) error {
	lang := langOf(c)
	ctx := c.Request().Context()
	subject := a.loginSubject(c, user.Email, user)
	state, err := a.store.LoginThrottle(ctx, a.throttle.policy.Window, subject, c.RealIP())
	if err != nil {
		return err
	}
	if state.RetryAfter > 0 {
		a.log.Warn("Re-authentication rejected while locked.", "scope", state.LockedKind, "user_id", user.ID,
			"client_ip", c.RealIP(), "retry_after", state.RetryAfter.Round(time.Second))
		minutes := (state.RetryAfter + time.Minute - 1).Truncate(time.Minute)
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((state.RetryAfter+time.Second-1)/time.Second)))
		return &formError{Status: http.StatusTooManyRequests, Key: "login.locked", Args: []any{i18n.FormatDuration(lang, minutes)}}
	}

	// A password longer than any that can match costs no bcrypt slot.
	matches := false
	if !a.hasher.TooLong(pw) {
		release, err := a.bcrypt.Acquire(ctx)
		if err != nil {
			a.busyWarning(c.RealIP(), c.Request().Host)
			c.Response().Header().Set("Retry-After", "1")
			return &formError{Status: http.StatusServiceUnavailable, Key: "login.busy"}
		}
		matches = a.hasher.Matches(user.PasswordHash, pw)
		release()
		if !matches {
			a.warnPepperMissing(user.PasswordHash, c.RealIP(), c.Request().Host)
		}
	}

	if !matches {
		a.log.Warn("Re-authentication failed.", "reason", "wrong_password", "user_id", user.ID, "client_ip", c.RealIP())
		a.event(c, EventLoginFailed, user.ID, "reason", "wrong_password", "step", "reauthentication")
		if err := a.recordFailure(c, subject, user); err != nil {
			return err
		}
		return &formError{Status: http.StatusForbidden, Key: "reauth.wrong"}
	}

	if state.Failures > 0 {
		if err := a.store.ResetLoginFailures(ctx, subject); err != nil {
			return err
		}
	}

	return nil
}
