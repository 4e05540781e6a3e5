package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestSecurityKeyInBrowser registers a security key on /account/keys with
// Chromium's virtual authenticator, logs out, and logs in again: the
// password alone must not reach the dashboard, and the key must.
//
// The pages are loaded from http://localhost, because browsers reject an
// IP address as the WebAuthn RP ID, and localhost is a secure context over
// plain HTTP.
func TestSecurityKeyInBrowser(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	password := "Cigüeña-" + randomHex(t, 8)

	ctx := newBrowser(t, englishBrowser)
	authenticator := addVirtualAuthenticator(t, ctx)
	d := newDeployment(t)
	baseURL := "http://localhost:" + strconv.Itoa(d.port)
	d.extraEnv = append(d.extraEnv, "WEBAUTHN_RP_ID=localhost", "WEBAUTHN_ORIGINS="+baseURL)
	d.createUser(t, email, name, password)
	d.start(t)

	logIn(t, ctx, baseURL, email, password)
	do(t, ctx, "open the keys page from My account",
		chromedp.Navigate(baseURL+"/account"),
		chromedp.Click(chromedp.CSS("#keys-link")),
		chromedp.WaitVisible(chromedp.CSS("#no-keys")),
	)
	do(t, ctx, "name the key",
		chromedp.SendKeys(chromedp.CSS("#key-name"), "Blue USB key"),
		chromedp.Click(chromedp.CSS("#add-key")),
		chromedp.WaitVisible(chromedp.CSS("#register-key")),
	)
	do(t, ctx, "register the key",
		chromedp.Click(chromedp.CSS("#register-key")),
		chromedp.WaitVisible(chromedp.CSS("#form-notice, #form-error, #key-error:not([hidden])")),
	)
	if message := get(t, ctx, "read the error of the keys page", chromedp.Evaluate[string](`(document.querySelector("#form-error, #key-error:not([hidden])") || {}).textContent || ""`)); message != "" {
		t.Fatalf("adding a key: got the error %q, want none", message)
	}
	if got := currentPath(t, ctx); got != "/account/keys?done=added" {
		t.Fatalf("page after adding a key: got %s, want /account/keys?done=added", got)
	}
	listed := get(t, ctx, "read the listed key names", chromedp.Evaluate[string](`[...document.querySelectorAll(".key-name")].map(e => e.textContent).join("|")`))
	if listed != "Blue USB key" {
		t.Errorf("listed keys: got %q, want %q", listed, "Blue USB key")
	}
	if n := len(virtualCredentials(t, ctx, authenticator)); n != 1 {
		t.Fatalf("credentials in the virtual authenticator: got %d, want 1", n)
	}

	do(t, ctx, "log out",
		chromedp.Navigate(baseURL+"/dashboard"),
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)

	// The password alone leads to the key step, and the dashboard is still
	// out of reach.
	do(t, ctx, "log in with the password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#use-key")),
	)
	if got := currentPath(t, ctx); got != "/login/key" {
		t.Fatalf("page after the password: got %s, want /login/key", got)
	}
	if cookie := browserCookie(t, ctx, baseURL, sessionCookieName); cookie != nil {
		t.Errorf("session cookie after the password alone: got %s, want none", cookie.Name)
	}
	do(t, ctx, "open the dashboard with the password alone",
		chromedp.Navigate(baseURL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)
	if got := currentPath(t, ctx); got != "/login" {
		t.Errorf("dashboard with the password alone: got %s, want /login", got)
	}

	do(t, ctx, "use the key",
		chromedp.Navigate(baseURL+"/login/key"),
		chromedp.Click(chromedp.CSS("#use-key")),
		chromedp.WaitVisible(chromedp.CSS("#user-email")),
	)
	if got := currentPath(t, ctx); got != "/dashboard" {
		t.Errorf("page after the key: got %s, want /dashboard", got)
	}
	credentials := virtualCredentials(t, ctx, authenticator)
	if len(credentials) != 1 || credentials[0].SignCount < 2 {
		t.Errorf("virtual credential after the login: got %d credentials, want 1 with a counter of at least 2", len(credentials))
	}

	do(t, ctx, "open the keys page after the login",
		chromedp.Navigate(baseURL+"/account/keys"),
		chromedp.WaitVisible(chromedp.CSS(".key-last-used time")),
	)
	lastUsed := get(t, ctx, "read the last use", chromedp.Evaluate[string](`document.querySelector(".key-last-used").textContent`))
	if strings.TrimSpace(lastUsed) == "Never" {
		t.Errorf("last use after the login: got %q, want a time", lastUsed)
	}
}

// addVirtualAuthenticator enables the WebAuthn domain in the tab and adds
// a CTAP2 USB authenticator that verifies the user and confirms presence
// without a touch.
func addVirtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable the WebAuthn domain: %v", err)
	}
	result, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportUsb,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}

	return result.AuthenticatorID
}

// virtualCredentials returns the credentials that the virtual
// authenticator holds.
func virtualCredentials(t *testing.T, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	result, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("read the virtual authenticator's credentials: %v", err)
	}

	return result.Credentials
}
