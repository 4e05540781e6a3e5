package db_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// Roles of the certificate cluster: certRole logs in only with a client
// certificate, passwordRole only with a password, and both only over TLS.
const (
	certRole     = "portero_cert"
	passwordRole = "portero_pw"
)

// serverHBA is the pg_hba.conf of the certificate cluster. The superuser
// keeps trust on 127.0.0.1 for the test's own setup. No other line matches
// certRole, so it cannot log in without a certificate.
const serverHBA = `# TYPE  DATABASE  USER          ADDRESS       METHOD
local   all       postgres                    trust
host    all       postgres      127.0.0.1/32  trust
hostssl all       ` + certRole + `  127.0.0.1/32  cert
hostssl all       ` + passwordRole + `    127.0.0.1/32  scram-sha-256
`

// certCluster is a PostgreSQL cluster with TLS on, whose server certificate
// and client certificates a test CA signs.
type certCluster struct {
	*testdb.Cluster
	ca *testCA
	// host is 127.0.0.1 and the cluster's port.
	host string
	// rootCert is the CA certificate that clients verify the server with.
	rootCert string
}

// newCertCluster starts a cluster, creates the roles, turns TLS on with a
// certificate revocation list and restarts it with serverHBA.
func newCertCluster(t *testing.T) *certCluster {
	t.Helper()

	cluster := testdb.NewCluster(t)
	u, err := url.Parse(cluster.URL)
	if err != nil {
		t.Fatalf("parse the cluster URL: %v", err)
	}
	c := &certCluster{Cluster: cluster, ca: newTestCA(t), host: u.Host}

	c.adminExec(t,
		"CREATE ROLE "+certRole+" LOGIN",
		"CREATE ROLE "+passwordRole+" LOGIN",
		"CREATE DATABASE "+certRole+" OWNER "+certRole,
		"ALTER SYSTEM SET ssl = on",
		"ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
		"ALTER SYSTEM SET ssl_key_file = 'server.key'",
		"ALTER SYSTEM SET ssl_ca_file = 'root.crt'",
		"ALTER SYSTEM SET ssl_crl_file = 'root.crl'",
	)

	server := c.ca.serverCert(t)
	c.writeServerFile(t, "server.crt", server.certPEM)
	// PostgreSQL refuses a key that group or others may read.
	c.writeServerFile(t, "server.key", server.keyPEM)
	c.writeServerFile(t, "root.crt", c.ca.certPEM)
	c.writeServerFile(t, "root.crl", c.ca.revocationList(t, 1))
	c.writeServerFile(t, "pg_hba.conf", []byte(serverHBA))

	c.rootCert = filepath.Join(t.TempDir(), "root.crt")
	if err := os.WriteFile(c.rootCert, c.ca.certPEM, 0o644); err != nil {
		t.Fatalf("write %s: %v", c.rootCert, err)
	}

	// A restart, unlike a reload, fails at once when the TLS settings are
	// wrong.
	c.Stop(t)
	c.Start(t)

	return c
}

// adminExec runs each statement as the superuser.
func (c *certCluster) adminExec(t *testing.T, statements ...string) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatalf("connect as the superuser: %v", err)
	}
	defer conn.Close(ctx)

	for _, statement := range statements {
		if _, err := conn.Exec(ctx, statement); err != nil {
			t.Fatalf("%s: %v", strings.SplitN(statement, " PASSWORD", 2)[0], err)
		}
	}
}

// writeServerFile writes a file with mode 0600 into the data directory and
// gives it to the owner of that directory, the user the server runs as.
func (c *certCluster) writeServerFile(t *testing.T, name string, data []byte) {
	t.Helper()

	info, err := os.Stat(c.DataDir())
	if err != nil {
		t.Fatalf("stat the data directory: %v", err)
	}
	owner, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("stat the data directory: got no owner from %T", info.Sys())
	}

	path := filepath.Join(c.DataDir(), name)
	replaceFile(t, path, data, 0o600)
	if err := os.Chown(path, int(owner.Uid), int(owner.Gid)); err != nil {
		t.Fatalf("chown %s: %v", path, err)
	}
}

// setPassword sets the password of passwordRole and then writes it, with a
// line break as editors leave one, into passwordFile.
func (c *certCluster) setPassword(t *testing.T, passwordFile, password string) {
	t.Helper()

	c.adminExec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", passwordRole, password))
	replaceFile(t, passwordFile, []byte(password+"\n"), 0o600)
}

// url returns the URL of role's login to dbname with sslmode=verify-full
// and query's extra parameters.
func (c *certCluster) url(role, dbname string, query url.Values) string {
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {c.rootCert}}
	for name, values := range query {
		q[name] = values
	}
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: c.host, Path: "/" + dbname, RawQuery: q.Encode()}

	return u.String()
}

