package replog_test

import (
	"fmt"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// dedupCluster is one leader (proposer 1, acceptors 4 and 5 answering by
// hand) and learner 7, which hears every accept from 4 and 5: enough to
// watch the dedup window on both sides of the log.
type dedupCluster struct {
	t       *testing.T
	cfg     replog.Config
	p       *replog.Proposer
	pst     *replogtest.ProposerStore
	b       replog.Ballot
	l       *replog.Learner
	lst     *replogtest.LearnerStore
	applied []replog.ChosenEntry // what the proposer applied, in order
}

func newDedupCluster(t *testing.T, window int, pst *replogtest.ProposerStore, lst *replogtest.LearnerStore) *dedupCluster {
	t.Helper()
	c := &dedupCluster{t: t, cfg: testConfig(1), pst: pst, lst: lst}
	c.cfg.DedupWindow = window
	var err error
	if c.p, err = replog.NewProposer(c.cfg, pst); err != nil {
		t.Fatal(err)
	}
	lcfg := testConfig(7)
	lcfg.DedupWindow = window
	if c.l, err = replog.NewLearner(lcfg, lst); err != nil {
		t.Fatal(err)
	}
	commit, _ := lst.Commit()
	c.b = leaderOf(t, c.p, pst, commit)
	c.ready()
	return c
}

// ready saves the proposer's Ready and returns its results.
func (c *dedupCluster) ready() []replog.Result {
	rd := ready(c.t, c.p, c.pst)
	c.applied = append(c.applied, rd.Applied...)
	return rd.Results
}

// write proposes command v and returns the slot the proposer answers: the
// acceptors accept whatever the leader sends, and the learner hears it.
func (c *dedupCluster) write(v string) uint64 {
	c.t.Helper()
	if err := c.p.Propose(cmd(v)); err != nil {
		c.t.Fatal(err)
	}
	rd := ready(c.t, c.p, c.pst)
	c.applied = append(c.applied, rd.Applied...)
	results := rd.Results
	for _, m := range rd.Messages {
		if m.Type != replog.MsgAccept || m.To != 4 || len(m.Entries) == 0 {
			continue
		}
		var slots []uint64
		for _, e := range m.Entries {
			slots = append(slots, e.Slot)
			e.Ballot = c.b
			for _, a := range []replog.ID{4, 5} {
				step(c.t, c.l, replog.Message{Type: replog.MsgLearn, From: a, To: 7, Ballot: c.b, Entries: []replog.Entry{e}})
			}
		}
		for _, a := range []replog.ID{4, 5} {
			step(c.t, c.p, replog.Message{Type: replog.MsgAccepted, From: a, To: 1, Ballot: c.b, Slots: slots})
		}
		results = append(results, c.ready()...)
	}
	ready(c.t, c.l, c.lst)
	if len(results) != 1 || results[0].Err != nil || results[0].RequestID != "r-"+v {
		c.t.Fatalf("write %s: results %+v, want one answer", v, results)
	}
	return results[0].Slot
}

// A retry inside the dedup window gets the slot of the first copy and takes
// no slot; one outside it gets a slot of its own, which proposer and learner
// both count as a first copy; and however many writes go by, the request
// indexes hold no more than the window.
func TestDedupWindow(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("stores_keep_requests=%v", keep), func(t *testing.T) { testDedupWindow(t, keep) })
	}
}

func testDedupWindow(t *testing.T, keep bool) {
	const window = 4
	pst, lst := replogtest.NewProposerStore(), replogtest.NewLearnerStore()
	if keep {
		pst.KeepRequests()
		lst.KeepRequests = true
	}
	c := newDedupCluster(t, window, pst, lst)
	if s := c.write("a"); s != 0 {
		t.Fatalf("a at slot %d, want 0", s)
	}
	c.write("b")
	c.write("c")
	// The log is 3 slots long: a retry would take slot 3, 3 slots after
	// the first copy, inside the window.
	if s := c.write("a"); s != 0 {
		t.Fatalf("retry of a inside the window answered slot %d, want 0", s)
	}
	if next := c.p.Status().NextSlot; next != 3 {
		t.Fatalf("the retry inside the window took a slot (next slot %d, want 3)", next)
	}
	c.write("d")
	// Now a retry would take slot 4, a whole window after slot 0.
	if s := c.write("a"); s != 4 {
		t.Fatalf("retry of a outside the window answered slot %d, want a new slot 4", s)
	}
	// Inside the window of its new first copy, it is a retry again.
	if s := c.write("a"); s != 4 {
		t.Fatalf("retry of a after its second first copy answered slot %d, want 4", s)
	}
	for i := range 200 {
		c.write(fmt.Sprint("x", i))
	}
	if n := c.pst.Requests(); n > window && !keep {
		t.Errorf("the proposer's applied index holds %d request IDs after 205 slots, window %d", n, window)
	}
	if n := c.lst.Requests(); n > window && !keep {
		t.Errorf("the learner's request index holds %d request IDs after 205 slots, window %d", n, window)
	}
	// Proposer and learner agree on every slot's dup flag.
	log, _ := c.lst.Chosen(0, 0)
	if len(log) != len(c.applied) {
		t.Fatalf("learner has %d slots, proposer applied %d", len(log), len(c.applied))
	}
	for i, e := range log {
		a := c.applied[i]
		if e.Slot != a.Slot || e.Dup != a.Dup || e.FirstSlot != a.FirstSlot {
			t.Errorf("slot %d: learner dup=%v first=%d, proposer dup=%v first=%d", e.Slot, e.Dup, e.FirstSlot, a.Dup, a.FirstSlot)
		}
		if e.Dup {
			t.Errorf("slot %d is a copy, but every retry here was answered without a slot", e.Slot)
		}
	}
	if !log[4].IsValue() || log[4].Command.RequestID != "r-a" {
		t.Errorf("slot 4 is %+v, want r-a as a value of its own", log[4])
	}
}

// A restarted proposer starts from its applied index, not slot 0, and still
// answers a retry inside the window with the first copy's slot.
func TestDedupWindowSurvivesRestart(t *testing.T) {
	const window = 8
	pst, lst := replogtest.NewProposerStore(), replogtest.NewLearnerStore()
	c := newDedupCluster(t, window, pst, lst)
	for i := range 50 {
		c.write(fmt.Sprint("x", i))
	}
	c = newDedupCluster(t, window, pst, lst) // restart, with the same stores
	if commit := c.p.Status().Commit; commit != 50 {
		t.Fatalf("restarted proposer starts at slot %d, want 50 (its applied index)", commit)
	}
	if s := c.write("x45"); s != 45 {
		t.Fatalf("retry of x45 after the restart answered slot %d, want 45", s)
	}
	if s := c.write("x10"); s != 50 {
		t.Fatalf("retry of x10 (40 slots back, window %d) answered slot %d, want a new slot 50", window, s)
	}
	if n := pst.Requests(); n > window {
		t.Errorf("applied index holds %d request IDs, window %d", n, window)
	}
}

// A dedup window past MaxDedupWindow is refused: a store's request index
// keeps only the low 32 bits of a window's slots.
func TestDedupWindowAtMostMax(t *testing.T) {
	for _, window := range []int{replog.MaxDedupWindow, replog.MaxDedupWindow + 1} {
		cfg := testConfig(7)
		cfg.DedupWindow = window
		_, err := replog.NewLearner(cfg, replogtest.NewLearnerStore())
		if (err == nil) != (window <= replog.MaxDedupWindow) {
			t.Errorf("DedupWindow %d: NewLearner: %v", window, err)
		}
	}
}
