package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableStats is a snapshot of PostgreSQL's cumulative row counters.
type TableStats struct {
	ServerVersion string `json:"server_version"`
	// Tables maps each user table's name to its counters.
	Tables map[string]RowCounters `json:"tables"`
}

// RowCounters are the n_tup_* columns of pg_stat_user_tables.
type RowCounters struct {
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	Deleted  int64 `json:"deleted"`
}

// Writes returns the rows inserted, updated and deleted.
func (c RowCounters) Writes() int64 { return c.Inserted + c.Updated + c.Deleted }

// PostgreSQL 15 and later add a backend's pending statistics to the shared
// ones when it goes idle, but at most once per second (PGSTAT_MIN_INTERVAL
// in pgstat.c). A backend that goes idle sooner after its last flush
// flushes 10 s later (PGSTAT_IDLE_INTERVAL).
const (
	// defaultStatsSettle is the wait after a load before the first read,
	// so that every server connection has flushed.
	defaultStatsSettle = 11 * time.Second
	statsPollInterval  = 1100 * time.Millisecond
	statsMaxPolls      = 15
)

func tableStatsCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("table-stats", flag.ContinueOnError)
	databaseURL := fs.String("database-url", "", "PostgreSQL URL of Portero's database")
	out := fs.String("out", "", "JSON file to write the counters to")
	settle := fs.Duration("settle", defaultStatsSettle, "wait before the first read, for the server's connections to flush their statistics")
	if err := parseFlags(fs, args, "database-url", "out"); err != nil {
		return err
	}
	if *settle < 0 {
		return fmt.Errorf("%w: -settle must not be negative, got %s", errUsage, *settle)
	}

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*settle):
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, *databaseURL)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.Background())

	stats, err := stableTableStats(ctx, conn)
	if err != nil {
		return err
	}

	return writeJSON(*out, stats)
}

// stableTableStats reads the counters until two reads statsPollInterval
// apart agree, as a check that no flush is still arriving.
func stableTableStats(ctx context.Context, conn *pgx.Conn) (TableStats, error) {
	var stats TableStats
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&stats.ServerVersion); err != nil {
		return stats, fmt.Errorf("read server_version: %w", err)
	}

	var versionNumber int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNumber); err != nil {
		return stats, fmt.Errorf("read server_version_num: %w", err)
	}
	if versionNumber >= 150000 {
		// This flushes only this connection's own pending statistics. The
		// server's connections flushed theirs during the settle wait.
		if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			return stats, fmt.Errorf("pg_stat_force_next_flush: %w", err)
		}
	}

	previous, err := readTableStats(ctx, conn)
	if err != nil {
		return stats, err
	}
	for range statsMaxPolls {
		select {
		case <-ctx.Done():
			return stats, ctx.Err()
		case <-time.After(statsPollInterval):
		}

		current, err := readTableStats(ctx, conn)
		if err != nil {
			return stats, err
		}
		if maps.Equal(current, previous) {
			stats.Tables = current
			return stats, nil
		}
		previous = current
	}

	return stats, fmt.Errorf("the table statistics still changed after %d reads %s apart; is something else writing to the database?", statsMaxPolls, statsPollInterval)
}

func readTableStats(ctx context.Context, conn *pgx.Conn) (map[string]RowCounters, error) {
	// Within a transaction PostgreSQL may return cached statistics
	// (stats_fetch_consistency), so the cache is cleared first.
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return nil, fmt.Errorf("pg_stat_clear_snapshot: %w", err)
	}

	rows, err := conn.Query(ctx, `
		SELECT relname, n_tup_ins, n_tup_upd, n_tup_del
		FROM pg_stat_user_tables
		WHERE schemaname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_user_tables: %w", err)
	}
	defer rows.Close()

	tables := map[string]RowCounters{}
	for rows.Next() {
		var name string
		var c RowCounters
		if err := rows.Scan(&name, &c.Inserted, &c.Updated, &c.Deleted); err != nil {
			return nil, fmt.Errorf("read pg_stat_user_tables: %w", err)
		}
		tables[name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_stat_user_tables: %w", err)
	}

	return tables, nil
}
