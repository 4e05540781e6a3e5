// Package db opens Portero's PostgreSQL pool, applies its migrations and holds
// the SQL for each table.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is the one connection pool of the process. Pool serves Portero's own
// queries; SQL is the database/sql view of the same pool for pgstore and goose.
type DB struct {
	Pool *pgxpool.Pool
	SQL  *sql.DB
}

// Open creates the pool without waiting for the database to respond, so that
// the server can start while the database is still down. It reads the
// credential files, though, and returns an error when one is unusable.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	files := newCredentialFiles(url, opts)
	if err := files.check(); err != nil {
		return nil, err
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("parse DATABASE_URL: invalid connection string, or sslcert and sslkey files that cannot be read or do not match (value not shown)")
	}
	cfg.BeforeConnect = files.beforeConnect

	cfg.MaxConns = 16
	// Idle connections are closed before a network on the way (for example
	// Docker Swarm's overlay, which drops idle TCP flows after about 15
	// minutes) drops them, and health checks catch the ones that broke anyway.
	cfg.MaxConnIdleTime = 5 * time.Minute
	// A connection keeps the certificate or password it was opened with,
	// so the lifetime bounds how long a rotated credential stays in use.
	cfg.MaxConnLifetime = DefaultMaxConnLifetime
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	cfg.HealthCheckPeriod = 30 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.PingTimeout = 2 * time.Second
	// pgstore runs its queries without a context, so only the server can
	// bound them. A page should fail with 503 after a few seconds rather
	// than hang behind a lock until the proxy or the shutdown gives up.
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "5s"
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = "3s"
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "30s"

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create database pool: %w", err)
	}

	return &DB{Pool: pool, SQL: stdlib.OpenDBFromPool(pool)}, nil
}

// Close closes the database/sql wrapper and then the pool under it.
func (d *DB) Close() {
	d.SQL.Close()
	d.Pool.Close()
}

// Ping checks that the database runs a query.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()

	_, err := d.Pool.Exec(ctx, "SELECT 1")
	return err
}

// Migrate applies every pending migration, each in its own transaction, while
// holding a PostgreSQL advisory lock so that instances starting together take
// turns.
func (d *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}

	provider, err := goose.NewProvider(goose.DialectPostgres, d.SQL, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}

	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}

	for _, r := range results {
		logger.Info("Migration applied.", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	logger.Info("Database schema is up to date.", "version", version, "applied", len(results))

	return nil
}
