package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/portero/portero/config"
)

func TestLoadWebAuthnDefaults(t *testing.T) {
	env := devEnv(t)
	env["PORT"] = "8181"

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	if cfg.WebAuthnRPID != "localhost" {
		t.Errorf("WebAuthnRPID: got %q, want localhost", cfg.WebAuthnRPID)
	}
	if want := []string{"http://localhost:8181"}; !slices.Equal(cfg.WebAuthnOrigins, want) {
		t.Errorf("WebAuthnOrigins: got %v, want %v", cfg.WebAuthnOrigins, want)
	}
}

func TestLoadWebAuthnSettings(t *testing.T) {
	env := devEnv(t)
	env["WEBAUTHN_RP_ID"] = "Example.ORG"
	env["WEBAUTHN_ORIGINS"] = "https://portero.example.org, https://example.org:8443/"

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	if cfg.WebAuthnRPID != "example.org" {
		t.Errorf("WebAuthnRPID: got %q, want example.org", cfg.WebAuthnRPID)
	}
	if want := []string{"https://portero.example.org", "https://example.org:8443"}; !slices.Equal(cfg.WebAuthnOrigins, want) {
		t.Errorf("WebAuthnOrigins: got %v, want %v", cfg.WebAuthnOrigins, want)
	}
}

func TestLoadWebAuthnInvalid(t *testing.T) {
	tests := []struct {
		name, rpID, origins, want string
	}{
		{"IP address", "127.0.0.1", "", "WEBAUTHN_RP_ID"},
		{"RP ID with scheme", "https://example.org", "", "WEBAUTHN_RP_ID"},
		{"RP ID with port", "example.org:443", "", "WEBAUTHN_RP_ID"},
		{"origin of another host", "example.org", "https://example.com", "WEBAUTHN_ORIGINS"},
		{"origin suffix without dot", "example.org", "https://badexample.org", "WEBAUTHN_ORIGINS"},
		{"origin with path", "example.org", "https://example.org/login", "WEBAUTHN_ORIGINS"},
		{"origin without scheme", "example.org", "example.org", "WEBAUTHN_ORIGINS"},
		{"no origin", "example.org", " , ", "WEBAUTHN_ORIGINS"},
		// Browsers send the origin with an ASCII host and a valid port, and
		// compare it with these values as they are, so none of these
		// could ever match.
		{"RP ID not in ASCII", "bücher.example", "https://bücher.example", "xn--"},
		{"RP ID with an empty label", "example..org", "https://example..org", "WEBAUTHN_RP_ID"},
		{"RP ID with an underscore", "exa_mple.org", "https://exa_mple.org", "WEBAUTHN_RP_ID"},
		{"RP ID label starting with a hyphen", "-example.org", "https://-example.org", "WEBAUTHN_RP_ID"},
		{"wildcard origin", "example.org", "https://*.example.org", "WEBAUTHN_ORIGINS"},
		{"origin not in ASCII", "example.org", "https://bücher.example.org", "xn--"},
		{"origin port out of range", "example.org", "https://example.org:99999", "WEBAUTHN_ORIGINS"},
		{"origin with an empty port", "example.org", "https://example.org:", "WEBAUTHN_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := devEnv(t)
			env["WEBAUTHN_RP_ID"] = tt.rpID
			env["WEBAUTHN_ORIGINS"] = tt.origins
			if tt.origins == "" {
				delete(env, "WEBAUTHN_ORIGINS")
			}

			_, err := config.Load(getenv(env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got error %v, want one about %s", err, tt.want)
			}
		})
	}
}
