package config_test

import (
	"bytes"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
)

const (
	// testDatabaseURL is parsed but never connected to.
	testDatabaseURL = "postgres://portero:db-pass-7Hq2@127.0.0.1:15432/portero"
	dbPassword      = "db-pass-7Hq2"

	// validSecret is 44 bytes with no placeholder word.
	validSecret = "Kq7Vd9Qm2Xw4Lr8Tn1Hb6Jc3Fy5Pz0Ga7Ue2Ks9Wd4A"
	// otherSecret is a second valid secret, for SESSION_SECRET_PREVIOUS.
	otherSecret = "Zt5Nc8Rb1Mv4Yq7Hx2Lf9Dw6Gs3Jp0Ek5Ua8Ci1Oy7B"
)

// getenv returns a config.Getenv that reads from m.
func getenv(m map[string]string) config.Getenv {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// devEnv returns the minimal valid development settings, with DATA_DIR in a
// temporary directory so that no test writes into the source tree.
func devEnv(t *testing.T) map[string]string {
	t.Helper()

	return map[string]string{
		"DATABASE_URL": testDatabaseURL,
		"DATA_DIR":     t.TempDir(),
	}
}

// prodEnv returns the minimal valid production settings.
func prodEnv(t *testing.T) map[string]string {
	t.Helper()

	env := devEnv(t)
	env["APP_ENV"] = "production"
	env["SESSION_SECRET"] = validSecret

	return env
}

// databaseLoaders are the functions that read the database settings, which
// must treat them alike.
var databaseLoaders = []struct {
	name string
	load func(config.Getenv) (*config.Config, error)
}{
	{"Load", config.Load},
	{"LoadDatabase", config.LoadDatabase},
}

// writeFile writes content to a new file in a temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}

	return path
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		name          string
		env           func(*testing.T) map[string]string
		wantAppEnv    string
		wantLogFormat string
	}{
		{"development", devEnv, config.EnvDevelopment, "text"},
		{"production", prodEnv, config.EnvProduction, "json"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(getenv(tt.env(t)))
			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}

			if cfg.Port != 8080 {
				t.Errorf("Port: got %d, want 8080", cfg.Port)
			}
			if cfg.AppEnv != tt.wantAppEnv {
				t.Errorf("AppEnv: got %q, want %q", cfg.AppEnv, tt.wantAppEnv)
			}
			if cfg.SessionMaxAge != 720*time.Hour {
				t.Errorf("SessionMaxAge: got %v, want 720h", cfg.SessionMaxAge)
			}
			if cfg.SessionIdleTimeout != 168*time.Hour {
				t.Errorf("SessionIdleTimeout: got %v, want 168h", cfg.SessionIdleTimeout)
			}
			if cfg.BcryptCost != 12 {
				t.Errorf("BcryptCost: got %d, want 12", cfg.BcryptCost)
			}
			if cfg.LogLevel != slog.LevelInfo {
				t.Errorf("LogLevel: got %v, want %v", cfg.LogLevel, slog.LevelInfo)
			}
			if cfg.LogFormat != tt.wantLogFormat {
				t.Errorf("LogFormat: got %q, want %q", cfg.LogFormat, tt.wantLogFormat)
			}
			if cfg.SessionSecretPrevious != nil {
				t.Errorf("SessionSecretPrevious: got %d bytes, want nil", len(cfg.SessionSecretPrevious))
			}
			if cfg.AdminEmail != "" || cfg.AdminPassword != "" {
				t.Errorf("admin: got email %q and a %d-byte password, want both empty", cfg.AdminEmail, len(cfg.AdminPassword))
			}
			if cfg.LoginMaxFailures != 5 {
				t.Errorf("LoginMaxFailures: got %d, want 5", cfg.LoginMaxFailures)
			}
			if cfg.LoginFailureWindow != 15*time.Minute {
				t.Errorf("LoginFailureWindow: got %v, want 15m", cfg.LoginFailureWindow)
			}
			if cfg.LoginMaxLockout != 15*time.Minute {
				t.Errorf("LoginMaxLockout: got %v, want 15m", cfg.LoginMaxLockout)
			}
			if cfg.LoginIPMaxFailures != 50 {
				t.Errorf("LoginIPMaxFailures: got %d, want 50", cfg.LoginIPMaxFailures)
			}
			if want := max(1, runtime.GOMAXPROCS(0)/2); cfg.BcryptConcurrency != want {
				t.Errorf("BcryptConcurrency: got %d, want %d", cfg.BcryptConcurrency, want)
			}
			wantDatabase := db.Options{MaxConnLifetime: time.Hour}
			if cfg.DatabaseOptions != wantDatabase {
				t.Errorf("DatabaseOptions: got %+v, want %+v", cfg.DatabaseOptions, wantDatabase)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	env := prodEnv(t)
	env["PORT"] = "9090"
	env["SESSION_MAX_AGE"] = "48h"
	env["SESSION_IDLE_TIMEOUT"] = "90m"
	env["BCRYPT_COST"] = "10"
	env["LOG_LEVEL"] = "debug"
	env["LOG_FORMAT"] = "text"
	env["LOGIN_MAX_FAILURES"] = "8"
	env["LOGIN_FAILURE_WINDOW"] = "1h"
	env["LOGIN_MAX_LOCKOUT"] = "30m"
	env["LOGIN_IP_MAX_FAILURES"] = "200"
	env["BCRYPT_CONCURRENCY"] = "3"
	env["DATABASE_URL"] = "postgres://portero@127.0.0.1:15432/portero"
	env["DATABASE_PASSWORD_FILE"] = "/run/secrets/db-password"
	env["DATABASE_MAX_CONN_LIFETIME"] = "15m"
	env["DATABASE_CHECK_FILE_MODE"] = "false"

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}

	if cfg.Port != 9090 {
		t.Errorf("Port: got %d, want 9090", cfg.Port)
	}
	if cfg.SessionMaxAge != 48*time.Hour {
		t.Errorf("SessionMaxAge: got %v, want 48h", cfg.SessionMaxAge)
	}
	if cfg.SessionIdleTimeout != 90*time.Minute {
		t.Errorf("SessionIdleTimeout: got %v, want 1h30m", cfg.SessionIdleTimeout)
	}
	if cfg.BcryptCost != 10 {
		t.Errorf("BcryptCost: got %d, want 10", cfg.BcryptCost)
	}
	if cfg.LogLevel != slog.LevelDebug {
		t.Errorf("LogLevel: got %v, want %v", cfg.LogLevel, slog.LevelDebug)
	}
	if cfg.LogFormat != "text" {
		t.Errorf("LogFormat: got %q, want text", cfg.LogFormat)
	}
	if !cfg.Production() {
		t.Errorf("Production: got false, want true")
	}
	if string(cfg.SessionSecret) != validSecret {
		t.Errorf("SessionSecret: got a different value than SESSION_SECRET")
	}
	if cfg.LoginMaxFailures != 8 {
		t.Errorf("LoginMaxFailures: got %d, want 8", cfg.LoginMaxFailures)
	}
	if cfg.LoginFailureWindow != time.Hour {
		t.Errorf("LoginFailureWindow: got %v, want 1h", cfg.LoginFailureWindow)
	}
	if cfg.LoginMaxLockout != 30*time.Minute {
		t.Errorf("LoginMaxLockout: got %v, want 30m", cfg.LoginMaxLockout)
	}
	if cfg.LoginIPMaxFailures != 200 {
		t.Errorf("LoginIPMaxFailures: got %d, want 200", cfg.LoginIPMaxFailures)
	}
	if cfg.BcryptConcurrency != 3 {
		t.Errorf("BcryptConcurrency: got %d, want 3", cfg.BcryptConcurrency)
	}
	wantDatabase := db.Options{PasswordFile: "/run/secrets/db-password", MaxConnLifetime: 15 * time.Minute, SkipFileModeCheck: true}
	if cfg.DatabaseOptions != wantDatabase {
		t.Errorf("DatabaseOptions: got %+v, want %+v", cfg.DatabaseOptions, wantDatabase)
	}
}

