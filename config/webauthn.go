package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// webAuthnRPID reads WEBAUTHN_RP_ID, the domain that security keys are
// bound to. Browsers reject IP addresses and anything but the page's host
// or a registrable suffix of it, so it is a bare host name.
func (r *reader) webAuthnRPID() string {
	v := strings.ToLower(strings.TrimSpace(r.str("WEBAUTHN_RP_ID", "localhost")))
	switch {
	case v == "" || strings.ContainsAny(v, ":/ ") || strings.Trim(v, ".") != v:
		r.fail("WEBAUTHN_RP_ID", v, "must be the host name of the site, without scheme, port or path, such as portero.example.org")
		return "localhost"
	case net.ParseIP(v) != nil:
		r.fail("WEBAUTHN_RP_ID", v, "must be a host name; browsers reject IP addresses as WebAuthn RP IDs")
		return "localhost"
	}
	if hint := hostNameProblem(v); hint != "" {
		r.fail("WEBAUTHN_RP_ID", v, hint)
		return "localhost"
	}

	return v
}

// hostNameProblem returns why host cannot be the host of a WebAuthn origin
// or RP ID, or "" when it can. Browsers send the host of an origin in ASCII,
// with an international name in its xn-- form, and go-webauthn v0.18.2
// compares it with the configured origins without converting either form.
func hostNameProblem(host string) string {
	for _, r := range host {
		if r > unicode.MaxASCII {
			return "must be in ASCII; write an international domain name in its xn-- form, as browsers send it"
		}
	}

	valid := len(host) <= 253
	for _, label := range strings.Split(host, ".") {
		valid = valid && label != "" && len(label) <= 63 && !strings.HasPrefix(label, "-") && !strings.HasSuffix(label, "-") &&
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
	}
	if !valid {
		return "must be a host name of letters, digits, hyphens and dots, such as portero.example.org"
	}

	return ""
}

// webAuthnOrigins reads WEBAUTHN_ORIGINS, the comma-separated origins whose
// pages may register and use security keys. Each must be http or https,
// without a path, and its host must be rpID or a subdomain of it.
func (r *reader) webAuthnOrigins(rpID string, port int) []string {
	def := fmt.Sprintf("http://localhost:%d", port)
	raw := r.str("WEBAUTHN_ORIGINS", def)

	var origins []string
	invalid := false
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}

		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			r.fail("WEBAUTHN_ORIGINS", part, "each entry must be an origin such as https://portero.example.org, with no path")
			invalid = true
			continue
		}
		host := strings.ToLower(u.Hostname())
		if hint := hostNameProblem(host); hint != "" {
			r.fail("WEBAUTHN_ORIGINS", part, "the host "+hint)
			invalid = true
			continue
		}
		if !validPort(u) {
			r.fail("WEBAUTHN_ORIGINS", part, "the port must be a number from 1 to 65535, or left out for the default")
			invalid = true
			continue
		}
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			r.fail("WEBAUTHN_ORIGINS", part, fmt.Sprintf("the host must be WEBAUTHN_RP_ID (%s) or a subdomain of it", rpID))
			invalid = true
			continue
		}
		origins = append(origins, strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host))
	}
	if len(origins) == 0 && !invalid {
		r.fail("WEBAUTHN_ORIGINS", raw, "must list at least one origin, such as https://portero.example.org")
	}

	return origins
}

// validPort reports whether the origin has no port or a number from 1 to
// 65535 as its port.
func validPort(u *url.URL) bool {
	if u.Port() == "" {
		return !strings.HasSuffix(u.Host, ":")
	}
	port, err := strconv.Atoi(u.Port())

	return err == nil && port >= 1 && port <= 65535
}
