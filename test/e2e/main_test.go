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

// built is the paxosd built for this test run (once, on first use).
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// paxosd returns the path of a paxosd binary built from this module
// (CGO_ENABLED=0, like make build). It builds it on first use, unless
// PAXOS_E2E_PAXOSD names a binary to test instead.
func paxosd(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if p := os.Getenv("PAXOS_E2E_PAXOSD"); p != "" {
			built.path, built.err = filepath.Abs(p)
			return
		}
		built.dir, built.err = os.MkdirTemp("", "paxos-e2e-bin-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "paxosd")
		cmd := exec.Command("go", "build", "-o", built.path, "github.com/paxos-go/paxos/cmd/paxosd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/paxosd: %v\n%s", err, out)
			return
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
