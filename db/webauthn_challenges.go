package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Purposes of a WebAuthn challenge.
const (
	ChallengeLogin    = "login"
	ChallengeRegister = "register"
)

// WebAuthnChallenge is one row of webauthn_challenges: the state of a
// WebAuthn ceremony between its two requests.
type WebAuthnChallenge struct {
	// BindingHash is the SHA-256 of the pending-login token or of the
	// session key that the ceremony is bound to.
	BindingHash []byte
	Purpose     string
	UserID      int64
	// SessionData is the WebAuthn library's ceremony state as JSON.
	SessionData []byte
	// Options are the ceremony's options for the browser, as JSON.
	Options []byte
	// Next and WeakPassword carry a login across the security-key step.
	Next         string
	WeakPassword bool
	ExpiresAt    time.Time
	// PasswordHash, when not empty, is the password hash that a login
	// matched before its security-key step. It is not stored: the
	// challenge is stored only while the user still has this hash.
	PasswordHash string
}

// PutWebAuthnChallenge stores a challenge, replacing an earlier one with
// the same binding, so that only the newest challenge of a session counts.
// With ch.PasswordHash set, it returns ErrNotFound and stores nothing when
// the user's password hash differs. The user's row is locked while the
// challenge is stored, so a password change either waits for the challenge
// and then cancels it, or runs first and keeps it out.
func (d *DB) PutWebAuthnChallenge(ctx context.Context, ch WebAuthnChallenge) error {
	tag, err := d.Pool.Exec(ctx, `
		INSERT INTO webauthn_challenges (binding_hash, purpose, user_id, session_data, options, next, weak_password, expires_at)
		SELECT $1, $2, id, $4, $5, $6, $7, $8
		FROM users
		WHERE id = $3
		  AND ($9 = '' OR password_hash = $9)
		FOR SHARE
		ON CONFLICT (binding_hash) DO UPDATE
		SET purpose = EXCLUDED.purpose,
		    user_id = EXCLUDED.user_id,
		    session_data = EXCLUDED.session_data,
		    options = EXCLUDED.options,
		    next = EXCLUDED.next,
		    weak_password = EXCLUDED.weak_password,
		    expires_at = EXCLUDED.expires_at`,
		ch.BindingHash, ch.Purpose, ch.UserID, string(ch.SessionData), string(ch.Options), ch.Next, ch.WeakPassword, ch.ExpiresAt, ch.PasswordHash)
	if err != nil {
		return fmt.Errorf("store %s challenge of user %d: %w", ch.Purpose, ch.UserID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store %s challenge of user %d: the user is gone or the password changed: %w", ch.Purpose, ch.UserID, ErrNotFound)
	}

	return nil
}

// WebAuthnChallenge returns the unexpired challenge with the binding and
// purpose without using it up. It returns ErrNotFound when there is none.
func (d *DB) WebAuthnChallenge(ctx context.Context, bindingHash []byte, purpose string) (WebAuthnChallenge, error) {
	row := d.Pool.QueryRow(ctx, `
		SELECT binding_hash, purpose, user_id, session_data, options, next, weak_password, expires_at
		FROM webauthn_challenges
		WHERE binding_hash = $1
		  AND purpose = $2
		  AND expires_at > now()`, bindingHash, purpose)

	return scanChallenge(row, purpose)
}

// TakeWebAuthnChallenge deletes the challenge with the binding and purpose
// and returns it, so that it verifies at most one response. It returns
// ErrNotFound when there is none or it has expired.
func (d *DB) TakeWebAuthnChallenge(ctx context.Context, bindingHash []byte, purpose string) (WebAuthnChallenge, error) {
	row := d.Pool.QueryRow(ctx, `
		DELETE FROM webauthn_challenges
		WHERE binding_hash = $1
		  AND purpose = $2
		RETURNING binding_hash, purpose, user_id, session_data, options, next, weak_password, expires_at`, bindingHash, purpose)
	ch, err := scanChallenge(row, purpose)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	if !ch.ExpiresAt.After(time.Now()) {
		return WebAuthnChallenge{}, fmt.Errorf("take %s challenge: expired at %s: %w", purpose, ch.ExpiresAt.UTC().Format(time.RFC3339), ErrNotFound)
	}

	return ch, nil
}

// DeleteExpiredWebAuthnChallenges deletes the challenges that expired
// before now and returns how many.
func (d *DB) DeleteExpiredWebAuthnChallenges(ctx context.Context) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `DELETE FROM webauthn_challenges WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("delete expired WebAuthn challenges: %w", err)
	}

	return tag.RowsAffected(), nil
}

func scanChallenge(row pgx.Row, purpose string) (WebAuthnChallenge, error) {
	var ch WebAuthnChallenge
	var data, options string
	err := row.Scan(&ch.BindingHash, &ch.Purpose, &ch.UserID, &data, &options, &ch.Next, &ch.WeakPassword, &ch.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return WebAuthnChallenge{}, fmt.Errorf("%s challenge: %w", purpose, ErrNotFound)
	}
	if err != nil {
		return WebAuthnChallenge{}, fmt.Errorf("read %s challenge: %w", purpose, err)
	}
	ch.SessionData = []byte(data)
	ch.Options = []byte(options)

	return ch, nil
}
