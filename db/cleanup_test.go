package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// seedCleanupRows inserts 1,234 expired and 10 live sessions, each with an
// index row from 2 minutes ago, and 7 expired sessions without one. Groups of 7 expired
// sessions share one expiry, so that batch boundaries fall inside a group.
// It also inserts one orphan index row older than a minute, one younger
// orphan, 250 stale login failures and 4 that still count.
//
// It turns autovacuum off for web_sessions, so that the table has no
// statistics, and Cleanup walks the expiry index, until a test runs ANALYZE.
func seedCleanupRows(t *testing.T, database *db.DB) {
	t.Helper()
	ctx := context.Background()

	if _, err := database.Pool.Exec(ctx, `ALTER TABLE web_sessions SET (autovacuum_enabled = false)`); err != nil {
		t.Fatalf("turn autovacuum off: %v", err)
	}

	user, err := database.CreateUser(ctx, "cleanup@example.com", "Cleanup", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	statements := []struct {
		sql  string
		args []any
	}{
		{sql: `
			INSERT INTO web_sessions (key, data, expires_on)
			SELECT convert_to('expired-' || g, 'UTF8'), '\x00'::bytea,
			       now() - interval '1 hour' - (g / 7) * interval '1 second'
			FROM generate_series(1, 1234) AS g`},
		{sql: `
			INSERT INTO web_sessions (key, data, expires_on)
			SELECT convert_to('unindexed-' || g, 'UTF8'), '\x00'::bytea, now() - interval '1 day'
			FROM generate_series(1, 7) AS g`},
		{sql: `
			INSERT INTO web_sessions (key, data, expires_on)
			SELECT convert_to('live-' || g, 'UTF8'), '\x00'::bytea, now() + interval '1 hour'
			FROM generate_series(1, 10) AS g`},
		{sql: `
			INSERT INTO user_sessions (session_key, user_id, created_at)
			SELECT key, $1, now() - interval '2 minutes'
			FROM web_sessions
			WHERE convert_from(key, 'UTF8') NOT LIKE 'unindexed-%'
			ORDER BY id`, args: []any{user.ID}},
		{sql: `
			INSERT INTO user_sessions (session_key, user_id, created_at)
			VALUES ('old-orphan', $1, now() - interval '2 minutes'),
			       ('young-orphan', $1, now())`, args: []any{user.ID}},
		{sql: `
			INSERT INTO login_failures (kind, key, failures, window_start)
			SELECT 'ip', 'stale-' || g, 1, now() - interval '20 minutes'
			FROM generate_series(1, 250) AS g
			UNION ALL
			SELECT 'ip', 'fresh-' || g, 1, now() - interval '5 minutes'
			FROM generate_series(1, 4) AS g`},
	}
	for _, statement := range statements {
		if _, err := database.Pool.Exec(ctx, statement.sql, statement.args...); err != nil {
			t.Fatalf("seed cleanup rows: %v\n%s", err, statement.sql)
		}
	}
}

// checkLiveSessionsLeft checks that, of the sessions of seedCleanupRows,
// only the 10 live ones and their index rows are left.
func checkLiveSessionsLeft(t *testing.T, database *db.DB) {
	t.Helper()

	if got := countRows(t, database, `SELECT count(*) FROM web_sessions WHERE expires_on <= now()`); got != 0 {
		t.Errorf("expired sessions left: got %d, want 0", got)
	}
	if got := countRows(t, database, `SELECT count(*) FROM web_sessions WHERE convert_from(key, 'UTF8') LIKE 'live-%'`); got != 10 {
		t.Errorf("live sessions left: got %d, want 10", got)
	}
	if got := countRows(t, database, `SELECT count(*) FROM user_sessions WHERE convert_from(session_key, 'UTF8') LIKE 'expired-%'`); got != 0 {
		t.Errorf("index rows of expired sessions left: got %d, want 0", got)
	}
	if got := countRows(t, database, `SELECT count(*) FROM user_sessions WHERE convert_from(session_key, 'UTF8') LIKE 'live-%'`); got != 10 {
		t.Errorf("index rows of live sessions left: got %d, want 10", got)
	}
}

// countRows returns the result of a count(*) query.
func countRows(t *testing.T, database *db.DB, query string) int {
	t.Helper()

	var n int
	if err := database.Pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("count rows: %v\n%s", err, query)
	}

	return n
}

