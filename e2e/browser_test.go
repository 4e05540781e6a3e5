package e2e

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// actionTimeout bounds each browser step, so that a page that never shows
// an element fails the test instead of hanging until `go test -timeout`.
const actionTimeout = 15 * time.Second

// chromePath returns CHROME_PATH, or /usr/bin/chromium when it is unset, and
// fails the test when no executable file is there.
func chromePath(t *testing.T) string {
	t.Helper()

	path, source := os.Getenv("CHROME_PATH"), "CHROME_PATH"
	if path == "" {
		path, source = "/usr/bin/chromium", "default path, CHROME_PATH is unset"
	}

	info, err := os.Stat(path)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		t.Fatalf("Chromium not found at %s (%s): run `make test`, which installs it, or `apt-get install chromium`, or set CHROME_PATH to a Chrome or Chromium binary", path, source)
	}

	return path
}

// newBrowser starts headless Chromium with a new, empty profile and returns
// a context for its first tab. The browser is closed when the test ends.
// extra adds or overrides command-line flags, such as Flag("accept-lang", "en").
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()

	path := chromePath(t)
	output := &logBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Chromium does not start as root without --no-sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(output),
	)
	opts = append(opts, extra...)

	allocatorCtx, cancelAllocator := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocatorCtx)
	t.Cleanup(func() {
		cancelBrowser()
		// The allocator's cancel function waits until the process exits.
		cancelAllocator()
		if t.Failed() {
			t.Logf("Chromium output:\n%s", output.String())
		}
	})

	// The first Do starts the browser. Its context has no deadline, because
	// a deadline here would close the browser when it ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}

	return ctx
}

// do runs browser steps with actionTimeout and fails the test with the step
// name when one of them fails.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// get runs one browser action with actionTimeout and returns its value.
func get[T any](t *testing.T, ctx context.Context, step string, action chromedp.Action[T]) T {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	value, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}

	return value
}

// currentPath returns the path and query of the page in the tab.
func currentPath(t *testing.T, ctx context.Context) string {
	t.Helper()

	location := get(t, ctx, "read the page URL", chromedp.Location())
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("parse the page URL %q: %v", location, err)
	}

	return u.RequestURI()
}

// browserCookie returns the cookie that the browser would send to pageURL
// under name, or nil when it has none.
func browserCookie(t *testing.T, ctx context.Context, pageURL, name string) *network.Cookie {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	result, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
	if err != nil {
		t.Fatalf("read the browser's cookies for %s: %v", pageURL, err)
	}
	for _, cookie := range result.Cookies {
		if cookie.Name == name {
			return cookie
		}
	}

	return nil
}

// reload reloads the tab and requires the document to come from the server,
// not from a cache, with status 200. A page from a cache would prove nothing
// about the server process that runs now.
func reload(t *testing.T, ctx context.Context, step string) {
	t.Helper()

	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()

	// chromedp.Reload waits for the load itself, so RunResponse gets the
	// bare command and does the waiting.
	sendReload := chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, page.Reload, page.ReloadParams{})
		return err
	})
	resp, err := chromedp.RunResponse(ctx, sendReload)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if resp.Status != 200 {
		t.Fatalf("%s: got status %d for %s, want 200", step, resp.Status, resp.URL)
	}
	if resp.FromDiskCache || resp.FromServiceWorker || resp.FromPrefetchCache {
		t.Fatalf("%s: got the document from a cache, want it from the server", step)
	}
}
