package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// myAccountData is the data of the account page.
type myAccountData struct {
	Name        string
	Email       string
	Admin       bool
	EventsLimit int
	Events      []eventRow
	Notices     *noticeBox
}

// myAccount shows the user's name and email, links to the account's
// sessions and password pages, and the user's latest security events.
func (a *App) myAccount(c echo.Context) error {
	user := userOf(c)
	events, err := a.store.UserEvents(c.Request().Context(), user.ID, userEventsLimit)
	if err != nil {
		return err
	}

	page := a.newPage(c, "myaccount.title")
	notices, err := a.securityNotices(c, page.Lang, "/account")
	if err != nil {
		return err
	}
	page.Data = myAccountData{
		Name:        user.DisplayName,
		Email:       user.Email,
		Admin:       user.Admin(),
		EventsLimit: userEventsLimit,
		Events:      hideAdminDevices(eventRows(page.Lang, events)),
		Notices:     notices,
	}

	return a.render(c, http.StatusOK, "my_account", page)
}