// A password in both DATABASE_URL and DATABASE_PASSWORD_FILE would leave the
// operator unsure which one a rotation must change.
func TestLoadPasswordFileWithURLPassword(t *testing.T) {
	urls := map[string]string{
		"user info": "",
		"query":     "postgres://portero@127.0.0.1:15432/portero?password=" + url.QueryEscape(dbPassword),
	}
	for where, databaseURL := range urls {
		for _, loader := range databaseLoaders {
			t.Run(where+" "+loader.name, func(t *testing.T) {
				env := devEnv(t)
				env["DATABASE_PASSWORD_FILE"] = "/run/secrets/db-password"
				if databaseURL != "" {
					env["DATABASE_URL"] = databaseURL
				}

				_, err := loader.load(getenv(env))
				if err == nil {
					t.Fatalf("%s: got nil error, want an error", loader.name)
				}
				if !strings.Contains(err.Error(), "DATABASE_URL contains a password") {
					t.Errorf("error: got %q, want it to say that DATABASE_URL contains a password", err)
				}
				if strings.Contains(err.Error(), dbPassword) {
					t.Errorf("error: got %q, want it without the password", err)
				}
			})
		}
	}
}

func TestLoadInvalidValues(t *testing.T) {
	tests := []struct {
		name       string
		production bool
		variable   string
		value      string
	}{
		{"port not a number", false, "PORT", "http"},
		{"port zero", false, "PORT", "0"},
		{"port too high", false, "PORT", "65536"},
		{"unknown app env", false, "APP_ENV", "staging"},
		{"max age not a duration", false, "SESSION_MAX_AGE", "forever"},
		{"max age under a minute", false, "SESSION_MAX_AGE", "30s"},
		{"max age without unit", false, "SESSION_MAX_AGE", "720"},
		{"idle timeout negative", false, "SESSION_IDLE_TIMEOUT", "-1h"},
		{"bcrypt cost too low", false, "BCRYPT_COST", "3"},
		{"bcrypt cost too high", false, "BCRYPT_COST", "32"},
		{"bcrypt cost as word", false, "BCRYPT_COST", "twelve"},
		{"bcrypt cost low in production", true, "BCRYPT_COST", "9"},
		{"unknown log format", false, "LOG_FORMAT", "xml"},
		{"unknown log level", false, "LOG_LEVEL", "verbose"},
		{"database ssl not a bool", false, "DATABASE_SSL", "sometimes"},
		{"connection lifetime under a minute", false, "DATABASE_MAX_CONN_LIFETIME", "30s"},
		{"file mode check not a bool", false, "DATABASE_CHECK_FILE_MODE", "sometimes"},
		{"login max failures zero", false, "LOGIN_MAX_FAILURES", "0"},
		{"login max failures as word", false, "LOGIN_MAX_FAILURES", "five"},
		{"login window under a minute", false, "LOGIN_FAILURE_WINDOW", "30s"},
		{"login window without unit", false, "LOGIN_FAILURE_WINDOW", "15"},
		{"login max lockout under a minute", false, "LOGIN_MAX_LOCKOUT", "59s"},
		{"login IP max failures negative", false, "LOGIN_IP_MAX_FAILURES", "-1"},
		{"bcrypt concurrency zero", false, "BCRYPT_CONCURRENCY", "0"},
		{"bcrypt concurrency too high", false, "BCRYPT_CONCURRENCY", "1025"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := devEnv(t)
			if tt.production {
				env = prodEnv(t)
			}
			env[tt.variable] = tt.value

			cfg, err := config.Load(getenv(env))
			if err == nil {
				t.Fatalf("Load with %s=%q: got nil error, want an error", tt.variable, tt.value)
			}
			if cfg != nil {
				t.Errorf("Load: got a config with the error, want nil")
			}

			msg := err.Error()
			if !strings.Contains(msg, tt.variable) {
				t.Errorf("error: got %q, want it to name %s", msg, tt.variable)
			}
			if !strings.Contains(msg, tt.value) {
				t.Errorf("error: got %q, want it to show the value %q", msg, tt.value)
			}
		})
	}
}

