package db_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority that signs the server and client
// certificates of one test and publishes its revocation list.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	// nextSerial is the serial number of the next certificate.
	nextSerial int64
}

// issuedCert is a certificate and its private key, both PEM-encoded.
type issuedCert struct {
	serial  *big.Int
	certPEM []byte
	keyPEM  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()

	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Portero test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create the CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse the CA certificate: %v", err)
	}

	return &testCA{
		cert:       cert,
		key:        key,
		certPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		nextSerial: 2,
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate a key: %v", err)
	}

	return key
}

// issue signs a certificate for template's subject and usage with a new key.
func (ca *testCA) issue(t *testing.T, template *x509.Certificate) issuedCert {
	t.Helper()

	key := newKey(t)
	template.SerialNumber = big.NewInt(ca.nextSerial)
	ca.nextSerial++
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(24 * time.Hour)
	template.KeyUsage = x509.KeyUsageDigitalSignature

	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("create the certificate for %s: %v", template.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encode the key for %s: %v", template.Subject.CommonName, err)
	}

	return issuedCert{
		serial:  template.SerialNumber,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// serverCert returns a certificate for a server at 127.0.0.1, which
// sslmode=verify-full accepts for that host.
func (ca *testCA) serverCert(t *testing.T) issuedCert {
	t.Helper()

	return ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// clientCert returns a certificate whose common name is the role that
// PostgreSQL's cert authentication logs in.
func (ca *testCA) clientCert(t *testing.T, role string) issuedCert {
	t.Helper()

	return ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: role},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// revocationList returns a PEM-encoded CRL that revokes the serials.
func (ca *testCA) revocationList(t *testing.T, number int64, revoked ...*big.Int) []byte {
	t.Helper()

	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, serial := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Now().Add(-time.Minute)})
	}
	template := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, template, ca.cert, ca.key)
	if err != nil {
		t.Fatalf("create the revocation list: %v", err)
	}

	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// writeClientFiles writes the certificate and key into dir as client.crt
// and client.key, each through a rename, as a secret store replaces them,
// and returns their paths.
func writeClientFiles(t *testing.T, dir string, cert issuedCert) (certPath, keyPath string) {
	t.Helper()

	certPath = filepath.Join(dir, "client.crt")
	keyPath = filepath.Join(dir, "client.key")
	replaceFile(t, certPath, cert.certPEM, 0o644)
	replaceFile(t, keyPath, cert.keyPEM, 0o600)

	return certPath, keyPath
}

// replaceFile writes data to a temporary file beside path and renames it
// over path, so that a reader sees the old or the new content, never a mix.
func replaceFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()

	temp := path + ".new"
	if err := os.WriteFile(temp, data, mode); err != nil {
		t.Fatalf("write %s: %v", temp, err)
	}
	// WriteFile applies mode only to a file it creates, and the umask
	// may have cleared bits of it.
	if err := os.Chmod(temp, mode); err != nil {
		t.Fatalf("chmod %s: %v", temp, err)
	}
	if err := os.Rename(temp, path); err != nil {
		t.Fatalf("rename %s to %s: %v", temp, path, err)
	}
}
