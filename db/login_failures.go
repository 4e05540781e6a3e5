package db

import (
	"context"
	"fmt"
	"time"
)

// Kinds of rows in login_failures.
const (
	FailureKindAccount = "account"
	// FailureKindDevice counts the failures of the logins that carry one
	// valid device cookie.
	FailureKindDevice = "device"
	FailureKindIP     = "ip"
)

// LoginSubject is the row, besides the client IP's row, that a login
// attempt is checked and counted against: the account of the typed email,
// or the device cookie that the attempt carries.
type LoginSubject struct {
	// Kind is FailureKindAccount or FailureKindDevice.
	Kind string
	Key  string
	// UserID is the user that the email belongs to, or 0 when none does.
	// RecordLoginFailure stores it so that UnlockUser can find the row.
	UserID int64
}

// LoginPolicy sets when failed logins lock an account or a client IP.
type LoginPolicy struct {
	// Window is how long failures count toward a lock. The count starts
	// again once a full window has passed since the first failure of the
	// count and since the end of its last lock.
	Window time.Duration
	// AccountMaxFailures and IPMaxFailures are the failures that lock an
	// account or an IP. Each failure at or above the limit locks it again.
	// A device row has the limit of an account.
	AccountMaxFailures int
	IPMaxFailures      int
	// FirstLockout is the lock at the limit. Each further failure doubles
	// it, up to MaxLockout.
	FirstLockout time.Duration
	MaxLockout   time.Duration
}

// LoginThrottle is the state of the subject and the client IP of a login.
type LoginThrottle struct {
	// Failures counts the subject's failures in the current window.
	Failures int
	// RetryAfter is how long the longer of the two locks still lasts, or 0
	// when neither is locked.
	RetryAfter time.Duration
	// LockedKind is the kind of that lock: the subject's kind or
	// FailureKindIP, or "" when neither is locked.
	LockedKind string
}

// FailureCount is the state of one row after a failed login.
type FailureCount struct {
	Failures int
	// LockedFor is the lock that this failure set, or 0 below the limit.
	LockedFor time.Duration
}

// LoginFailures is the state of the subject and the IP after a failed login.
type LoginFailures struct {
	Subject FailureCount
	IP      FailureCount
}

// staleAfter is true for a row whose count has expired. It expects the row
// as f and the window in seconds as $3.
const staleAfter = `GREATEST(f.window_start, f.locked_until) + make_interval(secs => $3::float8) <= now()`

