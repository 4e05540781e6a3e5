package cmd_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/cmd"
	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/internal/testdb"
	"github.com/portero/portero/internal/testlog"
)

// startServe runs `portero serve` with env until the test ends, and returns
// its log and a function that stops it and returns its exit code.
func startServe(t *testing.T, env map[string]string) (*testlog.Buffer, func() int) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	logs := &testlog.Buffer{}
	code := make(chan int, 1)
	getenv := config.Getenv(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	go func() { code <- cmd.Run(ctx, []string{"serve"}, getenv, strings.NewReader(""), &bytes.Buffer{}, logs) }()

	stopped := false
	stop := func() int {
		cancel()
		stopped = true
		return <-code
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})

	return logs, stop
}

// waitFor polls condition until it holds, and fails the test after a
// minute, which only a broken or badly stalled run reaches.
func waitFor(t *testing.T, what string, logs *testlog.Buffer, condition func() bool) {
	t.Helper()

	deadline := time.Now().Add(time.Minute)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still waiting after a minute; log:\n%s", what, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mailEnabled(t *testing.T, database *db.DB) bool {
	t.Helper()

	var enabled bool
	if err := database.Pool.QueryRow(context.Background(), `SELECT enabled FROM mail_settings`).Scan(&enabled); err != nil {
		t.Fatal(err)
	}

	return enabled
}

func TestServeMailsNoticeOfUserPasswd(t *testing.T) {
	t.Parallel()
	database, url := testdb.New(t)
	server := smtptest.Start(t, nil)
	checkCode(t, run(t, dbEnv(url), testPassword+"\n", "user", "create", "--email", "ana@example.org"), 0)

	env := dbEnv(url)
	env["PORT"] = strconv.Itoa(closedPort(t))
	env["DATA_DIR"] = t.TempDir()
	env["SMTP_HOST"] = "127.0.0.1"
	env["SMTP_PORT"] = strconv.Itoa(server.Port())
	env["SMTP_TLS"] = "none"
	env["SMTP_FROM"] = "Portero <portero@example.org>"
	logs, stop := startServe(t, env)
	waitFor(t, "mail_settings.enabled", logs, func() bool { return mailEnabled(t, database) })

	checkCode(t, run(t, dbEnv(url), "tangerine ladder 41 quietly\n", "user", "passwd", "--email", "ana@example.org"), 0)
	waitFor(t, "the mail", logs, func() bool { return len(server.Mails()) > 0 })

	if code := stop(); code != 0 {
		t.Errorf("serve exit code: got %d, want 0\nlog:\n%s", code, logs)
	}
	mails := server.Mails()
	if len(mails) != 1 || mails[0].To[0] != "ana@example.org" || !strings.Contains(mails[0].Data, "Password changed (from the command line)") {
		t.Errorf("mails: got %+v, want one password change to ana@example.org", mails)
	}
	for _, want := range []string{"Security notices are sent by email.", "Security notice mail sent.", "Mail delivery stopped."} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log: got no %q, want it in\n%s", want, logs)
		}
	}
}

func TestServeWithoutSMTPTurnsMailOff(t *testing.T) {
	t.Parallel()
	database, url := testdb.New(t)
	if err := database.SetMailEnabled(context.Background(), true); err != nil {
		t.Fatal(err)
	}

	env := dbEnv(url)
	env["PORT"] = strconv.Itoa(closedPort(t))
	env["DATA_DIR"] = t.TempDir()
	logs, stop := startServe(t, env)
	waitFor(t, "mail_settings.enabled false", logs, func() bool { return !mailEnabled(t, database) })

	if code := stop(); code != 0 {
		t.Errorf("serve exit code: got %d, want 0\nlog:\n%s", code, logs)
	}
	if !strings.Contains(logs.String(), "Security notices are not sent by email") {
		t.Errorf("log: got %q, want the notice that email is off", logs)
	}
	if strings.Contains(logs.String(), "Mail delivery started.") {
		t.Error("log: got a started mail delivery, want none without SMTP")
	}
}
