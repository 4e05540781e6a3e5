package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

var (
	testPepper  = []byte("Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C")
	otherPepper = []byte("Zt5Nc8Rb1Mv4Yq7Hx2Lf9Dw6Gs3Jp0Ek5Ua8Ci1Oy7B")
)

// createUserWithHash inserts a user whose password hash is hash, as a row
// imported with SQL or written under another pepper setting would be.
func (e *env) createUserWithHash(email, hash string) *db.User {
	e.t.Helper()

	u, err := e.db.CreateUser(e.t.Context(), email, "Pepper Test", hash)
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}

	return u
}

// createPlainUser inserts a user with a plain bcrypt hash of testPassword,
// as from before PASSWORD_PEPPER was set, and returns that hash.
func (e *env) createPlainUser(email string) string {
	e.t.Helper()

	plain, err := password.Hash(testPassword, testCost)
	if err != nil {
		e.t.Fatal(err)
	}
	e.createUserWithHash(email, plain)

	return plain
}

// requireLogsFree fails the test when the log contains any of secrets.
func (e *env) requireLogsFree(secrets ...string) {
	e.t.Helper()

	logs := e.logs.String()
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			e.t.Errorf("log: got a secret value (%d bytes), want none", len(secret))
		}
	}
}

func TestLoginUpgradesPlainHash(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	e.createPlainUser("ida@example.com")

	c := e.client()
	resp := e.login(c, "ida@example.com", testPassword)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Fatalf("login with a plain hash: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	e.requireSignedIn(c, "the user whose hash was upgraded")

	upgraded := e.storedHash("ida@example.com")
	if !password.IsPeppered(upgraded) {
		t.Fatalf("stored hash after the login: got %q, want the %s prefix", upgraded[:min(len(upgraded), 9)], password.PepperPrefix)
	}
	peppered := password.Hasher{Cost: testCost, Pepper: testPepper}
	if !peppered.Matches(upgraded, testPassword) {
		t.Error("upgraded hash with the pepper: got no match, want one")
	}
	if password.Matches(upgraded, testPassword) {
		t.Error("upgraded hash without the pepper: got a match, want none")
	}
	if !strings.Contains(e.logs.String(), "Password hash replaced by a peppered one.") {
		t.Error("log: got no line about the upgrade, want one")
	}

	// The next login checks the peppered hash and leaves it as it is.
	if resp := e.login(e.client(), "ida@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login after the upgrade: got %d, want 303", resp.status)
	}
	if got := e.storedHash("ida@example.com"); got != upgraded {
		t.Error("stored hash after a second login: got a new hash, want the upgraded one kept")
	}
	if resp := e.login(e.client(), "ida@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
		t.Errorf("wrong password after the upgrade: got %d, want 401", resp.status)
	}

	e.requireLogsFree(testPassword, string(testPepper))
}

// A failed login must leave a plain hash as it is: only a password that
// matched may be hashed again.
func TestFailedLoginKeepsPlainHash(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	plain := e.createPlainUser("jon@example.com")
	user, err := e.db.UserByEmail(t.Context(), "jon@example.com")
	if err != nil {
		t.Fatal(err)
	}

	if resp := e.login(e.client(), "jon@example.com", wrongPassword); resp.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d, want 401", resp.status)
	}
	if got := e.storedHash("jon@example.com"); got != plain {
		t.Error("stored hash after a failed login: got a new hash, want the plain one kept")
	}

	if _, err := e.db.DisableUser(t.Context(), user.ID); err != nil {
		t.Fatal(err)
	}
	if resp := e.login(e.client(), "jon@example.com", testPassword); resp.status != http.StatusUnauthorized {
		t.Fatalf("disabled user with the right password: got %d, want 401", resp.status)
	}
	if got := e.storedHash("jon@example.com"); got != plain {
		t.Error("stored hash after a disabled user's login: got a new hash, want the plain one kept")
	}
}

