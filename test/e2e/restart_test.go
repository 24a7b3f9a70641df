package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// clusterState is what a whole-cluster restart must keep: each acceptor's
// durable state and each learner's log.
type clusterState struct {
	acceptors map[string]AcceptorState
	learners  map[string]Page
}

func (s clusterState) diff(o clusterState) string {
	var out []string
	for name, a := range s.acceptors {
		if b := o.acceptors[name]; !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s: %s, then %s", name, a, b))
		}
	}
	for name, a := range s.learners {
		b := o.learners[name]
		if !reflect.DeepEqual(a.Entries, b.Entries) || a.ChosenSlot != b.ChosenSlot {
			out = append(out, fmt.Sprintf("%s: chosen_slot %d, then %d; entries: %s", name, a.ChosenSlot, b.ChosenSlot,
				diffEntries(a.Entries, b.Entries)))
		}
	}
	return strings.Join(out, "\n")
}

// state reads the acceptors' /view-logs and the learners' /get-values.
func (c *Cluster) state() (clusterState, error) {
	st := clusterState{acceptors: map[string]AcceptorState{}, learners: map[string]Page{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Role("acceptor") {
		a, err := acceptorState(ctx, n)
		if err != nil {
			return st, err
		}
		st.acceptors[n.Name] = a
	}
	for _, n := range c.Role("learner") {
		p, err := values(ctx, n)
		if err != nil {
			return st, err
		}
		st.learners[n.Name] = p
	}
	return st, nil
}

// TestE2ERestartKeepsState writes values, SIGTERMs all 10 nodes and starts
// them again: every acceptor's promised ballot, accepted count, last accepted
// slot and last accepted proposal, and every learner's log, are the same
// after the restart as before it. Then the proposers come back with their
// rounds (a new leader's ballot is above every ballot used before), and the
// log grows after its old end.
//
// The acceptors and learners stop first and start first: a proposer that
// runs while they are up may legitimately campaign (a leader that gets
// SIGTERM hands over), which raises the promised ballot; with them stopped
// first, nothing can change their state between the snapshot and the
// restart, so any difference is a durability bug.
func TestE2ERestartKeepsState(t *testing.T) {
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond})
	clients := c.Role("client")
	const n = 30
	var top uint64
	for i := range n {
		top = max(top, mustSend(t, clients[i%2], fmt.Sprintf("v%d", i)).Slot)
	}

	// Wait until the state is settled: both learners have every value, every
	// acceptor accepted every slot, and two reads 200ms apart agree.
	var before clusterState
	eventually(t, 15*time.Second, func() error {
		a, err := c.state()
		if err != nil {
			return err
		}
		for name, p := range a.learners {
			if len(p.Entries) != n || p.ChosenSlot < int64(top) {
				return fmt.Errorf("%s: %d entries, chosen_slot %d; want %d entries up to slot %d", name, len(p.Entries), p.ChosenSlot, n, top)
			}
		}
		for name, s := range a.acceptors {
			if s.LastAcceptedSlot == nil || *s.LastAcceptedSlot < int64(top) {
				return fmt.Errorf("%s: %s; want slots up to %d accepted", name, s, top)
			}
		}
		time.Sleep(200 * time.Millisecond)
		b, err := c.state()
		if err != nil {
			return err
		}
		if d := a.diff(b); d != "" {
			return fmt.Errorf("state still changing:\n%s", d)
		}
		before = b
		return nil
	})
	rounds := map[string]uint64{}
	var maxBallot uint64
	for _, p := range c.Role("proposer") {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := proposerStatus(ctx, p)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rounds[p.Name] = st.ProposalCounter
		maxBallot = max(maxBallot, st.ProposalNumber)
	}
	for name, a := range before.acceptors {
		t.Logf("before: %s %s", name, a)
		maxBallot = max(maxBallot, a.Promised)
	}

	storageNodes := names(append(c.Role("acceptor"), c.Role("learner")...))
	otherNodes := names(append(c.Role("proposer"), c.Role("client")...))
	c.StopAll(storageNodes...)
	c.StopAll(otherNodes...)
	if t.Failed() {
		t.FailNow()
	}

	for _, name := range storageNodes {
		c.Start(name)
	}
	c.WaitHealthy(20*time.Second, storageNodes...)
	after, err := c.state()
	if err != nil {
		t.Fatal(err)
	}
	if d := before.diff(after); d != "" {
		t.Errorf("the restart changed the state:\n%s", d)
	}

	// The proposers and client nodes come back; the log goes on after its end.
	for _, name := range otherNodes {
		c.Start(name)
	}
	c.WaitHealthy(20*time.Second, otherNodes...)
	for _, p := range c.Role("proposer") {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := proposerStatus(ctx, p)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.ProposalCounter < rounds[p.Name] {
			t.Errorf("%s: proposal_counter %d after the restart, %d before: the round was not kept", p.Name, st.ProposalCounter, rounds[p.Name])
		}
	}
	leader := c.Leader(20 * time.Second)
	res := mustSend(t, clients[0], "after-restart")
	if res.Slot <= top {
		t.Errorf("the first write after the restart got slot %d; the log already went up to %d", res.Slot, top)
	}
	if res.ProposalNumber <= maxBallot {
		t.Errorf("the new leader %s chose with ballot %d; ballot %d was already used or promised", leader, res.ProposalNumber, maxBallot)
	}
	eventually(t, 10*time.Second, func() error {
		for _, l := range c.Role("learner") {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p, err := values(ctx, l)
			cancel()
			if err != nil {
				return err
			}
			old := before.learners[l.Name].Entries
			if len(p.Entries) != len(old)+1 || !reflect.DeepEqual(p.Entries[:len(old)], old) ||
				p.Entries[len(old)].Value != "after-restart" || p.Entries[len(old)].Slot != res.Slot {
				return fmt.Errorf("%s: %d entries, want the %d old ones and after-restart at slot %d; %s",
					l.Name, len(p.Entries), len(old), res.Slot, diffEntries(old, p.Entries))
			}
		}
		return nil
	})
}

func names(ns []*Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}
