// Package cmd implements the portero command line: serve, migrate, user,
// sessions and healthcheck.
package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/portero/portero/config"
)

const usage = `Usage:
  portero [serve]                          run the server
  portero migrate                          apply database migrations and exit
  portero user create --email E [--name N] [--admin]
                                           create a user, with the admin role if --admin is given;
                                           the password is read from standard input
  portero user passwd --email E            set a user's password, read from standard input
  portero user disable --email E           stop a user from logging in and end all of its sessions
  portero user enable --email E            let a disabled user log in again
  portero user unlock --email E            clear the failed logins and login locks of a user's
                                           account and devices; those of client IPs stay
  portero user keys remove --email E       remove every security key of a user who lost theirs,
                                           so that the password alone logs in again
  portero sessions revoke --email E        end all sessions of a user and print how many ended
  portero healthcheck                      exit 0 when GET /healthz on the local port returns 200

Settings come from environment variables; see README.md.
`

// errUsage marks errors in the command line itself; Run exits with 2 for them.
var errUsage = errors.New("usage error")

// Run executes one command and returns the process exit code. It takes its
// environment and streams as arguments so that tests can call it directly.
func Run(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "portero: %v\n\n%s", err, usage)
		return 2
	}

	fmt.Fprintf(stderr, "portero: %v\n", err)
	return 1
}

func dispatch(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return serve(ctx, getenv, stderr)
	}

	switch args[0] {
	case "serve":
		if len(args) > 1 {
			return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, args[1:])
		}
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, getenv, stderr)
	case "user":
		return userCommand(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "sessions":
		return sessionsCommand(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "--help":
		return flag.ErrHelp
	}

	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}

	return slog.New(slog.NewTextHandler(w, opts))
}
