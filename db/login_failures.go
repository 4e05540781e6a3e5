package db

import (
	"context"
	"fmt"
	"time"
)

// Kinds of rows in login_failures.
const (
	FailureKindAccount = "account"
	FailureKindIP      = "ip"
)

// LoginPolicy sets when failed logins lock an account or a client IP.
type LoginPolicy struct {
	// Window is how long failures count toward a lock. The count starts
	// again once a full window has passed since the first failure of the
	// count and since the end of its last lock.
	Window time.Duration
	// AccountMaxFailures and IPMaxFailures are the failures that lock an
	// account or an IP. Each failure at or above the limit locks it again.
	AccountMaxFailures int
	IPMaxFailures      int
	// FirstLockout is the lock at the limit. Each further failure doubles
	// it, up to MaxLockout.
	FirstLockout time.Duration
	MaxLockout   time.Duration
}

// LoginThrottle is the state of the account and the client IP of a login.
type LoginThrottle struct {
	// AccountFailures counts the account's failures in the current window.
	AccountFailures int
	// RetryAfter is how long the longer of the two locks still lasts, or 0
	// when neither is locked.
	RetryAfter time.Duration
	// LockedKind is the kind of that lock: FailureKindAccount or
	// FailureKindIP, or "" when neither is locked.
	LockedKind string
}

// FailureCount is the state of one row after a failed login.
type FailureCount struct {
	Failures int
	// LockedFor is the lock that this failure set, or 0 below the limit.
	LockedFor time.Duration
}

// LoginFailures is the state of the account and the IP after a failed login.
type LoginFailures struct {
	Account FailureCount
	IP      FailureCount
}

// staleAfter is true for a row whose count has expired. It expects the row
// as f and the window in seconds as $3.
const staleAfter = `GREATEST(f.window_start, f.locked_until) + make_interval(secs => $3::float8) <= now()`

// LoginThrottle reads the failures of accountKey and the locks of
// accountKey and ip in one query. Times come from the database's clock, so
// instances whose clocks differ still agree.
func (d *DB) LoginThrottle(ctx context.Context, window time.Duration, accountKey, ip string) (LoginThrottle, error) {
	rows, err := d.Pool.Query(ctx, `
		SELECT
			f.kind,
			CASE WHEN `+staleAfter+` THEN 0 ELSE f.failures END,
			COALESCE(GREATEST(EXTRACT(epoch FROM f.locked_until - now()), 0), 0)::float8
		FROM login_failures AS f
		WHERE (f.kind, f.key) IN (('account', $1), ('ip', $2))`,
		accountKey, ip, window.Seconds())
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

		if kind == FailureKindAccount {
			state.AccountFailures = failures
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

// RecordLoginFailure counts one failed login for accountKey and for ip in
// one statement. INSERT ... ON CONFLICT DO UPDATE takes a row lock, so
// concurrent failures on any number of instances are all counted.
//
// A row at or above its limit is locked for FirstLockout × 2^(failures −
// limit), capped at MaxLockout: with the defaults 1, 2, 4, 8 and then 15
// minutes.
func (d *DB) RecordLoginFailure(ctx context.Context, policy LoginPolicy, accountKey, ip string) (LoginFailures, error) {
	const newCount = `(CASE WHEN ` + staleAfter + ` THEN 1 ELSE f.failures + 1 END)`
	const limit = `(CASE f.kind WHEN 'account' THEN $4::integer ELSE $5::integer END)`
	// The exponent is capped at 30 so that power() cannot overflow on an IP
	// with millions of failures; the lock is capped at MaxLockout anyway.
	const lockedUntil = `CASE WHEN ` + newCount + ` >= ` + limit + `
		THEN now() + make_interval(secs => LEAST($6::float8 * power(2, LEAST(` + newCount + ` - ` + limit + `, 30)), $7::float8))
		END`
	const firstLock = `now() + make_interval(secs => LEAST($6::float8, $7::float8))`

	rows, err := d.Pool.Query(ctx, `
		INSERT INTO login_failures AS f (kind, key, failures, window_start, locked_until)
		VALUES
			('account', $1, 1, now(), CASE WHEN $4::integer <= 1 THEN `+firstLock+` END),
			('ip', $2, 1, now(), CASE WHEN $5::integer <= 1 THEN `+firstLock+` END)
		ON CONFLICT (kind, key) DO UPDATE SET
			failures = `+newCount+`,
			window_start = CASE WHEN `+staleAfter+` THEN now() ELSE f.window_start END,
			locked_until = `+lockedUntil+`
		RETURNING
			f.kind,
			f.failures,
			COALESCE(EXTRACT(epoch FROM f.locked_until - now()), 0)::float8`,
		accountKey, ip, policy.Window.Seconds(), policy.AccountMaxFailures, policy.IPMaxFailures,
		policy.FirstLockout.Seconds(), policy.MaxLockout.Seconds())
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

		switch kind {
		case FailureKindAccount:
			result.Account = count
		case FailureKindIP:
			result.IP = count
		}
	}
	if err := rows.Err(); err != nil {
		return LoginFailures{}, fmt.Errorf("record login failure: %w", err)
	}

	return result, nil
}

// ResetLoginFailures deletes the failures of accountKey after a successful
// login. The IP's failures stay.
func (d *DB) ResetLoginFailures(ctx context.Context, accountKey string) error {
	_, err := d.Pool.Exec(ctx, `DELETE FROM login_failures WHERE kind = 'account' AND key = $1`, accountKey)
	if err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}

	return nil
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
