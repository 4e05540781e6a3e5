package config_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/portero/portero/config"
)

const smtpPassword = "smtp-pass-5Wr8"

func TestLoadSMTPUnset(t *testing.T) {
	cfg, err := config.Load(getenv(devEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTP != nil {
		t.Errorf("SMTP without SMTP_URL or SMTP_HOST: got %+v, want nil (email off)", cfg.SMTP)
	}
}

func TestLoadSMTP(t *testing.T) {
	passwordFile := writeFile(t, "smtp-password", smtpPassword+"\n")
	tests := []struct {
		name string
		env  map[string]string
		want config.SMTP
	}{
		{
			name: "host with defaults",
			env:  map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "smtp.example.org", Port: 587, TLS: "starttls"},
		},
		{
			name: "host with implicit TLS and a password file",
			env: map[string]string{
				"SMTP_HOST": "smtp.example.org", "SMTP_TLS": "TLS", "SMTP_USERNAME": "portero",
				"SMTP_PASSWORD_FILE": passwordFile, "SMTP_FROM": "Portero <portero@example.org>",
			},
			want: config.SMTP{Host: "smtp.example.org", Port: 465, TLS: "tls", Username: "portero", Password: smtpPassword},
		},
		{
			name: "host and port",
			env:  map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "2525", "SMTP_USERNAME": "portero", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "smtp.example.org", Port: 2525, TLS: "starttls", Username: "portero", Password: smtpPassword},
		},
		{
			name: "plain text to loopback",
			env:  map[string]string{"SMTP_HOST": "127.0.0.1", "SMTP_TLS": "none", "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "127.0.0.1", Port: 25, TLS: "none"},
		},
		{
			name: "smtp URL",
			env:  map[string]string{"SMTP_URL": "smtp://portero:" + smtpPassword + "@smtp.example.org", "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "smtp.example.org", Port: 587, TLS: "starttls", Username: "portero", Password: smtpPassword},
		},
		{
			name: "smtps URL with an encoded password",
			env:  map[string]string{"SMTP_URL": "smtps://portero%40example.org:p%40ss%3Aword@smtp.example.org:2465", "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "smtp.example.org", Port: 2465, TLS: "tls", Username: "portero@example.org", Password: "p@ss:word"},
		},
		{
			name: "host name in capitals with auth and without TLS",
			env:  map[string]string{"SMTP_HOST": "LocalHost", "SMTP_TLS": "none", "SMTP_USERNAME": "portero", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "localhost", Port: 25, TLS: "none", Username: "portero", Password: smtpPassword},
		},
		{
			name: "IPv4-mapped loopback address",
			env:  map[string]string{"SMTP_HOST": "::ffff:127.0.0.1", "SMTP_PORT": "2525", "SMTP_TLS": "none", "SMTP_USERNAME": "portero", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "127.0.0.1", Port: 2525, TLS: "none", Username: "portero", Password: smtpPassword},
		},
		{
			name: "URL to loopback without TLS",
			env:  map[string]string{"SMTP_URL": "smtp://[::1]:2525", "SMTP_TLS": "none", "SMTP_FROM": "portero@example.org"},
			want: config.SMTP{Host: "::1", Port: 2525, TLS: "none"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := devEnv(t)
			maps.Copy(env, tc.env)

			cfg, err := config.Load(getenv(env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.SMTP == nil {
				t.Fatal("SMTP: got nil, want settings")
			}
			got := *cfg.SMTP
			if got.Host != tc.want.Host || got.Port != tc.want.Port || got.TLS != tc.want.TLS || got.Username != tc.want.Username || got.Password != tc.want.Password {
				t.Errorf("SMTP: got host %q port %d tls %q user %q password set %t, want host %q port %d tls %q user %q password set %t",
					got.Host, got.Port, got.TLS, got.Username, got.Password != "", tc.want.Host, tc.want.Port, tc.want.TLS, tc.want.Username, tc.want.Password != "")
			}
			if got.Password != tc.want.Password {
				t.Error("SMTP password: got another value, want the configured one")
			}
			if got.From.Address != "portero@example.org" {
				t.Errorf("From: got %q, want portero@example.org", got.From.Address)
			}
		})
	}
}

func TestLoadSMTPInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// want is a part of the error message.
		want string
	}{
		{"plain text to a remote host", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_TLS": "none", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_TLS"},
		{"plain text with auth to a remote host", map[string]string{"SMTP_URL": "smtp://portero:" + smtpPassword + "@10.0.0.5:25", "SMTP_TLS": "none", "SMTP_FROM": "portero@example.org"}, "only to a server on a loopback address"},
		{"unknown TLS mode", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_TLS": "ssl", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_TLS"},
		{"smtps URL with STARTTLS", map[string]string{"SMTP_URL": "smtps://smtp.example.org", "SMTP_TLS": "starttls", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_TLS"},
		{"missing sender", map[string]string{"SMTP_HOST": "smtp.example.org"}, "missing SMTP_FROM"},
		{"sender with a line break", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_FROM": "portero@example.org\r\nBcc: eve@example.net"}, "invalid SMTP_FROM"},
		{"two senders", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_FROM": "a@example.org, b@example.org"}, "invalid SMTP_FROM"},
		{"sender with a quoted space", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_FROM": `"portero notices"@example.org`}, "invalid SMTP_FROM"},
		{"host with a port", map[string]string{"SMTP_HOST": "smtp.example.org:25", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_HOST"},
		{"host in brackets", map[string]string{"SMTP_HOST": "[::1]", "SMTP_TLS": "none", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_HOST"},
		{"auth without TLS to another loopback address", map[string]string{"SMTP_HOST": "127.0.0.2", "SMTP_TLS": "none", "SMTP_USERNAME": "portero", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"}, "only to localhost, 127.0.0.1 or ::1"},
		{"sender not in ASCII", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_FROM": "portería@example.org"}, "invalid SMTP_FROM"},
		{"username without password", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_USERNAME": "portero", "SMTP_FROM": "portero@example.org"}, "SMTP_PASSWORD or SMTP_PASSWORD_FILE must be set"},
		{"password without username", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"}, "SMTP_USERNAME must be set"},
		{"port out of range", map[string]string{"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "70000", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_PORT"},
		{"URL and host", map[string]string{"SMTP_URL": "smtp://smtp.example.org", "SMTP_HOST": "smtp.example.org", "SMTP_FROM": "portero@example.org"}, "either SMTP_URL or SMTP_HOST"},
		{"URL with another scheme", map[string]string{"SMTP_URL": "http://portero:" + smtpPassword + "@smtp.example.org", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_URL"},
		{"URL with a path", map[string]string{"SMTP_URL": "smtp://smtp.example.org/inbox", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_URL"},
		{"URL with a bad port", map[string]string{"SMTP_URL": "smtp://smtp.example.org:0", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_URL"},
		{"URL with a user but no password", map[string]string{"SMTP_URL": "smtp://portero@smtp.example.org", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_URL"},
		{"URL with a password but no user", map[string]string{"SMTP_URL": "smtp://:" + smtpPassword + "@smtp.example.org", "SMTP_FROM": "portero@example.org"}, "invalid SMTP_URL"},
		{"URL and a separate password", map[string]string{"SMTP_URL": "smtp://smtp.example.org", "SMTP_PASSWORD": smtpPassword, "SMTP_FROM": "portero@example.org"}, "invalid SMTP_PASSWORD"},
		{"settings without a server", map[string]string{"SMTP_FROM": "portero@example.org"}, "SMTP_HOST and SMTP_URL are not"},
		{"password without a server", map[string]string{"SMTP_PASSWORD": smtpPassword}, "invalid SMTP_PASSWORD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := devEnv(t)
			maps.Copy(env, tc.env)

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatal("Load: got no error, want one")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), smtpPassword) {
				t.Errorf("error: got the SMTP password in %q, want it hidden", err)
			}
		})
	}
}
