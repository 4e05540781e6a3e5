package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// createUser inserts a user with a throwaway password.
func createUser(t *testing.T, database *db.DB, email string) *db.User {
	t.Helper()

	user, err := database.CreateUser(context.Background(), email, "", hashOf(t, "some password"))
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}

	return user
}

func addEvent(t *testing.T, database *db.DB, e db.SecurityEvent) {
	t.Helper()

	if err := database.AddEvent(context.Background(), e); err != nil {
		t.Fatalf("AddEvent(%+v): got error %v, want nil", e, err)
	}
}

func TestUserEventsNewestFirst(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	ana := createUser(t, database, "ana@example.org")
	bo := createUser(t, database, "bo@example.org")

	for i := 1; i <= 5; i++ {
		addEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_succeeded", ClientIP: fmt.Sprintf("192.0.2.%d", i)})
	}
	addEvent(t, database, db.SecurityEvent{UserID: bo.ID, Kind: "logout", ClientIP: "198.51.100.1"})
	addEvent(t, database, db.SecurityEvent{Kind: "login_failed", ClientIP: "203.0.113.9", Details: map[string]any{"reason": "unknown_email"}})

	events, err := database.UserEvents(ctx, ana.ID, 3)
	if err != nil {
		t.Fatalf("UserEvents: got error %v, want nil", err)
	}
	if len(events) != 3 {
		t.Fatalf("UserEvents with limit 3: got %d events, want 3", len(events))
	}
	for i, want := range []string{"192.0.2.5", "192.0.2.4", "192.0.2.3"} {
		if events[i].ClientIP != want {
			t.Errorf("event %d: got client IP %q, want %q (newest first)", i, events[i].ClientIP, want)
		}
		if events[i].UserID != ana.ID || events[i].UserEmail != "ana@example.org" {
			t.Errorf("event %d: got user %d %q, want %d ana@example.org", i, events[i].UserID, events[i].UserEmail, ana.ID)
		}
		if events[i].Details == nil || len(events[i].Details) != 0 {
			t.Errorf("event %d: got details %v, want an empty map", i, events[i].Details)
		}
	}

	recent, err := database.RecentEvents(ctx, 10)
	if err != nil {
		t.Fatalf("RecentEvents: got error %v, want nil", err)
	}
	if len(recent) != 7 {
		t.Fatalf("RecentEvents: got %d events, want 7", len(recent))
	}
	first := recent[0]
	if first.Kind != "login_failed" || first.UserID != 0 || first.UserEmail != "" {
		t.Errorf("newest event: got kind %q user %d %q, want login_failed of no user", first.Kind, first.UserID, first.UserEmail)
	}
	if got := first.Details["reason"]; got != "unknown_email" {
		t.Errorf("newest event reason: got %v, want unknown_email", got)
	}
	if recent[1].UserEmail != "bo@example.org" {
		t.Errorf("second newest event: got email %q, want bo@example.org", recent[1].UserEmail)
	}
}

func TestAddEventCleansClientText(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	user := createUser(t, database, "ana@example.org")

	// 300 two-byte characters are 600 bytes, and the cut at 512 bytes must
	// not split one of them.
	long := strings.Repeat("ñ", 300)
	addEvent(t, database, db.SecurityEvent{UserID: user.ID, Kind: "login_succeeded", UserAgent: long})
	addEvent(t, database, db.SecurityEvent{UserID: user.ID, Kind: "login_succeeded", UserAgent: "bad \xff\xfe byte\x00s"})

	events, err := database.UserEvents(ctx, user.ID, 10)
	if err != nil {
		t.Fatalf("UserEvents: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("UserEvents: got %d events, want 2", len(events))
	}
	if got := events[0].UserAgent; got != "bad \uFFFD bytes" {
		t.Errorf("invalid UTF-8 User-Agent: got %q, want %q", got, "bad \uFFFD bytes")
	}
	got := events[1].UserAgent
	if len(got) != 512 || !utf8.ValidString(got) || got != long[:512] {
		t.Errorf("long User-Agent: got %d bytes (valid UTF-8: %v), want the first 512 bytes", len(got), utf8.ValidString(got))
	}
}

func TestEventsOutliveTheirUser(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	user := createUser(t, database, "ana@example.org")
	addEvent(t, database, db.SecurityEvent{UserID: user.ID, Kind: "logout", Details: map[string]any{"by": "cli", "sessions_ended": 2}})

	if _, err := database.Pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, user.ID); err != nil {
		t.Fatalf("delete user: %v", err)
	}

	events, err := database.RecentEvents(ctx, 10)
	if err != nil {
		t.Fatalf("RecentEvents: %v", err)
	}
	if len(events) != 1 {
		t.Fatalf("RecentEvents after the user was deleted: got %d events, want 1", len(events))
	}
	if events[0].UserID != 0 {
		t.Errorf("user id: got %d, want 0 (NULL)", events[0].UserID)
	}
	if got := events[0].Details["sessions_ended"]; got != float64(2) {
		t.Errorf("sessions_ended detail: got %v (%T), want 2", got, got)
	}
}

