package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recoveryTimeout bounds the wait for portero to serve pages again after
// the database comes back. waitForDatabase in cmd/serve.go backs off to
// 8 s between pings within the first 15 s.
const recoveryTimeout = 15 * time.Second

// pgCluster is a PostgreSQL cluster of its own that a test stops and starts
// with scripts/pgcluster.sh, which keeps the data directory and the port.
type pgCluster struct {
	dir    string
	script string
	// url is the cluster's postgres database.
	url string
}

// newCluster initializes and starts a cluster in a new directory under the
// system's temporary directory, and stops and deletes it when the test ends.
// The directory is not t.TempDir, because as root the script runs the
// server as the postgres user, which must be able to enter every parent.
// NOTE: a cluster outlives a test process that is killed before its
// cleanup runs; its directory is then left in the temporary directory.
func newCluster(t *testing.T) *pgCluster {
	t.Helper()

	script, err := filepath.Abs(filepath.Join("..", "scripts", "pgcluster.sh"))
	if err != nil {
		t.Fatalf("find scripts/pgcluster.sh: %v", err)
	}
	dir, err := os.MkdirTemp("", "portero-e2e-pg-")
	if err != nil {
		t.Fatalf("create a directory for the cluster: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod 755 %s: %v", dir, err)
	}

	c := &pgCluster{dir: dir, script: script}
	t.Cleanup(func() {
		if _, err := c.run("stop"); err != nil {
			t.Errorf("stop the cluster in %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the cluster directory: %v", err)
		}
	})
	c.start(t)

	return c
}

// run runs the script with args and the cluster's directory, and returns
// its standard output. The error includes the script's messages.
func (c *pgCluster) run(args ...string) (string, error) {
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

// start starts the cluster, on the same port as before when it is free,
// and requires the URL to stay the same.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()

	url, err := c.run("start")
	if err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	if c.url != "" && url != c.url {
		t.Fatalf("cluster URL after a restart: got %s, want %s, because portero keeps the one it started with", url, c.url)
	}
	c.url = url
}

// stop stops the cluster with pg_ctl's fast mode, which ends open
// connections, and waits until it is down.
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()

	if _, err := c.run("stop"); err != nil {
		t.Fatalf("stop the cluster: %v", err)
	}
}

// fetch sends a GET with an optional Accept-Language and returns the status
// and body.
func fetch(t *testing.T, target, acceptLanguage string) (int, string) {
	t.Helper()

	client := newWebClient(nil)
	var header http.Header
	if acceptLanguage != "" {
		header = http.Header{"Accept-Language": {acceptLanguage}}
	}
	resp := client.mustRequest(t, http.MethodGet, target, nil, header)

	return resp.status, resp.body
}

// waitFor polls check every 100 ms until it returns true or timeout passes,
// and returns whether it did.
func waitFor(timeout time.Duration, check func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusOf returns the status of a GET, or 0 after a transport error.
func statusOf(target string) int {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(target)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	return resp.StatusCode
}

// TestDatabaseDownAtStart starts portero while its database is down: it
// must respond on /healthz and serve an error page, and start serving pages once
// the database is up, without a restart.
func TestDatabaseDownAtStart(t *testing.T) {
	cluster := newCluster(t)
	cluster.stop(t)

	d := newDeploymentOn(t, cluster.url)
	p := d.spawn(t, d.port)

	// /healthz stays 503 until the first start completes, so Docker does
	// not send traffic to a container that cannot serve pages yet.
	if !waitFor(readyTimeout, func() bool { return statusOf(p.baseURL()+"/healthz") == http.StatusServiceUnavailable }) {
		t.Fatalf("GET /healthz with the database down: got no 503 within %s, want 503 once portero listens", readyTimeout)
	}
	if got := statusOf(p.baseURL() + "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database down: got status %d, want 503", got)
	}

	pages := []struct {
		acceptLanguage string
		want           string
	}{
		{"", "la base de datos no responde"},
		{"en", "database is not responding"},
	}
	for _, page := range pages {
		status, body := fetch(t, p.baseURL()+"/login", page.acceptLanguage)
		if status != http.StatusServiceUnavailable {
			t.Errorf("GET /login with Accept-Language %q and the database down: got status %d, want 503", page.acceptLanguage, status)
		}
		if !strings.Contains(body, page.want) {
			t.Errorf("GET /login with Accept-Language %q and the database down: got a page without %q, want the database error page", page.acceptLanguage, page.want)
		}
	}

	retrying := func() bool { return strings.Contains(d.log.String(), "Database is not reachable; retrying.") }
	if !waitFor(5*time.Second, retrying) {
		t.Errorf("server log: got no \"Database is not reachable; retrying.\", want it while the database is down")
	}

	cluster.start(t)
	started := time.Now()
	if !waitFor(recoveryTimeout, func() bool { return statusOf(p.baseURL()+"/readyz") == http.StatusOK }) {
		t.Fatalf("GET /readyz after the database started: got no 200 within %s, want 200", recoveryTimeout)
	}
	t.Logf("portero was ready %s after the database started", time.Since(started).Round(time.Millisecond))

	if status, _ := fetch(t, p.baseURL()+"/login", ""); status != http.StatusOK {
		t.Errorf("GET /login after the database started: got status %d, want 200", status)
	}
	if got := statusOf(p.baseURL() + "/healthz"); got != http.StatusOK {
		t.Errorf("GET /healthz after the database started: got status %d, want 200", got)
	}
	select {
	case <-p.exited:
		t.Fatalf("portero exited while it waited for the database: %v", p.waitErr)
	default:
	}

	p.stop(t)
	requireNoPanic(t, d.log.String())
}

