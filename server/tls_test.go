package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/pki"
	"github.com/paxos-go/paxos/replog"
)

// testPKI is a CA whose certificates the tests write into a directory.
type testPKI struct {
	dir string
	ca  *pki.CA
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca}
	if err := pki.WriteFile(p.path("ca.crt"), ca.CertPEM, false); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPKI) path(name string) string { return filepath.Join(p.dir, name) }

// issue writes name.crt and name.key: a certificate for node id (0: a
// client's), valid for 127.0.0.1 until notAfter. It replaces files of
// the same name.
func (p *testPKI) issue(t *testing.T, name string, id uint64, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	crt, key, err := p.ca.Issue(pki.Spec{CommonName: name, NodeID: id, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = p.path(name+".crt"), p.path(name+".key")
	if err := pki.WriteFile(certFile, crt, true); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFile(keyFile, key, true); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsLoneNode is loneNode with TLS: the node's certificate comes from p.
func tlsLoneNode(t *testing.T, role Role, p *testPKI) (string, *lockedBuffer) {
	t.Helper()
	self := StandardPeers(role, "")[0]
	cert, key := p.issue(t, self.Name, uint64(self.ID), time.Now().Add(24*time.Hour))
	_, addr, logs := loneNode(t, role, func(c *Config) {
		c.CertFile, c.KeyFile, c.TrustedCAFile = cert, key, p.path("ca.crt")
	})
	return addr, logs
}

// dialer returns the TLS files of the certificate name in p, as a node
// dialing with them (streams).
func (p *testPKI) dialer(name string) *nodeTLS {
	return &nodeTLS{certFile: p.path(name + ".crt"), keyFile: p.path(name + ".key"), caFile: p.path("ca.crt"),
		log: slog.New(slog.DiscardHandler), warns: newLogLimiter(warnEvery)}
}

// client returns an HTTPS client that trusts p's CA and presents the
// certificate name ("" for none).
func (p *testPKI) client(t *testing.T, name string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if name != "" {
		c, err := tls.LoadX509KeyPair(p.path(name+".crt"), p.path(name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// postLearn posts the seed's /learn notifications through hc.
func postLearn(hc *http.Client, addr string, acceptor replog.ID, ballot uint64, value string) (int, string) {
	body, _ := json.Marshal(map[string]any{"notifications": []map[string]any{{"acceptor_id": acceptor,
		"proposal_number": ballot, "slot": 0, "value": value, "request_id": "r-" + value}}})
	return reply(hc.Post("https://"+addr+"/learn", "application/json", bytes.NewReader(body)))
}

// waitLog waits until logs hold a line with every one of want, and
// returns it.
func waitLog(t *testing.T, logs *lockedBuffer, want ...string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; the log:\n%s", want, logs)
		}
	}
}

// TestTLSCertificateIsTheSender: with TLS a node speaks as the node its
// certificate names and as no other. On a learner: acceptor1's certificate
// cannot vote as acceptor2, by stream (frame from 5, or Paxos-From 5) or
// by the JSON /learn; a proposer's certificate cannot vote at all, nor can
// paxosctl's, which names no node. Acceptor1 and acceptor2 voting each with
// their own certificate are a quorum: the one value chosen.
func TestTLSCertificateIsTheSender(t *testing.T) {
	p := newTestPKI(t)
	addr, logs := tlsLoneNode(t, RoleLearner, p)
	const learner = replog.ID(7)
	far := time.Now().Add(24 * time.Hour)
	p.issue(t, "acceptor1", 4, far)
	p.issue(t, "acceptor2", 5, far)
	p.issue(t, "proposer1", 1, far)
	p.issue(t, "paxosctl", 0, far)
	reader := p.client(t, "")
	chosen := func(what string) {
		t.Helper()
		if values, slot := learnerLogVia(t, reader, "https://"+addr); slot >= 0 {
			t.Fatalf("%s: the learner chose %q", what, values)
		}
	}

	// Acceptor1's vote, on its own stream: genuine.
	sc, err := dialStream(addr, "", 4, learner, p.dialer("acceptor1"))
	if err != nil {
		t.Fatalf("acceptor1's stream: %v", err)
	}
	sendFrame(t, sc, vote(4, learner, 0, 101, "forged"))
	// ... and one "from acceptor2" on it.
	sendFrame(t, sc, vote(5, learner, 0, 101, "forged"))
	waitChosenOrClosedVia(t, sc, reader, "https://"+addr, "a vote from node 5 on acceptor1's TLS stream")
	sc.close()
	waitLog(t, logs, "message stream closed", "peer=4", "on a connection of node 4")

	// Acceptor1's certificate declaring acceptor2 in Paxos-From.
	if sc, err := dialStream(addr, "", 5, learner, p.dialer("acceptor1")); err == nil || !strings.Contains(err.Error(), "400") {
		if sc != nil {
			sc.close()
		}
		t.Errorf("acceptor1's certificate opening a stream as node 5: %v, want a 400", err)
	}
	// The proposer's certificate: its vote is refused by role.
	sc, err = dialStream(addr, "", 1, learner, p.dialer("proposer1"))
	if err != nil {
		t.Fatalf("proposer1's stream: %v", err)
	}
	sendFrame(t, sc, vote(1, learner, 0, 101, "forged"))
	waitChosenOrClosedVia(t, sc, reader, "https://"+addr, "a vote from proposer1")
	sc.close()
	// paxosctl's certificate names no node: no stream at all.
	if sc, err := dialStream(addr, "", 5, learner, p.dialer("paxosctl")); err == nil || !strings.Contains(err.Error(), "401") {
		if sc != nil {
			sc.close()
		}
		t.Errorf("paxosctl's certificate opening a stream: %v, want a 401", err)
	}
	// The JSON copy of the same rule.
	if code, body := postLearn(p.client(t, "acceptor1"), addr, 5, 101, "forged"); code != http.StatusBadRequest {
		t.Errorf("/learn naming acceptor 5 with acceptor1's certificate: %d %s, want 400", code, body)
	}
	waitLog(t, logs, "refused a request that speaks for another node", "acceptor_id is 5")
	for _, name := range []string{"proposer1", "paxosctl"} {
		if code, body := postLearn(p.client(t, name), addr, 5, 101, "forged"); code/100 != 4 {
			t.Errorf("/learn naming acceptor 5 with %s's certificate: %d %s, want a 4xx", name, code, body)
		}
	}
	chosen("after the forged votes")

	// Acceptor2 with its own certificate: a quorum with acceptor1's vote.
	if code, body := postLearn(p.client(t, "acceptor2"), addr, 5, 101, "forged"); code != http.StatusOK || !strings.Contains(body, `"counted":true`) {
		t.Fatalf("acceptor2's own vote over /learn: %d %s, want it counted", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if values, slot := learnerLogVia(t, reader, "https://"+addr); slot >= 0 {
			if len(values) != 1 || values[0] != "forged" {
				t.Fatalf("the learner chose %q", values)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("acceptor1's and acceptor2's votes, each with its certificate, chose nothing")
		}
	}
}

// TestTLSRefusesBadCertificates: an internal endpoint without a client
// certificate is a 401; a certificate of another CA, or an expired one,
// fails the handshake; each is logged with the reason. The public API
// needs no client certificate. A dialer refuses a peer whose certificate
// names another node than the one it dialed.
func TestTLSRefusesBadCertificates(t *testing.T) {
	p := newTestPKI(t)
	addr, logs := tlsLoneNode(t, RoleLearner, p)
	other := newTestPKI(t)
	other.issue(t, "acceptor1", 4, time.Now().Add(24*time.Hour))
	p.issue(t, "acceptor2", 5, time.Now().Add(-time.Hour)) // expired

	anon := p.client(t, "")
	if resp, err := anon.Get("https://" + addr + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/health without a client certificate: %v %v, want 200", resp, err)
	}
	if code, body := postLearn(anon, addr, 4, 101, "x"); code != http.StatusUnauthorized || !strings.Contains(body, "certificate") {
		t.Errorf("/learn without a client certificate: %d %s, want 401", code, body)
	}
	waitLog(t, logs, "level=WARN", "refused an internal request without a TLS client certificate", "path=/learn")
	if sc, err := dialStream(addr, "", 4, 0, nil); err == nil {
		sc.close()
		t.Error("a plain-text stream to a TLS node was opened")
	}

	// Another CA's certificate, presented to a node that trusts p.
	otherCA := other.dialer("acceptor1")
	otherCA.caFile = p.path("ca.crt") // it trusts the node, the node does not trust it
	if sc, err := dialStream(addr, "", 4, 7, otherCA); err == nil {
		sc.close()
		t.Error("a stream with another CA's certificate was opened")
	}
	waitLog(t, logs, "level=WARN", "refused a TLS client certificate", "subject=acceptor1", "unknown authority")

	if sc, err := dialStream(addr, "", 5, 7, p.dialer("acceptor2")); err == nil {
		sc.close()
		t.Error("a stream with an expired certificate was opened")
	}
	waitLog(t, logs, "level=WARN", "refused a TLS client certificate", "subject=acceptor2", "expired")

	// The dialer's side: a node that answers with another node's
	// certificate (learner1's, where learner2 was dialed) is not talked to.
	p.issue(t, "acceptor3", 6, time.Now().Add(24*time.Hour))
	if sc, err := dialStream(addr, "", 6, 8, p.dialer("acceptor3")); err == nil || !strings.Contains(err.Error(), "not of node 8") {
		if sc != nil {
			sc.close()
		}
		t.Errorf("a stream to node 8 answered by node 7: %v, want a refusal", err)
	}
}

// TestTLSCertificatesReload: files swapped on disk are used by the next
// connection, on both ends: the node serves its new certificate, and a
// dialer presents its new one (here from another CA, so the node refuses
// it where it took the old one).
func TestTLSCertificatesReload(t *testing.T) {
	p := newTestPKI(t)
	addr, logs := tlsLoneNode(t, RoleLearner, p)
	serial := func() string {
		t.Helper()
		hc := p.client(t, "")
		resp, err := hc.Get("https://" + addr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hc.CloseIdleConnections()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	p.issue(t, "learner1", 7, time.Now().Add(48*time.Hour)) // the node's own files
	if after := serial(); after == before {
		t.Errorf("the node still serves certificate %s after its files were replaced", before)
	}

	p.issue(t, "acceptor1", 4, time.Now().Add(24*time.Hour))
	d := p.dialer("acceptor1")
	sc, err := dialStream(addr, "", 4, 7, d)
	if err != nil {
		t.Fatalf("acceptor1's stream: %v", err)
	}
	sc.close()
	other := newTestPKI(t)
	crt, key := other.issue(t, "acceptor1", 4, time.Now().Add(24*time.Hour))
	for _, f := range [][2]string{{crt, p.path("acceptor1.crt")}, {key, p.path("acceptor1.key")}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteFile(f[1], b, true); err != nil {
			t.Fatal(err)
		}
	}
	if sc, err := dialStream(addr, "", 4, 7, d); err == nil {
		sc.close()
		t.Fatal("the dialer kept its old certificate after its files were replaced")
	}
	waitLog(t, logs, "refused a TLS client certificate", "unknown authority")
}

// TestTLSConfig: TLS needs its three files, and a certificate that names
// another node does not start.
func TestTLSConfig(t *testing.T) {
	p := newTestPKI(t)
	cert, key := p.issue(t, "acceptor2", 5, time.Now().Add(time.Hour))
	cfg := DefaultConfig()
	cfg.ID, cfg.Role, cfg.Listen, cfg.DataDir = 4, RoleAcceptor, "127.0.0.1:0", t.TempDir()
	cfg.CertFile, cfg.KeyFile = cert, key
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "TRUSTED_CA_FILE") {
		t.Errorf("a certificate without a CA: %v, want an error naming TRUSTED_CA_FILE", err)
	}
	cfg.TrustedCAFile = p.path("ca.crt")
	if s, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "names node 5") {
		if s != nil {
			s.closeRole()
		}
		t.Errorf("node 4 with acceptor2's certificate: %v, want a refusal", err)
	}
}

// TestTLSMonitorPort: with TLS the monitor port (status page, /metrics,
// /trace) speaks TLS too, with the node's certificate; plain HTTP gets no
// page.
func TestTLSMonitorPort(t *testing.T) {
	p := newTestPKI(t)
	self := StandardPeers(RoleAcceptor, "")[0]
	cert, key := p.issue(t, self.Name, uint64(self.ID), time.Now().Add(24*time.Hour))
	mon := freeAddr(t)
	loneNode(t, RoleAcceptor, func(c *Config) {
		c.CertFile, c.KeyFile, c.TrustedCAFile = cert, key, p.path("ca.crt")
		c.MonitorListen = mon
	})
	hc := p.client(t, "")
	var status int
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, body = reply(hc.Get("https://" + mon + "/metrics")); status == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if status != http.StatusOK || !strings.Contains(body, "paxos_") {
		t.Fatalf("GET https://%s/metrics: %d %.200s, want 200 with the metrics", mon, status, body)
	}
	for _, path := range []string{"/", "/trace"} {
		if status, body := reply(hc.Get("https://" + mon + path)); status != http.StatusOK {
			t.Errorf("GET https://%s%s: %d %.200s, want 200", mon, path, status, body)
		}
	}
	if status, body := reply(http.Get("http://" + mon + "/metrics")); status == http.StatusOK {
		t.Errorf("plain GET http://%s/metrics: %d %.100s, want no page", mon, status, body)
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
