package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// siteHost is the host name of the site behind nginx. The browser and
	// the HTTP clients map it to nginx on 127.0.0.1, so URLs carry no port,
	// as on a real CapRover site. The .test domain is reserved (RFC 6761),
	// so no public DNS server resolves it.
	siteHost = "portero.test"

	// nginxSourceAddress is the address that nginx connects to portero from.
	// It plays the part of CapRover's overlay network, so that a test can
	// trust nginx (TRUSTED_PROXIES=127.0.0.2) without trusting clients on
	// 127.0.0.1.
	nginxSourceAddress = "127.0.0.2"

	nginxStartTimeout = 10 * time.Second
	nginxStopTimeout  = 5 * time.Second
)

// nginxProxy is Debian's nginx in front of portero, with the proxy settings
// of CapRover's app template: nginx ends TLS and forwards plain HTTP with
// the Host, X-Real-IP, X-Forwarded-For and X-Forwarded-Proto headers.
type nginxProxy struct {
	httpsPort int
	httpPort  int
	dir       string
	// roots contains the self-signed certificate of the HTTPS server.
	roots *x509.CertPool

	cmd    *exec.Cmd
	exited chan struct{}
	// waitErr is the result of cmd.Wait. Read it only after exited is closed.
	waitErr error
}

// nginxPath returns NGINX_PATH, or /usr/sbin/nginx when it is unset, and
// fails the test when no executable file is there.
func nginxPath(t *testing.T) string {
	t.Helper()

	path, source := os.Getenv("NGINX_PATH"), "NGINX_PATH"
	if path == "" {
		path, source = "/usr/sbin/nginx", "default path, NGINX_PATH is unset"
	}

	info, err := os.Stat(path)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		t.Fatalf("nginx not found at %s (%s): run `make test`, which installs it, or `apt-get install nginx`, or set NGINX_PATH to an nginx binary", path, source)
	}

	return path
}

// startNginx runs nginx in the foreground with a configuration in a new
// temporary directory. Its upstream lists upstreamPorts on 127.0.0.1 in
// order, and a port where nothing listens yet is skipped for each request,
// as the Swarm VIP skips tasks that are not running. nginx is stopped when
// the test ends.
func startNginx(t *testing.T, upstreamPorts ...int) *nginxProxy {
	t.Helper()

	if len(upstreamPorts) == 0 {
		t.Fatal("startNginx: got no upstream port, want at least one")
	}
	path := nginxPath(t)

	n := &nginxProxy{
		httpsPort: freePort(t),
		httpPort:  freePort(t),
		dir:       t.TempDir(),
		exited:    make(chan struct{}),
	}
	n.roots = writeCertificate(t, n.dir)

	config := filepath.Join(n.dir, "nginx.conf")
	if err := os.WriteFile(config, []byte(n.config(upstreamPorts)), 0o600); err != nil {
		t.Fatalf("write nginx configuration: %v", err)
	}

	// -e sets the error log before the configuration is read, so nginx
	// never opens the system's /var/log/nginx/error.log.
	n.cmd = exec.Command(path, "-p", n.dir, "-c", config, "-e", filepath.Join(n.dir, "error.log"), "-g", "daemon off;")
	output := &logBuffer{}
	n.cmd.Stdout = output
	n.cmd.Stderr = output
	// nginx runs in its own process group, so that stop can kill the
	// workers with the master. Pdeathsig kills the master if the test
	// process dies, as setProcessAttributes does for portero.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A worker that outlives its master keeps the output pipe open, and
	// Wait would wait for it.
	n.cmd.WaitDelay = time.Second
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx %s: %v", path, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			t.Logf("nginx output:\n%s", output.String())
			t.Logf("nginx error.log:\n%s", n.readFile("error.log"))
		}
	})

	n.waitListening(t)

	return n
}

