package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
)

// credentialField is the form field that carries the browser's WebAuthn
// response as JSON.
const credentialField = "credential"

// pendingLoginCookie names the browser's login that passed the password and
// waits for its security key. The value is 32 random bytes, and the
// database keeps only a hash of it. The browser has no session until the
// key's assertion verifies, so no route that needs a login accepts it.
type pendingLoginCookie struct {
	name   string
	secure bool
}

// issue sets a new pending-login cookie and returns its token.
func (p pendingLoginCookie) issue(c echo.Context) string {
	token := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	c.SetCookie(p.cookie(token, int(ceremonyTimeout/time.Second)))

	return token
}

// read returns the token of the request's pending-login cookie, or "".
func (p pendingLoginCookie) read(c echo.Context) string {
	ck, err := c.Cookie(p.name)
	if err != nil || len(ck.Value) > 64 {
		return ""
	}

	return ck.Value
}

func (p pendingLoginCookie) clear(c echo.Context) {
	c.SetCookie(p.cookie("", -1))
}

func (p pendingLoginCookie) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     p.name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   p.secure,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// Since Go 1.24, crypto/rand.Read never returns an error, because it
	// crashes the program when the system's source fails.
	_, _ = rand.Read(b)

	return b
}

// loginKeyData is the data of the page that requests the security key.
type loginKeyData struct {
	// Options is the JSON of the WebAuthn request options.
	Options string
}

// startKeyLogin begins the security-key step of a login whose password
// matched: it stores the challenge under a new pending-login cookie and
// sends the browser to the page that requests the key. The browser gets
// no session yet.
func (a *App) startKeyLogin(c echo.Context, owner keyOwner, next string, weakPassword bool) error {
	shared, err := a.sharePendingLogin(c, owner.user.ID)
	if err != nil || shared {
		return err
	}

	assertion, data, err := a.webauthn.BeginLogin(owner)
	if err != nil {
		return fmt.Errorf("begin security key login of user %d: %w", owner.user.ID, err)
	}
	sessionData, err := encodeSessionData(data)
	if err != nil {
		return err
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return fmt.Errorf("encode security key login options of user %d: %w", owner.user.ID, err)
	}

	token := a.pendingLogins.issue(c)
	err = a.store.PutWebAuthnChallenge(c.Request().Context(), db.WebAuthnChallenge{
		BindingHash:  bindingHash(db.ChallengeLogin, token),
		Purpose:      db.ChallengeLogin,
		UserID:       owner.user.ID,
		SessionData:  sessionData,
		Options:      options,
		Next:         next,
		WeakPassword: weakPassword,
		ExpiresAt:    time.Now().Add(ceremonyTimeout),
		PasswordHash: owner.user.PasswordHash,
	})
	if errors.Is(err, db.ErrNotFound) {
		// The password changed while this login checked the old one.
		a.pendingLogins.clear(c)
		a.log.Warn("Login failed.", "reason", "password_changed", "user_id", owner.user.ID, "client_ip", c.RealIP())
		return a.loginFailed(c, newLoginForm(owner.user.Email, next), http.StatusUnauthorized, "login.failed")
	}
	if err != nil {
		return err
	}
	a.log.Info("Password accepted; waiting for the security key.", "user_id", owner.user.ID, "client_ip", c.RealIP())

	return a.redirect(c, "/login/key")
}

// sharePendingLogin keeps the browser's pending login when it waits for
// the key of the same user and has at least minSharedLifetime left, and
// then sends the browser to its key page. A browser has one pending-login
// cookie, so a login in a second tab would otherwise replace the first
// tab's challenge, and the key used on the first tab would fail and count
// as a failed login. It reports whether it kept the login.
func (a *App) sharePendingLogin(c echo.Context, userID int64) (bool, error) {
	token := a.pendingLogins.read(c)
	if token == "" {
		return false, nil
	}

	ch, err := a.store.WebAuthnChallenge(c.Request().Context(), bindingHash(db.ChallengeLogin, token), db.ChallengeLogin)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ch.UserID != userID || time.Until(ch.ExpiresAt) < minSharedLifetime {
		return false, nil
	}
	a.log.Info("Password accepted again in a browser that waits for the security key; keeping its challenge.", "user_id", userID, "client_ip", c.RealIP())

	return true, a.redirect(c, "/login/key")
}

// loginKeyShow shows the page that requests the security key, or the
// login form when no login waits for one.
func (a *App) loginKeyShow(c echo.Context) error {
	token := a.pendingLogins.read(c)
	if token == "" {
		return a.redirect(c, "/login")
	}

	return a.loginKeyPage(c, http.StatusOK, token, "")
}

// loginKeyPage shows the page that requests the security key of the
// pending login with token, with the message errorKey unless it is "".
// Without an unexpired pending login it shows the login form.
func (a *App) loginKeyPage(c echo.Context, status int, token, errorKey string) error {
	ch, err := a.store.WebAuthnChallenge(c.Request().Context(), bindingHash(db.ChallengeLogin, token), db.ChallengeLogin)
	if errors.Is(err, db.ErrNotFound) {
		a.pendingLogins.clear(c)
		return a.loginFailed(c, newLoginForm("", ""), http.StatusUnauthorized, "login.key_expired")
	}
	if err != nil {
		return err
	}

	page := a.newPage(c, "login.key_title")
	if errorKey != "" {
		page.Error = page.T(errorKey)
	}
	page.Data = loginKeyData{Options: string(ch.Options)}

	return a.render(c, status, "login_key", page)
}

