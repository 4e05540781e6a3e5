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
		a.event(c, EventLogout, s.UserID)
	}

	// "cache" drops this site's HTTP cache, and in some browsers its
	// back/forward cache, so that Back does not show the dashboard again.
	// "storage" drops any DOM storage. "cookies" is left out because
	// browsers clear the cookies of the whole registrable domain, which
	// would also log the user out of sibling subdomains such as other
	// CapRover apps and drop the language cookie. Logout expires the
	// session cookie by name instead. Browsers read the header only over
	// HTTPS.
	c.Response().Header().Set("Clear-Site-Data", `"cache", "storage"`)

	return a.redirect(c, "/login?logged_out=1")
}
