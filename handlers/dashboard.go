package handlers

import (
	"bytes"
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
	lang := langOf(c)
	notices, err := a.securityNotices(c, lang, "/dashboard")
	if err != nil {
		return err
	}

	name := user.DisplayName
	if name == "" {
		name = user.Email
	}
	var values [dashboardValueCount]string
	values[dashboardName] = name
	values[dashboardEmail] = user.Email
	values[dashboardStarted] = i18n.FormatTime(lang, s.AuthedAt)
	values[dashboardStartedISO] = s.AuthedAt.UTC().Format(time.RFC3339)
	values[dashboardExpires] = i18n.FormatTime(lang, s.ExpiresAt)
	values[dashboardExpiresISO] = s.ExpiresAt.UTC().Format(time.RFC3339)

	if st := a.dashboardStencils[dashboardStencilKey{lang, user.Admin()}]; notices == nil && st != nil {
		// newPage signs the CSRF token on the template path, so it is
		// signed here only for the stencil.
		values[dashboardCSRFToken] = csrfTokenOf(c)
		buf := pageBuffers.Get().(*bytes.Buffer)
		defer releasePageBuffer(buf)
		st.write(buf, values[:])
		setPageHeaders(c, lang)
		return c.HTMLBlob(http.StatusOK, buf.Bytes())
	}

	page := a.newPage(c, "dashboard.title")
	page.Data = a.dashboardData(lang, values[:], notices)

	return a.render(c, http.StatusOK, "dashboard", page)
}

// dashboardData builds the template data of the dashboard from values, the
// request-specific strings in the order of the dashboard* constants.
func (a *App) dashboardData(lang string, values []string, notices *noticeBox) dashboardData {
	return dashboardData{
		Name:        values[dashboardName],
		Email:       values[dashboardEmail],
		Started:     values[dashboardStarted],
		StartedISO:  values[dashboardStartedISO],
		Expires:     values[dashboardExpires],
		ExpiresISO:  values[dashboardExpiresISO],
		IdleTimeout: i18n.FormatDuration(lang, a.idleTimeout),
		Notices:     notices,
	}
}