// config returns the nginx configuration. The location block copies the
// proxy headers of CapRover's template. proxy_next_upstream sends a request
// whose connection was refused or reset to the next server, so an instance
// that stops during a rolling update costs no failed request.
func (n *nginxProxy) config(upstreamPorts []int) string {
	var b strings.Builder

	b.WriteString("worker_processes 1;\n")
	// A graceful stop waits for open client connections no longer than this.
	b.WriteString("worker_shutdown_timeout 2s;\n")
	fmt.Fprintf(&b, "pid %s;\n", filepath.Join(n.dir, "nginx.pid"))
	fmt.Fprintf(&b, "error_log %s warn;\n", filepath.Join(n.dir, "error.log"))
	// Workers run as the user "nobody" by default when the master runs as
	// root, and that user cannot write to the temporary directory.
	if os.Geteuid() == 0 {
		b.WriteString("user root;\n")
	}
	b.WriteString("events {\n    worker_connections 512;\n}\n")

	b.WriteString("http {\n")
	b.WriteString("    log_format upstream '$status $upstream_addr \"$upstream_status\" $request_method $uri';\n")
	fmt.Fprintf(&b, "    access_log %s upstream;\n", filepath.Join(n.dir, "access.log"))
	for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", temp, filepath.Join(n.dir, temp+"_temp"))
	}

	b.WriteString("    upstream portero {\n")
	for _, port := range upstreamPorts {
		fmt.Fprintf(&b, "        server 127.0.0.1:%d max_fails=0;\n", port)
	}
	b.WriteString("    }\n")

	location := strings.Join([]string{
		"        location / {",
		"            proxy_pass http://portero;",
		"            proxy_bind " + nginxSourceAddress + ";",
		"            proxy_connect_timeout 2s;",
		"            proxy_next_upstream error timeout http_502;",
		"            proxy_set_header Host $host;",
		"            proxy_set_header X-Real-IP $remote_addr;",
		"            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"            proxy_set_header X-Forwarded-Proto $scheme;",
		"        }",
	}, "\n") + "\n"

	b.WriteString("    server {\n")
	fmt.Fprintf(&b, "        listen 127.0.0.1:%d ssl;\n", n.httpsPort)
	fmt.Fprintf(&b, "        server_name %s;\n", siteHost)
	fmt.Fprintf(&b, "        ssl_certificate %s;\n", filepath.Join(n.dir, "cert.pem"))
	fmt.Fprintf(&b, "        ssl_certificate_key %s;\n", filepath.Join(n.dir, "key.pem"))
	b.WriteString(location)
	b.WriteString("    }\n")

	b.WriteString("    server {\n")
	fmt.Fprintf(&b, "        listen 127.0.0.1:%d;\n", n.httpPort)
	fmt.Fprintf(&b, "        server_name %s;\n", siteHost)
	b.WriteString(location)
	b.WriteString("    }\n")
	b.WriteString("}\n")

	return b.String()
}