func TestCleanupDeletesExpiredRows(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	seedCleanupRows(t, database)

	oldOrphanID := indexRowID(t, database, "old-orphan")

	var statements []db.CleanupStatement
	result, err := database.Cleanup(context.Background(), db.CleanupOptions{
		BatchSize:          100,
		LoginFailureWindow: 15 * time.Minute,
		OnStatement:        func(s db.CleanupStatement) { statements = append(statements, s) },
	})
	if err != nil {
		t.Fatalf("Cleanup: got error %v, want nil", err)
	}

	if result.ExpiredSessions != 1241 {
		t.Errorf("expired sessions deleted: got %d, want 1241", result.ExpiredSessions)
	}
	if result.OrphanIndexRows != 1 {
		t.Errorf("orphan index rows deleted: got %d, want 1", result.OrphanIndexRows)
	}
	if result.StaleLoginFailures != 250 {
		t.Errorf("stale login failures deleted: got %d, want 250", result.StaleLoginFailures)
	}

	checkLiveSessionsLeft(t, database)
	if got := countRows(t, database, `SELECT count(*) FROM user_sessions WHERE session_key IN ('old-orphan', 'young-orphan')`); got != 1 {
		t.Errorf("orphan index rows left: got %d, want 1, the one younger than a minute", got)
	}
	if got := countRows(t, database, `SELECT count(*) FROM login_failures`); got != 4 {
		t.Errorf("login failures left: got %d, want the 4 that still count", got)
	}

	// The 1,241 expired sessions take 12 full batches and a short one. The
	// 12 index rows left take one short batch, and the 250 stale login
	// failures 2 full ones and a short one.
	wantSteps := slices.Concat(
		slices.Repeat([]string{db.CleanupExpiredSessions}, 13),
		[]string{db.CleanupOrphanIndexRows},
		slices.Repeat([]string{db.CleanupStaleLoginFailures}, 3),
	)
	var gotSteps []string
	for _, s := range statements {
		gotSteps = append(gotSteps, s.Step)
		if s.Rows > 100 {
			t.Errorf("statement of %s: got %d rows, want at most the batch size 100", s.Step, s.Rows)
		}
	}
	if !slices.Equal(gotSteps, wantSteps) {
		t.Errorf("statements: got %q, want %q", gotSteps, wantSteps)
	}
	if result.Statements != len(statements) {
		t.Errorf("result.Statements: got %d, want %d, one per OnStatement call", result.Statements, len(statements))
	}
	if result.SweptPages != 0 {
		t.Errorf("swept pages: got %d, want 0 for a table without statistics", result.SweptPages)
	}
	// The young orphan comes right after the old one, and the check stops
	// before it.
	if result.CheckedIndexRowID != oldOrphanID {
		t.Errorf("checked index row id: got %d, want %d, the old orphan's", result.CheckedIndexRowID, oldOrphanID)
	}
}

// indexRowID returns the id of the user_sessions row with the session key.
func indexRowID(t *testing.T, database *db.DB, key string) int64 {
	t.Helper()

	var id int64
	if err := database.Pool.QueryRow(context.Background(), `SELECT id FROM user_sessions WHERE session_key = $1`, []byte(key)).Scan(&id); err != nil {
		t.Fatalf("read the id of index row %s: %v", key, err)
	}

	return id
}

