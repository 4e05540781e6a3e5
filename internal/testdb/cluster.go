package testdb

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Cluster is a PostgreSQL cluster of a test's own, which the test stops,
// starts and reconfigures with scripts/pgcluster.sh. The script keeps the
// data directory and the port across restarts.
type Cluster struct {
	dir    string
	script string
	// URL is the cluster's postgres database, as the superuser postgres,
	// whom the cluster trusts on 127.0.0.1.
	URL string
}

// NewCluster initializes and starts a cluster in a new directory under the
// system's temporary directory, and stops and deletes it when the test ends.
// The directory is not t.TempDir, because as root the script runs the
// server as the postgres user, which must be able to enter every parent.
// NOTE: a cluster outlives a test process that is killed before its
// cleanup runs; its directory is then left in the temporary directory.
func NewCluster(t *testing.T) *Cluster {
	t.Helper()

	_, source, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("find scripts/pgcluster.sh: no caller information")
	}
	script := filepath.Join(filepath.Dir(source), "..", "..", "scripts", "pgcluster.sh")
	dir, err := os.MkdirTemp("", "portero-test-pg-")
	if err != nil {
		t.Fatalf("create a directory for the cluster: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod 755 %s: %v", dir, err)
	}

	c := &Cluster{dir: dir, script: script}
	t.Cleanup(func() {
		if _, err := c.run("stop"); err != nil {
			t.Errorf("stop the cluster in %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the cluster directory: %v", err)
		}
	})
	c.Start(t)

	return c
}

// DataDir returns the cluster's data directory, which the server's user
// owns.
func (c *Cluster) DataDir() string {
	return filepath.Join(c.dir, "data")
}

// run runs the script with args and the cluster's directory, and returns
// its standard output. The error includes the script's messages.
func (c *Cluster) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, append(args, c.dir)...)...)
	// The settings of a throwaway cluster: no fsync.
	cmd.Env = append(os.Environ(), "PGCLUSTER_FAST=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", &scriptError{args: args, err: err, stderr: stderr.String()}
	}

	return strings.TrimSpace(stdout.String()), nil
}

type scriptError struct {
	args   []string
	err    error
	stderr string
}

func (e *scriptError) Error() string {
	return "pgcluster.sh " + strings.Join(e.args, " ") + ": " + e.err.Error() + "; its messages:\n" + e.stderr
}

// Start starts the cluster, on the same port as before when it is free,
// and requires the URL to stay the same.
func (c *Cluster) Start(t *testing.T) {
	t.Helper()

	url, err := c.run("start")
	if err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	if c.URL != "" && url != c.URL {
		t.Fatalf("cluster URL after a restart: got %s, want %s, because the test keeps the one it started with", url, c.URL)
	}
	c.URL = url
}

// Stop stops the cluster with pg_ctl's fast mode, which ends open
// connections, and waits until it is down.
func (c *Cluster) Stop(t *testing.T) {
	t.Helper()

	if _, err := c.run("stop"); err != nil {
		t.Fatalf("stop the cluster: %v", err)
	}
}
