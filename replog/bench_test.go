package replog_test

import (
	"strconv"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// cluster is a loss-free in-process cluster for benchmarks: messages are
// delivered in order and storage is in memory, so only the core is measured.
type cluster struct {
	nodes  map[replog.ID]replog.Node
	stores map[replog.ID]replogtest.Store
	leader *replog.Proposer
	queue  []replog.Message
	chosen int
}

// The benchmark's stores: replogtest's memory stores, or nullStore.
type (
	proposerStore interface {
		replog.ProposerStorage
		replogtest.Store
	}
	acceptorStore interface {
		replog.AcceptorStorage
		replogtest.Store
	}
	learnerStore interface {
		replog.LearnerStorage
		replogtest.Store
	}
)

// nullStore is storage that keeps nothing: it measures the core alone.
type nullStore struct{}

func (nullStore) Round() (uint64, error)                                     { return 0, nil }
func (nullStore) Promised() (replog.Ballot, error)                           { return 0, nil }
func (nullStore) Compacted() (uint64, error)                                 { return 0, nil }
func (nullStore) AcceptedBytes(uint64, int, int) ([]replog.Entry, error)     { return nil, nil }
func (nullStore) Commit() (uint64, error)                                    { return 0, nil }
func (nullStore) ChosenBytes(uint64, int, int) ([]replog.ChosenEntry, error) { return nil, nil }
func (nullStore) FirstSlot(string) (uint64, bool, error)                     { return 0, false, nil }
func (nullStore) Applied() (uint64, error)                                   { return 0, nil }
func (nullStore) Top() (uint64, error)                                       { return 0, nil }
func (nullStore) Rejoin() (uint64, error)                                    { return 0, nil }
func (nullStore) Save(*replog.Ready) error                                   { return nil }

func newCluster(tb testing.TB, mem bool) *cluster {
	c := &cluster{nodes: map[replog.ID]replog.Node{}, stores: map[replog.ID]replogtest.Store{}}
	cfg := func(id replog.ID) replog.Config {
		return replog.Config{ID: id, Proposers: []replog.ID{1}, Acceptors: []replog.ID{4, 5, 6},
			Learners: []replog.ID{7}, Notify: []replog.ID{1}}
	}
	var ps proposerStore = nullStore{}
	if mem {
		ps = replogtest.NewProposerStore()
	}
	p, err := replog.NewProposer(cfg(1), ps)
	if err != nil {
		tb.Fatal(err)
	}
	c.leader, c.nodes[1], c.stores[1] = p, p, ps
	for _, id := range []replog.ID{4, 5, 6} {
		var as acceptorStore = nullStore{}
		if mem {
			as = replogtest.NewAcceptorStore()
		}
		a, err := replog.NewAcceptor(cfg(id), as)
		if err != nil {
			tb.Fatal(err)
		}
		bootstrap(tb, a, cfg(id), as)
		c.nodes[id], c.stores[id] = a, as
	}
	var ls learnerStore = nullStore{}
	if mem {
		ls = replogtest.NewLearnerStore()
	}
	l, err := replog.NewLearner(cfg(7), ls)
	if err != nil {
		tb.Fatal(err)
	}
	c.nodes[7], c.stores[7] = l, ls
	p.Campaign()
	c.pump(tb)
	if p.Status().State != replog.Leader {
		tb.Fatal("no leader")
	}
	return c
}

// pump delivers messages until the cluster is quiet.
func (c *cluster) pump(tb testing.TB) {
	c.drain(tb, c.leader, 1)
	for len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		n := c.nodes[m.To]
		if err := n.Step(m); err != nil {
			tb.Fatal(err)
		}
		c.drain(tb, n, m.To)
	}
	if len(c.queue) == 0 {
		c.queue = nil
	}
}

func (c *cluster) drain(tb testing.TB, n replog.Node, id replog.ID) {
	for n.HasReady() {
		rd := n.Ready()
		if err := c.stores[id].Save(&rd); err != nil {
			tb.Fatal(err)
		}
		c.queue = append(c.queue, rd.Messages...)
		if id == 1 {
			c.chosen += len(rd.Results)
		}
		n.Advance()
	}
}

// BenchmarkProposeToChosen measures the core alone (storage that keeps
// nothing): proposals in batches of 64 from propose to chosen (the leader's
// answer) and into the learner's log. Target: >= 500,000 slots/s on one core.
func BenchmarkProposeToChosen(b *testing.B) { benchPropose(b, false) }

// BenchmarkProposeToChosenMem is the same with the in-memory stores.
func BenchmarkProposeToChosenMem(b *testing.B) { benchPropose(b, true) }

func benchPropose(b *testing.B, mem bool) {
	c := newCluster(b, mem)
	const batch = 64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := i; j < i+batch && j < b.N; j++ {
			id := strconv.Itoa(j)
			if err := c.leader.Propose(replog.Command{ClientID: 9, RequestID: id, Value: "0123456789012345678901234567890123456789012345678901234567890123"}); err != nil {
				b.Fatal(err)
			}
		}
		c.pump(b)
	}
	b.StopTimer()
	if c.chosen != b.N {
		b.Fatalf("chosen %d of %d", c.chosen, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "slots/s")
}
