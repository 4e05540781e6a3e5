package db

import (
	"context"
	"errors"
	"fmt"
)

// UserSummary is a user as the admin list shows it, with the number of its
// unexpired sessions.
type UserSummary struct {
	User
	ActiveSessions int
}

// ListUsers returns up to limit users ordered by email, after skipping
// offset of them.
func (d *DB) ListUsers(ctx context.Context, limit, offset int) ([]UserSummary, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT`+userColumns+`,
			(
				SELECT count(*)
				FROM user_sessions us
				JOIN web_sessions ws ON ws.key = us.session_key
				WHERE us.user_id = users.id
				  AND ws.expires_on > now()
			)
		FROM users
		ORDER BY lower(email), id
		LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()

	var list []UserSummary
	for rows.Next() {
		var s UserSummary
		u := &s.User
		if err := rows.Scan(&u.ID, &u.Email, &u.DisplayName, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt, &u.DisabledAt, &u.Role, &u.NoticesPending, &s.ActiveSessions); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}

	return list, nil
}

// DisableUser stops the user from logging in. It reports whether the user
// was enabled before, and returns ErrNotFound for an unknown id. It does not
// end the user's sessions: callers do that with DeleteUserSessions, and until
// then every request of such a session ends it, because the user is
// disabled.
func (d *DB) DisableUser(ctx context.Context, id int64) (bool, error) {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE users
		SET disabled_at = now(),
		    updated_at = now()
		WHERE id = $1
		  AND disabled_at IS NULL`, id)
	if err != nil {
		return false, fmt.Errorf("disable user %d: %w", id, err)
	}

	return d.changedOrExists(ctx, id, tag.RowsAffected())
}

// EnableUser lets a disabled user log in again. It reports whether the user
// was disabled before, and returns ErrNotFound for an unknown id.
func (d *DB) EnableUser(ctx context.Context, id int64) (bool, error) {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE users
		SET disabled_at = NULL,
		    updated_at = now()
		WHERE id = $1
		  AND disabled_at IS NOT NULL`, id)
	if err != nil {
		return false, fmt.Errorf("enable user %d: %w", id, err)
	}

	return d.changedOrExists(ctx, id, tag.RowsAffected())
}

// SetUserRole sets the role of a user to RoleUser or RoleAdmin.
func (d *DB) SetUserRole(ctx context.Context, id int64, role string) error {
	tag, err := d.Pool.Exec(ctx, `
		UPDATE users
		SET role = $2,
		    updated_at = now()
		WHERE id = $1`, id, role)
	if err != nil {
		return fmt.Errorf("set role of user %d to %q: %w", id, role, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set role of user %d: %w", id, ErrNotFound)
	}

	return nil
}

// changedOrExists turns the row count of a conditional UPDATE into
// "changed". When no row changed, it returns ErrNotFound for an unknown id
// and false for a user that was already in the requested state.
func (d *DB) changedOrExists(ctx context.Context, id, rowsAffected int64) (bool, error) {
	if rowsAffected > 0 {
		return true, nil
	}
	if _, err := d.UserByID(ctx, id); err != nil {
		return false, err
	}

	return false, nil
}

// ErrNotAdmin is returned when the user acting as an admin no longer is one.
var ErrNotAdmin = errors.New("acting user is not an enabled admin")

// ChangeRoleAsAdmin gives target the role, on behalf of actor. Both rows are
// locked first, in id order, and actor must still be an enabled admin when
// the change is made. Two admins who demote each other at the same moment
// are thus served one after the other, and the second gets ErrNotAdmin, so
// the last admin can never be removed by a race.
func (d *DB) ChangeRoleAsAdmin(ctx context.Context, actorID, targetID int64, role string) error {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("set role of user %d: %w", targetID, err)
	}
	defer tx.Rollback(ctx)

	rows, err := tx.Query(ctx, `
		SELECT id, role, disabled_at IS NOT NULL
		FROM users
		WHERE id IN ($1, $2)
		ORDER BY id
		FOR UPDATE`, actorID, targetID)
	if err != nil {
		return fmt.Errorf("set role of user %d: %w", targetID, err)
	}
	actorIsAdmin, targetFound := false, false
	for rows.Next() {
		var id int64
		var currentRole string
		var disabled bool
		if err := rows.Scan(&id, &currentRole, &disabled); err != nil {
			rows.Close()
			return fmt.Errorf("set role of user %d: %w", targetID, err)
		}
		if id == actorID {
			actorIsAdmin = currentRole == RoleAdmin && !disabled
		}
		if id == targetID {
			targetFound = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("set role of user %d: %w", targetID, err)
	}

	switch {
	case !targetFound:
		return fmt.Errorf("set role of user %d: %w", targetID, ErrNotFound)
	case !actorIsAdmin:
		return fmt.Errorf("set role of user %d by user %d: %w", targetID, actorID, ErrNotAdmin)
	}

	if _, err := tx.Exec(ctx, `
		UPDATE users
		SET role = $2,
		    updated_at = now()
		WHERE id = $1`, targetID, role); err != nil {
		return fmt.Errorf("set role of user %d to %q: %w", targetID, role, err)
	}

	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("set role of user %d: %w", targetID, err)
	}

	return nil
}
