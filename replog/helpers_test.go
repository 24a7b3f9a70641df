package replog_test

import (
	"slices"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// Helpers of the unit tests that drive one role by hand.

func testConfig(id replog.ID) replog.Config {
	return replog.Config{ID: id, Proposers: []replog.ID{1, 2, 3}, Acceptors: []replog.ID{4, 5, 6},
		Learners: []replog.ID{7, 8}}
}

func newAcceptor(t *testing.T, s *replogtest.AcceptorStore) *replog.Acceptor {
	t.Helper()
	a, err := replog.NewAcceptor(testConfig(4), s)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap(t, a, testConfig(4), s)
	return a
}

// bootstrap answers a new acceptor's rejoin question as the proposers and
// the other acceptors of a new cluster would (no history), so it votes at
// once, and saves the outcome in store.
func bootstrap(t testing.TB, a *replog.Acceptor, cfg replog.Config, store replogtest.Store) {
	t.Helper()
	if a.Voting() {
		return
	}
	for _, id := range slices.Concat(cfg.Proposers, cfg.Acceptors) {
		if err := a.Step(replog.Message{Type: replog.MsgRejoinState, From: id}); err != nil {
			t.Fatal(err)
		}
	}
	if a.HasReady() {
		rd := a.Ready()
		if err := store.Save(&rd); err != nil {
			t.Fatal(err)
		}
		a.Advance()
	}
	if !a.Voting() {
		t.Fatal("a new acceptor does not vote after a new cluster's answers")
	}
}

// ready takes a node's Ready, saves it into store and advances.
func ready(t *testing.T, n replog.Node, store replogtest.Store) replog.Ready {
	t.Helper()
	rd := n.Ready()
	if err := store.Save(&rd); err != nil {
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

func cmd(v string) replog.Command { return replog.Command{ClientID: 9, RequestID: "r-" + v, Value: v} }
