package cmd_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/portero/portero/cmd"
	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
)

const (
	passwordArgMessage = "passwords are not accepted as arguments"
	testPassword       = "correct horse battery"
)

// result is what one cmd.Run call returned and wrote.
type result struct {
	code   int
	stdout string
	stderr string
}

// run calls cmd.Run with env as the whole environment and stdin as standard
// input.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()

	var stdout, stderr bytes.Buffer
	getenv := config.Getenv(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	code := cmd.Run(context.Background(), args, getenv, strings.NewReader(stdin), &stdout, &stderr)

	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// dbEnv returns the settings for commands that use the database at url.
func dbEnv(url string) map[string]string {
	return map[string]string{
		"DATABASE_URL": url,
		"BCRYPT_COST":  "4",
	}
}

// checkCode fails the test when res.code is not want, showing the output.
func checkCode(t *testing.T, res result, want int) {
	t.Helper()

	if res.code != want {
		t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", res.code, want, res.stdout, res.stderr)
	}
}

// checkNoPassword fails the test when pw appears in the output.
func checkNoPassword(t *testing.T, res result, pw string) {
	t.Helper()

	if strings.Contains(res.stdout, pw) {
		t.Errorf("stdout: got %q, want it without the password", res.stdout)
	}
	if strings.Contains(res.stderr, pw) {
		t.Errorf("stderr: got %q, want it without the password", res.stderr)
	}
}

func countUsers(t *testing.T, database *db.DB) int {
	t.Helper()

	var n int
	if err := database.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("count users: %v", err)
	}

	return n
}

// openDB opens the database at url and closes it when the test ends.
func openDB(t *testing.T, url string) *db.DB {
	t.Helper()

	database, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(database.Close)

	return database
}

func TestUserCreate(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		want  string
	}{
		{"line with newline", testPassword + "\n", testPassword},
		{"line without newline", testPassword, testPassword},
		{"CRLF line ending", testPassword + "\r\n", testPassword},
		{"spaces kept", "  " + testPassword + "  \n", "  " + testPassword + "  "},
		{"only first line", testPassword + "\nsecond line\n", testPassword},
		{"12 two-byte characters", strings.Repeat("ñ", 12) + "\n", strings.Repeat("ñ", 12)},
		{"72 bytes", strings.Repeat("ñ", 36) + "\n", strings.Repeat("ñ", 36)},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := testdb.NewURL(t)

			res := run(t, dbEnv(url), tt.stdin, "user", "create", "--email", "ana@example.org", "--name", "Ana Pérez")
			checkCode(t, res, 0)
			checkNoPassword(t, res, strings.TrimSpace(tt.want))
			if !strings.Contains(res.stdout, "ana@example.org") {
				t.Errorf("stdout: got %q, want it to name the new user", res.stdout)
			}

			database := openDB(t, url)
			user, err := database.UserByEmail(context.Background(), "ana@example.org")
			if err != nil {
				t.Fatalf("UserByEmail: got error %v, want the new user", err)
			}
			if user.DisplayName != "Ana Pérez" {
				t.Errorf("display name: got %q, want %q", user.DisplayName, "Ana Pérez")
			}
			if !password.Matches(user.PasswordHash, tt.want) {
				t.Errorf("stored hash: got no match for %q, want a match", tt.want)
			}
			if !strings.HasPrefix(user.PasswordHash, "$2a$04$") {
				t.Errorf("stored hash: got prefix %q, want $2a$04$ for BCRYPT_COST=4", user.PasswordHash[:7])
			}
		})
	}
}