// Passwords imported from the old app may break the current rules, such as
// one of 8 characters at bcrypt cost 4. The upgrade keeps them working.
func TestLoginUpgradesShortImportedPassword(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	const short = "tiny pw8"
	imported, err := bcrypt.GenerateFromPassword([]byte(short), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e.createUserWithHash("kim@example.com", "$2b$"+string(imported[4:]))

	resp := e.login(e.client(), "kim@example.com", short)
	if resp.status != http.StatusSeeOther || resp.location != "/account/password?weak=1" {
		t.Fatalf("login with a short imported password: got %d to %q, want 303 to /account/password?weak=1", resp.status, resp.location)
	}
	upgraded := e.storedHash("kim@example.com")
	if !password.IsPeppered(upgraded) {
		t.Fatal("stored hash after the login: got a plain hash, want a peppered one")
	}
	if cost, err := bcrypt.Cost([]byte(strings.TrimPrefix(upgraded, password.PepperPrefix))); err != nil || cost != testCost {
		t.Errorf("cost of the upgraded hash: got %d (error %v), want BCRYPT_COST %d", cost, err, testCost)
	}
	if resp := e.login(e.client(), "kim@example.com", short); resp.status != http.StatusSeeOther {
		t.Errorf("login after the upgrade: got %d, want 303", resp.status)
	}
}

func TestLoginWithoutPepperKeepsPlainHash(t *testing.T) {
	e := newEnv(t)
	e.createUser("lee@example.com", "Lee")
	before := e.storedHash("lee@example.com")

	if resp := e.login(e.client(), "lee@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.status)
	}
	if got := e.storedHash("lee@example.com"); got != before {
		t.Error("stored hash without a pepper: got a new hash, want the old one kept")
	}
}

// The device cookie issued by the login that upgrades the hash is signed
// with the new hash, so it still lifts a lock of the account afterwards.
func TestDeviceCookieSurvivesUpgrade(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	e.createPlainUser("max@example.com")

	owner := e.trustedDevice("max@example.com", testPassword)
	if !password.IsPeppered(e.storedHash("max@example.com")) {
		t.Fatal("stored hash after the first login: got a plain hash, want a peppered one")
	}
	e.lockAccount("max@example.com")

	resp := e.loginFrom(owner, "max@example.com", testPassword)
	if resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Errorf("owner's browser through the lock: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
}

func TestPepperedHashesFromPages(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	c := e.loggedIn("ned@example.com")

	resp := e.changePassword(c, testPassword, newTestPassword, newTestPassword)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("change password: got %d, want 303", resp.status)
	}
	hash := e.storedHash("ned@example.com")
	if !password.IsPeppered(hash) {
		t.Fatal("hash from the password page: got a plain hash, want a peppered one")
	}
	if !(password.Hasher{Pepper: testPepper}).Matches(hash, newTestPassword) {
		t.Error("hash from the password page: got no match with the pepper, want one")
	}
	if resp := e.login(e.client(), "ned@example.com", newTestPassword); resp.status != http.StatusSeeOther {
		t.Errorf("login with the new password: got %d, want 303", resp.status)
	}
}

func TestLoginPepperedHashWithoutPepper(t *testing.T) {
	e := newEnv(t)
	hash, err := password.Hasher{Cost: testCost, Pepper: testPepper}.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.createUserWithHash("ola@example.com", hash)

	unknown := e.login(e.client(), "nobody@example.com", testPassword)
	strip := func(s string) string {
		s = csrfField.ReplaceAllString(s, "")
		return strings.NewReplacer("ola@example.com", "", "nobody@example.com", "").Replace(s)
	}
	for i := range 2 {
		resp := e.login(e.client(), "ola@example.com", testPassword)
		if resp.status != http.StatusUnauthorized {
			t.Fatalf("login %d with a peppered hash and no pepper: got %d, want 401", i+1, resp.status)
		}
		if !strings.Contains(resp.body, "El correo o la contraseña no son correctos.") {
			t.Errorf("login %d page: lacks the generic Spanish message", i+1)
		}
		if strip(resp.body) != strip(unknown.body) {
			t.Errorf("login %d page: differs from the page for an unknown email apart from the CSRF token and the email, want identical", i+1)
		}
	}

	const warning = "the stored hash is peppered and PASSWORD_PEPPER is unset"
	if n := strings.Count(e.logs.String(), warning); n != 1 {
		t.Errorf("log lines about the missing pepper after 2 logins: got %d, want 1", n)
	}
	if !strings.Contains(e.logs.String(), "level=ERROR") {
		t.Error("log: got no error line, want the missing pepper at level ERROR")
	}
	if got := e.storedHash("ola@example.com"); got != hash {
		t.Error("stored hash: got a new hash, want the peppered one kept")
	}
}

func TestLoginWrongPepper(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: otherPepper})
	hash, err := password.Hasher{Cost: testCost, Pepper: testPepper}.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.createUserWithHash("pia@example.com", hash)

	if resp := e.login(e.client(), "pia@example.com", testPassword); resp.status != http.StatusUnauthorized {
		t.Errorf("login with another pepper: got %d, want 401", resp.status)
	}
	if got := e.storedHash("pia@example.com"); got != hash {
		t.Error("stored hash: got a new hash, want the peppered one kept")
	}
	if strings.Contains(e.logs.String(), "PASSWORD_PEPPER is unset") {
		t.Error("log: got the missing pepper error while a pepper is set, want none")
	}
}