func TestCleanupChecksIndexRowsOnce(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	user, err := database.CreateUser(ctx, "orphans@example.com", "Orphans", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	insertOrphans := func(keys ...string) {
		t.Helper()
		for _, key := range keys {
			_, err := database.Pool.Exec(ctx, `
				INSERT INTO user_sessions (session_key, user_id, created_at)
				VALUES ($1, $2, now() - interval '2 minutes')`, []byte(key), user.ID)
			if err != nil {
				t.Fatalf("insert orphan %s: %v", key, err)
			}
		}
	}
	options := db.CleanupOptions{BatchSize: 2, LoginFailureWindow: 15 * time.Minute}

	insertOrphans("first-1", "first-2", "first-3")
	lastFirst := indexRowID(t, database, "first-3")
	first, err := database.Cleanup(ctx, options)
	if err != nil {
		t.Fatalf("first Cleanup: got error %v, want nil", err)
	}
	if first.OrphanIndexRows != 3 {
		t.Errorf("first Cleanup: got %d orphans deleted, want 3", first.OrphanIndexRows)
	}
	if first.CheckedIndexRowID != lastFirst {
		t.Errorf("first Cleanup: got checked index row id %d, want %d", first.CheckedIndexRowID, lastFirst)
	}

	// The next cleanup goes on after the row "skipped", as if an earlier
	// cleanup had checked it, so it must leave that row alone.
	insertOrphans("skipped", "second")
	options.CheckedIndexRowID = indexRowID(t, database, "skipped")
	lastSecond := indexRowID(t, database, "second")
	second, err := database.Cleanup(ctx, options)
	if err != nil {
		t.Fatalf("second Cleanup: got error %v, want nil", err)
	}
	if second.OrphanIndexRows != 1 {
		t.Errorf("second Cleanup: got %d orphans deleted, want 1", second.OrphanIndexRows)
	}
	if second.CheckedIndexRowID != lastSecond {
		t.Errorf("second Cleanup: got checked index row id %d, want %d", second.CheckedIndexRowID, lastSecond)
	}
	if got := countRows(t, database, `SELECT count(*) FROM user_sessions WHERE session_key = 'skipped'`); got != 1 {
		t.Errorf("orphan at the cursor: got %d rows, want 1, because only rows past the cursor are checked", got)
	}
}

// sessionTablePages returns the number of heap pages of web_sessions.
func sessionTablePages(t *testing.T, database *db.DB) int64 {
	t.Helper()

	size, err := database.SessionTableSize(context.Background())
	if err != nil {
		t.Fatalf("SessionTableSize: %v", err)
	}

	return size.Pages
}

func TestCleanupSweepsBacklog(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	seedCleanupRows(t, database)
	if _, err := database.Pool.Exec(context.Background(), `ANALYZE web_sessions`); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	pages := sessionTablePages(t, database)

	var statements []db.CleanupStatement
	result, err := database.Cleanup(context.Background(), db.CleanupOptions{
		BatchSize:          100,
		LoginFailureWindow: 15 * time.Minute,
		OnStatement:        func(s db.CleanupStatement) { statements = append(statements, s) },
	})
	if err != nil {
		t.Fatalf("Cleanup: got error %v, want nil", err)
	}

	if result.SweptPages != pages {
		t.Errorf("swept pages: got %d, want all %d pages, because 1,241 expired rows outnumber them", result.SweptPages, pages)
	}
	if result.ExpiredSessions != 1241 {
		t.Errorf("expired sessions deleted: got %d, want 1241", result.ExpiredSessions)
	}
	checkLiveSessionsLeft(t, database)

	// More than 100 rows fit in a page, so each statement sweeps one page.
	sweeps := 0
	for _, s := range statements {
		if s.Step == db.CleanupExpiredSessions {
			sweeps++
		}
	}
	if int64(sweeps) != pages {
		t.Errorf("statements of the sweep: got %d, want one per page, %d", sweeps, pages)
	}
}

func TestCleanupWalksFewExpiredRows(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	// Rows of 1.5 kB stay below the size at which PostgreSQL compresses
	// them (about 2 kB), so 2,000 live rows fill about 400 pages, more than
	// the 100 expired rows.
	statements := []string{
		`ALTER TABLE web_sessions SET (autovacuum_enabled = false)`,
		`INSERT INTO web_sessions (key, data, expires_on)
		SELECT convert_to('live-' || g, 'UTF8'), convert_to(repeat('x', 1500), 'UTF8'), now() + interval '1 hour'
		FROM generate_series(1, 2000) AS g`,
		`INSERT INTO web_sessions (key, data, expires_on)
		SELECT convert_to('expired-' || g, 'UTF8'), '\x00'::bytea, now() - interval '1 hour'
		FROM generate_series(1, 100) AS g`,
		`ANALYZE web_sessions`,
	}
	for _, statement := range statements {
		if _, err := database.Pool.Exec(ctx, statement); err != nil {
			t.Fatalf("seed sessions: %v\n%s", err, statement)
		}
	}
	if pages := sessionTablePages(t, database); pages <= 100 {
		t.Fatalf("pages of web_sessions: got %d, want more than the 100 expired rows", pages)
	}

	result, err := database.Cleanup(ctx, db.CleanupOptions{BatchSize: 40, LoginFailureWindow: 15 * time.Minute})
	if err != nil {
		t.Fatalf("Cleanup: got error %v, want nil", err)
	}

	if result.SweptPages != 0 {
		t.Errorf("swept pages: got %d, want 0, because the expiry index leads to fewer pages", result.SweptPages)
	}
	if result.ExpiredSessions != 100 {
		t.Errorf("expired sessions deleted: got %d, want 100", result.ExpiredSessions)
	}
	if got := countRows(t, database, `SELECT count(*) FROM web_sessions`); got != 2000 {
		t.Errorf("sessions left: got %d, want the 2000 live ones", got)
	}
	// 100 rows in batches of 40: 40, 40 and a short 20, then one statement
	// each for the orphans and the login failures.
	if result.Statements != 5 {
		t.Errorf("statements: got %d, want 5", result.Statements)
	}
}

func TestCleanupNothingToDelete(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)

	result, err := database.Cleanup(context.Background(), db.CleanupOptions{BatchSize: 100, LoginFailureWindow: time.Minute})
	if err != nil {
		t.Fatalf("Cleanup: got error %v, want nil", err)
	}
	if result != (db.CleanupResult{Statements: 3}) {
		t.Errorf("result: got %+v, want no rows in one statement per step", result)
	}
}

