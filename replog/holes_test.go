package replog_test

// Regression tests for the holes a protocol review found (issue 11). Each
// one failed on the code before its fix.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// msgBytes is roughly a message's encoded size: its entries' sizes.
func msgBytes(m replog.Message) int {
	n := 64
	for _, e := range m.Entries {
		n += e.Command.Size() + 16
	}
	return n
}

// miniNet delivers every message among a proposer and acceptors, and
// refuses, as the stream receiver does, every message over limit bytes.
type miniNet struct {
	t         *testing.T
	nodes     map[replog.ID]replog.Node
	stores    map[replog.ID]replogtest.Store
	limit     int
	refused   int
	largest   int
	delivered int
}

func (n *miniNet) run(rounds int) {
	for range rounds {
		var out []replog.Message
		for _, id := range []replog.ID{1, 4, 5, 6} {
			node := n.nodes[id]
			for node.HasReady() {
				out = append(out, ready(n.t, node, n.stores[id]).Messages...)
			}
		}
		if len(out) == 0 {
			return
		}
		for _, m := range out {
			n.largest = max(n.largest, msgBytes(m))
			if msgBytes(m) > n.limit {
				n.refused++
				continue
			}
			if dst := n.nodes[m.To]; dst != nil {
				n.delivered++
				step(n.t, dst, m)
			}
		}
	}
}

// Finding 1: a promise carried every accepted entry in one message, and the
// receiver refuses frames over its limit: with 40 accepted 1 MiB entries no
// leader could ever be elected again. A promise now comes in pages of at
// most MaxMsgBytes (one entry always fits).
func TestPromisePagedUnderMessageLimit(t *testing.T) {
	const limit = 32 << 20 // the stream receiver's frame limit
	value := strings.Repeat("v", 1<<20)
	net := &miniNet{t: t, nodes: map[replog.ID]replog.Node{}, stores: map[replog.ID]replogtest.Store{}, limit: limit}
	for _, id := range []replog.ID{4, 5, 6} {
		st := replogtest.NewAcceptorStore()
		var entries []replog.Entry
		for s := range uint64(40) {
			entries = append(entries, replog.Entry{Slot: s, Ballot: 101,
				Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("r-%d", s), Value: value}})
		}
		if err := st.Save(&replog.Ready{HardState: replog.HardState{Promised: 101}, Accepted: entries}); err != nil {
			t.Fatal(err)
		}
		a, err := replog.NewAcceptor(testConfig(id), st)
		if err != nil {
			t.Fatal(err)
		}
		bootstrap(t, a, testConfig(id), st)
		net.nodes[id], net.stores[id] = a, st
	}
	pst := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), pst)
	if err != nil {
		t.Fatal(err)
	}
	net.nodes[1], net.stores[1] = p, pst
	p.Campaign()
	net.run(200)
	if st := p.Status(); st.State != replog.Leader {
		t.Fatalf("no leader after Phase 1 over 40 MiB of accepted entries (largest message %d bytes, %d refused over %d): %+v",
			net.largest, net.refused, limit, st)
	}
	if net.largest > replog.DefaultConfig().MaxMsgBytes+2<<20 {
		t.Errorf("largest message %d bytes: above MaxMsgBytes %d plus one entry", net.largest, replog.DefaultConfig().MaxMsgBytes)
	}
	// The new leader re-proposed every recovered value at its own ballot.
	if got := p.Status().Commit; got != 40 {
		t.Errorf("leader knows %d chosen slots, want the 40 it recovered", got)
	}
}

