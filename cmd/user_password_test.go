package cmd_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
	"github.com/portero/portero/session"
)

// testSessionSecret signs the sessions that the tests open directly.
var testSessionSecret = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH")

// openSession logs userID in through a session manager, as the server does,
// and returns the cookie.
func openSession(t *testing.T, database *db.DB, m *session.Manager, userID int64) *http.Cookie {
	t.Helper()

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	index := func(key string) error {
		return database.AddUserSession(context.Background(), key, userID, "test", "127.0.0.1")
	}
	if _, err := m.Login(w, r, nil, userID, index); err != nil {
		t.Fatalf("Login: %v", err)
	}

	return w.Result().Cookies()[0]
}

// sessionValid reports whether the cookie still loads an authenticated
// session.
func sessionValid(t *testing.T, m *session.Manager, cookie *http.Cookie) bool {
	t.Helper()

	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.AddCookie(cookie)
	s, err := m.Load(r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	return s.Authenticated()
}

func TestUserPasswdEndsSessions(t *testing.T) {
	t.Parallel()
	database, url := testdb.New(t)
	const newPassword = "tangerine ladder 41 quietly"

	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org"), 0)
	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "bob@example.org"), 0)
	ana, err := database.UserByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	bob, err := database.UserByEmail(context.Background(), "bob@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}

	m := session.NewManager(database.SQL, session.Options{
		CookieName:  "portero_session",
		MaxAge:      time.Hour,
		IdleTimeout: time.Hour,
		Secret:      testSessionSecret,
	})
	anaCookies := []*http.Cookie{openSession(t, database, m, ana.ID), openSession(t, database, m, ana.ID)}
	bobCookie := openSession(t, database, m, bob.ID)

	res := run(t, dbEnv(url), newPassword+"\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, res, 0)
	checkNoPassword(t, res, newPassword)
	if !strings.Contains(res.stdout, "changed; 2 sessions ended.") {
		t.Errorf("stdout: got %q, want it to say that 2 sessions ended", res.stdout)
	}

	for i, cookie := range anaCookies {
		if sessionValid(t, m, cookie) {
			t.Errorf("session %d of the user after passwd: got authenticated, want ended", i+1)
		}
	}
	if !sessionValid(t, m, bobCookie) {
		t.Error("session of another user after passwd: got ended, want authenticated")
	}
	if list, err := database.UserSessions(context.Background(), ana.ID); err != nil || len(list) != 0 {
		t.Errorf("UserSessions after passwd: got %d sessions and error %v, want 0 and nil", len(list), err)
	}

	again := run(t, dbEnv(url), testPassword+" again\n", "user", "passwd", "--email", "ana@example.org")
	checkCode(t, again, 0)
	if !strings.Contains(again.stdout, "changed; 0 sessions ended.") {
		t.Errorf("stdout without sessions: got %q, want it to say that 0 sessions ended", again.stdout)
	}
}

func TestUserCommandsRejectWeakPasswords(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantMsg string
	}{
		{"common password", "qwertyuiop123", "list of common passwords"},
		{"common password in another case", "LeaveMeAlone", "list of common passwords"},
		{"the email", "ANA@example.org", "same as the email address"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			database, url := testdb.New(t)

			create := run(t, dbEnv(url), tt.pw+"\n", "user", "create", "--email", "ana@example.org")
			checkCode(t, create, 1)
			checkNoPassword(t, create, tt.pw)
			if !strings.Contains(create.stderr, tt.wantMsg) {
				t.Errorf("user create stderr: got %q, want it to contain %q", create.stderr, tt.wantMsg)
			}
			if n := countUsers(t, database); n != 0 {
				t.Errorf("user count after a rejected create: got %d, want 0", n)
			}

			checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org"), 0)
			passwd := run(t, dbEnv(url), tt.pw+"\n", "user", "passwd", "--email", "ana@example.org")
			checkCode(t, passwd, 1)
			checkNoPassword(t, passwd, tt.pw)
			if !strings.Contains(passwd.stderr, tt.wantMsg) {
				t.Errorf("user passwd stderr: got %q, want it to contain %q", passwd.stderr, tt.wantMsg)
			}
			user, err := database.UserByEmail(context.Background(), "ana@example.org")
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			if !password.Matches(user.PasswordHash, testPassword) {
				t.Error("stored hash after a rejected passwd: got one that no longer matches the old password")
			}
		})
	}
}

func TestServeRejectsWeakAdminPassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantMsg string
	}{
		{"common password", "1qaz2wsx3edc", "list of common passwords"},
		{"the email", "Admin@Example.org", "same as the email address"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				// Nothing listens on port 1: the check must fail before
				// Portero connects to the database.
				"DATABASE_URL":   "postgres://portero@127.0.0.1:1/portero",
				"SESSION_SECRET": string(testSessionSecret),
				"DATA_DIR":       t.TempDir(),
				"ADMIN_EMAIL":    "admin@example.org",
				"ADMIN_PASSWORD": tt.pw,
			}

			res := run(t, env, "", "serve")
			checkCode(t, res, 1)
			checkNoPassword(t, res, tt.pw)
			if !strings.Contains(res.stderr, "ADMIN_PASSWORD") || !strings.Contains(res.stderr, tt.wantMsg) {
				t.Errorf("stderr: got %q, want it to name ADMIN_PASSWORD and contain %q", res.stderr, tt.wantMsg)
			}
		})
	}
}
