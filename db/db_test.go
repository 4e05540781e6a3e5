package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/testdb"
)

// hashOf returns a bcrypt hash of pw at the minimum cost, which the users
// table's CHECK constraint accepts.
func hashOf(t *testing.T, pw string) string {
	t.Helper()

	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}

	return string(hash)
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func countUsers(t *testing.T, database *db.DB) int {
	t.Helper()

	var n int
	if err := database.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("count users: %v", err)
	}

	return n
}

// closedPort returns a port on 127.0.0.1 where nothing listens, by opening a
// listener and closing it again.
func closedPort(t *testing.T) int {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	return port
}

func TestCreateUserIfMissingIdempotent(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	firstHash := hashOf(t, "first password")
	created, err := database.CreateUserIfMissing(ctx, "ana@example.org", "Ana", firstHash, db.RoleUser)
	if err != nil {
		t.Fatalf("first CreateUserIfMissing: got error %v, want nil", err)
	}
	if !created {
		t.Errorf("first CreateUserIfMissing: got created false, want true")
	}

	for _, email := range []string{"ana@example.org", "ANA@Example.ORG"} {
		created, err := database.CreateUserIfMissing(ctx, email, "Someone else", hashOf(t, "second password"), db.RoleAdmin)
		if err != nil {
			t.Fatalf("CreateUserIfMissing(%q) again: got error %v, want nil", email, err)
		}
		if created {
			t.Errorf("CreateUserIfMissing(%q) again: got created true, want false", email)
		}
	}

	user, err := database.UserByEmail(ctx, "ana@example.org")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if user.PasswordHash != firstHash {
		t.Errorf("password hash: got %q, want the first one %q", user.PasswordHash, firstHash)
	}
	if user.DisplayName != "Ana" {
		t.Errorf("display name: got %q, want Ana", user.DisplayName)
	}
	if user.Role != db.RoleUser {
		t.Errorf("role: got %q, want %q (an existing user is never changed)", user.Role, db.RoleUser)
	}
	if user.Email != "ana@example.org" {
		t.Errorf("email: got %q, want ana@example.org", user.Email)
	}
	if n := countUsers(t, database); n != 1 {
		t.Errorf("user count: got %d, want 1", n)
	}
}

func TestCreateUserEmailTaken(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	if _, err := database.CreateUser(ctx, "Ana@Example.org", "Ana", hashOf(t, "first password")); err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}

	for _, email := range []string{"Ana@Example.org", "ana@example.org", "ANA@EXAMPLE.ORG"} {
		user, err := database.CreateUser(ctx, email, "Other", hashOf(t, "other password"))
		if !errors.Is(err, db.ErrEmailTaken) {
			t.Errorf("CreateUser(%q): got error %v, want ErrEmailTaken", email, err)
		}
		if user != nil {
			t.Errorf("CreateUser(%q): got user %d, want nil", email, user.ID)
		}
	}

	if n := countUsers(t, database); n != 1 {
		t.Errorf("user count: got %d, want 1", n)
	}
}

func TestCreateUserFields(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()
	hash := hashOf(t, "some password")

	user, err := database.CreateUser(ctx, "ana@example.org", "Ana", hash)
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}

	if user.ID <= 0 {
		t.Errorf("ID: got %d, want a positive id", user.ID)
	}
	if user.PasswordHash != hash {
		t.Errorf("PasswordHash: got %q, want %q", user.PasswordHash, hash)
	}
	if user.Disabled() {
		t.Errorf("Disabled: got true, want false")
	}
	if time.Since(user.CreatedAt) > time.Minute || user.CreatedAt.IsZero() {
		t.Errorf("CreatedAt: got %v, want about now", user.CreatedAt)
	}

	byID, err := database.UserByID(ctx, user.ID)
	if err != nil {
		t.Fatalf("UserByID: got error %v, want nil", err)
	}
	if byID.Email != "ana@example.org" {
		t.Errorf("UserByID email: got %q, want ana@example.org", byID.Email)
	}
}

func TestUserByEmailCase(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	created, err := database.CreateUser(ctx, "Ana.Perez@Example.org", "Ana", hashOf(t, "some password"))
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	for _, email := range []string{"Ana.Perez@Example.org", "ana.perez@example.org", "ANA.PEREZ@EXAMPLE.ORG"} {
		user, err := database.UserByEmail(ctx, email)
		if err != nil {
			t.Errorf("UserByEmail(%q): got error %v, want nil", email, err)
			continue
		}
		if user.ID != created.ID {
			t.Errorf("UserByEmail(%q): got user %d, want %d", email, user.ID, created.ID)
		}
		if user.Email != "Ana.Perez@Example.org" {
			t.Errorf("UserByEmail(%q): got email %q, want it as stored", email, user.Email)
		}
	}
}