// certURL returns the URL of certRole's login with a client certificate.
func (c *certCluster) certURL(certPath, keyPath string) string {
	return c.url(certRole, certRole, url.Values{"sslcert": {certPath}, "sslkey": {keyPath}})
}

// openPool opens Portero's pool and closes it when the test ends.
func openPool(t *testing.T, connString string, opts db.Options) *db.DB {
	t.Helper()

	database, err := db.Open(context.Background(), connString, opts)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	t.Cleanup(database.Close)

	return database
}

// acquireNew acquires a connection while the test holds every other
// connection of the pool, so the pool opens a new one. It is released when
// the test ends.
func acquireNew(t *testing.T, database *db.DB) *pgxpool.Conn {
	t.Helper()

	if idle := database.Pool.Stat().IdleConns(); idle != 0 {
		t.Fatalf("idle connections before acquire: got %d, want 0, so that the pool opens a new one", idle)
	}

	return acquire(t, database)
}

// acquire acquires a connection, which is released when the test ends.
func acquire(t *testing.T, database *db.DB) *pgxpool.Conn {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := database.Pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire a new connection: %v", err)
	}
	t.Cleanup(conn.Release)

	return conn
}

// tlsLogin returns the role and the client certificate's serial number of
// conn's session, as the server reports them.
func tlsLogin(t *testing.T, conn *pgxpool.Conn) (role, serial string) {
	t.Helper()

	var ssl bool
	var clientSerial *string
	err := conn.QueryRow(context.Background(), `
		SELECT current_user, ssl, client_serial::text
		FROM pg_stat_ssl
		WHERE pid = pg_backend_pid()`).Scan(&role, &ssl, &clientSerial)
	if err != nil {
		t.Fatalf("read pg_stat_ssl: %v", err)
	}
	if !ssl {
		t.Fatalf("pg_stat_ssl.ssl of %s: got false, want true", role)
	}
	if clientSerial != nil {
		serial = *clientSerial
	}

	return role, serial
}

// requireSQLState fails the test unless err carries a server error with
// the SQLSTATE code.
func requireSQLState(t *testing.T, err error, code, operation string) {
	t.Helper()

	if err == nil {
		t.Fatalf("%s: got nil error, want SQLSTATE %s", operation, code)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("%s: got %v, want a server error with SQLSTATE %s", operation, err, code)
	}
	if pgErr.Code != code {
		t.Errorf("%s: got SQLSTATE %s (%s), want %s", operation, pgErr.Code, pgErr.Message, code)
	}
}

func randomPassword(t *testing.T) string {
	t.Helper()

	raw := make([]byte, 24)
	rand.Read(raw)

	return hex.EncodeToString(raw)
}

