package replog_test

// Tests for the mutations of the audit in issue 12 that every other test let
// through (make mutants: scripts/mutants.txt). Each one fails with its
// mutation applied.

import (
	"slices"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// An Accepted reply counts only at the ballot it answers: a late reply to
// this proposer's own older ballot is not a vote for the value it now
// proposes in that slot at its new ballot (mutation accepted-older-ballot).
// Counted, it makes "x at b1 by acceptor 4" and "y at b2 by acceptor 5" a
// quorum for y, which no acceptor majority holds.
func TestLeaderIgnoresAcceptedOfItsOlderBallot(t *testing.T) {
	st := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), st)
	if err != nil {
		t.Fatal(err)
	}
	b1 := leaderOf(t, p, st, 0)
	ready(t, p, st) // the first heartbeat
	if err := p.Propose(cmd("x")); err != nil {
		t.Fatal(err)
	}
	if acc := onlyMessageTo(t, ready(t, p, st), replog.MsgAccept, 4); len(acc.Entries) != 1 || acc.Entries[0].Slot != 0 {
		t.Fatalf("accept at b1: %+v, want slot 0", acc)
	}
	// Another proposer's higher ballot deposes it; it wins again with b2.
	step(t, p, replog.Message{Type: replog.MsgNack, From: 5, To: 1, Ballot: b1 + 1})
	ready(t, p, st)
	b2 := leaderOf(t, p, st, 0)
	if b2 <= b1 {
		t.Fatalf("second ballot %d is not above the first %d", b2, b1)
	}
	ready(t, p, st)
	if err := p.Propose(cmd("y")); err != nil {
		t.Fatal(err)
	}
	acc := onlyMessageTo(t, ready(t, p, st), replog.MsgAccept, 4)
	if len(acc.Entries) != 1 || acc.Entries[0].Slot != 0 || acc.Entries[0].Command != cmd("y") {
		t.Fatalf("accept at b2: %+v, want y at slot 0", acc)
	}

	step(t, p, replog.Message{Type: replog.MsgAccepted, From: 4, To: 1, Ballot: b1, Slots: []uint64{0}}) // late, for x
	step(t, p, replog.Message{Type: replog.MsgAccepted, From: 5, To: 1, Ballot: b2, Slots: []uint64{0}})
	if rd := ready(t, p, st); len(rd.Results) > 0 || len(rd.Applied) > 0 {
		t.Fatalf("y taken as chosen with one acceptance at its ballot and one at an older one: results %+v, applied %+v",
			rd.Results, rd.Applied)
	}
	step(t, p, replog.Message{Type: replog.MsgAccepted, From: 6, To: 1, Ballot: b2, Slots: []uint64{0}})
	rd := ready(t, p, st)
	if len(rd.Results) != 1 || rd.Results[0] != (replog.Result{RequestID: "r-y", Slot: 0}) {
		t.Fatalf("after a quorum at b2: results %+v, want r-y at slot 0", rd.Results)
	}
}

