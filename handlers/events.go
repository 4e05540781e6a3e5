package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/internal/useragent"
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
	EventUserCreated     = "user_created"
	EventRoleChanged     = "role_changed"
	// EventLoginUnlocked records that `portero user unlock` cleared the
	// failed logins of a user's account and devices.
	EventLoginUnlocked = "login_unlocked"
)

// EventKinds lists every kind of security event. Each has a label in the
// message catalog under "event." and the kind.
var EventKinds = []string{
	EventLoginSucceeded,
	EventLoginFailed,
	EventLogout,
	EventLockout,
	EventPasswordChanged,
	EventSessionRevoked,
	EventUserDisabled,
	EventUserEnabled,
	EventUserCreated,
	EventRoleChanged,
	EventLoginUnlocked,
	EventSecurityKeyAdded,
	EventSecurityKeyRemoved,
}

// Values of the "by" detail of an event that someone other than the user
// caused.
const (
	EventByAdmin = "admin"
	EventByCLI   = "cli"
)

// eventStoreTimeout bounds the insert of one event, which runs even after
// the client hung up.
const eventStoreTimeout = 5 * time.Second

// eventStore is the part of the database that security events need.
type eventStore interface {
	AddEvent(ctx context.Context, e db.SecurityEvent) error
	UserEvents(ctx context.Context, userID int64, limit int) ([]db.SecurityEvent, error)
	RecentEvents(ctx context.Context, limit int) ([]db.SecurityEvent, error)
}

// event logs a security event about userID (0 when unknown) and stores it
// with the request's client IP and User-Agent. details are slog-style key
// and value pairs and must contain no password, cookie, session key or
// typed email. Failures and lockouts are logged at Warn, the rest at Info.
//
// A failed insert is logged at Error and the request goes on: the action
// that the event records has already happened, so an error page would not
// undo it, and the log line still records the event.
func (a *App) event(c echo.Context, kind string, userID int64, details ...any) {
	r := c.Request()
	clientIP := c.RealIP()

	level := slog.LevelInfo
	if kind == EventLoginFailed || kind == EventLockout {
		level = slog.LevelWarn
	}
	args := []any{"event", kind, "client_ip", clientIP}
	if userID != 0 {
		args = append(args, "user_id", userID)
	}
	args = append(args, details...)
	a.log.Log(r.Context(), level, "Security event.", args...)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), eventStoreTimeout)
	defer cancel()
	err := a.store.AddEvent(ctx, db.SecurityEvent{
		UserID:     userID,
		Kind:       kind,
		ClientIP:   clientIP,
		UserAgent:  r.UserAgent(),
		SessionKey: sessionOf(c).Key(),
		Details:    detailsMap(details),
	})
	if err != nil {
		a.log.Error("Security event could not be stored.", "event", kind, "user_id", userID, "client_ip", clientIP, "error", err)
	}
}

// detailsMap turns slog-style key and value pairs into a map.
func detailsMap(pairs []any) map[string]any {
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		key, ok := pairs[i].(string)
		if !ok {
			key = fmt.Sprint(pairs[i])
		}
		m[key] = pairs[i+1]
	}

	return m
}

// eventRow is one security event as the account and admin pages show it.
type eventRow struct {
	Time    string
	TimeISO string
	Label   string
	// By names who caused the event when it was not the user, or is "".
	By       string
	ClientIP string
	// Browser names the browser and operating system of the User-Agent,
	// or is "" when the event has none.
	Browser   string
	UserID    int64
	UserEmail string
	// Details lists the event's details in the page's language, for admins.
	Details []eventDetail
}

func eventRows(lang string, events []db.SecurityEvent) []eventRow {
	rows := make([]eventRow, 0, len(events))
	for _, e := range events {
		row := eventRow{
			Time:      i18n.FormatTime(lang, e.OccurredAt),
			TimeISO:   e.OccurredAt.UTC().Format(time.RFC3339),
			Label:     eventLabel(lang, e.Kind),
			ClientIP:  e.ClientIP,
			Browser:   eventBrowser(lang, e.UserAgent),
			UserID:    e.UserID,
			UserEmail: e.UserEmail,
		}
		switch e.Details["by"] {
		case EventByAdmin:
			row.By = i18n.T(lang, "event.by_admin")
		case EventByCLI:
			row.By = i18n.T(lang, "event.by_cli")
		}
		row.Details = eventDetails(lang, e.Details, row.By != "")
		rows = append(rows, row)
	}

	return rows
}

// eventLabel returns the translated name of an event kind, or the kind
// itself for a kind that has no label.
func eventLabel(lang, kind string) string {
	key := "event." + kind
	if label := i18n.T(lang, key); label != key {
		return label
	}

	return kind
}

// eventBrowser names the browser and operating system of a User-Agent in
// lang, or returns "" for an empty User-Agent.
func eventBrowser(lang, userAgent string) string {
	if userAgent == "" {
		return ""
	}

	agent := useragent.Parse(userAgent)

	return i18n.FormatBrowser(lang, agent.Browser, agent.OS)
}
