package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
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

	// A client that went away needs no page, and its request is no fault
	// of the server.
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		a.log.Debug("Request abandoned by the client.", "path", c.Request().URL.Path, "client_ip", c.RealIP())
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

	args := []any{"status", status, "error", err, "method", c.Request().Method, "path", c.Request().URL.Path, "client_ip", c.RealIP()}
	switch {
	case status == http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", "5")
		// During an outage every request fails alike, so one line a
		// minute with a count carries as much as a line per request.
		a.unavailableWarning(args)
	case status >= 500:
		a.log.Error("Request failed.", args...)
	case status == http.StatusForbidden:
		a.log.Warn("Request failed.", args...)
	default:
		a.log.Debug("Request failed.", args...)
	}

	page := a.newPage(c, "error.title")
	if titleKey := fmt.Sprintf("error.title.%d", status); i18n.Has(titleKey) {
		page.Title = page.T(titleKey)
	}
	page.Error = page.T(key)
	if err := a.render(c, status, "error", page); err != nil {
		a.log.Error("Error page could not be rendered.", "error", err)
		c.String(status, page.Error)
	}
}

// newUnavailableWarning returns a logger of 503 responses that writes at
// most one line a minute, with the number of 503s it left out.
func newUnavailableWarning(log func(msg string, args ...any)) func(args []any) {
	var mu sync.Mutex
	var last time.Time
	var suppressed int

	return func(args []any) {
		mu.Lock()
		defer mu.Unlock()

		if !last.IsZero() && time.Since(last) < time.Minute {
			suppressed++
			return
		}
		last = time.Now()
		log("Request failed because the database is unavailable.", append(args, "suppressed", suppressed)...)
		suppressed = 0
	}
}
