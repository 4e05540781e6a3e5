package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	csrfFormField = "csrf_token"
	csrfCookieLen = 32
	ctxCSRFToken  = "csrf_token"
)

// csrf protects every unsafe request with a signed double-submit token: the
// browser holds a random value in an HttpOnly cookie, and each form carries
// an HMAC of that value, so a token made up without the server's key never
// matches. A site that can plant cookies could still plant a cookie and
// token pair it fetched itself, which the __Host- prefix of production
// cookies prevents. Browsers that send Sec-Fetch-Site or Origin are also
// checked for a cross-site source.
type csrf struct {
	cookieName string
	secure     bool
	maxAge     time.Duration
	// keys holds the current key first, then the previous one, if any.
	keys []*csrfKey
}

// csrfKey is a signing key with a pool of HMACs keyed with it. Every page
// signs a token, and a pooled HMAC saves setting up a new one each time.
type csrfKey struct {
	macs sync.Pool
}

func newCSRFKey(key []byte) *csrfKey {
	k := &csrfKey{}
	k.macs.New = func() any { return hmac.New(sha256.New, key) }

	return k
}

func (x *csrf) sign(key *csrfKey, value string) string {
	mac := key.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(value))
	var sum [sha256.Size]byte
	token := base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0]))
	key.macs.Put(mac)

	return token
}

func (x *csrf) valid(cookieValue, token string) bool {
	if cookieValue == "" || token == "" {
		return false
	}
	for _, key := range x.keys {
		if hmac.Equal([]byte(x.sign(key, cookieValue)), []byte(token)) {
			return true
		}
	}

	return false
}

func (x *csrf) cookieValue(c echo.Context) string {
	cookie, err := c.Cookie(x.cookieName)
	if err != nil {
		return ""
	}

	raw, err := base64.RawURLEncoding.DecodeString(cookie.Value)
	if err != nil || len(raw) != csrfCookieLen {
		return ""
	}

	return cookie.Value
}

// issue sets a new random cookie value and returns it.
func (x *csrf) issue(c echo.Context) string {
	raw := make([]byte, csrfCookieLen)
	rand.Read(raw)
	value := base64.RawURLEncoding.EncodeToString(raw)

	c.SetCookie(&http.Cookie{
		Name:     x.cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   int(x.maxAge / time.Second),
		Secure:   x.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})

	return value
}

// rotate replaces the cookie, for example after a login, and stores the new
// token for the page being rendered.
func (x *csrf) rotate(c echo.Context) {
	value := x.issue(c)
	c.Set(ctxCSRFToken, x.sign(x.keys[0], value))
}

func (x *csrf) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		value := x.cookieValue(c)

		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := r.ParseForm(); err != nil {
				return &Error{Status: http.StatusBadRequest, Key: "error.400", Err: err}
			}
			if err := x.check(r, value); err != nil {
				return &Error{Status: http.StatusForbidden, Key: "error.403.csrf", Err: err}
			}
		}

		if value == "" {
			value = x.issue(c)
		}
		c.Set(ctxCSRFToken, x.sign(x.keys[0], value))

		return next(c)
	}
}

// Reasons a CSRF check fails, for the log.
var (
	errCrossSite    = errors.New("csrf: cross-site request")
	errNoCSRFCookie = errors.New("csrf: no CSRF cookie")
	errBadCSRFToken = errors.New("csrf: token missing or not matching the cookie")
)

func (x *csrf) check(r *http.Request, cookieValue string) error {
	switch {
	case !x.sameOrigin(r):
		return errCrossSite
	case cookieValue == "":
		return errNoCSRFCookie
	case !x.valid(cookieValue, r.PostFormValue(csrfFormField)):
		return errBadCSRFToken
	}

	return nil
}

// sameOrigin rejects requests that the browser marks as coming from another
// site. Clients that send neither header pass on to the token check.
func (x *csrf) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}

	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}

	// Only the host names are compared: a proxy such as CapRover's nginx
	// may pass Host without the port that the browser put in Origin. The
	// token check still applies to every request.
	return strings.EqualFold(u.Hostname(), hostname(r.Host))
}

// hostname returns host without its port, if any.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}

	return strings.Trim(host, "[]")
}

func csrfTokenOf(c echo.Context) string {
	token, _ := c.Get(ctxCSRFToken).(string)
	return token
}
