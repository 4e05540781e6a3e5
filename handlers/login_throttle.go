package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// busyRetryAfter is the Retry-After, in seconds, of a login that found
// every bcrypt slot busy. A slot frees up as soon as one comparison ends.
const busyRetryAfter = "1"

// throttle counts failed logins per account and per client IP in the
// database, so that restarts and other instances share the counts.
type throttle struct {
	policy db.LoginPolicy
	// key signs account keys. It is derived from SESSION_SECRET, which
	// every instance shares, so a rotation of the secret starts every
	// account's count again.
	key []byte
}

func validatePolicy(p db.LoginPolicy) error {
	switch {
	case p.Window <= 0:
		return fmt.Errorf("invalid login policy: window %s, want more than 0", p.Window)
	case p.AccountMaxFailures < 1 || p.IPMaxFailures < 1:
		return fmt.Errorf("invalid login policy: max failures %d per account and %d per IP, want at least 1", p.AccountMaxFailures, p.IPMaxFailures)
	case p.FirstLockout <= 0 || p.MaxLockout < p.FirstLockout:
		return fmt.Errorf("invalid login policy: lockout from %s to %s, want more than 0 and the maximum at least the first", p.FirstLockout, p.MaxLockout)
	}

	return nil
}

// accountKey returns the key of an account's row: an HMAC of the lowercased
// email. Unknown emails get a key like known ones, so a lock never reveals
// whether an account exists, and the table contains no typed address.
func (t *throttle) accountKey(email string) string {
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(strings.ToLower(email)))

	return hex.EncodeToString(mac.Sum(nil))
}

// deviceKey returns the key of a device row: an HMAC of the device
// cookie's nonce, so the table contains no cookie value.
func (t *throttle) deviceKey(nonce []byte) string {
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte("device\x00"))
	mac.Write(nonce)

	return hex.EncodeToString(mac.Sum(nil))
}

// loginSubject returns the row that a login for email is checked and
// counted against. That is the device row when the request carries a device
// cookie that is valid for user, and the account row of email otherwise.
// user is nil when no user has the email or it was not looked up yet.
func (a *App) loginSubject(c echo.Context, email string, user *db.User) db.LoginSubject {
	subject := db.LoginSubject{Kind: db.FailureKindAccount, Key: a.throttle.accountKey(email)}
	if user == nil {
		return subject
	}

	subject.UserID = user.ID
	if token, ok := a.devices.read(c); ok && a.devices.valid(token, user, time.Now()) {
		subject.Kind = db.FailureKindDevice
		subject.Key = a.throttle.deviceKey(token.nonce)
	}

	return subject
}

// subjectHash returns the log attribute that links the lines of one
// account or device without showing its email or cookie: the key name and
// the first 16 characters of the row key.
func subjectHash(subject db.LoginSubject) []any {
	return []any{subject.Kind + "_hash", subject.Key[:16]}
}

// recordFailure counts a failed login for the subject and the client IP
// and logs each lock that the failure sets.
func (a *App) recordFailure(c echo.Context, subject db.LoginSubject, user *db.User) error {
	clientIP := c.RealIP()
	result, err := a.store.RecordLoginFailure(c.Request().Context(), a.throttle.policy, subject, clientIP)
	if err != nil {
		return err
	}

	if result.Subject.LockedFor > 0 {
		lockedFor := result.Subject.LockedFor.Round(time.Second)
		args := append([]any{"scope", subject.Kind, "client_ip", clientIP}, subjectHash(subject)...)
		args = append(args, "failures", result.Subject.Failures, "locked_for", lockedFor)
		var userID int64
		if user != nil {
			userID = user.ID
			args = append(args, "user_id", user.ID)
		}
		a.log.Warn("Login locked after repeated failures.", args...)
		details := append([]any{"scope", subject.Kind}, subjectHash(subject)...)
		details = append(details, "failures", result.Subject.Failures, "locked_for_seconds", int64(lockedFor/time.Second))
		a.event(c, EventLockout, userID, details...)
	}
	if result.IP.LockedFor > 0 {
		a.log.Warn("Login locked after repeated failures.", "scope", db.FailureKindIP, "client_ip", clientIP,
			"failures", result.IP.Failures, "locked_for", result.IP.LockedFor.Round(time.Second))
		a.event(c, EventLockout, 0, "scope", db.FailureKindIP,
			"failures", result.IP.Failures, "locked_for_seconds", int64(result.IP.LockedFor.Round(time.Second)/time.Second))
	}

	return nil
}

// loginLocked responds to a login whose account or IP is locked with the
// login page, status 429 and Retry-After. The page is the same for every
// lock, so it never reveals whether the account exists.
func (a *App) loginLocked(c echo.Context, form loginForm, subject db.LoginSubject, state db.LoginThrottle) error {
	args := append([]any{"scope", state.LockedKind, "client_ip", c.RealIP()}, subjectHash(subject)...)
	a.log.Warn("Login rejected while locked.", append(args, "retry_after", state.RetryAfter.Round(time.Second))...)

	retrySeconds := int64((state.RetryAfter + time.Second - 1) / time.Second)
	c.Response().Header().Set("Retry-After", strconv.FormatInt(retrySeconds, 10))

	page := a.newPage(c, "login.title")
	minutes := (state.RetryAfter + time.Minute - 1).Truncate(time.Minute)
	page.Error = page.T("login.locked", i18n.FormatDuration(page.Lang, minutes))
	page.Data = form

	return a.render(c, http.StatusTooManyRequests, "login", page)
}

// loginBusy responds to a login that found every bcrypt slot busy with the
// login page and status 503. The attempt does not count as a failure.
func (a *App) loginBusy(c echo.Context, form loginForm) error {
	a.busyWarning(c.RealIP(), c.Request().Host)

	c.Response().Header().Set("Retry-After", busyRetryAfter)
	page := a.newPage(c, "login.title")
	page.Error = page.T("login.busy")
	page.Data = form

	return a.render(c, http.StatusServiceUnavailable, "login", page)
}
