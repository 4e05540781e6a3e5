package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/gorilla/securecookie"
)

// DeriveKey derives a purpose-bound key from a secret, so that the session
// cookie, the session data and CSRF tokens never share key material.
func DeriveKey(secret []byte, purpose string, length int) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "portero "+purpose, length)
	if err != nil {
		// hkdf.Key fails only for lengths over 255 hash sizes.
		panic(fmt.Sprintf("derive %s key: %v", purpose, err))
	}

	return key
}

// codec hides a *securecookie.SecureCookie behind the securecookie.Codec
// interface. pgstore's New calls MaxAge on every codec it can type-assert to
// *securecookie.SecureCookie, on every request, which is a data race on
// codecs shared by all requests. Through this wrapper the assertion fails, so
// pgstore writes nothing, and the max age set once at start stays in force.
type codec struct {
	sc *securecookie.SecureCookie
}

func (c codec) Encode(name string, value any) (string, error) {
	return c.sc.Encode(name, value)
}

func (c codec) Decode(name, value string, dst any) error {
	return c.sc.Decode(name, value, dst)
}

// newCodecs returns the codecs for the current secret and, when set, the
// previous one. securecookie encodes with the first codec only and decodes
// with any, so the previous secret is accepted for reading but never written.
func newCodecs(maxAgeSeconds int, secrets ...[]byte) []securecookie.Codec {
	var codecs []securecookie.Codec
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}

		sc := securecookie.New(DeriveKey(secret, "session hmac", 64), DeriveKey(secret, "session aes", 32))
		sc.MaxAge(maxAgeSeconds)
		codecs = append(codecs, codec{sc: sc})
	}

	return codecs
}
