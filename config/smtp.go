package config

import (
	"errors"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// SMTP transport security modes, the values of SMTP_TLS.
const (
	// SMTPStartTLS connects in plain text and switches to TLS with the
	// STARTTLS command before anything else is sent; a server without
	// STARTTLS gets no mail.
	SMTPStartTLS = "starttls"
	// SMTPImplicitTLS speaks TLS from the first byte, as on port 465.
	SMTPImplicitTLS = "tls"
	// SMTPNoTLS sends everything in plain text. It is accepted only for a
	// server on a loopback address.
	SMTPNoTLS = "none"
)

// SMTP is the mail server that security notices are sent through.
type SMTP struct {
	Host     string
	Port     int
	Username string
	// Password is "" when Username is "": no authentication.
	Password string
	// From is the sender of every mail, with an optional display name.
	From mail.Address
	// TLS is SMTPStartTLS, SMTPImplicitTLS or SMTPNoTLS.
	TLS string
}

// Addr returns the server's host and port for net.Dial.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// smtpVariables are the settings that take part in SMTP, for the check that
// none is set while the server is not.
var smtpVariables = []string{"SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_PASSWORD_FILE", "SMTP_FROM", "SMTP_TLS"}

// smtp reads SMTP_URL, or SMTP_HOST with SMTP_PORT, SMTP_USERNAME and
// SMTP_PASSWORD, and SMTP_FROM and SMTP_TLS. It returns nil, email off,
// when neither SMTP_URL nor SMTP_HOST is set.
func (r *reader) smtp() *SMTP {
	rawURL, hasURL := r.secret("SMTP_URL")
	host := strings.TrimSpace(r.str("SMTP_HOST", ""))
	if !hasURL && host == "" {
		for _, name := range smtpVariables {
			if v, ok := r.getenv(name); ok && v != "" {
				r.errs = append(r.errs, errors.New("invalid "+name+": it is set but SMTP_HOST and SMTP_URL are not; set one of them to send security notices by email, or unset "+name))
			}
		}
		return nil
	}

	s := &SMTP{}
	switch {
	case hasURL && host != "":
		r.fail("SMTP_HOST", host, "set either SMTP_URL or SMTP_HOST, not both")
		return nil
	case hasURL:
		if !r.smtpURL(s, rawURL) {
			return nil
		}
	default:
		var ok bool
		if s.Host, ok = smtpHost(host); !ok {
			r.fail("SMTP_HOST", host, "must be a host name or an IP address, without a port or brackets, such as smtp.example.org or ::1")
			return nil
		}
		s.TLS = r.oneOf("SMTP_TLS", SMTPStartTLS, SMTPStartTLS, SMTPImplicitTLS, SMTPNoTLS)
		s.Port = r.intRange("SMTP_PORT", defaultSMTPPort(s.TLS), 1, 65535)
		s.Username = r.str("SMTP_USERNAME", "")
		s.Password, _ = r.secret("SMTP_PASSWORD")
	}

	if s.Username != "" && s.Password == "" {
		r.fail("SMTP_USERNAME", s.Username, "SMTP_PASSWORD or SMTP_PASSWORD_FILE must be set with it")
	}
	if s.Username == "" && s.Password != "" {
		r.errs = append(r.errs, errors.New("invalid SMTP_PASSWORD (value not shown): SMTP_USERNAME must be set with it"))
	}
	switch {
	case s.TLS == SMTPNoTLS && !loopbackHost(s.Host):
		r.fail("SMTP_TLS", SMTPNoTLS, "plain-text SMTP is allowed only to a server on a loopback address such as 127.0.0.1, because mails and the password would cross the network unencrypted; use starttls or tls for "+s.Host)
	case s.TLS == SMTPNoTLS && s.Username != "" && !plainAuthHost(s.Host):
		// net/smtp's PlainAuth (checked in Go 1.26) sends a password
		// without TLS only to these three names and fails every other
		// login.
		r.fail("SMTP_TLS", SMTPNoTLS, "with SMTP_TLS=none a username and password are sent only to localhost, 127.0.0.1 or ::1; use one of them as the host of "+s.Host+", or use starttls or tls")
	}
	s.From = r.smtpFrom()

	return s
}

// smtpURL fills s from SMTP_URL, smtp://USER:PASSWORD@HOST:PORT or
// smtps://… for implicit TLS. It reports whether the URL was valid.
func (r *reader) smtpURL(s *SMTP, raw string) bool {
	// The URL may contain a password, so only its shape is reported.
	const shape = "invalid SMTP_URL (value not shown): must look like smtp://USER:PASSWORD@HOST:587 or smtps://USER:PASSWORD@HOST:465"

	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		r.errs = append(r.errs, errors.New(shape))
		return false
	}
	for _, name := range []string{"SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_PASSWORD_FILE"} {
		if v, ok := r.getenv(name); ok && v != "" {
			r.errs = append(r.errs, errors.New("invalid "+name+": SMTP_URL is set, which includes it; put it in SMTP_URL or use SMTP_HOST instead"))
		}
	}

	var ok bool
	if s.Host, ok = smtpHost(u.Hostname()); !ok {
		r.errs = append(r.errs, errors.New(shape))
		return false
	}
	if u.Scheme == "smtps" {
		s.TLS = SMTPImplicitTLS
		if v := r.str("SMTP_TLS", ""); v != "" && !strings.EqualFold(v, SMTPImplicitTLS) {
			r.fail("SMTP_TLS", v, "must be tls or unset with an smtps:// SMTP_URL")
		}
	} else {
		s.TLS = r.oneOf("SMTP_TLS", SMTPStartTLS, SMTPStartTLS, SMTPNoTLS)
	}

	s.Port = defaultSMTPPort(s.TLS)
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			r.errs = append(r.errs, errors.New(shape))
			return false
		}
		s.Port = port
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" || s.Password == "" {
			r.errs = append(r.errs, errors.New("invalid SMTP_URL (value not shown): it must contain both a user and a password, as in smtp://USER:PASSWORD@HOST, or neither"))
			return false
		}
	}

	return true
}

