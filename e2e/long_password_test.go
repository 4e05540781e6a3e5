package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLongPasswordInBrowser changes the password in Chromium on a server
// with PASSWORD_PEPPER to 64 two-byte characters, 128 bytes, which the
// 72-byte limit without a pepper would reject. It checks that the strength
// hint counts characters against the 128-character limit, and then logs in
// with the new password.
func TestLongPasswordInBrowser(t *testing.T) {
	const email = "ana@example.com"
	oldPassword := "Cigüeña-" + randomHex(t, 8)
	newPassword := strings.Repeat("ñ", 64)

	ctx := newBrowser(t, englishBrowser)
	d := newDeployment(t)
	d.extraEnv = append(d.extraEnv, "PASSWORD_PEPPER="+randomHex(t, 24))
	d.createUser(t, email, "Ana Pérez", oldPassword)
	server := d.start(t)

	logIn(t, ctx, d.baseURL(), email, oldPassword)
	do(t, ctx, "open the password page", chromedp.Navigate(d.baseURL()+"/account/password"))
	rules := get(t, ctx, "read the password rules", chromedp.Text(chromedp.CSS("#password-rules")))
	if !strings.Contains(rules, "Use 12 to 128 characters.") {
		t.Errorf("password rules: got %q, want the 128-character limit", rules)
	}

	do(t, ctx, "type the new password", chromedp.SendKeys(chromedp.CSS("#new_password"), newPassword))
	requireHint(t, ctx, "64 of 128 characters. Strength:")
	do(t, ctx, "type 65 more characters", chromedp.SendKeys(chromedp.CSS("#new_password"), strings.Repeat("ñ", 65)))
	requireHint(t, ctx, "Too long: use at most 128 characters.")

	// Each emoji is two UTF-16 code units, so this checks that the script
	// counts code points as the server does.
	fill := `(value) => {
		const input = document.getElementById("new_password");
		input.value = value;
		input.dispatchEvent(new Event("input"));
	}`
	do(t, ctx, "fill in 64 emoji", chromedp.Evaluate[chromedp.Void](`(`+fill+`)("😀".repeat(64))`))
	requireHint(t, ctx, "64 of 128 characters. Strength:")
	do(t, ctx, "fill in the new password again", chromedp.Evaluate[chromedp.Void](`(`+fill+`)("ñ".repeat(64))`))

	do(t, ctx, "submit the form",
		chromedp.SendKeys(chromedp.CSS("#current_password"), oldPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm_password"), newPassword),
		chromedp.Click(chromedp.CSS("#change-password")),
		chromedp.WaitVisible(chromedp.CSS("#form-notice")),
	)
	if got := currentPath(t, ctx); got != "/account/password?changed=1" {
		t.Errorf("page after the change: got %s, want /account/password?changed=1", got)
	}

	fresh := newWebClient(nil)
	fresh.logIn(t, d.baseURL(), email, newPassword, nil)

	server.stop(t)
	requireNoSecrets(t, d.log.String(), map[string]string{
		"old password": oldPassword,
		"new password": newPassword,
	})
}
