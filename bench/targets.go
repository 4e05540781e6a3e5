package main

import (
	"fmt"
	"math"
)

// Target is one goal of the benchmark with the number measured for it.
type Target struct {
	Goal     string
	Measured string
	Met      bool
}

// Limits of the targets.
const (
	minDashboardShareOfHealthz = 0.30
	maxDashboardP99Millis      = 5
	minFloodShareOfRead        = 0.50
	maxFloodP99Millis          = 20
	maxResidentBytes           = 40_000_000
	maxReadyMillis             = 300
	maxSeededP99Growth         = 0.20
	maxCleanupBlockMillis      = 50
	// refreshWritesPerSession is the rows that one refresh of the idle
	// deadline writes: the web_sessions row and the user_sessions row.
	// session.RefreshInterval allows one refresh a minute per session.
	refreshWritesPerSession = 2
)

// allowedRefreshWrites returns how many rows the refresh of one session may
// write in a run of duration seconds: once at the start and once per full
// minute after it.
func allowedRefreshWrites(durationSeconds float64) int64 {
	return refreshWritesPerSession * (1 + int64(math.Floor(durationSeconds/60)))
}

// targets evaluates every target against the results.
func targets(r *Results, connections int) []Target {
	readRate, healthzRate := r.Read.Rate(), r.Healthz.Rate()
	share := 0.0
	if healthzRate > 0 {
		share = readRate / healthzRate
	}
	floodShare := 0.0
	if readRate > 0 {
		floodShare = r.FloodRead.Rate() / readRate
	}
	seededGrowth := math.Inf(1)
	if r.RowsEmpty.LatencyUS.P99 > 0 {
		seededGrowth = r.RowsRead.LatencyUS.P99/r.RowsEmpty.LatencyUS.P99 - 1
	}
	writes := r.SessionWrites()
	allowedWrites := allowedRefreshWrites(float64(r.Read.DurationUS) / 1e6)

	return []Target{
		{
			Goal:     fmt.Sprintf("GET /dashboard at least %.0f%% of the /healthz rate", minDashboardShareOfHealthz*100),
			Measured: fmt.Sprintf("%.0f%% (%.0f of %.0f requests/s)", share*100, readRate, healthzRate),
			Met:      share >= minDashboardShareOfHealthz,
		},
		{
			Goal: fmt.Sprintf("GET /dashboard p99 at most %d ms at %d connections", maxDashboardP99Millis, connections),
			Measured: fmt.Sprintf("%s (a bare net/http server: %s; GET /healthz: %s)",
				formatMicros(r.Read.LatencyUS.P99), formatMicros(r.Floor.LatencyUS.P99), formatMicros(r.Healthz.LatencyUS.P99)),
			Met: r.Read.LatencyUS.P99 <= maxDashboardP99Millis*1000,
		},
		{
			Goal:     fmt.Sprintf("No session-table writes on a read apart from the refresh once a minute (at most %d rows in this run)", allowedWrites),
			Measured: fmt.Sprintf("%s rows in %s reads", formatCount(writes), formatCount(r.Read.Requests)),
			Met:      writes <= allowedWrites,
		},
		{
			Goal:     fmt.Sprintf("During the login flood, GET /dashboard at least %.0f%% of its rate without it", minFloodShareOfRead*100),
			Measured: fmt.Sprintf("%.0f%% (%.0f of %.0f requests/s)", floodShare*100, r.FloodRead.Rate(), readRate),
			Met:      floodShare >= minFloodShareOfRead,
		},
		{
			Goal:     fmt.Sprintf("During the login flood, GET /dashboard p99 at most %d ms", maxFloodP99Millis),
			Measured: formatMicros(r.FloodRead.LatencyUS.P99),
			Met:      r.FloodRead.LatencyUS.P99 <= maxFloodP99Millis*1000,
		},
		{
			Goal:     fmt.Sprintf("At most %d MB resident under the load (peak VmHWM)", maxResidentBytes/1_000_000),
			Measured: fmt.Sprintf("%s peak, %s at the end", formatMegabytes(r.Memory.PeakRSS), formatMegabytes(r.Memory.RSS)),
			Met:      r.Memory.PeakRSS <= maxResidentBytes,
		},
		{
			Goal:     fmt.Sprintf("Ready within %d ms of exec (median)", maxReadyMillis),
			Measured: fmt.Sprintf("%.0f ms", r.Restarts.MedianMillis),
			Met:      r.Restarts.MedianMillis <= maxReadyMillis,
		},
		{
			Goal: fmt.Sprintf("%s session rows: GET /dashboard p99 within %.0f%% of the empty table's",
				formatCount(r.Seed.Rows), maxSeededP99Growth*100),
			Measured: fmt.Sprintf("%s vs %s (%+.0f%%)", formatMicros(r.RowsRead.LatencyUS.P99), formatMicros(r.RowsEmpty.LatencyUS.P99), seededGrowth*100),
			Met:      seededGrowth <= maxSeededP99Growth,
		},
		{
			Goal: fmt.Sprintf("The cleanup never blocks a read for more than %d ms (slowest session row read during the cleanup)",
				maxCleanupBlockMillis),
			Measured: fmt.Sprintf("%.2f ms in %s reads (%.2f ms in the %s reads before it); wrk's slowest GET /dashboard %s (%s before it)",
				r.Cleanup.Probe.MaxMillis, formatCount(int64(r.Cleanup.Probe.Reads)),
				r.Cleanup.ProbeBefore.MaxMillis, formatCount(int64(r.Cleanup.ProbeBefore.Reads)),
				formatMicros(r.CleanupRead.LatencyUS.Max), formatMicros(r.RowsRead.LatencyUS.Max)),
			Met: r.Cleanup.Probe.Reads > 0 && r.Cleanup.Probe.MaxMillis <= maxCleanupBlockMillis,
		},
	}
}

func formatMicros(us float64) string {
	return fmt.Sprintf("%.2f ms", us/1000)
}

func formatMegabytes(bytes int64) string {
	return fmt.Sprintf("%.1f MB", float64(bytes)/1e6)
}

// formatCount writes n with commas between groups of three digits.
func formatCount(n int64) string {
	if n < 0 {
		return "-" + formatCount(-n)
	}
	digits := fmt.Sprint(n)
	var out []byte
	for i, d := range []byte(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, d)
	}

	return string(out)
}
