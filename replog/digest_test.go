package replog_test

import (
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

func TestDigest(t *testing.T) {
	long := strings.Repeat("v", 64<<10)
	values := []string{"", "x", strings.Repeat("a", replog.DigestBytes-1), strings.Repeat("a", replog.DigestBytes),
		strings.Repeat("b", replog.DigestBytes), long, long[1:] + "w", long + "v"}
	seen := map[string]string{}
	for _, v := range values {
		c := replog.Command{ClientID: 3, RequestID: "r", Value: v}
		d := c.Digest()
		if d.ClientID != c.ClientID || d.RequestID != c.RequestID {
			t.Errorf("Digest of %.20q changed its IDs: %+v", v, d)
		}
		if len(v) < replog.DigestBytes && d.Value != v {
			t.Errorf("Digest of the short value %q is %q, want the value itself", v, d.Value)
		}
		if len(v) >= replog.DigestBytes && len(d.Value) != replog.DigestBytes {
			t.Errorf("Digest of a %d-byte value has %d bytes, want %d", len(v), len(d.Value), replog.DigestBytes)
		}
		if d != c.Digest() {
			t.Errorf("Digest of %.20q is not a function of it", v)
		}
		if other, ok := seen[d.Value]; ok {
			t.Errorf("values %.20q and %.20q have one digest", other, v)
		}
		seen[d.Value] = v
	}
	if !(replog.Command{}).Digest().IsNoop() {
		t.Error("the no-op's digest is not a no-op")
	}
}

// A learner sends proposers and client nodes digests, not values: with
// large values it would otherwise send each value to every one of them,
// and its queues and their inboxes held hundreds of MB (issue 13). The
// other learners still get the values.
func TestLearnerSendsDigestsButToLearners(t *testing.T) {
	cfg := testConfig(7)
	cfg.Notify = []replog.ID{1, 2, 3, 9}
	st := replogtest.NewLearnerStore()
	l, err := replog.NewLearner(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	big := replog.Command{ClientID: 1, RequestID: "r1", Value: strings.Repeat("v", 64<<10)}
	for _, a := range []replog.ID{4, 5} {
		step(t, l, replog.Message{Type: replog.MsgLearn, From: a, To: 7, Ballot: 101,
			Entries: []replog.Entry{{Slot: 0, Ballot: 101, Command: big}}})
	}
	ready(t, l, st)
	l.Tick()
	rd := ready(t, l, st)
	want := []replog.Entry{{Slot: 0, Command: big.Digest()}}
	told := map[replog.ID]bool{}
	for _, m := range rd.Messages {
		if m.Type != replog.MsgChosen {
			continue
		}
		told[m.To] = true
		if !m.Digests || len(m.Entries) != 1 || m.Entries[0] != want[0] {
			t.Errorf("notice to %d: digests=%v, %d entries of %d bytes; want digests=true, 1 entry of %d bytes",
				m.To, m.Digests, len(m.Entries), entriesSize(m.Entries), want[0].Command.Size())
		}
	}
	if len(told) != len(cfg.Notify) {
		t.Errorf("notices went to %v, want %v", told, cfg.Notify)
	}

	for _, tc := range []struct {
		from    replog.ID
		digests bool
	}{{8, false}, {1, true}} {
		step(t, l, replog.Message{Type: replog.MsgCatchup, From: tc.from, To: 7})
		m := onlyMessage(t, ready(t, l, st), replog.MsgChosen)
		c := big
		if tc.digests {
			c = big.Digest()
		}
		if m.Digests != tc.digests || len(m.Entries) != 1 || m.Entries[0].Command != c {
			t.Errorf("catch-up answer to %d: digests=%v, %d entries of %d bytes; want digests=%v, 1 entry of %d bytes",
				tc.from, m.Digests, len(m.Entries), entriesSize(m.Entries), tc.digests, c.Size())
		}
	}
}

// A proposer that learns a slot from digests still checks that no slot is
// chosen twice: a second notice with another value's digest panics.
func TestProposerChecksDigests(t *testing.T) {
	pst := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(1), pst)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 100)
	notice := func(value string) replog.Message {
		c := replog.Command{RequestID: "r1", Value: value}.Digest()
		return replog.Message{Type: replog.MsgChosen, From: 7, To: 1, Commit: 1, Digests: true,
			Entries: []replog.Entry{{Slot: 1, Command: c}}} // slot 0 still open
	}
	step(t, p, notice(long))
	step(t, p, notice(long)) // the same notice again is fine
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "chosen twice") {
			t.Fatalf("a second value's digest at slot 1: recovered %v, want a panic about a slot chosen twice", r)
		}
	}()
	step(t, p, notice(strings.Repeat("b", 100)))
}

func entriesSize(entries []replog.Entry) int {
	n := 0
	for _, e := range entries {
		n += e.Command.Size()
	}
	return n
}
