// Package e2e holds Portero's end-to-end tests. They build the portero
// binary, run it as a subprocess against a database in the PostgreSQL cluster
// named by TEST_DATABASE_URL, and drive the pages with headless Chromium
// through chromedp.
//
// Run them with `make test`, which starts PostgreSQL and installs Chromium, or
// with TEST_DATABASE_URL set and Chromium at CHROME_PATH or /usr/bin/chromium:
//
//	TEST_DATABASE_URL=postgres://... go test -race -count=1 ./e2e/ -v
//
// The tests fail, never skip, when PostgreSQL, Chromium or nginx is missing
// (nginx at NGINX_PATH or /usr/sbin/nginx).
// TestPhoneLayout saves its screenshots in E2E_SCREENSHOT_DIR when it is set.
package e2e
