package password_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/password"
)

var (
	testPepper  = []byte("Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C")
	otherPepper = []byte("Zt5Nc8Rb1Mv4Yq7Hx2Lf9Dw6Gs3Jp0Ek5Ua8Ci1Oy7B")
)

func TestPepperedHashFormat(t *testing.T) {
	const pw = "correct horse ñandú"
	h := password.Hasher{Cost: testCost, Pepper: testPepper}

	hash, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	if !strings.HasPrefix(hash, "$pepper1$$2a$04$") {
		t.Errorf("hash prefix: got %q, want $pepper1$$2a$04$", hash[:min(len(hash), 16)])
	}
	if len(hash) != password.PepperedHashLength {
		t.Errorf("hash length: got %d, want %d", len(hash), password.PepperedHashLength)
	}
	if !password.IsPeppered(hash) {
		t.Errorf("IsPeppered: got false, want true")
	}

	// The bcrypt hash after the prefix is of the base64 HMAC-SHA256 of the
	// password, computed here independently of the package.
	mac := hmac.New(sha256.New, testPepper)
	mac.Write([]byte(pw))
	preHash := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if len(preHash) != 44 {
		t.Fatalf("pre-hash length: got %d, want 44", len(preHash))
	}
	inner := strings.TrimPrefix(hash, password.PepperPrefix)
	if err := bcrypt.CompareHashAndPassword([]byte(inner), []byte(preHash)); err != nil {
		t.Errorf("bcrypt of the pre-hash: got error %v, want a match", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(inner), []byte(pw)); err == nil {
		t.Errorf("bcrypt of the bare password: got a match, want none")
	}
}

func TestPepperPrefixIsNotBcrypt(t *testing.T) {
	plain, err := password.Hash("correct horse ñandú", testCost)
	if err != nil {
		t.Fatal(err)
	}

	if password.IsPeppered(plain) {
		t.Errorf("IsPeppered(plain bcrypt hash): got true, want false")
	}
	for _, hash := range []string{plain, knownHash2y, knownHash2b} {
		if strings.HasPrefix(hash, password.PepperPrefix) {
			t.Errorf("bcrypt hash %q starts with PepperPrefix", hash)
		}
	}
	if strings.HasPrefix(password.PepperPrefix, "$2") {
		t.Errorf("PepperPrefix %q starts with $2 like a bcrypt hash", password.PepperPrefix)
	}
}

func TestHasherMatches(t *testing.T) {
	const pw = "correct horse ñandú"
	peppered := password.Hasher{Cost: testCost, Pepper: testPepper}
	plainHasher := password.Hasher{Cost: testCost}

	pepperedHash, err := peppered.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	plainHash, err := plainHasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if password.IsPeppered(plainHash) {
		t.Fatalf("hash without a pepper: got %q, want a plain bcrypt hash", plainHash[:16])
	}

	tests := []struct {
		name   string
		hasher password.Hasher
		hash   string
		pw     string
		want   bool
	}{
		{"peppered hash, right pepper", peppered, pepperedHash, pw, true},
		{"peppered hash, wrong password", peppered, pepperedHash, pw + "x", false},
		{"peppered hash, wrong pepper", password.Hasher{Cost: testCost, Pepper: otherPepper}, pepperedHash, pw, false},
		{"peppered hash, no pepper", plainHasher, pepperedHash, pw, false},
		{"peppered hash, package Matches", password.Hasher{}, pepperedHash, pw, false},
		{"plain hash, no pepper", plainHasher, plainHash, pw, true},
		{"plain hash, with pepper", peppered, plainHash, pw, true},
		{"plain hash, with pepper, wrong password", peppered, plainHash, pw + "x", false},
		{"prefix without bcrypt hash", peppered, password.PepperPrefix, pw, false},
		{"prefix twice", peppered, password.PepperPrefix + pepperedHash, pw, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hasher.Matches(tt.hash, tt.pw); got != tt.want {
				t.Errorf("Matches: got %t, want %t", got, tt.want)
			}
		})
	}

	if password.Matches(pepperedHash, pw) {
		t.Errorf("password.Matches(peppered hash): got true, want false")
	}
}

