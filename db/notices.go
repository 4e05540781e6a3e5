package db

import (
	"context"
	"fmt"
)

// UserNotices returns up to limit of the user's security notices, newest
// first, and how many there are in all. A notice is an event of a kind that
// security_event_is_notice accepts, newer than the user's last dismissal,
// and not caused by the session with sessionKey.
func (d *DB) UserNotices(ctx context.Context, userID int64, sessionKey string, limit int) ([]SecurityEvent, int, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT
			e.id,
			e.occurred_at,
			e.kind,
			e.client_ip,
			e.user_agent,
			e.details,
			count(*) OVER ()
		FROM security_events e
		JOIN users u ON u.id = e.user_id
		WHERE e.user_id = $1
		  AND e.occurred_at > u.notices_seen_at
		  AND security_event_is_notice(e.kind, e.details)
		  AND e.user_session_id IS DISTINCT FROM
		      coalesce((SELECT id FROM user_sessions WHERE session_key = $2), 0)
		ORDER BY e.occurred_at DESC, e.id DESC
		LIMIT $3`, userID, []byte(sessionKey), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list security notices of user %d: %w", userID, err)
	}
	defer rows.Close()

	var notices []SecurityEvent
	total := 0
	for rows.Next() {
		e := SecurityEvent{UserID: userID}
		if err := rows.Scan(&e.ID, &e.OccurredAt, &e.Kind, &e.ClientIP, &e.UserAgent, &e.Details, &total); err != nil {
			return nil, 0, fmt.Errorf("list security notices of user %d: %w", userID, err)
		}
		notices = append(notices, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list security notices of user %d: %w", userID, err)
	}

	return notices, total, nil
}

// DismissNotices marks the user's notices up to and including the event
// lastID as seen, for every session of the user. notices_pending stays set
// when a newer notice exists. The user row is locked before that check, so
// an event inserted at the same time is either counted or sets the flag
// again after this transaction. An event of another user, or an unknown
// one, changes nothing.
func (d *DB) DismissNotices(ctx context.Context, userID, lastID int64) error {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("dismiss security notices of user %d: %w", userID, err)
	}
	defer tx.Rollback(ctx)

	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
		return fmt.Errorf("dismiss security notices of user %d: %w", userID, err)
	}

	// A separate statement, so that its snapshot includes every event
	// committed while the lock was awaited.
	_, err = tx.Exec(ctx, `
		UPDATE users u
		SET notices_seen_at = greatest(u.notices_seen_at, seen.occurred_at),
		    notices_pending = EXISTS (
		        SELECT 1
		        FROM security_events n
		        WHERE n.user_id = u.id
		          AND n.occurred_at > greatest(u.notices_seen_at, seen.occurred_at)
		          AND security_event_is_notice(n.kind, n.details)
		    )
		FROM security_events seen
		WHERE u.id = $1
		  AND seen.id = $2
		  AND seen.user_id = $1`, userID, lastID)
	if err != nil {
		return fmt.Errorf("dismiss security notices of user %d up to event %d: %w", userID, lastID, err)
	}

	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("dismiss security notices of user %d: %w", userID, err)
	}

	return nil
}

// LoginDevice is the User-Agent and client IP of one successful login.
type LoginDevice struct {
	UserAgent string
	ClientIP  string
}

// RecentLoginDevices returns the User-Agent and client IP of the user's
// latest limit successful logins, newest first.
func (d *DB) RecentLoginDevices(ctx context.Context, userID int64, limit int) ([]LoginDevice, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT user_agent, client_ip
		FROM security_events
		WHERE user_id = $1
		  AND kind = 'login_succeeded'
		ORDER BY occurred_at DESC, id DESC
		LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("list recent logins of user %d: %w", userID, err)
	}
	defer rows.Close()

	var devices []LoginDevice
	for rows.Next() {
		var device LoginDevice
		if err := rows.Scan(&device.UserAgent, &device.ClientIP); err != nil {
			return nil, fmt.Errorf("list recent logins of user %d: %w", userID, err)
		}
		devices = append(devices, device)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recent logins of user %d: %w", userID, err)
	}

	return devices, nil
}