func TestUserCreatePasswordArgument(t *testing.T) {
	const argPassword = "argument password 123"

	tests := []struct {
		name string
		args []string
	}{
		{"double dash", []string{"user", "create", "--email", "ana@example.org", "--password", argPassword}},
		{"double dash with equals", []string{"user", "create", "--email", "ana@example.org", "--password=" + argPassword}},
		{"single dash", []string{"user", "create", "--email", "ana@example.org", "-password", argPassword}},
		{"single dash with equals", []string{"user", "create", "-password=" + argPassword, "--email", "ana@example.org"}},
		{"short flag", []string{"user", "create", "-p", argPassword, "--email", "ana@example.org"}},
		{"pass flag", []string{"user", "create", "--email", "ana@example.org", "--pass", argPassword}},
		{"passwd command", []string{"user", "passwd", "--email", "ana@example.org", "--password", argPassword}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			database, url := testdb.New(t)

			// A valid password on stdin, so that the user would be created
			// if the argument were not rejected.
			res := run(t, dbEnv(url), testPassword+"\n", tt.args...)
			checkCode(t, res, 2)
			checkNoPassword(t, res, argPassword)
			checkNoPassword(t, res, testPassword)
			if !strings.Contains(res.stderr, passwordArgMessage) {
				t.Errorf("stderr: got %q, want it to contain %q", res.stderr, passwordArgMessage)
			}
			if n := countUsers(t, database); n != 0 {
				t.Errorf("user count: got %d, want 0", n)
			}
		})
	}
}

func TestUserCreateInvalidPassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantMsg string
	}{
		{"11 characters", "short pass!", "at least 12 characters"},
		{"11 two-byte characters", strings.Repeat("ñ", 11), "at least 12 characters"},
		{"73 bytes", strings.Repeat("ñ", 36) + "a", "at most 72 bytes"},
		{"invalid UTF-8", "abcdefghijkl\xff", "not valid UTF-8"},
		{"NUL byte", "abcdef\x00ghijkl", "control character"},
		{"tab", "abcdef\tghijkl", "control character"},
		{"empty", "", "no password on standard input"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			database, url := testdb.New(t)

			res := run(t, dbEnv(url), tt.pw+"\n", "user", "create", "--email", "ana@example.org")
			checkCode(t, res, 1)
			if !strings.Contains(res.stderr, tt.wantMsg) {
				t.Errorf("stderr: got %q, want it to contain %q", res.stderr, tt.wantMsg)
			}
			if tt.pw != "" {
				checkNoPassword(t, res, tt.pw)
			}
			if n := countUsers(t, database); n != 0 {
				t.Errorf("user count: got %d, want 0", n)
			}
		})
	}
}

func TestUserCreateExistingEmail(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	const secondPassword = "another password 456"

	first := run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org", "--name", "Ana")
	checkCode(t, first, 0)

	second := run(t, dbEnv(url), secondPassword+"\n", "user", "create", "--email", "ANA@Example.ORG", "--name", "Other")
	checkCode(t, second, 1)
	checkNoPassword(t, second, secondPassword)
	if !strings.Contains(second.stderr, "already exists") {
		t.Errorf("stderr: got %q, want it to say the user already exists", second.stderr)
	}
	if !strings.Contains(second.stderr, "user passwd") {
		t.Errorf("stderr: got %q, want it to point to user passwd", second.stderr)
	}

	database := openDB(t, url)
	if n := countUsers(t, database); n != 1 {
		t.Errorf("user count: got %d, want 1", n)
	}
	user, err := database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if !password.Matches(user.PasswordHash, testPassword) {
		t.Errorf("stored hash: got one that no longer matches the first password")
	}
	if user.DisplayName != "Ana" {
		t.Errorf("display name: got %q, want Ana", user.DisplayName)
	}
}

func TestUserPasswd(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	const newPassword = "brand new password ñ"

	create := run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org")
	checkCode(t, create, 0)

	passwd := run(t, dbEnv(url), newPassword+"\n", "user", "passwd", "--email", "Ana@Example.org")
	checkCode(t, passwd, 0)
	checkNoPassword(t, passwd, newPassword)
	if !strings.Contains(passwd.stdout, "changed") {
		t.Errorf("stdout: got %q, want it to say the password changed", passwd.stdout)
	}

	database := openDB(t, url)
	user, err := database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if password.Matches(user.PasswordHash, testPassword) {
		t.Errorf("old password: got a match, want none")
	}
	if !password.Matches(user.PasswordHash, newPassword) {
		t.Errorf("new password: got no match, want one")
	}

	events, err := database.UserEvents(context.Background(), user.ID, 5)
	if err != nil {
		t.Fatalf("UserEvents: %v", err)
	}
	if len(events) == 0 || events[0].Kind != "password_changed" {
		t.Errorf("latest security event: got %+v, want password_changed", events)
	}
}

