package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
)

// Error is an error that the user sees: an HTTP status and the catalog key of
// the message shown on the page.
type Error struct {
	Status int
	Key    string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Key, e.Err)
	}

	return fmt.Sprintf("%d %s", e.Status, e.Key)
}

func (e *Error) Unwrap() error { return e.Err }

// errorKeys maps the statuses Echo itself returns to catalog keys.
var errorKeys = map[int]string{
	http.StatusBadRequest:            "error.400",
	http.StatusForbidden:             "error.403",
	http.StatusNotFound:              "error.404",
	http.StatusMethodNotAllowed:      "error.405",
	http.StatusRequestEntityTooLarge: "error.413",
	http.StatusServiceUnavailable:    "error.503",
}

// handleError is Echo's HTTPErrorHandler. Every error a handler or
// middleware returns ends here and becomes a page in the user's language.
func (a *App) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		a.log.Error("Request failed after the response started.", "error", err, "path", c.Path(), "client_ip", c.RealIP())
		return
	}

	status, key := http.StatusInternalServerError, "error.500"
	var pageErr *Error
	var echoErr *echo.HTTPError
	switch {
	case errors.As(err, &pageErr):
		status, key = pageErr.Status, pageErr.Key
	case db.IsUnavailable(err):
		status, key = http.StatusServiceUnavailable, "error.503"
	case errors.As(err, &echoErr):
		status = echoErr.Code
		if k, ok := errorKeys[status]; ok {
			key = k
		} else if status < 500 {
			key = "error.400"
		}
	}

	level := slog.LevelDebug
	switch {
	case status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
		c.Response().Header().Set("Retry-After", "5")
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusForbidden:
		level = slog.LevelWarn
	}
	a.log.Log(c.Request().Context(), level, "Request failed.", "status", status, "error", err,
		"method", c.Request().Method, "path", c.Request().URL.Path, "client_ip", c.RealIP())

	page := a.newPage(c, "error.title")
	page.Title = http.StatusText(status)
	page.Error = page.T(key)
	if err := a.render(c, status, "error", page); err != nil {
		a.log.Error("Error page could not be rendered.", "error", err)
		c.String(status, page.Error)
	}
}