// Finding 1: an acceptor's chosen watermark survives a restart, so the
// first promise after a full restart does not carry the whole history.
func TestAcceptorCommitSurvivesRestart(t *testing.T) {
	st := replogtest.NewAcceptorStore()
	a := newAcceptor(t, st)
	var entries []replog.Entry
	for s := range uint64(50) {
		entries = append(entries, replog.Entry{Slot: s, Command: cmd(fmt.Sprint(s))})
	}
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: entries[:40]})
	ready(t, a, st)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Commit: 40, Entries: entries[40:]})
	ready(t, a, st)

	a = newAcceptor(t, st) // restart
	if a.Commit() != 40 {
		t.Fatalf("restarted acceptor's commit is %d, want 40", a.Commit())
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 202, Slot: 0})
	m := onlyMessage(t, ready(t, a, st), replog.MsgPromise)
	if m.Commit != 40 || len(m.Entries) != 10 || m.Entries[0].Slot != 40 {
		t.Fatalf("promise after restart: commit %d, %d entries from slot %v; want commit 40 and the 10 entries from 40",
			m.Commit, len(m.Entries), m.Entries)
	}
}

// Finding 2: a learner's catch-up rounds restarted at 1 in every process,
// so an acceptor's answer to round k of the learner's previous life, read
// before the slot was chosen, counted in round k of the new life, and the
// learner installed a value that was never chosen.
func TestLearnerIgnoresAnswerToEarlierLife(t *testing.T) {
	cfg := func(seed uint64) replog.Config {
		c := testConfig(7)
		c.Rand = rand.New(rand.NewPCG(seed, 7)) // as the server seeds it: anew at each start
		return c
	}
	st := replogtest.NewLearnerStore()
	l, err := replog.NewLearner(cfg(1), st)
	if err != nil {
		t.Fatal(err)
	}
	l.Tick() // a restarted learner asks at once
	rd := ready(t, l, st)
	var ask replog.Message
	for _, m := range rd.Messages {
		if m.Type == replog.MsgCatchup && m.To == 4 {
			ask = m
		}
	}
	if ask.Probe == 0 {
		t.Fatalf("no catch-up round sent to acceptor 4: %+v", rd.Messages)
	}
	// Acceptor 4 had accepted "old" at ballot 101 for slot 0; its answer is
	// still queued when the learner crashes.
	stale := replog.Message{Type: replog.MsgLearn, From: 4, To: 7, Probe: ask.Probe, Slot: 0,
		Entries: []replog.Entry{{Slot: 0, Ballot: 101, Command: cmd("old")}}}

	// Later a no-op is chosen at slot 0 by acceptors 4 and 5 at ballot 201.
	// The learner restarts and hears that slot 0 is chosen.
	l, err = replog.NewLearner(cfg(2), st)
	if err != nil {
		t.Fatal(err)
	}
	step(t, l, replog.Message{Type: replog.MsgLearn, From: 5, To: 7, Commit: 1})
	l.Tick()
	fresh := replog.Message{Type: replog.MsgLearn, From: 6, To: 7, Slot: 0, Commit: 1}
	for _, m := range ready(t, l, st).Messages {
		if m.Type == replog.MsgCatchup && m.To == 6 {
			fresh.Probe = m.Probe
		}
	}
	if fresh.Probe == 0 {
		t.Fatal("the restarted learner sent acceptor 6 no catch-up round")
	}
	// The stale answer arrives, then acceptor 6's fresh one (it never
	// accepted slot 0): together a quorum, if the stale one counted.
	step(t, l, stale)
	step(t, l, fresh)
	ready(t, l, st)
	got, _ := st.Chosen(0, 1)
	if len(got) > 0 && !got[0].Command.IsNoop() {
		t.Fatalf("the learner installed %+v at slot 0 from an answer to its earlier life; the chosen value is the no-op", got[0])
	}
}

// Finding 3: votes counted by the self-declared sender, any node of the
// topology: a proposer and a client "voting" made a learner choose.
func TestLearnerCountsOnlyAcceptors(t *testing.T) {
	st := replogtest.NewLearnerStore()
	l, err := replog.NewLearner(testConfig(7), st)
	if err != nil {
		t.Fatal(err)
	}
	forged := []replog.Entry{{Slot: 0, Ballot: 101, Command: cmd("forged")}}
	for _, from := range []replog.ID{1, 9, 4} { // proposer 1, client 9, one real acceptor
		step(t, l, replog.Message{Type: replog.MsgLearn, From: from, To: 7, Ballot: 101, Entries: forged})
	}
	// Chosen notices come only from learners.
	for _, from := range []replog.ID{1, 4, 9} {
		step(t, l, replog.Message{Type: replog.MsgChosen, From: from, To: 7, Commit: 1, Entries: forged})
	}
	ready(t, l, st)
	if l.Commit() != 0 {
		got, _ := st.Chosen(0, 1)
		t.Fatalf("the learner chose %+v from votes of non-acceptors", got)
	}
}

