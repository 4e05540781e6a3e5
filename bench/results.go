package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
)

// WrkResult is the JSON that bench/wrk/results.lua writes for one wrk run.
type WrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Errors     struct {
		Connect int64 `json:"connect"`
		Read    int64 `json:"read"`
		Write   int64 `json:"write"`
		// Status counts responses with a status of 400 or more.
		Status  int64 `json:"status"`
		Timeout int64 `json:"timeout"`
	} `json:"errors"`
	LatencyUS struct {
		Mean float64 `json:"mean"`
		P50  float64 `json:"p50"`
		P90  float64 `json:"p90"`
		P99  float64 `json:"p99"`
		Max  float64 `json:"max"`
	} `json:"latency_us"`
	// Statuses maps each HTTP status code, as a string, to its responses.
	Statuses map[string]int64 `json:"statuses"`
}

// Rate returns the completed requests per second.
func (w WrkResult) Rate() float64 {
	if w.DurationUS <= 0 {
		return 0
	}

	return float64(w.Requests) / (float64(w.DurationUS) / 1e6)
}

// Status returns the responses with the given status code.
func (w WrkResult) Status(code int) int64 { return w.Statuses[strconv.Itoa(code)] }

// Results are the files that scripts/bench.sh leaves in its results folder.
type Results struct {
	// Read is the authenticated GET /dashboard on the first process.
	Read    WrkResult
	Healthz WrkResult
	// ReadTwoThreads and HealthzTwoThreads repeat Read and Healthz with two
	// wrk threads, the setting of runs before 2026-12-05, for comparison.
	ReadTwoThreads    WrkResult
	HealthzTwoThreads WrkResult
	// Floor is the read run's wrk settings against `bench floor`, a bare
	// net/http server: the least latency any Portero page could have.
	Floor WrkResult
	// FloodRead is the authenticated read during the login flood, and
	// FloodLogin the flood itself.
	FloodRead  WrkResult
	FloodLogin WrkResult
	// RowsEmpty and RowsRead are authenticated reads on the second process,
	// before and after the session rows were inserted.
	RowsEmpty WrkResult
	RowsRead  WrkResult
	// CleanupRead is the authenticated read while the cleanup runs.
	CleanupRead WrkResult

	// StatsBefore and StatsAfter surround the Read run.
	StatsBefore TableStats
	StatsAfter  TableStats
	Memory      Memory
	Restarts    Restarts
	Seed        Seed
	Cleanup     Cleanup
}

// loadResults reads every result file from dir. It fails on the first
// missing or malformed file.
func loadResults(dir string) (*Results, error) {
	r := &Results{}
	files := []struct {
		name  string
		value any
	}{
		{"read.json", &r.Read},
		{"healthz.json", &r.Healthz},
		{"read-2threads.json", &r.ReadTwoThreads},
		{"healthz-2threads.json", &r.HealthzTwoThreads},
		{"floor.json", &r.Floor},
		{"flood-read.json", &r.FloodRead},
		{"flood-login.json", &r.FloodLogin},
		{"rows-empty.json", &r.RowsEmpty},
		{"rows-read.json", &r.RowsRead},
		{"cleanup-read.json", &r.CleanupRead},
		{"stats-before.json", &r.StatsBefore},
		{"stats-after.json", &r.StatsAfter},
		{"memory.json", &r.Memory},
		{"ready.json", &r.Restarts},
		{"seed.json", &r.Seed},
		{"cleanup.json", &r.Cleanup},
	}
	for _, f := range files {
		if err := readJSON(filepath.Join(dir, f.name), f.value); err != nil {
			return nil, fmt.Errorf("read result %s: %w", f.name, err)
		}
	}

	return r, nil
}

// sessionTables are the tables that an authenticated read could write to.
var sessionTables = []string{"web_sessions", "user_sessions"}

// SessionWrites returns the rows inserted, updated and deleted in the
// session tables during the Read run.
func (r *Results) SessionWrites() int64 {
	var total int64
	for _, name := range sessionTables {
		total += r.StatsAfter.Tables[name].Writes() - r.StatsBefore.Tables[name].Writes()
	}

	return total
}

// OtherWrites returns the rows written to every other table during the
// Read run.
func (r *Results) OtherWrites() int64 {
	var total int64
	for name, after := range r.StatsAfter.Tables {
		if slices.Contains(sessionTables, name) {
			continue
		}
		total += after.Writes() - r.StatsBefore.Tables[name].Writes()
	}

	return total
}

// Check is one correctness check: its name and the problems it found.
type Check struct {
	Name     string
	Problems []error
}

