package replog_test

// Cases tied to the rules of Lamport's "Paxos Made Simple" (2001). Each test
// quotes the sentence it checks.

import (
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

func testConfig(id replog.ID) replog.Config {
	return replog.Config{ID: id, Proposers: []replog.ID{1, 2, 3}, Acceptors: []replog.ID{4, 5, 6},
		Learners: []replog.ID{7, 8}}
}

func newAcceptor(t *testing.T, s *storage.MemAcceptor) *replog.Acceptor {
	t.Helper()
	a, err := replog.NewAcceptor(testConfig(4), s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ready takes a node's Ready, persists it into the given store and advances.
func ready(t *testing.T, n replog.Node, store any) replog.Ready {
	t.Helper()
	rd := n.Ready()
	var err error
	switch s := store.(type) {
	case *storage.MemAcceptor:
		err = s.Save(rd.HardState.Promised, rd.Accepted)
	case *storage.MemProposer:
		if rd.HardState.Round > 0 {
			err = s.SetRound(rd.HardState.Round)
		}
	case *storage.MemLearner:
		if len(rd.Chosen) > 0 {
			err = s.Append(rd.Chosen)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	n.Advance()
	return rd
}

func step(t *testing.T, n replog.Node, m replog.Message) {
	t.Helper()
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
}

func onlyMessage(t *testing.T, rd replog.Ready, typ replog.MsgType) replog.Message {
	t.Helper()
	var found []replog.Message
	for _, m := range rd.Messages {
		if m.Type == typ {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %v, got %+v", typ, rd.Messages)
	}
	return found[0]
}

func cmd(v string) replog.Command { return replog.Command{ClientID: 9, RequestID: "r-" + v, Value: v} }

// "P1. An acceptor must accept the first proposal that it receives."
func TestPaperP1AcceptFirstProposal(t *testing.T) {
	s := storage.NewMemAcceptor()
	a := newAcceptor(t, s)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: []replog.Entry{{Slot: 0, Command: cmd("x")}}})
	rd := ready(t, a, s)
	if m := onlyMessage(t, rd, replog.MsgAccepted); m.Ballot != 101 || len(m.Slots) != 1 || m.Slots[0] != 0 {
		t.Fatalf("accepted = %+v", m)
	}
	if len(rd.Accepted) != 1 || rd.Accepted[0].Ballot != 101 {
		t.Fatalf("the accepted entry is not in the Ready to persist: %+v", rd.Accepted)
	}
}

// "P1a. An acceptor can accept a proposal numbered n iff it has not responded
// to a prepare request having a number greater than n."
func TestPaperP1aAcceptIffNoHigherPromise(t *testing.T) {
	tests := []struct {
		name     string
		promised replog.Ballot
		accept   replog.Ballot
		want     replog.MsgType
	}{
		{"lower than the promise is rejected", 201, 101, replog.MsgNack},
		{"equal to the promise is accepted", 201, 201, replog.MsgAccepted},
		{"higher than the promise is accepted", 201, 302, replog.MsgAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storage.NewMemAcceptor()
			a := newAcceptor(t, s)
			step(t, a, replog.Message{Type: replog.MsgPrepare, From: 1, Ballot: tt.promised})
			ready(t, a, s)
			step(t, a, replog.Message{Type: replog.MsgAccept, From: 2, Ballot: tt.accept, Entries: []replog.Entry{{Slot: 0, Command: cmd("x")}}})
			rd := ready(t, a, s)
			m := onlyMessage(t, rd, tt.want)
			if tt.want == replog.MsgNack {
				if m.Ballot != tt.promised {
					t.Fatalf("a nack must carry the higher ballot %d, got %d", tt.promised, m.Ballot)
				}
				if len(rd.Accepted) != 0 {
					t.Fatalf("a rejected accept changed state: %+v", rd.Accepted)
				}
			}
		})
	}
}

// "If an acceptor receives a prepare request with number n greater than that
// of any prepare request to which it has already responded, then it responds
// to the request with a promise not to accept any more proposals numbered less
// than n and with the highest-numbered proposal (if any) that it has accepted."
func TestPaperPromiseCarriesHighestAccepted(t *testing.T) {
	s := storage.NewMemAcceptor()
	a := newAcceptor(t, s)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: []replog.Entry{{Slot: 3, Command: cmd("a")}}})
	ready(t, a, s)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 2, Ballot: 202, Entries: []replog.Entry{{Slot: 3, Command: cmd("b")}}})
	ready(t, a, s)
	// Force: this acceptor just heard leader 202, and without Force it would
	// refuse other prepares for a while (leader stickiness, tested below).
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 3, Ballot: 303, Force: true})
	rd := ready(t, a, s)
	m := onlyMessage(t, rd, replog.MsgPromise)
	if len(m.Entries) != 1 || m.Entries[0].Ballot != 202 || m.Entries[0].Command.Value != "b" {
		t.Fatalf("promise entries = %+v, want slot 3 at ballot 202 value b", m.Entries)
	}
	if rd.HardState.Promised != 303 {
		t.Fatalf("the promise is not in the Ready to persist: %+v", rd.HardState)
	}
	// ... and it does not respond with a promise to a lower prepare.
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 1, Ballot: 201})
	if m := onlyMessage(t, ready(t, a, s), replog.MsgNack); m.Ballot != 303 {
		t.Fatalf("nack = %+v", m)
	}
}