func TestLoadReportsAllErrors(t *testing.T) {
	env := devEnv(t)
	env["PORT"] = "http"
	env["BCRYPT_COST"] = "99"
	env["LOG_FORMAT"] = "xml"

	_, err := config.Load(getenv(env))
	if err == nil {
		t.Fatal("Load: got nil error, want an error")
	}

	for _, variable := range []string{"PORT", "BCRYPT_COST", "LOG_FORMAT"} {
		if !strings.Contains(err.Error(), variable) {
			t.Errorf("error: got %q, want it to name %s", err, variable)
		}
	}
}

func TestLoadAppEnvCase(t *testing.T) {
	env := prodEnv(t)
	env["APP_ENV"] = "Production"

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	if cfg.AppEnv != config.EnvProduction {
		t.Errorf("AppEnv: got %q, want %q", cfg.AppEnv, config.EnvProduction)
	}
}

func TestLoadProductionSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret string // empty means unset
	}{
		{"missing", ""},
		{"too short", "short-but-random-Xq81"},
		{"31 bytes", strings.Repeat("k", 31)},
		{"placeholder change-in-production", "please-change-in-production-0123456789abcdef"},
		{"placeholder secret", "my-portero-session-secret-0123456789abcdefgh"},
		{"placeholder in upper case", "MY-PORTERO-SESSION-SECRET-0123456789ABCDEFGH"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := prodEnv(t)
			delete(env, "SESSION_SECRET")
			if tt.secret != "" {
				env["SESSION_SECRET"] = tt.secret
			}

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatal("Load: got nil error, want an error")
			}
			if !strings.Contains(err.Error(), "SESSION_SECRET") {
				t.Errorf("error: got %q, want it to name SESSION_SECRET", err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error: got %q, want it without the secret's value", err)
			}
		})
	}
}

