package mail_test

import (
	"errors"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/db"
	"github.com/portero/portero/mail"
)

func TestMessageHeaders(t *testing.T) {
	date := time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC)
	m := mail.Message{
		From:    netmail.Address{Name: "Portero Señal", Address: "portero@example.org"},
		To:      "ana@example.org",
		Subject: "Aviso de seguridad de Portero: Contraseña cambiada / Portero security notice: Password changed",
		Body:    "Línea uno\n.Línea con punto\n",
		Date:    date,
	}

	raw, err := m.Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}
	header, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, line := range strings.Split(header, "\r\n") {
		if strings.ContainsAny(line, "\r\n") || len(line) > 998 {
			t.Errorf("header line %q: got a stray line break or over 998 bytes", line)
		}
		for _, r := range line {
			if r >= 0x80 {
				t.Errorf("header line %q: got a byte that is not ASCII, want encoded-words", line)
				break
			}
		}
	}

	msg, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject: got %q, %v; want %q", subject, err, m.Subject)
	}
	if !strings.HasPrefix(msg.Header.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("raw Subject: got %q, want an encoded-word", msg.Header.Get("Subject"))
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Portero Señal" || from[0].Address != "portero@example.org" {
		t.Errorf("From: got %v, %v; want Portero Señal <portero@example.org>", from, err)
	}
	if got := msg.Header.Get("To"); got != "<ana@example.org>" {
		t.Errorf("To: got %q, want <ana@example.org>", got)
	}
	if got, err := msg.Header.Date(); err != nil || !got.Equal(date) {
		t.Errorf("Date: got %v, %v; want %v", got, err, date)
	}
	if got := msg.Header.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@example\.org>$`).MatchString(got) {
		t.Errorf("Message-ID: got %q, want <32 hex digits@example.org>", got)
	}
	if got := msg.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type: got %q, want text/plain; charset=utf-8", got)
	}
	if got := msg.Header.Get("MIME-Version"); got != "1.0" {
		t.Errorf("MIME-Version: got %q, want 1.0", got)
	}
	if body := decodedBody(t, string(raw)); body != m.Body {
		t.Errorf("body: got %q, want %q", body, m.Body)
	}
}

func TestMessageFoldsLongSubject(t *testing.T) {
	subjects := []string{
		"Aviso de seguridad de Portero: Inicio de sesión desde un navegador o una dirección IP nuevos / Portero security notice: Login from a new browser or IP address",
		"Aviso de seguridad de Portero: Cuenta desactivada (por un administrador) / Portero security notice: Account disabled (by an administrator)",
	}
	for _, subject := range subjects {
		m := mail.Message{From: testFrom, To: "ana@example.org", Subject: subject, Body: "x\n", Date: time.Now()}
		raw, err := m.Bytes()
		if err != nil {
			t.Fatalf("Bytes: %v", err)
		}

		header, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		for _, line := range strings.Split(header, "\r\n") {
			if len(line) > 76 {
				t.Errorf("header line %q: got %d characters, want at most 76", line, len(line))
			}
		}
		msg, err := netmail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("parse message: %v", err)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || got != subject {
			t.Errorf("Subject after unfolding: got %q, %v; want %q", got, err, subject)
		}
	}
}

func TestMessageRejectsHeaderInjection(t *testing.T) {
	base := mail.Message{From: testFrom, To: "ana@example.org", Subject: "Aviso", Body: "x\n", Date: time.Now()}
	for _, to := range []string{
		"ana@example.org\r\nBcc: eve@example.net",
		"ana@example.org\nBcc: eve@example.net",
		"ana@example.org, eve@example.net",
		"Ana <ana@example.org>",
		"<ana@example.org>",
		"ana@example.org>\r\nRCPT TO:<eve@example.net",
		"añá@example.org",
		"ana example.org",
		"",
	} {
		m := base
		m.To = to
		if _, err := m.Bytes(); !errors.Is(err, mail.ErrInvalidAddress) {
			t.Errorf("To %q: got %v, want ErrInvalidAddress", to, err)
		}
	}

	m := base
	m.Subject = "Aviso\r\nBcc: eve@example.net"
	if _, err := m.Bytes(); err == nil {
		t.Error("subject with a line break: got no error, want one")
	}
}

func TestNoticeMailBothLanguages(t *testing.T) {
	events := []db.SecurityEvent{{
		OccurredAt: time.Date(2026, 12, 5, 1, 2, 3, 0, time.FixedZone("CET", 3600)),
		Kind:       "password_changed",
		ClientIP:   "192.0.2.10",
		UserAgent:  firefoxOnLinux,
	}}

	subject, body := mail.NoticeMail("ana@example.org", events)

	if want := "Aviso de seguridad de Portero: Contraseña cambiada / Portero security notice: Password changed"; subject != want {
		t.Errorf("subject: got %q, want %q", subject, want)
	}
	spanish, english := strings.Index(body, "Contraseña cambiada"), strings.Index(body, "Password changed")
	if spanish < 0 || english < 0 || spanish > english {
		t.Errorf("body: got Spanish at %d and English at %d, want both with Spanish first", spanish, english)
	}
	for _, want := range []string{
		"Fecha: 5 de diciembre de 2026, 00:02 UTC",
		"Time: December 5, 2026, 00:02 UTC",
		"Navegador: Firefox en Linux",
		"Browser: Firefox on Linux",
		"Dirección IP: 192.0.2.10",
		"IP address: 192.0.2.10",
		"Si no fue usted, cambie su contraseña",
		"If this was not you, change your password",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body: got no %q, want it in\n%s", want, body)
		}
	}
}

func TestNoticeMailLeavesOutClientText(t *testing.T) {
	events := []db.SecurityEvent{{
		// A fixed time, so that no digit of the date can match a sentinel below.
		OccurredAt: time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC),
		Kind:       "login_failed",
		ClientIP:   "not an IP\nSee https://evil.example",
		UserAgent:  "Visit https://evil.example now",
		Details:    map[string]any{"account_hash": "c0ffee", "session_id": 987654321},
	}}

	_, body := mail.NoticeMail("ana@example.org", events)

	for _, unwanted := range []string{"evil.example", "c0ffee", "987654321"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("body: got %q, want no client text or event details in\n%s", unwanted, body)
		}
	}
}
