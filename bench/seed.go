package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// Seed describes the session rows that seed inserted.
type Seed struct {
	Rows int64 `json:"rows"`
	// Expired counts every expired row in web_sessions after the insert,
	// which is what a full cleanup deletes.
	Expired          int64   `json:"expired"`
	DataBytes        int     `json:"data_bytes"`
	InsertMillis     float64 `json:"insert_ms"`
	VacuumMillis     float64 `json:"vacuum_ms"`
	CheckpointMillis float64 `json:"checkpoint_ms"`
}

// seedSQL inserts $1 rows into web_sessions, of which $2 percent are
// expired: their expiry lies up to 30 days in the past. The others expire
// within 1 hour to 7 days. The key is unique (an MD5 in hex followed by the
// row number) and cannot match a key that pgstore generates, which is
// base32 in upper case. The data is $3 bytes of text, the size of a real
// session's data.
const seedSQL = `
	INSERT INTO web_sessions (key, data, created_on, modified_on, expires_on)
	SELECT
		convert_to(md5(i::text) || i::text, 'UTF8'),
		convert_to(rpad('', $3, md5(i::text)), 'UTF8'),
		expires_on - interval '7 days',
		expires_on - interval '7 days',
		expires_on
	FROM (
		SELECT
			i,
			CASE WHEN i % 100 < $2
				THEN now() - interval '1 second' * (1 + random() * 30 * 86400)
				ELSE now() + interval '1 second' * (3600 + random() * 6 * 86400)
			END AS expires_on
		FROM generate_series(1, $1::bigint) AS i
	) AS generated`

func seedCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	databaseURL := fs.String("database-url", "", "PostgreSQL URL of Portero's database")
	rows := fs.Int64("rows", 1_000_000, "number of session rows to insert")
	expiredPercent := fs.Int("expired-percent", 95, "percentage of the rows that are expired")
	out := fs.String("out", "", "JSON file to write the description of the rows to")
	if err := parseFlags(fs, args, "database-url", "out"); err != nil {
		return err
	}
	if *rows < 1 || *rows > 100_000_000 {
		return fmt.Errorf("%w: -rows must be from 1 to 100000000, got %d", errUsage, *rows)
	}
	if *expiredPercent < 0 || *expiredPercent > 100 {
		return fmt.Errorf("%w: -expired-percent must be from 0 to 100, got %d", errUsage, *expiredPercent)
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, *databaseURL)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.Background())

	seed := Seed{Rows: *rows}
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(length(data)), 0) FROM web_sessions`).Scan(&seed.DataBytes); err != nil {
		return fmt.Errorf("read the size of the session data: %w", err)
	}
	if seed.DataBytes == 0 {
		return fmt.Errorf("web_sessions has no row to copy the data size from; log in before seeding")
	}

	started := time.Now()
	tag, err := conn.Exec(ctx, seedSQL, *rows, *expiredPercent, seed.DataBytes)
	if err != nil {
		return fmt.Errorf("insert %d session rows: %w", *rows, err)
	}
	if tag.RowsAffected() != *rows {
		return fmt.Errorf("inserted %d session rows, expected %d", tag.RowsAffected(), *rows)
	}
	seed.InsertMillis = milliseconds(time.Since(started))

	// A table that has grown over weeks has been vacuumed and analyzed by
	// autovacuum, so the benchmark does the same before it reads.
	started = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) web_sessions", pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("vacuum web_sessions: %w", err)
	}
	seed.VacuumMillis = milliseconds(time.Since(started))

	// Such a table has also long been written to disk. Without a
	// checkpoint here, PostgreSQL's checkpointer would write the inserted
	// pages during the read that follows and take CPU time from it.
	// CHECKPOINT needs a superuser or the pg_checkpoint role; the
	// benchmark connects to its own cluster as a superuser.
	started = time.Now()
	if _, err := conn.Exec(ctx, "CHECKPOINT", pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("checkpoint after the insert: %w", err)
	}
	seed.CheckpointMillis = milliseconds(time.Since(started))

	if err := conn.QueryRow(ctx, `SELECT count(*) FROM web_sessions WHERE expires_on <= now()`).Scan(&seed.Expired); err != nil {
		return fmt.Errorf("count expired session rows: %w", err)
	}

	return writeJSON(*out, seed)
}
