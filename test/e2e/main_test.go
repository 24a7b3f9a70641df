package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	flagFailover = flag.Bool("failover", false, "run TestE2EFailoverTimes (also PAXOS_FAILOVER=1)")
	flagKeep     = flag.Bool("keep", false, "keep every cluster directory (data, logs), not only those of failed tests")
)

// builds are the binaries built for this test run, by command name (each
// once, on first use).
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// paxosd returns the path of a paxosd binary built from this module
// (CGO_ENABLED=0, like make build). It builds it on first use, unless
// PAXOS_E2E_PAXOSD names a binary to test instead.
func paxosd(t testing.TB) string {
	t.Helper()
	return binary(t, "paxosd", "PAXOS_E2E_PAXOSD")
}

// paxosctl is paxosd's twin for paxosctl (PAXOS_E2E_PAXOSCTL).
func paxosctl(t testing.TB) string {
	t.Helper()
	return binary(t, "paxosctl", "PAXOS_E2E_PAXOSCTL")
}

// binary returns the path of ./cmd/name built from this module, or the
// binary the environment variable env names.
func binary(t testing.TB, name, env string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.bins == nil {
		builds.bins = map[string]*build{}
	}
	b := builds.bins[name]
	if b == nil {
		b = &build{}
		builds.bins[name] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() {
		if p := os.Getenv(env); p != "" {
			b.path, b.err = filepath.Abs(p)
			return
		}
		builds.mu.Lock()
		if builds.dir == "" {
			builds.dir, b.err = os.MkdirTemp("", "paxos-e2e-bin-")
		}
		dir := builds.dir
		builds.mu.Unlock()
		if b.err != nil {
			return
		}
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/paxos-go/paxos/cmd/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
