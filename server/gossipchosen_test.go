package server

import (
	"fmt"
	"testing"
	"time"
)

// TestGossipShowsChosenSlots checks that what a node gossips of its chosen
// slot follows the log: a learner that learned slot N after it started
// shows N to the others (it used to show -1 for ever), and so do the
// proposers.
func TestGossipShowsChosenSlots(t *testing.T) {
	c := newTestClusterOpts(t, nil, nil, false, patientGossip)
	servers := c.joinGossip(1)
	var slot uint64
	for _, v := range []string{"a", "b", "c"} {
		s, err := c.send(9, v, "")
		if err != nil {
			t.Fatal(err)
		}
		slot = s
	}
	// A node's new metadata goes out in a few gossip messages (UDP); one
	// lost on a starved machine is made good by the next push/pull sync,
	// every 10 s with one random node: wait for a few of those.
	c.eventually(30*time.Second, func() error {
		for _, n := range servers[10].gossip.Nodes() {
			if Role(n.Role) != RoleLearner && Role(n.Role) != RoleProposer {
				continue
			}
			if n.Meta.Chosen < int64(slot) {
				return fmt.Errorf("client2 sees %s (%s) at chosen slot %d, want %d or more", n.Name, n.Role, n.Meta.Chosen, slot)
			}
		}
		return nil
	})
}
