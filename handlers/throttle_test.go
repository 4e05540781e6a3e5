package handlers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

const wrongPassword = "not the right password"

// attempt posts the login form with a token the client already holds.
func (e *env) attempt(c *http.Client, token, email, pw string, headers ...string) response {
	e.t.Helper()

	return e.post(c, "/login", url.Values{"csrf_token": {token}, "email": {email}, "password": {pw}}, headers...)
}

// elapse moves every login_failures timestamp back by d, which is the same
// as d passing on the database's clock.
func (e *env) elapse(d time.Duration) {
	e.t.Helper()

	_, err := e.db.Pool.Exec(context.Background(), `
		UPDATE login_failures
		SET window_start = window_start - make_interval(secs => $1::float8),
		    locked_until = locked_until - make_interval(secs => $1::float8)`, d.Seconds())
	if err != nil {
		e.t.Fatalf("move login_failures back by %s: %v", d, err)
	}
}

// failureRow returns the failures and the remaining lock of the only row of
// kind, or zeros when there is none.
func (e *env) failureRow(kind string) (int, time.Duration) {
	e.t.Helper()

	var failures int
	var lockedSeconds float64
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT COALESCE(sum(failures), 0)::int,
		       COALESCE(max(EXTRACT(epoch FROM locked_until - now())), 0)::float8
		FROM login_failures
		WHERE kind = $1`, kind).Scan(&failures, &lockedSeconds)
	if err != nil {
		e.t.Fatalf("read login_failures of kind %s: %v", kind, err)
	}

	return failures, time.Duration(lockedSeconds * float64(time.Second))
}

// retryAfter parses the Retry-After header of a response in seconds.
func retryAfter(t *testing.T, resp response) int {
	t.Helper()

	v := resp.header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("Retry-After: got %q, want a number of seconds", v)
	}

	return n
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("lena@example.com", "Lena")
	c := e.client()
	token := e.csrfToken(c, "/login")
	start := e.bcrypt.Acquired()

	for i := 1; i <= 5; i++ {
		if resp := e.attempt(c, token, "lena@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, resp.status)
		}
	}
	if got := e.bcrypt.Acquired() - start; got != 5 {
		t.Fatalf("bcrypt calls for 5 failures: got %d, want 5", got)
	}

	locked := e.attempt(c, token, "LENA@example.com", testPassword)
	if locked.status != http.StatusTooManyRequests {
		t.Fatalf("6th attempt with the right password: got %d, want 429", locked.status)
	}
	if got := e.bcrypt.Acquired() - start; got != 5 {
		t.Errorf("bcrypt calls after the refused attempt: got %d, want 5 (no bcrypt for a locked account)", got)
	}
	if got := retryAfter(t, locked); got < 1 || got > 60 {
		t.Errorf("Retry-After: got %d, want 1 to 60 seconds", got)
	}
	if !strings.Contains(locked.body, "Demasiados intentos fallidos. Inténtelo de nuevo dentro de 1 minuto.") {
		t.Errorf("locked page lacks the Spanish message: %.300q", locked.body)
	}
	if got := locked.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("locked page Cache-Control: got %q, want no-store", got)
	}
	if e.sessionCookieOrNil(c) != nil {
		t.Error("a refused login set a session cookie")
	}

	// The lock is in the database, not in the browser: a new browser is
	// refused too, and English visitors read it in English.
	fresh := e.client()
	other := e.attempt(fresh, e.csrfToken(fresh, "/login"), "lena@example.com", testPassword, "Accept-Language", "en")
	if other.status != http.StatusTooManyRequests {
		t.Errorf("attempt from a new browser: got %d, want 429", other.status)
	}
	if !strings.Contains(other.body, "Too many failed attempts. Try again in 1 minute.") {
		t.Errorf("locked page lacks the English message: %.300q", other.body)
	}

	logs := e.logs.String()
	lockLine := ""
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `msg="Login locked after repeated failures."`) {
			lockLine = line
		}
	}
	if lockLine == "" {
		t.Fatalf("no lock line in the log:\n%s", logs)
	}
	for _, want := range []string{"level=WARN", "scope=account", fmt.Sprintf("user_id=%d", u.ID), "client_ip=127.0.0.1", "failures=5", "locked_for=1m0s"} {
		if !strings.Contains(lockLine, want) {
			t.Errorf("lock line: got %q, want it to contain %s", lockLine, want)
		}
	}
	if !strings.Contains(logs, `msg="Login rejected while locked."`) {
		t.Error("the log has no line for the refused attempt")
	}
	for name, secret := range map[string]string{"email": "lena@example.com", "password": testPassword, "wrong password": wrongPassword} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// sessionCookieOrNil returns the client's session cookie, if it has one.
func (e *env) sessionCookieOrNil(c *http.Client) *http.Cookie {
	u, _ := url.Parse(e.server.URL)
	return cookieNamed(c.Jar.Cookies(u), testCookie)
}

func TestLockoutSameForUnknownEmail(t *testing.T) {
	e := newEnv(t)
	e.createUser("mia@example.com", "Mia")
	known, unknown := e.client(), e.client()
	knownToken, unknownToken := e.csrfToken(known, "/login"), e.csrfToken(unknown, "/login")

	for i := 1; i <= 5; i++ {
		k := e.attempt(known, knownToken, "mia@example.com", wrongPassword)
		u := e.attempt(unknown, unknownToken, "nadie@example.com", wrongPassword)
		if k.status != http.StatusUnauthorized || u.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d for the known and %d for the unknown email, want 401 for both", i, k.status, u.status)
		}
	}

	k := e.attempt(known, knownToken, "mia@example.com", testPassword)
	u := e.attempt(unknown, unknownToken, "nadie@example.com", testPassword)
	if k.status != http.StatusTooManyRequests {
		t.Errorf("known email after 5 failures: got %d, want 429", k.status)
	}
	if u.status != k.status {
		t.Errorf("unknown email after 5 failures: got %d, want %d as for the known email", u.status, k.status)
	}
	if k.header.Get("Retry-After") == "" || u.header.Get("Retry-After") == "" {
		t.Errorf("Retry-After: got %q for the known and %q for the unknown email, want both set",
			k.header.Get("Retry-After"), u.header.Get("Retry-After"))
	}

	strip := func(s string) string {
		s = csrfField.ReplaceAllString(s, "")
		return strings.NewReplacer("mia@example.com", "", "nadie@example.com", "").Replace(s)
	}
	if strip(k.body) != strip(u.body) {
		t.Errorf("locked pages differ for a known and an unknown email:\nknown:   %.400q\nunknown: %.400q", strip(k.body), strip(u.body))
	}
}

func TestSuccessResetsAccountFailures(t *testing.T) {
	e := newEnv(t)
	e.createUser("noa@example.com", "Noa")

	for round := 1; round <= 2; round++ {
		c := e.client()
		token := e.csrfToken(c, "/login")
		for i := 1; i <= 4; i++ {
			if resp := e.attempt(c, token, "noa@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
				t.Fatalf("round %d, failure %d: got %d, want 401", round, i, resp.status)
			}
		}
		if resp := e.attempt(c, token, "noa@example.com", testPassword); resp.status != http.StatusSeeOther {
			t.Fatalf("round %d, right password after 4 failures: got %d, want 303", round, resp.status)
		}

		if failures, _ := e.failureRow(db.FailureKindAccount); failures != 0 {
			t.Errorf("round %d: account failures after the login: got %d, want 0", round, failures)
		}
		if failures, _ := e.failureRow(db.FailureKindIP); failures != 4*round {
			t.Errorf("round %d: IP failures after the login: got %d, want %d (a login keeps them)", round, failures, 4*round)
		}
	}
}

func TestLockoutGrows(t *testing.T) {
	e := newEnv(t)
	e.createUser("oli@example.com", "Oli")
	c := e.client()
	token := e.csrfToken(c, "/login")

	for i := 1; i <= 5; i++ {
		e.attempt(c, token, "oli@example.com", wrongPassword)
	}

	// Each failure after a lock ends doubles the next lock, up to 15 minutes.
	steps := []struct {
		lock    time.Duration
		message string
	}{
		{time.Minute, "1 minuto."},
		{2 * time.Minute, "2 minutos."},
		{4 * time.Minute, "4 minutos."},
		{8 * time.Minute, "8 minutos."},
		{15 * time.Minute, "15 minutos."},
		{15 * time.Minute, "15 minutos."},
	}
	for i, step := range steps {
		if i > 0 {
			e.elapse(steps[i-1].lock)
			if resp := e.attempt(c, token, "oli@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
				t.Fatalf("step %d: failure after the lock ended: got %d, want 401", i, resp.status)
			}
		}

		_, remaining := e.failureRow(db.FailureKindAccount)
		if remaining <= step.lock-5*time.Second || remaining > step.lock {
			t.Errorf("step %d: lock: got %s, want just under %s", i, remaining.Round(time.Second), step.lock)
		}

		refused := e.attempt(c, token, "oli@example.com", testPassword)
		if refused.status != http.StatusTooManyRequests {
			t.Fatalf("step %d: attempt while locked: got %d, want 429", i, refused.status)
		}
		wantSeconds := int(step.lock / time.Second)
		if got := retryAfter(t, refused); got < wantSeconds-5 || got > wantSeconds {
			t.Errorf("step %d: Retry-After: got %d, want %d to %d", i, got, wantSeconds-5, wantSeconds)
		}
		if !strings.Contains(refused.body, "Inténtelo de nuevo dentro de "+step.message) {
			t.Errorf("step %d: locked page lacks %q", i, step.message)
		}
	}

	// A whole window after the last lock ended, the count starts again.
	e.elapse(15*time.Minute + 15*time.Minute)
	if resp := e.attempt(c, token, "oli@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
		t.Fatalf("failure after a quiet window: got %d, want 401", resp.status)
	}
	failures, remaining := e.failureRow(db.FailureKindAccount)
	if failures != 1 || remaining > 0 {
		t.Errorf("after a quiet window: got %d failures and a %s lock, want 1 and none", failures, remaining.Round(time.Second))
	}
	if resp := e.attempt(c, token, "oli@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("right password after a quiet window: got %d, want 303", resp.status)
	}
}

func TestIPLockoutAcrossAccounts(t *testing.T) {
	e := newEnvWith(t, envOptions{trusted: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})
	e.createUser("pia@example.com", "Pia")
	attacker := []string{"X-Forwarded-For", "203.0.113.9"}
	c := e.client()
	token := e.csrfToken(c, "/login")

	// 50 failures on 25 accounts: 2 each, far below the account limit.
	for i := range 50 {
		email := fmt.Sprintf("target%02d@example.com", i/2)
		if resp := e.attempt(c, token, email, wrongPassword, attacker...); resp.status != http.StatusUnauthorized {
			t.Fatalf("failure %d from one IP: got %d, want 401", i+1, resp.status)
		}
	}

	start := e.bcrypt.Acquired()
	if resp := e.attempt(c, token, "untried@example.com", wrongPassword, attacker...); resp.status != http.StatusTooManyRequests {
		t.Errorf("new account from the locked IP: got %d, want 429", resp.status)
	}
	if resp := e.attempt(c, token, "pia@example.com", testPassword, attacker...); resp.status != http.StatusTooManyRequests {
		t.Errorf("right password from the locked IP: got %d, want 429", resp.status)
	}
	if got := e.bcrypt.Acquired() - start; got != 0 {
		t.Errorf("bcrypt calls from the locked IP: got %d, want 0", got)
	}

	other := e.client()
	resp := e.attempt(other, e.csrfToken(other, "/login"), "pia@example.com", testPassword, "X-Forwarded-For", "198.51.100.4")
	if resp.status != http.StatusSeeOther {
		t.Errorf("right password from another IP: got %d, want 303", resp.status)
	}

	if !strings.Contains(e.logs.String(), "scope=ip client_ip=203.0.113.9 failures=50") {
		t.Errorf("the log has no IP lock line for 203.0.113.9 at 50 failures:\n%s", e.logs.String())
	}
}

// twoInstances returns two apps whose pools both point to one new database.
func twoInstances(t *testing.T, opts envOptions) (*env, *env) {
	t.Helper()

	first, u := testdb.New(t)
	second, err := db.Open(context.Background(), u, db.Options{})
	if err != nil {
		t.Fatalf("open a second pool: %v", err)
	}
	t.Cleanup(second.Close)

	return newEnvOn(t, first, opts), newEnvOn(t, second, opts)
}

func TestLockoutSharedByInstances(t *testing.T) {
	a, b := twoInstances(t, envOptions{})
	a.createUser("quin@example.com", "Quin")
	ca, cb := a.client(), b.client()
	tokenA, tokenB := a.csrfToken(ca, "/login"), b.csrfToken(cb, "/login")

	for i := 1; i <= 5; i++ {
		e, c, token := a, ca, tokenA
		if i%2 == 0 {
			e, c, token = b, cb, tokenB
		}
		if resp := e.attempt(c, token, "quin@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, resp.status)
		}
	}

	if resp := a.attempt(ca, tokenA, "quin@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("instance A after 3 failures on A and 2 on B: got %d, want 429", resp.status)
	}
	if resp := b.attempt(cb, tokenB, "quin@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("instance B after 3 failures on A and 2 on B: got %d, want 429", resp.status)
	}
}

func TestConcurrentFailuresAllCounted(t *testing.T) {
	a, b := twoInstances(t, envOptions{policy: db.LoginPolicy{AccountMaxFailures: 1000, IPMaxFailures: 1000}})
	a.createUser("remy@example.com", "Remy")

	const perInstance = 10
	type attempt struct {
		e     *env
		c     *http.Client
		token string
	}
	var attempts []attempt
	for _, e := range []*env{a, b} {
		for range perInstance {
			c := e.client()
			attempts = append(attempts, attempt{e, c, e.csrfToken(c, "/login")})
		}
	}

	var wg sync.WaitGroup
	statuses := make(chan int, len(attempts))
	for _, at := range attempts {
		wg.Go(func() {
			form := url.Values{"csrf_token": {at.token}, "email": {"remy@example.com"}, "password": {wrongPassword}}
			req, _ := http.NewRequest(http.MethodPost, at.e.server.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := at.c.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)

	for status := range statuses {
		if status != http.StatusUnauthorized {
			t.Errorf("concurrent failure: got status %d, want 401", status)
		}
	}
	if failures, _ := a.failureRow(db.FailureKindAccount); failures != 2*perInstance {
		t.Errorf("account failures: got %d, want %d", failures, 2*perInstance)
	}
	if failures, _ := a.failureRow(db.FailureKindIP); failures != 2*perInstance {
		t.Errorf("IP failures: got %d, want %d", failures, 2*perInstance)
	}
}

func TestUnlockUserAfterLoginLock(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("uma@example.com", "Uma")
	owner := e.trustedDevice("uma@example.com", testPassword)
	token := e.csrfToken(owner, "/login")
	e.attempt(owner, token, "uma@example.com", wrongPassword)
	e.lockAccount("UMA@example.com")
	e.lockAccount("nobody@example.com")

	// The failures of a known email and of its device record the user, and
	// those of an unknown email record none.
	var recorded, anonymous int
	err := e.db.Pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE user_id = $1),
		       count(*) FILTER (WHERE user_id IS NULL AND kind <> 'ip')
		FROM login_failures`, u.ID).Scan(&recorded, &anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if recorded != 2 {
		t.Errorf("rows with the user: got %d, want 2 (account and device)", recorded)
	}
	if anonymous != 1 {
		t.Errorf("account rows of no user: got %d, want 1", anonymous)
	}

	if cleared, err := e.db.UnlockUser(context.Background(), u.ID); err != nil || cleared != 2 {
		t.Fatalf("UnlockUser: got %d, %v, want 2, nil", cleared, err)
	}
	if resp := e.loginFrom(e.client(), "uma@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login in a new browser after the unlock: got %d, want 303", resp.status)
	}
	if resp := e.loginFrom(e.client(), "nobody@example.com", testPassword); resp.status != http.StatusTooManyRequests {
		t.Errorf("unknown email after unlocking another user: got %d, want 429", resp.status)
	}
}
