package cmd

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
)

const adminTestPassword = "violet kangaroo reading maps"

func TestEnsureAdminCreatesAdmin(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := &config.Config{AdminEmail: "boss@example.org", AdminPassword: adminTestPassword, BcryptCost: 4}

	if err := ensureAdmin(context.Background(), cfg, database, logger); err != nil {
		t.Fatalf("ensureAdmin: got error %v, want nil", err)
	}

	user, err := database.UserByEmail(context.Background(), "boss@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: got error %v, want the new admin", err)
	}
	if user.Role != db.RoleAdmin {
		t.Errorf("role: got %q, want admin", user.Role)
	}
	if !password.Matches(user.PasswordHash, adminTestPassword) {
		t.Error("password: got no match for ADMIN_PASSWORD, want one")
	}
	if !strings.Contains(logs.String(), "Admin user created from ADMIN_EMAIL.") {
		t.Errorf("log: got %q, want the creation line", logs.String())
	}
}

func TestEnsureAdminLeavesExistingUser(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	hash, err := password.Hash("the user's own password", 4)
	if err != nil {
		t.Fatal(err)
	}
	existing, err := database.CreateUser(ctx, "Boss@example.org", "Boss", hash)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := &config.Config{AdminEmail: "boss@example.org", AdminPassword: adminTestPassword, BcryptCost: 4}

	if err := ensureAdmin(ctx, cfg, database, logger); err != nil {
		t.Fatalf("ensureAdmin: got error %v, want nil", err)
	}

	user, err := database.UserByID(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if user.Role != db.RoleUser {
		t.Errorf("role: got %q, want user (an existing user is never changed)", user.Role)
	}
	if user.PasswordHash != hash || user.DisplayName != "Boss" {
		t.Error("password hash or name changed, want the existing user untouched")
	}
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "without the admin role") {
			line = l
		}
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "user_id=") {
		t.Errorf("log: got %q, want a Warn line with the user id", logs.String())
	}
	if strings.Contains(logs.String(), adminTestPassword) {
		t.Error("the log contains ADMIN_PASSWORD")
	}

	// An existing admin gets no warning.
	if err := database.SetUserRole(ctx, existing.ID, db.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if err := ensureAdmin(ctx, cfg, database, logger); err != nil {
		t.Fatalf("ensureAdmin with an existing admin: got error %v, want nil", err)
	}
	if logs.Len() != 0 {
		t.Errorf("log with an existing admin: got %q, want nothing", logs.String())
	}
}