// Finding 3, proposer side: promises and acceptances count only from
// configured acceptors.
func TestProposerCountsOnlyAcceptors(t *testing.T) {
	pst := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), pst)
	if err != nil {
		t.Fatal(err)
	}
	p.Campaign()
	rd := ready(t, p, pst)
	b := rd.Messages[0].Ballot
	for _, from := range []replog.ID{2, 7, 9, 4} {
		step(t, p, replog.Message{Type: replog.MsgPromise, From: from, To: 1, Ballot: b})
	}
	if st := p.Status(); st.State == replog.Leader {
		t.Fatalf("promises from proposer 2, learner 7 and client 9 made a leader")
	}
}

// Finding 4: a retry of a request chosen but not yet applied (a lower slot
// still open) took a new slot: the log grew a copy per retry.
func TestRetryOfChosenRequestTakesNoSlot(t *testing.T) {
	pst := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), pst)
	if err != nil {
		t.Fatal(err)
	}
	p.Campaign()
	b := ready(t, p, pst).Messages[0].Ballot
	for _, a := range []replog.ID{4, 5} {
		step(t, p, replog.Message{Type: replog.MsgPromise, From: a, To: 1, Ballot: b})
	}
	ready(t, p, pst)
	for _, v := range []string{"a", "b"} {
		if err := p.Propose(cmd(v)); err != nil {
			t.Fatal(err)
		}
	}
	ready(t, p, pst)
	// Slot 1 ("b") is chosen; slot 0 is still open.
	for _, a := range []replog.ID{4, 5} {
		step(t, p, replog.Message{Type: replog.MsgAccepted, From: a, To: 1, Ballot: b, Slots: []uint64{1}})
	}
	ready(t, p, pst)
	if err := p.Propose(cmd("b")); err != nil { // the client's retry
		t.Fatal(err)
	}
	if next := p.Status().NextSlot; next != 2 {
		t.Fatalf("the retry of a chosen request took slot %d", next-1)
	}
	// The same when the proposer heard it from a learner instead.
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 7, To: 1, Commit: 0,
		Entries: []replog.Entry{{Slot: 5, Command: cmd("c")}}})
	if err := p.Propose(cmd("c")); err != nil {
		t.Fatal(err)
	}
	if next := p.Status().NextSlot; next != 2 {
		t.Fatalf("the retry of a request chosen at slot 5 took slot %d", next-1)
	}
	rd := p.Ready()
	for _, m := range rd.Messages {
		for _, e := range m.Entries {
			if e.Command.RequestID == "r-c" {
				t.Fatalf("the retry of a request chosen at slot 5 was proposed again at slot %d", e.Slot)
			}
		}
	}
}

// Finding 7: a value with an empty request ID was a duplicate or not
// depending on how entries were batched into Readies, so two learners
// could disagree. It is never a duplicate now.
func TestEmptyRequestIDIsNeverDuplicate(t *testing.T) {
	logs := map[string][]replog.ChosenEntry{}
	for _, batched := range []bool{true, false} {
		st := replogtest.NewLearnerStore()
		l, err := replog.NewLearner(testConfig(7), st)
		if err != nil {
			t.Fatal(err)
		}
		for s := range uint64(2) {
			for _, a := range []replog.ID{4, 5} {
				step(t, l, replog.Message{Type: replog.MsgLearn, From: a, To: 7, Ballot: 101,
					Entries: []replog.Entry{{Slot: s, Ballot: 101, Command: replog.Command{Value: fmt.Sprint("x", s)}}}})
			}
			if !batched {
				ready(t, l, st)
			}
		}
		ready(t, l, st)
		got, _ := st.Chosen(0, 0)
		logs[fmt.Sprint(batched)] = got
		for _, e := range got {
			if e.Dup {
				t.Errorf("batched=%v: slot %d with no request ID marked a duplicate of slot %d", batched, e.Slot, e.FirstSlot)
			}
		}
	}
}