// "An acceptor must remember this information even if it fails and then
// restarts." (§2.3: the acceptor records its promise and accepted proposal in
// stable storage before responding.)
func TestPaperAcceptorRemembersAcrossRestart(t *testing.T) {
	s := storage.NewMemAcceptor()
	a := newAcceptor(t, s)
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 202})
	ready(t, a, s)
	a = newAcceptor(t, s) // crash: only storage survives
	if a.Promised() != 202 {
		t.Fatalf("promised after restart = %d, want 202", a.Promised())
	}
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: []replog.Entry{{Slot: 0, Command: cmd("x")}}})
	onlyMessage(t, ready(t, a, s), replog.MsgNack)
}

// "Different proposers choose their numbers from disjoint sets of numbers, so
// two different proposers never issue a proposal with the same number. Each
// proposer remembers (in stable storage) the highest-numbered proposal it has
// tried to issue, and begins phase 1 with a higher proposal number than any it
// has already used."
func TestPaperProposalNumbersDisjointAndRemembered(t *testing.T) {
	if replog.MakeBallot(3, 1) == replog.MakeBallot(3, 2) {
		t.Fatal("two proposers share a ballot")
	}
	s := storage.NewMemProposer()
	p, err := replog.NewProposer(testConfig(1), s)
	if err != nil {
		t.Fatal(err)
	}
	p.Campaign()
	rd := p.Ready()
	if rd.HardState.Round != 1 {
		t.Fatalf("the round is not in the Ready to persist before the prepares: %+v", rd.HardState)
	}
	prep := onlyMessageTo(t, rd, replog.MsgPrepare, 4)
	ready(t, p, s)
	p, err = replog.NewProposer(testConfig(1), s) // crash and restart
	if err != nil {
		t.Fatal(err)
	}
	p.Campaign()
	if again := onlyMessageTo(t, ready(t, p, s), replog.MsgPrepare, 4); again.Ballot <= prep.Ballot {
		t.Fatalf("after a restart the proposer reused ballot %d (before: %d)", again.Ballot, prep.Ballot)
	}
}

func onlyMessageTo(t *testing.T, rd replog.Ready, typ replog.MsgType, to replog.ID) replog.Message {
	t.Helper()
	for _, m := range rd.Messages {
		if m.Type == typ && m.To == to {
			return m
		}
	}
	t.Fatalf("no %v to %d in %+v", typ, to, rd.Messages)
	return replog.Message{}
}