func TestLoadProductionSecretFromFile(t *testing.T) {
	const secret = "file-held-session-secret-0123456789abcdefgh"

	env := prodEnv(t)
	delete(env, "SESSION_SECRET")
	env["SESSION_SECRET_FILE"] = writeFile(t, "session-secret", secret+"\n")

	_, err := config.Load(getenv(env))
	if err == nil {
		t.Fatal("Load: got nil error, want an error for the placeholder word")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error: got %q, want it without the secret's value", err)
	}
}

func TestLoadProductionCreatesNoSecret(t *testing.T) {
	env := prodEnv(t)
	delete(env, "SESSION_SECRET")

	if _, err := config.Load(getenv(env)); err == nil {
		t.Fatal("Load: got nil error, want an error")
	}

	path := filepath.Join(env["DATA_DIR"], "session-secret")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("stat %s: got %v, want not exist", path, err)
	}
}

func TestLoadDatabaseURLPasswordHidden(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		extra map[string]string
	}{
		{"wrong scheme", "mysql://portero:" + dbPassword + "@127.0.0.1:15432/portero", nil},
		{"bad port", "postgres://portero:" + dbPassword + "@127.0.0.1:port/portero", nil},
		{"no host", "postgres://portero:" + dbPassword + "@/portero", nil},
		{"control character", "postgres://portero:" + dbPassword + "\x7f@127.0.0.1/portero", nil},
		{"not a URL", "host=127.0.0.1 password=" + dbPassword, nil},
		{"valid URL, other errors", testDatabaseURL, map[string]string{"PORT": "http", "DATABASE_SSL": "sometimes"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := devEnv(t)
			env["DATABASE_URL"] = tt.url
			for k, v := range tt.extra {
				env[k] = v
			}

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatal("Load: got nil error, want an error")
			}
			if strings.Contains(err.Error(), dbPassword) {
				t.Errorf("Load error: got %q, want it without the database password", err)
			}

			_, err = config.LoadDatabase(getenv(env))
			if err == nil {
				t.Fatal("LoadDatabase: got nil error, want an error")
			}
			if strings.Contains(err.Error(), dbPassword) {
				t.Errorf("LoadDatabase error: got %q, want it without the database password", err)
			}
		})
	}
}

func TestLoadDatabaseURLMissing(t *testing.T) {
	env := devEnv(t)
	delete(env, "DATABASE_URL")

	_, err := config.Load(getenv(env))
	if err == nil {
		t.Fatal("Load: got nil error, want an error")
	}
	if !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("error: got %q, want it to name DATABASE_URL", err)
	}
}

