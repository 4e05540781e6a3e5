package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/portero/portero/config"
	"github.com/portero/portero/internal/smtptest"
	"github.com/portero/portero/mail"
)

// testCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func testMessage() mail.Message {
	return mail.Message{From: testFrom, To: "ana@example.org", Subject: "Aviso", Body: "Hola\n", Date: time.Now()}
}

func TestSenderStartTLSWithAuth(t *testing.T) {
	cert, pool := testCertificate(t)
	server := smtptest.Start(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	sender := &mail.Sender{
		Server:  config.SMTP{Host: "127.0.0.1", Port: server.Port(), Username: "portero", Password: "smtp-test-password", From: testFrom, TLS: config.SMTPStartTLS},
		RootCAs: pool,
	}

	if err := sender.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	mails := server.Mails()
	if len(mails) != 1 {
		t.Fatalf("mails received: got %d, want 1", len(mails))
	}
	if !mails[0].TLS || mails[0].Username != "portero" {
		t.Errorf("mail: got TLS %t and user %q, want TLS and user portero", mails[0].TLS, mails[0].Username)
	}
}

func TestSenderStartTLSVerifiesCertificate(t *testing.T) {
	cert, _ := testCertificate(t)
	server := smtptest.Start(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	// The system roots do not trust the test certificate.
	sender := &mail.Sender{Server: config.SMTP{Host: "127.0.0.1", Port: server.Port(), From: testFrom, TLS: config.SMTPStartTLS}}

	if err := sender.Send(context.Background(), testMessage()); err == nil {
		t.Fatal("Send with an untrusted certificate: got no error, want one")
	}
	if got := len(server.Mails()); got != 0 {
		t.Errorf("mails received: got %d, want 0", got)
	}
}

func TestSenderNeedsStartTLS(t *testing.T) {
	server := smtptest.Start(t, nil)
	sender := &mail.Sender{Server: config.SMTP{Host: "127.0.0.1", Port: server.Port(), Username: "portero", Password: "smtp-test-password", From: testFrom, TLS: config.SMTPStartTLS}}

	if err := sender.Send(context.Background(), testMessage()); err == nil {
		t.Fatal("Send to a server without STARTTLS: got no error, want one")
	}
	if got := len(server.Mails()); got != 0 {
		t.Errorf("mails received in plain text: got %d, want 0", got)
	}
}

func TestSenderImplicitTLS(t *testing.T) {
	cert, pool := testCertificate(t)
	server := smtptest.StartImplicitTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	sender := &mail.Sender{
		Server:  config.SMTP{Host: "127.0.0.1", Port: server.Port(), Username: "portero", Password: "smtp-test-password", From: testFrom, TLS: config.SMTPImplicitTLS},
		RootCAs: pool,
	}

	if err := sender.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	mails := server.Mails()
	if len(mails) != 1 || !mails[0].TLS || mails[0].Username != "portero" {
		t.Fatalf("mails received: got %+v, want one over TLS from user portero", mails)
	}
}