// electLeader makes proposer 1 leader with the given promises.
func electLeader(t *testing.T, s *storage.MemProposer, promises map[replog.ID][]replog.Entry) (*replog.Proposer, replog.Ready) {
	t.Helper()
	p, err := replog.NewProposer(testConfig(1), s)
	if err != nil {
		t.Fatal(err)
	}
	p.Campaign()
	b := onlyMessageTo(t, ready(t, p, s), replog.MsgPrepare, 4).Ballot
	for from, entries := range promises {
		step(t, p, replog.Message{Type: replog.MsgPromise, From: from, Ballot: b, Entries: entries})
	}
	if p.Status().Role != replog.Leader {
		t.Fatalf("not leader after a quorum of promises: %+v", p.Status())
	}
	return p, ready(t, p, s)
}

// "... a proposal with number n and value v, where v is the value of the
// highest-numbered proposal among the responses, or is any value if the
// responders reported no proposals." And §3: "the leader ... fills the gaps
// with no-op commands".
func TestPaperNewLeaderAdoptsHighestAndFillsGaps(t *testing.T) {
	s := storage.NewMemProposer()
	_, rd := electLeader(t, s, map[replog.ID][]replog.Entry{
		4: {{Slot: 0, Ballot: 102, Command: cmd("old")}, {Slot: 2, Ballot: 103, Command: cmd("c")}},
		5: {{Slot: 0, Ballot: 203, Command: cmd("new")}},
	})
	got := map[uint64]replog.Command{}
	for _, m := range rd.Messages {
		if m.Type == replog.MsgAccept && m.To == 4 {
			for _, e := range m.Entries {
				got[e.Slot] = e.Command
			}
		}
	}
	want := map[uint64]replog.Command{0: cmd("new"), 1: {}, 2: cmd("c")}
	for slot, c := range want {
		if got[slot] != c {
			t.Errorf("slot %d: proposed %+v, want %+v", slot, got[slot], c)
		}
	}
}

// "A value is chosen when a single proposal with that value has been accepted
// by a majority of the acceptors." Two acceptors at different ballots are not
// a majority for either (SPEC §8.4).
func TestPaperChosenNeedsMajorityAtOneBallot(t *testing.T) {
	tests := []struct {
		name  string
		votes []replog.Message
		want  int
	}{
		{"one acceptor", []replog.Message{learn(4, 101, "x")}, 0},
		{"the same acceptor twice", []replog.Message{learn(4, 101, "x"), learn(4, 101, "x")}, 0},
		{"two acceptors at different ballots", []replog.Message{learn(4, 101, "x"), learn(5, 202, "x")}, 0},
		{"two acceptors at one ballot", []replog.Message{learn(4, 101, "x"), learn(6, 101, "x")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storage.NewMemLearner()
			l, err := replog.NewLearner(testConfig(7), s)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.votes {
				step(t, l, m)
			}
			if rd := ready(t, l, s); len(rd.Chosen) != tt.want {
				t.Fatalf("chosen = %+v, want %d entries", rd.Chosen, tt.want)
			}
		})
	}
}

func learn(from replog.ID, b replog.Ballot, v string) replog.Message {
	return replog.Message{Type: replog.MsgLearn, From: from, Entries: []replog.Entry{{Slot: 0, Ballot: b, Command: cmd(v)}}}
}

// §3: "the leader can ... skip phase 1 for new instances": once elected, a new
// command goes straight to phase 2 at the same ballot.
func TestPaperLeaderSkipsPhase1(t *testing.T) {
	s := storage.NewMemProposer()
	p, _ := electLeader(t, s, map[replog.ID][]replog.Entry{4: nil, 5: nil})
	if err := p.Propose(cmd("x")); err != nil {
		t.Fatal(err)
	}
	rd := ready(t, p, s)
	for _, m := range rd.Messages {
		if m.Type == replog.MsgPrepare {
			t.Fatalf("a leader sent a prepare for a new command: %+v", m)
		}
	}
	acc := onlyMessageTo(t, rd, replog.MsgAccept, 4)
	if acc.Ballot != p.Status().Ballot || len(acc.Entries) != 1 {
		t.Fatalf("accept = %+v", acc)
	}
	// A majority of accepted answers chooses it, and the proposal is answered.
	for _, from := range []replog.ID{4, 6} {
		step(t, p, replog.Message{Type: replog.MsgAccepted, From: from, Ballot: acc.Ballot, Slots: []uint64{0}})
	}
	rd = ready(t, p, s)
	if len(rd.Results) != 1 || rd.Results[0].Err != nil || rd.Results[0].Slot != 0 {
		t.Fatalf("results = %+v", rd.Results)
	}
}