func TestLoadFileVariables(t *testing.T) {
	const (
		secret     = "Mz4Rk8Wq1Tn6Yb3Hv9Lc2Jx7Pd5Gf0Ns4Ea8Uo1Ki6"
		adminPW    = "admin password from a file"
		fileURL    = "postgres://portero:file-db-pass@127.0.0.1:15433/fromfile"
		adminEmail = "admin@example.org"
	)

	env := devEnv(t)
	delete(env, "DATABASE_URL")
	env["SESSION_SECRET_FILE"] = writeFile(t, "secret", secret+"\n")
	env["ADMIN_PASSWORD_FILE"] = writeFile(t, "admin", adminPW+"\r\n")
	env["DATABASE_URL_FILE"] = writeFile(t, "url", fileURL+"\n")
	env["ADMIN_EMAIL"] = adminEmail

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}

	if string(cfg.SessionSecret) != secret {
		t.Errorf("SessionSecret: got %q, want %q", cfg.SessionSecret, secret)
	}
	if cfg.AdminPassword != adminPW {
		t.Errorf("AdminPassword: got %q, want %q", cfg.AdminPassword, adminPW)
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatalf("parse DatabaseURL: %v", err)
	}
	if u.Host != "127.0.0.1:15433" || u.Path != "/fromfile" {
		t.Errorf("DatabaseURL: got host %q and path %q, want 127.0.0.1:15433 and /fromfile", u.Host, u.Path)
	}
	if pw, _ := u.User.Password(); pw != "file-db-pass" {
		t.Errorf("DatabaseURL password: got %q, want file-db-pass", pw)
	}
	if cfg.AdminEmail != adminEmail {
		t.Errorf("AdminEmail: got %q, want %q", cfg.AdminEmail, adminEmail)
	}
}

func TestLoadFileVariableErrors(t *testing.T) {
	tests := []struct {
		name     string
		variable string
		value    string
	}{
		{"session secret", "SESSION_SECRET", validSecret},
		{"admin password", "ADMIN_PASSWORD", "admin password in the environment"},
		{"database url", "DATABASE_URL", testDatabaseURL},
	}

	for _, tt := range tests {
		t.Run(tt.name+" and file", func(t *testing.T) {
			env := devEnv(t)
			env["ADMIN_EMAIL"] = "admin@example.org"
			env["ADMIN_PASSWORD"] = "admin password in the environment"
			env[tt.variable] = tt.value
			env[tt.variable+"_FILE"] = writeFile(t, "value", tt.value+"\n")

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatalf("Load with %s and %s_FILE: got nil error, want an error", tt.variable, tt.variable)
			}
			if !strings.Contains(err.Error(), tt.variable+"_FILE") {
				t.Errorf("error: got %q, want it to name %s_FILE", err, tt.variable)
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Errorf("error: got %q, want it without the value", err)
			}
		})

		t.Run(tt.name+" file missing", func(t *testing.T) {
			env := devEnv(t)
			env["ADMIN_EMAIL"] = "admin@example.org"
			env["ADMIN_PASSWORD"] = "admin password in the environment"
			delete(env, tt.variable)
			env[tt.variable+"_FILE"] = filepath.Join(t.TempDir(), "absent")

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatal("Load: got nil error, want an error")
			}
			if !strings.Contains(err.Error(), tt.variable+"_FILE") {
				t.Errorf("error: got %q, want it to name %s_FILE", err, tt.variable)
			}
		})

		t.Run(tt.name+" file empty", func(t *testing.T) {
			env := devEnv(t)
			env["ADMIN_EMAIL"] = "admin@example.org"
			env["ADMIN_PASSWORD"] = "admin password in the environment"
			delete(env, tt.variable)
			env[tt.variable+"_FILE"] = writeFile(t, "empty", "\n")

			_, err := config.Load(getenv(env))
			if err == nil {
				t.Fatal("Load: got nil error, want an error")
			}
			if !strings.Contains(err.Error(), "empty") {
				t.Errorf("error: got %q, want it to say the file is empty", err)
			}
		})
	}
}

