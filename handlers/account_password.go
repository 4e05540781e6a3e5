package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/password"
)

func (a *App) passwordShow(c echo.Context) error {
	page := a.newPage(c, "password.title")
	switch {
	case c.QueryParam("changed") == "1":
		page.Notice = page.T("password.changed")
	case c.QueryParam("weak") == "1":
		page.Error = page.T("password.weak_at_login")
	}

	return a.render(c, http.StatusOK, "account_password", page)
}

// passwordChange sets a new password. The current password is required
// even right after a login. On success the current session continues under
// a new ID and every other session of the user ends.
func (a *App) passwordChange(c echo.Context) error {
	user, r := userOf(c), c.Request()
	current := c.Request().PostFormValue(currentPasswordField)
	newPassword := c.Request().PostFormValue("new_password")
	confirmation := c.Request().PostFormValue("confirm_password")

	// The checks that need no bcrypt come first, so that a typing mistake
	// costs no slot and no throttle failure.
	switch {
	case current == "":
		return a.passwordFailed(c, http.StatusUnprocessableEntity, "password.current_missing")
	case newPassword == "" || confirmation == "":
		return a.passwordFailed(c, http.StatusUnprocessableEntity, "password.new_missing")
	}
	if err := a.hasher.ValidateNew(newPassword, user.Email); err != nil {
		key, ok := newPasswordErrorKey(err)
		if !ok {
			return err
		}
		return a.passwordFailed(c, http.StatusUnprocessableEntity, key)
	}
	switch {
	case newPassword != confirmation:
		return a.passwordFailed(c, http.StatusUnprocessableEntity, "password.mismatch")
	case newPassword == current:
		return a.passwordFailed(c, http.StatusUnprocessableEntity, "password.same_as_current")
	}

	if err := a.verifyCurrentPassword(c, user, current); err != nil {
		var failed *formError
		if !errors.As(err, &failed) {
			return err
		}
		return a.passwordFailed(c, failed.Status, failed.Key, failed.Args...)
	}

	release, err := a.bcrypt.Acquire(r.Context())
	if err != nil {
		a.busyWarning(c.RealIP(), r.Host)
		return a.passwordFailed(c, http.StatusServiceUnavailable, "login.busy")
	}
	hash, err := a.hasher.Hash(newPassword)
	release()
	if err != nil {
		return err
	}

	// The new hash and the end of every other session, which may have been
	// opened with the old password, commit together.
	ended, err := a.store.ChangePassword(r.Context(), user.ID, hash, sessionOf(c).Key())
	if err != nil {
		return err
	}
	a.log.Info("User changed the password.", "user_id", user.ID, "client_ip", c.RealIP(), "sessions_ended", ended)

	// The current session gets a new ID, so that a copy of the old cookie
	// is worthless. The new password invalidates every device cookie of the
	// user, so this browser gets a new one. The event is recorded after the
	// new session starts, so that it belongs to that session and is no
	// notice there, and also when the start fails.
	_, err = a.startSession(c, user.ID)
	a.event(c, EventPasswordChanged, user.ID, "sessions_ended", ended)
	if err != nil {
		return err
	}
	a.csrf.rotate(c)
	a.devices.issue(c, user.ID, hash, time.Now())

	return a.redirect(c, "/account/password?changed=1")
}

// newPasswordErrorKey returns the catalog key of an error that
// password.Hasher.ValidateNew returns.
func newPasswordErrorKey(err error) (string, bool) {
	keys := []struct {
		err error
		key string
	}{
		{password.ErrTooShort, "password.too_short"},
		{password.ErrTooLong, "password.too_long"},
		{password.ErrTooManyChars, "password.too_many_chars"},
		{password.ErrInvalidUTF8, "password.invalid_utf8"},
		{password.ErrEqualsEmail, "password.equals_email"},
		{password.ErrCommon, "password.common"},
	}
	for _, k := range keys {
		if errors.Is(err, k.err) {
			return k.key, true
		}
	}

	return "", false
}

// passwordFailed shows the password form again with a message. The
// password fields are never filled in again.
func (a *App) passwordFailed(c echo.Context, status int, key string, args ...any) error {
	page := a.newPage(c, "password.title")
	page.Error = page.T(key, args...)

	return a.render(c, status, "account_password", page)
}
