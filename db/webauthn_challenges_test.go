package db_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// testChallenge returns a challenge of the user for purpose, bound to a
// hash of binding.
func testChallenge(userID int64, purpose, binding string) db.WebAuthnChallenge {
	sum := sha256.Sum256([]byte(binding))
	return db.WebAuthnChallenge{
		BindingHash: sum[:],
		Purpose:     purpose,
		UserID:      userID,
		SessionData: []byte(`{}`),
		Options:     []byte(`{}`),
		ExpiresAt:   time.Now().Add(5 * time.Minute),
	}
}

func TestLoginChallengeNeedsCurrentPassword(t *testing.T) {
	database, _ := testdb.New(t)
	ctx := context.Background()
	oldHash := hashOf(t, "a long enough password")
	user, err := database.CreateUser(ctx, "key@example.com", "Key", oldHash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := database.ChangePassword(ctx, user.ID, hashOf(t, "another long password"), ""); err != nil {
		t.Fatal(err)
	}

	// A login that matched the old password stores nothing.
	ch := testChallenge(user.ID, db.ChallengeLogin, "token")
	ch.PasswordHash = oldHash
	if err := database.PutWebAuthnChallenge(ctx, ch); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("PutWebAuthnChallenge with the old hash: got %v, want ErrNotFound", err)
	}
	if _, err := database.WebAuthnChallenge(ctx, ch.BindingHash, db.ChallengeLogin); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("challenge after a put with the old hash: got %v, want ErrNotFound", err)
	}

	current, err := database.UserByID(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	ch.PasswordHash = current.PasswordHash
	if err := database.PutWebAuthnChallenge(ctx, ch); err != nil {
		t.Errorf("PutWebAuthnChallenge with the current hash: %v", err)
	}
	if _, err := database.WebAuthnChallenge(ctx, ch.BindingHash, db.ChallengeLogin); err != nil {
		t.Errorf("challenge after a put with the current hash: %v", err)
	}
}

func TestPasswordChangeAndSessionEndCancelPendingLogins(t *testing.T) {
	cases := []struct {
		name string
		act  func(ctx context.Context, database *db.DB, userID int64) error
	}{
		{"ChangePassword", func(ctx context.Context, database *db.DB, userID int64) error {
			_, err := database.ChangePassword(ctx, userID, hashOf(t, "another long password"), "KEEP")
			return err
		}},
		{"DeleteUserSessions", func(ctx context.Context, database *db.DB, userID int64) error {
			_, err := database.DeleteUserSessions(ctx, userID, "KEEP")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			database, _ := testdb.New(t)
			ctx := context.Background()
			var users [2]int64
			for i, email := range []string{"ana@example.com", "bob@example.com"} {
				u, err := database.CreateUser(ctx, email, "Test", hashOf(t, "a long enough password"))
				if err != nil {
					t.Fatal(err)
				}
				users[i] = u.ID
			}
			pending := testChallenge(users[0], db.ChallengeLogin, "ana login")
			register := testChallenge(users[0], db.ChallengeRegister, "ana session")
			other := testChallenge(users[1], db.ChallengeLogin, "bob login")
			for _, ch := range []db.WebAuthnChallenge{pending, register, other} {
				if err := database.PutWebAuthnChallenge(ctx, ch); err != nil {
					t.Fatal(err)
				}
			}

			if err := tc.act(ctx, database, users[0]); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}

			rows, err := database.Pool.Query(ctx, `SELECT binding_hash FROM webauthn_challenges`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var left [][]byte
			for rows.Next() {
				var hash []byte
				if err := rows.Scan(&hash); err != nil {
					t.Fatal(err)
				}
				left = append(left, hash)
			}
			has := func(ch db.WebAuthnChallenge) bool {
				for _, hash := range left {
					if bytes.Equal(hash, ch.BindingHash) {
						return true
					}
				}
				return false
			}
			if has(pending) {
				t.Error("the user's pending login is still there, want it cancelled")
			}
			// The kept session's registration and other users' logins stay.
			if !has(register) || !has(other) {
				t.Errorf("challenges left: got %d, want the registration and the other user's login", len(left))
			}
		})
	}
}
