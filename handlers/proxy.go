package handlers

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// ipExtractor returns the client address as the nearest trusted proxy saw
// it: X-Forwarded-For is read from the right, skipping trusted hops, so a
// value that the client put in front is never taken. Without a trusted
// proxy in front, only the peer address counts.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}

	return func(r *http.Request) string {
		peer := echo.ExtractIPDirect()(r)
		if !inRanges(peer, trusted) {
			return peer
		}

		var hops []string
		for _, v := range r.Header.Values(echo.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			ip := net.ParseIP(strings.Trim(strings.TrimSpace(hops[i]), "[]"))
			if ip == nil {
				// A malformed entry breaks the chain, so nothing left of it
				// can be trusted either.
				return peer
			}
			if !inRanges(ip.String(), trusted) {
				return ip.String()
			}
		}

		// Every hop is in a trusted range, so the client itself is inside
		// the private network and could have written any of the entries.
		// Echo would return the leftmost one; the one the nearest proxy
		// appended is the only one a proxy vouches for.
		if len(hops) > 0 {
			if ip := net.ParseIP(strings.Trim(strings.TrimSpace(hops[len(hops)-1]), "[]")); ip != nil {
				return ip.String()
			}
		}

		return peer
	}
}

func inRanges(addr string, ranges []*net.IPNet) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, n := range ranges {
		if n.Contains(ip) {
			return true
		}
	}

	return false
}

// schemeExtractor believes X-Forwarded-Proto only from a trusted peer, and
// only the values http and https; anything else counts as the connection's
// own scheme. Other scheme headers, such as X-Forwarded-Ssl, are ignored,
// because CapRover's nginx sets only X-Forwarded-Proto and would pass the
// others through from the client.
func schemeExtractor(trusted []*net.IPNet) echo.SchemeExtractor {
	return func(r *http.Request) string {
		if r.TLS != nil {
			return "https"
		}
		if !inRanges(echo.ExtractIPDirect()(r), trusted) {
			return "http"
		}

		// With several values, the nearest proxy added the last one.
		values := r.Header.Values(echo.HeaderXForwardedProto)
		if len(values) == 0 {
			return "http"
		}
		last := values[len(values)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if strings.EqualFold(strings.TrimSpace(last), "https") {
			return "https"
		}

		return "http"
	}
}

// transport enforces HTTPS in production. Over HTTPS it adds HSTS. Over
// plain HTTP a browser would drop the Secure cookies and send the user back
// to the login page forever, so every page explains how to enable HTTPS.
type transport struct {
	requireHTTPS bool
	log          func(clientIP, host string)
}

func (a *App) requireHTTPS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !a.transport.requireHTTPS {
			return next(c)
		}

		if c.Scheme() == "https" {
			c.Response().Header().Set("Strict-Transport-Security", "max-age=31536000")
			return next(c)
		}

		a.transport.log(c.RealIP(), c.Request().Host)
		page := a.newPage(c, "https.title")
		status := http.StatusOK
		if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			status = http.StatusForbidden
		}

		return a.render(c, status, "https", page)
	}
}

// rateLimitedWarning logs at most once per interval and counts the rest.
func rateLimitedWarning(interval time.Duration, logf func(suppressed int64, clientIP, host string)) func(clientIP, host string) {
	var last atomic.Int64
	var suppressed atomic.Int64

	return func(clientIP, host string) {
		now := time.Now().UnixNano()
		prev := last.Load()
		if prev != 0 && now-prev < int64(interval) {
			suppressed.Add(1)
			return
		}
		if !last.CompareAndSwap(prev, now) {
			suppressed.Add(1)
			return
		}
		logf(suppressed.Swap(0), clientIP, host)
	}
}
