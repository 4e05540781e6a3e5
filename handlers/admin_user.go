package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// adminUserData is the data of the admin page of one user.
type adminUserData struct {
	User adminUserRow
	// Self is true on the admin's own page, which offers no action that
	// would lock the admin out.
	Self bool
	// NeedPassword adds the current password field to every form, because
	// the admin's login is older than reauthWindow.
	NeedPassword bool
	ReauthWindow string
	Events       []eventRow
	// SecurityKeys is the number of the user's security keys.
	SecurityKeys int
}

// adminDoneKeys maps the done query parameter, which the actions set when
// they redirect, to the notice that the page shows. Other values show none.
var adminDoneKeys = map[string]string{
	"created":  "admin.done_created",
	"disabled": "admin.done_disabled",
	"enabled":  "admin.done_enabled",
	"role":     "admin.done_role",
	"password": "admin.done_password",
	"sessions": "admin.done_sessions",
	"keys":     "admin.done_keys",
}

func (a *App) adminUser(c echo.Context) error {
	target, err := a.adminTarget(c)
	if err != nil {
		return err
	}

	return a.showAdminUser(c, target, http.StatusOK, nil)
}

// showAdminUser renders the admin page of target with, if failed is not
// nil, its message.
func (a *App) showAdminUser(c echo.Context, target *db.User, status int, failed *formError) error {
	ctx := c.Request().Context()
	sessions, err := a.store.UserSessions(ctx, target.ID)
	if err != nil {
		return err
	}
	events, err := a.store.UserEvents(ctx, target.ID, userEventsLimit)
	if err != nil {
		return err
	}
	keys, err := a.store.SecurityKeys(ctx, target.ID)
	if err != nil {
		return err
	}

	page := a.newPage(c, "admin.user_title")
	page.Data = adminUserData{
		User:         newAdminUserRow(page.Lang, target, len(sessions)),
		Self:         target.ID == userOf(c).ID,
		NeedPassword: !a.recentlyAuthenticated(c),
		ReauthWindow: i18n.FormatDuration(page.Lang, reauthWindow),
		Events:       eventRows(page.Lang, events),
		SecurityKeys: len(keys),
	}
	if failed != nil {
		page.Error = page.T(failed.Key, failed.Args...)
	} else if key, ok := adminDoneKeys[c.QueryParam("done")]; ok {
		page.Notice = page.T(key)
	}

	return a.render(c, status, "admin_user", page)
}

// adminAction runs one action of the admin page of a user. It loads the
// user, rejects the action when check returns a *formError, checks the
// re-authentication and then runs act. A *formError from act is shown on
// the page, and success redirects to the page with the notice done.
func (a *App) adminAction(c echo.Context, done string, check func(admin, target *db.User) *formError, act func(admin, target *db.User) error) error {
	admin := userOf(c)
	target, err := a.adminTarget(c)
	if err != nil {
		return err
	}

	if check != nil {
		if failed := check(admin, target); failed != nil {
			return a.showAdminUser(c, target, failed.Status, failed)
		}
	}
	err = a.reauthenticate(c)
	if err == nil {
		err = act(admin, target)
	}
	var failed *formError
	if errors.As(err, &failed) {
		return a.showAdminUser(c, target, failed.Status, failed)
	}
	if err != nil {
		return err
	}

	return a.redirect(c, fmt.Sprintf("/admin/users/%d?done=%s", target.ID, done))
}

// rejectSelf returns a check that rejects an action on the admin's own
// account with the message key.
func rejectSelf(key string) func(admin, target *db.User) *formError {
	return func(admin, target *db.User) *formError {
		if admin.ID == target.ID {
			return &formError{Status: http.StatusUnprocessableEntity, Key: key}
		}

		return nil
	}
}

// adminDisableUser disables a user and ends every session of it at once.
func (a *App) adminDisableUser(c echo.Context) error {
	return a.adminAction(c, "disabled", rejectSelf("admin.self_disable"), func(admin, target *db.User) error {
		ctx := c.Request().Context()
		changed, err := a.store.DisableUser(ctx, target.ID)
		if err != nil {
			return err
		}
		// The sessions end even when the user was already disabled, in
		// case one was opened before.
		ended, err := a.store.DeleteUserSessions(ctx, target.ID, "")
		if err != nil {
			return err
		}
		if changed {
			a.event(c, EventUserDisabled, target.ID, adminEventDetails(admin, "sessions_ended", ended)...)
		}

		return nil
	})
}

