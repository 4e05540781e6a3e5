// Command portero is a login and session server for Go web apps on CapRover.
// See README.md for its commands and settings.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/portero/portero/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := cmd.Run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
