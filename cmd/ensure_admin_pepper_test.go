package cmd

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/portero/portero/config"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/password"
)

func TestEnsureAdminUsesPepper(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	pepper := []byte("Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := &config.Config{AdminEmail: "chief@example.org", AdminPassword: adminTestPassword, BcryptCost: 4, PasswordPepper: pepper}

	if err := ensureAdmin(context.Background(), cfg, database, logger); err != nil {
		t.Fatalf("ensureAdmin: got error %v, want nil", err)
	}

	user, err := database.UserByEmail(context.Background(), "chief@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: got error %v, want the new admin", err)
	}
	if !password.IsPeppered(user.PasswordHash) {
		t.Fatal("password hash: got a plain hash, want a peppered one")
	}
	if !(password.Hasher{Pepper: pepper}).Matches(user.PasswordHash, adminTestPassword) {
		t.Error("password with the pepper: got no match for ADMIN_PASSWORD, want one")
	}
	if bytes.Contains(logs.Bytes(), pepper) || bytes.Contains(logs.Bytes(), []byte(adminTestPassword)) {
		t.Error("log: got the pepper or the password, want neither")
	}
}
