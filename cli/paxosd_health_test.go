package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/internal/pki"
)

// runHealthApp runs "paxosd health args..." and returns stdout and the error
// (whose message main prints on stderr).
func runHealthApp(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	clearPaxosdEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	app := PaxosdApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"paxosd", "health"}, args...))
	if errOut.Len() != 0 {
		t.Errorf("wrote %q to stderr; main prints errors", errOut.String())
	}
	return out.String(), err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// healthNode serves /health with status and counts the requests.
func healthNode(t *testing.T, status int) (port string, base string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte("{\"id\":4,\"name\":\"acceptor1\",\"status\":\"healthy\"}\n"))
		} else {
			_, _ = w.Write([]byte("{\"status\":\"unhealthy\",\n\"error\":\"storage failed\"}\n"))
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	_, port, _ = net.SplitHostPort(u.Host)
	return port, srv.URL
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestPaxosdHealth(t *testing.T) {
	okPort, okURL := healthNode(t, http.StatusOK)
	badPort, _ := healthNode(t, http.StatusServiceUnavailable)
	deadPort := closedPort(t)

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string // substring of stdout (healthy) or of the error line
	}{
		{name: "--port healthy", args: []string{"--port", okPort}, wantCode: 0, wantOut: `"status":"healthy"`},
		{name: "PORT from the environment", env: map[string]string{"PORT": okPort}, wantCode: 0, wantOut: "acceptor1"},
		{name: "--port wins over PORT", env: map[string]string{"PORT": deadPort}, args: []string{"--port", okPort}, wantCode: 0},
		{name: "--url", args: []string{"--url", okURL}, wantCode: 0},
		{name: "503 is unhealthy", args: []string{"--port", badPort}, wantCode: exitUnhealthy, wantOut: "answered 503: {"},
		{name: "nothing listening", env: map[string]string{"PORT": deadPort}, wantCode: exitUnhealthy, wantOut: "127.0.0.1:" + deadPort},
		{name: "NODE_ID gives the standard port", env: map[string]string{"NODE_ID": "4"}, args: []string{"--url", ""},
			wantCode: exitUnhealthy, wantOut: "127.0.0.1:4001/health"},
		{name: "no port at all", wantCode: exitUnhealthy, wantOut: "set --port, PORT or NODE_ID"},
		{name: "bad port", args: []string{"--port", "70000"}, wantCode: exitUnhealthy, wantOut: "between 1 and 65535"},
		{name: "bad url", args: []string{"--url", "acceptor1:4001"}, wantCode: exitUnhealthy, wantOut: "want http://HOST:PORT"},
		{name: "bad timeout", args: []string{"--port", okPort, "--timeout", "0s"}, wantCode: exitUnhealthy, wantOut: "must be positive"},
		{name: "extra argument", args: []string{"--port", okPort, "now"}, wantCode: exitUnhealthy, wantOut: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "NODE_ID gives the standard port" && portInUse("4001") {
				t.Skip("port 4001 is in use (a cluster runs here)")
			}
			out, err := runHealthApp(t, tt.env, tt.args...)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit status %d (err %v), want %d", got, err, tt.wantCode)
			}
			text := out
			if err != nil {
				text = err.Error()
				if strings.Contains(text, "\n") {
					t.Errorf("error %q is not one line", text)
				}
				if !strings.HasPrefix(text, "health: ") {
					t.Errorf("error %q does not start with %q", text, "health: ")
				}
			}
			if !strings.Contains(text, tt.wantOut) {
				t.Errorf("output %q lacks %q", text, tt.wantOut)
			}
		})
	}
}

