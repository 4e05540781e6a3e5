package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/i18n"
)

type dashboardData struct {
	Name        string
	Email       string
	Started     string
	StartedISO  string
	Expires     string
	ExpiresISO  string
	IdleTimeout string
	Notices     *noticeBox
}

func (a *App) dashboard(c echo.Context) error {
	user, s := userOf(c), sessionOf(c)
	page := a.newPage(c, "dashboard.title")
	notices, err := a.securityNotices(c, page.Lang, "/dashboard")
	if err != nil {
		return err
	}

	name := user.DisplayName
	if name == "" {
		name = user.Email
	}
	page.Data = dashboardData{
		Name:        name,
		Email:       user.Email,
		Started:     i18n.FormatTime(page.Lang, s.AuthedAt),
		StartedISO:  s.AuthedAt.UTC().Format(time.RFC3339),
		Expires:     i18n.FormatTime(page.Lang, s.ExpiresAt),
		ExpiresISO:  s.ExpiresAt.UTC().Format(time.RFC3339),
		IdleTimeout: i18n.FormatDuration(page.Lang, a.idleTimeout),
		Notices:     notices,
	}

	return a.render(c, http.StatusOK, "dashboard", page)
}
