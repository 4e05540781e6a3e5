package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

// longPasswords have 64 characters, which OWASP ASVS 4.0.3 requirement
// 2.1.2 requires to be accepted: 128 bytes of UTF-8 in two-byte characters and 256
// in four-byte emoji, both over bcrypt's 72.
var longPasswords = []struct{ name, pw string }{
	{"two-byte characters", strings.Repeat("ñ", 64)},
	{"four-byte emoji", strings.Repeat("😀", 64)},
}

// tooLongPassword has 129 characters, one more than PASSWORD_PEPPER allows.
var tooLongPassword = strings.Repeat("ñ", password.MaxPepperedChars+1)

func TestLongPasswordWithPepper(t *testing.T) {
	for _, tt := range longPasswords {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{pepper: testPepper})
			// The user starts with a plain bcrypt hash, which the login
			// upgrades.
			c := e.loggedIn("ana@example.com")

			resp := e.changePassword(c, testPassword, tt.pw, tt.pw)
			if resp.status != http.StatusSeeOther || resp.location != "/account/password?changed=1" {
				t.Fatalf("change to %d bytes: got %d to %q, want 303 to /account/password?changed=1", len(tt.pw), resp.status, resp.location)
			}
			hash := e.storedHash("ana@example.com")
			if !password.IsPeppered(hash) || !(password.Hasher{Pepper: testPepper}).Matches(hash, tt.pw) {
				t.Errorf("stored hash: got one that is not a peppered hash of the new password, want one")
			}

			// A login with a password that breaks the rules goes to the
			// password page, so /dashboard also shows that the login
			// found the password valid.
			other := e.client()
			if resp := e.login(other, "ana@example.com", tt.pw); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
				t.Fatalf("login with the new password: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
			}

			e.clock.advance(11 * time.Minute)
			if resp := e.revokeOthers(other, tooLongPassword); resp.status != http.StatusForbidden || !strings.Contains(resp.body, "The current password is incorrect.") {
				t.Errorf("re-authentication with 129 characters: got %d, want 403 with the message", resp.status)
			}
			e.requireSignedIn(c, "the first session after a rejected re-authentication")
			if resp := e.revokeOthers(other, tt.pw); resp.status != http.StatusSeeOther {
				t.Errorf("re-authentication with the new password: got %d, want 303", resp.status)
			}
			e.requireSignedOut(c, "the first session after the re-authentication")

			e.requireLogsFree(tt.pw)
		})
	}
}

func TestPasswordOver128CharsRejected(t *testing.T) {
	e := newEnvWith(t, envOptions{pepper: testPepper})
	admin := e.adminClient("admin@example.com")
	c := e.loggedIn("ana@example.com")
	const message = "The password cannot be longer than 128 characters or 512 bytes."

	resp := e.changePassword(c, testPassword, tooLongPassword, tooLongPassword)
	if resp.status != http.StatusUnprocessableEntity || !strings.Contains(resp.body, message) {
		t.Errorf("password page with 129 characters: got %d, want 422 with %q", resp.status, message)
	}

	created := e.adminPost(admin, "/admin/users", url.Values{"email": {"new@example.com"}, "password": {tooLongPassword}, "password_confirm": {tooLongPassword}})
	if created.status != http.StatusUnprocessableEntity || !strings.Contains(created.body, message) {
		t.Errorf("admin create with 129 characters: got %d, want 422 with %q", created.status, message)
	}

	ana := e.user("ana@example.com")
	reset := e.adminPost(admin, userPath(ana, "/password"), url.Values{"password": {tooLongPassword}, "password_confirm": {tooLongPassword}})
	if reset.status != http.StatusUnprocessableEntity || !strings.Contains(reset.body, message) {
		t.Errorf("admin reset with 129 characters: got %d, want 422 with %q", reset.status, message)
	}

	if got := e.user("ana@example.com").PasswordHash; !(password.Hasher{Pepper: testPepper}).Matches(got, testPassword) {
		t.Error("ana's password after the rejected changes: got another one, want the old one kept")
	}
}

// A login with a password longer than any that can match fails as a wrong
// password does, with the same message and a counted failure, but without
// bcrypt.
func TestLoginTooLongSkipsBcrypt(t *testing.T) {
	tests := []struct {
		name   string
		pepper []byte
		pw     string
	}{
		{"129 characters with pepper", testPepper, tooLongPassword},
		{"73 bytes without pepper", nil, strings.Repeat("ñ", 36) + "a"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{pepper: tt.pepper})
			e.createUser("ana@example.com", "Ana")
			c := e.client()
			token := e.csrfToken(c, "/login")
			start := e.bcrypt.Acquired()

			for _, email := range []string{"ana@example.com", "nobody@example.com"} {
				resp := e.attempt(c, token, email, tt.pw, "Accept-Language", "en")
				if resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "The email or password is incorrect.") {
					t.Errorf("login of %s: got %d, want 401 with the usual message", email, resp.status)
				}
			}
			if got := e.bcrypt.Acquired() - start; got != 0 {
				t.Errorf("bcrypt calls: got %d, want 0", got)
			}
			if failures, _ := e.failureRow(db.FailureKindAccount); failures != 2 {
				t.Errorf("account failures: got %d, want 2", failures)
			}
		})
	}
}

func TestPasswordFormsShowLimit(t *testing.T) {
	tests := []struct {
		name        string
		pepper      []byte
		wantRules   []string
		wantMeter   string
		wantAdmin   string
		unwantRules []string
	}{
		{
			name:        "without pepper",
			wantRules:   []string{"Use at least 12 characters and at most 72 bytes.", "Use al menos 12 caracteres y como máximo 72 bytes."},
			wantMeter:   `data-max-chars="0" data-max-bytes="72"`,
			wantAdmin:   "At least 12 characters and at most 72 bytes.",
			unwantRules: []string{"128 characters", "128 caracteres"},
		},
		{
			name:        "with pepper",
			pepper:      testPepper,
			wantRules:   []string{"Use 12 to 128 characters.", "Use entre 12 y 128 caracteres."},
			wantMeter:   `data-max-chars="128" data-max-bytes="512"`,
			wantAdmin:   "12 to 128 characters.",
			unwantRules: []string{"72 bytes"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{pepper: tt.pepper})
			admin := e.adminClient("admin@example.com")
			bo := e.createUser("bo@example.com", "Bo")

			english := e.get(admin, "/account/password?lang=en")
			spanish := e.get(admin, "/account/password?lang=es")
			for i, page := range []response{english, spanish} {
				if !strings.Contains(page.body, tt.wantRules[i]) {
					t.Errorf("password page: got no %q, want it", tt.wantRules[i])
				}
				if !strings.Contains(page.body, tt.wantMeter) {
					t.Errorf("password page: got no %s, want it", tt.wantMeter)
				}
				for _, unwanted := range tt.unwantRules {
					if strings.Contains(page.body, unwanted) {
						t.Errorf("password page: got %q, want only the active limit", unwanted)
					}
				}
			}

			for _, path := range []string{"/admin/users?lang=en", userPath(bo, "?lang=en")} {
				if page := e.get(admin, path); !strings.Contains(page.body, tt.wantAdmin) {
					t.Errorf("%s: got no %q, want it", path, tt.wantAdmin)
				}
			}
		})
	}
}
