package db_test

import (
	"context"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// pending reads the notices_pending flag of a user.
func pending(t *testing.T, database *db.DB, userID int64) bool {
	t.Helper()

	user, err := database.UserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}

	return user.NoticesPending
}

func TestNoticeKindsSetPending(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)

	cases := []struct {
		kind    string
		details map[string]any
		want    bool
	}{
		{"login_succeeded", nil, false},
		{"login_succeeded", map[string]any{"new_device": true}, true},
		{"logout", nil, false},
		{"user_created", map[string]any{"by": "cli"}, false},
		{"login_failed", map[string]any{"reason": "wrong_password"}, true},
		{"lockout", nil, true},
		{"password_changed", map[string]any{"by": "admin"}, true},
		{"session_revoked", map[string]any{"by": "cli"}, true},
		{"user_disabled", nil, true},
		{"user_enabled", nil, true},
		{"role_changed", nil, true},
		{"login_unlocked", nil, true},
	}
	for i, tc := range cases {
		user := createUser(t, database, "user"+string(rune('a'+i))+"@example.org")
		addEvent(t, database, db.SecurityEvent{UserID: user.ID, Kind: tc.kind, Details: tc.details})
		if got := pending(t, database, user.ID); got != tc.want {
			t.Errorf("%s %v: notices_pending got %v, want %v", tc.kind, tc.details, got, tc.want)
		}
	}
}

func TestDismissNoticesKeepsNewerPending(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	ana := createUser(t, database, "ana@example.org")
	bo := createUser(t, database, "bo@example.org")

	addEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "login_failed", ClientIP: "192.0.2.1"})
	first, _, err := database.UserNotices(ctx, ana.ID, "", 20)
	if err != nil || len(first) != 1 {
		t.Fatalf("notices: got %d, %v; want 1, nil", len(first), err)
	}
	addEvent(t, database, db.SecurityEvent{UserID: ana.ID, Kind: "lockout", ClientIP: "192.0.2.2"})

	// A page that listed only the first notice dismisses up to it.
	if err := database.DismissNotices(ctx, ana.ID, first[0].ID); err != nil {
		t.Fatal(err)
	}
	if !pending(t, database, ana.ID) {
		t.Error("notices_pending after dismissing an older notice: got false, want true")
	}
	rest, total, err := database.UserNotices(ctx, ana.ID, "", 20)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(rest) != 1 || rest[0].Kind != "lockout" {
		t.Errorf("notices after the dismissal: got %d of %d, want the lockout only", len(rest), total)
	}

	// Another user's event id changes nothing.
	addEvent(t, database, db.SecurityEvent{UserID: bo.ID, Kind: "login_failed"})
	others, _, err := database.UserNotices(ctx, bo.ID, "", 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := database.DismissNotices(ctx, ana.ID, others[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := database.UserNotices(ctx, ana.ID, "", 20); total != 1 {
		t.Errorf("ana's notices after dismissing bo's event: got %d, want 1", total)
	}

	if err := database.DismissNotices(ctx, ana.ID, rest[0].ID); err != nil {
		t.Fatal(err)
	}
	if pending(t, database, ana.ID) {
		t.Error("notices_pending after dismissing every notice: got true, want false")
	}
}
