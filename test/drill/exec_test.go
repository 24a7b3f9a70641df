//go:build drill

package drill

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPaxosctlInContainers types the README's troubleshooting commands as a
// user of the seed would (issue 17): "docker exec proposer1 paxosctl
// status" and "docker exec proposer1 paxosctl leader --elect proposer1".
// paxosctl must be on the image's PATH and find the cluster from inside the
// Compose network, with the cluster secret the containers have.
func TestPaxosctlInContainers(t *testing.T) {
	c := newCluster(t)
	t.Cleanup(func() { c.down(t.Failed()) })
	c.up()
	leader, _, ok := c.waitSingleLeader(30 * time.Second)
	if !ok {
		t.Fatalf("no single leader within 30s: %s", c.proposerSummary())
	}

	// status: exit 0, ten healthy nodes, the leader the proposers name.
	out, code := dockerExec(t, "proposer1", "paxosctl", "status")
	if code != 0 {
		t.Fatalf("docker exec proposer1 paxosctl status: exit %d, want 0:\n%s", code, out)
	}
	if want := "leader: " + leader.Name + " (id "; !strings.Contains(out, want) {
		t.Errorf("docker exec proposer1 paxosctl status does not say %q:\n%s", want, out)
	}
	out, code = dockerExec(t, "acceptor2", "paxosctl", "status", "-w", "json")
	if code != 0 {
		t.Fatalf("docker exec acceptor2 paxosctl status -w json: exit %d, want 0:\n%s", code, out)
	}
	var st struct {
		Nodes []struct {
			Name, Health string
		} `json:"nodes"`
		Leader *struct {
			Name string `json:"name"`
		} `json:"leader"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("docker exec acceptor2 paxosctl status -w json: %v:\n%s", err, out)
	}
	healthy := 0
	for _, n := range st.Nodes {
		if n.Health == "healthy" {
			healthy++
		}
	}
	if len(st.Nodes) != len(allNodes) || healthy != len(allNodes) {
		t.Errorf("paxosctl status in a container: %d nodes, %d healthy; want %d healthy:\n%s", len(st.Nodes), healthy, len(allNodes), out)
	}
	if st.Leader == nil || st.Leader.Name != leader.Name {
		t.Errorf("paxosctl status -w json in a container: leader %+v, want %s:\n%s", st.Leader, leader.Name, out)
	}

	// leader --elect moves leadership. The README's command elects
	// proposer1; when proposer1 already leads, proposer2 is elected first
	// so that the README's command moves leadership back.
	if leader.Name == "proposer1" {
		leader = electIn(t, c, "proposer1", "proposer2", leader)
	}
	electIn(t, c, "proposer1", "proposer1", leader)
}

// electIn runs "docker exec CONTAINER paxosctl leader --elect TARGET" and
// checks that TARGET then leads with a higher ballot than before, as the
// command's own output and every proposer (asked from the host) say.
func electIn(t *testing.T, c *cluster, container, target string, before node) node {
	t.Helper()
	_, old, _ := c.leader()
	out, code := dockerExec(t, container, "paxosctl", "leader", "--elect", target)
	if code != 0 {
		t.Fatalf("docker exec %s paxosctl leader --elect %s: exit %d, want 0:\n%s", container, target, code, out)
	}
	// The NAME ID ADDRESS BALLOT CHOSEN table: the header, then the leader.
	if !strings.Contains(out, "\n"+target+" ") {
		t.Errorf("docker exec %s paxosctl leader --elect %s printed another leader:\n%s", container, target, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, st, ok := c.waitSingleLeader(time.Second)
		if ok && n.Name == target && st.ProposalNumber > old.ProposalNumber {
			t.Logf("%s paxosctl leader --elect %s: %s -> %s (ballot %d -> %d)", container, target, before.Name, n.Name, old.ProposalNumber, st.ProposalNumber)
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("after docker exec %s paxosctl leader --elect %s, %s does not lead with a ballot above %d within 10s: %s\npaxosctl printed:\n%s",
				container, target, target, old.ProposalNumber, c.proposerSummary(), out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dockerExec runs a command in a container, as a user types it, and returns
// its combined output and exit status.
func dockerExec(t *testing.T, container string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"exec", container}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("docker exec %s %s: %v\n%s", container, strings.Join(args, " "), err, out)
	}
	return string(out), 0
}