func TestLoadSSLMode(t *testing.T) {
	tests := []struct {
		name        string
		query       string // appended to the URL's query
		databaseSSL string // empty means unset
		want        string
	}{
		{"none", "", "", "disable"},
		{"kept from URL", "&sslmode=verify-full", "", "verify-full"},
		{"kept require", "&sslmode=require", "", "require"},
		{"forced over disable", "&sslmode=disable", "true", "require"},
		{"forced over prefer", "&sslmode=prefer", "true", "require"},
		{"forced keeps verify-full", "&sslmode=verify-full", "true", "verify-full"},
		{"forced keeps verify-ca", "&sslmode=verify-ca", "true", "verify-ca"},
		{"forced with none", "", "true", "require"},
		{"forced with 1", "", "1", "require"},
		{"false keeps URL", "&sslmode=require", "false", "require"},
		{"false with none", "", "false", "disable"},
	}

	for _, tt := range tests {
		for _, loader := range databaseLoaders {
			t.Run(tt.name+" "+loader.name, func(t *testing.T) {
				env := devEnv(t)
				env["DATABASE_URL"] = testDatabaseURL + "?application_name=portero-test" + tt.query
				if tt.databaseSSL != "" {
					env["DATABASE_SSL"] = tt.databaseSSL
				}

				cfg, err := loader.load(getenv(env))
				if err != nil {
					t.Fatalf("%s: got error %v, want nil", loader.name, err)
				}

				u, err := url.Parse(cfg.DatabaseURL)
				if err != nil {
					t.Fatalf("parse DatabaseURL: %v", err)
				}
				q := u.Query()
				if got := q["sslmode"]; len(got) != 1 || got[0] != tt.want {
					t.Errorf("sslmode: got %q, want [%s]", got, tt.want)
				}
				if got := q.Get("application_name"); got != "portero-test" {
					t.Errorf("application_name: got %q, want portero-test", got)
				}
				if pw, _ := u.User.Password(); pw != dbPassword {
					t.Errorf("password: got %q, want %q", pw, dbPassword)
				}
				if u.Host != "127.0.0.1:15432" || u.Path != "/portero" {
					t.Errorf("host and path: got %q and %q, want 127.0.0.1:15432 and /portero", u.Host, u.Path)
				}
			})
		}
	}
}

func TestLoadDevelopmentSecret(t *testing.T) {
	env := devEnv(t)
	// A directory that does not exist yet, which Load must create.
	env["DATA_DIR"] = filepath.Join(env["DATA_DIR"], "data")

	first, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("first Load: got error %v, want nil", err)
	}
	if len(first.SessionSecret) < config.MinSecretLength {
		t.Fatalf("generated secret: got %d bytes, want at least %d", len(first.SessionSecret), config.MinSecretLength)
	}

	path := filepath.Join(env["DATA_DIR"], "session-secret")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode of %s: got %v, want -rw-------", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if got := strings.TrimSpace(string(data)); got != string(first.SessionSecret) {
		t.Errorf("stored secret: got a value different from the returned one")
	}

	second, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("second Load: got error %v, want nil", err)
	}
	if !bytes.Equal(second.SessionSecret, first.SessionSecret) {
		t.Errorf("second Load: got a different secret, want the stored one")
	}
}

func TestLoadDevelopmentSecretDistinctDirs(t *testing.T) {
	first, err := config.Load(getenv(devEnv(t)))
	if err != nil {
		t.Fatalf("first Load: %v", err)
	}
	second, err := config.Load(getenv(devEnv(t)))
	if err != nil {
		t.Fatalf("second Load: %v", err)
	}

	if bytes.Equal(first.SessionSecret, second.SessionSecret) {
		t.Errorf("secrets in two DATA_DIRs: got the same value, want two random ones")
	}
}

