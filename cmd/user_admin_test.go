package cmd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/internal/testdb"
)

// addSessions stores n unexpired sessions of the user, as a login would.
func addSessions(t *testing.T, database *db.DB, userID int64, prefix string, n int) {
	t.Helper()

	ctx := context.Background()
	for i := range n {
		key := prefix + string(rune('a'+i))
		_, err := database.Pool.Exec(ctx, `
			INSERT INTO web_sessions (key, data, expires_on)
			VALUES ($1, '\x00', now() + interval '1 hour')`, []byte(key))
		if err != nil {
			t.Fatalf("insert session %s: %v", key, err)
		}
		if err := database.AddUserSession(ctx, key, userID, "", ""); err != nil {
			t.Fatalf("index session %s: %v", key, err)
		}
	}
}

func sessionsOf(t *testing.T, database *db.DB, userID int64) int {
	t.Helper()

	list, err := database.UserSessions(context.Background(), userID)
	if err != nil {
		t.Fatalf("UserSessions: %v", err)
	}

	return len(list)
}

// cliEvents returns the stored events of the kind, oldest first.
func cliEvents(t *testing.T, database *db.DB, kind string) []db.SecurityEvent {
	t.Helper()

	all, err := database.RecentEvents(context.Background(), 100)
	if err != nil {
		t.Fatalf("RecentEvents: %v", err)
	}
	var found []db.SecurityEvent
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Kind == kind {
			found = append(found, all[i])
		}
	}

	return found
}

// checkCLIEvent fails the test unless events holds one event of the user,
// recorded by the command line, with the given number of ended sessions
// (or none when sessionsEnded is negative).
func checkCLIEvent(t *testing.T, events []db.SecurityEvent, kind string, userID int64, sessionsEnded int) {
	t.Helper()

	if len(events) != 1 {
		t.Fatalf("%s events: got %d, want 1", kind, len(events))
	}
	ev := events[0]
	if ev.UserID != userID || ev.Details["by"] != handlers.EventByCLI || ev.ClientIP != "" {
		t.Errorf("%s event: got user %d, details %v, client IP %q, want user %d, by cli, no IP", kind, ev.UserID, ev.Details, ev.ClientIP, userID)
	}
	if sessionsEnded >= 0 && ev.Details["sessions_ended"] != float64(sessionsEnded) {
		t.Errorf("%s event: got sessions_ended %v, want %d", kind, ev.Details["sessions_ended"], sessionsEnded)
	}
}

// createUsers creates a user for each email with `user create` and returns
// the open database and the users, in the order of emails.
func createUsers(t *testing.T, url string, emails ...string) (*db.DB, []*db.User) {
	t.Helper()

	for _, email := range emails {
		checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", email), 0)
	}
	database := openDB(t, url)
	users := make([]*db.User, 0, len(emails))
	for _, email := range emails {
		user, err := database.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatalf("UserByEmail(%s): %v", email, err)
		}
		users = append(users, user)
	}

	return database, users
}

