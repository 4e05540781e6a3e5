package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/handlers"
)

var eventIP = regexp.MustCompile(`<span class="event-ip">([^<]*)</span>`)

func TestAccountPageShowsOwnLatestEvents(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("ana@example.com")
	ana, err := e.db.UserByEmail(context.Background(), "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	bo := e.createUser("bo@example.com", "Bo")

	ctx := context.Background()
	for i := 1; i <= 25; i++ {
		err := e.db.AddEvent(ctx, db.SecurityEvent{UserID: ana.ID, Kind: handlers.EventLoginFailed, ClientIP: fmt.Sprintf("192.0.2.%d", i)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.AddEvent(ctx, db.SecurityEvent{UserID: bo.ID, Kind: handlers.EventLogout, ClientIP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AddEvent(ctx, db.SecurityEvent{Kind: handlers.EventLoginFailed, ClientIP: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}

	page := e.get(c, "/account", "Accept-Language", "es")
	if page.status != http.StatusOK {
		t.Fatalf("GET /account: got %d, want 200", page.status)
	}
	if got := page.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	for _, want := range []string{
		`<dd id="account-name">Test User</dd>`,
		`<dd id="account-email">ana@example.com</dd>`,
		`href="/account/sessions"`,
		`href="/account/password"`,
		"Intento de inicio de sesión fallido",
		"Dirección IP",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
	if strings.Contains(page.body, `href="/admin/users"`) {
		t.Error("account page of a user links to /admin/users, want the link only for admins")
	}

	var ips []string
	for _, m := range eventIP.FindAllStringSubmatch(page.body, -1) {
		ips = append(ips, m[1])
	}
	if len(ips) != 20 {
		t.Fatalf("listed events: got %d, want 20", len(ips))
	}
	for i, ip := range ips {
		want := fmt.Sprintf("192.0.2.%d", 25-i)
		if ip != want {
			t.Errorf("event %d: got IP %s, want %s (the latest 20, newest first)", i, ip, want)
		}
	}
	for _, other := range []string{"198.51.100.7", "203.0.113.9", "127.0.0.1"} {
		if strings.Contains(page.body, other) {
			t.Errorf("account page shows %s, which is not among the user's latest 20 events", other)
		}
	}

	english := e.get(c, "/account", "Accept-Language", "en")
	for _, want := range []string{"Failed login attempt", "IP address", "My account"} {
		if !strings.Contains(english.body, want) {
			t.Errorf("English account page lacks %q", want)
		}
	}
}

func TestAccountPageEventDetails(t *testing.T) {
	e := newEnv(t)
	user := e.createUser("cy@example.com", "")
	c := e.client()
	if resp := e.loginAs(c, "cy@example.com", testPassword); resp.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.status)
	}
	err := e.db.AddEvent(context.Background(), db.SecurityEvent{
		UserID:    user.ID,
		Kind:      handlers.EventPasswordChanged,
		ClientIP:  "198.51.100.50",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		Details:   map[string]any{"by": handlers.EventByAdmin, "admin_id": 99},
	})
	if err != nil {
		t.Fatal(err)
	}

	page := e.get(c, "/account", "Accept-Language", "en")
	for _, want := range []string{"Password changed", "(by an administrator)", "Logged in", "Firefox on Linux", `datetime="`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "admin_id") {
		t.Error("account page shows raw event details, want them only on admin pages")
	}
	if strings.Contains(page.body, "198.51.100.50") || strings.Contains(page.body, "Chrome on Windows") {
		t.Error("account page shows the admin's IP or browser for an event that the admin caused")
	}
}

func TestAccountPageNeedsLogin(t *testing.T) {
	e := newEnv(t)

	resp := e.get(e.client(), "/account")
	if resp.status != http.StatusSeeOther || resp.location != "/login?next="+url.QueryEscape("/account") {
		t.Errorf("GET /account anonymous: got %d to %q, want 303 to /login?next=%%2Faccount", resp.status, resp.location)
	}
}

func TestDashboardLinksAccount(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("dee@example.com")

	dash := e.get(c, "/dashboard")
	if !strings.Contains(dash.body, `href="/account"`) {
		t.Error("dashboard lacks the link to /account")
	}
	if strings.Contains(dash.body, `href="/admin/users"`) {
		t.Error("dashboard of a user links to /admin/users, want the link only for admins")
	}

	admin := e.adminClient("root@example.com")
	if !strings.Contains(e.get(admin, "/dashboard").body, `href="/admin/users"`) {
		t.Error("dashboard of an admin lacks the link to /admin/users")
	}
}
