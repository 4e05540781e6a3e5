package db_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/portero/portero/internal/testdb"
)

// Versions around the migration that makes the index trigger statement-level.
const (
	rowTriggerVersion       = 11
	statementTriggerVersion = 12
)

// indexTriggerLevel returns "ROW" or "STATEMENT", the level of the trigger
// that deletes index rows with their sessions.
func indexTriggerLevel(t *testing.T, conn *sql.DB) string {
	t.Helper()

	var level string
	err := conn.QueryRow(`
		SELECT action_orientation
		FROM information_schema.triggers
		WHERE event_object_table = 'web_sessions'
		  AND trigger_name = 'web_sessions_delete_index'`).Scan(&level)
	if err != nil {
		t.Fatalf("read the level of web_sessions_delete_index: %v", err)
	}

	return level
}

// checkIndexRowsFollowSessions deletes sessions in one statement on the table
// and one through the view that pgstore uses, and checks that exactly their
// index rows went with them.
func checkIndexRowsFollowSessions(t *testing.T, conn *sql.DB, userID int64, stage string) {
	t.Helper()

	statements := []struct {
		sql  string
		args []any
	}{
		{sql: `TRUNCATE web_sessions, user_sessions`},
		{sql: `
			INSERT INTO web_sessions (key, data, expires_on)
			SELECT convert_to('key-' || g, 'UTF8'), '\x00'::bytea, now() + interval '1 hour'
			FROM generate_series(1, 5) AS g`},
		{sql: `INSERT INTO user_sessions (session_key, user_id) SELECT key, $1 FROM web_sessions`, args: []any{userID}},
		{sql: `DELETE FROM web_sessions WHERE key IN ('key-1', 'key-2', 'key-3')`},
		{sql: `DELETE FROM http_sessions WHERE key = 'key-4'`},
	}
	for _, statement := range statements {
		if _, err := conn.Exec(statement.sql, statement.args...); err != nil {
			t.Fatalf("%s: %v\n%s", stage, err, statement.sql)
		}
	}

	var left string
	err := conn.QueryRow(`SELECT string_agg(convert_from(session_key, 'UTF8'), ',' ORDER BY session_key) FROM user_sessions`).Scan(&left)
	if err != nil {
		t.Fatalf("%s: list index rows: %v", stage, err)
	}
	if left != "key-5" {
		t.Errorf("%s: index rows left: got %q, want only key-5", stage, left)
	}
}

func TestIndexTriggerMigrationDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := sql.Open("pgx", testdb.NewURL(t))
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	defer conn.Close()

	provider, err := goose.NewProvider(goose.DialectPostgres, conn, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("load migrations: %v", err)
	}

	if _, err := provider.UpTo(ctx, statementTriggerVersion); err != nil {
		t.Fatalf("migrate up to %d: %v", statementTriggerVersion, err)
	}
	if got := indexTriggerLevel(t, conn); got != "STATEMENT" {
		t.Errorf("after up: got a %s trigger, want STATEMENT", got)
	}
	var userID int64
	err = conn.QueryRow(`INSERT INTO users (email, password_hash) VALUES ('trigger@example.com', $1) RETURNING id`,
		hashOf(t, "a long enough password")).Scan(&userID)
	if err != nil {
		t.Fatalf("insert user: %v", err)
	}
	checkIndexRowsFollowSessions(t, conn, userID, "after up")

	if _, err := provider.DownTo(ctx, rowTriggerVersion); err != nil {
		t.Fatalf("migrate down to %d: %v", rowTriggerVersion, err)
	}
	if got := indexTriggerLevel(t, conn); got != "ROW" {
		t.Errorf("after down: got a %s trigger, want ROW", got)
	}
	checkIndexRowsFollowSessions(t, conn, userID, "after down")

	if _, err := provider.UpTo(ctx, statementTriggerVersion); err != nil {
		t.Fatalf("migrate up to %d again: %v", statementTriggerVersion, err)
	}
	if got := indexTriggerLevel(t, conn); got != "STATEMENT" {
		t.Errorf("after up again: got a %s trigger, want STATEMENT", got)
	}
	checkIndexRowsFollowSessions(t, conn, userID, "after up again")
}
