// Package config reads Portero's settings from environment variables and
// validates them before anything starts.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/portero/portero/db"
	"github.com/portero/portero/password"
)

// Environments accepted by APP_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// MinSecretLength is the minimum SESSION_SECRET length in bytes, so that the
// derived HMAC and AES keys start from 256 bits of input.
const MinSecretLength = 32

// Config is the validated configuration of one Portero process.
type Config struct {
	Port   int
	AppEnv string

	DatabaseURL string
	// DatabaseOptions are DATABASE_PASSWORD_FILE,
	// DATABASE_MAX_CONN_LIFETIME and DATABASE_CHECK_FILE_MODE.
	DatabaseOptions db.Options
	// DataDir keeps development state: the generated session secret.
	DataDir string

	SessionSecret         []byte
	SessionSecretPrevious []byte
	SessionMaxAge         time.Duration
	SessionIdleTimeout    time.Duration

	BcryptCost int
	LogLevel   slog.Level
	LogFormat  string

	// PasswordPepper (PASSWORD_PEPPER) is the HMAC key of peppered
	// password hashes (see password.Hasher), or nil when unset.
	PasswordPepper []byte

	AdminEmail    string
	AdminPassword string

	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed. X-Real-IP is never read,
	// because nginx appends the same address to X-Forwarded-For.
	TrustedProxies []*net.IPNet
	// CookieSecure marks cookies Secure and gives them the __Host- prefix.
	CookieSecure bool

	// LoginMaxFailures (LOGIN_MAX_FAILURES, default 5) failed logins of one
	// account within LoginFailureWindow (LOGIN_FAILURE_WINDOW, default 15m)
	// lock it for LoginFirstLockout. Each further failure doubles the lock,
	// up to LoginMaxLockout (LOGIN_MAX_LOCKOUT, default 15m).
	LoginMaxFailures   int
	LoginFailureWindow time.Duration
	LoginMaxLockout    time.Duration
	// LoginIPMaxFailures (LOGIN_IP_MAX_FAILURES, default 50) failed logins
	// from one client IP, on any accounts, lock that IP in the same way.
	LoginIPMaxFailures int
	// BcryptConcurrency (BCRYPT_CONCURRENCY, default
	// DefaultBcryptConcurrency) is how many bcrypt computations may run at
	// once in the process.
	BcryptConcurrency int

	// SMTP is the mail server for security notices by email, or nil when
	// neither SMTP_URL nor SMTP_HOST is set, which turns email off.
	SMTP *SMTP
	// WebAuthnRPID (WEBAUTHN_RP_ID, default localhost) is the domain that
	// security keys are registered for. WebAuthnOrigins (WEBAUTHN_ORIGINS,
	// default http://localhost:PORT) are the origins of the pages that
	// may use them.
	WebAuthnRPID    string
	WebAuthnOrigins []string
}

// DefaultBcryptConcurrency returns half the CPUs the process may use, at
// least 1, so that bcrypt leaves CPUs for the pages that need none. It
// reads GOMAXPROCS rather than runtime.NumCPU, because since Go 1.25
// GOMAXPROCS follows a container's CPU limit and NumCPU counts the host's.
func DefaultBcryptConcurrency() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// LoginFirstLockout is the lock that the failure at the login limit sets.
const LoginFirstLockout = time.Minute

// DefaultTrustedProxies covers loopback and the private ranges, which
// include the overlay network CapRover's nginx connects from.
const DefaultTrustedProxies = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

// PasswordHasher returns the hasher for BCRYPT_COST and PASSWORD_PEPPER.
func (c *Config) PasswordHasher() password.Hasher {
	return password.Hasher{Cost: c.BcryptCost, Pepper: c.PasswordPepper}
}

// Production reports whether APP_ENV is production.
func (c *Config) Production() bool { return c.AppEnv == EnvProduction }

// Getenv is the lookup function Load reads variables through; tests pass a map.
type Getenv func(string) (string, bool)