// A wrong password must take as long for a known email as for an unknown
// one, with peppered hashes and with a peppered hash while the pepper is
// missing. TestLoginTimingSameForUnknownEmail covers plain hashes. padFailure
// also lengthens fast failures, so TestMatchesWithoutPepperRunsBcrypt in the
// password package checks that the comparison itself still runs bcrypt.
func TestLoginTimingWithPepper(t *testing.T) {
	tests := []struct {
		name       string
		pepper     []byte
		hashPepper []byte
	}{
		{"peppered hash", testPepper, testPepper},
		{"peppered hash without pepper", nil, testPepper},
		{"plain hash with pepper", testPepper, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Cost 8, higher than TestLoginTimingSameForUnknownEmail's 6,
			// because the pepper adds an HMAC and a database read to one side
			// and, at cost 6, that noise once pushed the ratio to the limit
			// on a loaded machine. The limits let every failure through.
			const cost = 8
			e := newEnvWith(t, envOptions{cost: cost, pepper: tt.pepper, policy: db.LoginPolicy{AccountMaxFailures: 100, IPMaxFailures: 100}})
			hash, err := password.Hasher{Cost: cost, Pepper: tt.hashPepper}.Hash(testPassword)
			if err != nil {
				t.Fatal(err)
			}
			e.createUserWithHash("quin@example.com", hash)
			e.app.WarmUp()

			knownMedian, unknownMedian := e.failedLoginMedians("quin@example.com", "nobody@example.com", 15)
			ratio := float64(unknownMedian) / float64(knownMedian)
			if ratio < 0.67 || ratio > 1.5 {
				t.Errorf("median time unknown/known email: got ratio %.2f (%s / %s), want between 0.67 and 1.5", ratio, unknownMedian, knownMedian)
			}
		})
	}
}

// failedLoginMedians makes rounds failed logins for each of two emails, in
// turn, so that load from other tests slows both alike, and returns the
// median time of each.
func (e *env) failedLoginMedians(known, unknown string, rounds int) (knownMedian, unknownMedian time.Duration) {
	e.t.Helper()

	median := func(samples []time.Duration) time.Duration {
		slices.Sort(samples)
		return samples[len(samples)/2]
	}
	clients := []*http.Client{e.client(), e.client()}
	tokens := []string{e.csrfToken(clients[0], "/login"), e.csrfToken(clients[1], "/login")}
	emails := []string{known, unknown}
	samples := [][]time.Duration{nil, nil}
	for range rounds {
		for i, email := range emails {
			start := time.Now()
			if resp := e.attempt(clients[i], tokens[i], email, wrongPassword); resp.status != http.StatusUnauthorized {
				e.t.Fatalf("login %s: got %d, want 401", email, resp.status)
			}
			samples[i] = append(samples[i], time.Since(start))
		}
	}

	return median(samples[0]), median(samples[1])
}