func TestLoadPreviousSecret(t *testing.T) {
	tests := []struct {
		name     string
		previous string
		wantErr  bool
	}{
		{"valid", otherSecret, false},
		{"too short", "previous-Xq81", true},
		{"placeholder change-in-production", "old-change-in-production-0123456789abcdef", true},
		{"placeholder secret", "old-portero-secret-0123456789abcdefghijkl", true},
	}

	for _, tt := range tests {
		for _, appEnv := range []string{config.EnvDevelopment, config.EnvProduction} {
			t.Run(tt.name+" "+appEnv, func(t *testing.T) {
				env := devEnv(t)
				if appEnv == config.EnvProduction {
					env = prodEnv(t)
				}
				env["SESSION_SECRET_PREVIOUS"] = tt.previous

				cfg, err := config.Load(getenv(env))
				if !tt.wantErr {
					if err != nil {
						t.Fatalf("Load: got error %v, want nil", err)
					}
					if string(cfg.SessionSecretPrevious) != tt.previous {
						t.Errorf("SessionSecretPrevious: got a different value than SESSION_SECRET_PREVIOUS")
					}
					return
				}

				if err == nil {
					t.Fatal("Load: got nil error, want an error")
				}
				if !strings.Contains(err.Error(), "SESSION_SECRET_PREVIOUS") {
					t.Errorf("error: got %q, want it to name SESSION_SECRET_PREVIOUS", err)
				}
				if strings.Contains(err.Error(), tt.previous) {
					t.Errorf("error: got %q, want it without the secret's value", err)
				}
			})
		}
	}
}

func TestLoadPreviousSecretFromFile(t *testing.T) {
	env := prodEnv(t)
	env["SESSION_SECRET_PREVIOUS_FILE"] = writeFile(t, "previous", otherSecret+"\n")

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	if string(cfg.SessionSecretPrevious) != otherSecret {
		t.Errorf("SessionSecretPrevious: got a different value than the file holds")
	}
}

func TestLoadAdmin(t *testing.T) {
	tests := []struct {
		name      string
		email     string // empty means unset
		password  string // empty means unset
		wantErr   bool
		wantEmail string
	}{
		{"neither", "", "", false, ""},
		{"both", " admin@example.org ", "admin password 123", false, "admin@example.org"},
		{"email without password", "admin@example.org", "", true, ""},
		{"password without email", "", "admin password 123", true, ""},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := devEnv(t)
			if tt.email != "" {
				env["ADMIN_EMAIL"] = tt.email
			}
			if tt.password != "" {
				env["ADMIN_PASSWORD"] = tt.password
			}

			cfg, err := config.Load(getenv(env))
			if tt.wantErr {
				if err == nil {
					t.Fatal("Load: got nil error, want an error")
				}
				if !strings.Contains(err.Error(), "ADMIN_EMAIL") {
					t.Errorf("error: got %q, want it to name ADMIN_EMAIL", err)
				}
				if tt.password != "" && strings.Contains(err.Error(), tt.password) {
					t.Errorf("error: got %q, want it without the password", err)
				}
				return
			}

			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}
			if cfg.AdminEmail != tt.wantEmail {
				t.Errorf("AdminEmail: got %q, want %q", cfg.AdminEmail, tt.wantEmail)
			}
			if cfg.AdminPassword != tt.password {
				t.Errorf("AdminPassword: got %q, want %q", cfg.AdminPassword, tt.password)
			}
		})
	}
}

func TestLoadDatabaseWithoutSecret(t *testing.T) {
	env := map[string]string{
		"APP_ENV":      "production",
		"DATABASE_URL": testDatabaseURL,
		"BCRYPT_COST":  "11",
	}

	cfg, err := config.LoadDatabase(getenv(env))
	if err != nil {
		t.Fatalf("LoadDatabase: got error %v, want nil", err)
	}
	if cfg.BcryptCost != 11 {
		t.Errorf("BcryptCost: got %d, want 11", cfg.BcryptCost)
	}
	if cfg.SessionSecret != nil {
		t.Errorf("SessionSecret: got %d bytes, want nil", len(cfg.SessionSecret))
	}
}

