package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBusyBcryptRejectsOnlyLogins(t *testing.T) {
	e := newEnvWith(t, envOptions{bcryptSlots: 2, bcryptWait: 300 * time.Millisecond})
	user := e.loggedIn("sam@example.com")
	e.createUser("tea@example.com", "Tea")

	// Hold every slot, as two slow comparisons would.
	var releases []func()
	for range e.bcrypt.Slots() {
		release, err := e.bcrypt.Acquire(context.Background())
		if err != nil {
			t.Fatalf("acquire a slot from the test: %v", err)
		}
		releases = append(releases, release)
	}
	start := e.bcrypt.Acquired()

	if resp := e.get(user, "/dashboard"); resp.status != http.StatusOK {
		t.Errorf("dashboard while every bcrypt slot is busy: got %d, want 200", resp.status)
	}

	c := e.client()
	token := e.csrfToken(c, "/login")
	busy := e.attempt(c, token, "tea@example.com", wrongPassword)
	if busy.status != http.StatusServiceUnavailable {
		t.Fatalf("login while every bcrypt slot is busy: got %d, want 503", busy.status)
	}
	if got := busy.header.Get("Retry-After"); got == "" {
		t.Error("busy page: got no Retry-After, want one")
	}
	if !strings.Contains(busy.body, "El servidor está ocupado en este momento.") {
		t.Errorf("busy page lacks the Spanish message: %.300q", busy.body)
	}
	if !strings.Contains(busy.body, `value="tea@example.com"`) {
		t.Error("busy page does not keep the typed email")
	}
	if got := e.bcrypt.Acquired() - start; got != 0 {
		t.Errorf("bcrypt calls while busy: got %d, want 0", got)
	}
	if failures, _ := e.failureRow("account"); failures != 0 {
		t.Errorf("account failures after a busy login: got %d, want 0 (not counted)", failures)
	}
	if !strings.Contains(e.logs.String(), "every bcrypt slot was busy") {
		t.Error("the log has no line for the busy login")
	}

	english := e.attempt(c, token, "tea@example.com", wrongPassword, "Accept-Language", "en")
	if !strings.Contains(english.body, "The server is busy right now. Try again in a few seconds.") {
		t.Errorf("busy page lacks the English message: %.300q", english.body)
	}

	for _, release := range releases {
		release()
	}
	if resp := e.attempt(c, token, "tea@example.com", testPassword); resp.status != http.StatusSeeOther || resp.location != "/dashboard" {
		t.Errorf("login after the slots are free: got %d to %q, want 303 to /dashboard", resp.status, resp.location)
	}
	if got := e.bcrypt.Acquired() - start; got != 1 {
		t.Errorf("bcrypt calls after the slots are free: got %d, want 1", got)
	}
}