// A peppered hash must not match the password whose pre-hash it is when no
// pepper is set, even if the typed password is that pre-hash.
func TestPepperedHashWithoutPepperNeverMatches(t *testing.T) {
	const pw = "correct horse ñandú"
	hash, err := password.Hasher{Cost: testCost, Pepper: testPepper}.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}

	mac := hmac.New(sha256.New, testPepper)
	mac.Write([]byte(pw))
	preHash := base64.StdEncoding.EncodeToString(mac.Sum(nil))

	if (password.Hasher{Cost: testCost}).Matches(hash, preHash) {
		t.Errorf("Matches(peppered hash, its pre-hash) without a pepper: got true, want false")
	}
}

func TestHasherMatchesLongPasswords(t *testing.T) {
	h := password.Hasher{Cost: testCost, Pepper: testPepper}

	for _, pw := range []string{
		strings.Repeat("ñ", 64),
		strings.Repeat("😀", 64),
		strings.Repeat("😀", password.MaxPepperedChars),
	} {
		hash, err := h.Hash(pw)
		if err != nil {
			t.Fatalf("Hash of %d bytes: got error %v, want nil", len(pw), err)
		}
		if !h.Matches(hash, pw) {
			t.Errorf("Matches with %d bytes: got false, want true", len(pw))
		}
		if h.Matches(hash, pw+"a") {
			t.Errorf("Matches with %d bytes and one more character: got true, want false", len(pw))
		}
	}

	longer := strings.Repeat("ñ", password.MaxPepperedChars+1)
	if _, err := h.Hash(longer); err != password.ErrTooManyChars {
		t.Errorf("Hash of 129 characters: got error %v, want ErrTooManyChars", err)
	}

	// The pre-hash of any password is 44 bytes, so bcrypt itself would
	// accept a longer one. A peppered hash of 129 characters, built here by
	// hand since Hash rejects them, must still not match.
	mac := hmac.New(sha256.New, testPepper)
	mac.Write([]byte(longer))
	inner, err := bcrypt.GenerateFromPassword([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), testCost)
	if err != nil {
		t.Fatal(err)
	}
	if h.Matches(password.PepperPrefix+string(inner), longer) {
		t.Errorf("Matches with 129 characters against their own peppered hash: got true, want false")
	}
}

// A plain hash, not yet upgraded, still compares the password itself, so
// the 72-byte limit of bcrypt holds for it even with a pepper.
func TestHasherPlainHashOver72Bytes(t *testing.T) {
	h := password.Hasher{Cost: testCost, Pepper: testPepper}
	pw := strings.Repeat("ñ", 36)

	plain, err := password.Hash(pw, testCost)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Matches(plain, pw) {
		t.Errorf("Matches with 72 bytes against a plain hash: got false, want true")
	}
	// bcrypt reads only the first 72 bytes, so it would accept this one.
	if h.Matches(plain, pw+"a") {
		t.Errorf("Matches with 73 bytes against a plain hash of their first 72: got true, want false")
	}
}

