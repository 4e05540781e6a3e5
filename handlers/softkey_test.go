package handlers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// testOrigin and testRPID are the WebAuthn origin and RP ID that an App
// built without WebAuthn options accepts.
const (
	testOrigin = "http://localhost"
	testRPID   = "localhost"
)

// Authenticator data flags of WebAuthn §6.1.
const (
	flagUserPresent  = 0x01
	flagUserVerified = 0x04
	flagAttested     = 0x40
)

// softKey is a software authenticator: an ECDSA P-256 credential that
// responds to WebAuthn options as a browser with a security key would.
type softKey struct {
	t            testing.TB
	private      *ecdsa.PrivateKey
	credentialID []byte
	counter      uint32
	// userHandle is the user.id of the registration options.
	userHandle []byte
	// coseExtra are entries added to the COSE public key, and transports,
	// when not nil, replace the transports ["usb"] of a registration.
	coseExtra  map[int]any
	transports []string
}

func newSoftKey(t testing.TB) *softKey {
	t.Helper()

	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	id := make([]byte, 16)
	rand.Read(id)

	return &softKey{t: t, private: private, credentialID: id}
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// creationOptions is the part of the registration options the key reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

// requestOptions is the part of the login options the key reads.
type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	} `json:"publicKey"`
}

func (k *softKey) clientData(kind, challenge, origin string) []byte {
	data, err := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		k.t.Fatalf("encode client data: %v", err)
	}

	return data
}

// authData returns the authenticator data for rpID with the counter and
// flags, and the attested credential when attested is true.
func (k *softKey) authData(rpID string, flags byte, attested bool) []byte {
	rpHash := sha256.Sum256([]byte(rpID))
	data := append([]byte{}, rpHash[:]...)
	data = append(data, flags)
	data = binary.BigEndian.AppendUint32(data, k.counter)
	if !attested {
		return data
	}

	data = append(data, make([]byte, 16)...) // AAGUID: none
	data = binary.BigEndian.AppendUint16(data, uint16(len(k.credentialID)))
	data = append(data, k.credentialID...)
	x, y := make([]byte, 32), make([]byte, 32)
	k.private.PublicKey.X.FillBytes(x)
	k.private.PublicKey.Y.FillBytes(y)
	// COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
	cose := map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y}
	for label, value := range k.coseExtra {
		cose[label] = value
	}
	coseKey, err := cbor.Marshal(cose)
	if err != nil {
		k.t.Fatalf("encode COSE key: %v", err)
	}

	return append(data, coseKey...)
}

// register responds to registration options with an attestation of format
// "none" for origin, and returns the JSON that the page posts.
func (k *softKey) register(optionsJSON, origin string) string {
	k.t.Helper()

	var options creationOptions
	if err := json.Unmarshal([]byte(optionsJSON), &options); err != nil {
		k.t.Fatalf("decode creation options %q: %v", optionsJSON, err)
	}
	handle, err := base64.RawURLEncoding.DecodeString(options.PublicKey.User.ID)
	if err != nil {
		k.t.Fatalf("decode user.id %q: %v", options.PublicKey.User.ID, err)
	}
	k.userHandle = handle

	clientData := k.clientData("webauthn.create", options.PublicKey.Challenge, origin)
	attestation, err := cbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": k.authData(options.PublicKey.RP.ID, flagUserPresent|flagUserVerified|flagAttested, true),
	})
	if err != nil {
		k.t.Fatalf("encode attestation object: %v", err)
	}

	transports := []string{"usb"}
	if k.transports != nil {
		transports = k.transports
	}

	return k.encode(map[string]any{
		"clientDataJSON":    b64(clientData),
		"attestationObject": b64(attestation),
		"transports":        transports,
	})
}

// assert responds to login options for origin with the next counter value,
// and returns the JSON that the page posts.
func (k *softKey) assert(optionsJSON, origin string) string {
	k.t.Helper()

	k.counter++
	return k.assertWithCounter(optionsJSON, origin, k.counter)
}

// assertWithCounter answers login options with the given counter value.
func (k *softKey) assertWithCounter(optionsJSON, origin string, counter uint32) string {
	k.t.Helper()

	var options requestOptions
	if err := json.Unmarshal([]byte(optionsJSON), &options); err != nil {
		k.t.Fatalf("decode request options %q: %v", optionsJSON, err)
	}
	saved := k.counter
	k.counter = counter
	authData := k.authData(options.PublicKey.RPID, flagUserPresent|flagUserVerified, false)
	k.counter = saved

	clientData := k.clientData("webauthn.get", options.PublicKey.Challenge, origin)
	clientHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), clientHash[:]...))
	signature, err := ecdsa.SignASN1(rand.Reader, k.private, digest[:])
	if err != nil {
		k.t.Fatalf("sign assertion: %v", err)
	}

	return k.encode(map[string]any{
		"clientDataJSON":    b64(clientData),
		"authenticatorData": b64(authData),
		"signature":         b64(signature),
		"userHandle":        b64(k.userHandle),
	})
}

func (k *softKey) encode(response map[string]any) string {
	data, err := json.Marshal(map[string]any{
		"id":                     b64(k.credentialID),
		"rawId":                  b64(k.credentialID),
		"type":                   "public-key",
		"response":               response,
		"clientExtensionResults": map[string]any{},
	})
	if err != nil {
		k.t.Fatalf("encode credential: %v", err)
	}

	return string(data)
}
