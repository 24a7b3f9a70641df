package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/paxos-go/paxos/server"
)

// TestTopologyFile checks that the topology the scripts read
// (scripts/topology.tsv) is what paxosctl topology prints, so it cannot
// drift from server.Topology: go test ./cli -run TestTopologyFile -rewrite
// writes it again after a change of the topology.
func TestTopologyFile(t *testing.T) {
	out, errOut, code := ctlRun(t, "", "topology")
	if code != 0 {
		t.Fatalf("paxosctl topology: exit %d, stderr %q", code, errOut)
	}
	path := filepath.Join("..", topologyFile)
	if *rewrite {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("%s differs from paxosctl topology (rerun with -rewrite if the change is meant):\n%s", topologyFile, lineDiff(string(want), out))
	}
}

// TestTopologyJSON checks -w json against server.Topology and SPEC §3's
// first and last rows.
func TestTopologyJSON(t *testing.T) {
	out, errOut, code := ctlRun(t, "", "-w", "json", "topology")
	if code != 0 {
		t.Fatalf("paxosctl -w json topology: exit %d, stderr %q", code, errOut)
	}
	var got []server.TopologyNode
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if len(got) != 10 {
		t.Fatalf("%d nodes, want 10: %q", len(got), out)
	}
	first := server.TopologyNode{Name: "proposer1", ID: 1, Role: server.RoleProposer, API: 3001, Monitor: 8001, Gossip: 7001}
	last := server.TopologyNode{Name: "client2", ID: 10, Role: server.RoleClient, API: 6002, Monitor: 8010, Gossip: 7010}
	if got[0] != first || got[9] != last {
		t.Errorf("first %+v last %+v, want %+v and %+v", got[0], got[9], first, last)
	}
}