func TestHasherTooLong(t *testing.T) {
	plain := password.Hasher{Cost: testCost}
	peppered := password.Hasher{Cost: testCost, Pepper: testPepper}

	tests := []struct {
		name   string
		hasher password.Hasher
		pw     string
		want   bool
	}{
		{"72 bytes without pepper", plain, strings.Repeat("ñ", 36), false},
		{"73 bytes without pepper", plain, strings.Repeat("ñ", 36) + "a", true},
		{"64 two-byte characters without pepper", plain, strings.Repeat("ñ", 64), true},
		{"73 bytes with pepper", peppered, strings.Repeat("ñ", 36) + "a", false},
		{"128 four-byte characters with pepper", peppered, strings.Repeat("😀", 128), false},
		{"129 characters with pepper", peppered, strings.Repeat("a", 129), true},
		{"129 two-byte characters with pepper", peppered, strings.Repeat("ñ", 129), true},
		// A run of spaces counts as one character, so only the byte cap
		// stops this one.
		{"513 bytes in 101 characters with pepper", peppered, strings.Repeat("a", 100) + strings.Repeat(" ", 413), true},
		{"512 bytes in 101 characters with pepper", peppered, strings.Repeat("a", 100) + strings.Repeat(" ", 412), false},
	}

	for _, tt := range tests {
		if got := tt.hasher.TooLong(tt.pw); got != tt.want {
			t.Errorf("%s: TooLong got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHasherMaxLength(t *testing.T) {
	chars, bytes := password.Hasher{}.MaxLength()
	if chars != 0 || bytes != 72 {
		t.Errorf("MaxLength without pepper: got %d characters and %d bytes, want 0 and 72", chars, bytes)
	}

	chars, bytes = password.Hasher{Pepper: testPepper}.MaxLength()
	if chars != 128 || bytes != 512 {
		t.Errorf("MaxLength with pepper: got %d characters and %d bytes, want 128 and 512", chars, bytes)
	}
}

func TestHasherNeedsUpgrade(t *testing.T) {
	peppered := password.Hasher{Cost: testCost, Pepper: testPepper}
	pepperedHash, err := peppered.Hash("correct horse ñandú")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		hasher password.Hasher
		hash   string
		want   bool
	}{
		{"plain hash with pepper", peppered, knownHash2b, true},
		{"peppered hash with pepper", peppered, pepperedHash, false},
		{"plain hash without pepper", password.Hasher{Cost: testCost}, knownHash2b, false},
		{"peppered hash without pepper", password.Hasher{Cost: testCost}, pepperedHash, false},
	}

	for _, tt := range tests {
		if got := tt.hasher.NeedsUpgrade(tt.hash); got != tt.want {
			t.Errorf("%s: NeedsUpgrade got %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestHasherDummyHash(t *testing.T) {
	peppered := password.Hasher{Cost: testCost, Pepper: testPepper}.DummyHash()
	if !password.IsPeppered(peppered) {
		t.Errorf("DummyHash with a pepper: got %q, want a peppered hash", peppered[:16])
	}
	cost, err := bcrypt.Cost([]byte(strings.TrimPrefix(peppered, password.PepperPrefix)))
	if err != nil {
		t.Fatalf("bcrypt.Cost(peppered DummyHash): got error %v, want nil", err)
	}
	if cost != testCost {
		t.Errorf("peppered DummyHash cost: got %d, want %d", cost, testCost)
	}

	plain := password.Hasher{Cost: testCost}.DummyHash()
	if password.IsPeppered(plain) {
		t.Errorf("DummyHash without a pepper: got %q, want a plain bcrypt hash", plain[:16])
	}
}

// A check against a peppered hash without a pepper must still run bcrypt,
// so that it takes as long as a wrong password. The medians of a few runs
// at cost 8 differ by orders of magnitude if bcrypt is skipped.
//
// On Linux bcrypt runs at nice 19, so any other busy process slows it many times
// over. The two kinds of check therefore alternate, so that such load
// slows both alike, and the limit is far below 1.
func TestMatchesWithoutPepperRunsBcrypt(t *testing.T) {
	const cost = 8
	peppered := password.Hasher{Cost: cost, Pepper: testPepper}
	hash, err := peppered.Hash("correct horse ñandú")
	if err != nil {
		t.Fatal(err)
	}

	hashers := []password.Hasher{peppered, {Cost: cost}}
	samples := [][]time.Duration{nil, nil}
	for range 5 {
		for i, h := range hashers {
			start := time.Now()
			h.Matches(hash, "not the password")
			samples[i] = append(samples[i], time.Since(start))
		}
	}
	median := func(s []time.Duration) time.Duration {
		slices.Sort(s)
		return s[len(s)/2]
	}
	withPepper, withoutPepper := median(samples[0]), median(samples[1])

	if ratio := float64(withoutPepper) / float64(withPepper); ratio < 0.1 {
		t.Errorf("median time without/with pepper: got ratio %.3f (%s / %s), want at least 0.1", ratio, withoutPepper, withPepper)
	}
}
