package main

import (
	"strings"
	"testing"
)

func TestReplaceSectionKeepsSurroundingText(t *testing.T) {
	text := "# Benchmarks\n\nMethod.\n\n" + sectionBegin + "\nold\n" + sectionEnd + "\n\n## History\n"
	got, err := replaceSection(text, sectionBegin+"\nnew\n"+sectionEnd+"\n")
	if err != nil {
		t.Fatalf("replaceSection: %v", err)
	}

	want := "# Benchmarks\n\nMethod.\n\n" + sectionBegin + "\nnew\n" + sectionEnd + "\n\n## History\n"
	if got != want {
		t.Errorf("replaceSection:\ngot  %q\nwant %q", got, want)
	}
}

func TestReplaceSectionWithoutMarkers(t *testing.T) {
	for _, text := range []string{
		"# Benchmarks\n",
		sectionEnd + "\n" + sectionBegin + "\n",
		sectionBegin + "\nno end\n",
	} {
		if _, err := replaceSection(text, "section"); err == nil {
			t.Errorf("replaceSection(%q): got nil error, want an error for missing or misordered markers", text)
		}
	}
}

func TestParseMemory(t *testing.T) {
	status := "Name:\tportero\nVmHWM:\t   34304 kB\nVmRSS:\t   33280 kB\nThreads:\t7\n"
	got, err := parseMemory(strings.NewReader(status), "status")
	if err != nil {
		t.Fatalf("parseMemory: %v", err)
	}

	if got.RSS != 33280*1024 {
		t.Errorf("RSS: got %d, want %d", got.RSS, 33280*1024)
	}
	if got.PeakRSS != 34304*1024 {
		t.Errorf("PeakRSS: got %d, want %d", got.PeakRSS, 34304*1024)
	}
}

func TestParseMemoryMissingLine(t *testing.T) {
	if _, err := parseMemory(strings.NewReader("VmRSS:\t1 kB\n"), "status"); err == nil {
		t.Error("parseMemory: got nil error, want an error for the missing VmHWM line")
	}
}

func TestParseCPUTicks(t *testing.T) {
	// Field 2 contains a space and a parenthesis; utime is 120 and stime 30.
	stat := "4242 (por tero) S 1 4242 4242 0 -1 4194560 900 0 0 0 120 30 0 0 20 0 9 0 100 0 0"
	got, err := parseCPUTicks(stat)
	if err != nil {
		t.Fatalf("parseCPUTicks: %v", err)
	}
	if got != 150 {
		t.Errorf("parseCPUTicks: got %d, want 150", got)
	}
}

