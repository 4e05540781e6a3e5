package handlers

import (
	"github.com/labstack/echo/v4"
)

func (a *App) logout(c echo.Context) error {
	s := sessionOf(c)
	if err := a.sessions.Logout(c.Response(), c.Request(), s); err != nil {
		return err
	}
	if s.Authenticated() {
		a.log.Info("User logged out.", "user_id", s.UserID, "client_ip", c.RealIP())
	}

	return a.redirect(c, "/login?logged_out=1")
}
