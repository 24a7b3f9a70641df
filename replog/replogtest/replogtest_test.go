package replogtest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

func TestLearnerStoreRefusesHole(t *testing.T) {
	l := NewLearnerStore()
	first := replog.ChosenEntry{Entry: replog.Entry{Slot: 0, Command: replog.Command{RequestID: "a", Value: "x"}}}
	if err := l.Save(&replog.Ready{Chosen: []replog.ChosenEntry{first}}); err != nil {
		t.Fatal(err)
	}
	hole := replog.ChosenEntry{Entry: replog.Entry{Slot: 2}}
	if err := l.Save(&replog.Ready{Chosen: []replog.ChosenEntry{hole}}); err == nil {
		t.Fatal("slot 2 appended after slot 0")
	}
	if c, _ := l.Commit(); c != 1 {
		t.Fatalf("commit %d after a refused append, want 1", c)
	}
	if s, ok, _ := l.FirstSlot("a"); !ok || s != 0 {
		t.Fatalf("FirstSlot(a) = %d, %v", s, ok)
	}
	if c, _ := l.Keep(0).Commit(); c != 0 {
		t.Fatalf("Keep(0) kept %d slots", c)
	}
}

func TestAcceptorStoreSave(t *testing.T) {
	a := NewAcceptorStore()
	if r, _ := a.Rejoin(); r != replog.RejoinPending {
		t.Fatalf("new storage: rejoin %d, want RejoinPending", r)
	}
	e := func(slot uint64) replog.Entry { return replog.Entry{Slot: slot, Ballot: 101} }
	steps := []replog.Ready{
		{HardState: replog.HardState{Promised: 202}, Accepted: []replog.Entry{e(0), e(1), e(2)}},
		{HardState: replog.HardState{Promised: 101, Commit: 2}, Compact: 2},
		{Accepted: []replog.Entry{e(1)}}, // below the compaction point: skipped
	}
	for i := range steps {
		if err := a.Save(&steps[i]); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := a.Promised()
	got, _ := a.Accepted(0, 0)
	top, _ := a.Top()
	if p != 202 || len(got) != 1 || got[0].Slot != 2 || top != 3 {
		t.Fatalf("promised %d, accepted %v, top %d; want 202, slot 2 only, 3", p, got, top)
	}
}

// deliveries sends 50 messages through a network seeded with seed and
// returns what arrives, step by step.
func deliveries(seed uint64) [][]replog.Message {
	n := NewNetwork(rand.New(rand.NewPCG(seed, 1)))
	n.Drop, n.Dup, n.Delay, n.Reorder = 0.2, 0.2, 5, true
	for i := range 50 {
		if err := n.Send(replog.Message{Type: replog.MsgAccept, From: 1, To: 4, Slot: uint64(i)}); err != nil {
			panic(err)
		}
	}
	var out [][]replog.Message
	for range 6 {
		out = append(out, n.Step())
	}
	return out
}

func TestNetworkReplaysFromSeed(t *testing.T) {
	a, b := deliveries(7), deliveries(7)
	if !slices.EqualFunc(a, b, func(x, y []replog.Message) bool { return slices.EqualFunc(x, y, equalMessage) }) {
		t.Fatal("two networks with one seed delivered differently")
	}
	total := 0
	for _, step := range a {
		total += len(step)
	}
	if total == 50 || total == 0 {
		t.Fatalf("%d of 50 messages arrived: no drop or duplicate at 20%% each", total)
	}
}

func equalMessage(x, y replog.Message) bool { return DescribeMessage(x) == DescribeMessage(y) }

func TestNetworkPartitionAndSize(t *testing.T) {
	n := NewNetwork(nil)
	n.MaxBytes = 30
	n.SetGroup(4, 1)
	for _, m := range []replog.Message{{From: 1, To: 4}, {From: 1, To: 5}} {
		if err := n.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.Step(); len(got) != 1 || got[0].To != 5 {
		t.Fatalf("delivered %v, want only 1->5", got)
	}
	big := replog.Message{From: 1, To: 5, Entries: []replog.Entry{{Slot: 0}, {Slot: 1}}} // 2 × 24 bytes
	if err := n.Send(big); err == nil {
		t.Fatal("a message over MaxBytes was sent")
	}
}