// TestDatabaseCredentials runs Portero's pool against a cluster that
// accepts its role only with a client certificate, or only with a password
// over TLS, and rotates both while the pool stays open.
func TestDatabaseCredentials(t *testing.T) {
	c := newCertCluster(t)
	ctx := context.Background()

	t.Run("client certificate login", func(t *testing.T) {
		cert := c.ca.clientCert(t, certRole)
		certPath, keyPath := writeClientFiles(t, t.TempDir(), cert)
		database := openPool(t, c.certURL(certPath, keyPath), db.Options{})

		// The migrations run through the same pool, as `portero migrate`
		// and `portero serve` run them.
		if err := database.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatalf("Migrate: got error %v, want nil", err)
		}
		conn := acquire(t, database)
		role, serial := tlsLogin(t, conn)
		if role != certRole {
			t.Errorf("current_user: got %s, want %s", role, certRole)
		}
		if serial != cert.serial.String() {
			t.Errorf("client certificate serial: got %q, want %s", serial, cert.serial)
		}

		var timeout string
		if err := conn.QueryRow(ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil {
			t.Fatalf("SHOW statement_timeout: %v", err)
		}
		if timeout != "5s" {
			t.Errorf("statement_timeout: got %s, want 5s as Open sets it", timeout)
		}
	})

	t.Run("login without certificate rejected", func(t *testing.T) {
		intruder := c.ca.clientCert(t, "intruder")
		intruderCert, intruderKey := writeClientFiles(t, t.TempDir(), intruder)

		tests := []struct {
			name string
			url  string
		}{
			{"TLS without certificate", c.url(certRole, certRole, nil)},
			{"no TLS", c.url(certRole, certRole, url.Values{"sslmode": {"disable"}})},
			{"certificate of another role", c.certURL(intruderCert, intruderKey)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				database := openPool(t, tt.url, db.Options{})
				// SQLSTATE 28000 is invalid_authorization_specification.
				requireSQLState(t, database.Ping(ctx), "28000", "Ping")
			})
		}
	})

	t.Run("rotated certificate used by new connections", func(t *testing.T) {
		old := c.ca.clientCert(t, certRole)
		dir := t.TempDir()
		certPath, keyPath := writeClientFiles(t, dir, old)
		// A copy of the old pair, which the server must reject once the
		// old certificate is revoked.
		oldCert, oldKey := writeClientFiles(t, t.TempDir(), old)
		database := openPool(t, c.certURL(certPath, keyPath), db.Options{})

		first := acquireNew(t, database)
		if _, serial := tlsLogin(t, first); serial != old.serial.String() {
			t.Fatalf("first connection's certificate serial: got %q, want %s", serial, old.serial)
		}

		rotated := c.ca.clientCert(t, certRole)
		writeClientFiles(t, dir, rotated)
		second := acquireNew(t, database)
		if _, serial := tlsLogin(t, second); serial != rotated.serial.String() {
			t.Errorf("connection opened after the rotation: got certificate serial %q, want %s", serial, rotated.serial)
		}
		// An open connection keeps its certificate until
		// MaxConnLifetime closes it.
		if _, serial := tlsLogin(t, first); serial != old.serial.String() {
			t.Errorf("connection opened before the rotation: got certificate serial %q, want %s", serial, old.serial)
		}

		c.writeServerFile(t, "root.crl", c.ca.revocationList(t, 2, old.serial))
		c.adminExec(t, "SELECT pg_reload_conf()")
		// The server applies the reload in the background, so the test
		// waits until it rejects the old certificate.
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := pgx.Connect(ctx, c.certURL(oldCert, oldKey))
			if err != nil {
				t.Logf("login with the revoked certificate: %v", err)
				break
			}
			conn.Close(ctx)
			if time.Now().After(deadline) {
				t.Fatal("login with the revoked certificate: still accepted 30s after the reload, want it rejected")
			}
			time.Sleep(100 * time.Millisecond)
		}

		third := acquireNew(t, database)
		if _, serial := tlsLogin(t, third); serial != rotated.serial.String() {
			t.Errorf("connection opened after the revocation: got certificate serial %q, want %s", serial, rotated.serial)
		}
	})

	t.Run("rotated password used by new connections", func(t *testing.T) {
		oldPassword := randomPassword(t)
		passwordFile := filepath.Join(t.TempDir(), "password")
		c.setPassword(t, passwordFile, oldPassword)

		connString := c.url(passwordRole, "postgres", nil)
		database := openPool(t, connString, db.Options{PasswordFile: passwordFile})
		first := acquireNew(t, database)
		if role, _ := tlsLogin(t, first); role != passwordRole {
			t.Fatalf("current_user: got %s, want %s", role, passwordRole)
		}

		c.setPassword(t, passwordFile, randomPassword(t))
		second := acquireNew(t, database)
		if role, _ := tlsLogin(t, second); role != passwordRole {
			t.Errorf("current_user after the rotation: got %s, want %s", role, passwordRole)
		}

		config, err := pgx.ParseConfig(connString)
		if err != nil {
			t.Fatalf("parse the URL: %v", err)
		}
		config.Password = oldPassword
		_, err = pgx.ConnectConfig(ctx, config)
		// SQLSTATE 28P01 is invalid_password.
		requireSQLState(t, err, "28P01", "login with the old password")
	})

	t.Run("listener renews its login", func(t *testing.T) {
		oldPassword := randomPassword(t)
		passwordFile := filepath.Join(t.TempDir(), "password")
		c.setPassword(t, passwordFile, oldPassword)

		// The listener logs in outside the pool, and must still read the
		// password file and end its connection at the pool's lifetime.
		database := openPool(t, c.url(passwordRole, "postgres", nil), db.Options{PasswordFile: passwordFile, MaxConnLifetime: time.Second})
		rec := startListening(t, database)

		c.setPassword(t, passwordFile, randomPassword(t))
		rec.mu.Lock()
		resetsBefore := rec.resets
		rec.mu.Unlock()

		// The end of the old connection resets, and so does the new one
		// before it is trusted.
		rec.waitFor(t, "a renewed listening connection", func() bool { return rec.resets >= resetsBefore+2 })
		rec.mu.Lock()
		aliveBefore := rec.alive
		rec.mu.Unlock()
		rec.waitFor(t, "heartbeats on a connection opened with the new password", func() bool { return rec.alive > aliveBefore })
	})
}

// closedPortURL returns a URL of certRole at a port where nothing listens,
// with the client certificate files, so that a connection fails after the
// files are checked.
func closedPortURL(t *testing.T, certPath, keyPath string) string {
	t.Helper()

	q := url.Values{"sslmode": {"require"}, "connect_timeout": {"1"}}
	if certPath != "" {
		q.Set("sslcert", certPath)
		q.Set("sslkey", keyPath)
	}

	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?%s", certRole, closedPort(t), certRole, q.Encode())
}

