package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/password"
)

const (
	// adminUsersPerPage is the length of one page of the user list.
	adminUsersPerPage = 50
	// recentEventsLimit is how many events the admin events page shows.
	recentEventsLimit = 100
	// userEventsLimit is how many of a user's latest events the account
	// page and the admin page of a user show.
	userEventsLimit = 20
	// maxDisplayNameLength caps a display name set by an admin, in
	// characters.
	maxDisplayNameLength = 100
)

// adminStore is the part of the database that the admin pages need.
type adminStore interface {
	ListUsers(ctx context.Context, limit, offset int) ([]db.UserSummary, error)
	CreateUserWithRole(ctx context.Context, email, displayName, passwordHash, role string) (*db.User, error)
	DisableUser(ctx context.Context, id int64) (bool, error)
	EnableUser(ctx context.Context, id int64) (bool, error)
	SetUserRole(ctx context.Context, id int64, role string) error
	ChangeRoleAsAdmin(ctx context.Context, actorID, targetID int64, role string) error
	SetPassword(ctx context.Context, id int64, passwordHash string) error
}

// adminRoutes adds the admin pages to g, whose prefix is /admin and whose
// middleware includes requireAdmin. Every POST also needs a recent login
// or the admin's current password (see reauthenticate).
func (a *App) adminRoutes(g *echo.Group) {
	getOrHead := []string{http.MethodGet, http.MethodHead}
	g.Match(getOrHead, "", func(c echo.Context) error { return a.redirect(c, "/admin/users") })
	g.Match(getOrHead, "/users", a.adminUsers)
	g.POST("/users", a.adminCreateUser)
	g.Match(getOrHead, "/users/:id", a.adminUser)
	g.POST("/users/:id/disable", a.adminDisableUser)
	g.POST("/users/:id/enable", a.adminEnableUser)
	g.POST("/users/:id/role", a.adminSetRole)
	g.POST("/users/:id/password", a.adminResetPassword)
	g.POST("/users/:id/sessions/end", a.adminEndSessions)
	g.POST("/users/:id/keys/remove", a.adminRemoveKeys)
	g.Match(getOrHead, "/events", a.adminEvents)
}

// requireAdmin sends an anonymous visitor to the login page, like
// requireUser, and responds with 403 to a user without the admin role.
func (a *App) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		user := userOf(c)
		if user == nil {
			return a.requireUser(next)(c)
		}
		if !user.Admin() {
			return &Error{Status: http.StatusForbidden, Key: "error.403"}
		}

		return next(c)
	}
}

// adminEvents shows the latest events of every user, including failed
// logins with unknown emails, which belong to no user.
func (a *App) adminEvents(c echo.Context) error {
	events, err := a.store.RecentEvents(c.Request().Context(), recentEventsLimit)
	if err != nil {
		return err
	}

	page := a.newPage(c, "admin.events_title")
	page.Data = eventRows(page.Lang, events)

	return a.render(c, http.StatusOK, "admin_events", page)
}

// adminTarget returns the user named by the :id path parameter, or a 404
// error.
func (a *App) adminTarget(c echo.Context) (*db.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, &Error{Status: http.StatusNotFound, Key: "error.404"}
	}

	user, err := a.store.UserByID(c.Request().Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, &Error{Status: http.StatusNotFound, Key: "error.404", Err: err}
	}

	return user, err
}

// adminUserRow is a user as the admin pages show it.
type adminUserRow struct {
	ID             int64
	Email          string
	Name           string
	Admin          bool
	Created        string
	CreatedISO     string
	Disabled       bool
	DisabledSince  string
	DisabledISO    string
	ActiveSessions int
}

func newAdminUserRow(lang string, u *db.User, activeSessions int) adminUserRow {
	row := adminUserRow{
		ID:             u.ID,
		Email:          u.Email,
		Name:           u.DisplayName,
		Admin:          u.Admin(),
		Created:        i18n.FormatTime(lang, u.CreatedAt),
		CreatedISO:     u.CreatedAt.UTC().Format(time.RFC3339),
		ActiveSessions: activeSessions,
	}
	if u.DisabledAt != nil {
		row.Disabled = true
		row.DisabledSince = i18n.FormatTime(lang, *u.DisabledAt)
		row.DisabledISO = u.DisabledAt.UTC().Format(time.RFC3339)
	}

	return row
}

// adminEventDetails returns the details of an event that an admin causes
// on another user's account.
func adminEventDetails(admin *db.User, details ...any) []any {
	return append([]any{"by", EventByAdmin, "admin_id", admin.ID}, details...)
}

// adminPasswordKey returns the message key for an error of
// password.Hasher.ValidateNew on a password that an admin sets for a user, or the
// key of the generic 400 message for any other error.
func adminPasswordKey(err error) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return "password.too_short"
	case errors.Is(err, password.ErrTooLong):
		return "password.too_long"
	case errors.Is(err, password.ErrTooManyChars):
		return "password.too_many_chars"
	case errors.Is(err, password.ErrInvalidUTF8):
		return "password.invalid_utf8"
	case errors.Is(err, password.ErrEqualsEmail):
		return "admin.password_equals_email"
	case errors.Is(err, password.ErrCommon):
		return "password.common"
	}

	return "error.400"
}

// hashNewPassword hashes a password that passed ValidateNew of the app's
// hasher in a bcrypt slot. It returns a *formError with status 503 when
// every slot stays busy.
func (a *App) hashNewPassword(c echo.Context, pw string) (string, error) {
	release, err := a.bcrypt.Acquire(c.Request().Context())
	if err != nil {
		a.busyWarning(c.RealIP(), c.Request().Host)
		c.Response().Header().Set("Retry-After", "1")
		return "", &formError{Status: http.StatusServiceUnavailable, Key: "login.busy"}
	}
	defer release()

	return a.hasher.Hash(pw)
}
