package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/portero/portero/cmd"
)

// floorCommand serves "ok\n" on 127.0.0.1:PORT with a bare net/http server
// and nothing else: no Echo, no middleware, no database. wrk against it
// shows the lowest latency that any handler behind Go's net/http can reach
// on this machine with the read runs' wrk settings. Echo, which Portero
// must use, serves through net/http, so no Portero page can be faster than
// this floor. The server stops on SIGTERM or SIGINT, or after -timeout.
func floorCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 to listen on")
	timeout := fs.Duration("timeout", 10*time.Minute, "stop after this long even without a signal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *port <= 0 || *port > 65535 {
		return fmt.Errorf("%w: floor needs -port between 1 and 65535", errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: floor needs a -timeout above 0, got %s", errUsage, *timeout)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	listener, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	server := newFloorServer()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	fmt.Fprintf(stdout, "floor server on %s\n", listener.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop the floor server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}

	return nil
}

// newFloorServer returns the floor's server. It has the timeouts of
// Portero's server, because each of them costs a little on every request,
// and its response has the headers and body of Portero's /healthz without
// the security headers.
func newFloorServer() *http.Server {
	body := []byte("ok\n")
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})

	return cmd.NewHTTPServer(handler)
}
