package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Markers around the section of the report file that each run replaces.
const (
	sectionBegin = "<!-- bench:begin -->"
	sectionEnd   = "<!-- bench:end -->"
)

// Settings describe how scripts/bench.sh ran the benchmark.
type Settings struct {
	Command          string
	Mode             string
	Fsync            string
	ServerEnv        string
	Connections      int
	Threads          int
	FloodConnections int
	CSRFPairs        int
	// Revision is the output of git describe for the code measured.
	Revision string
	// LoadStart and LoadEnd are the 1-minute load averages of the machine
	// when the run started and ended.
	LoadStart string
	LoadEnd   string
	Date      time.Time
}

// Machine describes the computer that ran the benchmark.
type Machine struct {
	CPUs        int
	CPUModel    string
	MemoryBytes int64
	Kernel      string
	GoVersion   string
	PostgreSQL  string
}

func reportCommand(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	resultsDir := fs.String("results", "", "folder with the result files of scripts/bench.sh")
	out := fs.String("out", "", "Markdown file whose section between the bench markers is replaced, or created")
	var s Settings
	fs.StringVar(&s.Command, "command", "make bench", "command that ran the benchmark, for the report")
	fs.StringVar(&s.Mode, "mode", "full", "full or smoke")
	fs.StringVar(&s.Fsync, "fsync", "", "on or off: PostgreSQL's fsync setting")
	fs.StringVar(&s.ServerEnv, "server-env", "", "server settings to list in the report, without secrets")
	fs.IntVar(&s.Connections, "connections", 32, "wrk connections of the read runs")
	fs.IntVar(&s.Threads, "threads", 1, "wrk threads of the read runs")
	fs.IntVar(&s.FloodConnections, "flood-connections", 16, "wrk connections of the login flood")
	fs.IntVar(&s.CSRFPairs, "csrf-pairs", 64, "CSRF pairs that the login flood rotated through")
	fs.StringVar(&s.Revision, "revision", "unknown", "git describe output of the code measured")
	fs.StringVar(&s.LoadStart, "load-start", "unknown", "1-minute load average when the run started")
	if err := parseFlags(fs, args, "results", "out", "fsync"); err != nil {
		return err
	}
	s.Date = time.Now().UTC()
	s.LoadEnd = readLoadAverage()

	results, err := loadResults(*resultsDir)
	if err != nil {
		return err
	}
	machine := readMachine()
	machine.PostgreSQL = results.StatsAfter.ServerVersion
	list := targets(results, s.Connections)
	checks := results.check()

	fmt.Fprint(stdout, renderText(results, list, machine, s))
	failed := 0
	for _, c := range checks {
		for _, problem := range c.Problems {
			fmt.Fprintf(stdout, "FAIL: %s\n", problem)
		}
		if len(c.Problems) > 0 {
			failed++
		}
	}
	fmt.Fprintf(stdout, "correctness: %d passed, %d failed\n", len(checks)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d correctness checks failed; the report was not written", failed, len(checks))
	}

	return writeSection(*out, renderMarkdown(results, list, machine, s))
}

// readMachine reads what Linux reports about the CPUs, memory and kernel.
// A value that cannot be read is "unknown".
func readMachine() Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  "unknown",
		Kernel:    "unknown",
		GoVersion: runtime.Version(),
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = procField(data, "model name", "unknown")
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		total := strings.TrimSuffix(procField(data, "MemTotal", ""), " kB")
		if kilobytes, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64); err == nil {
			m.MemoryBytes = kilobytes * 1024
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}

	return m
}

// readLoadAverage returns the 1-minute load average from /proc/loadavg, or
// "unknown".
func readLoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "unknown"
	}

	return fields[0]
}

// procField returns the value of the first "key: value" line with key in a
// /proc file, or fallback.
func procField(data []byte, key, fallback string) string {
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(name) == key {
			return strings.TrimSpace(value)
		}
	}

	return fallback
}

// readRuns lists the wrk runs in the order of the tables.
func readRuns(r *Results) []struct {
	name   string
	result WrkResult
} {
	rows := fmt.Sprintf("%s session rows", formatCount(r.Seed.Rows))
	return []struct {
		name   string
		result WrkResult
	}{
		{"GET /dashboard", r.Read},
		{"GET /healthz", r.Healthz},
		{"GET /dashboard, 2 wrk threads", r.ReadTwoThreads},
		{"GET /healthz, 2 wrk threads", r.HealthzTwoThreads},
		{"Floor: bare net/http server (bench floor), not Portero", r.Floor},
		{"GET /dashboard during the login flood", r.FloodRead},
		{"GET /dashboard, empty session table (second process)", r.RowsEmpty},
		{"GET /dashboard, " + rows, r.RowsRead},
		{"GET /dashboard during the cleanup and the probe before it", r.CleanupRead},
	}
}