func portInUse(port string) bool {
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// paxosd's own arguments are still rejected: "health" is the only command.
func TestPaxosdHealthIsACommand(t *testing.T) {
	clearPaxosdEnv(t)
	var out bytes.Buffer
	app := PaxosdApp()
	app.Writer = &out
	if err := app.Run([]string{"paxosd", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "health") {
		t.Errorf("paxosd --help does not list the health command:\n%s", out.String())
	}
	out.Reset()
	if err := app.Run([]string{"paxosd", "health", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `["CMD", "/paxosd", "health"]`) {
		t.Errorf("paxosd health --help lacks the healthcheck example:\n%s", out.String())
	}
}

// paxosd health --ready asks GET /ready: a node alive but not ready passes
// the health check and fails the readiness check, saying why.
func TestPaxosdHealthReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/health":
			_, _ = w.Write([]byte(`{"id":1,"status":"healthy"}`))
		case "/ready":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"id":1,"status":"not ready","error":"no leader known"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	if _, err := runHealthApp(t, nil, "--url", srv.URL); err != nil {
		t.Fatalf("paxosd health: %v, want healthy", err)
	}
	_, err := runHealthApp(t, nil, "--ready", "--url", srv.URL)
	if got := exitCode(err); got != exitUnhealthy || !strings.Contains(err.Error(), "/ready answered 503") || !strings.Contains(err.Error(), "no leader known") {
		t.Fatalf("paxosd health --ready: exit %d, %v; want %d with the reason", got, err, exitUnhealthy)
	}
	if portInUse("4001") {
		t.Skip("port 4001 is in use (a cluster runs here)")
	}
	_, err = runHealthApp(t, map[string]string{"NODE_ID": "4"}, "--ready")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:4001/ready") {
		t.Fatalf("paxosd health --ready with NODE_ID 4: %v, want it to ask 127.0.0.1:4001/ready", err)
	}
}

// paxosd health of a TLS node uses the node's own settings (TRUSTED_CA_FILE,
// CERT_FILE, KEY_FILE): https, the node's CA, the node's certificate. The
// Compose and Kubernetes healthchecks of a TLS cluster set nothing else.
func TestPaxosdHealthTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("test CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := pki.WriteFile(p, data, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", ca.CertPEM)
	crt, key, err := ca.Issue(pki.Spec{CommonName: "acceptor1", NodeID: 4, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := write("acceptor1.crt", crt), write("acceptor1.key", key)
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"id":4,"path":"` + r.URL.Path + `"}`))
	}))
	// Like a node: a client certificate is checked when given (here: demanded,
	// to see that health presents the node's).
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	env := map[string]string{"PORT": port, "TRUSTED_CA_FILE": caFile, "CERT_FILE": certFile, "KEY_FILE": keyFile}

	for _, args := range [][]string{nil, {"--ready"}} {
		out, err := runHealthApp(t, env, args...)
		if err != nil {
			t.Fatalf("paxosd health %v of a TLS node with its own files: %v", args, err)
		}
		if want := "/health"; len(args) > 0 {
			want = "/ready"
			if !strings.Contains(out, want) {
				t.Errorf("paxosd health %v asked %s, want %s", args, out, want)
			}
		}
	}
	// TLS_DIR, the node's folder (ca.crt, node.crt, node.key), does the same.
	tlsDir := filepath.Join(dir, "acceptor1")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{caFile: tlsDirCA, certFile: tlsDirCert, keyFile: tlsDirKey} {
		data, _ := os.ReadFile(from)
		if err := pki.WriteFile(filepath.Join(tlsDir, to), data, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runHealthApp(t, map[string]string{"PORT": port, "TLS_DIR": tlsDir}, "--ready"); err != nil {
		t.Errorf("paxosd health --ready with TLS_DIR: %v", err)
	}
	// Without the node's files it cannot: plain HTTP to a TLS port, or a
	// CA that did not sign the node.
	if _, err := runHealthApp(t, map[string]string{"PORT": port}); exitCode(err) != exitUnhealthy {
		t.Errorf("paxosd health without TRUSTED_CA_FILE: %v, want unhealthy", err)
	}
	other, _ := pki.NewCA("other CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	env["TRUSTED_CA_FILE"] = write("other.crt", other.CertPEM)
	if _, err := runHealthApp(t, env); exitCode(err) != exitUnhealthy || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("paxosd health with another CA: %v, want unhealthy, naming the certificate", err)
	}
	env["TRUSTED_CA_FILE"] = filepath.Join(dir, "missing.crt")
	if _, err := runHealthApp(t, env); exitCode(err) != exitUnhealthy || !strings.Contains(err.Error(), "TRUSTED_CA_FILE") {
		t.Errorf("paxosd health with a missing CA file: %v, want unhealthy, naming TRUSTED_CA_FILE", err)
	}
}