// check runs the correctness checks: every response had an expected status,
// no socket error occurred, every run completed requests, the flood reached
// the password check, the statistics and memory were read, and the cleanup
// deleted exactly the expired rows. Timing plays no part in them.
func (r *Results) check() []Check {
	var checks []Check
	reads := []struct {
		name   string
		result WrkResult
	}{
		{"GET /dashboard", r.Read},
		{"GET /healthz", r.Healthz},
		{"GET /dashboard with 2 wrk threads", r.ReadTwoThreads},
		{"GET /healthz with 2 wrk threads", r.HealthzTwoThreads},
		{"bare net/http server", r.Floor},
		{"GET /dashboard during the login flood", r.FloodRead},
		{"GET /dashboard with an empty session table", r.RowsEmpty},
		{"GET /dashboard with the seeded session rows", r.RowsRead},
		{"GET /dashboard during the cleanup", r.CleanupRead},
	}
	for _, read := range reads {
		checks = append(checks, Check{read.name, checkRun(read.name, read.result, http200)})
	}

	flood := checkRun("POST /login flood", r.FloodLogin, loginFloodStatuses)
	if r.FloodLogin.Status(401) == 0 {
		flood = append(flood, errors.New("POST /login flood: no response had status 401, so no password check finished"))
	}
	checks = append(checks, Check{"POST /login flood", flood})

	var stats []error
	for _, name := range sessionTables {
		for _, snapshot := range []TableStats{r.StatsBefore, r.StatsAfter} {
			if _, ok := snapshot.Tables[name]; !ok {
				stats = append(stats, fmt.Errorf("table statistics: no row for table %s", name))
			}
		}
	}
	// The login inserted the session's rows before the first snapshot, so
	// counters that show no insert were not read from Portero's database.
	for _, name := range sessionTables {
		if r.StatsBefore.Tables[name].Inserted == 0 {
			stats = append(stats, fmt.Errorf("table statistics: %s shows no inserted row before the read run, although the login inserted one", name))
		}
	}
	checks = append(checks, Check{"table statistics", stats})

	var memory, restarts, cleanup []error
	if r.Memory.RSS <= 0 || r.Memory.PeakRSS <= 0 {
		memory = append(memory, fmt.Errorf("memory: VmRSS %d and VmHWM %d bytes, expected both above 0", r.Memory.RSS, r.Memory.PeakRSS))
	}
	if len(r.Restarts.RunsMillis) == 0 {
		restarts = append(restarts, errors.New("restart to ready: no start was timed"))
	}
	if r.Cleanup.Deleted != r.Seed.Expired {
		cleanup = append(cleanup, fmt.Errorf("cleanup: deleted %d rows, expected the %d expired rows; did the server's own cleanup run at the same time?", r.Cleanup.Deleted, r.Seed.Expired))
	}
	if r.Cleanup.Probe.Reads == 0 || r.Cleanup.ProbeBefore.Reads == 0 {
		cleanup = append(cleanup, fmt.Errorf("cleanup: the session probe read %d rows before and %d during the cleanup, expected some in both",
			r.Cleanup.ProbeBefore.Reads, r.Cleanup.Probe.Reads))
	}
	checks = append(checks,
		Check{"memory", memory},
		Check{"restart to ready", restarts},
		Check{"cleanup", cleanup},
	)

	return checks
}

var (
	http200            = []int{200}
	loginFloodStatuses = []int{401, 429, 503}
)

// checkRun reports a wrk run without requests, with a socket error, with
// responses counted that do not add up to the requests, or with a status
// outside allowed.
func checkRun(name string, w WrkResult, allowed []int) []error {
	var problems []error
	if w.Requests == 0 {
		problems = append(problems, fmt.Errorf("%s: no request completed", name))
	}
	e := w.Errors
	if e.Connect+e.Read+e.Write+e.Timeout > 0 {
		problems = append(problems, fmt.Errorf("%s: socket errors: %d connect, %d read, %d write, %d timeout", name, e.Connect, e.Read, e.Write, e.Timeout))
	}

	var counted int64
	for status, n := range w.Statuses {
		counted += n
		code, err := strconv.Atoi(status)
		if err != nil || !slices.Contains(allowed, code) {
			problems = append(problems, fmt.Errorf("%s: %d responses with status %s, expected only %v", name, n, status, allowed))
		}
	}
	if counted != w.Requests {
		problems = append(problems, fmt.Errorf("%s: %d responses counted by status, but wrk completed %d requests", name, counted, w.Requests))
	}

	return problems
}