// otherMeasures returns the measures that are not wrk runs, as name and
// value pairs.
func otherMeasures(r *Results) [][2]string {
	login := r.FloodLogin
	other := login.Requests - login.Status(401) - login.Status(503) - login.Status(429)
	seconds := float64(r.Read.DurationUS) / 1e6

	return [][2]string{
		{"Logins during the flood", fmt.Sprintf("%s in %.1f s (%.1f/s): %s × 401 wrong password, %s × 503 busy, %s × 429 locked, %s other; p50 %s, p99 %s",
			formatCount(login.Requests), float64(login.DurationUS)/1e6, login.Rate(),
			formatCount(login.Status(401)), formatCount(login.Status(503)), formatCount(login.Status(429)), formatCount(other),
			formatMicros(login.LatencyUS.P50), formatMicros(login.LatencyUS.P99))},
		{"Session-table writes per GET /dashboard", fmt.Sprintf("%.4f (%d rows in %s reads over %.1f s; other tables: %d rows)",
			float64(r.SessionWrites())/float64(max(r.Read.Requests, 1)), r.SessionWrites(), formatCount(r.Read.Requests), seconds, r.OtherWrites())},
		{"Resident memory after the flood", fmt.Sprintf("VmRSS %s, peak VmHWM %s", formatMegabytes(r.Memory.RSS), formatMegabytes(r.Memory.PeakRSS))},
		{"Restart to ready (exec to first 200 on /readyz)", fmt.Sprintf("median %.0f ms of %d starts (%s)", r.Restarts.MedianMillis, len(r.Restarts.RunsMillis), formatMillisList(r.Restarts.RunsMillis))},
		{"Seeded session rows", fmt.Sprintf("%s rows, %s expired, %d bytes of data each; INSERT %.1f s, VACUUM (ANALYZE) %.1f s, CHECKPOINT %.1f s",
			formatCount(r.Seed.Rows), formatCount(r.Seed.Expired), r.Seed.DataBytes, r.Seed.InsertMillis/1000, r.Seed.VacuumMillis/1000, r.Seed.CheckpointMillis/1000)},
		{"Cleanup of the expired rows", fmt.Sprintf("%s sessions and %s orphan index rows in %d DELETE statements of up to %d rows: %.1f s in total, longest statement %.1f ms, p99 %.1f ms",
			formatCount(r.Cleanup.Deleted), formatCount(r.Cleanup.OrphansDeleted), r.Cleanup.Batches, r.Cleanup.BatchSize,
			r.Cleanup.TotalMillis/1000, r.Cleanup.MaxBatchMillis, r.Cleanup.P99BatchMillis)},
		{"Session row reads during the cleanup (pgstore's query, one connection, every 5 ms)", fmt.Sprintf("%s reads, p99 %.2f ms, max %.2f ms; in the %s reads before it: p99 %.2f ms, max %.2f ms",
			formatCount(int64(r.Cleanup.Probe.Reads)), r.Cleanup.Probe.P99Millis, r.Cleanup.Probe.MaxMillis,
			formatCount(int64(r.Cleanup.ProbeBefore.Reads)), r.Cleanup.ProbeBefore.P99Millis, r.Cleanup.ProbeBefore.MaxMillis)},
	}
}

func formatMillisList(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%.0f", v)
	}

	return strings.Join(parts, ", ") + " ms"
}

func metLabel(met bool) string {
	if met {
		return "Met"
	}

	return "Not met"
}

// renderText returns the plain-text tables for the terminal.
func renderText(r *Results, list []Target, m Machine, s Settings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPortero benchmark (%s, mode %s), %s\n", s.Command, s.Mode, s.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, %.1f GiB, Linux %s, %s, PostgreSQL %s (fsync %s)\n",
		m.CPUs, m.CPUModel, float64(m.MemoryBytes)/(1<<30), m.Kernel, m.GoVersion, m.PostgreSQL, s.Fsync)
	fmt.Fprintf(&b, "Code: %s. Load average (1 min): %s at the start, %s at the end.\n\n", s.Revision, s.LoadStart, s.LoadEnd)

	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Run\tRequests/s\tp50\tp90\tp99\tMax\t")
	for _, run := range readRuns(r) {
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t%s\t%s\t\n", run.name, run.result.Rate(),
			formatMicros(run.result.LatencyUS.P50), formatMicros(run.result.LatencyUS.P90),
			formatMicros(run.result.LatencyUS.P99), formatMicros(run.result.LatencyUS.Max))
	}
	w.Flush()
	b.WriteString("\n")

	for _, measure := range otherMeasures(r) {
		fmt.Fprintf(&b, "%s: %s\n", measure[0], measure[1])
	}
	b.WriteString("\n")

	w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Target\tMeasured\tResult\t")
	for _, t := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t\n", t.Goal, t.Measured, metLabel(t.Met))
	}
	w.Flush()
	b.WriteString("\n")

	return b.String()
}

