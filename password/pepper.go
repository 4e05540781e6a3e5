package password

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// PepperPrefix marks a peppered hash: the prefix followed by a bcrypt hash
// of the pre-hash of the password (see Hasher). Every bcrypt hash starts
// with "$2", so no bcrypt hash starts with this prefix. The digit names the
// format, so that another pre-hash could get another prefix.
const PepperPrefix = "$pepper1$"

// PepperedHashLength is the length of a peppered hash: the prefix and a
// 60-character bcrypt hash.
const PepperedHashLength = len(PepperPrefix) + 60

// Hasher hashes and checks passwords with bcrypt at one cost, with an
// optional pepper: a secret key kept outside the database. With a pepper,
// bcrypt receives the base64 encoding of HMAC-SHA256(pepper, password),
// which is 44 bytes, so it stays under bcrypt's 72-byte input limit. So
// with a pepper a password may be longer than MaxBytes, up to
// MaxPepperedChars characters.
type Hasher struct {
	// Cost is the bcrypt cost of new hashes.
	Cost int
	// Pepper is the HMAC key. Without one, new hashes are plain bcrypt and
	// peppered hashes never match.
	Pepper []byte
}

// IsPeppered reports whether hash carries PepperPrefix.
func IsPeppered(hash string) bool {
	return strings.HasPrefix(hash, PepperPrefix)
}

// Peppered reports whether the hasher has a pepper.
func (h Hasher) Peppered() bool { return len(h.Pepper) > 0 }

// Hash validates pw and returns its hash: a peppered one when the hasher
// has a pepper, otherwise a plain bcrypt hash. It never returns an empty
// hash without an error.
func (h Hasher) Hash(pw string) (string, error) {
	if err := h.Validate(pw); err != nil {
		return "", err
	}

	return h.Rehash(pw)
}

// Rehash returns a new hash of pw, like Hash, but checks only TooLong. It
// is for a password that has just matched its stored hash, which may date
// from before the rules of Validate, such as a short password imported from
// another app.
func (h Hasher) Rehash(pw string) (string, error) {
	if h.TooLong(pw) {
		return "", h.errTooLong()
	}
	if !h.Peppered() {
		return bcryptHash([]byte(pw), h.Cost)
	}

	hash, err := bcryptHash(h.preHash(pw), h.Cost)
	if err != nil {
		return "", err
	}

	return PepperPrefix + hash, nil
}

// Matches reports whether pw matches hash, which is either a peppered hash
// or a plain bcrypt hash with the $2a$, $2b$ or $2y$ prefix. A peppered
// hash never matches without a pepper. A password over MaxBytes never
// matches a plain hash, because bcrypt would compare only its first 72
// bytes, and a password that TooLong reports never matches at all. In these
// cases the bcrypt comparison still runs, so that a failure takes the usual
// time. A malformed hash returns false at once.
func (h Hasher) Matches(hash, pw string) bool {
	inner, peppered := strings.CutPrefix(hash, PepperPrefix)
	input := []byte(pw)
	if peppered && h.Peppered() {
		input = h.preHash(pw)
	}

	var ok bool
	inBackground(func() { ok = bcrypt.CompareHashAndPassword([]byte(inner), input) == nil })

	switch {
	case peppered && !h.Peppered():
		return false
	case !peppered && len(pw) > MaxBytes:
		return false
	case h.TooLong(pw):
		return false
	}

	return ok
}

// NeedsUpgrade reports whether hash should be replaced by a new hash of the
// same password: true for a plain bcrypt hash while the hasher has a pepper.
func (h Hasher) NeedsUpgrade(hash string) bool {
	return h.Peppered() && !IsPeppered(hash)
}

// DummyHash returns a hash of the hasher's kind, peppered or not, for a
// password that no user has. Comparing against it for unknown emails makes a
// failed login do the same work as one with a wrong password.
func (h Hasher) DummyHash() string {
	hash, err := h.Hash("portero dummy password, matches nothing")
	if err != nil {
		// The password is a valid constant and cost is validated at start.
		panic(fmt.Sprintf("bcrypt dummy hash at cost %d: %v", h.Cost, err))
	}

	return hash
}

// preHash returns the base64 encoding of HMAC-SHA256(pepper, pw). Standard
// base64 with padding turns the 32-byte MAC into 44 printable bytes, and
// contains no NUL byte, which some bcrypt implementations stop at.
func (h Hasher) preHash(pw string) []byte {
	mac := hmac.New(sha256.New, h.Pepper)
	mac.Write([]byte(pw))

	return []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// bcryptHash runs bcrypt on input at cost, on a low-priority thread.
func bcryptHash(input []byte, cost int) (string, error) {
	var hash []byte
	var err error
	inBackground(func() { hash, err = bcrypt.GenerateFromPassword(input, cost) })
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if len(hash) == 0 {
		return "", errors.New("hash password: bcrypt returned an empty hash")
	}

	return string(hash), nil
}
