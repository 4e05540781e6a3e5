package db

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The server's cleanup settings, which `bench cleanup` uses as defaults.
// They come from `make bench-smoke` with 1,000,000 session rows, 950,000 of
// them expired, on a 2-CPU VM while GET /dashboard ran at full load. There
// a statement took 13 ms at p99 and 45 ms at most, and the cleanup 47 s.
// The pause leaves the CPUs to requests between two statements.
const (
	CleanupBatchSize = 500
	CleanupPause     = 20 * time.Millisecond
)

// Names of the steps of a cleanup, as CleanupStatement.Step reports them.
const (
	CleanupExpiredSessions    = "expired sessions"
	CleanupOrphanIndexRows    = "orphan session index rows"
	CleanupStaleLoginFailures = "stale login failures"
	CleanupOldMail            = "old mail outbox rows"
)

// CleanupOptions sets how Cleanup deletes rows.
type CleanupOptions struct {
	// BatchSize is the maximum number of rows per DELETE statement. A sweep
	// of web_sessions deletes page range by page range instead, each range
	// holding BatchSize rows on average, so one statement may delete more.
	BatchSize int
	// Pause is the wait between two DELETE statements.
	Pause time.Duration
	// CheckedIndexRowID is the CleanupResult.CheckedIndexRowID of the
	// previous cleanup, or 0 to check every index row for its session.
	CheckedIndexRowID int64
	// LoginFailureWindow is the window of the login throttle. A login
	// failure row is stale once a full window has passed since its count
	// started and since its lock ended.
	LoginFailureWindow time.Duration
	// MailMaxAge is how long a row of mail_outbox is kept after it was
	// queued, whether it was sent or not. 0 keeps every row.
	MailMaxAge time.Duration
	// OnStatement, unless nil, is called after each DELETE statement that
	// succeeded.
	OnStatement func(CleanupStatement)
}

// CleanupStatement describes one DELETE statement of a cleanup.
type CleanupStatement struct {
	// Step is one of CleanupExpiredSessions, CleanupOrphanIndexRows,
	// CleanupStaleLoginFailures and CleanupOldMail.
	Step     string
	Rows     int64
	Duration time.Duration
}

// CleanupResult counts the rows and statements of a cleanup.
type CleanupResult struct {
	ExpiredSessions    int64
	OrphanIndexRows    int64
	StaleLoginFailures int64
	OldMail            int64
	// Statements counts the DELETE statements.
	Statements int
	// SweptPages counts the heap pages of web_sessions that a sweep read,
	// or is 0 when the expiry index led to the expired sessions.
	SweptPages int64
	// CheckedIndexRowID is the highest user_sessions id checked for its
	// session so far. The next cleanup goes on from there, because only a
	// new index row can lack its session.
	CheckedIndexRowID int64
}

// Cleanup deletes expired sessions, then index rows without a session, then
// stale login failures, then old mail outbox rows, in batches of about opts.BatchSize rows. It waits
// opts.Pause between two statements, so that no statement holds a CPU or
// its row locks for long.
//
// A failed step stops only itself, but the orphan step is skipped after a
// failed session step, whose sessions would still hold their index rows.
// The error joins the errors of the failed steps. When ctx ends, Cleanup
// stops at once and returns ctx's error. The result always counts the rows
// deleted until then.
func (d *DB) Cleanup(ctx context.Context, opts CleanupOptions) (CleanupResult, error) {
	if opts.BatchSize < 1 {
		return CleanupResult{}, fmt.Errorf("cleanup: batch size must be at least 1, got %d", opts.BatchSize)
	}

	run := cleanupRun{db: d, opts: opts}
	run.result.CheckedIndexRowID = opts.CheckedIndexRowID

	sessionsErr := run.deleteExpiredSessions(ctx)
	errs := []error{sessionsErr}

	if sessionsErr == nil {
		errs = append(errs, run.deleteOrphanIndexRows(ctx))
	}

	if ctx.Err() == nil {
		errs = append(errs, run.repeat(ctx, CleanupStaleLoginFailures, &run.result.StaleLoginFailures, func(ctx context.Context) (int64, bool, error) {
			n, err := d.DeleteStaleLoginFailures(ctx, opts.LoginFailureWindow, opts.BatchSize)
			return n, n < int64(opts.BatchSize), err
		}))
	}

	if ctx.Err() == nil && opts.MailMaxAge > 0 {
		errs = append(errs, run.repeat(ctx, CleanupOldMail, &run.result.OldMail, func(ctx context.Context) (int64, bool, error) {
			n, err := d.DeleteOldMail(ctx, opts.MailMaxAge, opts.BatchSize)
			return n, n < int64(opts.BatchSize), err
		}))
	}

	if err := ctx.Err(); err != nil {
		return run.result, fmt.Errorf("cleanup stopped: %w", err)
	}

	return run.result, errors.Join(errs...)
}

