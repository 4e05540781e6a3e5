package cmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
	"github.com/portero/portero/password"
)

func userCommand(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: user needs a subcommand: create, passwd, disable, enable, unlock or keys", errUsage)
	}
	for _, a := range args {
		name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
		if strings.HasPrefix(a, "-") && (name == "password" || name == "p" || name == "pass") {
			return fmt.Errorf("%w: passwords are not accepted as arguments, because other users can read them from the process list and the shell history; pipe the password on standard input or type it at the prompt", errUsage)
		}
	}
	switch args[0] {
	case "disable", "enable":
		return userSetDisabled(ctx, args[0], args[1:], getenv, stdout, stderr)
	case "unlock":
		return userUnlock(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return userKeys(ctx, args[1:], getenv, stdout, stderr)
	}

	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email address of the user")
	name := fs.String("name", "", "display name (create only)")
	admin := fs.Bool("admin", false, "give the new user the admin role (create only)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		// The value is not echoed: it may be a password typed by mistake.
		return fmt.Errorf("%w: unexpected positional argument (value not shown); user %s takes only flags", errUsage, args[0])
	}
	*email = strings.TrimSpace(*email)
	if *email == "" || !strings.Contains(*email, "@") {
		return fmt.Errorf("%w: --email must be an email address, got %q", errUsage, *email)
	}

	switch args[0] {
	case "create", "passwd":
	default:
		return fmt.Errorf("%w: unknown user subcommand %q", errUsage, args[0])
	}
	if args[0] == "passwd" && *name != "" {
		return fmt.Errorf("%w: --name is only for user create", errUsage)
	}
	if args[0] == "passwd" && *admin {
		return fmt.Errorf("%w: --admin is only for user create", errUsage)
	}

	cfg, err := config.LoadDatabase(getenv)
	if err != nil {
		return err
	}

	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	hasher := cfg.PasswordHasher()
	if err := hasher.ValidateNew(pw, *email); err != nil {
		return passwordError(err)
	}
	hash, err := hasher.Hash(pw)
	if err != nil {
		return passwordError(err)
	}

	database, err := db.Open(ctx, cfg.DatabaseURL, cfg.DatabaseOptions)
	if err != nil {
		return err
	}
	defer database.Close()

	// A user command may be the first thing run against a new database.
	logger := newLogger(cfg.LogFormat, slog.LevelWarn, stderr)
	if err := database.Migrate(ctx, logger); err != nil {
		return err
	}

	if args[0] == "create" {
		role := db.RoleUser
		if *admin {
			role = db.RoleAdmin
		}
		user, err := database.CreateUserWithRole(ctx, *email, *name, hash, role)
		if errors.Is(err, db.ErrEmailTaken) {
			return fmt.Errorf("a user with the email %q already exists; use `portero user passwd --email %s` to change the password", *email, *email)
		}
		if err != nil {
			return err
		}
		recordCLIEvent(ctx, database, logger, handlers.EventUserCreated, user.ID, "role", user.Role)
		fmt.Fprintf(stdout, "Created user %d (%s) with the role %s.\n", user.ID, user.Email, user.Role)
		return nil
	}

	user, err := database.UserByEmail(ctx, *email)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("no user has the email %q; create one with `portero user create --email %s`", *email, *email)
	}
	if err != nil {
		return err
	}
	// Sessions opened with the old password end with it, in the same
	// transaction.
	ended, err := database.ChangePassword(ctx, user.ID, hash, "")
	if err != nil {
		return err
	}
	recordCLIEvent(ctx, database, logger, handlers.EventPasswordChanged, user.ID, "sessions_ended", ended)
	fmt.Fprintf(stdout, "Password of user %d (%s) changed; %s.\n", user.ID, user.Email, sessionsEnded(ended))

	return nil
}

// readPassword prompts twice without echo on a terminal, and otherwise reads
// one line from stdin. Only the line ending is removed: spaces are part of
// the password.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), stderr)
	}

	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input; send it as one line, for example: printf '%s\\n' \"$PASSWORD\" | portero user create --email ...")
	}

	return line, nil
}

func promptPassword(fd int, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}

	fmt.Fprint(stderr, "Repeat password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}

	if string(first) != string(second) {
		return "", errors.New("the two passwords differ; nothing was changed")
	}

	return string(first), nil
}

func passwordError(err error) error {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return fmt.Errorf("invalid password: it must be at least %d characters long", password.MinChars)
	case errors.Is(err, password.ErrTooLong):
		return fmt.Errorf("invalid password: it must be at most %d bytes of UTF-8; bcrypt ignores the rest, so a longer one is rejected rather than cut (with PASSWORD_PEPPER set, up to %d characters are allowed)", password.MaxBytes, password.MaxPepperedChars)
	case errors.Is(err, password.ErrTooManyChars):
		return fmt.Errorf("invalid password: it must be at most %d characters long and at most %d bytes of UTF-8", password.MaxPepperedChars, password.MaxPepperedBytes)
	case errors.Is(err, password.ErrInvalidUTF8):
		return errors.New("invalid password: it is not valid UTF-8 or contains a control character, such as a tab or a NUL byte")
	case errors.Is(err, password.ErrEqualsEmail):
		return errors.New("invalid password: it is the same as the email address; choose another one")
	case errors.Is(err, password.ErrCommon):
		return errors.New("invalid password: it is in the list of common passwords, which attackers try first; choose another one")
	}

	return err
}

// sessionsEnded describes how many sessions a command ended.
func sessionsEnded(n int64) string {
	if n == 1 {
		return "1 session ended"
	}

	return fmt.Sprintf("%d sessions ended", n)
}
