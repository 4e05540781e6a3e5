package handlers

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
)

// pageTimeout bounds the database work of one page request. It is longer
// than the database's statement_timeout (5 s), so a slow statement fails
// there first with a clear error, and shorter than the 7 s that a shutdown
// waits for requests in flight.
const pageTimeout = 6 * time.Second

func withPageTimeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), pageTimeout)
		defer cancel()

		c.SetRequest(c.Request().WithContext(ctx))

		return next(c)
	}
}
