package password_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/password"
)

// testCost is bcrypt's minimum cost, so that the tests hash quickly.
const testCost = bcrypt.MinCost

// Known-answer vectors computed on this machine, not taken from the web.
const (
	// Produced with `htpasswd -bnBC 4 u 'portero known answer 2y'` from
	// Debian 12's apache2-utils 2.4.71, which writes the $2y$ prefix.
	knownPassword2y = "portero known answer 2y"
	knownHash2y     = "$2y$04$/uhgrJa6.hdoUYJajYfjEu19RgOPh43x10NJuqPflKOMdfNwuWcnq"

	// Produced with Debian 12's python3-bcrypt 3.2.2:
	// bcrypt.hashpw(b"portero known answer 2b", bcrypt.gensalt(rounds=4, prefix=b"2b")).
	knownPassword2b = "portero known answer 2b"
	knownHash2b     = "$2b$04$SXlWdfhXKNuCv2YHT35vrOSiC1JxM6JPLIZSSY08Q5cQJm8lf.FSW"

	// Produced like knownHash2b, from the UTF-8 bytes of the password, to
	// cover a multi-byte password hashed by another implementation.
	knownPasswordUTF8 = "contraseña segura ñ"
	knownHashUTF8     = "$2b$04$2cPjUQrYlfvsLcNoozYKLefxOm9CC2gHpO7s3tHzcUzfFOU6m8zRm"
)

func TestValidateLengths(t *testing.T) {
	tests := []struct {
		name      string
		pw        string
		wantBytes int
		want      error
	}{
		{"empty", "", 0, password.ErrTooShort},
		{"11 ASCII characters", strings.Repeat("a", 11), 11, password.ErrTooShort},
		{"11 two-byte characters", strings.Repeat("ñ", 11), 22, password.ErrTooShort},
		{"12 ASCII characters", strings.Repeat("a", 12), 12, nil},
		{"12 two-byte characters", strings.Repeat("ñ", 12), 24, nil},
		{"72 ASCII bytes", strings.Repeat("a", 72), 72, nil},
		{"72 bytes of two-byte characters", strings.Repeat("ñ", 36), 72, nil},
		{"73 ASCII bytes", strings.Repeat("a", 73), 73, password.ErrTooLong},
		{"73 bytes mostly two-byte", strings.Repeat("ñ", 36) + "a", 73, password.ErrTooLong},
		{"19 four-byte characters", strings.Repeat("😀", 19), 76, password.ErrTooLong},
		{"invalid byte", "abcdefghijkl\xff", 13, password.ErrInvalidUTF8},
		{"truncated sequence", strings.Repeat("a", 12) + "\xc3", 13, password.ErrInvalidUTF8},
		{"invalid and too long", strings.Repeat("a", 80) + "\xff", 81, password.ErrInvalidUTF8},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.pw) != tt.wantBytes {
				t.Fatalf("test input is %d bytes, want %d", len(tt.pw), tt.wantBytes)
			}

			err := password.Validate(tt.pw)
			if !errors.Is(err, tt.want) {
				t.Errorf("Validate: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidatePepperedLengths(t *testing.T) {
	h := password.Hasher{Pepper: []byte("Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C")}

	tests := []struct {
		name      string
		pw        string
		wantBytes int
		want      error
	}{
		{"11 characters", strings.Repeat("ñ", 11), 22, password.ErrTooShort},
		{"73 bytes", strings.Repeat("ñ", 36) + "a", 73, nil},
		{"64 two-byte characters", strings.Repeat("ñ", 64), 128, nil},
		{"64 four-byte characters", strings.Repeat("😀", 64), 256, nil},
		{"128 ASCII characters", strings.Repeat("a", 128), 128, nil},
		{"128 four-byte characters", strings.Repeat("😀", 128), 512, nil},
		{"129 ASCII characters", strings.Repeat("a", 129), 129, password.ErrTooManyChars},
		{"129 two-byte characters", strings.Repeat("ñ", 129), 258, password.ErrTooManyChars},
		{"128 characters and a space run", strings.Repeat("a", 127) + strings.Repeat(" ", 386), 513, password.ErrTooManyChars},
		{"invalid byte", strings.Repeat("ñ", 64) + "\xff", 129, password.ErrInvalidUTF8},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.pw) != tt.wantBytes {
				t.Fatalf("test input is %d bytes, want %d", len(tt.pw), tt.wantBytes)
			}

			if err := h.Validate(tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("Hasher.Validate with pepper: got %v, want %v", err, tt.want)
			}
		})
	}
}