func TestCleanupStopsOnCancel(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	seedCleanupRows(t, database)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sessionStatements := 0
	result, err := database.Cleanup(ctx, db.CleanupOptions{
		BatchSize:          100,
		LoginFailureWindow: 15 * time.Minute,
		OnStatement: func(s db.CleanupStatement) {
			if s.Step != db.CleanupExpiredSessions {
				return
			}
			sessionStatements++
			if sessionStatements == 3 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Cleanup: got error %v, want context.Canceled", err)
	}
	if result.ExpiredSessions != 300 {
		t.Errorf("expired sessions deleted: got %d, want 300 from 3 batches", result.ExpiredSessions)
	}
	if result.StaleLoginFailures != 0 {
		t.Errorf("stale login failures deleted: got %d, want 0 after the cancel", result.StaleLoginFailures)
	}
	if sessionStatements != 3 {
		t.Errorf("statements on sessions: got %d, want 3", sessionStatements)
	}
	if got := countRows(t, database, `SELECT count(*) FROM web_sessions WHERE expires_on <= now()`); got != 941 {
		t.Errorf("expired sessions left: got %d, want 941", got)
	}
}

func TestCleanupStopsDuringPause(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	seedCleanupRows(t, database)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	started := time.Now()
	result, err := database.Cleanup(ctx, db.CleanupOptions{
		BatchSize:          100,
		Pause:              time.Hour,
		LoginFailureWindow: 15 * time.Minute,
		OnStatement:        func(db.CleanupStatement) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Cleanup: got error %v, want context.Canceled", err)
	}
	if elapsed := time.Since(started); elapsed > 10*time.Second {
		t.Errorf("Cleanup returned after %v, want at once when ctx ends during the 1 h pause", elapsed)
	}
	if result.Statements != 1 {
		t.Errorf("statements: got %d, want 1", result.Statements)
	}
}

func TestCleanupPausesBetweenStatements(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	seedCleanupRows(t, database)
	const pause = 30 * time.Millisecond

	var times []time.Time
	_, err := database.Cleanup(context.Background(), db.CleanupOptions{
		BatchSize:          500,
		Pause:              pause,
		LoginFailureWindow: 15 * time.Minute,
		OnStatement:        func(db.CleanupStatement) { times = append(times, time.Now()) },
	})
	if err != nil {
		t.Fatalf("Cleanup: got error %v, want nil", err)
	}

	// OnStatement runs when a statement ends, so two calls are at least
	// the pause plus the second statement apart.
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < pause {
			t.Errorf("gap before statement %d: got %v, want at least %v", i+1, gap, pause)
		}
	}
	if len(times) < 3 {
		t.Errorf("statements: got %d, want at least 3 to check the pauses", len(times))
	}
}

func TestCleanupRejectsBatchSizeZero(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)

	if _, err := database.Cleanup(context.Background(), db.CleanupOptions{}); err == nil {
		t.Error("Cleanup with batch size 0: got nil error, want an error")
	}
}
