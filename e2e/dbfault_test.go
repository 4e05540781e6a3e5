package e2e

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/internal/testdb"
)

// recoveryTimeout bounds the wait for portero to serve pages again after
// the database comes back. waitForDatabase in cmd/serve.go backs off to
// 8 s between pings within the first 15 s.
const recoveryTimeout = 15 * time.Second

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
	cluster := testdb.NewCluster(t)
	cluster.Stop(t)

	d := newDeploymentOn(t, cluster.URL)
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

	cluster.Start(t)
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

	cluster := testdb.NewCluster(t)
	d := newDeploymentOn(t, cluster.URL)
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
	cluster.Stop(t)
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

	cluster.Start(t)
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
