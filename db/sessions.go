package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// DeleteExpiredSessions deletes up to batchSize expired session rows with an
// expiry at or after from, or any expiry for a zero from, oldest first. It
// returns how many it deleted and the latest expiry among them. The next
// call passes that expiry as from, so its index scan starts past the entries
// of deleted rows, which stay in the index until a vacuum.
func (d *DB) DeleteExpiredSessions(ctx context.Context, from time.Time, batchSize int) (int64, time.Time, error) {
	start := pgtype.Timestamptz{Time: from, Valid: true}
	if from.IsZero() {
		start = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}

	var deleted int64
	var latest pgtype.Timestamptz
	err := d.Pool.QueryRow(ctx, `
		WITH deleted AS (
			DELETE FROM web_sessions
			WHERE id IN (
				SELECT id
				FROM web_sessions
				WHERE expires_on <= now()
				  AND expires_on >= $1
				ORDER BY expires_on
				LIMIT $2
				FOR UPDATE SKIP LOCKED
			)
			RETURNING expires_on
		)
		SELECT count(*), max(expires_on)
		FROM deleted`, start, batchSize).Scan(&deleted, &latest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("delete expired sessions: %w", err)
	}
	if !latest.Valid {
		return 0, from, nil
	}

	return deleted, latest.Time, nil
}

// SessionTableSize describes the heap of web_sessions.
type SessionTableSize struct {
	Pages int64
	// RowsPerPage is the average from the statistics of the latest VACUUM
	// or ANALYZE, or 0 when the table has none yet.
	RowsPerPage float64
}

// SessionTableSize reads the size of web_sessions from the catalog.
func (d *DB) SessionTableSize(ctx context.Context) (SessionTableSize, error) {
	var size SessionTableSize
	err := d.Pool.QueryRow(ctx, `
		SELECT
			pg_relation_size(c.oid) / current_setting('block_size')::bigint,
			CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 0 END
		FROM pg_class c
		WHERE c.oid = 'web_sessions'::regclass`).Scan(&size.Pages, &size.RowsPerPage)
	if err != nil {
		return SessionTableSize{}, fmt.Errorf("read the size of web_sessions: %w", err)
	}

	return size, nil
}

// CountExpiredSessions counts expired session rows, but stops at limit, so
// that it reads at most limit entries of the expiry index.
func (d *DB) CountExpiredSessions(ctx context.Context, limit int64) (int64, error) {
	var n int64
	err := d.Pool.QueryRow(ctx, `
		SELECT count(*)
		FROM (
			SELECT 1
			FROM web_sessions
			WHERE expires_on <= now()
			LIMIT $1
		) AS expired`, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count expired sessions: %w", err)
	}

	return n, nil
}

// DeleteExpiredSessionPages deletes the expired session rows in the heap
// pages from firstPage to firstPage+pageCount-1 and returns how many it
// deleted. It reads only those pages, in their order on disk, regardless of
// the table statistics. The expiry test sits outside the MATERIALIZED CTE, where
// the planner cannot turn it into a scan of the expiry index.
//
// Unlike DeleteExpiredSessions, it waits for locked rows, so two instances
// that sweep the same pages at once wait for each other's statement.
func (d *DB) DeleteExpiredSessionPages(ctx context.Context, firstPage, pageCount int64) (int64, error) {
	first := pgtype.TID{BlockNumber: uint32(firstPage), Valid: true}
	end := pgtype.TID{BlockNumber: uint32(firstPage + pageCount), Valid: true}

	tag, err := d.Pool.Exec(ctx, `
		WITH page_rows AS MATERIALIZED (
			SELECT ctid, expires_on
			FROM web_sessions
			WHERE ctid >= $1 AND ctid < $2
		)
		DELETE FROM web_sessions
		WHERE ctid = ANY (ARRAY(
			SELECT ctid
			FROM page_rows
			WHERE expires_on <= now()
		))`, first, end)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions in pages %d to %d: %w", firstPage, firstPage+pageCount-1, err)
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
