package config_test

import (
	"strings"
	"testing"

	"github.com/portero/portero/config"
)

// validPepper is 44 bytes with no placeholder word, unlike validSecret and
// otherSecret.
const validPepper = "Rw3Jm8Tq1Zc6Vb9Xn4Kd7Hs2Lf5Gp0Ya8Ne3Ou6Ti1C"

// loaders are the two functions that read PASSWORD_PEPPER: Load for
// `portero serve` and LoadDatabase for `portero user`.
var loaders = []struct {
	name string
	fn   func(config.Getenv) (*config.Config, error)
}{{"Load", config.Load}, {"LoadDatabase", config.LoadDatabase}}

func TestLoadPepperUnset(t *testing.T) {
	for _, load := range loaders {
		cfg, err := load.fn(getenv(prodEnv(t)))
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", load.name, err)
		}
		if cfg.PasswordPepper != nil {
			t.Errorf("%s PasswordPepper: got %d bytes, want nil", load.name, len(cfg.PasswordPepper))
		}
		if cfg.PasswordHasher().Peppered() {
			t.Errorf("%s PasswordHasher().Peppered(): got true, want false", load.name)
		}
	}
}

func TestLoadPepper(t *testing.T) {
	for _, load := range loaders {
		env := prodEnv(t)
		env["PASSWORD_PEPPER"] = validPepper
		env["BCRYPT_COST"] = "11"

		cfg, err := load.fn(getenv(env))
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", load.name, err)
		}
		if string(cfg.PasswordPepper) != validPepper {
			t.Errorf("%s PasswordPepper: got a different value than PASSWORD_PEPPER", load.name)
		}
		hasher := cfg.PasswordHasher()
		if string(hasher.Pepper) != validPepper {
			t.Errorf("%s PasswordHasher().Pepper: got a different value than PASSWORD_PEPPER", load.name)
		}
		if hasher.Cost != 11 {
			t.Errorf("%s PasswordHasher().Cost: got %d, want 11", load.name, hasher.Cost)
		}
	}
}

func TestLoadPepperFromFile(t *testing.T) {
	env := prodEnv(t)
	env["PASSWORD_PEPPER_FILE"] = writeFile(t, "pepper", validPepper+"\n")

	for _, load := range loaders {
		cfg, err := load.fn(getenv(env))
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", load.name, err)
		}
		if string(cfg.PasswordPepper) != validPepper {
			t.Errorf("%s PasswordPepper: got a different value than the file contains", load.name)
		}
	}
}

func TestLoadPepperInvalid(t *testing.T) {
	tests := []struct {
		name   string
		pepper string
		file   string // contents of PASSWORD_PEPPER_FILE; empty means unset
		want   string
	}{
		{"31 bytes", strings.Repeat("k", 31), "", "at least 32 bytes"},
		{"few distinct characters", strings.Repeat("ab", 20), "", "distinct characters"},
		{"placeholder pepper word", "my-portero-password-pepper-0123456789abcdefgh", "", "placeholder"},
		{"placeholder in upper case", "CHANGE-ME-0123456789ABCDEFGHIJKLMNOPQRSTUVWX", "", "placeholder"},
		{"both variable and file", validPepper, validPepper, "not both"},
	}

	for _, tt := range tests {
		for _, load := range loaders {
			t.Run(tt.name+" "+load.name, func(t *testing.T) {
				env := prodEnv(t)
				env["PASSWORD_PEPPER"] = tt.pepper
				if tt.file != "" {
					env["PASSWORD_PEPPER_FILE"] = writeFile(t, "pepper", tt.file)
				}

				_, err := load.fn(getenv(env))
				if err == nil {
					t.Fatalf("%s: got nil error, want an error", load.name)
				}
				if !strings.Contains(err.Error(), "PASSWORD_PEPPER") {
					t.Errorf("error: got %q, want it to name PASSWORD_PEPPER", err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error: got %q, want it to contain %q", err, tt.want)
				}
				if strings.Contains(err.Error(), tt.pepper) {
					t.Errorf("error: got %q, want it without the pepper's value", err)
				}
			})
		}
	}
}

func TestLoadPepperEqualToSessionSecret(t *testing.T) {
	tests := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"SESSION_SECRET", func(t *testing.T) map[string]string {
			env := prodEnv(t)
			env["PASSWORD_PEPPER"] = validSecret
			return env
		}},
		{"SESSION_SECRET_PREVIOUS", func(t *testing.T) map[string]string {
			env := prodEnv(t)
			env["SESSION_SECRET_PREVIOUS"] = otherSecret
			env["PASSWORD_PEPPER"] = otherSecret
			return env
		}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(getenv(tt.env(t)))
			if err == nil {
				t.Fatal("Load: got nil error, want an error")
			}
			if !strings.Contains(err.Error(), "PASSWORD_PEPPER") {
				t.Errorf("error: got %q, want it to name PASSWORD_PEPPER", err)
			}
			if strings.Contains(err.Error(), validSecret) || strings.Contains(err.Error(), otherSecret) {
				t.Errorf("error: got %q, want it without the secret's value", err)
			}
		})
	}
}

// ADMIN_PASSWORD follows the length rule of the pepper setting: 72 bytes
// without PASSWORD_PEPPER and 128 characters with it.
func TestLoadAdminPasswordLengthWithPepper(t *testing.T) {
	tests := []struct {
		name     string
		pepper   string // empty means unset
		password string
		wantErr  string // empty means no error
	}{
		{"64 two-byte characters with pepper", validPepper, strings.Repeat("ñ", 64), ""},
		{"64 emoji with pepper", validPepper, strings.Repeat("😀", 64), ""},
		{"129 characters with pepper", validPepper, strings.Repeat("ñ", 129), "longer than 128 characters"},
		{"64 two-byte characters without pepper", "", strings.Repeat("ñ", 64), "longer than 72 bytes"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := devEnv(t)
			env["ADMIN_EMAIL"] = "admin@example.org"
			env["ADMIN_PASSWORD"] = tt.password
			if tt.pepper != "" {
				env["PASSWORD_PEPPER"] = tt.pepper
			}

			_, err := config.Load(getenv(env))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Load: got error %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Load: got nil error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Load: got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