func (a *App) adminEnableUser(c echo.Context) error {
	return a.adminAction(c, "enabled", nil, func(admin, target *db.User) error {
		changed, err := a.store.EnableUser(c.Request().Context(), target.ID)
		if err != nil {
			return err
		}
		if changed {
			a.event(c, EventUserEnabled, target.ID, adminEventDetails(admin)...)
		}

		return nil
	})
}

// adminSetRole gives a user the role in the form. An admin cannot remove
// their own admin role, so at least that admin is left.
func (a *App) adminSetRole(c echo.Context) error {
	role := c.Request().PostFormValue("role")
	check := func(admin, target *db.User) *formError {
		switch {
		case role != db.RoleUser && role != db.RoleAdmin:
			return &formError{Status: http.StatusUnprocessableEntity, Key: "error.400"}
		case admin.ID == target.ID && role != db.RoleAdmin:
			return &formError{Status: http.StatusUnprocessableEntity, Key: "admin.self_demote"}
		}

		return nil
	}

	return a.adminAction(c, "role", check, func(admin, target *db.User) error {
		if target.Role == role {
			return nil
		}
		err := a.store.ChangeRoleAsAdmin(c.Request().Context(), admin.ID, target.ID, role)
		if errors.Is(err, db.ErrNotAdmin) {
			// Another admin removed this admin's role a moment ago.
			return &Error{Status: http.StatusForbidden, Key: "error.403", Err: err}
		}
		if err != nil {
			return err
		}
		a.event(c, EventRoleChanged, target.ID, adminEventDetails(admin, "role", role)...)

		return nil
	})
}

// adminResetPassword sets a new password for a user and ends every session
// of it. Admins change their own password on the password page of their
// account instead, which keeps their current session.
func (a *App) adminResetPassword(c echo.Context) error {
	pw, confirm := c.Request().PostFormValue("password"), c.Request().PostFormValue("password_confirm")
	check := func(admin, target *db.User) *formError {
		if admin.ID == target.ID {
			return &formError{Status: http.StatusUnprocessableEntity, Key: "admin.self_password"}
		}

		return a.validateNewPassword(target.Email, pw, confirm)
	}

	return a.adminAction(c, "password", check, func(admin, target *db.User) error {
		hash, err := a.hashNewPassword(c, pw)
		if err != nil {
			return err
		}

		ctx := c.Request().Context()
		ended, err := a.store.ChangePassword(ctx, target.ID, hash, "")
		if err != nil {
			return err
		}
		a.event(c, EventPasswordChanged, target.ID, adminEventDetails(admin, "sessions_ended", ended)...)

		return nil
	})
}

// adminEndSessions ends every session of a user. On the admin's own page it
// keeps the session of the request, so the admin stays logged in.
func (a *App) adminEndSessions(c echo.Context) error {
	return a.adminAction(c, "sessions", nil, func(admin, target *db.User) error {
		keep := ""
		if admin.ID == target.ID {
			keep = sessionOf(c).Key()
		}
		ended, err := a.store.DeleteUserSessions(c.Request().Context(), target.ID, keep)
		if err != nil {
			return err
		}
		a.event(c, EventSessionRevoked, target.ID, adminEventDetails(admin, "sessions_ended", ended)...)

		return nil
	})
}

// adminRemoveKeys removes every security key of a user who lost them, so
// that the password alone logs in again. An admin removes their own keys on
// /account/keys instead.
func (a *App) adminRemoveKeys(c echo.Context) error {
	return a.adminAction(c, "keys", rejectSelf("admin.self_keys"), func(admin, target *db.User) error {
		removed, err := a.store.DeleteSecurityKeys(c.Request().Context(), target.ID)
		if err != nil {
			return err
		}
		a.event(c, EventSecurityKeyRemoved, target.ID, adminEventDetails(admin, "security_keys_removed", removed)...)

		return nil
	})
}
