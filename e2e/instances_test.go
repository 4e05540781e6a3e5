package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSessionSharedAcrossInstances runs two processes on one database with
// one SESSION_SECRET, as two replicas of a CapRover app. A login on one is
// valid on the other, and a logout on one ends the session on both at once.
// Both reject a session whose row has expired.
func TestSessionSharedAcrossInstances(t *testing.T) {
	const email = "ana@example.com"
	password := "Cigüeña-" + randomHex(t, 8)

	d := newDeployment(t)
	d.createUser(t, email, "Ana Pérez", password)
	a := d.start(t)
	b := d.startOn(t, freePort(t))

	client := newWebClient(nil)
	client.logIn(t, a.baseURL(), email, password, nil)
	cookie := client.cookies[sessionCookieName]
	if cookie == "" {
		t.Fatalf("cookie %s after login on A: got none, want the session cookie", sessionCookieName)
	}
	requireSignedIn(t, a, cookie, email, "after login on A")
	requireSignedIn(t, b, cookie, email, "after login on A")

	client.logOut(t, b.baseURL())
	requireSignedOut(t, a, cookie, "after logout on B")
	requireSignedOut(t, b, cookie, "after logout on B")

	client.logIn(t, a.baseURL(), email, password, nil)
	cookie = client.cookies[sessionCookieName]
	requireSignedIn(t, a, cookie, email, "after the second login on A")
	requireSignedIn(t, b, cookie, email, "after the second login on A")

	expired := expireSessions(t, d.databaseURL)
	if expired != 1 {
		t.Fatalf("rows expired in web_sessions: got %d, want 1, the live session", expired)
	}
	requireSignedOut(t, a, cookie, "after its row expired")
	requireSignedOut(t, b, cookie, "after its row expired")

	a.stop(t)
	b.stop(t)
	requireNoPanic(t, d.log.String())
}

// requireSignedIn requests /dashboard from p with only the session cookie
// and requires the dashboard of email.
func requireSignedIn(t *testing.T, p *process, cookie, email, when string) {
	t.Helper()

	client := newWebClient(nil)
	client.cookies[sessionCookieName] = cookie
	resp := client.mustRequest(t, http.MethodGet, p.baseURL()+"/dashboard", nil, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET /dashboard on port %d %s: got status %d, want 200", p.port, when, resp.status)
	}
	if !strings.Contains(resp.body, email) {
		t.Errorf("dashboard on port %d %s: got a page without %s, want that user's dashboard", p.port, when, email)
	}
}

// requireSignedOut requests /dashboard from p with only the session cookie
// and requires the redirect to the login page.
//
// Each instance keeps sessions in memory and drops a copy when PostgreSQL
// announces a change of its row, which takes milliseconds. The speed issue
// allows one second for another instance to honour a logout, so p gets up
// to a second to refuse the cookie.
func requireSignedOut(t *testing.T, p *process, cookie, when string) {
	t.Helper()

	client := newWebClient(nil)
	deadline := time.Now().Add(time.Second)
	var resp *response
	for {
		client.cookies[sessionCookieName] = cookie
		resp = client.mustRequest(t, http.MethodGet, p.baseURL()+"/dashboard", nil, nil)
		if resp.status != http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp.status != http.StatusSeeOther {
		t.Fatalf("GET /dashboard on port %d %s: got status %d within 1 s, want 303", p.port, when, resp.status)
	}
	if got := resp.header.Get("Location"); !isLoginRedirect(got) {
		t.Errorf("GET /dashboard on port %d %s: got Location %q, want /login", p.port, when, got)
	}
}

// isLoginRedirect reports whether location is the login page, with or
// without a query such as next.
func isLoginRedirect(location string) bool {
	u, err := url.Parse(location)

	return err == nil && u.Scheme == "" && u.Host == "" && u.Path == "/login"
}

// expireSessions moves the expiry of every session row one second into the
// past and returns how many rows it changed.
func expireSessions(t *testing.T, databaseURL string) int64 {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("connect to the deployment's database: %v", err)
	}
	defer conn.Close(ctx)

	tag, err := conn.Exec(ctx, "UPDATE web_sessions SET expires_on = now() - interval '1 second'")
	if err != nil {
		t.Fatalf("expire the session rows: %v", err)
	}

	return tag.RowsAffected()
}

// Bounds of the steady load in TestRollingRestart.
const (
	loadUsers = 8
	// loadPause is the pause between two requests of one user, which keeps
	// the load near 8 × 1/5ms = 1600 requests per second at most, so that
	// the 2-core machines the tests run on still start new processes fast.
	loadPause = 5 * time.Millisecond
	// loadLimit stops the load even if the restart sequence hangs.
	loadLimit = 60 * time.Second
)

// loadResult counts the responses of one user's requests.
type loadResult struct {
	total     int
	ok        int
	loggedOut int
	// failures keeps the first few failures, for the failure message.
	failures []string
	failed   int
}

