package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/portero/portero/cmd"
)

// serveCommand runs Portero's server in this process, configured by the
// environment as `portero serve` is, and writes a CPU profile of its whole
// run, for `go tool pprof`. It stops on SIGTERM or SIGINT.
func serveCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cpuProfile := fs.String("cpuprofile", "", "file to write the CPU profile to")
	if err := parseFlags(fs, args, "cpuprofile"); err != nil {
		return err
	}

	f, err := os.Create(*cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("start the CPU profile: %w", err)
	}

	code := cmd.Run(ctx, []string{"serve"}, os.LookupEnv, os.Stdin, stdout, os.Stderr)

	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		return fmt.Errorf("write the CPU profile: %w", err)
	}
	if code != 0 {
		return errors.New("the server failed; its error is above")
	}

	return nil
}
