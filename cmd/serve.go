package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/internal/cache"
	"github.com/portero/portero/mail"
	"github.com/portero/portero/password"
	"github.com/portero/portero/session"
)

const (
	// shutdownTimeout and closeTimeout together stay within 8 s, well inside
	// Docker's 10 s between SIGTERM and SIGKILL.
	shutdownTimeout = 6 * time.Second
	// closeTimeout bounds the wait for database connections that a stuck
	// request still holds, so the process always exits within 8 s.
	closeTimeout    = time.Second
	cleanupInterval = 5 * time.Minute
	// bcryptWait is how long a login waits for a bcrypt slot before it gets
	// a "busy" page. One comparison at the default cost 12 takes a few
	// hundred milliseconds (0.43 s in a Go benchmark on a 2-vCPU AMD EPYC
	// VM), so a login can wait for several ahead of it. A few users logging
	// in at once are served, and only a flood gets the "busy" page.
	bcryptWait = 2 * time.Second
	// cacheHeartbeat is how often each instance proves that change
	// notifications reach it. In-memory copies of sessions and users are
	// served only while proofs arrive, so a listener that stops hearing
	// changes stops the copies within three intervals.
	cacheHeartbeat = 500 * time.Millisecond
	// mailRetention is how long a row of mail_outbox is kept, sent, given
	// up or still queued while email is off, before the cleanup deletes it.
	mailRetention = 7 * 24 * time.Hour
)

func serve(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	tuneGC(getenv)
	if cfg.AdminPassword != "" {
		if err := cfg.PasswordHasher().ValidateNew(cfg.AdminPassword, cfg.AdminEmail); err != nil {
			return fmt.Errorf("invalid ADMIN_PASSWORD (value not shown): %w", passwordError(err))
		}
	}
	logger := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)

	database, err := db.Open(ctx, cfg.DatabaseURL, cfg.DatabaseOptions)
	if err != nil {
		return err
	}
	// Until the shutdown below closes the pool with a time limit, an early
	// return closes it here.
	poolClosed := false
	defer func() {
		if !poolClosed {
			database.Close()
		}
	}()

	// The __Host- prefix makes browsers refuse the cookie unless it is
	// Secure, has Path=/ and no Domain, so no sibling subdomain can set it.
	cookieName := "portero_session"
	if cfg.CookieSecure {
		cookieName = "__Host-portero_session"
	}
	if cfg.Production() && !cfg.CookieSecure {
		logger.Warn("COOKIE_SECURE=false: session cookies will also be sent over plain HTTP, where anyone on the network path can read them.")
	}
	// Sessions and users are kept in memory while the listener started in
	// the background hears PostgreSQL's change notifications.
	guard := cache.NewGuard(nil)
	sessions := session.NewManager(database.SQL, session.Options{
		CookieName:     cookieName,
		Secure:         cfg.CookieSecure,
		MaxAge:         cfg.SessionMaxAge,
		IdleTimeout:    cfg.SessionIdleTimeout,
		Secret:         cfg.SessionSecret,
		PreviousSecret: cfg.SessionSecretPrevious,
		Cache:          guard,
	})
	app, err := handlers.New(handlers.Options{
		Store:              database,
		Sessions:           sessions,
		Logger:             logger,
		BcryptCost:         cfg.BcryptCost,
		PasswordPepper:     cfg.PasswordPepper,
		IdleTimeout:        cfg.SessionIdleTimeout,
		CSRFSecret:         cfg.SessionSecret,
		CSRFPreviousSecret: cfg.SessionSecretPrevious,
		CSRFMaxAge:         cfg.SessionMaxAge,
		SecureCookies:      cfg.CookieSecure,
		TrustedProxies:     cfg.TrustedProxies,
		RequireHTTPS:       cfg.Production() && cfg.CookieSecure,
		LoginPolicy: db.LoginPolicy{
			Window:             cfg.LoginFailureWindow,
			AccountMaxFailures: cfg.LoginMaxFailures,
			IPMaxFailures:      cfg.LoginIPMaxFailures,
			FirstLockout:       config.LoginFirstLockout,
			MaxLockout:         cfg.LoginMaxLockout,
		},
		ThrottleSecret:  cfg.SessionSecret,
		Bcrypt:          password.NewLimiter(cfg.BcryptConcurrency, bcryptWait),
		Cache:           guard,
		WebAuthnRPID:    cfg.WebAuthnRPID,
		WebAuthnOrigins: cfg.WebAuthnOrigins,
	})
	if err != nil {
		return err
	}

	addr := net.JoinHostPort("", strconv.Itoa(cfg.Port))
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	conns := &newConnTracker{conns: map[net.Conn]time.Time{}}
	server := NewHTTPServer(app.Handler())
	server.ConnState = conns.track
	server.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	logger.Info("Server started.", "addr", listener.Addr().String(), "app_env", cfg.AppEnv)

	background, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	prepareErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := prepare(background, cfg, database, app, logger); err != nil {
			prepareErr <- err
			return
		}
		// The triggers that send the notifications exist once the
		// migrations ran.
		wg.Go(func() {
			database.Listen(background, changeFeed{Guard: guard, app: app}, db.ListenOptions{Heartbeat: cacheHeartbeat, Logger: logger})
		})
		if cfg.SMTP != nil {
			sender := &mail.Sender{Server: *cfg.SMTP}
			wg.Go(func() { mail.NewDeliverer(database, sender, cfg.SMTP.From, logger).Run(background) })
		}
		runCleanup(background, database, cfg.LoginFailureWindow, logger)
	})

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("Shutdown requested.")
	case err := <-serveErr:
		runErr = fmt.Errorf("serve HTTP: %w", err)
	case err := <-prepareErr:
		runErr = err
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	go conns.closeWhileShuttingDown(shutdownCtx.Done())
	if err := server.Shutdown(shutdownCtx); err != nil {
		logger.Error("Shutdown timed out with requests still in flight; they end with the process.", "error", err)
	}
	stopBackground()
	wg.Wait()
	poolClosed = true
	closeDatabase(database, closeTimeout, logger)
	logger.Info("Server stopped.")

	return runErr
}

