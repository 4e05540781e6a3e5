package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portero/portero/internal/testdb"
)

// pepperPrefix is password.PepperPrefix, written out so that this test
// checks the constraint against the stored format itself.
const pepperPrefix = "$pepper1$"

func TestUsersAcceptPepperedHash(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	hash := pepperPrefix + hashOf(t, "a pre-hash stands in here")
	user, err := database.CreateUser(ctx, "pep@example.org", "Pep", hash)
	if err != nil {
		t.Fatalf("CreateUser with a peppered hash: got error %v, want nil", err)
	}
	if user.PasswordHash != hash {
		t.Errorf("PasswordHash: got %q, want %q", user.PasswordHash, hash)
	}
}

func TestUsersRejectMalformedPepperedHash(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	bcryptHash := hashOf(t, "some password")

	tests := []struct {
		name string
		hash string
	}{
		{"prefix alone", pepperPrefix},
		{"prefix with truncated bcrypt", pepperPrefix + bcryptHash[:59]},
		{"prefix with extra character", pepperPrefix + bcryptHash + "x"},
		{"prefix with non-bcrypt", pepperPrefix + strings.Repeat("x", 60)},
		{"other version", "$pepper2$" + bcryptHash},
		{"prefix without closing dollar", "$pepper1" + bcryptHash + "x"},
	}

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := database.Pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ($1, $2)`,
				fmt.Sprintf("bad%d@example.org", i), tt.hash)

			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				t.Fatalf("INSERT: got error %v, want a PostgreSQL error", err)
			}
			if pgErr.Code != "23514" {
				t.Errorf("INSERT error code: got %s (%s), want 23514", pgErr.Code, pgErr.Message)
			}
		})
	}
}

func TestReplacePasswordHash(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	oldHash := hashOf(t, "the password")
	user, err := database.CreateUser(ctx, "rep@example.org", "Rep", oldHash)
	if err != nil {
		t.Fatal(err)
	}
	newHash := pepperPrefix + hashOf(t, "the pre-hash")

	replaced, err := database.ReplacePasswordHash(ctx, user.ID, oldHash, newHash)
	if err != nil || !replaced {
		t.Fatalf("ReplacePasswordHash: got %t, %v, want true, nil", replaced, err)
	}
	got, err := database.UserByID(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != newHash {
		t.Errorf("PasswordHash: got %q, want the new hash %q", got.PasswordHash, newHash)
	}

	// A second replacement that read the old hash finds it changed and
	// keeps the newer one.
	replaced, err = database.ReplacePasswordHash(ctx, user.ID, oldHash, pepperPrefix+hashOf(t, "a later pre-hash"))
	if err != nil || replaced {
		t.Errorf("ReplacePasswordHash with a stale old hash: got %t, %v, want false, nil", replaced, err)
	}
	if got, _ := database.UserByID(ctx, user.ID); got.PasswordHash != newHash {
		t.Errorf("PasswordHash after a stale replacement: got %q, want %q kept", got.PasswordHash, newHash)
	}

	replaced, err = database.ReplacePasswordHash(ctx, user.ID+1000, newHash, oldHash)
	if err != nil || replaced {
		t.Errorf("ReplacePasswordHash of a missing user: got %t, %v, want false, nil", replaced, err)
	}
}
