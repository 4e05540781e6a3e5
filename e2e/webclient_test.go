package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// webClient is one visitor without a browser. It keeps the cookies that the
// server sets, whatever their Secure flag or port, sends them back by hand
// and returns redirects instead of following them. It is not safe for
// concurrent use.
type webClient struct {
	http    *http.Client
	cookies map[string]string
}

// response is a response with its whole body read.
type response struct {
	status int
	header http.Header
	body   string
}

func newWebClient(transport http.RoundTripper) *webClient {
	return &webClient{
		http: &http.Client{
			Transport: transport,
			Timeout:   10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		cookies: map[string]string{},
	}
}

// request sends one request with the client's cookies and header, and
// stores the cookies of the response. form, when not nil, is sent as the
// body of a POST. The error is a transport failure.
func (c *webClient) request(method, target string, form url.Values, header http.Header) (*response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, err
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie := c.cookieHeader(); cookie != "" {
		req.Header.Set("Cookie", cookie)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}

	for _, cookie := range resp.Cookies() {
		if cookie.MaxAge < 0 {
			delete(c.cookies, cookie.Name)
		} else {
			c.cookies[cookie.Name] = cookie.Value
		}
	}

	return &response{status: resp.StatusCode, header: resp.Header, body: string(data)}, nil
}

// cookieHeader returns the Cookie header, in name order so that requests
// are reproducible.
func (c *webClient) cookieHeader() string {
	names := make([]string, 0, len(c.cookies))
	for name := range c.cookies {
		names = append(names, name)
	}
	slices.Sort(names)

	pairs := make([]string, 0, len(names))
	for _, name := range names {
		pairs = append(pairs, name+"="+c.cookies[name])
	}

	return strings.Join(pairs, "; ")
}

// mustRequest is request for the test goroutine: a transport failure fails
// the test.
func (c *webClient) mustRequest(t *testing.T, method, target string, form url.Values, header http.Header) *response {
	t.Helper()

	resp, err := c.request(method, target, form, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}

	return resp
}

// logIn opens the login page at baseURL for its CSRF token, submits the
// form and requires the redirect to the dashboard.
func (c *webClient) logIn(t *testing.T, baseURL, email, password string, header http.Header) {
	t.Helper()

	page := c.mustRequest(t, http.MethodGet, baseURL+"/login", nil, header)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s/login: got status %d, want 200", baseURL, page.status)
	}
	form := url.Values{
		"csrf_token": {csrfToken(t, page.body)},
		"email":      {email},
		"password":   {password},
	}

	resp := c.mustRequest(t, http.MethodPost, baseURL+"/login", form, header)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("POST %s/login as %s: got status %d, want 303", baseURL, email, resp.status)
	}
	if got := resp.header.Get("Location"); got != "/dashboard" {
		t.Fatalf("POST %s/login as %s: got Location %q, want /dashboard", baseURL, email, got)
	}
}

// logOut submits the logout form of the dashboard at baseURL and requires
// the redirect to the login page.
func (c *webClient) logOut(t *testing.T, baseURL string) {
	t.Helper()

	page := c.mustRequest(t, http.MethodGet, baseURL+"/dashboard", nil, nil)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s/dashboard before logout: got status %d, want 200", baseURL, page.status)
	}

	form := url.Values{"csrf_token": {csrfToken(t, page.body)}}
	resp := c.mustRequest(t, http.MethodPost, baseURL+"/logout", form, nil)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("POST %s/logout: got status %d, want 303", baseURL, resp.status)
	}
	if got := resp.header.Get("Location"); got != "/login?logged_out=1" {
		t.Fatalf("POST %s/logout: got Location %q, want /login?logged_out=1", baseURL, got)
	}
}

var csrfTokenPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken returns the CSRF token of the first form in an HTML page.
func csrfToken(t *testing.T, body string) string {
	t.Helper()

	match := csrfTokenPattern.FindStringSubmatch(body)
	if match == nil {
		t.Fatalf("page has no csrf_token field: got %.300q", body)
	}

	return match[1]
}

// logRecord is one line of portero's JSON log, which production uses.
type logRecord map[string]any

// jsonRecords returns the JSON lines of the log whose msg contains msgPart.
// Lines that are not JSON, such as the deployment's own markers, are
// skipped.
func jsonRecords(log, msgPart string) []logRecord {
	var records []logRecord
	for line := range strings.Lines(log) {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var record logRecord
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			continue
		}
		if msg, ok := record["msg"].(string); ok && strings.Contains(msg, msgPart) {
			records = append(records, record)
		}
	}

	return records
}

// requireNoPanic fails the test when a portero process logged a panic.
func requireNoPanic(t *testing.T, log string) {
	t.Helper()

	if strings.Contains(strings.ToLower(log), "panic") {
		t.Errorf("server log: got a line with \"panic\", want none")
	}
}
