package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"time"

	"github.com/portero/portero/config"
)

// SendTimeout bounds one mail, from the connection to the QUIT command.
const SendTimeout = 30 * time.Second

// Sender sends mails through one SMTP server with net/smtp.
type Sender struct {
	Server config.SMTP
	// RootCAs verifies the server's certificate, or nil for the system's
	// roots. Certificates are always verified.
	RootCAs *x509.CertPool
}

// Send delivers m to the server. It fails, and sends nothing, when the
// server offers no STARTTLS in starttls mode: a mail is never sent in plain
// text unless the TLS mode is none.
func (s *Sender) Send(ctx context.Context, m Message) error {
	data, err := m.Bytes()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	dialer := net.Dialer{}
	conn, err := dialer.DialContext(ctx, "tcp", s.Server.Addr())
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", s.Server.Addr(), err)
	}
	// The deadline covers every read and write; closing the connection when
	// ctx ends stops a send that the shutdown interrupts.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	tlsConfig := &tls.Config{ServerName: s.Server.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	if s.Server.TLS == config.SMTPImplicitTLS {
		conn = tls.Client(conn, tlsConfig)
	}
	client, err := smtp.NewClient(conn, s.Server.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("start SMTP session with %s: %w", s.Server.Addr(), err)
	}
	defer client.Close()

	if err := s.secure(client, tlsConfig); err != nil {
		return err
	}
	if err := send(client, m.From.Address, m.To, data); err != nil {
		return fmt.Errorf("send mail through %s: %w", s.Server.Addr(), err)
	}

	return nil
}

// secure runs STARTTLS when the mode requires it, and authenticates when a
// username is set.
func (s *Sender) secure(client *smtp.Client, tlsConfig *tls.Config) error {
	if s.Server.TLS == config.SMTPStartTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			return fmt.Errorf("SMTP server %s does not offer STARTTLS, and SMTP_TLS=starttls sends nothing without it", s.Server.Addr())
		}
		if err := client.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS with %s: %w", s.Server.Addr(), err)
		}
	}

	if s.Server.Username == "" {
		return nil
	}
	// net/smtp's PlainAuth also rejects a connection without TLS unless
	// the host is localhost, 127.0.0.1 or ::1.
	auth := smtp.PlainAuth("", s.Server.Username, s.Server.Password, s.Server.Host)
	if err := client.Auth(auth); err != nil {
		// The error is the server's reply, which contains no password.
		return fmt.Errorf("authenticate as SMTP_USERNAME %q with %s: %w", s.Server.Username, s.Server.Addr(), err)
	}

	return nil
}

func send(client *smtp.Client, from, to string, data []byte) error {
	if err := client.Mail(from); err != nil {
		return err
	}
	if err := client.Rcpt(to); err != nil {
		return err
	}

	w, err := client.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Close())
	}
	if err := w.Close(); err != nil {
		return err
	}

	// The server accepted the mail with its reply to the data, so a failed
	// QUIT must not make the deliverer send it again.
	client.Quit()

	return nil
}