func TestUserPasswdInvalidPassword(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	const tooLong = "this password is far too long for bcrypt, which reads only 72 bytes of it"

	create := run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org")
	checkCode(t, create, 0)

	passwd := run(t, dbEnv(url), tooLong+"\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, passwd, 1)
	checkNoPassword(t, passwd, tooLong)
	if !strings.Contains(passwd.stderr, "72 bytes") {
		t.Errorf("stderr: got %q, want it to name the 72-byte limit", passwd.stderr)
	}

	database := openDB(t, url)
	user, err := database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if !password.Matches(user.PasswordHash, testPassword) {
		t.Errorf("stored hash: got one that no longer matches the old password")
	}
}

func TestUserPasswdUnknownEmail(t *testing.T) {
	t.Parallel()
	database, url := testdb.New(t)

	res := run(t, dbEnv(url), testPassword+"\n", "user", "passwd", "--email", "nobody@example.org")
	checkCode(t, res, 1)
	checkNoPassword(t, res, testPassword)
	if !strings.Contains(res.stderr, "no user has the email") || !strings.Contains(res.stderr, "nobody@example.org") {
		t.Errorf("stderr: got %q, want it to say no user has nobody@example.org", res.stderr)
	}
	if n := countUsers(t, database); n != 0 {
		t.Errorf("user count: got %d, want 0", n)
	}
}

func TestUserUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"no subcommand", []string{"user"}, "create, passwd, disable, enable, unlock or keys"},
		{"unknown subcommand", []string{"user", "delete", "--email", "ana@example.org"}, "unknown user subcommand"},
		{"missing email", []string{"user", "create"}, "--email"},
		{"email without at sign", []string{"user", "create", "--email", "ana"}, "--email"},
		{"unknown flag", []string{"user", "create", "--email", "ana@example.org", "--role", "admin"}, "-role"},
		{"admin with passwd", []string{"user", "passwd", "--email", "ana@example.org", "--admin"}, "--admin is only for user create"},
		{"extra argument", []string{"user", "create", "--email", "ana@example.org", "hunter2hunter2"}, "unexpected positional argument"},
		{"name with passwd", []string{"user", "passwd", "--email", "ana@example.org", "--name", "Ana"}, "--name"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The database is never reached, so no test database is needed.
			env := dbEnv("postgres://postgres@127.0.0.1:1/unused?sslmode=disable")

			res := run(t, env, testPassword+"\n", tt.args...)
			checkCode(t, res, 2)
			checkNoPassword(t, res, testPassword)
			checkNoPassword(t, res, "hunter2hunter2")
			if !strings.Contains(res.stderr, tt.wantMsg) {
				t.Errorf("stderr: got %q, want it to contain %q", res.stderr, tt.wantMsg)
			}
			if !strings.Contains(res.stderr, "Usage:") {
				t.Errorf("stderr: got %q, want the usage", res.stderr)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)

	for i := 1; i <= 2; i++ {
		res := run(t, dbEnv(url), "", "migrate")
		if res.code != 0 {
			t.Fatalf("migrate run %d: got exit code %d, want 0\nstderr: %s", i, res.code, res.stderr)
		}
	}

	checkSchema(t, openDB(t, url))
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)

	const runs = 2
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			results[i] = run(t, dbEnv(url), "", "migrate")
		})
	}
	wg.Wait()

	for i, res := range results {
		if res.code != 0 {
			t.Errorf("migrate run %d: got exit code %d, want 0\nstderr: %s", i+1, res.code, res.stderr)
		}
	}

	checkSchema(t, openDB(t, url))
}

