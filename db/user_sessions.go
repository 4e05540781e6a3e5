package db

import (
	"context"
	"fmt"
	"time"
)

// maxUserAgentLength caps the stored User-Agent, which the client controls.
const maxUserAgentLength = 512

// UserSession is one row of the index that links a session to its user.
type UserSession struct {
	ID         int64
	SessionKey string
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	UserAgent  string
	ClientIP   string
}

// AddUserSession indexes a session that was just saved under key.
func (d *DB) AddUserSession(ctx context.Context, key string, userID int64, userAgent, clientIP string) error {
	// A client may send bytes that are not UTF-8, which PostgreSQL's text
	// rejects, so they are replaced rather than failing the login.
	userAgent = cleanText(userAgent, maxUserAgentLength)

	_, err := d.Pool.Exec(ctx, `
		INSERT INTO user_sessions (session_key, user_id, user_agent, client_ip)
		VALUES ($1, $2, $3, $4)`, []byte(key), userID, userAgent, clientIP)
	if err != nil {
		return fmt.Errorf("index session of user %d: %w", userID, err)
	}

	return nil
}

// TouchUserSession records the time and address of a session's latest
// request. Callers do it only when they refresh the idle deadline, at most
// once a minute. A session that has no index row yet, because it was opened
// before the index existed, gets one here.
func (d *DB) TouchUserSession(ctx context.Context, key string, userID int64, userAgent, clientIP string) error {
	userAgent = cleanText(userAgent, maxUserAgentLength)

	_, err := d.Pool.Exec(ctx, `
		INSERT INTO user_sessions (session_key, user_id, user_agent, client_ip)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (session_key) DO UPDATE
		SET last_seen_at = now(),
		    client_ip = EXCLUDED.client_ip`, []byte(key), userID, userAgent, clientIP)
	if err != nil {
		return fmt.Errorf("touch session index: %w", err)
	}

	return nil
}

// OrphanCheck is the outcome of one DeleteOrphanUserSessions call.
type OrphanCheck struct {
	Deleted int64
	// CheckedThrough is the highest id checked so far, from which the next
	// call goes on.
	CheckedThrough int64
	// Done is true when no index row past CheckedThrough is old enough to
	// check yet.
	Done bool
}

// DeleteOrphanUserSessions checks up to batchSize index rows with ids above
// afterID, in id order, and deletes those whose session row does not exist.
// That happens only at login, when a session insert fails after its index
// row was written, because the trigger deletes an index row with its
// session. The check stops before the first row younger than a minute,
// whose session insert may still be running.
func (d *DB) DeleteOrphanUserSessions(ctx context.Context, afterID int64, batchSize int) (OrphanCheck, error) {
	var check OrphanCheck
	var examined, settled int
	err := d.Pool.QueryRow(ctx, `
		WITH examined AS MATERIALIZED (
			SELECT id, session_key, created_at < now() - interval '1 minute' AS settled
			FROM user_sessions
			WHERE id > $1
			ORDER BY id
			LIMIT $2
		),
		settled AS (
			SELECT id, session_key
			FROM examined
			WHERE id < ALL (SELECT id FROM examined WHERE NOT settled)
		),
		deleted AS (
			DELETE FROM user_sessions
			WHERE id IN (
				SELECT s.id
				FROM settled s
				WHERE NOT EXISTS (SELECT 1 FROM web_sessions ws WHERE ws.key = s.session_key)
			)
			RETURNING id
		)
		SELECT
			(SELECT count(*) FROM deleted),
			coalesce((SELECT max(id) FROM settled), $1),
			(SELECT count(*) FROM examined),
			(SELECT count(*) FROM settled)`, afterID, batchSize).Scan(&check.Deleted, &check.CheckedThrough, &examined, &settled)
	if err != nil {
		return OrphanCheck{}, fmt.Errorf("delete orphan session index rows after id %d: %w", afterID, err)
	}
	check.Done = examined < batchSize || settled < examined

	return check, nil
}

// UserSessions lists the user's unexpired sessions, newest first.
func (d *DB) UserSessions(ctx context.Context, userID int64) ([]UserSession, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT
			us.id,
			us.session_key,
			us.user_id,
			us.created_at,
			us.last_seen_at,
			us.user_agent,
			us.client_ip
		FROM user_sessions us
		JOIN web_sessions ws ON ws.key = us.session_key
		WHERE us.user_id = $1
		  AND ws.expires_on > now()
		ORDER BY us.last_seen_at DESC, us.id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	defer rows.Close()

	var list []UserSession
	for rows.Next() {
		var s UserSession
		var key []byte
		if err := rows.Scan(&s.ID, &key, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.UserAgent, &s.ClientIP); err != nil {
			return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
		}
		s.SessionKey = string(key)
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}

	return list, nil
}

// DeleteUserSession ends one session of the user by its index id. It
// returns ErrNotFound when no such session belongs to the user.
func (d *DB) DeleteUserSession(ctx context.Context, userID, id int64) error {
	tag, err := d.Pool.Exec(ctx, `
		DELETE FROM web_sessions
		WHERE key = (
			SELECT session_key
			FROM user_sessions
			WHERE id = $1 AND user_id = $2
		)`, id, userID)
	if err != nil {
		return fmt.Errorf("delete session %d of user %d: %w", id, userID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete session %d of user %d: %w", id, userID, ErrNotFound)
	}

	return nil
}

// deletePendingLogins is a statement that cancels the user's logins that
// wait for a security key, with the user's id as $1. A login that passed
// the password before the user's sessions ended or the password changed
// must not finish afterwards with the key alone.
const deletePendingLogins = `
	DELETE FROM webauthn_challenges
	WHERE user_id = $1
	  AND purpose = 'login'`

// DeleteUserSessions ends every session of the user except the one with
// exceptKey, which may be empty to end them all, and cancels the user's
// logins that wait for a security key. It returns how many sessions ended.
func (d *DB) DeleteUserSessions(ctx context.Context, userID int64, exceptKey string) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		WITH pending AS (`+deletePendingLogins+`)
		DELETE FROM web_sessions
		WHERE key IN (
			SELECT session_key
			FROM user_sessions
			WHERE user_id = $1 AND session_key <> $2
		)`, userID, []byte(exceptKey))
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}

	return tag.RowsAffected(), nil
}

// ChangePassword stores a new password hash, ends every session of the
// user except the one with exceptKey and cancels the user's logins that
// wait for a security key. It does all three in one transaction, so a
// failure never leaves a new password with old sessions alive, or the
// reverse. It returns how many sessions ended.
func (d *DB) ChangePassword(ctx context.Context, userID int64, passwordHash, exceptKey string) (int64, error) {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}
	defer tx.Rollback(ctx)

	tag, err := tx.Exec(ctx, `
		UPDATE users
		SET password_hash = $2,
		    updated_at = now()
		WHERE id = $1`, userID, passwordHash)
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("change password of user %d: %w", userID, ErrNotFound)
	}

	tag, err = tx.Exec(ctx, `
		DELETE FROM web_sessions
		WHERE key IN (
			SELECT session_key
			FROM user_sessions
			WHERE user_id = $1 AND session_key <> $2
		)`, userID, []byte(exceptKey))
	if err != nil {
		return 0, fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	ended := tag.RowsAffected()

	if _, err := tx.Exec(ctx, deletePendingLogins, userID); err != nil {
		return 0, fmt.Errorf("cancel pending logins of user %d: %w", userID, err)
	}

	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}

	return ended, nil
}
