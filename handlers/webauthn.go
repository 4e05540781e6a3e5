package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portero/portero/db"
)

// ceremonyTimeout is how long a WebAuthn ceremony may take, from the
// challenge to the response. The browser gets it as the timeout option,
// and the server rejects responses to older challenges.
const ceremonyTimeout = 5 * time.Minute

// minSharedLifetime is the shortest time that a login challenge must have
// left to be shared with a second login in the same browser. An older one
// is replaced, so that the user is not left with a few seconds.
const minSharedLifetime = time.Minute

// maxKeyNameLength is the longest name a security key may have, in
// characters; the CHECK constraint on security_keys.name allows 64.
const maxKeyNameLength = 64

// maxCredentialJSON bounds the JSON that a browser posts for a WebAuthn
// response, in bytes. A response carries a credential ID of at most 1023
// bytes, a public key and a signature, a few KB in base64url.
const maxCredentialJSON = 32 << 10

// maxPublicKeyLength is the longest COSE public key that a security key may
// have, in bytes, as the CHECK constraint on security_keys.public_key
// allows. A COSE key with a 4096-bit RSA modulus takes about 530.
const maxPublicKeyLength = 4096

// transportNames are the transports of WebAuthn Level 3. A browser sends
// them as hints, and only these are stored and sent back.
var transportNames = []protocol.AuthenticatorTransport{
	protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal,
}

// knownTransports returns the transports of WebAuthn among reported, each
// once and in the order reported.
func knownTransports(reported []protocol.AuthenticatorTransport) []string {
	known := make([]string, 0, len(transportNames))
	for _, t := range reported {
		if slices.Contains(transportNames, t) && !slices.Contains(known, string(t)) {
			known = append(known, string(t))
		}
	}

	return known
}

// keyStore is the part of the database that security keys need.
type keyStore interface {
	AddSecurityKey(ctx context.Context, k db.SecurityKey) (db.SecurityKey, error)
	SecurityKeys(ctx context.Context, userID int64) ([]db.SecurityKey, error)
	DeleteSecurityKey(ctx context.Context, userID, id int64) (string, error)
	DeleteSecurityKeys(ctx context.Context, userID int64) (int64, error)
	UseSecurityKey(ctx context.Context, id int64, oldCount, newCount uint32, userVerified, backupState bool) (bool, error)

	PutWebAuthnChallenge(ctx context.Context, ch db.WebAuthnChallenge) error
	WebAuthnChallenge(ctx context.Context, bindingHash []byte, purpose string) (db.WebAuthnChallenge, error)
	TakeWebAuthnChallenge(ctx context.Context, bindingHash []byte, purpose string) (db.WebAuthnChallenge, error)
}

// newWebAuthn configures the relying party. Keys are second factors, so
// they need not be discoverable, user verification is preferred but not
// required, and no attestation is requested: Portero trusts any
// authenticator model and checks only that the same key signs each login.
func newWebAuthn(rpID string, origins []string) (*webauthn.WebAuthn, error) {
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         "Portero",
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("configure WebAuthn for RP ID %q and origins %v: %w", rpID, origins, err)
	}

	return wa, nil
}

// keyOwner is a user with their security keys, in the shape of the WebAuthn
// library's User interface.
type keyOwner struct {
	user *db.User
	keys []db.SecurityKey
}

// WebAuthnID returns the user handle: the user's id as 8 big-endian bytes,
// which contain no personal data.
func (o keyOwner) WebAuthnID() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(o.user.ID))
}

func (o keyOwner) WebAuthnName() string { return o.user.Email }

func (o keyOwner) WebAuthnDisplayName() string {
	if o.user.DisplayName != "" {
		return o.user.DisplayName
	}

	return o.user.Email
}

func (o keyOwner) WebAuthnCredentials() []webauthn.Credential {
	credentials := make([]webauthn.Credential, 0, len(o.keys))
	for _, k := range o.keys {
		credentials = append(credentials, credentialOf(k))
	}

	return credentials
}

// credentialOf returns the stored key as the library's credential record.
func credentialOf(k db.SecurityKey) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, 0, len(k.Transports))
	for _, t := range k.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}

	return webauthn.Credential{
		ID:                k.CredentialID,
		PublicKey:         k.PublicKey,
		AttestationFormat: k.AttestationFormat,
		Transport:         transports,
		Flags: webauthn.CredentialFlags{
			UserPresent:    true,
			UserVerified:   k.UserVerified,
			BackupEligible: k.BackupEligible,
			BackupState:    k.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
	}
}

// keyOwnerOf reads the user's security keys.
func (a *App) keyOwnerOf(ctx context.Context, user *db.User) (keyOwner, error) {
	keys, err := a.store.SecurityKeys(ctx, user.ID)
	if err != nil {
		return keyOwner{}, err
	}

	return keyOwner{user: user, keys: keys}, nil
}

// bindingHash returns the SHA-256 under which a challenge bound to secret
// is stored. The purpose is part of the input, so a login token and a
// session key can never name the same row.
func bindingHash(purpose, secret string) []byte {
	sum := sha256.Sum256([]byte(purpose + "\x00" + secret))
	return sum[:]
}

// encodeSessionData returns the library's ceremony state as JSON for the
// webauthn_challenges row.
func encodeSessionData(data *webauthn.SessionData) ([]byte, error) {
	encoded, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode WebAuthn session data: %w", err)
	}

	return encoded, nil
}

func decodeSessionData(encoded []byte) (webauthn.SessionData, error) {
	var data webauthn.SessionData
	if err := json.Unmarshal(encoded, &data); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("decode WebAuthn session data: %w", err)
	}

	return data, nil
}
