package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// csrfTokenField matches the hidden CSRF field of Portero's forms.
var csrfTokenField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// maxPageBytes bounds how much of a page the client reads.
const maxPageBytes = 1 << 20

// loopbackBaseURL parses raw and rejects it unless it is an http URL whose
// host is a loopback IP address, because the benchmark sends load to no
// other address.
func loopbackBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid -url %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("invalid -url %q: the scheme must be http", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("invalid -url %q: the host must be a loopback IP address such as 127.0.0.1", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")

	return u, nil
}

// newClient returns a client that ignores proxy settings, so requests stay
// on this machine, and that does not follow redirects, so the caller sees
// each status code.
func newClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil

	return &http.Client{
		Transport: transport,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// getPage requests path and returns the response with its body read.
func getPage(ctx context.Context, client *http.Client, base *url.URL, path string, cookies []*http.Cookie) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+path, nil)
	if err != nil {
		return nil, "", err
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}

	return do(client, req)
}

func do(client *http.Client, req *http.Request) (*http.Response, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}

	return resp, string(body), nil
}

// csrfPair is one CSRF cookie with the form token signed for it.
type csrfPair struct {
	cookie *http.Cookie
	token  string
}

// fetchCSRFPair requests the login page without cookies, which makes the
// server issue a new CSRF cookie, and returns that cookie with the page's token.
func fetchCSRFPair(ctx context.Context, client *http.Client, base *url.URL) (csrfPair, error) {
	resp, body, err := getPage(ctx, client, base, "/login", nil)
	if err != nil {
		return csrfPair{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return csrfPair{}, fmt.Errorf("GET /login: status %d, expected 200", resp.StatusCode)
	}

	match := csrfTokenField.FindStringSubmatch(body)
	if match == nil {
		return csrfPair{}, errors.New("GET /login: no csrf_token field in the page")
	}
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "portero_csrf") && c.Value != "" {
			return csrfPair{cookie: c, token: html.UnescapeString(match[1])}, nil
		}
	}

	return csrfPair{}, errors.New("GET /login: no portero_csrf cookie in the response")
}

func waitReadyCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("wait-ready", flag.ContinueOnError)
	rawURL := fs.String("url", "", "base URL of the server, such as http://127.0.0.1:8080")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait")
	if err := parseFlags(fs, args, "url"); err != nil {
		return err
	}
	base, err := loopbackBaseURL(*rawURL)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	_, err = pollReady(ctx, newClient(), base, 10*time.Millisecond)

	return err
}

// pollReady requests /readyz every interval until it returns 200 and returns
// how long that took. It fails when ctx ends first.
func pollReady(ctx context.Context, client *http.Client, base *url.URL, interval time.Duration) (time.Duration, error) {
	started := time.Now()
	lastStatus := "no response"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+"/readyz", nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(started), nil
			}
			lastStatus = fmt.Sprintf("status %d", resp.StatusCode)
		} else {
			lastStatus = err.Error()
		}

		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("GET %s/readyz did not return 200 within %s (last: %s)", base, time.Since(started).Round(time.Millisecond), lastStatus)
		case <-time.After(interval):
		}
	}
}

func loginCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	rawURL := fs.String("url", "", "base URL of the server, such as http://127.0.0.1:8080")
	email := fs.String("email", "", "email of the user")
	passwordFile := fs.String("password-file", "", "file whose first line is the user's password")
	out := fs.String("out", "", "file to write the Cookie header value to")
	if err := parseFlags(fs, args, "url", "email", "password-file", "out"); err != nil {
		return err
	}
	base, err := loopbackBaseURL(*rawURL)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*passwordFile)
	if err != nil {
		return fmt.Errorf("read -password-file: %w", err)
	}
	password, _, _ := strings.Cut(string(data), "\n")

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	header, err := login(ctx, newClient(), base, *email, password)
	if err != nil {
		return err
	}

	return os.WriteFile(*out, []byte(header+"\n"), 0o600)
}

// login logs in as a browser does, checks that the dashboard then shows the
// user, and returns the Cookie header value with the session and CSRF cookies.
func login(ctx context.Context, client *http.Client, base *url.URL, email, password string) (string, error) {
	pair, err := fetchCSRFPair(ctx, client, base)
	if err != nil {
		return "", err
	}

	form := url.Values{"email": {email}, "password": {password}, "csrf_token": {pair.token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pair.cookie)
	resp, _, err := do(client, req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard" {
		return "", fmt.Errorf("POST /login: status %d with Location %q, expected 303 to /dashboard", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The login sets the session cookie and rotates the CSRF cookie.
	cookies := map[string]*http.Cookie{pair.cookie.Name: pair.cookie}
	for _, c := range resp.Cookies() {
		cookies[c.Name] = c
	}
	var list []*http.Cookie
	var hasSession bool
	for _, c := range cookies {
		if c.Value == "" {
			continue
		}
		hasSession = hasSession || strings.HasSuffix(c.Name, "portero_session")
		list = append(list, c)
	}
	if !hasSession {
		return "", errors.New("POST /login: no portero_session cookie in the response")
	}

	resp, body, err := getPage(ctx, client, base, "/dashboard", list)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, html.EscapeString(email)) {
		return "", fmt.Errorf("GET /dashboard after the login: status %d, expected 200 with the email %s in the page", resp.StatusCode, email)
	}

	parts := make([]string, 0, len(list))
	for _, c := range list {
		parts = append(parts, c.Name+"="+c.Value)
	}

	return strings.Join(parts, "; "), nil
}

func csrfPairsCommand(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("csrf-pairs", flag.ContinueOnError)
	rawURL := fs.String("url", "", "base URL of the server, such as http://127.0.0.1:8080")
	count := fs.Int("n", 64, "number of pairs")
	out := fs.String("out", "", `file to write one "name=value token" line per pair to`)
	if err := parseFlags(fs, args, "url", "out"); err != nil {
		return err
	}
	if *count < 1 || *count > 10000 {
		return fmt.Errorf("%w: -n must be from 1 to 10000, got %d", errUsage, *count)
	}
	base, err := loopbackBaseURL(*rawURL)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := newClient()
	var lines strings.Builder
	for range *count {
		pair, err := fetchCSRFPair(ctx, client, base)
		if err != nil {
			return err
		}
		fmt.Fprintf(&lines, "%s=%s %s\n", pair.cookie.Name, pair.cookie.Value, pair.token)
	}

	return os.WriteFile(*out, []byte(lines.String()), 0o600)
}