// The rules other than length hold with a pepper too.
func TestValidateNewPeppered(t *testing.T) {
	h := password.Hasher{Pepper: []byte("Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C")}
	const email = "ana@example.com"

	if err := h.ValidateNew(strings.Repeat("ñ", 64), email); err != nil {
		t.Errorf("64 two-byte characters: got %v, want nil", err)
	}
	if err := h.ValidateNew("ANA@example.com", email); !errors.Is(err, password.ErrEqualsEmail) {
		t.Errorf("the email: got %v, want ErrEqualsEmail", err)
	}
	if err := h.ValidateNew("LeaveMeAlone", email); !errors.Is(err, password.ErrCommon) {
		t.Errorf("common password: got %v, want ErrCommon", err)
	}
}

func TestHashAndMatches(t *testing.T) {
	tests := []struct {
		name string
		pw   string
	}{
		{"12 ASCII characters", "abcdefghijkl"},
		{"12 two-byte characters", strings.Repeat("ñ", 12)},
		{"72 ASCII bytes", strings.Repeat("x", 72)},
		{"72 bytes of two-byte characters", strings.Repeat("ñ", 36)},
		{"spaces kept", "  leading and trailing  "},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := password.Hash(tt.pw, testCost)
			if err != nil {
				t.Fatalf("Hash: got error %v, want nil", err)
			}
			if !strings.HasPrefix(hash, "$2a$04$") {
				t.Errorf("hash prefix: got %q, want $2a$04$", hash[:min(len(hash), 7)])
			}
			if len(hash) != 60 {
				t.Errorf("hash length: got %d, want 60", len(hash))
			}

			if !password.Matches(hash, tt.pw) {
				t.Errorf("Matches with the right password: got false, want true")
			}
			if password.Matches(hash, tt.pw+"!") {
				t.Errorf("Matches with a longer password: got true, want false")
			}
			if password.Matches(hash, strings.TrimSpace(tt.pw)[1:]) {
				t.Errorf("Matches with a shorter password: got true, want false")
			}
		})
	}
}

func TestHashRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"11 characters", strings.Repeat("a", 11), password.ErrTooShort},
		{"73 bytes", strings.Repeat("ñ", 36) + "a", password.ErrTooLong},
		{"invalid UTF-8", "abcdefghijkl\xff", password.ErrInvalidUTF8},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := password.Hash(tt.pw, testCost)
			if !errors.Is(err, tt.want) {
				t.Errorf("Hash error: got %v, want %v", err, tt.want)
			}
			if hash != "" {
				t.Errorf("Hash: got %q, want an empty hash with the error", hash)
			}
		})
	}
}

func TestHashNeverEmptyWithoutError(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		cost int
	}{
		{"valid", "abcdefghijkl", testCost},
		{"valid two-byte", strings.Repeat("ñ", 36), testCost},
		{"empty password", "", testCost},
		{"too long", strings.Repeat("a", 73), testCost},
		{"invalid UTF-8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4", testCost},
		{"cost above bcrypt maximum", "abcdefghijkl", bcrypt.MaxCost + 1},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := password.Hash(tt.pw, tt.cost)
			if err == nil && hash == "" {
				t.Errorf("Hash: got an empty hash and no error, want a hash or an error")
			}
			if err != nil && hash != "" {
				t.Errorf("Hash: got hash %q with error %v, want an empty hash", hash, err)
			}
		})
	}
}

func TestHashCostAboveMaximum(t *testing.T) {
	_, err := password.Hash("abcdefghijkl", bcrypt.MaxCost+1)
	if err == nil {
		t.Errorf("Hash at cost %d: got nil error, want an error", bcrypt.MaxCost+1)
	}
}

func TestMatchesPrefixes(t *testing.T) {
	const pw = "correct horse ñandú"

	hash, err := password.Hash(pw, testCost)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(hash, "$2a$") {
		t.Fatalf("Hash: got prefix %q, want $2a$", hash[:4])
	}

	// PHP and OpenBSD write $2y$ and $2b$ for the same algorithm, so only the
	// label differs and the hash must verify under each one.
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			relabeled := prefix + hash[len("$2a$"):]

			if !password.Matches(relabeled, pw) {
				t.Errorf("Matches with the right password: got false, want true")
			}
			if password.Matches(relabeled, pw+"x") {
				t.Errorf("Matches with a wrong password: got true, want false")
			}
		})
	}
}