// changeFeed passes change notifications to the cache guard and the app.
type changeFeed struct {
	*cache.Guard
	app *handlers.App
}

func (f changeFeed) Changed(channel, payload string) { f.app.Changed(channel, payload) }

// prepare waits for the database, applies the migrations and creates the
// admin user, then marks the app ready. Until then pages return 503.
func prepare(ctx context.Context, cfg *config.Config, database *db.DB, app *handlers.App, logger *slog.Logger) error {
	for {
		if err := waitForDatabase(ctx, database, logger); err != nil {
			return nil
		}

		err := database.Migrate(ctx, logger)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if database.Ping(ctx) == nil {
			// The database responds, so the migration itself is broken.
			return err
		}
		logger.Warn("Database went away during migration; waiting for it again.", "error", err)
	}

	if cfg.AdminEmail != "" {
		if err := ensureAdmin(ctx, cfg, database, logger); err != nil {
			return err
		}
	}
	// Before the first page, so that every security notice from then on is
	// queued for a mail, or none is.
	if err := database.SetMailEnabled(ctx, cfg.SMTP != nil); err != nil {
		return err
	}
	if cfg.SMTP != nil {
		logger.Info("Security notices are sent by email.", "smtp_server", cfg.SMTP.Addr(), "smtp_tls", cfg.SMTP.TLS)
	} else {
		logger.Info("Security notices are not sent by email, because SMTP_URL and SMTP_HOST are unset.")
	}

	app.SetReady()
	logger.Info("Database is ready; serving pages.")
	app.WarmUp()

	return nil
}

