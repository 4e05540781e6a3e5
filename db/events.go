package db

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxEventTextLength caps the client IP and User-Agent of an event, in
// bytes. The CHECK constraint on security_events.user_agent allows 512
// characters, which a cut at 512 bytes never exceeds.
const maxEventTextLength = 512

// SecurityEvent is one row of security_events.
type SecurityEvent struct {
	ID         int64
	OccurredAt time.Time
	// UserID is 0 when no user is known, as for a failed login with an
	// unknown email, or when the user was deleted.
	UserID int64
	// UserEmail is the email of UserID when the event was read, or "".
	// AddEvent ignores it.
	UserEmail string
	Kind      string
	ClientIP  string
	UserAgent string
	// SessionKey is the key of the session that caused the event, or "".
	// AddEvent stores the id of its user_sessions row instead, and reads
	// return "".
	SessionKey string
	// Details holds facts about the event that are no secret, such as
	// {"reason": "wrong_password"}. Numbers read back as float64.
	Details map[string]any
}

// AddEvent inserts a security event. The database sets its ID and time.
// Client IP and User-Agent are cut to 512 bytes, and bytes that are not
// UTF-8 are replaced, so that a client cannot make the insert fail.
func (d *DB) AddEvent(ctx context.Context, e SecurityEvent) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}

	_, err := d.Pool.Exec(ctx, `
		INSERT INTO security_events (user_id, kind, client_ip, user_agent, details, user_session_id)
		VALUES (
			NULLIF($1, 0), $2, $3, $4, $5,
			(SELECT id FROM user_sessions WHERE session_key = $6)
		)`,
		e.UserID, e.Kind, cleanText(e.ClientIP, maxEventTextLength), cleanText(e.UserAgent, maxEventTextLength), details, []byte(e.SessionKey))
	if err != nil {
		return fmt.Errorf("add security event %q of user %d: %w", e.Kind, e.UserID, err)
	}

	return nil
}

// UserEvents returns the latest limit events of the user, newest first.
func (d *DB) UserEvents(ctx context.Context, userID int64, limit int) ([]SecurityEvent, error) {
	events, err := d.queryEvents(ctx, limit, `WHERE e.user_id = $2`, userID)
	if err != nil {
		return nil, fmt.Errorf("list security events of user %d: %w", userID, err)
	}

	return events, nil
}

// RecentEvents returns the latest limit events of every user, and of no
// user, newest first.
func (d *DB) RecentEvents(ctx context.Context, limit int) ([]SecurityEvent, error) {
	events, err := d.queryEvents(ctx, limit, "")
	if err != nil {
		return nil, fmt.Errorf("list recent security events: %w", err)
	}

	return events, nil
}

// queryEvents returns the latest limit events that match the WHERE clause
// where, or all events when where is "". The clause takes args from $2 on,
// because $1 is the limit.
func (d *DB) queryEvents(ctx context.Context, limit int, where string, args ...any) ([]SecurityEvent, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT
			e.id,
			e.occurred_at,
			COALESCE(e.user_id, 0),
			COALESCE(u.email, ''),
			e.kind,
			e.client_ip,
			e.user_agent,
			e.details
		FROM security_events e
		LEFT JOIN users u ON u.id = e.user_id
		`+where+`
		ORDER BY e.occurred_at DESC, e.id DESC
		LIMIT $1`, append([]any{limit}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var events []SecurityEvent
	for rows.Next() {
		var e SecurityEvent
		if err := rows.Scan(&e.ID, &e.OccurredAt, &e.UserID, &e.UserEmail, &e.Kind, &e.ClientIP, &e.UserAgent, &e.Details); err != nil {
			return nil, err
		}
		events = append(events, e)
	}

	return events, rows.Err()
}

// cleanText makes a client-supplied string storable: valid UTF-8, without
// NUL bytes, which PostgreSQL's text rejects, and at most maxBytes bytes,
// cut at a character boundary.
func cleanText(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= maxBytes {
		return s
	}

	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}

	return s[:cut]
}
