package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/internal/useragent"
)

// sessionRow is one session on the sessions page. It carries the index id,
// never the session key, which is as secret as the cookie.
type sessionRow struct {
	ID          int64
	Device      string
	ClientIP    string
	Started     string
	StartedISO  string
	LastSeen    string
	LastSeenISO string
	Current     bool
}

type sessionsData struct {
	// Sessions lists the current session first, then the others by their
	// last request, newest first.
	Sessions  []sessionRow
	HasOthers bool
	// ReauthNote warns that ending a session will ask for the password,
	// and is empty while the login is recent.
	ReauthNote string
}

// reauthData is the data of the page that requests the current password
// before a sensitive change.
type reauthData struct {
	// Action is the path that the form posts to again.
	Action string
	// ID is the id field of that form, or 0 for none.
	ID int64
	// ActionKey is the catalog key of the sentence that names the change
	// that the password confirms.
	ActionKey string
	// Cancel is the page that the cancel link leads back to, or "" for the
	// sessions page.
	Cancel string
}

func (a *App) sessionsShow(c echo.Context) error {
	page := a.newPage(c, "sessions.title")
	switch c.QueryParam("revoked") {
	case "one":
		page.Notice = page.T("sessions.revoked")
	case "others":
		page.Notice = page.T("sessions.revoked_others")
	}

	return a.renderSessions(c, http.StatusOK, page)
}

// renderSessions lists the user's active sessions on page.
func (a *App) renderSessions(c echo.Context, status int, page *Page) error {
	user, s := userOf(c), sessionOf(c)
	list, err := a.store.UserSessions(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	data := sessionsData{Sessions: make([]sessionRow, 0, len(list))}
	for _, us := range list {
		row := newSessionRow(page, us, us.SessionKey == s.Key())
		if row.Current {
			data.Sessions = append([]sessionRow{row}, data.Sessions...)
		} else {
			data.Sessions = append(data.Sessions, row)
			data.HasOthers = true
		}
	}
	if !a.recentlyAuthenticated(c) {
		data.ReauthNote = page.T("sessions.reauth_note", i18n.FormatDuration(page.Lang, reauthWindow))
	}
	page.Data = data

	return a.render(c, status, "account_sessions", page)
}

func newSessionRow(page *Page, us db.UserSession, current bool) sessionRow {
	agent := useragent.Parse(us.UserAgent)
	browser := agent.Browser
	switch {
	case browser == "":
		browser = page.T("sessions.unknown_browser")
	case agent.Version != "":
		browser += " " + agent.Version
	}
	system := agent.OS
	if system == "" {
		system = page.T("sessions.unknown_os")
	}

	return sessionRow{
		ID:          us.ID,
		Device:      page.T("sessions.browser_on_os", browser, system),
		ClientIP:    us.ClientIP,
		Started:     i18n.FormatTime(page.Lang, us.CreatedAt),
		StartedISO:  us.CreatedAt.UTC().Format(time.RFC3339),
		LastSeen:    i18n.FormatTime(page.Lang, us.LastSeenAt),
		LastSeenISO: us.LastSeenAt.UTC().Format(time.RFC3339),
		Current:     current,
	}
}

// sessionRevoke ends one session of the user, chosen by its index id.
// Ending the current session logs the user out.
func (a *App) sessionRevoke(c echo.Context) error {
	user, s := userOf(c), sessionOf(c)
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Request().PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusBadRequest, Key: "error.400", Err: err}
	}

	if err := a.reauthenticate(c); err != nil {
		return a.reauthFailed(c, err, reauthData{Action: "/account/sessions/revoke", ID: id, ActionKey: "reauth.action_revoke"})
	}

	list, err := a.store.UserSessions(ctx, user.ID)
	if err != nil {
		return err
	}
	var target *db.UserSession
	for i := range list {
		if list[i].ID == id {
			target = &list[i]
		}
	}
	if target == nil {
		return a.sessionNotFound(c)
	}

	err = a.store.DeleteUserSession(ctx, user.ID, id)
	if errors.Is(err, db.ErrNotFound) {
		return a.sessionNotFound(c)
	}
	if err != nil {
		return err
	}

	current := target.SessionKey == s.Key()
	a.event(c, EventSessionRevoked, user.ID, "session_id", id, "current", current)
	if !current {
		return a.redirect(c, "/account/sessions?revoked=one")
	}

	// The row is gone, so only the cookie is left to clear, as a logout
	// does.
	a.sessions.ClearCookie(c.Response())
	c.Response().Header().Set("Clear-Site-Data", `"cache", "storage"`)

	return a.redirect(c, "/login?logged_out=1")
}

// sessionsRevokeOthers ends every session of the user except the current one.
func (a *App) sessionsRevokeOthers(c echo.Context) error {
	user, s := userOf(c), sessionOf(c)
	if err := a.reauthenticate(c); err != nil {
		return a.reauthFailed(c, err, reauthData{Action: "/account/sessions/revoke-others", ActionKey: "reauth.action_revoke_other"})
	}

	ended, err := a.store.DeleteUserSessions(c.Request().Context(), user.ID, s.Key())
	if err != nil {
		return err
	}
	a.event(c, EventSessionRevoked, user.ID, "scope", "others", "sessions_ended", ended)

	return a.redirect(c, "/account/sessions?revoked=others")
}

// sessionNotFound shows the sessions page with status 404, for an id that
// is not one of the user's active sessions.
func (a *App) sessionNotFound(c echo.Context) error {
	page := a.newPage(c, "sessions.title")
	page.Error = page.T("sessions.not_found")

	return a.renderSessions(c, http.StatusNotFound, page)
}

// reauthFailed shows the page that requests the current password, with the
// message of the *formError that reauthenticate returned. Any other error
// goes to the error page.
func (a *App) reauthFailed(c echo.Context, err error, data reauthData) error {
	var failed *formError
	if !errors.As(err, &failed) {
		return err
	}

	page := a.newPage(c, "reauth.title")
	page.Error = page.T(failed.Key, failed.Args...)
	page.Data = data

	return a.render(c, failed.Status, "reauth", page)
}
