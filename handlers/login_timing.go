package handlers

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// plausibleEmail reports whether an account could have this email, so that
// it is worth a lookup. Text that is too long, not UTF-8 or contains control
// characters would only make the query fail.
func plausibleEmail(email string) bool {
	if len(email) > maxEmailLength || !utf8.ValidString(email) {
		return false
	}

	return !strings.ContainsFunc(email, unicode.IsControl)
}

// calibrateFailureFloor measures a comparison against the dummy hash, which
// is what a login with an unknown email costs. The fastest of three runs is
// kept, because slower ones include time spent waiting for a CPU.
func (a *App) calibrateFailureFloor() {
	hash := a.dummyHash()
	fastest := time.Duration(0)
	for range 3 {
		start := time.Now()
		a.hasher.Matches(hash, "calibration only")
		if d := time.Since(start); fastest == 0 || d < fastest {
			fastest = d
		}
	}

	a.failureFloor.Store(int64(fastest))
}

// padFailure makes a failed login that started at started last at least as
// long as a comparison against the dummy hash. A user whose hash has a lower
// cost than BCRYPT_COST, such as one imported from another app, would
// otherwise fail faster than an unknown email and so show that the account
// exists.
func (a *App) padFailure(ctx context.Context, started time.Time) {
	wait := time.Duration(a.failureFloor.Load()) - time.Since(started)
	if wait <= 0 {
		return
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
