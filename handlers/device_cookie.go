package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
)

const (
	// deviceCookieMaxAge is how long a device cookie stays valid after the
	// login that issued it. Every successful login issues a new one, so a
	// browser in regular use stays trusted.
	deviceCookieMaxAge = 365 * 24 * time.Hour
	// deviceClockSkew is how far in the future an issue time may be, for
	// instances whose clocks differ a little.
	deviceClockSkew = 5 * time.Minute
	deviceNonceLen  = 16
	// deviceCookieMaxLen bounds the value that is parsed at all. An issued
	// value has 77 characters.
	deviceCookieMaxLen = 200
)

// deviceCookies issues and checks device cookies. After a successful login
// the browser gets a cookie bound to that user. A later login that carries
// a valid one is locked per device instead of by the account-wide lock, so
// someone who keeps the account locked cannot stop its owner from logging
// in. The defence is OWASP's, described at
// https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies.
//
// The value is "ISSUED.NONCE.MAC": the issue time in Unix seconds, 16
// random bytes and an HMAC-SHA256 of the user ID, the user's password hash,
// the issue time and the nonce. A new password, a new SESSION_SECRET or the
// age limit invalidates it.
type deviceCookies struct {
	name   string
	secure bool
	// key signs the values. It is derived from SESSION_SECRET, so a
	// rotation of the secret invalidates every device cookie.
	key []byte
}

// deviceToken is a parsed device cookie, not yet verified.
type deviceToken struct {
	issuedAt int64
	nonce    []byte
	mac      []byte
}

func (d *deviceCookies) sign(userID int64, passwordHash string, issuedAt int64, nonce []byte) []byte {
	mac := hmac.New(sha256.New, d.key)
	mac.Write([]byte(strconv.FormatInt(userID, 10) + "\x00" + passwordHash + "\x00" + strconv.FormatInt(issuedAt, 10) + "\x00"))
	mac.Write(nonce)

	return mac.Sum(nil)
}

// issue sets a new device cookie for the user, signed with passwordHash,
// which is the hash that the user's next login will be checked against.
func (d *deviceCookies) issue(c echo.Context, userID int64, passwordHash string, now time.Time) {
	nonce := make([]byte, deviceNonceLen)
	rand.Read(nonce)
	issuedAt := now.Unix()
	value := strconv.FormatInt(issuedAt, 10) + "." +
		base64.RawURLEncoding.EncodeToString(nonce) + "." +
		base64.RawURLEncoding.EncodeToString(d.sign(userID, passwordHash, issuedAt, nonce))

	c.SetCookie(&http.Cookie{
		Name:     d.name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(deviceCookieMaxAge / time.Second),
		Secure:   d.secure,
		HttpOnly: true,
		// Only the site's own login and account forms need the cookie.
		SameSite: http.SameSiteStrictMode,
	})
}

// read parses the request's device cookie. It returns false when there is
// none or its value is malformed.
func (d *deviceCookies) read(c echo.Context) (deviceToken, bool) {
	cookie, err := c.Cookie(d.name)
	if err != nil || len(cookie.Value) > deviceCookieMaxLen {
		return deviceToken{}, false
	}

	parts := strings.Split(cookie.Value, ".")
	if len(parts) != 3 {
		return deviceToken{}, false
	}
	issuedAt, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || issuedAt <= 0 {
		return deviceToken{}, false
	}
	nonce, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(nonce) != deviceNonceLen {
		return deviceToken{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(mac) != sha256.Size {
		return deviceToken{}, false
	}

	return deviceToken{issuedAt: issuedAt, nonce: nonce, mac: mac}, true
}

// valid reports whether tok was issued to user, under the user's current
// password hash and within deviceCookieMaxAge before now.
func (d *deviceCookies) valid(tok deviceToken, user *db.User, now time.Time) bool {
	age := now.Sub(time.Unix(tok.issuedAt, 0))
	if age > deviceCookieMaxAge || age < -deviceClockSkew {
		return false
	}

	return hmac.Equal(tok.mac, d.sign(user.ID, user.PasswordHash, tok.issuedAt, tok.nonce))
}
