package db

import (
	"context"
	"fmt"
)

// DeleteExpiredSessions deletes up to batchSize expired session rows and
// returns how many it deleted. Small batches keep each statement short, so a
// cleanup of many rows never holds locks long enough to slow a page.
func (d *DB) DeleteExpiredSessions(ctx context.Context, batchSize int) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		DELETE FROM web_sessions
		WHERE id IN (
			SELECT id
			FROM web_sessions
			WHERE expires_on <= now()
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		)`, batchSize)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}

	return tag.RowsAffected(), nil
}

// DeleteSession deletes the row of one session by its key.
func (d *DB) DeleteSession(ctx context.Context, key string) error {
	_, err := d.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE key = $1`, []byte(key))
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}

	return nil
}