// LoadDatabase, which `portero migrate` and `portero user` use, must apply
// the same production rules to the settings it shares with Load.
func TestLoadDatabaseMatchesLoad(t *testing.T) {
	tests := []struct {
		name string
		env  func(*testing.T) map[string]string
	}{
		{"development", devEnv},
		{"production", prodEnv},
	}

	for _, tt := range tests {
		t.Run(tt.name+" defaults", func(t *testing.T) {
			env := tt.env(t)

			full, err := config.Load(getenv(env))
			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}
			dbCfg, err := config.LoadDatabase(getenv(env))
			if err != nil {
				t.Fatalf("LoadDatabase: got error %v, want nil", err)
			}

			if dbCfg.AppEnv != full.AppEnv {
				t.Errorf("AppEnv: got %q, want %q as Load returns", dbCfg.AppEnv, full.AppEnv)
			}
			if dbCfg.DatabaseURL != full.DatabaseURL {
				t.Errorf("DatabaseURL: got a different URL than Load returns")
			}
			if dbCfg.BcryptCost != full.BcryptCost {
				t.Errorf("BcryptCost: got %d, want %d as Load returns", dbCfg.BcryptCost, full.BcryptCost)
			}
			if dbCfg.LogLevel != full.LogLevel {
				t.Errorf("LogLevel: got %v, want %v as Load returns", dbCfg.LogLevel, full.LogLevel)
			}
			if dbCfg.LogFormat != full.LogFormat {
				t.Errorf("LogFormat: got %q, want %q as Load returns", dbCfg.LogFormat, full.LogFormat)
			}
			if dbCfg.DatabaseOptions != full.DatabaseOptions {
				t.Errorf("DatabaseOptions: got %+v, want %+v as Load returns", dbCfg.DatabaseOptions, full.DatabaseOptions)
			}
			if dbCfg.Port != full.Port {
				t.Errorf("Port: got %d, want %d as Load returns", dbCfg.Port, full.Port)
			}
		})
	}

	t.Run("production low bcrypt cost", func(t *testing.T) {
		env := prodEnv(t)
		env["BCRYPT_COST"] = "4"

		if _, err := config.Load(getenv(env)); err == nil {
			t.Fatal("Load: got nil error, want an error for BCRYPT_COST=4 in production")
		}
		_, err := config.LoadDatabase(getenv(env))
		if err == nil {
			t.Fatal("LoadDatabase: got nil error, want an error for BCRYPT_COST=4 in production")
		}
		if !strings.Contains(err.Error(), "BCRYPT_COST") {
			t.Errorf("LoadDatabase error: got %q, want it to name BCRYPT_COST", err)
		}
	})
}

func TestLoadPort(t *testing.T) {
	tests := []struct {
		name    string
		value   string // empty means unset
		want    int
		wantErr bool
	}{
		{"default", "", 8080, false},
		{"set", "3000", 3000, false},
		{"not a number", "http", 0, true},
		{"too high", "70000", 0, true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.value != "" {
				env["PORT"] = tt.value
			}

			port, err := config.LoadPort(getenv(env))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("LoadPort(%q): got nil error, want an error", tt.value)
				}
				if !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), tt.value) {
					t.Errorf("error: got %q, want it to name PORT and %q", err, tt.value)
				}
				return
			}

			if err != nil {
				t.Fatalf("LoadPort(%q): got error %v, want nil", tt.value, err)
			}
			if port != tt.want {
				t.Errorf("LoadPort(%q): got %d, want %d", tt.value, port, tt.want)
			}
		})
	}
}

func TestSecretOfFewCharactersRejected(t *testing.T) {
	env := prodEnv(t)
	env["SESSION_SECRET"] = strings.Repeat(" ", 40)

	_, err := config.Load(getenv(env))
	if err == nil || !strings.Contains(err.Error(), "distinct characters") {
		t.Errorf("40 spaces as SESSION_SECRET: got %v, want an error about distinct characters", err)
	}
}

func TestAdminEmailMustBeAddress(t *testing.T) {
	env := devEnv(t)
	env["ADMIN_EMAIL"] = "not an email"
	env["ADMIN_PASSWORD"] = "a long enough password"

	_, err := config.Load(getenv(env))
	if err == nil || !strings.Contains(err.Error(), "ADMIN_EMAIL") {
		t.Errorf("ADMIN_EMAIL without @: got %v, want an error naming ADMIN_EMAIL", err)
	}
}

func TestTrustedProxyMappedAddress(t *testing.T) {
	env := devEnv(t)
	env["TRUSTED_PROXIES"] = "::ffff:10.0.0.1"

	cfg, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0].String() != "10.0.0.1/32" {
		t.Errorf("TRUSTED_PROXIES=::ffff:10.0.0.1: got %v, want [10.0.0.1/32]", cfg.TrustedProxies)
	}
}
