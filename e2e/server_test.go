package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portero/portero/internal/testdb"
)

const (
	// readyTimeout bounds the wait for GET /readyz after a process starts,
	// which includes the migrations on a new database.
	readyTimeout = 15 * time.Second
	// stopTimeout is how long a process may take to exit after SIGTERM. It
	// is the sum of shutdownTimeout (6 s) and closeTimeout (1 s) in cmd/serve.go,
	// plus one second.
	stopTimeout = 8 * time.Second
)

// deployment is one Portero installation: a database, a port and the
// settings that every process of a test shares, so that a restarted process
// serves the same sessions.
type deployment struct {
	databaseURL   string
	port          int
	dataDir       string
	sessionSecret string
	// extraEnv is added after the defaults of env, so an entry here such as
	// APP_ENV=production replaces the default of the same name.
	extraEnv []string

	// log collects the stdout and stderr of every process, in start order.
	log       *logBuffer
	processes int
}

// newDeployment creates an empty database and picks a free port on
// 127.0.0.1. The server applies the migrations itself when it starts.
func newDeployment(t *testing.T) *deployment {
	t.Helper()

	return newDeploymentOn(t, testdb.NewURL(t))
}

// newDeploymentOn is newDeployment for a database that the caller provides,
// such as one in a cluster that the test stops and starts.
func newDeploymentOn(t *testing.T, databaseURL string) *deployment {
	t.Helper()

	d := &deployment{
		databaseURL:   databaseURL,
		port:          freePort(t),
		dataDir:       t.TempDir(),
		sessionSecret: randomHex(t, 24),
		log:           &logBuffer{},
	}
	// Cleanups run last-in first-out, so every process is stopped, and its
	// output complete, before this one prints the log.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output of the portero processes:\n%s", d.log.String())
		}
	})

	return d
}

// baseURL returns the address that the browser and the HTTP client use.
func (d *deployment) baseURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(d.port)
}

// env returns the whole environment of a portero process. Nothing is
// inherited from the test process, so a DATABASE_URL or ADMIN_EMAIL in the
// developer's shell cannot change what the test runs against. LOG_LEVEL is
// debug so that the secret checks see every line the server can write.
// exec.Cmd uses the last value of a repeated name, so extraEnv wins.
func (d *deployment) env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + d.databaseURL,
		"PORT=" + strconv.Itoa(d.port),
		"DATA_DIR=" + d.dataDir,
		"SESSION_SECRET=" + d.sessionSecret,
		"BCRYPT_COST=4",
		"APP_ENV=development",
		"LOG_LEVEL=debug",
	}

	return append(env, d.extraEnv...)
}

// createUser runs `portero user create` with the password on stdin.
func (d *deployment) createUser(t *testing.T, email, name, password string) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, binaryPath, "user", "create", "--email", email, "--name", name)
	cmd.Env = d.env()
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.Stdout = d.log
	cmd.Stderr = d.log
	d.log.printf("--- portero user create --email %s\n", email)
	if err := cmd.Run(); err != nil {
		t.Fatalf("portero user create --email %s: %v", email, err)
	}
}

// process is one running `portero` server.
type process struct {
	cmd    *exec.Cmd
	port   int
	exited chan struct{}
	// waitErr is the result of cmd.Wait. Read it only after exited is closed.
	waitErr error
}

// baseURL returns the address of this process on 127.0.0.1.
func (p *process) baseURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(p.port)
}

// start runs a new server process on the deployment's port and waits until
// GET /readyz returns 200. The process is killed when the test ends, if it
// still runs.
func (d *deployment) start(t *testing.T) *process {
	t.Helper()

	return d.startOn(t, d.port)
}

// startOn is start on another port, for several processes that serve the
// same deployment at once.
func (d *deployment) startOn(t *testing.T, port int) *process {
	t.Helper()

	p := d.spawn(t, port)
	d.waitReady(t, p)

	return p
}

// spawn runs a new server process on port and returns at once, without
// waiting for it to be ready. The process is killed when the test ends, if
// it still runs.
func (d *deployment) spawn(t *testing.T, port int) *process {
	t.Helper()

	d.processes++
	d.log.printf("--- portero process %d on port %d\n", d.processes, port)

	cmd := exec.Command(binaryPath)
	cmd.Env = append(d.env(), "PORT="+strconv.Itoa(port))
	cmd.Stdout = d.log
	cmd.Stderr = d.log
	setProcessAttributes(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start portero process %d: %v", d.processes, err)
	}

	p := &process{cmd: cmd, port: port, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)

	return p
}

// waitReady polls GET /readyz until it returns 200, the process exits or
// readyTimeout passes.
func (d *deployment) waitReady(t *testing.T, p *process) {
	t.Helper()

	client := &http.Client{Timeout: time.Second}
	url := p.baseURL() + "/readyz"
	deadline := time.Now().Add(readyTimeout)
	lastResult := "no response yet"
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("portero exited before GET /readyz returned 200: %v", p.waitErr)
		default:
		}

		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			lastResult = "status " + resp.Status
		} else {
			lastResult = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Fatalf("GET %s timed out after %s: got %s, want status 200", url, readyTimeout, lastResult)
}

// stop sends SIGTERM and requires the process to exit with code 0 within
// stopTimeout.
func (p *process) stop(t *testing.T) {
	t.Helper()

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM to portero: %v", err)
	}

	start := time.Now()
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("portero %s after SIGTERM: got still running, want exited with code 0", stopTimeout)
	}

	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d (%v), want 0", code, p.waitErr)
	}
	t.Logf("portero exited with code 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// crash sends SIGKILL, as a container runtime or the OOM killer would, and
// waits for the process to die.
func (p *process) crash(t *testing.T) {
	t.Helper()

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("send SIGKILL to portero: %v", err)
	}

	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("portero 5s after SIGKILL: got still running, want dead")
	}

	status, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Fatalf("process state after SIGKILL: got %v, want killed by SIGKILL", p.cmd.ProcessState)
	}
}

// kill stops the process if it still runs. It is the cleanup of start, so
// that a failed test leaves no server behind.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}

	p.cmd.Process.Kill()
	<-p.exited
}

// logBuffer is an io.Writer that several processes write to at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *logBuffer) printf(format string, args ...any) {
	fmt.Fprintf(b, format, args...)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// requireNoSecrets fails the test when the log contains any of the values.
// The map keys name the values in the failure message, which never shows
// the values themselves.
func requireNoSecrets(t *testing.T, log string, secrets map[string]string) {
	t.Helper()

	if log == "" {
		t.Fatal("server log is empty: got no output from portero, want at least its start and stop lines")
	}
	for name, value := range secrets {
		if value == "" {
			t.Errorf("%s is empty, so the log check for it would prove nothing", name)
			continue
		}
		if strings.Contains(log, value) {
			t.Errorf("server log: got the %s in it, want it never logged", name)
		}
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
// Another process may take it before portero binds it, which then fails the
// readiness wait with the bind error in the log.
func freePort(t *testing.T) int {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port on 127.0.0.1: %v", err)
	}
	defer listener.Close()

	return listener.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T, bytes int) string {
	t.Helper()

	raw := make([]byte, bytes)
	if _, err := rand.Read(raw); err != nil {
		t.Fatalf("read random bytes: %v", err)
	}

	return hex.EncodeToString(raw)
}

// noRedirectClient returns an HTTP client that returns redirects to the
// caller instead of following them, and keeps no cookies.
func noRedirectClient() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
