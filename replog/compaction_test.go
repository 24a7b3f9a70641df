package replog_test

import (
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// An acceptor compacts only below what every learner persisted AND what it
// knows is chosen, and after a restart its promises still report the
// compacted slots as chosen (else a new leader would fill them with no-ops).
func TestAcceptorCompactionSurvivesRestart(t *testing.T) {
	s := storage.NewMemAcceptor()
	cfg := testConfig(4)
	cfg.CompactEvery = 1
	a, err := replog.NewAcceptor(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	entries := []replog.Entry{{Slot: 0, Command: cmd("a")}, {Slot: 1, Command: cmd("b")}, {Slot: 2, Command: cmd("c")}}
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: entries})
	ready(t, a, s)
	// Learners persisted 3 slots, but the leader only knows 2 are chosen.
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Commit: 2, Compact: 3})
	rd := a.Ready()
	if rd.Compact != 2 {
		t.Fatalf("compact = %d, want min(commit, compact) = 2", rd.Compact)
	}
	if err := s.Compact(rd.Compact); err != nil {
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
