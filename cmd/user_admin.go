package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
)

// userSetDisabled runs `user disable` and `user enable`. Disabling also ends
// every session of the user at once.
func userSetDisabled(ctx context.Context, subcommand string, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	database, logger, user, err := openForUser(ctx, "user "+subcommand, args, getenv, stderr)
	if err != nil {
		return err
	}
	defer database.Close()

	if subcommand == "enable" {
		changed, err := database.EnableUser(ctx, user.ID)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(stdout, "User %d (%s) was already enabled.\n", user.ID, user.Email)
			return nil
		}
		recordCLIEvent(ctx, database, logger, handlers.EventUserEnabled, user.ID)
		fmt.Fprintf(stdout, "Enabled user %d (%s).\n", user.ID, user.Email)
		return nil
	}

	changed, err := database.DisableUser(ctx, user.ID)
	if err != nil {
		return err
	}
	// The sessions end even when the user was already disabled, in case one
	// was opened before.
	ended, err := database.DeleteUserSessions(ctx, user.ID, "")
	if err != nil {
		return fmt.Errorf("user %d (%s) is disabled, but ending its sessions failed; their next request ends them anyway: %w", user.ID, user.Email, err)
	}
	if !changed {
		fmt.Fprintf(stdout, "User %d (%s) was already disabled; %d sessions ended.\n", user.ID, user.Email, ended)
		return nil
	}
	recordCLIEvent(ctx, database, logger, handlers.EventUserDisabled, user.ID, "sessions_ended", ended)
	fmt.Fprintf(stdout, "Disabled user %d (%s); %d sessions ended.\n", user.ID, user.Email, ended)

	return nil
}

// userUnlock runs `user unlock`, which deletes the failed logins and locks
// of a user's account and devices, so that the user can log in at once.
// The failures of client IPs stay.
func userUnlock(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	database, logger, user, err := openForUser(ctx, "user unlock", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer database.Close()

	cleared, err := database.UnlockUser(ctx, user.ID)
	if err != nil {
		return err
	}
	if cleared == 0 {
		fmt.Fprintf(stdout, "User %d (%s) had no failed logins to clear.\n", user.ID, user.Email)
		return nil
	}
	recordCLIEvent(ctx, database, logger, handlers.EventLoginUnlocked, user.ID, "counts_cleared", cleared)
	fmt.Fprintf(stdout, "Unlocked user %d (%s); %d failure counts cleared.\n", user.ID, user.Email, cleared)

	return nil
}

// sessionsCommand runs `sessions revoke`, which ends every session of a
// user.
func sessionsCommand(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: sessions needs a subcommand: revoke", errUsage)
	}
	if args[0] != "revoke" {
		return fmt.Errorf("%w: unknown sessions subcommand %q", errUsage, args[0])
	}
	database, logger, user, err := openForUser(ctx, "sessions revoke", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	defer database.Close()

	ended, err := database.DeleteUserSessions(ctx, user.ID, "")
	if err != nil {
		return err
	}
	recordCLIEvent(ctx, database, logger, handlers.EventSessionRevoked, user.ID, "sessions_ended", ended)
	fmt.Fprintf(stdout, "Ended %d sessions of user %d (%s).\n", ended, user.ID, user.Email)

	return nil
}

// parseEmailFlag parses the arguments of a command that takes only --email.
func parseEmailFlag(command string, args []string) (string, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email address of the user")
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%w: %s: %v", errUsage, command, err)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("%w: unexpected positional argument (value not shown); %s takes only --email", errUsage, command)
	}

	*email = strings.TrimSpace(*email)
	if *email == "" || !strings.Contains(*email, "@") {
		return "", fmt.Errorf("%w: --email must be an email address, got %q", errUsage, *email)
	}

	return *email, nil
}

// openForAdmin reads the database settings, opens the database and applies
// pending migrations, as the user commands do. The returned logger writes
// security events to stderr at LOG_LEVEL.
func openForAdmin(ctx context.Context, getenv config.Getenv, stderr io.Writer) (*db.DB, *slog.Logger, error) {
	cfg, err := config.LoadDatabase(getenv)
	if err != nil {
		return nil, nil, err
	}

	database, err := db.Open(ctx, cfg.DatabaseURL, cfg.DatabaseOptions)
	if err != nil {
		return nil, nil, err
	}
	// Migration progress is logged only at Warn, so that a command prints
	// no Info lines about the schema.
	if err := database.Migrate(ctx, newLogger(cfg.LogFormat, slog.LevelWarn, stderr)); err != nil {
		database.Close()
		return nil, nil, err
	}

	return database, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil
}

// openForUser parses the --email of a command that takes only that flag,
// opens the database as openForAdmin does and finds the user with the email.
// The caller closes the database.
func openForUser(ctx context.Context, command string, args []string, getenv config.Getenv, stderr io.Writer) (*db.DB, *slog.Logger, *db.User, error) {
	email, err := parseEmailFlag(command, args)
	if err != nil {
		return nil, nil, nil, err
	}

	database, logger, err := openForAdmin(ctx, getenv, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	user, err := userForCommand(ctx, database, email)
	if err != nil {
		database.Close()
		return nil, nil, nil, err
	}

	return database, logger, user, nil
}

// userForCommand finds the user with the email, or returns an error that
// names the command that creates one.
func userForCommand(ctx context.Context, database *db.DB, email string) (*db.User, error) {
	user, err := database.UserByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("no user has the email %q; create one with `portero user create --email %s`", email, email)
	}

	return user, err
}

// recordCLIEvent logs a security event that a command caused and stores it
// with the detail by=cli and no client IP or User-Agent. A failed insert
// is logged at Error and the command still succeeds, because its change
// has already been made.
func recordCLIEvent(ctx context.Context, database *db.DB, logger *slog.Logger, kind string, userID int64, details ...any) {
	details = append([]any{"by", handlers.EventByCLI}, details...)
	logger.Info("Security event.", append([]any{"event", kind, "user_id", userID}, details...)...)

	m := make(map[string]any, len(details)/2)
	for i := 0; i+1 < len(details); i += 2 {
		m[fmt.Sprint(details[i])] = details[i+1]
	}
	err := database.AddEvent(ctx, db.SecurityEvent{UserID: userID, Kind: kind, Details: m})
	if err != nil {
		logger.Error("Security event could not be stored.", "event", kind, "user_id", userID, "error", err)
	}
}

// userKeys runs `user keys remove`, which deletes every security key of a
// user, for a user who lost them. The password alone then logs in again.
func userKeys(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "remove" {
		return fmt.Errorf("%w: user keys needs the subcommand remove", errUsage)
	}
	database, logger, user, err := openForUser(ctx, "user keys remove", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	defer database.Close()

	removed, err := database.DeleteSecurityKeys(ctx, user.ID)
	if err != nil {
		return err
	}
	if removed == 0 {
		fmt.Fprintf(stdout, "User %d (%s) had no security keys.\n", user.ID, user.Email)
		return nil
	}
	recordCLIEvent(ctx, database, logger, handlers.EventSecurityKeyRemoved, user.ID, "security_keys_removed", removed)
	fmt.Fprintf(stdout, "Removed %d security keys of user %d (%s); the password alone logs in again.\n", removed, user.ID, user.Email)

	return nil
}
