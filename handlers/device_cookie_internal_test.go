package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
)

// issuedDeviceValue returns the value of a device cookie that d issues to
// the user at issuedAt.
func issuedDeviceValue(t *testing.T, d *deviceCookies, user *db.User, issuedAt time.Time) string {
	t.Helper()

	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/login", nil), rec)
	d.issue(c, user.ID, user.PasswordHash, issuedAt)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == d.name {
			return ck.Value
		}
	}
	t.Fatal("issue set no device cookie")

	return ""
}

// readDeviceValue parses value as the request's device cookie.
func readDeviceValue(d *deviceCookies, value string) (deviceToken, bool) {
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	req.AddCookie(&http.Cookie{Name: d.name, Value: value})

	return d.read(echo.New().NewContext(req, httptest.NewRecorder()))
}

func TestDeviceCookieValidity(t *testing.T) {
	d := &deviceCookies{name: "portero_device", key: []byte("0123456789abcdef0123456789abcdef")}
	user := &db.User{ID: 42, PasswordHash: "$2a$04$abcdefghijklmnopqrstuu5f0mZ3QzrYGDPbYzQHWwKEj6wqsn2Wq"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name     string
		issuedAt time.Time
		user     *db.User
		want     bool
	}{
		{"just issued", now, user, true},
		{"a day short of the max age", now.Add(-deviceCookieMaxAge + 24*time.Hour), user, true},
		{"older than the max age", now.Add(-deviceCookieMaxAge - time.Second), user, false},
		{"issued within the clock skew ahead", now.Add(deviceClockSkew - time.Second), user, true},
		{"issued beyond the clock skew ahead", now.Add(deviceClockSkew + time.Minute), user, false},
		{"another user", now, &db.User{ID: 43, PasswordHash: user.PasswordHash}, false},
		{"a changed password", now, &db.User{ID: 42, PasswordHash: strings.Replace(user.PasswordHash, "a", "b", 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := issuedDeviceValue(t, d, user, tt.issuedAt)
			token, ok := readDeviceValue(d, value)
			if !ok {
				t.Fatalf("read %q: got not ok, want a parsed token", value)
			}
			if got := d.valid(token, tt.user, now); got != tt.want {
				t.Errorf("valid: got %v, want %v", got, tt.want)
			}
		})
	}

	otherKey := &deviceCookies{name: d.name, key: []byte("fedcba9876543210fedcba9876543210")}
	token, _ := readDeviceValue(d, issuedDeviceValue(t, otherKey, user, now))
	if d.valid(token, user, now) {
		t.Error("valid with a cookie signed by another key: got true, want false")
	}
}

func TestDeviceCookieReadRejectsMalformed(t *testing.T) {
	d := &deviceCookies{name: "portero_device", key: []byte("0123456789abcdef0123456789abcdef")}
	good := issuedDeviceValue(t, d, &db.User{ID: 1, PasswordHash: "hash"}, time.Now())
	parts := strings.Split(good, ".")

	for name, value := range map[string]string{
		"empty":             "",
		"two parts":         parts[0] + "." + parts[1],
		"four parts":        good + ".x",
		"time not a number": "x." + parts[1] + "." + parts[2],
		"negative time":     "-5." + parts[1] + "." + parts[2],
		"short nonce":       parts[0] + "." + parts[1][:10] + "." + parts[2],
		"short MAC":         parts[0] + "." + parts[1] + "." + parts[2][:20],
		"padded base64":     parts[0] + "." + parts[1] + "==." + parts[2],
		"too long":          good + strings.Repeat("A", deviceCookieMaxLen),
	} {
		if _, ok := readDeviceValue(d, value); ok {
			t.Errorf("%s: read %q: got ok, want rejected", name, value)
		}
	}
	if _, ok := readDeviceValue(d, good); !ok {
		t.Errorf("read of an issued value %q: got rejected, want ok", good)
	}
}
