package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFloorServesOK(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	// floor opens its own listener, so the test frees a port for it. No
	// other test in this package listens, but another process could still
	// take the port in between and fail the test.
	listener.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- floorCommand(ctx, []string{"-port", strconv.Itoa(port), "-timeout", "30s"}, &out) }()

	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = http.Get(url)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET %s: got %d %q, want 200 \"ok\\n\"", url, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type: got %q, want Portero's /healthz type", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("floor after cancel: got %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("floor did not stop within 10 s of its context ending")
	}
	if !strings.Contains(out.String(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("floor output: got %q, want its address", out.String())
	}
}

func TestFloorRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{nil, {"-port", "0"}, {"-port", "70000"}, {"-port", "8080", "-timeout", "0s"}, {"-port", "8080", "-timeout", "-1s"}} {
		if err := floorCommand(context.Background(), args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("floor %q: got %v, want a usage error", args, err)
		}
	}
}

func TestTargetNamesFloorNextToDashboardP99(t *testing.T) {
	r := passingResults()
	r.Read.LatencyUS.P99 = 6000
	r.Floor.LatencyUS.P99 = 5500
	r.Healthz.LatencyUS.P99 = 5800

	for _, target := range targets(r, 32) {
		if !strings.Contains(target.Goal, "p99 at most 5 ms") {
			continue
		}
		if target.Met {
			t.Errorf("target %q: got Met with a p99 of 6 ms", target.Goal)
		}
		if want := "6.00 ms (a bare net/http server: 5.50 ms; GET /healthz: 5.80 ms)"; target.Measured != want {
			t.Errorf("target %q: got %q, want %q", target.Goal, target.Measured, want)
		}
		return
	}
	t.Fatal("no target for the dashboard's p99")
}

func TestCheckFloorRunWithErrors(t *testing.T) {
	r := passingResults()
	r.Floor = wrkRun(10, map[string]int64{"200": 5, "502": 5})

	failed := failedChecks(r)
	if len(failed) != 1 || failed[0] != "bare net/http server" {
		t.Errorf("check: got failed checks %v, want only the floor run", failed)
	}
}