// leaderOf makes p the leader with promises from acceptors 4 and 5, whose
// chosen watermark is commit, and returns its ballot.
func leaderOf(t *testing.T, p *replog.Proposer, st *replogtest.ProposerStore, commit uint64) replog.Ballot {
	t.Helper()
	p.Campaign()
	var b replog.Ballot
	for _, m := range ready(t, p, st).Messages {
		if m.Type == replog.MsgPrepare {
			b = m.Ballot
		}
	}
	for _, a := range []replog.ID{4, 5} {
		step(t, p, replog.Message{Type: replog.MsgPromise, From: a, To: 1, Ballot: b, Commit: commit, Slot: commit})
	}
	if p.Status().State != replog.Leader {
		t.Fatalf("not leader: %+v", p.Status())
	}
	return b
}

// Finding 4: a restarted proposer replayed the log from slot 0 and, until
// it got there, gave every retry of an old request a new slot. Its applied
// index (request IDs only) survives the restart now, and a new leader
// takes no new command until it has applied every slot below its first.
func TestRestartedProposerDedupsWithoutReplay(t *testing.T) {
	st := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), st)
	if err != nil {
		t.Fatal(err)
	}
	b := leaderOf(t, p, st, 0)
	if err := p.Propose(cmd("a")); err != nil {
		t.Fatal(err)
	}
	ready(t, p, st)
	for _, a := range []replog.ID{4, 5} {
		step(t, p, replog.Message{Type: replog.MsgAccepted, From: a, To: 1, Ballot: b, Slots: []uint64{0}})
	}
	if rd := ready(t, p, st); len(rd.Results) != 1 || rd.Results[0].Slot != 0 {
		t.Fatalf("results %+v, want r-a at slot 0", rd.Results)
	}

	// Restart: the retry of r-a is answered with slot 0 and takes no slot.
	p, err = replog.NewProposer(testConfig(1), st)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Status().Commit; c != 1 {
		t.Fatalf("restarted proposer starts at slot %d, want 1 (its applied index)", c)
	}
	leaderOf(t, p, st, 1)
	if err := p.Propose(cmd("a")); err != nil {
		t.Fatal(err)
	}
	rd := ready(t, p, st)
	if len(rd.Results) != 1 || rd.Results[0].Slot != 0 || rd.Results[0].Err != nil {
		t.Fatalf("the retry after the restart was answered %+v, want slot 0", rd.Results)
	}
	if next := p.Status().NextSlot; next != 1 {
		t.Fatalf("the retry took slot %d", next-1)
	}

	// Acceptors say slots up to 4 are chosen; the leader does not know
	// them. A retry of r-b (chosen at slot 3, unknown here) waits, and is
	// answered with slot 3 once a learner fills the gap: no copy.
	p, err = replog.NewProposer(testConfig(1), st)
	if err != nil {
		t.Fatal(err)
	}
	leaderOf(t, p, st, 5)
	if err := p.Propose(cmd("b")); err != nil {
		t.Fatal(err)
	}
	for _, m := range ready(t, p, st).Messages {
		for _, e := range m.Entries {
			if e.Command.RequestID == "r-b" {
				t.Fatalf("r-b proposed at slot %d before the leader knew the slots below its first", e.Slot)
			}
		}
	}
	var gap []replog.Entry
	for s := uint64(1); s < 5; s++ {
		c := replog.Command{}
		if s == 3 {
			c = cmd("b")
		}
		gap = append(gap, replog.Entry{Slot: s, Command: c})
	}
	step(t, p, replog.Message{Type: replog.MsgChosen, From: 7, To: 1, Commit: 5, Entries: gap})
	rd = ready(t, p, st)
	if len(rd.Results) != 1 || rd.Results[0].Slot != 3 {
		t.Fatalf("results %+v, want r-b at slot 3", rd.Results)
	}
	if next := p.Status().NextSlot; next != 5 {
		t.Fatalf("r-b took slot %d: a copy", next-1)
	}
}