// LoginThrottle reads the failures of subject and the locks of subject and
// ip in one query. Times come from the database's clock, so instances whose
// clocks differ still agree.
func (d *DB) LoginThrottle(ctx context.Context, window time.Duration, subject LoginSubject, ip string) (LoginThrottle, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT
			f.kind,
			CASE WHEN `+staleAfter+` THEN 0 ELSE f.failures END,
			COALESCE(GREATEST(EXTRACT(epoch FROM f.locked_until - now()), 0), 0)::float8
		FROM login_failures AS f
		WHERE (f.kind, f.key) IN (($4, $1), ('ip', $2))`,
		subject.Key, ip, window.Seconds(), subject.Kind)
	if err != nil {
		return LoginThrottle{}, fmt.Errorf("read login throttle: %w", err)
	}
	defer rows.Close()

	var state LoginThrottle
	for rows.Next() {
		var kind string
		var failures int
		var lockedSeconds float64
		if err := rows.Scan(&kind, &failures, &lockedSeconds); err != nil {
			return LoginThrottle{}, fmt.Errorf("read login throttle: %w", err)
		}

		if kind == subject.Kind {
			state.Failures = failures
		}
		if locked := seconds(lockedSeconds); locked > state.RetryAfter {
			state.RetryAfter = locked
			state.LockedKind = kind
		}
	}
	if err := rows.Err(); err != nil {
		return LoginThrottle{}, fmt.Errorf("read login throttle: %w", err)
	}

	return state, nil
}

// RecordLoginFailure counts one failed login for subject and for ip in one
// statement. INSERT ... ON CONFLICT DO UPDATE takes a row lock, so
// concurrent failures on any number of instances are all counted.
//
// A row at or above its limit is locked for FirstLockout × 2^(failures −
// limit), capped at MaxLockout: with the defaults 1, 2, 4, 8 and then 15
// minutes.
func (d *DB) RecordLoginFailure(ctx context.Context, policy LoginPolicy, subject LoginSubject, ip string) (LoginFailures, error) {
	const newCount = `(CASE WHEN ` + staleAfter + ` THEN 1 ELSE f.failures + 1 END)`
	const limit = `(CASE f.kind WHEN 'ip' THEN $5::integer ELSE $4::integer END)`
	// The exponent is capped at 30 so that power() cannot overflow on an IP
	// with millions of failures; the lock is capped at MaxLockout anyway.
	const lockedUntil = `CASE WHEN ` + newCount + ` >= ` + limit + `
		THEN now() + make_interval(secs => LEAST($6::float8 * power(2, LEAST(` + newCount + ` - ` + limit + `, 30)), $7::float8))
		END`
	const firstLock = `now() + make_interval(secs => LEAST($6::float8, $7::float8))`

	rows, err := d.Pool.Query(ctx, `
		INSERT INTO login_failures AS f (kind, key, failures, window_start, locked_until, user_id)
		VALUES
			($8, $1, 1, now(), CASE WHEN $4::integer <= 1 THEN `+firstLock+` END, NULLIF($9::bigint, 0)),
			('ip', $2, 1, now(), CASE WHEN $5::integer <= 1 THEN `+firstLock+` END, NULL)
		ON CONFLICT (kind, key) DO UPDATE SET
			failures = `+newCount+`,
			window_start = CASE WHEN `+staleAfter+` THEN now() ELSE f.window_start END,
			locked_until = `+lockedUntil+`,
			user_id = COALESCE(EXCLUDED.user_id, f.user_id)
		RETURNING
			f.kind,
			f.failures,
			COALESCE(EXTRACT(epoch FROM f.locked_until - now()), 0)::float8`,
		subject.Key, ip, policy.Window.Seconds(), policy.AccountMaxFailures, policy.IPMaxFailures,
		policy.FirstLockout.Seconds(), policy.MaxLockout.Seconds(), subject.Kind, subject.UserID)
	if err != nil {
		return LoginFailures{}, fmt.Errorf("record login failure: %w", err)
	}
	defer rows.Close()

	var result LoginFailures
	for rows.Next() {
		var kind string
		var count FailureCount
		var lockedSeconds float64
		if err := rows.Scan(&kind, &count.Failures, &lockedSeconds); err != nil {
			return LoginFailures{}, fmt.Errorf("record login failure: %w", err)
		}
		count.LockedFor = seconds(lockedSeconds)

		if kind == FailureKindIP {
			result.IP = count
		} else {
			result.Subject = count
		}
	}
	if err := rows.Err(); err != nil {
		return LoginFailures{}, fmt.Errorf("record login failure: %w", err)
	}

	return result, nil
}

// ResetLoginFailures deletes the failures of subject after a successful
// login. The IP's failures stay.
func (d *DB) ResetLoginFailures(ctx context.Context, subject LoginSubject) error {
	_, err := d.Pool.Exec(ctx, `DELETE FROM login_failures WHERE kind = $1 AND key = $2`, subject.Kind, subject.Key)
	if err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}

	return nil
}

// UnlockUser deletes the failures and locks of the user's account and
// devices, and returns how many rows it deleted. The failures of client IPs
// stay.
//
// NOTE: it finds rows by user_id, which a failure sets only once the email
// belongs to a user. Failures counted before the user was created, or
// before migration 00009 added the column, stay until they expire.
func (d *DB) UnlockUser(ctx context.Context, userID int64) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		DELETE FROM login_failures
		WHERE user_id = $1
		  AND kind IN ('account', 'device')`, userID)
	if err != nil {
		return 0, fmt.Errorf("unlock user %d: %w", userID, err)
	}

	return tag.RowsAffected(), nil
}

// DeleteStaleLoginFailures deletes up to batchSize rows whose count has
// expired, which the next failure would start again anyway, and returns how
// many it deleted.
func (d *DB) DeleteStaleLoginFailures(ctx context.Context, window time.Duration, batchSize int) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		DELETE FROM login_failures
		WHERE (kind, key) IN (
			SELECT kind, key
			FROM login_failures
			WHERE GREATEST(window_start, locked_until) <= now() - make_interval(secs => $1::float8)
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)`, window.Seconds(), batchSize)
	if err != nil {
		return 0, fmt.Errorf("delete stale login failures: %w", err)
	}

	return tag.RowsAffected(), nil
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}