// Load reads and validates every variable. All problems are returned together
// so that one start shows every setting to fix.
func Load(getenv Getenv) (*Config, error) {
	r := reader{getenv: getenv}
	c := &Config{}

	c.Port = r.intRange("PORT", 8080, 1, 65535)
	c.AppEnv = r.oneOf("APP_ENV", EnvDevelopment, EnvDevelopment, EnvProduction)
	c.DataDir = r.str("DATA_DIR", ".data")
	c.DatabaseURL = r.databaseURL()
	c.DatabaseOptions = r.databaseOptions(c.DatabaseURL)
	c.SessionMaxAge = r.duration("SESSION_MAX_AGE", 720*time.Hour)
	c.SessionIdleTimeout = r.duration("SESSION_IDLE_TIMEOUT", 168*time.Hour)
	c.BcryptCost = r.bcryptCost(c.Production())
	c.LogLevel = r.logLevel()
	c.LogFormat = r.logFormat(c.Production())

	c.SessionSecret = r.sessionSecret("SESSION_SECRET", c.Production(), c.DataDir)
	if previous, ok := r.secret("SESSION_SECRET_PREVIOUS"); ok {
		if err := checkSecret("SESSION_SECRET_PREVIOUS", previous); err != nil {
			r.errs = append(r.errs, err)
		}
		c.SessionSecretPrevious = []byte(previous)
	}
	c.PasswordPepper = r.passwordPepper()
	// A pepper equal to a session secret would be lost on the next rotation
	// of that secret, and every peppered password with it.
	pepper := string(c.PasswordPepper)
	if pepper != "" && (pepper == string(c.SessionSecret) || pepper == string(c.SessionSecretPrevious)) {
		r.errs = append(r.errs, errors.New("invalid PASSWORD_PEPPER (value not shown): it equals SESSION_SECRET or SESSION_SECRET_PREVIOUS; generate a separate one with `openssl rand -base64 48`"))
	}

	c.AdminEmail = strings.TrimSpace(r.str("ADMIN_EMAIL", ""))
	c.AdminPassword, _ = r.secret("ADMIN_PASSWORD")
	if c.AdminEmail != "" && (!strings.Contains(c.AdminEmail, "@") || strings.ContainsFunc(c.AdminEmail, unicode.IsSpace)) {
		r.fail("ADMIN_EMAIL", c.AdminEmail, "must be an email address, such as admin@example.org")
	}
	if c.AdminPassword != "" {
		if err := c.PasswordHasher().Validate(c.AdminPassword); err != nil {
			r.errs = append(r.errs, fmt.Errorf("invalid ADMIN_PASSWORD (value not shown): %w", err))
		}
	}
	if c.AdminEmail != "" && c.AdminPassword == "" {
		r.fail("ADMIN_EMAIL", c.AdminEmail, "ADMIN_PASSWORD or ADMIN_PASSWORD_FILE must be set with it")
	}
	if c.AdminEmail == "" && c.AdminPassword != "" {
		r.fail("ADMIN_EMAIL", "", "set it to the email of the admin to create, or unset ADMIN_PASSWORD")
	}

	c.TrustedProxies = r.trustedProxies()
	c.CookieSecure = r.boolean("COOKIE_SECURE", c.Production())

	c.LoginMaxFailures = r.intRange("LOGIN_MAX_FAILURES", 5, 1, 1000)
	c.LoginFailureWindow = r.duration("LOGIN_FAILURE_WINDOW", 15*time.Minute)
	c.LoginMaxLockout = r.duration("LOGIN_MAX_LOCKOUT", 15*time.Minute)
	c.LoginIPMaxFailures = r.intRange("LOGIN_IP_MAX_FAILURES", 50, 1, 1000000)
	c.BcryptConcurrency = r.intRange("BCRYPT_CONCURRENCY", DefaultBcryptConcurrency(), 1, 1024)
	c.SMTP = r.smtp()
	c.WebAuthnRPID = r.webAuthnRPID()
	c.WebAuthnOrigins = r.webAuthnOrigins(c.WebAuthnRPID, c.Port)

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}

	return c, nil
}

// LoadDatabase reads only what commands that touch the database need, so that
// `portero migrate` and `portero user ...` run without a session secret.
// It reads PASSWORD_PEPPER, because `portero user` hashes passwords.
func LoadDatabase(getenv Getenv) (*Config, error) {
	r := reader{getenv: getenv}
	c := &Config{
		AppEnv:      r.oneOf("APP_ENV", EnvDevelopment, EnvDevelopment, EnvProduction),
		DatabaseURL: r.databaseURL(),
		LogLevel:    r.logLevel(),
		Port:        r.intRange("PORT", 8080, 1, 65535),
	}
	c.DatabaseOptions = r.databaseOptions(c.DatabaseURL)
	c.BcryptCost = r.bcryptCost(c.Production())
	c.LogFormat = r.logFormat(c.Production())
	c.PasswordPepper = r.passwordPepper()

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}

	return c, nil
}

type reader struct {
	getenv Getenv
	errs   []error
}

func (r *reader) fail(name, value, hint string) {
	r.errs = append(r.errs, fmt.Errorf("invalid %s %q: %s", name, value, hint))
}

