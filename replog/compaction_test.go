package replog_test

import (
	"fmt"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// An acceptor compacts only below what every learner persisted AND what it
// knows is chosen, and after a restart its promises still report the
// compacted slots as chosen (else a new leader would fill them with no-ops).
func TestAcceptorCompactionSurvivesRestart(t *testing.T) {
	s := replogtest.NewAcceptorStore()
	cfg := testConfig(4)
	cfg.CompactEvery = 1
	a, err := replog.NewAcceptor(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap(t, a, cfg, s)
	entries := []replog.Entry{{Slot: 0, Command: cmd("a")}, {Slot: 1, Command: cmd("b")}, {Slot: 2, Command: cmd("c")}}
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: entries})
	ready(t, a, s)
	// Learners persisted 3 slots, but the leader only knows 2 are chosen.
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Commit: 2, Compact: 3})
	rd := a.Ready()
	if rd.Compact != 2 {
		t.Fatalf("compact = %d, want min(commit, compact) = 2", rd.Compact)
	}
	if err := s.Save(&rd); err != nil {
		t.Fatal(err)
	}
	a.Advance()

	a, err = replog.NewAcceptor(cfg, s) // restart
	if err != nil {
		t.Fatal(err)
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 202})
	m := onlyMessage(t, ready(t, a, s), replog.MsgPromise)
	if m.Commit != 2 {
		t.Fatalf("promise after restart reports watermark %d, want 2 (the compaction point)", m.Commit)
	}
	if len(m.Entries) != 1 || m.Entries[0].Slot != 2 {
		t.Fatalf("promise entries = %+v, want only slot 2", m.Entries)
	}
	// A learner asking from slot 0 is told the answer covers slots from 2 on.
	step(t, a, replog.Message{Type: replog.MsgCatchup, From: 7, Slot: 0, Probe: 1})
	if m := onlyMessage(t, ready(t, a, s), replog.MsgLearn); m.Slot != 2 {
		t.Fatalf("catch-up answer covers from %d, want 2", m.Slot)
	}
}

// A proposer that has not heard from a learner since it started asks it
// (every PollTicks) until it has, so it knows the compaction point and the
// learners' lag after a restart without waiting for a write; Status reports
// both.
func TestProposerAsksUnheardLearners(t *testing.T) {
	s := replogtest.NewProposerStore()
	cfg := testConfig(1)
	cfg.PollTicks, cfg.ElectionTicks = 3, 1000
	p, err := replog.NewProposer(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	asked := func() map[replog.ID]bool {
		out := map[replog.ID]bool{}
		for range cfg.PollTicks {
			p.Tick()
		}
		for _, m := range ready(t, p, s).Messages {
			if m.Type == replog.MsgCatchup {
				out[m.To] = true
			}
		}
		return out
	}
	if got := asked(); !got[7] || !got[8] {
		t.Fatalf("a proposer that heard from no learner asked %v, want 7 and 8", got)
	}
	// Learner 7 tells the log (so the proposer is not behind, and asks
	// for nothing else) and its durable point.
	var log []replog.Entry
	for i := range uint64(5) {
		log = append(log, replog.Entry{Slot: i, Command: cmd(fmt.Sprint(i))})
	}
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 7, To: 1, Commit: 5, Compact: 5, Entries: log})
	if got := asked(); got[7] || !got[8] {
		t.Fatalf("after learner 7 reported, the proposer asked %v, want only 8", got)
	}
	if st := p.Status(); st.Compact != 0 || st.LearnersHeard != 1 {
		t.Fatalf("status Compact %d, LearnersHeard %d; want 0 (learner 8 unheard), 1", st.Compact, st.LearnersHeard)
	}
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 8, To: 1, Commit: 5, Compact: 3})
	if got := asked(); len(got) != 0 {
		t.Fatalf("with every learner heard, the proposer asked %v", got)
	}
	if st := p.Status(); st.Compact != 3 || st.LearnersHeard != 2 {
		t.Fatalf("status Compact %d, LearnersHeard %d; want 3, 2", st.Compact, st.LearnersHeard)
	}
}

// A learner silent for LearnerSilenceTicks holds compaction back no more:
// the point follows the learners heard lately, never above what one of
// them holds durably, and is 0 when none was heard lately. A learner never
// heard holds it back for a silence period from the proposer's start.
func TestCompactionSkipsSilentLearner(t *testing.T) {
	s := replogtest.NewProposerStore()
	cfg := testConfig(1)
	cfg.LearnerSilenceTicks, cfg.ElectionTicks = 20, 1000
	p, err := replog.NewProposer(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	report := func(from replog.ID, durable uint64) {
		step(t, p, replog.Message{Type: replog.MsgChosen, From: from, To: 1, Commit: durable, Compact: durable})
	}
	compact := func() uint64 { return p.Status().Compact }
	report(7, 10)
	for range 19 {
		p.Tick()
	}
	if c := compact(); c != 0 {
		t.Fatalf("with learner 8 never heard, 19 ticks after the start, compaction point %d, want 0", c)
	}
	p.Tick()
	report(7, 10)
	if c := compact(); c != 10 {
		t.Fatalf("with learner 8 never heard for a silence period, compaction point %d, want 10 (learner 7's)", c)
	}
	report(8, 3)
	if c := compact(); c != 3 {
		t.Fatalf("with both heard, compaction point %d, want 3 (the lower)", c)
	}
	// Learner 8 falls silent; learner 7 goes on.
	for i := range uint64(19) {
		p.Tick()
		report(7, 11+i)
	}
	if c := compact(); c != 3 {
		t.Fatalf("learner 8 silent for 19 ticks: compaction point %d, want still 3", c)
	}
	p.Tick()
	report(7, 40)
	if c := compact(); c != 40 {
		t.Fatalf("learner 8 silent for 20 ticks: compaction point %d, want 40 (learner 7's)", c)
	}
	// Learner 8 is back: it holds compaction back again (acceptors never
	// compact lower than they did).
	report(8, 5)
	if c := compact(); c != 5 {
		t.Fatalf("learner 8 back at 5: compaction point %d, want 5", c)
	}
	// Both silent: nothing is known held durably by a live learner.
	for range 20 {
		p.Tick()
	}
	if c := compact(); c != 0 {
		t.Fatalf("every learner silent: compaction point %d, want 0", c)
	}
}
