package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func waitIdleCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("wait-idle", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process ID of the server")
	window := fs.Duration("window", 500*time.Millisecond, "length of the quiet period")
	maxTicks := fs.Int64("max-ticks", 1, "CPU time, in clock ticks (usually 10 ms), that the process may use within the window")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pid <= 0 {
		return fmt.Errorf("%w: wait-idle needs -pid", errUsage)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	return waitIdle(ctx, fmt.Sprintf("/proc/%d/stat", *pid), *window, *maxTicks)
}

// waitIdle returns once the process used at most maxTicks of CPU time within
// one window. The server computes bcrypt hashes and then deletes expired
// rows right after it becomes ready, and a load started during that work
// would measure it too.
func waitIdle(ctx context.Context, statPath string, window time.Duration, maxTicks int64) error {
	previous, err := readCPUTicks(statPath)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the process did not stay idle for %s before the time limit: %w", statPath, window, ctx.Err())
		case <-time.After(window):
		}

		current, err := readCPUTicks(statPath)
		if err != nil {
			return err
		}
		if current-previous <= maxTicks {
			return nil
		}
		previous = current
	}
}

// readCPUTicks returns utime + stime, fields 14 and 15 of /proc/PID/stat.
func readCPUTicks(statPath string) (int64, error) {
	data, err := os.ReadFile(statPath)
	if err != nil {
		return 0, err
	}

	return parseCPUTicks(string(data))
}

func parseCPUTicks(stat string) (int64, error) {
	// The command name in field 2 may contain spaces and parentheses, so
	// the fields are counted from its closing parenthesis (field 3 on).
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("cannot parse /proc stat line %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	const utimeIndex = 14 - 3
	if len(fields) <= utimeIndex+1 {
		return 0, fmt.Errorf("cannot parse /proc stat line %q: too few fields", stat)
	}

	var total int64
	for _, field := range fields[utimeIndex : utimeIndex+2] {
		ticks, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse /proc stat line %q: %w", stat, err)
		}
		total += ticks
	}

	return total, nil
}
