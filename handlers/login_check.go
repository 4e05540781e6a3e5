package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/session"
)

// maxEmailLength is the longest address RFC 5321 allows in a path.
const maxEmailLength = 254

func (a *App) loginCheck(c echo.Context) error {
	r := c.Request()
	// Only the body counts: credentials in the query string would end up in
	// proxy logs and browser history.
	email := strings.TrimSpace(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	form := newLoginForm(email, r.PostFormValue("next"))

	if email == "" || pw == "" {
		return a.loginFailed(c, form, http.StatusUnprocessableEntity, "login.missing")
	}

	// The throttle is read before bcrypt, so an attempt on a locked account
	// or IP costs no CPU. A device cookie lifts the account's lock only for
	// its own user, so with one the user is looked up first. Without one,
	// a locked attempt costs a single query.
	ctx := r.Context()
	var user *db.User
	var err error
	_, hasDevice := a.devices.read(c)
	if hasDevice {
		if user, err = a.userForLogin(ctx, email); err != nil {
			return err
		}
	}
	subject := a.loginSubject(c, email, user)
	state, err := a.store.LoginThrottle(ctx, a.throttle.policy.Window, subject, c.RealIP())
	if err != nil {
		return err
	}
	if state.RetryAfter > 0 {
		return a.loginLocked(c, form, subject, state)
	}

	if !hasDevice {
		if user, err = a.userForLogin(ctx, email); err != nil {
			return err
		}
		if user != nil {
			subject.UserID = user.ID
		}
	}

	started := time.Now()
	matches := false
	// A password longer than any that can match costs no bcrypt slot, and
	// padFailure below makes its failure take as long as a comparison.
	if !a.hasher.TooLong(pw) {
		release, err := a.bcrypt.Acquire(r.Context())
		if err != nil {
			return a.loginBusy(c, form)
		}
		// An unknown email is compared against a dummy hash so that the
		// response takes as long as for a wrong password.
		hash := a.dummyHash()
		if user != nil {
			hash = user.PasswordHash
		}
		matches = a.hasher.Matches(hash, pw)
		release()
		if !matches {
			a.warnPepperMissing(hash, c.RealIP(), r.Host)
		}
	}

	reason := ""
	switch {
	case user == nil:
		reason = "unknown_email"
	case !matches:
		reason = "wrong_password"
	case user.Disabled():
		reason = "user_disabled"
	}
	if reason != "" {
		args := []any{"reason", reason, "scope", subject.Kind, "client_ip", c.RealIP()}
		var userID int64
		if user != nil {
			userID = user.ID
			args = append(args, "user_id", user.ID)
		}
		a.log.Warn("Login failed.", args...)
		a.event(c, EventLoginFailed, userID, "reason", reason)

		if err := a.recordFailure(c, subject, user); err != nil {
			return err
		}
		a.padFailure(ctx, started)
		return a.loginFailed(c, form, http.StatusUnauthorized, "login.failed")
	}

	user.PasswordHash = a.upgradeHash(ctx, user, pw)

	// A user with a security key has no session until the key's assertion
	// verifies too. The password rules need the password, so they are
	// checked now. The failure count is cleared only once the key
	// verifies, so that failed key steps add up to a lock.
	owner, err := a.keyOwnerOf(ctx, user)
	if err != nil {
		return err
	}
	if len(owner.keys) > 0 {
		weak := a.hasher.ValidateNew(pw, user.Email) != nil
		return a.startKeyLogin(c, owner, form.Next, weak)
	}

	if err := a.completeLogin(c, user, subject, state); err != nil {
		return err
	}
	a.log.Info("User logged in.", "user_id", user.ID, "client_ip", c.RealIP())
	a.event(c, EventLoginSucceeded, user.ID, a.newDeviceDetails(c, user.ID)...)

	// A password set before the current rules, for example one carried
	// over from the old app, is checked now that it is known: a short or
	// common one sends the user to change it.
	if err := a.hasher.ValidateNew(pw, user.Email); err != nil {
		a.log.Info("User logged in with a password that breaks the current rules; asking for a new one.", "user_id", user.ID, "rule", err.Error())
		return a.redirect(c, "/account/password?weak=1")
	}

	return a.redirect(c, nextOrDefault(form.Next))
}

// completeLogin starts the session of a user who passed every step of the
// login, under a new ID, and issues a new CSRF token and device cookie. A
// login through a device cookie clears only that device's failure count,
// because the account's count belongs to browsers without one, possibly an
// attacker's. It runs out on its own.
func (a *App) completeLogin(c echo.Context, user *db.User, subject db.LoginSubject, state db.LoginThrottle) error {
	if state.Failures > 0 {
		if err := a.store.ResetLoginFailures(c.Request().Context(), subject); err != nil {
			return err
		}
	}

	if _, err := a.startSession(c, user.ID); err != nil {
		return err
	}
	a.csrf.rotate(c)
	// The device cookie is signed with the hash that the next login reads,
	// so it follows an upgrade to a peppered hash. Device cookies of other
	// browsers, signed with the old hash, stop counting until those
	// browsers log in again.
	a.devices.issue(c, user.ID, user.PasswordHash, time.Now())

	return nil
}

// userForLogin returns the user with the email, or nil when there is none.
// An email that no account can have (too long, not UTF-8, control
// characters) is not looked up.
func (a *App) userForLogin(ctx context.Context, email string) (*db.User, error) {
	if !plausibleEmail(email) {
		return nil, nil
	}

	user, err := a.store.UserByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}

	return user, err
}

func (a *App) loginFailed(c echo.Context, form loginForm, status int, key string) error {
	page := a.newPage(c, "login.title")
	page.Error = page.T(key)
	page.Data = form

	return a.render(c, status, "login", page)
}

// startSession replaces the request's session with a new one for userID,
// under a new ID. The session is added to the index of the user's sessions
// before it exists, so that every session can be listed and ended.
func (a *App) startSession(c echo.Context, userID int64) (*session.Session, error) {
	w, r := c.Response(), c.Request()

	index := func(key string) error {
		return a.store.AddUserSession(r.Context(), key, userID, r.UserAgent(), c.RealIP())
	}

	s, err := a.sessions.Login(w, r, sessionOf(c), userID, index)
	if err != nil {
		return nil, err
	}
	// Events that the rest of the request records belong to the new
	// session, so that its notices leave them out.
	c.Set(ctxSession, s)

	return s, nil
}