// The rejoin rule (SPEC §9, lost disk): an acceptor that starts with empty
// storage promises nothing until the others answered; in a cluster with
// history it takes their highest promise, answers no catch-up round below
// their highest accepted slot, and votes again only once that slot is
// chosen and persisted by every learner.
func TestAcceptorWithLostDiskRejoins(t *testing.T) {
	st := replogtest.NewAcceptorStore()
	a, err := replog.NewAcceptor(testConfig(4), st)
	if err != nil {
		t.Fatal(err)
	}
	if a.Voting() {
		t.Fatal("an acceptor with empty storage votes before it asked the others")
	}
	a.Tick()
	asked := 0
	for _, m := range ready(t, a, st).Messages {
		if m.Type == replog.MsgRejoin {
			asked++
		}
	}
	if asked != 5 {
		t.Fatalf("asked %d nodes, want the 3 proposers and the 2 other acceptors", asked)
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 1, To: 4, Ballot: 101})
	if rd := ready(t, a, st); len(rd.Messages) != 0 {
		t.Fatalf("answered a prepare before the others answered: %+v", rd.Messages)
	}
	// The others have history: promised 502, accepted up to slot 9, chosen
	// below 7; proposer 3 is in a Phase 1 at 503 (it may hold this
	// acceptor's forgotten promise of 503).
	step(t, a, replog.Message{Type: replog.MsgRejoinState, From: 5, To: 4, Ballot: 502, Slot: 10, Commit: 7})
	step(t, a, replog.Message{Type: replog.MsgRejoinState, From: 6, To: 4, Ballot: 401, Slot: 8, Commit: 7})
	step(t, a, replog.Message{Type: replog.MsgRejoinState, From: 1, To: 4, Ballot: 0})
	step(t, a, replog.Message{Type: replog.MsgRejoinState, From: 2, To: 4, Ballot: 502})
	if rd := ready(t, a, st); !rd.HardState.IsEmpty() {
		t.Fatalf("decided before every proposer answered: %+v", rd.HardState)
	}
	step(t, a, replog.Message{Type: replog.MsgRejoinState, From: 3, To: 4, Ballot: 503})
	if rd := ready(t, a, st); rd.HardState.Promised != 503 || rd.HardState.Rejoin != 10+1 {
		t.Fatalf("after the answers: %+v; want promised 503 and rejoin slot 10 persisted (as 11)", rd.HardState)
	}
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 1, To: 4, Ballot: 601})
	step(t, a, replog.Message{Type: replog.MsgCatchup, From: 7, To: 4, Slot: 0, Probe: 3})
	for _, m := range ready(t, a, st).Messages {
		if m.Type == replog.MsgPromise {
			t.Fatal("promised while slots it may have voted on are not chosen")
		}
		if m.Type == replog.MsgLearn && (m.Probe != 0 || m.Slot < 10) {
			t.Fatalf("a catch-up answer counts in recovery below the rejoin slot: %+v", m)
		}
	}
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 2, To: 4, Ballot: 502, Commit: 12, Compact: 12,
		Entries: []replog.Entry{{Slot: 12, Command: cmd("late")}}})
	if rd := ready(t, a, st); len(rd.Accepted) != 0 {
		t.Fatalf("accepted at 502, below the Phase 1 of proposer 3 at 503: %+v", rd.Accepted)
	}
	// A leader at 601 says slots below 12 are chosen and every learner has them.
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 601, Commit: 12, Compact: 12})
	rd := ready(t, a, st)
	if !a.Voting() || rd.Compact < 10 {
		t.Fatalf("voting %v, compact %d after the rejoin slot was chosen and persisted everywhere", a.Voting(), rd.Compact)
	}
	// A restart keeps the rule's outcome: it votes.
	if a, err = replog.NewAcceptor(testConfig(4), st); err != nil || !a.Voting() {
		t.Fatalf("after a restart: voting %v, %v", a != nil && a.Voting(), err)
	}
}