// loginKeyCheck verifies the security key's assertion of a pending login
// and, when it verifies, starts the session. The challenge is used up by
// the first response, right or wrong, so a failed or replayed assertion
// sends the user back to the password.
func (a *App) loginKeyCheck(c echo.Context) error {
	ctx := c.Request().Context()
	token := a.pendingLogins.read(c)
	// A form sent without the script carries no credential. It keeps the
	// challenge, so that the user can turn JavaScript on and go on.
	if token != "" && c.Request().PostFormValue(credentialField) == "" {
		return a.loginKeyPage(c, http.StatusUnprocessableEntity, token, "login.key_script")
	}

	a.pendingLogins.clear(c)
	if token == "" {
		a.log.Warn("Security key step rejected: no pending login.", "client_ip", c.RealIP())
		return a.loginFailed(c, newLoginForm("", ""), http.StatusUnauthorized, "login.key_expired")
	}

	ch, err := a.store.TakeWebAuthnChallenge(ctx, bindingHash(db.ChallengeLogin, token), db.ChallengeLogin)
	if errors.Is(err, db.ErrNotFound) {
		a.log.Warn("Security key step rejected: the login expired or its challenge was used already.", "client_ip", c.RealIP())
		return a.loginFailed(c, newLoginForm("", ""), http.StatusUnauthorized, "login.key_expired")
	}
	if err != nil {
		return err
	}

	user, err := a.store.UserByID(ctx, ch.UserID)
	if errors.Is(err, db.ErrNotFound) {
		return a.loginFailed(c, newLoginForm("", ch.Next), http.StatusUnauthorized, "login.key_expired")
	}
	if err != nil {
		return err
	}
	form := newLoginForm(user.Email, ch.Next)
	if user.Disabled() {
		a.log.Warn("Login failed.", "reason", "user_disabled", "step", "security_key", "user_id", user.ID, "client_ip", c.RealIP())
		a.event(c, EventLoginFailed, user.ID, "reason", "user_disabled", "step", "security_key")
		return a.loginFailed(c, form, http.StatusUnauthorized, "login.failed")
	}

	subject := a.loginSubject(c, user.Email, user)
	state, err := a.store.LoginThrottle(ctx, a.throttle.policy.Window, subject, c.RealIP())
	if err != nil {
		return err
	}
	if state.RetryAfter > 0 {
		return a.loginLocked(c, form, subject, state)
	}

	key, reason, err := a.verifyAssertion(c, user, ch)
	if err != nil {
		return err
	}
	if reason != "" {
		a.log.Warn("Login failed.", "reason", reason, "step", "security_key", "user_id", user.ID, "client_ip", c.RealIP())
		a.event(c, EventLoginFailed, user.ID, "reason", reason, "step", "security_key")
		if err := a.recordFailure(c, subject, user); err != nil {
			return err
		}
		return a.loginFailed(c, form, http.StatusUnauthorized, "login.key_failed")
	}

	if err := a.completeLogin(c, user, subject, state); err != nil {
		return err
	}
	a.log.Info("User logged in.", "user_id", user.ID, "client_ip", c.RealIP(), "security_key_id", key.ID)
	details := append([]any{"security_key_id", key.ID}, a.newDeviceDetails(c, user.ID)...)
	a.event(c, EventLoginSucceeded, user.ID, details...)

	if ch.WeakPassword {
		a.log.Info("User logged in with a password that breaks the current rules; asking for a new one.", "user_id", user.ID)
		return a.redirect(c, "/account/password?weak=1")
	}

	return a.redirect(c, nextOrDefault(ch.Next))
}

// verifyAssertion checks the posted assertion against the challenge and
// the user's keys, and records the key's use. It returns the key that
// signed, or the reason of the failure for the log and the event. The
// error is for database failures only.
func (a *App) verifyAssertion(c echo.Context, user *db.User, ch db.WebAuthnChallenge) (db.SecurityKey, string, error) {
	ctx := c.Request().Context()
	raw := c.Request().PostFormValue(credentialField)
	if raw == "" || len(raw) > maxCredentialJSON {
		return db.SecurityKey{}, "security_key_missing", nil
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(raw))
	if err != nil {
		a.log.Info("Security key assertion could not be parsed.", "user_id", user.ID, "error", err)
		return db.SecurityKey{}, "security_key_invalid", nil
	}

	owner, err := a.keyOwnerOf(ctx, user)
	if err != nil {
		return db.SecurityKey{}, "", err
	}
	data, err := decodeSessionData(ch.SessionData)
	if err != nil {
		return db.SecurityKey{}, "", err
	}
	credential, err := a.webauthn.ValidateLogin(owner, data, parsed)
	if err != nil {
		a.log.Info("Security key assertion did not verify.", "user_id", user.ID, "error", err)
		return db.SecurityKey{}, "security_key_invalid", nil
	}

	var key db.SecurityKey
	for _, k := range owner.keys {
		if string(k.CredentialID) == string(credential.ID) {
			key = k
		}
	}
	// A counter that did not grow means that the assertion is old or that
	// the key was cloned. Authenticators without a counter always send 0,
	// which the library accepts.
	if credential.Authenticator.CloneWarning {
		a.log.Warn("Security key signature counter did not increase; the key may be cloned.", "user_id", user.ID,
			"security_key_id", key.ID, "stored_count", key.SignCount, "client_ip", c.RealIP())
		return key, "security_key_counter", nil
	}
	used, err := a.store.UseSecurityKey(ctx, key.ID, key.SignCount, credential.Authenticator.SignCount,
		credential.Flags.UserVerified, credential.Flags.BackupState)
	if err != nil {
		return db.SecurityKey{}, "", err
	}
	if !used {
		a.log.Warn("Security key changed or was removed while its assertion was checked.", "user_id", user.ID, "security_key_id", key.ID)
		return key, "security_key_counter", nil
	}

	return key, "", nil
}