func (r *reader) str(name, def string) string {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return def
	}

	return v
}

// bcryptCost reads BCRYPT_COST. Costs under 10 are for tests only.
func (r *reader) bcryptCost(production bool) int {
	cost := r.intRange("BCRYPT_COST", 12, 4, 31)
	if production && cost < 10 {
		r.fail("BCRYPT_COST", strconv.Itoa(cost), "must be at least 10 when APP_ENV=production")
	}

	return cost
}

func (r *reader) logFormat(production bool) string {
	def := "text"
	if production {
		def = "json"
	}

	return r.oneOf("LOG_FORMAT", def, "json", "text")
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}

	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, fmt.Sprintf("must be true or false (default %t)", def))
		return def
	}

	return b
}

// trustedProxies parses TRUSTED_PROXIES, a comma-separated list of CIDR
// ranges or single addresses. "none" trusts no peer.
func (r *reader) trustedProxies() []*net.IPNet {
	v := strings.TrimSpace(r.str("TRUSTED_PROXIES", DefaultTrustedProxies))
	if strings.EqualFold(v, "none") {
		return nil
	}

	var nets []*net.IPNet
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			// A single address; an IPv4-mapped IPv6 one such as
			// ::ffff:10.0.0.1 stands for its IPv4 address.
			if addr, err := netip.ParseAddr(part); err == nil {
				addr = addr.Unmap()
				part = netip.PrefixFrom(addr, addr.BitLen()).String()
			}
		}

		_, n, err := net.ParseCIDR(part)
		if err != nil {
			r.fail("TRUSTED_PROXIES", part, "each entry must be a CIDR range such as 10.0.0.0/8 or an IP address; use none to trust no proxy")
			continue
		}
		nets = append(nets, n)
	}

	return nets
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v, ok := r.getenv(name)
	if !ok || v == "" {
		return def
	}

	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("must be a whole number from %d to %d (default %d)", lo, hi, def))
		return def
	}

	return n
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.str(name, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(name, v, "must be one of: "+strings.Join(allowed, ", "))

	return def
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}

	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute {
		r.fail(name, v, fmt.Sprintf("must be a Go duration of at least 1m, such as 720h or 90m (default %s)", formatDuration(def)))
		return def
	}

	return d
}

func (r *reader) logLevel() slog.Level {
	v := r.str("LOG_LEVEL", "info")

	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		r.fail("LOG_LEVEL", v, "must be debug, info, warn or error")
		return slog.LevelInfo
	}

	return level
}

// secret reads NAME, or the contents of the file named by NAME_FILE. Setting
// both is an error because it is unclear which one the operator meant.
func (r *reader) secret(name string) (string, bool) {
	value, hasValue := r.getenv(name)
	path, hasFile := r.getenv(name + "_FILE")
	hasValue = hasValue && value != ""
	hasFile = hasFile && path != ""

	switch {
	case hasValue && hasFile:
		r.fail(name+"_FILE", path, "set either "+name+" or "+name+"_FILE, not both")
		return "", false
	case hasFile:
		data, err := os.ReadFile(path)
		if err != nil {
			r.fail(name+"_FILE", path, "cannot read the file: "+errors.Unwrap(err).Error())
			return "", false
		}
		value = strings.TrimRight(string(data), "\r\n")
		if value == "" {
			r.fail(name+"_FILE", path, "the file is empty")
			return "", false
		}
		return value, true
	case hasValue:
		return value, true
	}

	return "", false
}

// placeholderWords mark secrets copied from examples rather than generated.
var placeholderWords = []string{"change-in-production", "changeme", "change-me", "secret", "example", "placeholder", "password"}

// minDistinctSecretChars is the fewest distinct characters a secret may
// have. 32 random base64 characters have about 25 on average, and fewer
// than 10 is vanishingly unlikely for any random secret of 32 bytes or more.
const minDistinctSecretChars = 10

func checkSecret(name, value string) error {
	if len(value) < MinSecretLength {
		return fmt.Errorf("invalid %s (%d bytes, value not shown): must be at least %d bytes; generate one with `openssl rand -base64 48`", name, len(value), MinSecretLength)
	}

	// A real random secret has many distinct bytes; 40 spaces or a
	// repeated character has a handful.
	distinct := map[rune]bool{}
	for _, ch := range value {
		distinct[ch] = true
	}
	if len(distinct) < minDistinctSecretChars {
		return fmt.Errorf("invalid %s (value not shown): it has only %d distinct characters, so it is not random; generate one with `openssl rand -base64 48`", name, len(distinct))
	}

	lower := strings.ToLower(value)
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return fmt.Errorf("invalid %s (value not shown): it contains the placeholder word %q; generate a random one with `openssl rand -base64 48`", name, w)
		}
	}

	return nil
}