// readBytes records the most command bytes one storage read returned.
type readBytes struct{ most int }

// saw records one read of es; cmd gives an entry's command.
func saw[E any](r *readBytes, es []E, cmd func(E) replog.Command) {
	total := 0
	for _, e := range es {
		total += cmd(e).Size()
	}
	r.most = max(r.most, total)
}

type countingAcceptorStore struct {
	*replogtest.AcceptorStore
	reads *readBytes
}

func (s countingAcceptorStore) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	es, err := s.AcceptorStore.AcceptedBytes(from, limit, maxBytes)
	saw(s.reads, es, func(e replog.Entry) replog.Command { return e.Command })
	return es, err
}

type countingLearnerStore struct {
	*replogtest.LearnerStore
	reads *readBytes
}

func (s countingLearnerStore) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	es, err := s.LearnerStore.ChosenBytes(from, limit, maxBytes)
	saw(s.reads, es, func(e replog.ChosenEntry) replog.Command { return e.Command })
	return es, err
}

// A promise page and a catch-up answer read at most MaxMsgBytes plus one
// entry from storage, not CatchupLimit entries whatever their size: over a
// log of 1 MiB values that was 2 GiB read into memory for a 4 MiB message.
func TestCatchupReadsAreBoundedInBytes(t *testing.T) {
	value := strings.Repeat("v", 1<<20)
	var entries []replog.Entry
	var chosen []replog.ChosenEntry
	for s := range uint64(40) {
		e := replog.Entry{Slot: s, Ballot: 101, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("r-%d", s), Value: value}}
		entries = append(entries, e)
		chosen = append(chosen, replog.ChosenEntry{Entry: e, FirstSlot: s})
	}
	maxMsg := replog.DefaultConfig().MaxMsgBytes
	bound := maxMsg + entries[0].Command.Size()

	ast := replogtest.NewAcceptorStore()
	if err := ast.Save(&replog.Ready{HardState: replog.HardState{Promised: 101}, Accepted: entries}); err != nil {
		t.Fatal(err)
	}
	areads := &readBytes{}
	a, err := replog.NewAcceptor(testConfig(4), countingAcceptorStore{ast, areads})
	if err != nil {
		t.Fatal(err)
	}
	bootstrap(t, a, testConfig(4), ast)
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 2, Ballot: 202})
	promise := onlyMessageTo(t, ready(t, a, ast), replog.MsgPromise, 2)
	if !promise.Truncated || len(promise.Entries) != maxMsg>>20-1 && len(promise.Entries) != maxMsg>>20 {
		t.Errorf("promise page: %d entries, truncated %v; want about %d, truncated", len(promise.Entries), promise.Truncated, maxMsg>>20)
	}
	if areads.most > bound {
		t.Errorf("the acceptor read %d bytes for one promise page; want at most MaxMsgBytes plus one entry, %d", areads.most, bound)
	}

	lst := replogtest.NewLearnerStore()
	if err := lst.Save(&replog.Ready{Chosen: chosen}); err != nil {
		t.Fatal(err)
	}
	lreads := &readBytes{}
	l, err := replog.NewLearner(testConfig(7), countingLearnerStore{lst, lreads})
	if err != nil {
		t.Fatal(err)
	}
	step(t, l, replog.Message{Type: replog.MsgCatchup, From: 8, Slot: 0})
	answer := onlyMessageTo(t, ready(t, l, lst), replog.MsgChosen, 8)
	if !answer.Truncated || len(answer.Entries) == 0 || len(answer.Entries) > maxMsg>>20 {
		t.Errorf("catch-up answer: %d entries, truncated %v; want at most %d, truncated", len(answer.Entries), answer.Truncated, maxMsg>>20)
	}
	if lreads.most > bound {
		t.Errorf("the learner read %d bytes for one catch-up answer; want at most MaxMsgBytes plus one entry, %d", lreads.most, bound)
	}
}

