package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Restarts are the times from exec to the first 200 on /readyz.
type Restarts struct {
	RunsMillis   []float64 `json:"runs_ms"`
	MedianMillis float64   `json:"median_ms"`
}

const (
	readyPollInterval = 2 * time.Millisecond
	// stopTimeout is longer than the 8 s within which the server exits
	// after SIGTERM.
	stopTimeout = 15 * time.Second
)

func readyCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("ready", flag.ContinueOnError)
	binary := fs.String("binary", "", "the portero binary, already built")
	runs := fs.Int("runs", 5, "number of starts")
	timeout := fs.Duration("timeout", 30*time.Second, "how long one start may take to become ready")
	logPath := fs.String("log", "", "file to append the servers' output to")
	out := fs.String("out", "", "JSON file to write the times to")
	if err := parseFlags(fs, args, "binary", "log", "out"); err != nil {
		return err
	}
	if *runs < 1 || *runs > 100 {
		return fmt.Errorf("%w: -runs must be from 1 to 100, got %d", errUsage, *runs)
	}

	logFile, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	var restarts Restarts
	for run := 1; run <= *runs; run++ {
		elapsed, err := timeStart(ctx, *binary, *timeout, logFile)
		if err != nil {
			return fmt.Errorf("start %d of %d: %w", run, *runs, err)
		}
		restarts.RunsMillis = append(restarts.RunsMillis, milliseconds(elapsed))
	}
	restarts.MedianMillis = median(restarts.RunsMillis)

	return writeJSON(*out, restarts)
}

// timeStart runs `binary serve` with this process's environment on a free
// port, returns the time from exec to the first 200 on /readyz, and stops
// the server with SIGTERM.
func timeStart(ctx context.Context, binary string, timeout time.Duration, output io.Writer) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	base := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}

	cmd := exec.Command(binary, "serve")
	cmd.Env = append(withoutVariable(os.Environ(), "PORT"), "PORT="+strconv.Itoa(port))
	cmd.Stdout = output
	cmd.Stderr = output

	pollCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("exec %s: %w", binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	_, pollErr := pollReady(pollCtx, newClient(), base, readyPollInterval)
	elapsed := time.Since(started)

	stopErr := stopProcess(cmd.Process, exited)
	if pollErr != nil {
		return 0, pollErr
	}
	if stopErr != nil {
		return 0, stopErr
	}

	return elapsed, nil
}

// stopProcess sends SIGTERM and waits up to stopTimeout for the exit,
// then kills the process.
func stopProcess(process *os.Process, exited <-chan error) error {
	if err := process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM to pid %d: %w", process.Pid, err)
	}

	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("server pid %d exited after SIGTERM with %w, expected status 0", process.Pid, err)
		}
		return nil
	case <-time.After(stopTimeout):
		process.Kill()
		<-exited
		return fmt.Errorf("server pid %d did not exit within %s of SIGTERM and was killed", process.Pid, stopTimeout)
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
// Another process may take it before the server binds it, and then the
// start fails with the server's listen error in the log.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer listener.Close()

	return listener.Addr().(*net.TCPAddr).Port, nil
}

func withoutVariable(environ []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(entry string) bool {
		return strings.HasPrefix(entry, name+"=")
	})
}

func milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// median returns the middle value of values, or the mean of the two middle
// values for an even count. It returns 0 for no values.
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	middle := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[middle]
	}

	return (sorted[middle-1] + sorted[middle]) / 2
}
