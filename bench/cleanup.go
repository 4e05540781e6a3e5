package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

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
	// Probe times the session reads that a cache miss makes, during the
	// cleanup; ProbeBefore times the same reads in the seconds before it.
	Probe       ProbeTimes `json:"probe"`
	ProbeBefore ProbeTimes `json:"probe_before"`
}

// ProbeTimes summarizes the session row reads of one probe.
type ProbeTimes struct {
	Reads     int     `json:"reads"`
	MaxMillis float64 `json:"max_ms"`
	P99Millis float64 `json:"p99_ms"`
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
	probeBefore := fs.Duration("probe-before", 10*time.Second, "how long to time session reads before the cleanup starts")
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

	probe, err := newSessionProbe(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer probe.close()
	before, err := probe.run(ctx, func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}, *probeBefore)
	if err != nil {
		return fmt.Errorf("time session reads before the cleanup: %w", err)
	}

	var cleanup Cleanup
	during, err := probe.run(ctx, func(ctx context.Context) error {
		var err error
		cleanup, err = runCleanup(ctx, database, db.CleanupOptions{
			BatchSize:          *batchSize,
			Pause:              *pause,
			LoginFailureWindow: *failureWindow,
		})
		return err
	}, 0)
	if err != nil {
		return err
	}
	cleanup.ProbeBefore, cleanup.Probe = before, during

	return writeJSON(*out, cleanup)
}

// probeInterval is the wait between two reads of the session probe.
const probeInterval = 5 * time.Millisecond

// probeKeyCount is how many live sessions the probe reads in turn.
const probeKeyCount = 100

// sessionProbe reads live session rows through the http_sessions view with
// pgstore's query, on a connection of its own, as the server does for a
// session that is not in its memory. The seeded rows give it the keys.
// Timing these reads shows how long the cleanup holds up a read of the
// session table. wrk's reads mostly come from the server's memory, so they
// do not show that.
type sessionProbe struct {
	conn *pgx.Conn
	keys [][]byte
}

func newSessionProbe(ctx context.Context, databaseURL string) (*sessionProbe, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect the session probe: %w", err)
	}
	rows, err := conn.Query(ctx,
		"SELECT key FROM web_sessions WHERE expires_on > now() + interval '1 hour' LIMIT $1", probeKeyCount)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("choose sessions for the probe: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("choose sessions for the probe: %w", err)
	}
	if len(keys) == 0 {
		conn.Close(ctx)
		return nil, errors.New("the session probe found no live session rows; run `bench seed` first")
	}

	return &sessionProbe{conn: conn, keys: keys}, nil
}

func (p *sessionProbe) close() { p.conn.Close(context.Background()) }

// run reads session rows every probeInterval while work runs, and for at
// least minimum. It returns the read times, or work's error. A session
// read that fails or finds no row is an error, because the probe reads only
// rows that expire more than an hour later.
func (p *sessionProbe) run(ctx context.Context, work func(context.Context) error, minimum time.Duration) (ProbeTimes, error) {
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	workDone := make(chan error, 1)
	go func() {
		if minimum > 0 {
			timer := time.NewTimer(minimum)
			defer timer.Stop()
			select {
			case <-timer.C:
				stopWork()
			case <-workCtx.Done():
			}
		}
		workDone <- work(workCtx)
	}()

	var millis []float64
	for i := 0; ; i++ {
		select {
		case err := <-workDone:
			if err != nil {
				return ProbeTimes{}, err
			}
			slices.Sort(millis)
			times := ProbeTimes{Reads: len(millis), P99Millis: percentile(millis, 99)}
			if len(millis) > 0 {
				times.MaxMillis = millis[len(millis)-1]
			}
			return times, nil
		default:
		}

		started := time.Now()
		var (
			id                         int64
			key, data                  []byte
			created, modified, expires time.Time
		)
		err := p.conn.QueryRow(ctx,
			"SELECT id, key, data, created_on, modified_on, expires_on FROM http_sessions WHERE key = $1",
			p.keys[i%len(p.keys)]).Scan(&id, &key, &data, &created, &modified, &expires)
		if err != nil {
			stopWork()
			<-workDone
			return ProbeTimes{}, fmt.Errorf("probe read of a live session: %w", err)
		}
		millis = append(millis, milliseconds(time.Since(started)))
		time.Sleep(probeInterval)
	}
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
