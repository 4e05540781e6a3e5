// Package password checks new passwords against Portero's rules and wraps
// bcrypt hashing and comparison.
package password

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MinChars is the minimum length in characters (Unicode code points).
	MinChars = 12
	// MaxBytes is bcrypt's input limit: it ignores every byte after the 72nd,
	// so a longer password is rejected instead of being silently cut. It is
	// the maximum length without a pepper.
	MaxBytes = 72
	// MaxPepperedChars is the maximum length in characters with a pepper,
	// where bcrypt receives a 44-byte pre-hash instead of the password.
	// OWASP ASVS 4.0.3 requirement 2.1.2 requires that 64 characters be
	// allowed and more than 128 be denied.
	MaxPepperedChars = 128
	// MaxPepperedBytes caps the size of a password with a pepper at
	// MaxPepperedChars characters of 4 bytes, the longest UTF-8 encoding of a
	// code point. It also bounds input whose runs of spaces count as one.
	MaxPepperedBytes = 4 * MaxPepperedChars
)

// Errors returned by Validate. Callers map them to messages for the user.
var (
	ErrTooShort    = errors.New("password is shorter than 12 characters")
	ErrTooLong     = errors.New("password is longer than 72 bytes")
	ErrInvalidUTF8 = errors.New("password is not valid UTF-8 or contains control characters")
	// ErrTooManyChars replaces ErrTooLong when the hasher has a pepper.
	ErrTooManyChars = errors.New("password is longer than 128 characters or 512 bytes")
)

// Errors that ValidateNew returns in addition to those of Validate.
var (
	ErrEqualsEmail = errors.New("password is the same as the email address")
	ErrCommon      = errors.New("password is in the list of common passwords")
)

// Validate checks the length rules for a new password without a pepper:
// MinChars characters to MaxBytes bytes. Hasher.Validate also covers the
// rules with a pepper.
func Validate(pw string) error {
	return Hasher{}.Validate(pw)
}

// Validate checks the length rules for a new password. Without a pepper it
// must have MinChars characters to MaxBytes bytes, and with one MinChars to
// MaxPepperedChars characters. Runs of spaces count as one character, so
// that "a" followed by 11 spaces is too short.
func (h Hasher) Validate(pw string) error {
	if !utf8.ValidString(pw) || strings.ContainsFunc(pw, unicode.IsControl) {
		return ErrInvalidUTF8
	}
	if h.TooLong(pw) {
		return h.errTooLong()
	}
	if countChars(pw) < MinChars {
		return ErrTooShort
	}

	return nil
}

// TooLong reports whether pw is longer than any password that can match a
// hash of this hasher: over MaxBytes bytes without a pepper, and with one
// over MaxPepperedChars characters or MaxPepperedBytes bytes. It needs no
// bcrypt, so a login can reject such input cheaply.
//
// NOTE: Without a pepper the limit stays at bcrypt's 72 bytes. Pre-hashing
// the password without a secret key, as the pepper's HMAC does with one,
// would allow longer passwords but let anyone holding a leaked hash test it
// against pre-hashes of passwords leaked elsewhere ("password shucking").
func (h Hasher) TooLong(pw string) bool {
	maxChars, maxBytes := h.MaxLength()

	return len(pw) > maxBytes || (maxChars > 0 && countChars(pw) > maxChars)
}

// errTooLong returns the error for a password that TooLong reports.
func (h Hasher) errTooLong() error {
	if h.Peppered() {
		return ErrTooManyChars
	}

	return ErrTooLong
}

// MaxLength returns the maximum length of a password in characters and in
// bytes of UTF-8: 0 characters (no limit) and MaxBytes bytes without a
// pepper, MaxPepperedChars and MaxPepperedBytes with one.
func (h Hasher) MaxLength() (chars, bytes int) {
	if !h.Peppered() {
		return 0, MaxBytes
	}

	return MaxPepperedChars, MaxPepperedBytes
}

// countChars counts the code points of pw, with each run of spaces
// counted once.
func countChars(pw string) int {
	n := 0
	previousSpace := false
	for _, r := range pw {
		space := r == ' '
		if !space || !previousSpace {
			n++
		}
		previousSpace = space
	}

	return n
}

// ValidateNew checks a new password for the account with the given email:
// the length rules of Validate, then that it is neither the email nor a
// common password, both compared without regard to case. Every place that
// accepts a new password calls it: the password page, the admin's forms,
// the user commands and the check of ADMIN_PASSWORD.
func (h Hasher) ValidateNew(pw, email string) error {
	if err := h.Validate(pw); err != nil {
		return err
	}
	if email = strings.TrimSpace(email); email != "" && strings.EqualFold(visible(pw), email) {
		return ErrEqualsEmail
	}
	if IsCommon(pw) || IsCommon(commonCore(pw)) {
		return ErrCommon
	}

	return nil
}

// Hash validates pw and returns its plain bcrypt hash at the given cost,
// without a pepper. It never returns an empty hash without an error.
func Hash(pw string, cost int) (string, error) {
	return Hasher{Cost: cost}.Hash(pw)
}

// Matches reports whether pw matches hash without a pepper. It accepts the
// $2a$, $2b$ and $2y$ prefixes that other bcrypt implementations write, and
// returns false for a malformed hash and for a peppered one. A password over
// 72 bytes never matches, because bcrypt would compare only its first 72
// bytes. The comparison still runs, so that it takes the usual time.
func Matches(hash, pw string) bool {
	return Hasher{}.Matches(hash, pw)
}

// DummyHash returns a valid hash at the given cost for a password nobody
// knows. Comparing against it for unknown emails makes a failed login take as
// long whether or not the account exists.
func DummyHash(cost int) string {
	return Hasher{Cost: cost}.DummyHash()
}

// visible returns pw without surrounding spaces and without format
// characters such as zero-width spaces, which a reader cannot see.
func visible(pw string) string {
	pw = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, pw)

	return strings.TrimSpace(pw)
}

// commonCore returns pw without the digits and punctuation around it, so
// that "password12345" is checked as "password". Appending digits to a
// common word is the first thing guessing tools try.
func commonCore(pw string) string {
	notCore := func(r rune) bool { return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ' }

	return strings.TrimFunc(pw, notCore)
}
