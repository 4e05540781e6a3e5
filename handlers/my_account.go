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
	rows := eventRows(page.Lang, events)
	for i := range rows {
		// The client IP and browser of an event that an admin caused are
		// the admin's, which the user would not recognize as a device.
		if rows[i].By != "" {
			rows[i].ClientIP = ""
			rows[i].Browser = ""
		}
	}
	page.Data = myAccountData{
		Name:        user.DisplayName,
		Email:       user.Email,
		Admin:       user.Admin(),
		EventsLimit: userEventsLimit,
		Events:      rows,
	}

	return a.render(c, http.StatusOK, "my_account", page)
}