func TestMatchesKnownAnswers(t *testing.T) {
	tests := []struct {
		name string
		hash string
		pw   string
	}{
		{"2y from htpasswd", knownHash2y, knownPassword2y},
		{"2b from python bcrypt", knownHash2b, knownPassword2b},
		{"2b multi-byte password", knownHashUTF8, knownPasswordUTF8},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !password.Matches(tt.hash, tt.pw) {
				t.Errorf("Matches with the right password: got false, want true")
			}
			if password.Matches(tt.hash, tt.pw+" ") {
				t.Errorf("Matches with a trailing space: got true, want false")
			}
			if password.Matches(tt.hash, strings.ToUpper(tt.pw)) {
				t.Errorf("Matches with the password in upper case: got true, want false")
			}
		})
	}
}

func TestMatchesOver72Bytes(t *testing.T) {
	tests := []struct {
		name string
		pw   string
	}{
		{"ASCII", strings.Repeat("a", 72)},
		{"two-byte characters", strings.Repeat("ñ", 36)},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := password.Hash(tt.pw, testCost)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}

			// bcrypt itself compares only the first 72 bytes, so these
			// inputs would match without Portero's own check.
			for _, longer := range []string{tt.pw + "a", tt.pw + "ñ", tt.pw + strings.Repeat("z", 100)} {
				if password.Matches(hash, longer) {
					t.Errorf("Matches with %d bytes whose first 72 match: got true, want false", len(longer))
				}
			}
		})
	}
}

func TestMatchesMalformedHash(t *testing.T) {
	hashes := []string{
		"",
		"not a hash",
		"$2a$04$short",
		"$3a$04$/uhgrJa6.hdoUYJajYfjEu19RgOPh43x10NJuqPflKOMdfNwuWcnq",
		strings.Repeat("$", 60),
	}

	for _, hash := range hashes {
		if password.Matches(hash, knownPassword2y) {
			t.Errorf("Matches(%q): got true, want false", hash)
		}
	}
}

func TestDummyHash(t *testing.T) {
	hash := password.DummyHash(testCost)

	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		t.Fatalf("bcrypt.Cost(DummyHash): got error %v, want nil", err)
	}
	if cost != testCost {
		t.Errorf("DummyHash cost: got %d, want %d", cost, testCost)
	}
	if password.Matches(hash, "") {
		t.Errorf("Matches(DummyHash, \"\"): got true, want false")
	}
}

func TestValidateCollapsesSpaceRuns(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"twelve spaces", strings.Repeat(" ", 12), password.ErrTooShort},
		{"letter and eleven spaces", "a" + strings.Repeat(" ", 11), password.ErrTooShort},
		{"words with double spaces", "correct  horse  battery", nil},
		{"eleven counting a space run", "abcdefghi" + strings.Repeat(" ", 5) + "k", password.ErrTooShort},
		{"twelve counting a space run", "abcdefghij" + strings.Repeat(" ", 5) + "k", nil},
	}
	for _, tt := range tests {
		if got := password.Validate(tt.pw); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHashSaltsEachHash(t *testing.T) {
	first, err := password.Hash("the same password twice", 4)
	if err != nil {
		t.Fatal(err)
	}
	second, err := password.Hash("the same password twice", 4)
	if err != nil {
		t.Fatal(err)
	}

	// bcrypt's hash holds the 22-character salt after "$2a$04$".
	if first[7:29] == second[7:29] {
		t.Errorf("salts of two hashes of one password: both %q, want different", first[7:29])
	}
	if first == second {
		t.Error("two hashes of one password are equal, want different")
	}
}

func TestValidateNewCatchesDisguises(t *testing.T) {
	const email = "erin@example.org"
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"common word with digits", "password12345", password.ErrCommon},
		{"common word with digits and symbols", "!!password2024!!", password.ErrCommon},
		{"email with spaces around", " erin@example.org ", password.ErrEqualsEmail},
		{"email with a zero-width space", "erin@example.org\u200b", password.ErrEqualsEmail},
		{"control character", "a long password\x07here", password.ErrInvalidUTF8},
		{"trailing CRLF", "a long password here\r\n", password.ErrInvalidUTF8},
		{"strong passphrase with digits", "7 violet otters juggle 42", nil},
	}
	for _, tt := range tests {
		if got := (password.Hasher{}).ValidateNew(tt.pw, email); !errors.Is(got, tt.want) && got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
