// Package mail sends Portero's security notices by email: it writes the
// messages, sends them over SMTP with net/smtp and runs the loop that
// delivers the rows of the mail_outbox table.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// ErrInvalidAddress marks a recipient that no retry can send to.
var ErrInvalidAddress = errors.New("invalid email address")

// Message is one plain-text mail in UTF-8.
type Message struct {
	From mail.Address
	// To is a bare address, such as ana@example.org.
	To      string
	Subject string
	Body    string
	Date    time.Time
}

// CheckAddress returns an error wrapping ErrInvalidAddress unless addr is
// one bare email address in ASCII. Emails come from the database, where SQL
// run by hand can put anything, so a line break or a second address must
// not reach a header or an SMTP command.
//
// NOTE: an address that is not ASCII, which needs the SMTPUTF8 extension,
// is rejected, so its owner gets no mail.
func CheckAddress(addr string) error {
	if addr == "" || len(addr) > 254 {
		return fmt.Errorf("%w: %d bytes, want 1 to 254", ErrInvalidAddress, len(addr))
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] <= ' ' || addr[i] >= 0x7f {
			return fmt.Errorf("%w: byte %d is a space, a control character or not ASCII", ErrInvalidAddress, i)
		}
	}

	parsed, err := mail.ParseAddress(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidAddress, err)
	}
	if parsed.Name != "" || parsed.Address != addr {
		return fmt.Errorf("%w: not a bare address", ErrInvalidAddress)
	}

	return nil
}

// Bytes returns the message with its headers, its lines ending in CRLF and
// its body in quoted-printable, which needs no 8BITMIME support from the
// server.
func (m Message) Bytes() ([]byte, error) {
	// An invalid sender is a configuration error, so it does not wrap
	// ErrInvalidAddress, which gives up the mail.
	if err := CheckAddress(m.From.Address); err != nil {
		return nil, fmt.Errorf("sender: %v", err)
	}
	if err := CheckAddress(m.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("subject contains a line break")
	}
	messageID, err := newMessageID(m.From.Address)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", messageID)
	// Address.String encodes a display name that is not ASCII as an RFC
	// 2047 encoded-word, and quotes one with special characters.
	header("From", m.From.String())
	header("To", "<"+m.To+">")
	b.WriteString(foldHeader("Subject", mime.QEncoding.Encode("utf-8", m.Subject)))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: automatic responders should not reply to this mail.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")

	// The writer turns each line break of the body into CRLF.
	body := quotedprintable.NewWriter(&b)
	body.Write([]byte(m.Body))
	if err := body.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}

	return b.Bytes(), nil
}

// maxHeaderLine is the longest header line that foldHeader writes, without
// its CRLF. RFC 2047 limits a line with encoded-words to 76 characters.
const maxHeaderLine = 76

// foldHeader returns the header line "name: value" and its CRLF, folded at
// the spaces of value so that no line exceeds maxHeaderLine unless one word
// alone does. A fold may come right after the colon, because an
// encoded-word of 75 characters does not fit after "Subject: ". Unfolding
// restores the value: the space before each word stays, and the space
// between two encoded-words is ignored when they are decoded.
func foldHeader(name, value string) string {
	var b strings.Builder
	b.WriteString(name + ":")
	lineLen := len(name) + 1
	for _, word := range strings.Split(value, " ") {
		if lineLen+1+len(word) > maxHeaderLine {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteString(" " + word)
		lineLen += 1 + len(word)
	}
	b.WriteString("\r\n")

	return b.String()
}

// newMessageID returns a Message-ID of 128 random bits at the sender's
// domain.
func newMessageID(from string) (string, error) {
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("generate Message-ID: %w", err)
	}
	domain := from[strings.LastIndexByte(from, '@')+1:]

	return "<" + hex.EncodeToString(random) + "@" + domain + ">", nil
}