// cleanupRun holds the state of one Cleanup call.
type cleanupRun struct {
	db     *DB
	opts   CleanupOptions
	result CleanupResult
}

// deleteExpiredSessions sweeps the heap when expired rows outnumber its
// pages, and otherwise walks the expiry index. A walk reads a heap page for
// each expired row, and a sweep reads each page once, so the walk is the
// cheaper one only for few rows. Both paths bound each statement, so a
// wrong choice costs time only.
func (r *cleanupRun) deleteExpiredSessions(ctx context.Context) error {
	size, err := r.db.SessionTableSize(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", CleanupExpiredSessions, err)
	}
	expired, err := r.db.CountExpiredSessions(ctx, size.Pages)
	if err != nil {
		return fmt.Errorf("%s: %w", CleanupExpiredSessions, err)
	}

	// The sweep sizes its page ranges from the rows per page in the
	// statistics, so a table without statistics gets the walk.
	if size.Pages == 0 || expired < size.Pages || size.RowsPerPage == 0 {
		return r.walkExpiredSessions(ctx)
	}

	return r.sweepExpiredSessions(ctx, size)
}

// walkExpiredSessions deletes expired sessions in the order of their
// expiry, each batch starting where the previous one ended.
func (r *cleanupRun) walkExpiredSessions(ctx context.Context) error {
	var from time.Time

	return r.repeat(ctx, CleanupExpiredSessions, &r.result.ExpiredSessions, func(ctx context.Context) (int64, bool, error) {
		n, latest, err := r.db.DeleteExpiredSessions(ctx, from, r.opts.BatchSize)
		from = latest

		return n, n < int64(r.opts.BatchSize), err
	})
}

// sweepExpiredSessions deletes expired sessions page range by page range,
// from the first heap page to the last one that existed at the start. Each
// range holds about BatchSize rows. Rows that expire behind the sweep wait
// for the next cleanup.
func (r *cleanupRun) sweepExpiredSessions(ctx context.Context, size SessionTableSize) error {
	pagesPerStatement := max(int64(float64(r.opts.BatchSize)/size.RowsPerPage), 1)
	var firstPage int64

	return r.repeat(ctx, CleanupExpiredSessions, &r.result.ExpiredSessions, func(ctx context.Context) (int64, bool, error) {
		n, err := r.db.DeleteExpiredSessionPages(ctx, firstPage, pagesPerStatement)
		if err != nil {
			return 0, false, err
		}
		firstPage += pagesPerStatement
		r.result.SweptPages = min(firstPage, size.Pages)

		return n, firstPage >= size.Pages, nil
	})
}

// deleteOrphanIndexRows checks the index rows past CheckedIndexRowID for
// their sessions, in batches of BatchSize rows.
//
// NOTE: a process starts at CheckedIndexRowID 0. If that first walk
// follows the deletion of many sessions, it steps over their dead index
// rows until a vacuum removes them. With 950,000 of 1,000,000 sessions
// expired, each with an index row, its 100 statements took 20 to 80 ms
// each on a 2-CPU VM without read load.
func (r *cleanupRun) deleteOrphanIndexRows(ctx context.Context) error {
	return r.repeat(ctx, CleanupOrphanIndexRows, &r.result.OrphanIndexRows, func(ctx context.Context) (int64, bool, error) {
		check, err := r.db.DeleteOrphanUserSessions(ctx, r.result.CheckedIndexRowID, r.opts.BatchSize)
		if err != nil {
			return 0, false, err
		}
		r.result.CheckedIndexRowID = check.CheckedThrough

		return check.Deleted, check.Done, nil
	})
}

// repeat runs deleteBatch until it returns done, adding each count to total.
func (r *cleanupRun) repeat(ctx context.Context, step string, total *int64, deleteBatch func(context.Context) (n int64, done bool, err error)) error {
	for {
		if err := r.pause(ctx); err != nil {
			return err
		}

		started := time.Now()
		n, done, err := deleteBatch(ctx)
		if err != nil {
			return fmt.Errorf("%s, after %d rows: %w", step, *total, err)
		}
		duration := time.Since(started)

		*total += n
		r.result.Statements++
		if r.opts.OnStatement != nil {
			r.opts.OnStatement(CleanupStatement{Step: step, Rows: n, Duration: duration})
		}
		if done {
			return nil
		}
	}
}

// pause waits opts.Pause before every statement but the first of the
// cleanup, or returns ctx's error when ctx ends first.
func (r *cleanupRun) pause(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.result.Statements == 0 || r.opts.Pause <= 0 {
		return nil
	}

	timer := time.NewTimer(r.opts.Pause)
	defer timer.Stop()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
