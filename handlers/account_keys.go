package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// Kinds of security event about security keys.
const (
	EventSecurityKeyAdded   = "security_key_added"
	EventSecurityKeyRemoved = "security_key_removed"
)

// keyRow is one security key on the keys page.
type keyRow struct {
	ID          int64
	Name        string
	Added       string
	AddedISO    string
	LastUsed    string
	LastUsedISO string
}

type keysData struct {
	Keys []keyRow
	// ReauthNote warns that adding or removing a key will ask for the
	// password, and is empty while the login is recent.
	ReauthNote string
	// NeedPassword shows the current-password field of the add form.
	NeedPassword bool
	// KeyName refills the name field after a failed attempt.
	KeyName string
	// Pending is the registration that waits for the browser's
	// WebAuthn ceremony, or nil.
	Pending *pendingKey
}

// pendingKey is a registration that keyOptions started.
type pendingKey struct {
	Name string
	// Options is the JSON of the WebAuthn creation options.
	Options string
}

func (a *App) keysShow(c echo.Context) error {
	page := a.newPage(c, "keys.title")
	switch c.QueryParam("done") {
	case "added":
		page.Notice = page.T("keys.added")
	case "removed":
		page.Notice = page.T("keys.removed")
	}

	return a.renderKeys(c, http.StatusOK, page, "")
}

