package handlers

import (
	"github.com/labstack/echo/v4"
)

// Kinds of security event.
const (
	EventLoginSucceeded  = "login_succeeded"
	EventLoginFailed     = "login_failed"
	EventLogout          = "logout"
	EventLockout         = "lockout"
	EventPasswordChanged = "password_changed"
	EventSessionRevoked  = "session_revoked"
	EventUserDisabled    = "user_disabled"
	EventUserEnabled     = "user_enabled"
)

// event records a security event about userID (0 when unknown) with the
// request's client IP and user agent, and logs it. details are slog-style
// key and value pairs and must hold no secret.
//
// TODO: store events in a security_events table as well; for now they only
// go to the log.
func (a *App) event(c echo.Context, kind string, userID int64, details ...any) {
	args := []any{"event", kind, "client_ip", c.RealIP()}
	if userID != 0 {
		args = append(args, "user_id", userID)
	}
	args = append(args, details...)

	a.log.Info("Security event.", args...)
}