// A promise page merges the accepted entries not yet persisted only over
// the slots the storage read covered: an unpersisted entry past them would
// leave the slots between out of the page (a hole the new leader would fill
// with no-ops over values that may be chosen), and a page that fits after
// the merge still says more follow.
func TestPromisePageHasNoHoleFromUnpersistedEntries(t *testing.T) {
	big := strings.Repeat("v", 900<<10)
	var entries []replog.Entry
	for s := range uint64(10) {
		entries = append(entries, replog.Entry{Slot: s, Ballot: 101, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("r-%d", s), Value: big}})
	}
	st := replogtest.NewAcceptorStore()
	if err := st.Save(&replog.Ready{HardState: replog.HardState{Promised: 101}, Accepted: entries}); err != nil {
		t.Fatal(err)
	}
	a := newAcceptor(t, st)
	small := func(s uint64) replog.Entry {
		return replog.Entry{Slot: s, Ballot: 101, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("s-%d", s), Value: "x"}}
	}
	// Accepted, not yet persisted (no Ready taken): slot 1 again, smaller, and slot 20.
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101, Entries: []replog.Entry{small(1), small(20)}})
	step(t, a, replog.Message{Type: replog.MsgPrepare, From: 1, Ballot: 101}) // a prepare again at the promised ballot
	promise := onlyMessageTo(t, ready(t, a, st), replog.MsgPromise, 1)
	var slots []uint64
	for _, e := range promise.Entries {
		slots = append(slots, e.Slot)
	}
	for i, s := range slots {
		if s != uint64(i) {
			t.Fatalf("promise page holds slots %v: a hole before slot %d", slots, s)
		}
	}
	if !promise.Truncated {
		t.Errorf("promise page of slots %v says nothing follows; slots %d-9 and 20 do", slots, len(slots))
	}
	if len(promise.Entries) > 1 && promise.Entries[1].Command.Value != "x" {
		t.Errorf("slot 1 in the page is not the newer entry")
	}
}

// What a learner catches up from another learner it does not tell Notify
// again (that learner did when it counted the quorums, and the proposers
// fetch what they miss): re-sending a million caught-up entries to every
// proposer was an eighth of a catching-up learner's CPU. What it learns
// from the acceptors' votes it tells, as before.
func TestCaughtUpEntriesAreNotNotifiedAgain(t *testing.T) {
	cfg := testConfig(7)
	cfg.Notify = []replog.ID{1, 2, 3}
	st := replogtest.NewLearnerStore()
	l, err := replog.NewLearner(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(s uint64) replog.Command {
		return replog.Command{ClientID: 9, RequestID: fmt.Sprintf("r-%d", s), Value: "v"}
	}
	var old []replog.Entry
	for s := range uint64(10) {
		old = append(old, replog.Entry{Slot: s, Ballot: 101, Command: cmd(s)})
	}
	step(t, l, replog.Message{Type: replog.MsgChosen, From: 8, Commit: 10, Entries: old})
	ready(t, l, st)
	l.Tick()
	notified := func(rd replog.Ready) (slots []uint64) {
		for _, m := range rd.Messages {
			if m.Type == replog.MsgChosen && m.To == 1 {
				for _, e := range m.Entries {
					slots = append(slots, e.Slot)
				}
			}
		}
		return slots
	}
	if got := notified(ready(t, l, st)); len(got) != 0 {
		t.Errorf("caught-up slots %v told to proposer 1 again", got)
	}
	fresh := replog.Entry{Slot: 10, Ballot: 101, Command: cmd(10)}
	step(t, l, replog.Message{Type: replog.MsgLearn, From: 4, Entries: []replog.Entry{fresh}})
	step(t, l, replog.Message{Type: replog.MsgLearn, From: 5, Entries: []replog.Entry{fresh}})
	ready(t, l, st)
	l.Tick()
	if got := notified(ready(t, l, st)); !slices.Equal(got, []uint64{10}) {
		t.Errorf("after a quorum of votes for slot 10, proposer 1 was told %v, want [10]", got)
	}
}