// waitForDatabase retries a ping with exponential backoff up to 30 s until
// the database responds or ctx ends.
func waitForDatabase(ctx context.Context, database *db.DB, logger *slog.Logger) error {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := database.Ping(ctx)
		if err == nil {
			if attempt > 1 {
				logger.Info("Database is reachable.", "attempts", attempt)
			}
			return nil
		}
		logger.Warn("Database is not reachable; retrying.", "error", err, "attempt", attempt, "retry_in", delay)

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// ensureAdmin creates ADMIN_EMAIL's user with the admin role when no user
// has that email. An existing user, with its password and role, is left as
// it is, and a warning is logged when it lacks the admin role.
func ensureAdmin(ctx context.Context, cfg *config.Config, database *db.DB, logger *slog.Logger) error {
	existing, err := database.UserByEmail(ctx, cfg.AdminEmail)
	if err == nil {
		if !existing.Admin() {
			logger.Warn("The ADMIN_EMAIL user exists without the admin role and was left unchanged. To grant the role, use /admin/users as another admin, or run UPDATE users SET role = 'admin' WHERE id = <user_id> in psql.",
				"user_id", existing.ID, "role", existing.Role)
		}
		return nil
	}
	if !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("check admin user: %w", err)
	}

	hash, err := cfg.PasswordHasher().Hash(cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("hash ADMIN_PASSWORD: %w", err)
	}
	created, err := database.CreateUserIfMissing(ctx, cfg.AdminEmail, "Admin", hash, db.RoleAdmin)
	if err != nil {
		return err
	}
	if created {
		logger.Info("Admin user created from ADMIN_EMAIL.", "email", cfg.AdminEmail)
	}

	return nil
}

// runCleanup deletes expired session rows, stale login failures and expired
// WebAuthn challenges now and then every cleanupInterval, until ctx ends.
// db.Cleanup deletes them in short statements with a pause between two,
// which leaves the CPUs to the requests.
func runCleanup(ctx context.Context, database *db.DB, failureWindow time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(cleanupInterval)
	defer ticker.Stop()

	options := db.CleanupOptions{
		BatchSize:          db.CleanupBatchSize,
		Pause:              db.CleanupPause,
		LoginFailureWindow: failureWindow,
		MailMaxAge:         mailRetention,
	}
	for {
		result := deleteExpired(ctx, database, options, logger)
		options.CheckedIndexRowID = result.CheckedIndexRowID

		select {
		case <-ctx.Done():
			logger.Info("Session cleanup stopped.")
			return
		case <-ticker.C:
		}
	}
}

func deleteExpired(ctx context.Context, database *db.DB, options db.CleanupOptions, logger *slog.Logger) db.CleanupResult {
	result, err := database.Cleanup(ctx, options)
	if err != nil && ctx.Err() == nil {
		logger.Error("Deleting expired rows failed.", "error", err,
			"sessions_deleted", result.ExpiredSessions, "login_failures_deleted", result.StaleLoginFailures)
	}

	if result.ExpiredSessions > 0 {
		logger.Info("Expired sessions deleted.", "count", result.ExpiredSessions)
	}
	if result.StaleLoginFailures > 0 {
		logger.Info("Stale login failures deleted.", "count", result.StaleLoginFailures)
	}
	if result.OldMail > 0 {
		logger.Info("Old mail outbox rows deleted.", "count", result.OldMail)
	}

	// Expired WebAuthn challenges are never accepted, so deleting them
	// only keeps the table small. They are few, so one statement does.
	if ctx.Err() == nil {
		challenges, err := database.DeleteExpiredWebAuthnChallenges(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Error("Deleting expired WebAuthn challenges failed.", "error", err)
		}
		if challenges > 0 {
			logger.Info("Expired WebAuthn challenges deleted.", "count", challenges)
		}
	}

	return result
}

// closeDatabase closes the pool, but waits at most timeout: pgxpool's Close
// waits for every acquired connection, and a request stuck on a stalled
// database may hold one. The operating system closes those sockets when the
// process exits.
func closeDatabase(database *db.DB, timeout time.Duration, logger *slog.Logger) {
	closed := make(chan struct{})
	go func() {
		database.Close()
		close(closed)
	}()

	select {
	case <-closed:
	case <-time.After(timeout):
		logger.Warn("Database connections still in use at exit were left to the operating system to close.", "waited", timeout)
	}
}

// NewHTTPServer returns an http.Server for handler with the timeouts of
// `portero serve`. The benchmark's floor server uses it too, so that both
// pay the same cost per request for them.
func NewHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