// smtpFrom reads SMTP_FROM, the sender address, such as
// "Portero <portero@example.org>" or portero@example.org.
func (r *reader) smtpFrom() mail.Address {
	v := strings.TrimSpace(r.str("SMTP_FROM", ""))
	if v == "" {
		r.errs = append(r.errs, errors.New("missing SMTP_FROM: set it to the sender address of the security notice mails, such as Portero <portero@example.org>"))
		return mail.Address{}
	}

	from, err := mail.ParseAddress(v)
	// The address goes into MAIL FROM and the From header as it is, so a
	// quoted local part with a space, which ParseAddress unquotes, is
	// rejected too.
	if err != nil || strings.ContainsAny(v, "\r\n") || !printableASCII(from.Address) {
		r.fail("SMTP_FROM", v, "must be one email address in ASCII without spaces, such as portero@example.org or Portero <portero@example.org>")
		return mail.Address{}
	}

	return *from
}

func defaultSMTPPort(mode string) int {
	switch mode {
	case SMTPImplicitTLS:
		return 465
	case SMTPNoTLS:
		return 25
	}

	return 587
}

// loopbackHost reports whether host is localhost or a loopback address,
// where plain-text SMTP stays on the machine.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

// printableASCII reports whether s consists of ASCII characters other than
// spaces and control characters.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}

	return true
}

// smtpHost returns the host of the mail server with a name in lower case
// and an IP address in its shortest form. It reports false unless host is
// a host name or an IP address.
func smtpHost(host string) (string, bool) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().String(), true
	}
	if !hostNamePattern.MatchString(host) {
		return "", false
	}

	return strings.ToLower(host), true
}

// hostNamePattern matches a DNS name: labels of letters, digits, hyphens
// and underscores separated by dots.
var hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)

// plainAuthHost reports whether net/smtp's PlainAuth logs in to host over
// a connection without TLS.
func plainAuthHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