func TestOpenCredentialFileMode(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.clientCert(t, certRole)

	tests := []struct {
		name         string
		keyMode      os.FileMode // 0 means no client certificate
		password     string      // empty means no password file
		passwordMode os.FileMode
		skipCheck    bool
		wantErr      string // empty means no error
	}{
		{"private key", 0o600, "", 0, false, ""},
		{"read-only key", 0o400, "", 0, false, ""},
		{"key readable by group", 0o640, "", 0, false, "sslkey in DATABASE_URL"},
		{"key readable by others", 0o604, "", 0, false, "has mode 0604"},
		{"shared key with the check off", 0o644, "", 0, true, ""},
		{"private password file", 0, "pw-8Fq3", 0o600, false, ""},
		{"password file readable by all", 0, "pw-8Fq3", 0o644, false, "DATABASE_PASSWORD_FILE"},
		{"shared password file with the check off", 0, "pw-8Fq3", 0o644, true, ""},
		{"empty password file", 0, "\n", 0o600, false, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var certPath, keyPath string
			if tt.keyMode != 0 {
				certPath, keyPath = writeClientFiles(t, dir, cert)
				if err := os.Chmod(keyPath, tt.keyMode); err != nil {
					t.Fatalf("chmod %s: %v", keyPath, err)
				}
			}
			opts := db.Options{SkipFileModeCheck: tt.skipCheck}
			if tt.password != "" {
				opts.PasswordFile = filepath.Join(dir, "password")
				replaceFile(t, opts.PasswordFile, []byte(tt.password), tt.passwordMode)
			}

			database, err := db.Open(context.Background(), closedPortURL(t, certPath, keyPath), opts)
			if err == nil {
				database.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Open: got error %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Open: got nil error, want an error that contains %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Open: got error %q, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw-8Fq3") {
				t.Errorf("Open error: got %q, want it without the password", err)
			}
		})
	}

	t.Run("missing password file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "password")
		_, err := db.Open(context.Background(), closedPortURL(t, "", ""), db.Options{PasswordFile: missing})
		if err == nil || !strings.Contains(err.Error(), "cannot read DATABASE_PASSWORD_FILE") {
			t.Errorf("Open: got error %v, want one that says it cannot read DATABASE_PASSWORD_FILE", err)
		}
	})
}

// pgx reads the pair at Open, so a rotation that wrote a new key beside the
// old certificate fails the start with an error that names the files.
func TestOpenMismatchedCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certPath, keyPath := writeClientFiles(t, dir, ca.clientCert(t, certRole))
	replaceFile(t, keyPath, ca.clientCert(t, certRole).keyPEM, 0o600)

	_, err := db.Open(context.Background(), closedPortURL(t, certPath, keyPath), db.Options{})
	if err == nil || !strings.Contains(err.Error(), "sslcert and sslkey") {
		t.Errorf("Open: got error %v, want one that names sslcert and sslkey", err)
	}
}

// A key replaced by a rotation with a wider mode, or a password file that
// disappears, must stop new connections, not only the start.
func TestNewConnectionChecksCredentialFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	certPath, keyPath := writeClientFiles(t, dir, newTestCA(t).clientCert(t, certRole))
	passwordFile := filepath.Join(dir, "password")
	replaceFile(t, passwordFile, []byte("pw-8Fq3\n"), 0o600)

	database := openPool(t, closedPortURL(t, certPath, keyPath), db.Options{PasswordFile: passwordFile})

	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatalf("chmod %s: %v", keyPath, err)
	}
	err := database.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "has mode 0644") {
		t.Errorf("Ping with a key readable by all: got error %v, want one that names mode 0644", err)
	}
	if !db.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v): got false, want true", err)
	}

	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatalf("chmod %s: %v", keyPath, err)
	}
	if err := os.Remove(passwordFile); err != nil {
		t.Fatalf("remove %s: %v", passwordFile, err)
	}
	err = database.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot read DATABASE_PASSWORD_FILE") {
		t.Errorf("Ping without the password file: got error %v, want one that says it cannot read DATABASE_PASSWORD_FILE", err)
	}
}

func TestOpenMaxConnLifetime(t *testing.T) {
	tests := []struct {
		name string
		opts db.Options
		want time.Duration
	}{
		{"default", db.Options{}, db.DefaultMaxConnLifetime},
		{"set", db.Options{MaxConnLifetime: 10 * time.Minute}, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			database := openPool(t, closedPortURL(t, "", ""), tt.opts)
			if got := database.Pool.Config().MaxConnLifetime; got != tt.want {
				t.Errorf("MaxConnLifetime: got %v, want %v", got, tt.want)
			}
		})
	}
}
