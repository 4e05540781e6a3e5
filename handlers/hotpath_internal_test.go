package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync"
	"testing"

	"github.com/portero/portero/i18n"
)

// TestCSRFSignMatchesNewHMAC checks that tokens signed with pooled HMACs,
// from many goroutines at once, equal tokens from a new HMAC each time, for
// both the current and the previous key.
func TestCSRFSignMatchesNewHMAC(t *testing.T) {
	secrets := [][]byte{[]byte("current key, 32 bytes long.....!"), []byte("previous key, 32 bytes long....!")}
	x := &csrf{}
	for _, s := range secrets {
		x.keys = append(x.keys, newCSRFKey(s))
	}
	want := func(secret []byte, value string) string {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(value))
		return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				value := strconv.Itoa(g) + "/" + strconv.Itoa(i)
				for k, secret := range secrets {
					if got := x.sign(x.keys[k], value); got != want(secret, value) {
						t.Errorf("sign(key %d, %q): got %q, want %q", k, value, got, want(secret, value))
						return
					}
				}
				if !x.valid(value, want(secrets[1], value)) {
					t.Errorf("valid(%q, token of the previous key): got false, want true", value)
					return
				}
				if x.valid(value, want([]byte("some other key"), value)) {
					t.Errorf("valid(%q, token of another key): got true, want false", value)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSecurityHeaderValuesAreFull checks that the shared header values have
// no spare capacity, so that Header.Add on one response copies the slice
// instead of writing into the array that every response shares.
func TestSecurityHeaderValuesAreFull(t *testing.T) {
	values := map[string][]string{
		"Content-Security-Policy": cspHeader,
		"X-Content-Type-Options":  nosniffHeader,
		"Referrer-Policy":         referrerHeader,
		"X-Frame-Options":         frameHeader,
		"Cache-Control":           noStoreHeader,
	}
	for _, lang := range i18n.Languages {
		values["Content-Language: "+lang] = contentLanguageHeaders[lang]
	}
	for name, v := range values {
		if len(v) != 1 || cap(v) != 1 {
			t.Errorf("%s: got length %d and capacity %d, want 1 and 1", name, len(v), cap(v))
		}
	}
}
