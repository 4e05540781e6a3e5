package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// Viewport of a small phone in CSS pixels.
const (
	phoneWidth  = 375
	phoneHeight = 800
)

// TestPhoneLayout renders the login page and the dashboard at phone width,
// checks that neither scrolls sideways, and saves a screenshot of each.
// Set E2E_SCREENSHOT_DIR to keep the PNG files; otherwise they go to a
// temporary directory that the test removes.
func TestPhoneLayout(t *testing.T) {
	const (
		email = "ana@example.com"
		name  = "Ana Pérez"
	)
	password := "Cigüeña-" + randomHex(t, 8)

	ctx := newBrowser(t, spanishBrowser)
	d := newDeployment(t)
	d.createUser(t, email, name, password)
	d.start(t)
	dir := screenshotDir(t)

	do(t, ctx, "set a phone viewport",
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulatePortrait),
	)
	do(t, ctx, "open the login page", chromedp.Navigate(d.baseURL()+"/login"))
	requireNoSidewaysScroll(t, ctx, "login page")
	saveScreenshot(t, ctx, filepath.Join(dir, "login-375x800.png"))

	logIn(t, ctx, d.baseURL(), email, password)
	requireDashboard(t, ctx, "at phone width", email, name)
	requireNoSidewaysScroll(t, ctx, "dashboard")
	saveScreenshot(t, ctx, filepath.Join(dir, "dashboard-375x800.png"))
}

// screenshotDir returns E2E_SCREENSHOT_DIR, created if needed, or a
// temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()

	dir := os.Getenv("E2E_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create E2E_SCREENSHOT_DIR %s: %v", dir, err)
	}

	return dir
}

// requireNoSidewaysScroll fails the test when the page is wider than the
// viewport, which on a phone means that part of it is cut off.
func requireNoSidewaysScroll(t *testing.T, ctx context.Context, page string) {
	t.Helper()

	width := get(t, ctx, "read the width of the "+page,
		chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if width > phoneWidth {
		t.Errorf("%s scroll width at a %d px viewport: got %d px, want at most %d", page, phoneWidth, width, phoneWidth)
	}
}

// saveScreenshot writes a PNG of the visible viewport to path.
func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()

	png := get(t, ctx, "take a screenshot", chromedp.CaptureScreenshot())
	if len(png) == 0 {
		t.Fatalf("screenshot for %s: got 0 bytes, want a PNG", path)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}