func (r *loadResult) fail(format string, args ...any) {
	r.failed++
	if len(r.failures) < 5 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

func (r *loadResult) add(other loadResult) {
	r.total += other.total
	r.ok += other.ok
	r.loggedOut += other.loggedOut
	r.failed += other.failed
	r.failures = append(r.failures, other.failures...)
}

// runLoad starts one goroutine per client that requests /dashboard at
// baseURL until ctx ends, and returns a function that waits for them and
// returns the sum of their results. A 200 must show the client's own
// email, a 303 to /login counts as logged out, and anything else, a
// transport error included, counts as failed. allowUnavailable also
// accepts 503, which portero sends while the database is down.
func runLoad(ctx context.Context, baseURL string, clients []*webClient, emails []string, allowUnavailable bool) func() loadResult {
	results := make([]loadResult, len(clients))
	var wg sync.WaitGroup
	for i, client := range clients {
		wg.Go(func() {
			r := &results[i]
			for ctx.Err() == nil {
				r.total++
				resp, err := client.request(http.MethodGet, baseURL+"/dashboard", nil, nil)
				switch {
				case err != nil:
					r.fail("user %d: %v", i, err)
				case resp.status == http.StatusOK && strings.Contains(resp.body, emails[i]):
					r.ok++
				case resp.status == http.StatusOK:
					r.fail("user %d: got the dashboard of another user, want %s", i, emails[i])
				case resp.status == http.StatusSeeOther && isLoginRedirect(resp.header.Get("Location")):
					r.loggedOut++
				case resp.status == http.StatusServiceUnavailable && allowUnavailable:
				default:
					r.fail("user %d: got status %d (Location %q)", i, resp.status, resp.header.Get("Location"))
				}

				select {
				case <-ctx.Done():
				case <-time.After(loadPause):
				}
			}
		})
	}

	return func() loadResult {
		wg.Wait()
		var sum loadResult
		for _, r := range results {
			sum.add(r)
		}
		return sum
	}
}

// TestRollingRestart replaces both instances of a deployment while users
// load their dashboards through nginx, as a CapRover deploy with Swarm's
// start-first update does: start the new task, wait until it is ready, stop
// an old one with SIGTERM, and repeat. No request may fail and no user may
// be logged out.
func TestRollingRestart(t *testing.T) {
	d := newDeployment(t)
	d.extraEnv = productionEnv("")
	ports := distinctFreePorts(t, d.port, 3)
	portA, portB, portC, portD := d.port, ports[0], ports[1], ports[2]

	emails := make([]string, loadUsers)
	passwords := make([]string, loadUsers)
	for i := range loadUsers {
		emails[i] = "user" + strconv.Itoa(i) + "@example.com"
		passwords[i] = "Cigüeña-" + randomHex(t, 8)
		d.createUser(t, emails[i], "User "+strconv.Itoa(i), passwords[i])
	}

	a := d.startOn(t, portA)
	b := d.startOn(t, portB)
	// C and D are in the upstream from the start, as the Swarm VIP is,
	// and nginx skips them while nothing listens there.
	proxy := startNginx(t, portA, portB, portC, portD)

	transport := proxy.transport("127.0.0.1")
	clients := make([]*webClient, loadUsers)
	for i := range loadUsers {
		clients[i] = newWebClient(transport)
		clients[i].logIn(t, proxy.httpsURL(), emails[i], passwords[i], nil)
	}

	ctx, stopLoad := context.WithTimeout(context.Background(), loadLimit)
	wait := runLoad(ctx, proxy.httpsURL(), clients, emails, false)
	// A failed step below ends the test early, and then this stops the load
	// before the processes are killed.
	t.Cleanup(func() {
		stopLoad()
		wait()
	})

	// Each step lets the load run for a while on the new set of instances.
	const settle = 300 * time.Millisecond
	start := time.Now()
	time.Sleep(settle)
	c := d.startOn(t, portC)
	time.Sleep(settle)
	a.stop(t)
	time.Sleep(settle)
	d2 := d.startOn(t, portD)
	time.Sleep(settle)
	b.stop(t)
	time.Sleep(settle)
	hitLimit := ctx.Err() != nil
	stopLoad()
	result := wait()
	elapsed := time.Since(start)

	stats := proxy.upstreamStats(t)
	t.Logf("load: %d requests in %s, %d answered 200, %d failed, %d logged out", result.total, elapsed.Round(time.Millisecond), result.ok, result.failed, result.loggedOut)
	t.Logf("nginx: responses by instance port and status %v; %d requests sent to more than one instance", stats.responses, stats.retried)

	if hitLimit {
		t.Errorf("load ran into its %s limit: want the restart sequence to end first", loadLimit)
	}
	if result.total < 100 {
		t.Errorf("requests during the restarts: got %d, want at least 100 for the test to mean something", result.total)
	}
	if result.failed != 0 {
		t.Errorf("failed requests: got %d of %d, want 0; first ones:\n%s", result.failed, result.total, strings.Join(result.failures, "\n"))
	}
	if result.loggedOut != 0 {
		t.Errorf("requests answered with a redirect to /login: got %d of %d, want 0", result.loggedOut, result.total)
	}
	for _, port := range []int{portC, portD} {
		address := "127.0.0.1:" + strconv.Itoa(port)
		if stats.total(address) == 0 {
			t.Errorf("requests answered by the new instance on %s: got 0, want some", address)
		}
	}

	c.stop(t)
	d2.stop(t)
	requireNoPanic(t, d.log.String())
}

// distinctFreePorts returns n free ports that differ from each other and
// from usedPort.
func distinctFreePorts(t *testing.T, usedPort, n int) []int {
	t.Helper()

	seen := map[int]bool{usedPort: true}
	var ports []int
	for len(ports) < n {
		port := freePort(t)
		if !seen[port] {
			seen[port] = true
			ports = append(ports, port)
		}
	}

	return ports
}
