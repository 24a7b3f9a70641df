package scripts_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/internal/testenv"
)

// fakeCerts is a bin/paxosctl that answers "certs --dir DIR" as paxosctl
// certs does (the CA and one certificate and key per node and for
// paxosctl, each file naming itself) and counts its calls.
const fakeCerts = `#!/usr/bin/env bash
set -euo pipefail
[[ $1 == certs && $2 == --dir ]] || exit 9
echo call >>"$(dirname "$0")/certs-calls"
mkdir -p "$3"
for n in ca proposer1 proposer2 proposer3 acceptor1 acceptor2 acceptor3 learner1 learner2 client1 client2 paxosctl; do
	echo "$n.crt" >"$3/$n.crt"
	echo "$n.key" >"$3/$n.key"
done
`

// TestSecureClosedByDefault: scripts/secure.sh (what make up and
// scripts/local.sh up run first) makes the cluster secret into .env once
// and reuses it, leaves an explicitly empty CLUSTER_SECRET alone, fills
// an empty one copied from .env.example; with TLS=1 it makes the
// certificates once, gives every node its folder (ca.crt, node.crt,
// node.key, 0600), and .env remembers TLS until TLS=0.
func TestSecureClosedByDefault(t *testing.T) {
	t.Parallel()
	testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", "bash")
	root := t.TempDir()
	for dir, files := range map[string]map[string]string{
		"scripts": {"secure.sh": mustRead(t, "secure.sh")},
		"bin":     {"paxosctl": fakeCerts},
	} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(root, dir, name), []byte(data), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	script := filepath.Join(root, "scripts", "secure.sh")
	envFile := filepath.Join(root, ".env")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8", "PAXOS_VOLUMES=" + filepath.Join(root, "vol")}
	run := func(env []string, args ...string) string {
		t.Helper()
		out, code := runIn(t, t.TempDir(), slices.Concat(base, env), script, args...)
		if code != 0 {
			t.Fatalf("secure.sh %s (env %q): exit %d:\n%s", args, env, code, out)
		}
		return out
	}
	secretLine := regexp.MustCompile(`(?m)^CLUSTER_SECRET=([0-9a-f]{64})$`)
	secret := func() string {
		t.Helper()
		data, err := os.ReadFile(envFile)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "CLUSTER_SECRET="); n != 1 {
			t.Fatalf(".env has %d CLUSTER_SECRET lines, want 1:\n%s", n, data)
		}
		m := secretLine.FindStringSubmatch(string(data))
		if m == nil {
			t.Fatalf(".env has no CLUSTER_SECRET of 64 hex digits:\n%s", data)
		}
		if fi, _ := os.Stat(envFile); fi.Mode().Perm() != 0o600 {
			t.Errorf(".env has mode %v, want 0600 (it holds the secret)", fi.Mode().Perm())
		}
		return m[1]
	}

	// First run: a secret; second run: the same one; paxosctl gets it.
	run(nil, "up")
	first := secret()
	run(nil, "up")
	if got := secret(); got != first {
		t.Fatalf("the second run made another secret")
	}
	if out := run(nil, "env"); !strings.Contains(out, "export CLUSTER_SECRET="+first) || !strings.Contains(out, "unset PAXOSCTL_CACERT") {
		t.Errorf("secure.sh env without TLS:\n%s", out)
	}
	// Explicitly empty in the environment: open, and .env is left alone.
	if out := run([]string{"CLUSTER_SECRET="}, "up"); !strings.Contains(out, "stay open") {
		t.Errorf("secure.sh up with CLUSTER_SECRET= says nothing about an open cluster:\n%s", out)
	}
	if secret() != first {
		t.Fatal("an empty CLUSTER_SECRET in the environment changed .env")
	}
	// An empty one in .env (cp .env.example .env) is filled.
	if err := os.WriteFile(envFile, []byte("# copied\nCLUSTER_SECRET=\nLOG_LEVEL=info\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(nil, "up")
	if s := secret(); s == first {
		t.Error("an empty CLUSTER_SECRET in .env was not replaced by a new secret")
	}
	if data, _ := os.ReadFile(envFile); !strings.Contains(string(data), "LOG_LEVEL=info") {
		t.Errorf("secure.sh lost the other lines of .env:\n%s", data)
	}

	// TLS=1: the certificates once, each node's folder every time.
	calls := filepath.Join(root, "bin", "certs-calls")
	run([]string{"TLS=1"}, "up")
	run(nil, "up") // .env remembers TLS=1
	if data, _ := os.ReadFile(calls); strings.Count(string(data), "call") != 1 {
		t.Errorf("paxosctl certs ran %d times, want once", strings.Count(string(data), "call"))
	}
	for _, node := range []string{"proposer1", "acceptor3", "client2"} {
		for file, want := range map[string]string{"ca.crt": "ca.crt", "node.crt": node + ".crt", "node.key": node + ".key"} {
			p := filepath.Join(root, "vol", node, "tls", file)
			data, err := os.ReadFile(p)
			if err != nil || strings.TrimSpace(string(data)) != want {
				t.Errorf("%s: %q %v, want %s", p, data, err, want)
				continue
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
			}
		}
	}
	data, _ := os.ReadFile(envFile)
	if !strings.Contains(string(data), "TLS=1\n") || !strings.Contains(string(data), "PAXOS_TLS_DIR=/tls\n") {
		t.Errorf(".env after TLS=1 up lacks TLS=1 and PAXOS_TLS_DIR=/tls:\n%s", data)
	}
	if out := run(nil, "env"); !strings.Contains(out, "PAXOSCTL_CACERT="+filepath.Join(root, "certs", "ca.crt")) ||
		!strings.Contains(out, "PAXOSCTL_CERT="+filepath.Join(root, "certs", "paxosctl.crt")) {
		t.Errorf("secure.sh env with TLS on:\n%s", out)
	}
	// TLS=0: off, and remembered.
	run([]string{"TLS=0"}, "up")
	data, _ = os.ReadFile(envFile)
	if !strings.Contains(string(data), "TLS=0\n") || !strings.Contains(string(data), "PAXOS_TLS_DIR=\n") {
		t.Errorf(".env after TLS=0 up:\n%s", data)
	}
	if out := run(nil, "env"); !strings.Contains(out, "unset PAXOSCTL_CACERT") {
		t.Errorf("secure.sh env after TLS=0:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