func TestParseCPUTicksMalformed(t *testing.T) {
	for _, stat := range []string{"", "4242 portero S 1", "4242 (portero) S 1 2"} {
		if _, err := parseCPUTicks(stat); err == nil {
			t.Errorf("parseCPUTicks(%q): got nil error, want an error", stat)
		}
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		values []float64
		want   float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, c := range cases {
		if got := median(c.values); got != c.want {
			t.Errorf("median(%v): got %v, want %v", c.values, got, c.want)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	sorted := make([]float64, 200)
	for i := range sorted {
		sorted[i] = float64(i + 1)
	}

	if got := percentile(sorted, 99); got != 198 {
		t.Errorf("percentile(1..200, 99): got %v, want 198", got)
	}
	if got := percentile(sorted, 100); got != 200 {
		t.Errorf("percentile(1..200, 100): got %v, want 200", got)
	}
	if got := percentile([]float64{3}, 99); got != 3 {
		t.Errorf("percentile([3], 99): got %v, want 3", got)
	}
}

func TestAllowedRefreshWrites(t *testing.T) {
	cases := []struct {
		seconds float64
		want    int64
	}{
		{15, 2},
		{59.9, 2},
		{60, 4},
		{150, 6},
	}
	for _, c := range cases {
		if got := allowedRefreshWrites(c.seconds); got != c.want {
			t.Errorf("allowedRefreshWrites(%v): got %d, want %d", c.seconds, got, c.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	cases := map[int64]string{0: "0", 999: "999", 1000: "1,000", 1000000: "1,000,000", -12345: "-12,345"}
	for n, want := range cases {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d): got %q, want %q", n, got, want)
		}
	}
}

func wrkRun(requests int64, statuses map[string]int64) WrkResult {
	var w WrkResult
	w.Requests = requests
	w.DurationUS = 1_000_000
	w.Statuses = statuses
	return w
}

func TestCheckRunAcceptsExpectedStatuses(t *testing.T) {
	if problems := checkRun("read", wrkRun(10, map[string]int64{"200": 10}), http200); len(problems) != 0 {
		t.Errorf("checkRun: got %v, want no problems", problems)
	}
}

func TestCheckRunRejectsRedirect(t *testing.T) {
	// A 303 to /login means that the session cookie did not work.
	problems := checkRun("read", wrkRun(10, map[string]int64{"200": 9, "303": 1}), http200)
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "status 303") {
		t.Errorf("checkRun: got %v, want one problem naming status 303", problems)
	}
}

func TestCheckRunRejectsSocketErrors(t *testing.T) {
	w := wrkRun(10, map[string]int64{"200": 10})
	w.Errors.Timeout = 2
	if problems := checkRun("read", w, http200); len(problems) != 1 {
		t.Errorf("checkRun: got %v, want one problem for the timeouts", problems)
	}
}

func TestCheckRunRejectsUncountedResponses(t *testing.T) {
	if problems := checkRun("read", wrkRun(10, map[string]int64{"200": 8}), http200); len(problems) != 1 {
		t.Errorf("checkRun: got %v, want one problem for 2 uncounted responses", problems)
	}
}

func TestCheckRunRejectsEmptyRun(t *testing.T) {
	if problems := checkRun("read", wrkRun(0, nil), http200); len(problems) != 1 {
		t.Errorf("checkRun: got %v, want one problem for no requests", problems)
	}
}

// passingResults returns results that pass every correctness check.
func passingResults() *Results {
	reads := wrkRun(1000, map[string]int64{"200": 1000})
	r := &Results{
		Read: reads, Healthz: reads, ReadTwoThreads: reads, HealthzTwoThreads: reads, Floor: reads, FloodRead: reads,
		RowsEmpty: reads, RowsRead: reads, CleanupRead: reads,
		FloodLogin: wrkRun(30, map[string]int64{"401": 10, "503": 20}),
		Memory:     Memory{RSS: 30_000_000, PeakRSS: 31_000_000},
		Restarts:   Restarts{RunsMillis: []float64{100}, MedianMillis: 100},
		Seed:       Seed{Rows: 100, Expired: 95},
		Cleanup: Cleanup{Deleted: 95, Probe: ProbeTimes{Reads: 10, MaxMillis: 1},
			ProbeBefore: ProbeTimes{Reads: 10, MaxMillis: 1}},
	}
	tables := map[string]RowCounters{"web_sessions": {Inserted: 1}, "user_sessions": {Inserted: 1}}
	r.StatsBefore = TableStats{Tables: tables}
	r.StatsAfter = TableStats{Tables: tables}

	return r
}

func failedChecks(r *Results) []string {
	var names []string
	for _, c := range r.check() {
		if len(c.Problems) > 0 {
			names = append(names, c.Name)
		}
	}

	return names
}

func TestCheckPassingResults(t *testing.T) {
	if failed := failedChecks(passingResults()); len(failed) != 0 {
		t.Errorf("check: got failed checks %v, want none", failed)
	}
}

func TestCheckFloodWithoutPasswordCheck(t *testing.T) {
	r := passingResults()
	r.FloodLogin = wrkRun(30, map[string]int64{"503": 30})

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "POST /login flood" {
		t.Errorf("check: got failed checks %v, want only the login flood", failed)
	}
}

func TestCheckFloodRejectedByCSRF(t *testing.T) {
	r := passingResults()
	r.FloodLogin = wrkRun(30, map[string]int64{"401": 10, "403": 20})

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "POST /login flood" {
		t.Errorf("check: got failed checks %v, want only the login flood", failed)
	}
}

func TestCheckStatisticsWithoutLoginInsert(t *testing.T) {
	r := passingResults()
	r.StatsBefore = TableStats{Tables: map[string]RowCounters{"web_sessions": {}, "user_sessions": {Inserted: 1}}}

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "table statistics" {
		t.Errorf("check: got failed checks %v, want only the table statistics", failed)
	}
}

func TestCheckCleanupCountMismatch(t *testing.T) {
	r := passingResults()
	r.Cleanup.Deleted = 0

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "cleanup" {
		t.Errorf("check: got failed checks %v, want only the cleanup check", failed)
	}
}

func TestCheckCleanupWithoutProbeReads(t *testing.T) {
	r := passingResults()
	r.Cleanup.Probe = ProbeTimes{}

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "cleanup" {
		t.Errorf("check: got failed checks %v, want only the cleanup check", failed)
	}
}

func TestCheckTwoThreadRunWithErrors(t *testing.T) {
	r := passingResults()
	r.ReadTwoThreads = wrkRun(10, map[string]int64{"200": 5, "500": 5})

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "GET /dashboard with 2 wrk threads" {
		t.Errorf("check: got failed checks %v, want only the 2-thread dashboard run", failed)
	}
}

func TestTargetsAtLimits(t *testing.T) {
	r := passingResults()
	r.Healthz = wrkRun(1000, map[string]int64{"200": 1000})
	r.Read = wrkRun(300, map[string]int64{"200": 300})
	r.Read.LatencyUS.P99 = 5000
	r.FloodRead = wrkRun(150, map[string]int64{"200": 150})
	r.FloodRead.LatencyUS.P99 = 20000
	r.Memory.PeakRSS = maxResidentBytes
	r.Restarts.MedianMillis = maxReadyMillis
	r.RowsEmpty.LatencyUS.P99 = 1000
	r.RowsRead.LatencyUS.P99 = 1200
	r.Cleanup.Probe.MaxMillis = maxCleanupBlockMillis

	for _, target := range targets(r, 32) {
		if !target.Met {
			t.Errorf("target %q with %s: got Not met, want Met at the limit", target.Goal, target.Measured)
		}
	}
}

func TestTargetsBeyondLimits(t *testing.T) {
	r := passingResults()
	r.Healthz = wrkRun(1000, map[string]int64{"200": 1000})
	r.Read = wrkRun(299, map[string]int64{"200": 299})
	r.Read.LatencyUS.P99 = 5001
	r.StatsAfter = TableStats{Tables: map[string]RowCounters{"web_sessions": {Inserted: 1, Updated: 2}, "user_sessions": {Inserted: 1, Updated: 1}}}
	r.FloodRead = wrkRun(149, map[string]int64{"200": 149})
	r.FloodRead.LatencyUS.P99 = 20001
	r.Memory.PeakRSS = maxResidentBytes + 1
	r.Restarts.MedianMillis = maxReadyMillis + 1
	r.RowsEmpty.LatencyUS.P99 = 1000
	r.RowsRead.LatencyUS.P99 = 1201
	r.Cleanup.Probe.MaxMillis = maxCleanupBlockMillis + 0.01

	for _, target := range targets(r, 32) {
		if target.Met {
			t.Errorf("target %q with %s: got Met, want Not met beyond the limit", target.Goal, target.Measured)
		}
	}
}
