package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrDuplicateKey is returned when a security key with the same credential
// ID is already registered, by this user or another.
var ErrDuplicateKey = errors.New("security key already registered")

// SecurityKey is one row of security_keys: a WebAuthn credential that a user
// registered as a second factor.
type SecurityKey struct {
	ID           int64
	UserID       int64
	CredentialID []byte
	// PublicKey is the COSE-encoded public key of the credential.
	PublicKey []byte
	// SignCount is the authenticator's signature counter after the last
	// accepted assertion; 0 for authenticators that keep no counter.
	SignCount uint32
	// AAGUID identifies the authenticator model, 16 bytes or empty.
	AAGUID            []byte
	Transports        []string
	AttestationFormat string
	UserVerified      bool
	BackupEligible    bool
	BackupState       bool
	Name              string
	CreatedAt         time.Time
	// LastUsedAt is zero until the key completes a login.
	LastUsedAt time.Time
}

const securityKeyColumns = `
	id,
	user_id,
	credential_id,
	public_key,
	sign_count,
	aaguid,
	transports,
	attestation_format,
	user_verified,
	backup_eligible,
	backup_state,
	name,
	created_at,
	last_used_at`

func scanSecurityKey(row pgx.Row) (SecurityKey, error) {
	var k SecurityKey
	var signCount int64
	var lastUsed *time.Time
	err := row.Scan(&k.ID, &k.UserID, &k.CredentialID, &k.PublicKey, &signCount, &k.AAGUID, &k.Transports,
		&k.AttestationFormat, &k.UserVerified, &k.BackupEligible, &k.BackupState, &k.Name, &k.CreatedAt, &lastUsed)
	if err != nil {
		return SecurityKey{}, err
	}
	k.SignCount = uint32(signCount)
	if lastUsed != nil {
		k.LastUsedAt = *lastUsed
	}

	return k, nil
}

// AddSecurityKey inserts a security key and returns it with its id and
// creation time. It returns ErrDuplicateKey when the credential ID is
// registered already.
func (d *DB) AddSecurityKey(ctx context.Context, k SecurityKey) (SecurityKey, error) {
	transports := k.Transports
	if transports == nil {
		transports = []string{}
	}
	aaguid := k.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}

	row := d.Pool.QueryRow(ctx, `
		INSERT INTO security_keys (
			user_id,
			credential_id,
			public_key,
			sign_count,
			aaguid,
			transports,
			attestation_format,
			user_verified,
			backup_eligible,
			backup_state,
			name
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+securityKeyColumns,
		k.UserID, k.CredentialID, k.PublicKey, int64(k.SignCount), aaguid, transports,
		k.AttestationFormat, k.UserVerified, k.BackupEligible, k.BackupState, k.Name)
	added, err := scanSecurityKey(row)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return SecurityKey{}, fmt.Errorf("add security key of user %d: %w", k.UserID, ErrDuplicateKey)
	}
	if err != nil {
		return SecurityKey{}, fmt.Errorf("add security key of user %d: %w", k.UserID, err)
	}

	return added, nil
}

// SecurityKeys returns the user's security keys, oldest first.
func (d *DB) SecurityKeys(ctx context.Context, userID int64) ([]SecurityKey, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT `+securityKeyColumns+`
		FROM security_keys
		WHERE user_id = $1
		ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list security keys of user %d: %w", userID, err)
	}
	defer rows.Close()

	var keys []SecurityKey
	for rows.Next() {
		k, err := scanSecurityKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list security keys of user %d: %w", userID, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list security keys of user %d: %w", userID, err)
	}

	return keys, nil
}

// DeleteSecurityKey deletes the user's security key id and returns its
// name. It returns ErrNotFound when the user has no key with that id.
func (d *DB) DeleteSecurityKey(ctx context.Context, userID, id int64) (string, error) {
	var name string
	err := d.Pool.QueryRow(ctx, `
		DELETE FROM security_keys
		WHERE id = $1
		  AND user_id = $2
		RETURNING name`, id, userID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("delete security key %d of user %d: %w", id, userID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delete security key %d of user %d: %w", id, userID, err)
	}

	return name, nil
}

// DeleteSecurityKeys deletes every security key of the user and returns
// how many there were.
func (d *DB) DeleteSecurityKeys(ctx context.Context, userID int64) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `DELETE FROM security_keys WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete security keys of user %d: %w", userID, err)
	}

	return tag.RowsAffected(), nil
}

// UseSecurityKey records a login with the key: its new signature counter,
// its flags and the time. The update applies only while the stored counter
// is still oldCount, so two logins that raced with the same counter cannot
// both succeed. It returns false for the one that lost.
func (d *DB) UseSecurityKey(ctx context.Context, id int64, oldCount, newCount uint32, userVerified, backupState bool) (bool, error) {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE security_keys
		SET sign_count = $3,
		    user_verified = user_verified OR $4,
		    backup_state = $5,
		    last_used_at = now()
		WHERE id = $1
		  AND sign_count = $2`, id, int64(oldCount), int64(newCount), userVerified, backupState)
	if err != nil {
		return false, fmt.Errorf("record use of security key %d: %w", id, err)
	}

	return tag.RowsAffected() == 1, nil
}
