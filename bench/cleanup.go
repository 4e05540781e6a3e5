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

// Cleanup describes one full run of the expired-session cleanup.
type Cleanup struct {
	// Deleted counts the expired sessions, and OrphansDeleted the index
	// rows without a session.
	Deleted        int64 `json:"deleted"`
	OrphansDeleted int64 `json:"orphans_deleted"`
	// Batches counts the DELETE statements of both passes.
	Batches        int     `json:"batches"`
	BatchSize      int     `json:"batch_size"`
	TotalMillis    float64 `json:"total_ms"`
	MaxBatchMillis float64 `json:"max_batch_ms"`
	P99BatchMillis float64 `json:"p99_batch_ms"`
}

func cleanupCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	databaseURL := fs.String("database-url", "", "PostgreSQL URL of Portero's database")
	// NOTE: keep the default equal to cleanupBatch in cmd/serve.go, which
	// is unexported.
	batchSize := fs.Int("batch", 1000, "rows per DELETE, as the server's cleanup uses")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit of the whole cleanup")
	out := fs.String("out", "", "JSON file to write the timings to")
	if err := parseFlags(fs, args, "database-url", "out"); err != nil {
		return err
	}
	if *batchSize < 1 {
		return fmt.Errorf("%w: -batch must be at least 1, got %d", errUsage, *batchSize)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	database, err := db.Open(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer database.Close()
	if err := database.Ping(ctx); err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}

	cleanup, err := deleteExpiredSessions(ctx, database, *batchSize)
	if err != nil {
		return err
	}

	return writeJSON(*out, cleanup)
}

// deleteExpiredSessions runs the session cleanup of deleteExpired in
// cmd/serve.go: expired sessions in batches until a batch comes back short,
// then index rows without a session in the same way. It times each batch of
// both passes.
//
// NOTE: this repeats the loops of deleteExpired, which is unexported; keep
// the two in step.
func deleteExpiredSessions(ctx context.Context, database *db.DB, batchSize int) (Cleanup, error) {
	result := Cleanup{BatchSize: batchSize}
	var batchMillis []float64
	passes := []struct {
		name   string
		delete func(context.Context, int) (int64, error)
		// counted marks the pass whose rows Deleted counts.
		counted bool
	}{
		{"expired sessions", database.DeleteExpiredSessions, true},
		{"orphan session index rows", database.DeleteOrphanUserSessions, false},
	}

	started := time.Now()
	for _, pass := range passes {
		for {
			batchStarted := time.Now()
			n, err := pass.delete(ctx, batchSize)
			if err != nil {
				return result, fmt.Errorf("delete %s, batch %d: %w", pass.name, result.Batches+1, err)
			}
			batchMillis = append(batchMillis, milliseconds(time.Since(batchStarted)))
			result.Batches++
			if pass.counted {
				result.Deleted += n
			} else {
				result.OrphansDeleted += n
			}
			if n < int64(batchSize) {
				break
			}
		}
	}
	result.TotalMillis = milliseconds(time.Since(started))

	slices.Sort(batchMillis)
	result.MaxBatchMillis = batchMillis[len(batchMillis)-1]
	result.P99BatchMillis = percentile(batchMillis, 99)

	return result, nil
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