// renderKeys lists the user's security keys on page.
func (a *App) renderKeys(c echo.Context, status int, page *Page, keyName string) error {
	user := userOf(c)
	keys, err := a.store.SecurityKeys(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	data := keysData{Keys: make([]keyRow, 0, len(keys)), KeyName: keyName}
	for _, k := range keys {
		row := keyRow{
			ID:       k.ID,
			Name:     k.Name,
			Added:    i18n.FormatTime(page.Lang, k.CreatedAt),
			AddedISO: k.CreatedAt.UTC().Format(time.RFC3339),
			LastUsed: page.T("keys.never_used"),
		}
		if !k.LastUsedAt.IsZero() {
			row.LastUsed = i18n.FormatTime(page.Lang, k.LastUsedAt)
			row.LastUsedISO = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		data.Keys = append(data.Keys, row)
	}
	if !a.recentlyAuthenticated(c) {
		data.ReauthNote = page.T("keys.reauth_note", i18n.FormatDuration(page.Lang, reauthWindow))
		data.NeedPassword = true
	}
	page.Data = data

	return a.render(c, status, "account_keys", page)
}

// keysFailed shows the keys page again with the message of key.
func (a *App) keysFailed(c echo.Context, status int, keyName, key string, args ...any) error {
	page := a.newPage(c, "keys.title")
	page.Error = page.T(key, args...)

	return a.renderKeys(c, status, page, keyName)
}

// keyName returns the trimmed name field, and a *formError when it is
// missing or invalid.
func keyName(c echo.Context) (string, *formError) {
	name := strings.TrimSpace(c.Request().PostFormValue("name"))
	status := http.StatusUnprocessableEntity
	switch {
	case name == "":
		return "", &formError{Status: status, Key: "keys.name_missing"}
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return "", &formError{Status: status, Key: "keys.name_invalid"}
	case utf8.RuneCountInString(name) > maxKeyNameLength:
		return "", &formError{Status: status, Key: "keys.name_too_long", Args: []any{maxKeyNameLength}}
	}

	return name, nil
}

// keyOptions starts the registration of a security key: after the checks
// of the name and the re-authentication, it stores a challenge bound to
// the session and shows the page whose script runs the ceremony.
func (a *App) keyOptions(c echo.Context) error {
	user, s := userOf(c), sessionOf(c)
	name, failed := keyName(c)
	if failed != nil {
		return a.keysFailed(c, failed.Status, name, failed.Key, failed.Args...)
	}
	if err := a.reauthenticate(c); err != nil {
		if !errors.As(err, &failed) {
			return err
		}
		return a.keysFailed(c, failed.Status, name, failed.Key, failed.Args...)
	}

	owner, err := a.keyOwnerOf(c.Request().Context(), user)
	if err != nil {
		return err
	}
	exclusions := make([]protocol.CredentialDescriptor, 0, len(owner.keys))
	for _, credential := range owner.WebAuthnCredentials() {
		exclusions = append(exclusions, credential.Descriptor())
	}
	creation, data, err := a.webauthn.BeginRegistration(owner, webauthn.WithExclusions(exclusions))
	if err != nil {
		return fmt.Errorf("begin security key registration of user %d: %w", user.ID, err)
	}
	sessionData, err := encodeSessionData(data)
	if err != nil {
		return err
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return fmt.Errorf("encode security key registration options of user %d: %w", user.ID, err)
	}

	err = a.store.PutWebAuthnChallenge(c.Request().Context(), db.WebAuthnChallenge{
		BindingHash: bindingHash(db.ChallengeRegister, s.Key()),
		Purpose:     db.ChallengeRegister,
		UserID:      user.ID,
		SessionData: sessionData,
		Options:     options,
		ExpiresAt:   time.Now().Add(ceremonyTimeout),
	})
	if err != nil {
		return err
	}

	page := a.newPage(c, "keys.title")
	page.Data = keysData{Pending: &pendingKey{Name: name, Options: string(options)}}

	return a.render(c, http.StatusOK, "account_keys", page)
}

// keyAdd finishes the registration of a security key. The challenge that
// keyOptions stored for this session, after the re-authentication, is used
// up here, so the password is not asked again.
func (a *App) keyAdd(c echo.Context) error {
	user, s := userOf(c), sessionOf(c)
	ctx := c.Request().Context()
	name, failed := keyName(c)
	if failed != nil {
		return a.keysFailed(c, failed.Status, name, failed.Key, failed.Args...)
	}
	raw := c.Request().PostFormValue(credentialField)
	if raw == "" {
		return a.keysFailed(c, http.StatusUnprocessableEntity, name, "keys.script_required")
	}
	if len(raw) > maxCredentialJSON {
		return a.keysFailed(c, http.StatusUnprocessableEntity, name, "keys.invalid")
	}

	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(raw))
	if err != nil {
		a.log.Info("Security key registration could not be parsed.", "user_id", user.ID, "error", err)
		return a.keysFailed(c, http.StatusUnprocessableEntity, name, "keys.invalid")
	}
	binding := bindingHash(db.ChallengeRegister, s.Key())
	newest, err := a.store.WebAuthnChallenge(ctx, binding, db.ChallengeRegister)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	// A session keeps only its newest registration challenge, so a
	// response to an older one comes from another tab. It is rejected
	// without deleting the newest, which the other tab can still finish.
	if err == nil && newest.UserID == user.ID {
		data, err := decodeSessionData(newest.SessionData)
		if err != nil {
			return err
		}
		if parsed.Response.CollectedClientData.Challenge != data.Challenge {
			a.log.Info("Security key registration rejected: the response is to an older challenge of this session.", "user_id", user.ID, "client_ip", c.RealIP())
			return a.keysFailed(c, http.StatusConflict, name, "keys.other_tab")
		}
	}

	ch, err := a.store.TakeWebAuthnChallenge(ctx, binding, db.ChallengeRegister)
	if errors.Is(err, db.ErrNotFound) || (err == nil && ch.UserID != user.ID) {
		a.log.Warn("Security key registration rejected: no challenge for this session.", "user_id", user.ID, "client_ip", c.RealIP())
		return a.keysFailed(c, http.StatusBadRequest, name, "keys.expired")
	}
	if err != nil {
		return err
	}

	owner, err := a.keyOwnerOf(ctx, user)
	if err != nil {
		return err
	}
	data, err := decodeSessionData(ch.SessionData)
	if err != nil {
		return err
	}
	credential, err := a.webauthn.CreateCredential(owner, data, parsed)
	if err != nil {
		a.log.Info("Security key registration did not verify.", "user_id", user.ID, "error", err)
		return a.keysFailed(c, http.StatusUnprocessableEntity, name, "keys.invalid")
	}
	// The library accepts unknown labels in a COSE key, so a key can be
	// longer than security_keys allows.
	if len(credential.PublicKey) > maxPublicKeyLength {
		a.log.Info("Security key registration rejected: public key too long.", "user_id", user.ID, "length", len(credential.PublicKey))
		return a.keysFailed(c, http.StatusUnprocessableEntity, name, "keys.invalid")
	}

	transports := knownTransports(credential.Transport)
	key, err := a.store.AddSecurityKey(ctx, db.SecurityKey{
		UserID:            user.ID,
		CredentialID:      credential.ID,
		PublicKey:         credential.PublicKey,
		SignCount:         credential.Authenticator.SignCount,
		AAGUID:            credential.Authenticator.AAGUID,
		Transports:        transports,
		AttestationFormat: credential.AttestationFormat,
		UserVerified:      credential.Flags.UserVerified,
		BackupEligible:    credential.Flags.BackupEligible,
		BackupState:       credential.Flags.BackupState,
		Name:              name,
	})
	if errors.Is(err, db.ErrDuplicateKey) {
		return a.keysFailed(c, http.StatusConflict, name, "keys.duplicate")
	}
	if err != nil {
		return err
	}
	a.log.Info("User added a security key.", "user_id", user.ID, "security_key_id", key.ID, "client_ip", c.RealIP())
	a.event(c, EventSecurityKeyAdded, user.ID, "security_key_id", key.ID, "security_key_name", key.Name)

	return a.redirect(c, "/account/keys?done=added")
}

// keyRemove deletes one of the user's security keys, chosen by its id.
func (a *App) keyRemove(c echo.Context) error {
	user := userOf(c)
	id, err := strconv.ParseInt(c.Request().PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusBadRequest, Key: "error.400", Err: err}
	}

	if err := a.reauthenticate(c); err != nil {
		return a.reauthFailed(c, err, reauthData{Action: "/account/keys/remove", ID: id, ActionKey: "reauth.action_remove_key", Cancel: "/account/keys"})
	}

	name, err := a.store.DeleteSecurityKey(c.Request().Context(), user.ID, id)
	if errors.Is(err, db.ErrNotFound) {
		return a.keysFailed(c, http.StatusNotFound, "", "keys.not_found")
	}
	if err != nil {
		return err
	}
	a.log.Info("User removed a security key.", "user_id", user.ID, "security_key_id", id, "client_ip", c.RealIP())
	a.event(c, EventSecurityKeyRemoved, user.ID, "security_key_id", id, "security_key_name", name)

	return a.redirect(c, "/account/keys?done=removed")
}