// renderMarkdown returns the report section, markers included.
func renderMarkdown(r *Results, list []Target, m Machine, s Settings) string {
	var b strings.Builder
	b.WriteString(sectionBegin + "\n")
	b.WriteString("<!-- Written by scripts/bench.sh; the next run replaces everything up to the end marker. -->\n\n")
	b.WriteString("## Latest run\n\n")
	fmt.Fprintf(&b, "Command: `%s` (mode %s), run on %s, code at `%s`.\n\n", s.Command, s.Mode, s.Date.Format("2006-01-02 15:04 MST"), s.Revision)

	b.WriteString("| Machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPUs (nproc) | %d |\n", m.CPUs)
	fmt.Fprintf(&b, "| CPU model | %s |\n", m.CPUModel)
	fmt.Fprintf(&b, "| Memory | %.1f GiB |\n", float64(m.MemoryBytes)/(1<<30))
	fmt.Fprintf(&b, "| Kernel | Linux %s |\n", m.Kernel)
	fmt.Fprintf(&b, "| Go | %s |\n", m.GoVersion)
	fmt.Fprintf(&b, "| PostgreSQL | %s, fsync %s |\n", m.PostgreSQL, s.Fsync)
	fmt.Fprintf(&b, "| Load average (1 min) | %s at the start, %s at the end |\n\n", s.LoadStart, s.LoadEnd)

	settings := strings.Fields(s.ServerEnv)
	for i, setting := range settings {
		settings[i] = "`" + setting + "`"
	}
	fmt.Fprintf(&b, "Server settings: %s.\n", strings.Join(settings, ", "))
	threads := fmt.Sprintf("%d threads", s.Threads)
	if s.Threads == 1 {
		threads = "1 thread"
	}
	fmt.Fprintf(&b, "Reads: wrk with %s and %d connections, %.0f s per run (the rows marked \"2 wrk threads\" excepted). Login flood: %d connections posting wrong passwords for new emails, rotating %d CSRF pairs.\n\n",
		threads, s.Connections, float64(r.Read.DurationUS)/1e6, s.FloodConnections, s.CSRFPairs)

	b.WriteString("| Run | Requests/s | p50 | p90 | p99 | Max |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, run := range readRuns(r) {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s |\n", run.name, run.result.Rate(),
			formatMicros(run.result.LatencyUS.P50), formatMicros(run.result.LatencyUS.P90),
			formatMicros(run.result.LatencyUS.P99), formatMicros(run.result.LatencyUS.Max))
	}
	b.WriteString("\n| Measure | Value |\n| --- | --- |\n")
	for _, measure := range otherMeasures(r) {
		fmt.Fprintf(&b, "| %s | %s |\n", measure[0], measure[1])
	}

	b.WriteString("\n| Target | Measured | Result |\n| --- | --- | --- |\n")
	for _, t := range list {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, metLabel(t.Met))
	}
	b.WriteString("\n" + sectionEnd + "\n")

	return b.String()
}

// writeSection replaces the text between the markers in path with section,
// or creates path with a title and section when it does not exist. A file
// without both markers is left alone and an error returned, so that no
// hand-written text is lost.
func writeSection(path, section string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return os.WriteFile(path, []byte("# Benchmarks\n\n"+section), 0o644)
	}
	if err != nil {
		return err
	}

	updated, err := replaceSection(string(data), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	return os.WriteFile(path, []byte(updated), 0o644)
}

// replaceSection returns text with everything from the begin marker to the
// end of the line with the end marker replaced by section.
func replaceSection(text, section string) (string, error) {
	begin := strings.Index(text, sectionBegin)
	end := strings.Index(text, sectionEnd)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("no %s ... %s section to replace; add the two markers where the results belong", sectionBegin, sectionEnd)
	}
	end += len(sectionEnd)
	if end < len(text) && text[end] == '\n' {
		end++
	}

	return text[:begin] + section + text[end:], nil
}
