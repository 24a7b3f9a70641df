//go:build drill

package drill

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScriptSuites runs the seed's test scripts (scripts/test/test-*.sh)
// against the drills' Compose cluster, as a user would after make up: each
// prints PASS/FAIL per check and must exit 0 (issue 12: CI runs what
// exists). The scripts stop and start nodes themselves and restore them.
func TestScriptSuites(t *testing.T) {
	c := newCluster(t)
	t.Cleanup(func() { c.down(t.Failed()) })
	c.up()
	if _, _, ok := c.waitSingleLeader(30 * time.Second); !ok {
		t.Fatalf("no single leader within 30s: %s", c.proposerSummary())
	}
	suites, err := filepath.Glob(filepath.Join(c.root, "scripts", "test", "test-*.sh"))
	if err != nil || len(suites) == 0 {
		t.Fatalf("no scripts/test/test-*.sh found under %s (%v)", c.root, err)
	}
	for _, path := range suites {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cmd := exec.Command("bash", path)
			cmd.Dir = c.root
			// The cluster's environment (its CLUSTER_SECRET among it), as a
			// user who started it with make up has it.
			cmd.Env = append(c.env, "PAXOSCTL="+filepath.Join(c.root, "bin", "paxosctl"))
			cmd.Stdin = nil
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s: %v\n%s", filepath.Base(path), err, out)
				return
			}
			t.Logf("%s passed:\n%s", filepath.Base(path), lastLines(string(out), 5))
			if _, _, ok := c.waitSingleLeader(30 * time.Second); !ok {
				t.Fatalf("after %s: no single leader within 30s: %s", filepath.Base(path), c.proposerSummary())
			}
		})
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