// A leader told of a higher ballot stops leading (it could not get a value
// chosen anyway: a majority promised not to accept it).
func TestLeaderStepsDownOnNack(t *testing.T) {
	s := storage.NewMemProposer()
	p, _ := electLeader(t, s, map[replog.ID][]replog.Entry{4: nil, 5: nil})
	if err := p.Propose(cmd("x")); err != nil {
		t.Fatal(err)
	}
	ready(t, p, s)
	step(t, p, replog.Message{Type: replog.MsgNack, From: 4, Ballot: 502})
	rd := ready(t, p, s)
	if st := p.Status(); st.Role != replog.Follower || st.Leader != 2 {
		t.Fatalf("after a nack: %+v", st)
	}
	if len(rd.Results) != 1 || rd.Results[0].Err == nil {
		t.Fatalf("the pending proposal must fail, got %+v", rd.Results)
	}
	if err := p.Propose(cmd("y")); err != replog.ErrNotLeader {
		t.Fatalf("propose on a follower: %v", err)
	}
}

// A retried request is answered with the slot of its first copy.
func TestRetryAnsweredWithFirstSlot(t *testing.T) {
	s := storage.NewMemProposer()
	p, _ := electLeader(t, s, map[replog.ID][]replog.Entry{4: nil, 5: nil})
	_ = p.Propose(cmd("x"))
	_ = p.Propose(cmd("x")) // in flight: no second slot
	acc := onlyMessageTo(t, ready(t, p, s), replog.MsgAccept, 4)
	if len(acc.Entries) != 1 {
		t.Fatalf("a retry in flight got its own slot: %+v", acc.Entries)
	}
	for _, from := range []replog.ID{4, 5} {
		step(t, p, replog.Message{Type: replog.MsgAccepted, From: from, Ballot: acc.Ballot, Slots: []uint64{0}})
	}
	ready(t, p, s)
	_ = p.Propose(cmd("x")) // already chosen: answered at once
	rd := ready(t, p, s)
	if len(rd.Results) != 1 || rd.Results[0].Slot != 0 {
		t.Fatalf("results = %+v", rd.Results)
	}
	for _, m := range rd.Messages {
		if m.Type == replog.MsgAccept && len(m.Entries) > 0 {
			t.Fatalf("a chosen request was proposed again: %+v", m)
		}
	}
}

// Not in the paper (a liveness rule, like Raft's leader stickiness): while an
// acceptor hears its leader, it refuses other prepares unless forced, so a
// proposer that was cut off and raised its ballot cannot depose a healthy
// leader when it comes back. Safety does not depend on it: a refusal is a
// nack, and a nack never makes anything chosen.
func TestAcceptorLeaderStickiness(t *testing.T) {
	s := storage.NewMemAcceptor()
	a := newAcceptor(t, s)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101})
	ready(t, a, s)
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 902})
	if m := onlyMessage(t, ready(t, a, s), replog.MsgNack); m.Ballot != 101 {
		t.Fatalf("nack = %+v, want the live leader's ballot 101", m)
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 902, Force: true})
	onlyMessage(t, ready(t, a, s), replog.MsgPromise)

	// Once the leader is silent for an election timeout, prepares go through.
	a = newAcceptor(t, s)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 2, Ballot: 902})
	ready(t, a, s)
	for range replog.DefaultConfig().ElectionTicks {
		a.Tick()
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 3, Ballot: 1003})
	onlyMessage(t, ready(t, a, s), replog.MsgPromise)
}
