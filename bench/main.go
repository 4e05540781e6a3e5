// Command bench holds the parts of `make bench` that wrk cannot do: logging
// in, fetching CSRF pairs, reading PostgreSQL's table statistics, seeding
// and cleaning up session rows, timing restarts and writing the report.
// scripts/bench.sh runs it; see docs/benchmarks.md for what each step measures.
//
// Every HTTP request goes to a loopback address only, and each subcommand
// stops on its own within a time limit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: bench COMMAND [flags]

Commands:
  wait-ready   poll /readyz until it returns 200
  wait-idle    wait until a process stops using CPU
  login        log in and write the Cookie header of the session
  csrf-pairs   fetch CSRF cookie and token pairs for the login flood
  table-stats  write PostgreSQL's row counters of every table, once they are stable
  memory       write VmRSS and VmHWM of a process
  ready        time restarts from exec to the first 200 on /readyz
  seed         insert session rows, most of them expired
  cleanup      delete expired sessions in batches, as the server does, and time them
  report       check the results, print the table and write the report
  serve        run Portero's server in this process with a CPU profile
  floor        serve "ok" with a bare net/http server, the latency floor of the reads

Run bench COMMAND -h for the flags of a command.
`

// errUsage marks command-line errors, which exit with status 2.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()

	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "bench: %v\n\n%s", err, usage)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing command", errUsage)
	}

	commands := map[string]func(context.Context, []string, io.Writer) error{
		"wait-ready":  waitReadyCommand,
		"wait-idle":   waitIdleCommand,
		"login":       loginCommand,
		"csrf-pairs":  csrfPairsCommand,
		"table-stats": tableStatsCommand,
		"memory":      memoryCommand,
		"ready":       readyCommand,
		"seed":        seedCommand,
		"cleanup":     cleanupCommand,
		"report":      reportCommand,
		"serve":       serveCommand,
		"floor":       floorCommand,
	}
	command, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}

	return command(ctx, args[1:], stdout)
}

// parseFlags parses args into fs and rejects positional arguments. Flags
// named in required must be set to a non-empty value.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes only flags, got %q", errUsage, fs.Name(), fs.Args())
	}
	for _, name := range required {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			return fmt.Errorf("%w: %s needs -%s", errUsage, fs.Name(), name)
		}
	}

	return nil
}