// A learner that syncs lazily tells the proposers (who compute the
// compaction point from it) only what Synced said is durable: acceptors
// delete the entries below that point, and a crash loses what was not
// synced (mutation lazysync-reports-unsynced).
func TestLazyLearnerReportsOnlySynced(t *testing.T) {
	cfg := testConfig(7)
	cfg.Notify, cfg.LazySync = []replog.ID{1}, true
	st := replogtest.NewLearnerStore()
	l, err := replog.NewLearner(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []replog.ID{4, 5} {
		step(t, l, replog.Message{Type: replog.MsgLearn, From: from, Entries: []replog.Entry{
			{Slot: 0, Ballot: 101, Command: cmd("a")}, {Slot: 1, Ballot: 101, Command: cmd("b")}}})
	}
	if rd := ready(t, l, st); len(rd.Chosen) != 2 {
		t.Fatalf("chosen %+v, want slots 0 and 1", rd.Chosen)
	}
	// Stored, not synced yet.
	l.Tick()
	if m := onlyMessageTo(t, ready(t, l, st), replog.MsgChosen, 1); m.Commit != 2 || m.Compact != 0 {
		t.Fatalf("before any sync the learner told proposer 1 commit %d, durable %d; want 2 and 0", m.Commit, m.Compact)
	}
	l.Synced(1)
	l.Tick()
	if m := onlyMessageTo(t, ready(t, l, st), replog.MsgChosen, 1); m.Compact != 1 {
		t.Fatalf("after Synced(1) the learner told proposer 1 durable %d, want 1", m.Compact)
	}
}

// The compaction point a leader tells the acceptors is the log length every
// learner has made durable: a learner that has not reported yet holds it at
// 0, or the acceptors would delete entries that learner may still need
// (mutation compaction-unreported-learner).
func TestCompactionWaitsForEveryLearner(t *testing.T) {
	st := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), st)
	if err != nil {
		t.Fatal(err)
	}
	leaderOf(t, p, st, 0)
	ready(t, p, st)
	compact := func() uint64 {
		t.Helper()
		p.ReadIndex(1) // sends an empty accept that carries the compaction point
		return onlyMessageTo(t, ready(t, p, st), replog.MsgAccept, 4).Compact
	}
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 7, To: 1, Compact: 10})
	if c := compact(); c != 0 {
		t.Fatalf("with learner 8 silent the leader told the acceptors to compact below %d, want 0", c)
	}
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 8, To: 1, Compact: 4})
	if c := compact(); c != 4 {
		t.Fatalf("with learners at 10 and 4 the compaction point is %d, want 4", c)
	}
}

// An accept that is not answered is resent less and less often: after 1, 2
// and 4 retransmit rounds, then every 8; at once when its client asks
// again. Resent every round, a slow accept (megabytes of values on a
// starved machine) queued copy after copy of itself, each written and
// passed to the learners by every acceptor, ahead of the answer it waited
// for.
func TestUnansweredAcceptBacksOff(t *testing.T) {
	cfg := testConfig(1)
	st := replogtest.NewProposerStore()
	p, err := replog.NewProposer(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	b := leaderOf(t, p, st, 0)
	ready(t, p, st)
	if err := p.Propose(cmd("x")); err != nil {
		t.Fatal(err)
	}
	ready(t, p, st) // the first accept
	retry := replog.DefaultConfig().RetryTicks
	var sends []int // the ticks at which the accept of slot 0 went out again
	for tick := 1; tick <= 62*retry; tick++ {
		if tick == 60*retry {
			// The client asks again: the next round resends it.
			if err := p.Propose(cmd("x")); err != nil {
				t.Fatal(err)
			}
		}
		p.Tick()
		resent := false
		for _, m := range ready(t, p, st).Messages {
			if m.Type != replog.MsgAccept || m.To != 4 {
				continue
			}
			if len(m.Entries) > 0 {
				resent = true
				continue
			}
			// Heartbeats are answered, so the leader keeps its quorum.
			for _, a := range []replog.ID{4, 5} {
				step(t, p, replog.Message{Type: replog.MsgAccepted, From: a, To: 1, Ballot: b})
			}
		}
		if resent {
			sends = append(sends, tick)
		}
	}
	if p.Status().State != replog.Leader {
		t.Fatalf("no longer leader: %+v", p.Status())
	}
	// In retransmit rounds: 2, 4, then 8 rounds apart; the client's retry
	// at round 60 is resent in that round.
	var rounds []int
	for _, tick := range sends {
		rounds = append(rounds, tick/retry)
	}
	if want := []int{1, 3, 7, 15, 23, 31, 39, 47, 55, 60}; !slices.Equal(rounds, want) {
		t.Fatalf("the accept was resent in retransmit rounds %v, want %v", rounds, want)
	}
}
