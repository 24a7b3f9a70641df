package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/internal/pki"
)

// TestCerts: paxosctl certs writes a CA and, per node of the standard
// topology, a 0600 key and certificate signed by it that names the node
// (URI SAN paxos://node/ID, CN its name) and carries the names of every
// deployment; paxosctl's certificate names no node; a second run refuses
// to replace anything, --force replaces everything.
func TestCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	run := func(args ...string) (int, string) {
		var out, errw bytes.Buffer
		code := RunPaxosctl(context.Background(), append([]string{"paxosctl", "certs", "--dir", dir}, args...),
			strings.NewReader(""), &out, &errw)
		return code, out.String() + errw.String()
	}
	if code, out := run("--san", "paxos.example.com,10.1.2.3"); code != 0 {
		t.Fatalf("certs: exit %d: %s", code, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2+2*11 {
		t.Errorf("%d files in %s, want 24 (CA, 10 nodes, paxosctl, a key and a certificate each)", len(entries), dir)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.crt: %v", err)
	}
	for _, tc := range []struct {
		name   string
		id     uint64
		host   string // a name it must be valid for
		others []string
	}{
		{"proposer1", 1, "proposer1", []string{"proposer-0.proposer", "proposer-1.proposer.default.svc.cluster.local"}},
		{"acceptor1", 4, "acceptor1", []string{"acceptor-0.acceptor", "acceptor-4.acceptor", "acceptor-0.acceptor.default.svc"}},
		{"acceptor2", 5, "acceptor-5.acceptor", []string{"acceptor-1.acceptor", "localhost", "127.0.0.1", "paxos.example.com", "10.1.2.3"}},
		{"learner2", 8, "learner2", []string{"learner-1.learner"}},
		{"client1", 9, "client1", []string{"client-0.client"}},
		{"paxosctl", 0, "", nil},
	} {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, tc.name+".crt"), filepath.Join(dir, tc.name+".key"))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cert := pair.Leaf
		if cert.Subject.CommonName != tc.name {
			t.Errorf("%s: CN %q", tc.name, cert.Subject.CommonName)
		}
		if id, ok := pki.NodeID(cert); id != tc.id || ok != (tc.id != 0) {
			t.Errorf("%s: node ID %d (%v), want %d; URIs %v", tc.name, id, ok, tc.id, cert.URIs)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s: not valid for %v under ca.crt: %v", tc.name, usage, err)
			}
		}
		for _, h := range append([]string{tc.host}, tc.others...) {
			if h == "" {
				continue
			}
			if err := cert.VerifyHostname(h); err != nil {
				t.Errorf("%s: %v (DNS names %v)", tc.name, err, cert.DNSNames)
			}
		}
	}

	before, _ := os.ReadFile(filepath.Join(dir, "acceptor1.crt"))
	// The CA comes first: a run that wrote files one by one until one
	// existed would write it again.
	os.Remove(filepath.Join(dir, "ca.crt"))
	os.Remove(filepath.Join(dir, "learner1.key"))
	code, out := run()
	if code != exitError || !strings.Contains(out, "exists") || !strings.Contains(out, "--force") {
		t.Errorf("second run: exit %d, %q; want 1 and a refusal naming --force", code, out)
	}
	for _, f := range []string{"ca.crt", "learner1.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a refused run wrote %s: nothing may be written when a file exists", f)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "acceptor1.crt")); !bytes.Equal(before, after) {
		t.Error("a refused run replaced acceptor1.crt")
	}
	if code, out := run("--force"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "acceptor1.crt")); bytes.Equal(before, after) {
		t.Error("--force kept the old acceptor1.crt")
	}
	names, _ := os.ReadDir(dir)
	if !slices.ContainsFunc(names, func(e os.DirEntry) bool { return e.Name() == "learner1.key" }) {
		t.Error("--force did not write learner1.key")
	}
}
