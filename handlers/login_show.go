package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// loginForm is the data of the login page.
type loginForm struct {
	Email string
	// Next is the local path to go to after the login, or "" for the
	// dashboard. The page carries it in a hidden field.
	Next string
}

// newLoginForm keeps the typed email unless it is too long to be an
// address, and keeps next only if it is a local path.
func newLoginForm(email, next string) loginForm {
	form := loginForm{Email: email}
	if len(email) > maxEmailLength {
		form.Email = ""
	}
	if localPath(next) {
		form.Next = next
	}

	return form
}

func (a *App) loginShow(c echo.Context) error {
	form := newLoginForm("", c.QueryParam("next"))
	if userOf(c) != nil {
		return a.redirect(c, nextOrDefault(form.Next))
	}

	page := a.newPage(c, "login.title")
	page.Data = form
	if c.QueryParam("logged_out") == "1" {
		page.Notice = page.T("logout.done")
	}

	return a.render(c, http.StatusOK, "login", page)
}