func TestDisableAndEnableUser(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	user := createUser(t, database, "ana@example.org")

	steps := []struct {
		name        string
		call        func(context.Context, int64) (bool, error)
		wantChanged bool
		wantOff     bool
	}{
		{"disable", database.DisableUser, true, true},
		{"disable again", database.DisableUser, false, true},
		{"enable", database.EnableUser, true, false},
		{"enable again", database.EnableUser, false, false},
	}
	for _, step := range steps {
		changed, err := step.call(ctx, user.ID)
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", step.name, err)
		}
		if changed != step.wantChanged {
			t.Errorf("%s: got changed %v, want %v", step.name, changed, step.wantChanged)
		}
		got, err := database.UserByID(ctx, user.ID)
		if err != nil {
			t.Fatalf("%s: UserByID: %v", step.name, err)
		}
		if got.Disabled() != step.wantOff {
			t.Errorf("%s: got disabled %v, want %v", step.name, got.Disabled(), step.wantOff)
		}
	}

	for name, call := range map[string]func(context.Context, int64) (bool, error){"DisableUser": database.DisableUser, "EnableUser": database.EnableUser} {
		if _, err := call(ctx, user.ID+1000); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s of an unknown id: got error %v, want ErrNotFound", name, err)
		}
	}
}

func TestSetUserRole(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	user := createUser(t, database, "ana@example.org")

	if user.Role != db.RoleUser || user.Admin() {
		t.Errorf("new user: got role %q, want %q", user.Role, db.RoleUser)
	}
	if err := database.SetUserRole(ctx, user.ID, db.RoleAdmin); err != nil {
		t.Fatalf("SetUserRole admin: got error %v, want nil", err)
	}
	got, err := database.UserByEmail(ctx, "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if !got.Admin() {
		t.Errorf("role after SetUserRole: got %q, want admin", got.Role)
	}

	if err := database.SetUserRole(ctx, user.ID, "root"); err == nil {
		t.Error("SetUserRole root: got nil error, want the CHECK constraint to reject it")
	}
	if err := database.SetUserRole(ctx, user.ID+1000, db.RoleAdmin); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("SetUserRole of an unknown id: got error %v, want ErrNotFound", err)
	}
}

func TestListUsersCountsActiveSessions(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	bo := createUser(t, database, "Bo@example.org")
	ana := createUser(t, database, "ana@example.org")
	created, err := database.CreateUserWithRole(ctx, "cy@example.org", "Cy", hashOf(t, "some password"), db.RoleAdmin)
	if err != nil {
		t.Fatalf("CreateUserWithRole: %v", err)
	}

	sessions := []struct {
		key     string
		userID  int64
		expires string
	}{
		{"ana-1", ana.ID, "1 hour"},
		{"ana-2", ana.ID, "1 hour"},
		{"ana-expired", ana.ID, "-1 minute"},
		{"bo-1", bo.ID, "1 hour"},
	}
	for _, s := range sessions {
		_, err := database.Pool.Exec(ctx, `
			INSERT INTO web_sessions (key, data, expires_on)
			VALUES ($1, '\x00', now() + $2::interval)`, []byte(s.key), s.expires)
		if err != nil {
			t.Fatalf("insert session %s: %v", s.key, err)
		}
		if err := database.AddUserSession(ctx, s.key, s.userID, "", ""); err != nil {
			t.Fatalf("AddUserSession %s: %v", s.key, err)
		}
	}

	users, err := database.ListUsers(ctx, 10, 0)
	if err != nil {
		t.Fatalf("ListUsers: got error %v, want nil", err)
	}
	want := []struct {
		email    string
		role     string
		sessions int
	}{
		{"ana@example.org", db.RoleUser, 2},
		{"Bo@example.org", db.RoleUser, 1},
		{"cy@example.org", db.RoleAdmin, 0},
	}
	if len(users) != len(want) {
		t.Fatalf("ListUsers: got %d users, want %d", len(users), len(want))
	}
	for i, w := range want {
		if users[i].Email != w.email || users[i].Role != w.role || users[i].ActiveSessions != w.sessions {
			t.Errorf("user %d: got %s, role %s, %d sessions, want %s, role %s, %d sessions",
				i, users[i].Email, users[i].Role, users[i].ActiveSessions, w.email, w.role, w.sessions)
		}
	}
	if created.Role != db.RoleAdmin {
		t.Errorf("CreateUserWithRole: got role %q, want admin", created.Role)
	}

	page, err := database.ListUsers(ctx, 2, 2)
	if err != nil {
		t.Fatalf("ListUsers second page: %v", err)
	}
	if len(page) != 1 || page[0].Email != "cy@example.org" {
		t.Errorf("ListUsers(limit 2, offset 2): got %d users, want only cy@example.org", len(page))
	}
}