// checkSchema fails the test unless the tables and the view that the
// migrations create exist, each migration applied once.
func checkSchema(t *testing.T, database *db.DB) {
	t.Helper()
	ctx := context.Background()

	want := map[string]string{
		"users":         "BASE TABLE",
		"web_sessions":  "BASE TABLE",
		"http_sessions": "VIEW",
	}
	for name, wantType := range want {
		var gotType string
		err := database.Pool.QueryRow(ctx, `
			SELECT table_type
			FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name = $1`, name).Scan(&gotType)
		if err != nil {
			t.Errorf("look up %s: got error %v, want a %s", name, err, wantType)
			continue
		}
		if gotType != wantType {
			t.Errorf("type of %s: got %s, want %s", name, gotType, wantType)
		}
	}

	var applied, distinct int
	err := database.Pool.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT version_id)
		FROM goose_db_version
		WHERE version_id > 0 AND is_applied`).Scan(&applied, &distinct)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if applied != distinct {
		t.Errorf("applied migrations: got %d rows for %d versions, want each version once", applied, distinct)
	}
	if distinct < 2 {
		t.Errorf("applied migrations: got %d versions, want at least 2", distinct)
	}
}

// healthServer starts an HTTP server on 127.0.0.1 that responds with status
// on /healthz and 404 elsewhere, and returns its port.
func healthServer(t *testing.T, status int) int {
	t.Helper()

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(server.Close)

	return server.Listener.Addr().(*net.TCPAddr).Port
}

// closedPort returns a port on 127.0.0.1 where nothing listens, by opening a
// listener and closing it again.
func closedPort(t *testing.T) int {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	return port
}

func TestHealthcheck(t *testing.T) {
	tests := []struct {
		name string
		port func(*testing.T) int
		want int
	}{
		{"200", func(t *testing.T) int { return healthServer(t, http.StatusOK) }, 0},
		{"503", func(t *testing.T) int { return healthServer(t, http.StatusServiceUnavailable) }, 1},
		{"500", func(t *testing.T) int { return healthServer(t, http.StatusInternalServerError) }, 1},
		{"nothing listening", closedPort, 1},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := tt.port(t)

			res := run(t, map[string]string{"PORT": strconv.Itoa(port)}, "", "healthcheck")
			checkCode(t, res, tt.want)
			if tt.want != 0 && !strings.Contains(res.stderr, "health check") {
				t.Errorf("stderr: got %q, want it to say the health check failed", res.stderr)
			}
			if tt.want == 0 && res.stderr != "" {
				t.Errorf("stderr: got %q, want nothing", res.stderr)
			}
		})
	}
}

func TestHealthcheckInvalidPort(t *testing.T) {
	res := run(t, map[string]string{"PORT": "http"}, "", "healthcheck")
	checkCode(t, res, 1)
	if !strings.Contains(res.stderr, "PORT") {
		t.Errorf("stderr: got %q, want it to name PORT", res.stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	res := run(t, map[string]string{}, "", "frobnicate")
	checkCode(t, res, 2)
	if !strings.Contains(res.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr: got %q, want it to name the unknown command", res.stderr)
	}
	if !strings.Contains(res.stderr, "Usage:") {
		t.Errorf("stderr: got %q, want the usage", res.stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		res := run(t, map[string]string{}, "", arg)
		checkCode(t, res, 0)
		if !strings.Contains(res.stdout, "Usage:") {
			t.Errorf("%s: stdout: got %q, want the usage", arg, res.stdout)
		}
	}
}

func TestServeArguments(t *testing.T) {
	res := run(t, map[string]string{}, "", "serve", "now")
	checkCode(t, res, 2)
	if !strings.Contains(res.stderr, "serve takes no arguments") {
		t.Errorf("stderr: got %q, want it to say serve takes no arguments", res.stderr)
	}
}
