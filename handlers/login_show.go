package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// loginForm is the data of the login page.
type loginForm struct {
	Email string
}

func (a *App) loginShow(c echo.Context) error {
	if userOf(c) != nil {
		return a.redirect(c, "/dashboard")
	}

	page := a.newPage(c, "login.title")
	page.Data = loginForm{}
	if c.QueryParam("logged_out") == "1" {
		page.Notice = page.T("logout.done")
	}

	return a.render(c, http.StatusOK, "login", page)
}
