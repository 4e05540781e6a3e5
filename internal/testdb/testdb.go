// Package testdb gives each test a fresh PostgreSQL database with Portero's
// migrations applied, inside the cluster named by TEST_DATABASE_URL.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/portero/portero/db"
)

// ServerURL returns TEST_DATABASE_URL and fails the test when it is unset:
// database tests never skip, so a missing database cannot pass unnoticed.
func ServerURL(t testing.TB) string {
	t.Helper()

	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run `make test`, which starts a throwaway PostgreSQL cluster, or set it to a server where the tests may create databases")
	}

	return u
}

// NewURL creates an empty database, drops it when the test ends and returns
// its URL. It applies no migrations.
func NewURL(t testing.TB) string {
	t.Helper()

	server := ServerURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)

	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "portero_test_" + hex.EncodeToString(suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("connect to drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name

	return u.String()
}

// New creates a migrated database and returns an open pool to it, closed
// when the test ends, together with its URL.
func New(t testing.TB) (*db.DB, string) {
	t.Helper()

	u := NewURL(t)
	ctx := context.Background()

	database, err := db.Open(ctx, u, db.Options{})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(database.Close)

	if err := database.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}

	return database, u
}

// CreateUser creates a user with the email and a bcrypt hash of the lowest
// cost, and returns it.
func CreateUser(t testing.TB, database *db.DB, email string) *db.User {
	t.Helper()

	hash, err := bcrypt.GenerateFromPassword([]byte("some password"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	user, err := database.CreateUser(context.Background(), email, "", string(hash))
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}

	return user
}

// AddEvent stores a security event and fails the test if that fails.
func AddEvent(t testing.TB, database *db.DB, e db.SecurityEvent) {
	t.Helper()

	if err := database.AddEvent(context.Background(), e); err != nil {
		t.Fatalf("AddEvent(%+v): %v", e, err)
	}
}
