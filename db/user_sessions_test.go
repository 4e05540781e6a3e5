package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

func insertSessionRow(t *testing.T, ctx context.Context, exec func(ctx context.Context, sql string, args ...any) error, key string) {
	t.Helper()

	if err := exec(ctx, `INSERT INTO web_sessions (key, data, expires_on) VALUES ($1, 'x', now() + interval '1 hour')`, []byte(key)); err != nil {
		t.Fatalf("insert session row %s: %v", key, err)
	}
}

func TestSessionIndexFollowsSessionRows(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	exec := func(ctx context.Context, sql string, args ...any) error {
		_, err := database.Pool.Exec(ctx, sql, args...)
		return err
	}
	user, err := database.CreateUser(ctx, "idx@example.com", "Idx", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}

	// The index row comes first, as at login, then the session row.
	if err := database.AddUserSession(ctx, "KEYONE", user.ID, "ua", "127.0.0.1"); err != nil {
		t.Fatalf("AddUserSession before the session row: %v", err)
	}
	insertSessionRow(t, ctx, exec, "KEYONE")

	list, err := database.UserSessions(ctx, user.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("UserSessions: got %d rows, %v; want 1", len(list), err)
	}

	// Deleting the session row, as logout and cleanup do, deletes its index row.
	if err := exec(ctx, `DELETE FROM web_sessions WHERE key = $1`, []byte("KEYONE")); err != nil {
		t.Fatal(err)
	}
	var left int
	database.Pool.QueryRow(ctx, `SELECT count(*) FROM user_sessions`).Scan(&left)
	if left != 0 {
		t.Errorf("index rows after the session row was deleted: got %d, want 0", left)
	}
}

func TestTouchIndexesUnindexedSession(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	exec := func(ctx context.Context, sql string, args ...any) error {
		_, err := database.Pool.Exec(ctx, sql, args...)
		return err
	}
	user, err := database.CreateUser(ctx, "old@example.com", "Old", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}

	// A session opened before the index existed has no index row.
	insertSessionRow(t, ctx, exec, "OLDKEY")
	if err := database.TouchUserSession(ctx, "OLDKEY", user.ID, "ua", "127.0.0.1"); err != nil {
		t.Fatalf("TouchUserSession: %v", err)
	}

	list, err := database.UserSessions(ctx, user.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("UserSessions after the touch: got %d rows, %v; want 1", len(list), err)
	}
	if ended, err := database.DeleteUserSessions(ctx, user.ID, ""); err != nil || ended != 1 {
		t.Errorf("DeleteUserSessions: got %d, %v; want 1 ended", ended, err)
	}
}

func TestOrphanIndexRowsDeleted(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	user, err := database.CreateUser(ctx, "orphan@example.com", "Orphan", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}

	// An index row whose session insert failed.
	if err := database.AddUserSession(ctx, "NEVERSAVED", user.ID, "ua", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	young, err := database.DeleteOrphanUserSessions(ctx, 0, 100)
	if err != nil {
		t.Fatalf("DeleteOrphanUserSessions: %v", err)
	}
	if young != (db.OrphanCheck{Done: true}) {
		t.Errorf("orphan younger than a minute: got %+v, want nothing deleted or checked, kept for a login in progress", young)
	}

	if _, err := database.Pool.Exec(ctx, `UPDATE user_sessions SET created_at = now() - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := database.Pool.QueryRow(ctx, `SELECT id FROM user_sessions`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	old, err := database.DeleteOrphanUserSessions(ctx, 0, 100)
	if err != nil {
		t.Fatalf("DeleteOrphanUserSessions: %v", err)
	}
	if old != (db.OrphanCheck{Deleted: 1, CheckedThrough: id, Done: true}) {
		t.Errorf("orphan older than a minute: got %+v, want it deleted and checked through id %d", old, id)
	}
}

func TestOrphanCheckStopsAtYoungRow(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	user, err := database.CreateUser(ctx, "young@example.com", "Young", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}

	// A young orphan has a lower id than an old one. The check must not
	// pass the young row, or a later call would never come back to it.
	for _, key := range []string{"YOUNG", "OLD"} {
		if err := database.AddUserSession(ctx, key, user.ID, "ua", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := database.Pool.Exec(ctx, `UPDATE user_sessions SET created_at = now() - interval '2 minutes' WHERE session_key = 'OLD'`); err != nil {
		t.Fatal(err)
	}

	check, err := database.DeleteOrphanUserSessions(ctx, 0, 100)
	if err != nil {
		t.Fatalf("DeleteOrphanUserSessions: %v", err)
	}
	if check != (db.OrphanCheck{Done: true}) {
		t.Errorf("check: got %+v, want nothing deleted or checked before the young row", check)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	exec := func(ctx context.Context, sql string, args ...any) error {
		_, err := database.Pool.Exec(ctx, sql, args...)
		return err
	}
	user, err := database.CreateUser(ctx, "chg@example.com", "Chg", hashOf(t, "a long enough password"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"KEEP", "END1", "END2"} {
		if err := database.AddUserSession(ctx, key, user.ID, "ua", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		insertSessionRow(t, ctx, exec, key)
	}

	newHash := hashOf(t, "another long password")
	ended, err := database.ChangePassword(ctx, user.ID, newHash, "KEEP")
	if err != nil || ended != 2 {
		t.Fatalf("ChangePassword: got %d ended, %v; want 2", ended, err)
	}

	got, _ := database.UserByID(ctx, user.ID)
	if got.PasswordHash != newHash {
		t.Error("password hash not changed")
	}
	list, _ := database.UserSessions(ctx, user.ID)
	if len(list) != 1 || list[0].SessionKey != "KEEP" {
		t.Errorf("sessions left: got %+v, want only KEEP", list)
	}
}

func TestAdminsDemotingEachOtherLeaveOne(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()

	var ids [2]int64
	for i, email := range []string{"henry@example.com", "frank@example.com"} {
		u, err := database.CreateUserWithRole(ctx, email, "Admin", hashOf(t, "a long enough password"), db.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}

	for round := range 10 {
		for _, id := range ids {
			if err := database.SetUserRole(ctx, id, db.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}

		errs := make(chan error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { errs <- database.ChangeRoleAsAdmin(ctx, ids[0], ids[1], db.RoleUser) })
		wg.Go(func() { errs <- database.ChangeRoleAsAdmin(ctx, ids[1], ids[0], db.RoleUser) })
		wg.Wait()
		close(errs)

		succeeded := 0
		for err := range errs {
			switch {
			case err == nil:
				succeeded++
			case !errors.Is(err, db.ErrNotAdmin):
				t.Fatalf("round %d: got error %v, want nil or ErrNotAdmin", round, err)
			}
		}
		if succeeded != 1 {
			t.Fatalf("round %d: got %d demotions, want exactly 1", round, succeeded)
		}

		var admins int
		database.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins)
		if admins != 1 {
			t.Fatalf("round %d: got %d admins left, want 1", round, admins)
		}
	}
}
