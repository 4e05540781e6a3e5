package handlers

import (
	"context"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

// upgradeHash replaces the user's plain bcrypt hash with a peppered hash of
// pw, which has just matched it, when PASSWORD_PEPPER is set. It returns the
// hash the user's row has afterwards. A busy bcrypt slot or a failed update
// keeps the old hash without failing the login, and the next login tries
// again.
func (a *App) upgradeHash(ctx context.Context, user *db.User, pw string) string {
	if !a.hasher.NeedsUpgrade(user.PasswordHash) {
		return user.PasswordHash
	}

	release, err := a.bcrypt.Acquire(ctx)
	if err != nil {
		a.log.Info("Password hash not replaced by a peppered one because every bcrypt slot is busy. The next login tries again.", "user_id", user.ID)
		return user.PasswordHash
	}
	hash, err := a.hasher.Rehash(pw)
	release()
	if err != nil {
		a.log.Error("Hashing the password with the pepper failed, so the old hash stays.", "user_id", user.ID, "error", err)
		return user.PasswordHash
	}

	replaced, err := a.store.ReplacePasswordHash(ctx, user.ID, user.PasswordHash, hash)
	if err != nil {
		a.log.Error("Storing the peppered password hash failed, so the old hash stays.", "user_id", user.ID, "error", err)
		return user.PasswordHash
	}
	if !replaced {
		// The password changed since this login read it, and the new one
		// is kept.
		return user.PasswordHash
	}
	a.log.Info("Password hash replaced by a peppered one.", "user_id", user.ID)

	return hash
}

// warnPepperMissing logs an error, at most every 10 minutes, when a check
// failed against a peppered hash while PASSWORD_PEPPER is unset, because
// then every user with such a hash is locked out.
func (a *App) warnPepperMissing(hash, clientIP, host string) {
	if a.hasher.Peppered() || !password.IsPeppered(hash) {
		return
	}

	a.pepperMissing(clientIP, host)
}
