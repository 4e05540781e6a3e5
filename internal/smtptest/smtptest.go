// Package smtptest runs a small SMTP server on 127.0.0.1 for tests. It
// records every mail it accepts and can reject mails with a temporary
// error, to test retries.
package smtptest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Mail is one accepted message.
type Mail struct {
	From string
	To   []string
	// Data is the message as sent after DATA, with CRLF line ends and the
	// dot-stuffing removed.
	Data string
	// TLS reports whether the message came over TLS.
	TLS bool
	// Username is the AUTH PLAIN user, or "" without authentication.
	Username string
}

// Server is a running test SMTP server.
type Server struct {
	listener net.Listener
	// tlsConfig, when set, makes the server offer STARTTLS.
	tlsConfig *tls.Config
	// implicitTLS reports whether connections start with TLS.
	implicitTLS bool

	mu     sync.Mutex
	mails  []Mail
	reject string
	open   map[net.Conn]struct{}
	conns  sync.WaitGroup
}

// Start runs a server on 127.0.0.1 on a free port and stops it when the
// test ends. With tlsConfig set, the server offers STARTTLS.
func Start(t testing.TB, tlsConfig *tls.Config) *Server {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen on 127.0.0.1: %v", err)
	}
	s := &Server{listener: listener, tlsConfig: tlsConfig, open: map[net.Conn]struct{}{}}
	go s.accept()
	t.Cleanup(s.Close)

	return s
}

// StartImplicitTLS runs a server that speaks TLS from the first byte, as
// on port 465, and stops it when the test ends.
func StartImplicitTLS(t testing.TB, tlsConfig *tls.Config) *Server {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen on 127.0.0.1: %v", err)
	}
	s := &Server{listener: tls.NewListener(listener, tlsConfig), implicitTLS: true, open: map[net.Conn]struct{}{}}
	go s.accept()
	t.Cleanup(s.Close)

	return s
}

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// Close stops the server, closes its connections and waits for them to
// end. Later connections are refused.
func (s *Server) Close() {
	s.listener.Close()
	s.mu.Lock()
	for conn := range s.open {
		conn.Close()
	}
	s.mu.Unlock()
	s.conns.Wait()
}

// Reject makes the server reply to every RCPT command with reply, such as
// "451 4.3.0 Try again later", until Reject("") restores acceptance.
func (s *Server) Reject(reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.reject = reply
}

// Mails returns a copy of the accepted mails, in the order they arrived.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()

	mails := make([]Mail, len(s.mails))
	copy(mails, s.mails)

	return mails
}

func (s *Server) rejectReply() string {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.reject
}

func (s *Server) accept() {
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.open[conn] = struct{}{}
		s.mu.Unlock()
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.open, conn)
				s.mu.Unlock()
			}()
			s.serve(conn)
		}()
	}
}

// session is the state of one SMTP connection.
type session struct {
	text     *textproto.Conn
	tls      bool
	username string
	mail     *Mail
}

func (s *Server) serve(conn net.Conn) {
	sess := &session{text: textproto.NewConn(conn), tls: s.implicitTLS}
	sess.reply("220 smtptest ESMTP")

	for {
		line, err := sess.text.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")

		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-smtptest", "250-AUTH PLAIN"}
			if s.tlsConfig != nil && !sess.tls {
				lines = append(lines, "250-STARTTLS")
			}
			sess.reply(strings.Join(append(lines, "250 OK"), "\r\n"))
		case "HELO", "NOOP":
			sess.reply("250 OK")
		case "RSET":
			sess.mail = nil
			sess.reply("250 OK")
		case "STARTTLS":
			if s.tlsConfig == nil || sess.tls {
				sess.reply("502 5.5.1 STARTTLS not offered")
				continue
			}
			sess.reply("220 2.0.0 Ready to start TLS")
			tlsConn := tls.Server(conn, s.tlsConfig)
			if err := tlsConn.Handshake(); err != nil {
				return
			}
			conn = tlsConn
			sess.text = textproto.NewConn(tlsConn)
			sess.tls = true
			sess.mail = nil
		case "AUTH":
			sess.auth(arg)
		case "MAIL":
			sess.mail = &Mail{From: addressOf(arg), TLS: sess.tls, Username: sess.username}
			sess.reply("250 OK")
		case "RCPT":
			switch {
			case sess.mail == nil:
				sess.reply("503 5.5.1 MAIL first")
			case s.rejectReply() != "":
				sess.reply(s.rejectReply())
			default:
				sess.mail.To = append(sess.mail.To, addressOf(arg))
				sess.reply("250 OK")
			}
		case "DATA":
			if sess.mail == nil || len(sess.mail.To) == 0 {
				sess.reply("503 5.5.1 RCPT first")
				continue
			}
			sess.reply("354 End data with <CR><LF>.<CR><LF>")
			data, err := readData(sess.text.R)
			if err != nil {
				return
			}
			sess.mail.Data = data
			s.mu.Lock()
			s.mails = append(s.mails, *sess.mail)
			s.mu.Unlock()
			sess.mail = nil
			sess.reply("250 OK queued")
		case "QUIT":
			sess.reply("221 Bye")
			return
		default:
			sess.reply("500 5.5.2 Unknown command")
		}
	}
}

func (sess *session) reply(text string) {
	sess.text.PrintfLine("%s", text)
}

// auth accepts any AUTH PLAIN credentials and records the user.
func (sess *session) auth(arg string) {
	mechanism, initial, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mechanism, "PLAIN") {
		sess.reply("504 5.5.4 Unrecognized authentication type")
		return
	}

	decoded, err := base64.StdEncoding.DecodeString(initial)
	parts := strings.Split(string(decoded), "\x00")
	if err != nil || len(parts) != 3 {
		sess.reply("501 5.5.2 Cannot decode AUTH PLAIN")
		return
	}
	sess.username = parts[1]
	sess.reply("235 2.7.0 Authentication successful")
}

// readData reads the lines after DATA up to the lone dot, removes the
// dot-stuffing and returns them joined with CRLF.
func readData(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == ".\r\n" {
			return b.String(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

// addressOf returns the address in "FROM:<a@b>" or "TO:<a@b>".
func addressOf(arg string) string {
	_, addr, _ := strings.Cut(arg, ":")
	addr = strings.TrimSpace(addr)
	if i := strings.IndexByte(addr, ' '); i >= 0 {
		addr = addr[:i]
	}

	return strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
}
