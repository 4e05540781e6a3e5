package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrEmailTaken is returned when another user already has the email,
// compared without case.
var ErrEmailTaken = errors.New("email already registered")

// User is one row of the users table.
type User struct {
	ID           int64
	Email        string
	DisplayName  string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DisabledAt   *time.Time
	// Role is RoleUser or RoleAdmin.
	Role string
	// NoticesPending is set while the user may have security notices that
	// are not dismissed. UserNotices lists them.
	NoticesPending bool
}

// Roles of a user. Admins manage other users at /admin/users.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Disabled reports whether the account may not log in.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

// Admin reports whether the user has the admin role.
func (u *User) Admin() bool { return u.Role == RoleAdmin }

const userColumns = `
	id,
	email,
	display_name,
	password_hash,
	created_at,
	updated_at,
	disabled_at,
	role,
	notices_pending`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.DisplayName, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt, &u.DisabledAt, &u.Role, &u.NoticesPending)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}

	return &u, nil
}

// UserByEmail finds a user by email without regard to case.
func (d *DB) UserByEmail(ctx context.Context, email string) (*User, error) {
	row := d.Pool.QueryRow(ctx, `SELECT`+userColumns+` FROM users WHERE lower(email) = lower($1)`, email)

	u, err := scanUser(row)
	if err != nil {
		return nil, fmt.Errorf("find user by email: %w", err)
	}

	return u, nil
}

// UserByID finds a user by id.
func (d *DB) UserByID(ctx context.Context, id int64) (*User, error) {
	row := d.Pool.QueryRow(ctx, `SELECT`+userColumns+` FROM users WHERE id = $1`, id)

	u, err := scanUser(row)
	if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, err)
	}

	return u, nil
}

// CreateUser inserts a user with the role RoleUser and an already computed
// bcrypt hash.
func (d *DB) CreateUser(ctx context.Context, email, displayName, passwordHash string) (*User, error) {
	return d.CreateUserWithRole(ctx, email, displayName, passwordHash, RoleUser)
}

// CreateUserWithRole inserts a user with the given role (RoleUser or
// RoleAdmin) and an already computed bcrypt hash.
func (d *DB) CreateUserWithRole(ctx context.Context, email, displayName, passwordHash, role string) (*User, error) {
	row := d.Pool.QueryRow(ctx, `
		INSERT INTO users (email, display_name, password_hash, role)
		VALUES ($1, $2, $3, $4)
		RETURNING`+userColumns, email, displayName, passwordHash, role)

	u, err := scanUser(row)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("create user %q: %w", email, ErrEmailTaken)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", email, err)
	}

	return u, nil
}

// CreateUserIfMissing inserts the user with the given role unless one with
// that email exists. It reports whether it created one and never changes an
// existing user, not even its role.
func (d *DB) CreateUserIfMissing(ctx context.Context, email, displayName, passwordHash, role string) (bool, error) {
	tag, err := d.Pool.Exec(ctx, `
		INSERT INTO users (email, display_name, password_hash, role)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT ((lower(email))) DO NOTHING`, email, displayName, passwordHash, role)
	if err != nil {
		return false, fmt.Errorf("create user %q: %w", email, err)
	}

	return tag.RowsAffected() == 1, nil
}

// SetPassword replaces a user's password hash.
func (d *DB) SetPassword(ctx context.Context, id int64, passwordHash string) error {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE users
		SET password_hash = $2,
		    updated_at = now()
		WHERE id = $1`, id, passwordHash)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set password of user %d: %w", id, ErrNotFound)
	}

	return nil
}

// ReplacePasswordHash replaces a user's password hash with newHash, a new
// hash of the same password, while the stored hash is still oldHash. It
// reports whether it replaced it: false when the user is gone or the
// password changed in the meantime, which keeps the newer password.
func (d *DB) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error) {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE users
		SET password_hash = $3
		WHERE id = $1
		  AND password_hash = $2`, id, oldHash, newHash)
	if err != nil {
		return false, fmt.Errorf("replace password hash of user %d: %w", id, err)
	}

	return tag.RowsAffected() == 1, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