func TestUserDisableAndEnable(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	database, users := createUsers(t, url, "ana@example.org", "bo@example.org")
	ana, bo := users[0], users[1]
	ctx := context.Background()
	addSessions(t, database, ana.ID, "ana-", 2)
	addSessions(t, database, bo.ID, "bo-", 1)

	res := run(t, dbEnv(url), "", "user", "disable", "--email", "ANA@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Disabled user") || !strings.Contains(res.stdout, "2 sessions ended") {
		t.Errorf("stdout: got %q, want it to say the user is disabled and 2 sessions ended", res.stdout)
	}
	after, err := database.UserByID(ctx, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Disabled() {
		t.Error("user after disable: got enabled, want disabled")
	}
	if got := sessionsOf(t, database, ana.ID); got != 0 {
		t.Errorf("ana's sessions after disable: got %d, want 0", got)
	}
	if got := sessionsOf(t, database, bo.ID); got != 1 {
		t.Errorf("bo's sessions after ana was disabled: got %d, want 1", got)
	}
	checkCLIEvent(t, cliEvents(t, database, handlers.EventUserDisabled), handlers.EventUserDisabled, ana.ID, 2)

	again := run(t, dbEnv(url), "", "user", "disable", "--email", "ana@example.org")
	checkCode(t, again, 0)
	if !strings.Contains(again.stdout, "already disabled") {
		t.Errorf("stdout of a second disable: got %q, want it to say already disabled", again.stdout)
	}
	if got := len(cliEvents(t, database, handlers.EventUserDisabled)); got != 1 {
		t.Errorf("user_disabled events after a second disable: got %d, want 1", got)
	}

	res = run(t, dbEnv(url), "", "user", "enable", "--email", "ana@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Enabled user") {
		t.Errorf("stdout: got %q, want it to say the user is enabled", res.stdout)
	}
	after, err = database.UserByID(ctx, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Disabled() {
		t.Error("user after enable: got disabled, want enabled")
	}
	checkCLIEvent(t, cliEvents(t, database, handlers.EventUserEnabled), handlers.EventUserEnabled, ana.ID, -1)
}

func TestSessionsRevoke(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "cy@example.org"), 0)
	database := openDB(t, url)
	cy, err := database.UserByEmail(context.Background(), "cy@example.org")
	if err != nil {
		t.Fatal(err)
	}
	addSessions(t, database, cy.ID, "cy-", 3)

	res := run(t, dbEnv(url), "", "sessions", "revoke", "--email", "cy@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Ended 3 sessions") {
		t.Errorf("stdout: got %q, want it to say 3 sessions ended", res.stdout)
	}
	if got := sessionsOf(t, database, cy.ID); got != 0 {
		t.Errorf("sessions after revoke: got %d, want 0", got)
	}
	after, err := database.UserByID(context.Background(), cy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Disabled() {
		t.Error("revoke disabled the user, want only the sessions ended")
	}
	checkCLIEvent(t, cliEvents(t, database, handlers.EventSessionRevoked), handlers.EventSessionRevoked, cy.ID, 3)

	res = run(t, dbEnv(url), "", "sessions", "revoke", "--email", "cy@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Ended 0 sessions") {
		t.Errorf("stdout of a second revoke: got %q, want 0 sessions", res.stdout)
	}
}

func TestUserUnlock(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	database, users := createUsers(t, url, "dee@example.org", "eda@example.org")
	dee, eda := users[0], users[1]
	ctx := context.Background()

	// Dee's account is locked and one of her devices has a failure. Eda's
	// account has a failure too, and all come from one client IP.
	policy := db.LoginPolicy{Window: 15 * time.Minute, AccountMaxFailures: 5, IPMaxFailures: 50, FirstLockout: time.Minute, MaxLockout: 15 * time.Minute}
	deeAccount := db.LoginSubject{Kind: db.FailureKindAccount, Key: "dee-account", UserID: dee.ID}
	failures := []db.LoginSubject{deeAccount, deeAccount, deeAccount, deeAccount, deeAccount,
		{Kind: db.FailureKindDevice, Key: "dee-device", UserID: dee.ID},
		{Kind: db.FailureKindAccount, Key: "eda-account", UserID: eda.ID}}
	for _, subject := range failures {
		if _, err := database.RecordLoginFailure(ctx, policy, subject, "192.0.2.10"); err != nil {
			t.Fatal(err)
		}
	}
	state, err := database.LoginThrottle(ctx, policy.Window, deeAccount, "192.0.2.11")
	if err != nil {
		t.Fatal(err)
	}
	if state.RetryAfter <= 0 {
		t.Fatalf("dee's account before unlock: got %+v, want a lock", state)
	}

	res := run(t, dbEnv(url), "", "user", "unlock", "--email", "DEE@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Unlocked user") || !strings.Contains(res.stdout, "2 failure counts cleared") {
		t.Errorf("stdout: got %q, want it to say the user is unlocked and 2 counts cleared", res.stdout)
	}
	state, err = database.LoginThrottle(ctx, policy.Window, deeAccount, "192.0.2.11")
	if err != nil {
		t.Fatal(err)
	}
	if state != (db.LoginThrottle{}) {
		t.Errorf("dee's account after unlock: got %+v, want no failures and no lock", state)
	}
	edaState, err := database.LoginThrottle(ctx, policy.Window, db.LoginSubject{Kind: db.FailureKindAccount, Key: "eda-account"}, "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	if edaState.Failures != 1 {
		t.Errorf("eda's failures after unlocking dee: got %d, want 1 kept", edaState.Failures)
	}
	var ipFailures int
	if err := database.Pool.QueryRow(ctx, `SELECT failures FROM login_failures WHERE kind = 'ip'`).Scan(&ipFailures); err != nil {
		t.Fatal(err)
	}
	if ipFailures != len(failures) {
		t.Errorf("IP failures after unlock: got %d, want %d kept", ipFailures, len(failures))
	}
	events := cliEvents(t, database, handlers.EventLoginUnlocked)
	checkCLIEvent(t, events, handlers.EventLoginUnlocked, dee.ID, -1)
	if got := events[0].Details["counts_cleared"]; got != float64(2) {
		t.Errorf("login_unlocked event: got counts_cleared %v, want 2", got)
	}

	again := run(t, dbEnv(url), "", "user", "unlock", "--email", "dee@example.org")
	checkCode(t, again, 0)
	if !strings.Contains(again.stdout, "no failed logins to clear") {
		t.Errorf("stdout of a second unlock: got %q, want it to say there was nothing to clear", again.stdout)
	}
	if got := len(cliEvents(t, database, handlers.EventLoginUnlocked)); got != 1 {
		t.Errorf("login_unlocked events after a second unlock: got %d, want 1", got)
	}
}

func TestAdminCommandsUnknownEmail(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)

	for _, args := range [][]string{
		{"user", "disable", "--email", "nobody@example.org"},
		{"user", "enable", "--email", "nobody@example.org"},
		{"user", "unlock", "--email", "nobody@example.org"},
		{"sessions", "revoke", "--email", "nobody@example.org"},
	} {
		res := run(t, dbEnv(url), "", args...)
		checkCode(t, res, 1)
		if !strings.Contains(res.stderr, `no user has the email "nobody@example.org"`) {
			t.Errorf("%v: stderr got %q, want it to name the unknown email", args, res.stderr)
		}
	}
}

func TestAdminCommandsUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"sessions without subcommand", []string{"sessions"}, "sessions needs a subcommand: revoke"},
		{"unknown sessions subcommand", []string{"sessions", "list", "--email", "ana@example.org"}, `unknown sessions subcommand "list"`},
		{"revoke without email", []string{"sessions", "revoke"}, "--email"},
		{"disable without email", []string{"user", "disable"}, "--email"},
		{"unlock without email", []string{"user", "unlock"}, "--email"},
		{"unlock with a password", []string{"user", "unlock", "--email", "ana@example.org", "--password", "hunter2hunter2"}, "passwords are not accepted"},
		{"enable with a name", []string{"user", "enable", "--email", "ana@example.org", "--name", "Ana"}, "-name"},
		{"disable with an extra argument", []string{"user", "disable", "--email", "ana@example.org", "now"}, "unexpected positional argument"},
		{"disable with a password", []string{"user", "disable", "--email", "ana@example.org", "--password=hunter2hunter2"}, "passwords are not accepted"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := dbEnv("postgres://postgres@127.0.0.1:1/unused?sslmode=disable")

			res := run(t, env, "", tt.args...)
			checkCode(t, res, 2)
			checkNoPassword(t, res, "hunter2hunter2")
			if !strings.Contains(res.stderr, tt.wantMsg) {
				t.Errorf("stderr: got %q, want it to contain %q", res.stderr, tt.wantMsg)
			}
		})
	}
}

func TestUserCreateAdmin(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)

	res := run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "root@example.org", "--admin")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "with the role admin") {
		t.Errorf("stdout: got %q, want it to name the admin role", res.stdout)
	}
	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "plain@example.org"), 0)

	database := openDB(t, url)
	for email, want := range map[string]string{"root@example.org": db.RoleAdmin, "plain@example.org": db.RoleUser} {
		user, err := database.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatalf("UserByEmail(%s): %v", email, err)
		}
		if user.Role != want {
			t.Errorf("role of %s: got %q, want %q", email, user.Role, want)
		}
	}
}

func TestUserKeysRemove(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	database, users := createUsers(t, url, "dee@example.org", "eda@example.org")
	dee, eda := users[0], users[1]
	ctx := context.Background()

	for i, userID := range []int64{dee.ID, dee.ID, eda.ID} {
		_, err := database.AddSecurityKey(ctx, db.SecurityKey{UserID: userID, CredentialID: []byte{byte(i + 1)}, PublicKey: []byte{1}, Name: "USB"})
		if err != nil {
			t.Fatal(err)
		}
	}

	res := run(t, dbEnv(url), "", "user", "keys", "remove", "--email", "DEE@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "Removed 2 security keys") {
		t.Errorf("stdout: got %q, want it to say 2 keys were removed", res.stdout)
	}
	for _, tc := range []struct {
		user *db.User
		want int
	}{{dee, 0}, {eda, 1}} {
		keys, err := database.SecurityKeys(ctx, tc.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != tc.want {
			t.Errorf("keys of %s: got %d, want %d", tc.user.Email, len(keys), tc.want)
		}
	}
	events, err := database.UserEvents(ctx, dee.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Kind != "security_key_removed" || events[0].Details["by"] != "cli" {
		t.Errorf("events of dee: got %+v, want security_key_removed by cli first", events)
	}

	res = run(t, dbEnv(url), "", "user", "keys", "remove", "--email", "dee@example.org")
	checkCode(t, res, 0)
	if !strings.Contains(res.stdout, "had no security keys") {
		t.Errorf("stdout of a second run: got %q, want it to say there were no keys", res.stdout)
	}
	res = run(t, dbEnv(url), "", "user", "keys", "--email", "dee@example.org")
	checkCode(t, res, 2)
}