// TestDatabaseOutageKeepsSessions stops the database under steady load:
// every response is 200 or 503, never 500, a transport error or a redirect
// to the login page. Once the database is back, every user's next request
// shows the dashboard, because the sessions are still in the database.
func TestDatabaseOutageKeepsSessions(t *testing.T) {
	const users = 4

	cluster := newCluster(t)
	d := newDeploymentOn(t, cluster.url)
	emails := make([]string, users)
	passwords := make([]string, users)
	for i := range users {
		emails[i] = "user" + strconv.Itoa(i) + "@example.com"
		passwords[i] = "Cigüeña-" + randomHex(t, 8)
		d.createUser(t, emails[i], "User", passwords[i])
	}
	p := d.start(t)

	clients := make([]*webClient, users)
	for i := range users {
		clients[i] = newWebClient(nil)
		clients[i].logIn(t, p.baseURL(), emails[i], passwords[i], nil)
	}

	ctx, stopLoad := context.WithTimeout(context.Background(), loadLimit)
	wait := runLoad(ctx, p.baseURL(), clients, emails, true)
	t.Cleanup(func() {
		stopLoad()
		wait()
	})

	time.Sleep(300 * time.Millisecond)
	cluster.stop(t)
	time.Sleep(2 * time.Second)
	if got := statusOf(p.baseURL() + "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database down: got status %d, want 503", got)
	}
	stopLoad()
	result := wait()

	unavailable := result.total - result.ok - result.failed - result.loggedOut
	t.Logf("load: %d requests, %d answered 200, %d answered 503, %d failed, %d logged out", result.total, result.ok, unavailable, result.failed, result.loggedOut)
	if result.failed != 0 {
		t.Errorf("requests that got neither 200 nor 503: got %d of %d, want 0; first ones:\n%s", result.failed, result.total, strings.Join(result.failures, "\n"))
	}
	if result.loggedOut != 0 {
		t.Errorf("requests answered with a redirect to /login: got %d of %d, want 0", result.loggedOut, result.total)
	}
	// Without 503s the database was never seen down, and the checks above
	// would prove nothing.
	if unavailable == 0 {
		t.Errorf("responses with status 503 while the database was down: got 0, want some")
	}

	cluster.start(t)
	started := time.Now()
	for i, client := range clients {
		var last string
		back := waitFor(recoveryTimeout-time.Since(started), func() bool {
			resp, err := client.request(http.MethodGet, p.baseURL()+"/dashboard", nil, nil)
			switch {
			case err != nil:
				t.Errorf("user %d: GET /dashboard after the database started: %v", i, err)
				return true
			case resp.status == http.StatusServiceUnavailable:
				last = "status 503"
				return false
			case resp.status != http.StatusOK:
				t.Errorf("user %d: GET /dashboard after the database started: got status %d (Location %q), want 200 or, until it is back, 503", i, resp.status, resp.header.Get("Location"))
				return true
			case !strings.Contains(resp.body, emails[i]):
				t.Errorf("user %d: dashboard after the database started: got a page without %s, want that user's dashboard", i, emails[i])
			}
			return true
		})
		if !back {
			t.Fatalf("user %d: GET /dashboard within %s after the database started: got %s, want 200", i, recoveryTimeout, last)
		}
	}
	t.Logf("every user saw the dashboard %s after the database started", time.Since(started).Round(time.Millisecond))

	p.stop(t)
	requireNoPanic(t, d.log.String())
}