func TestUserNotFound(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	if _, err := database.UserByEmail(ctx, "nobody@example.org"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("UserByEmail: got error %v, want ErrNotFound", err)
	}
	if _, err := database.UserByID(ctx, 424242); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("UserByID: got error %v, want ErrNotFound", err)
	}
	if err := database.SetPassword(ctx, 424242, hashOf(t, "some password")); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("SetPassword: got error %v, want ErrNotFound", err)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	user, err := database.CreateUser(ctx, "ana@example.org", "Ana", hashOf(t, "old password"))
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	newHash := hashOf(t, "new password")

	if err := database.SetPassword(ctx, user.ID, newHash); err != nil {
		t.Fatalf("SetPassword: got error %v, want nil", err)
	}

	got, err := database.UserByID(ctx, user.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if got.PasswordHash != newHash {
		t.Errorf("PasswordHash: got %q, want %q", got.PasswordHash, newHash)
	}
	if got.UpdatedAt.Before(user.UpdatedAt) {
		t.Errorf("UpdatedAt: got %v, want not before %v", got.UpdatedAt, user.UpdatedAt)
	}
}

func TestUsersRejectInvalidHash(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	tests := []struct {
		name     string
		hash     any
		wantCode string
	}{
		{"empty", "", "23514"},
		{"null", nil, "23502"},
		{"not bcrypt", strings.Repeat("x", 60), "23514"},
		{"truncated bcrypt", hashOf(t, "some password")[:59], "23514"},
	}

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := fmt.Sprintf("user%d@example.org", i)
			_, err := database.Pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ($1, $2)`, email, tt.hash)

			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				t.Fatalf("INSERT: got error %v, want a PostgreSQL error", err)
			}
			if pgErr.Code != tt.wantCode {
				t.Errorf("INSERT error code: got %s (%s), want %s", pgErr.Code, pgErr.Message, tt.wantCode)
			}
		})
	}

	if _, err := database.CreateUser(ctx, "empty@example.org", "Empty", ""); err == nil {
		t.Errorf("CreateUser with an empty hash: got nil error, want an error")
	}
	if n := countUsers(t, database); n != 0 {
		t.Errorf("user count: got %d, want 0", n)
	}
}

func TestDeleteExpiredSessionsBatches(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	_, err := database.Pool.Exec(ctx, `
		INSERT INTO web_sessions (key, data, expires_on)
		SELECT convert_to('expired-' || g, 'UTF8'), '\x00'::bytea, now() - interval '1 hour'
		FROM generate_series(1, 2500) AS g`)
	if err != nil {
		t.Fatalf("insert expired sessions: %v", err)
	}
	_, err = database.Pool.Exec(ctx, `
		INSERT INTO web_sessions (key, data, expires_on)
		SELECT convert_to('live-' || g, 'UTF8'), '\x00'::bytea, now() + interval '1 hour'
		FROM generate_series(1, 10) AS g`)
	if err != nil {
		t.Fatalf("insert live sessions: %v", err)
	}

	var from time.Time
	for i, want := range []int64{1000, 1000, 500, 0} {
		got, latest, err := database.DeleteExpiredSessions(ctx, from, 1000)
		if err != nil {
			t.Fatalf("call %d: DeleteExpiredSessions: got error %v, want nil", i+1, err)
		}
		if got != want {
			t.Errorf("call %d: DeleteExpiredSessions: got %d deleted, want %d", i+1, got, want)
		}
		if latest.Before(from) {
			t.Errorf("call %d: DeleteExpiredSessions: got latest expiry %v, want at or after %v", i+1, latest, from)
		}
		from = latest
	}

	var live, expired int
	err = database.Pool.QueryRow(ctx, `
		SELECT
			count(*) FILTER (WHERE expires_on > now() AND convert_from(key, 'UTF8') LIKE 'live-%'),
			count(*) FILTER (WHERE expires_on <= now())
		FROM web_sessions`).Scan(&live, &expired)
	if err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	if live != 10 {
		t.Errorf("live sessions left: got %d, want 10", live)
	}
	if expired != 0 {
		t.Errorf("expired sessions left: got %d, want 0", expired)
	}
}

func TestDeleteSession(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	_, err := database.Pool.Exec(ctx, `
		INSERT INTO web_sessions (key, data, expires_on)
		VALUES ('keep', '\x00', now() + interval '1 hour'), ('drop', '\x00', now() + interval '1 hour')`)
	if err != nil {
		t.Fatalf("insert sessions: %v", err)
	}

	if err := database.DeleteSession(ctx, "drop"); err != nil {
		t.Fatalf("DeleteSession: got error %v, want nil", err)
	}

	var keys []string
	rows, err := database.Pool.Query(ctx, `SELECT convert_from(key, 'UTF8') FROM web_sessions ORDER BY key`)
	if err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatalf("scan: %v", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	if len(keys) != 1 || keys[0] != "keep" {
		t.Errorf("sessions left: got %q, want [keep]", keys)
	}
}

func TestSessionsViewHidesExpired(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	_, err := database.Pool.Exec(ctx, `
		INSERT INTO web_sessions (key, data, expires_on)
		VALUES ('live', '\x00', now() + interval '1 hour'), ('old', '\x00', now() - interval '1 second')`)
	if err != nil {
		t.Fatalf("insert sessions: %v", err)
	}

	var n int
	if err := database.Pool.QueryRow(ctx, `SELECT count(*) FROM http_sessions`).Scan(&n); err != nil {
		t.Fatalf("count http_sessions: %v", err)
	}
	if n != 1 {
		t.Errorf("rows in http_sessions: got %d, want 1", n)
	}
}

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	closed, err := db.Open(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", closedPort(t)), db.Options{})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil before any connection", err)
	}
	defer closed.Close()

	pingErr := closed.Ping(ctx)
	if pingErr == nil {
		t.Fatal("Ping on a closed port: got nil error, want an error")
	}
	if !db.IsUnavailable(pingErr) {
		t.Errorf("IsUnavailable(%v): got false, want true", pingErr)
	}
	_, queryErr := closed.Pool.Exec(ctx, `SELECT 1`)
	if !db.IsUnavailable(queryErr) {
		t.Errorf("IsUnavailable(%v): got false, want true", queryErr)
	}

	_, syntaxErr := database.Pool.Exec(ctx, `SELEC 1`)
	if syntaxErr == nil {
		t.Fatal("syntax error: got nil error, want an error")
	}
	if db.IsUnavailable(syntaxErr) {
		t.Errorf("IsUnavailable(%v): got true, want false", syntaxErr)
	}

	if _, err := database.CreateUser(ctx, "ana@example.org", "Ana", hashOf(t, "some password")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	_, takenErr := database.CreateUser(ctx, "ana@example.org", "Ana", hashOf(t, "some password"))
	if db.IsUnavailable(takenErr) {
		t.Errorf("IsUnavailable(%v): got true, want false", takenErr)
	}

	_, notFoundErr := database.UserByEmail(ctx, "nobody@example.org")
	if db.IsUnavailable(notFoundErr) {
		t.Errorf("IsUnavailable(%v): got true, want false", notFoundErr)
	}

	if db.IsUnavailable(nil) {
		t.Errorf("IsUnavailable(nil): got true, want false")
	}
}

func TestIsUnavailableServerShutdown(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	// A backend ended by pg_terminate_backend reports SQLSTATE 57P01
	// (admin_shutdown), as it does when the server shuts down.
	conn, err := database.Pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	defer conn.Release()

	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
	if err == nil {
		t.Fatal("pg_terminate_backend of the own backend: got nil error, want an error")
	}
	if !db.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v): got false, want true", err)
	}
}

func TestOpenInvalidURLHidesPassword(t *testing.T) {
	const secret = "db-pass-Qz81"

	_, err := db.Open(context.Background(), "postgres://portero:"+secret+"@127.0.0.1:notaport/portero", db.Options{})
	if err == nil {
		t.Fatal("Open: got nil error, want an error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Open error: got %q, want it without the password", err)
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	database, _ := testdb.New(t)
	ctx := context.Background()

	if _, err := database.CreateUser(ctx, "ana@example.org", "Ana", hashOf(t, "some password")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	// testdb.New has migrated once already.
	if err := database.Migrate(ctx, discardLogger()); err != nil {
		t.Fatalf("second Migrate: got error %v, want nil", err)
	}
	if n := countUsers(t, database); n != 1 {
		t.Errorf("user count after second Migrate: got %d, want 1", n)
	}
}
