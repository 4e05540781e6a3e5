package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/portero/portero/db"
)

// Cleanup describes one full run of the expired-row cleanup.
type Cleanup struct {
	// Deleted counts the expired sessions, and OrphansDeleted the index
	// rows without a session.
	Deleted        int64 `json:"deleted"`
	OrphansDeleted int64 `json:"orphans_deleted"`
	// LoginFailuresDeleted counts the stale login failure rows.
	LoginFailuresDeleted int64 `json:"login_failures_deleted"`
	// Batches counts the DELETE statements of every step.
	Batches int `json:"batches"`
	// SweptPages counts the heap pages that the cleanup read in order, or
	// is 0 when it found the expired sessions through the expiry index.
	SweptPages     int64   `json:"swept_pages"`
	BatchSize      int     `json:"batch_size"`
	PauseMillis    float64 `json:"pause_ms"`
	TotalMillis    float64 `json:"total_ms"`
	MaxBatchMillis float64 `json:"max_batch_ms"`
	P99BatchMillis float64 `json:"p99_batch_ms"`
}

func cleanupCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	databaseURL := fs.String("database-url", "", "PostgreSQL URL of Portero's database")
	batchSize := fs.Int("batch", db.CleanupBatchSize, "maximum rows per DELETE statement (default: the server's)")
	pause := fs.Duration("pause", db.CleanupPause, "wait between two DELETE statements (default: the server's)")
	// The server takes the window from LOGIN_FAILURE_WINDOW, which
	// scripts/bench.sh leaves at its default of 15 minutes.
	failureWindow := fs.Duration("login-failure-window", 15*time.Minute, "window of the login throttle; older login failures are deleted")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit of the whole cleanup")
	out := fs.String("out", "", "JSON file to write the timings to")
	if err := parseFlags(fs, args, "database-url", "out"); err != nil {
		return err
	}
	if *batchSize < 1 {
		return fmt.Errorf("%w: -batch must be at least 1, got %d", errUsage, *batchSize)
	}
	if *pause < 0 {
		return fmt.Errorf("%w: -pause must not be negative, got %s", errUsage, *pause)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	database, err := db.Open(ctx, *databaseURL, db.Options{})
	if err != nil {
		return err
	}
	defer database.Close()
	if err := database.Ping(ctx); err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}

	cleanup, err := runCleanup(ctx, database, db.CleanupOptions{
		BatchSize:          *batchSize,
		Pause:              *pause,
		LoginFailureWindow: *failureWindow,
	})
	if err != nil {
		return err
	}

	return writeJSON(*out, cleanup)
}

// runCleanup runs db.Cleanup, the server's cleanup, and times each of its
// DELETE statements.
func runCleanup(ctx context.Context, database *db.DB, options db.CleanupOptions) (Cleanup, error) {
	var statementMillis []float64
	options.OnStatement = func(s db.CleanupStatement) {
		statementMillis = append(statementMillis, milliseconds(s.Duration))
	}

	started := time.Now()
	result, err := database.Cleanup(ctx, options)
	if err != nil {
		return Cleanup{}, err
	}

	slices.Sort(statementMillis)
	return Cleanup{
		Deleted:              result.ExpiredSessions,
		OrphansDeleted:       result.OrphanIndexRows,
		LoginFailuresDeleted: result.StaleLoginFailures,
		Batches:              result.Statements,
		SweptPages:           result.SweptPages,
		BatchSize:            options.BatchSize,
		PauseMillis:          milliseconds(options.Pause),
		TotalMillis:          milliseconds(time.Since(started)),
		MaxBatchMillis:       statementMillis[len(statementMillis)-1],
		P99BatchMillis:       percentile(statementMillis, 99),
	}, nil
}

// percentile returns the value below which p percent of the sorted values
// lie (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1

	return sorted[min(max(rank, 0), len(sorted)-1)]
}