// waitListening waits until both ports accept connections.
func (n *nginxProxy) waitListening(t *testing.T) {
	t.Helper()

	deadline := time.Now().Add(nginxStartTimeout)
	for _, port := range []int{n.httpsPort, n.httpPort} {
		address := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for {
			select {
			case <-n.exited:
				t.Fatalf("nginx exited before it listened on %s: %v; error.log:\n%s", address, n.waitErr, n.readFile("error.log"))
			default:
			}

			conn, err := net.DialTimeout("tcp", address, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("connect to nginx on %s after %s: got %v, want a connection", address, nginxStartTimeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop sends SIGQUIT, nginx's graceful shutdown, and kills nginx's process
// group when nginx still runs after nginxStopTimeout.
func (n *nginxProxy) stop(t *testing.T) {
	select {
	case <-n.exited:
		return
	default:
	}

	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(nginxStopTimeout):
		t.Errorf("nginx %s after SIGQUIT: got still running, want exited; killing it", nginxStopTimeout)
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.exited
	}
}

// readFile returns a file from nginx's directory, or the read error.
func (n *nginxProxy) readFile(name string) string {
	data, err := os.ReadFile(filepath.Join(n.dir, name))
	if err != nil {
		return err.Error()
	}

	return string(data)
}

// httpsURL returns the site's HTTPS address, without a port.
func (n *nginxProxy) httpsURL() string { return "https://" + siteHost }

// httpURL returns the site's plain-HTTP address, without a port.
func (n *nginxProxy) httpURL() string { return "http://" + siteHost }

// browserFlags maps siteHost's standard ports to nginx and every other
// host name to "not found", so that Chromium sends no DNS query, and accepts
// the self-signed certificate.
func (n *nginxProxy) browserFlags() []chromedp.ExecAllocatorOption {
	rules := fmt.Sprintf("MAP %s:443 127.0.0.1:%d, MAP %s:80 127.0.0.1:%d, MAP * ~NOTFOUND",
		siteHost, n.httpsPort, siteHost, n.httpPort)

	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("host-resolver-rules", rules),
		chromedp.Flag("ignore-certificate-errors", true),
	}
}

// transport returns an HTTP transport that connects siteHost's standard
// ports to nginx from localAddress (any loopback address), verifies the
// self-signed certificate, and refuses every other address.
func (n *nginxProxy) transport(localAddress string) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(localAddress)},
	}
	ports := map[string]int{
		net.JoinHostPort(siteHost, "443"): n.httpsPort,
		net.JoinHostPort(siteHost, "80"):  n.httpPort,
	}

	return &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			port, ok := ports[address]
			if !ok {
				return nil, fmt.Errorf("test transport: no route to %s, only to %s on ports 443 and 80", address, siteHost)
			}
			return dialer.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		},
		TLSClientConfig:     &tls.Config{RootCAs: n.roots, ServerName: siteHost},
		MaxIdleConnsPerHost: 16,
		// HTTP/2 would need ALPN from nginx; CapRover's nginx speaks
		// HTTP/1.1 to clients unless HTTP/2 is enabled for the app.
		ForceAttemptHTTP2: false,
	}
}

// upstreamStats is what nginx's access.log shows about the upstreams.
type upstreamStats struct {
	// responses counts, per upstream address, the responses with each
	// status that nginx passed on from it. The address is the last one of
	// $upstream_addr.
	responses map[string]map[string]int
	// retried counts the requests that nginx sent to more than one server.
	retried int
}

// total returns the number of responses that address sent to clients.
func (s upstreamStats) total(address string) int {
	sum := 0
	for _, count := range s.responses[address] {
		sum += count
	}

	return sum
}

// upstreamStats reads access.log, whose lines have the "upstream" format of
// config.
func (n *nginxProxy) upstreamStats(t *testing.T) upstreamStats {
	t.Helper()

	data, err := os.ReadFile(filepath.Join(n.dir, "access.log"))
	if err != nil {
		t.Fatalf("read nginx access.log: %v", err)
	}

	stats := upstreamStats{responses: map[string]map[string]int{}}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		status := fields[0]
		// $upstream_addr lists the servers tried, separated by ", ", so
		// the line splits into several fields ending with a comma.
		i := 1
		for i < len(fields)-1 && strings.HasSuffix(fields[i], ",") {
			i++
		}
		if i > 1 {
			stats.retried++
		}
		address := fields[i]
		if stats.responses[address] == nil {
			stats.responses[address] = map[string]int{}
		}
		stats.responses[address][status]++
	}

	return stats
}

// writeCertificate writes a self-signed ECDSA P-256 certificate for
// siteHost, localhost and 127.0.0.1, and its key, to dir as cert.pem and
// key.pem, and returns a pool that trusts it.
func writeCertificate(t *testing.T, dir string) *x509.CertPool {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ECDSA key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("generate certificate serial number: %v", err)
	}

	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: siteHost},
		DNSNames:              []string{siteHost, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create self-signed certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse the new certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encode ECDSA key: %v", err)
	}

	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatalf("write cert.pem: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatalf("write key.pem: %v", err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(cert)

	return roots
}