// passwordPepper returns PASSWORD_PEPPER, or nil when it is unset. It
// checks the value with the rules of SESSION_SECRET.
func (r *reader) passwordPepper() []byte {
	value, ok := r.secret("PASSWORD_PEPPER")
	if !ok {
		return nil
	}
	if err := checkSecret("PASSWORD_PEPPER", value); err != nil {
		r.errs = append(r.errs, err)
		return nil
	}

	return []byte(value)
}

// sessionSecret returns SESSION_SECRET. In development, when it is unset, it
// generates one and keeps it in dataDir so that restarts keep sessions valid.
func (r *reader) sessionSecret(name string, production bool, dataDir string) []byte {
	value, ok := r.secret(name)
	if ok {
		if err := checkSecret(name, value); err != nil {
			r.errs = append(r.errs, err)
			return nil
		}
		return []byte(value)
	}

	if production {
		r.errs = append(r.errs, fmt.Errorf("missing %s: it is required when APP_ENV=production; set it (or %s_FILE) to at least %d random bytes, for example `openssl rand -base64 48`", name, name, MinSecretLength))
		return nil
	}

	secret, err := developmentSecret(dataDir)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("missing %s and no development secret could be kept in %s: %w", name, dataDir, err))
		return nil
	}

	return secret
}

func developmentSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "session-secret")

	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) >= MinSecretLength {
		return []byte(strings.TrimSpace(string(data))), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}

	raw := make([]byte, 48)
	rand.Read(raw)
	secret := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}

	return []byte(secret), nil
}

// databaseURL returns DATABASE_URL with the sslmode that DATABASE_SSL
// requests. DATABASE_SSL=true sets require, TLS without certificate
// verification, unless the URL sets verify-ca or verify-full, which it
// keeps. Otherwise an sslmode in the URL wins, and with none TLS is off.
func (r *reader) databaseURL() string {
	raw, _ := r.secret("DATABASE_URL")
	forceTLS := false
	if v := r.str("DATABASE_SSL", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.fail("DATABASE_SSL", v, "must be true or false")
		}
		forceTLS = b
	}
	if raw == "" {
		r.errs = append(r.errs, errors.New("missing DATABASE_URL: set it to postgres://USER:PASSWORD@HOST:5432/DBNAME, or use `make run`, which starts a local database"))
		return ""
	}

	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// The URL may contain a password, so only its shape is reported.
		r.errs = append(r.errs, errors.New("invalid DATABASE_URL (value not shown): must look like postgres://USER:PASSWORD@HOST:5432/DBNAME"))
		return ""
	}

	q := u.Query()
	switch mode := q.Get("sslmode"); {
	case forceTLS && mode != "verify-ca" && mode != "verify-full":
		q.Set("sslmode", "require")
	case mode == "":
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()

	return u.String()
}

// databaseOptions reads the connection settings that DATABASE_URL does not
// carry. The files are checked when db.Open reads them.
func (r *reader) databaseOptions(databaseURL string) db.Options {
	opts := db.Options{
		PasswordFile:      r.str("DATABASE_PASSWORD_FILE", ""),
		MaxConnLifetime:   r.duration("DATABASE_MAX_CONN_LIFETIME", db.DefaultMaxConnLifetime),
		SkipFileModeCheck: !r.boolean("DATABASE_CHECK_FILE_MODE", true),
	}

	if opts.PasswordFile != "" {
		if u, err := url.Parse(databaseURL); err == nil {
			_, inUserInfo := u.User.Password()
			// pgx also takes the password from a password parameter.
			if inUserInfo || u.Query().Has("password") {
				r.fail("DATABASE_PASSWORD_FILE", opts.PasswordFile, "DATABASE_URL contains a password too; remove it from the URL, so that the file is the only place to rotate it")
			}
		}
	}

	return opts
}

// LoadPort reads only PORT, for `portero healthcheck`.
func LoadPort(getenv Getenv) (int, error) {
	r := reader{getenv: getenv}
	port := r.intRange("PORT", 8080, 1, 65535)

	return port, errors.Join(r.errs...)
}

// formatDuration writes d as a Go duration without zero minutes and
// seconds, as the documentation does: 720h, not 720h0m0s.
func formatDuration(d time.Duration) string {
	text := d.String()
	text = strings.TrimSuffix(text, "0s")
	text = strings.TrimSuffix(text, "0m")
	if text == "" {
		return "0s"
	}

	return text
}
