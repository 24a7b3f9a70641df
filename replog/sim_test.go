package replog_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// The simulation drives a whole cluster (3 proposers, 3 acceptors, 2
// learners) in one goroutine through an in-memory network that drops,
// duplicates, delays and reorders messages and partitions nodes, while nodes
// crash and restart with their storage kept. After every schedule it checks
// the invariants. A failure prints the seed; -seed N replays that schedule.

var (
	flagSeed      = flag.Uint64("seed", 0, "replay one simulation schedule")
	flagSchedules = flag.Int("schedules", 0, "number of simulation schedules (default: 2000, 200 with -short or -race)")
	flagVerbose   = flag.Bool("simv", false, "log every simulation event")
	flagSeedBase  = flag.Uint64("seedbase", 0, "run seeds seedbase+1 .. seedbase+schedules (to split a long run)")
)

const (
	stepsPerTick = 10
	chaosTicks   = 300 // faults happen during this many ticks
	calmTicks    = 400 // then the network heals and nothing fails
)

var debugSlot = -1

var (
	proposerIDs = []replog.ID{1, 2, 3}
	acceptorIDs = []replog.ID{4, 5, 6}
	learnerIDs  = []replog.ID{7, 8}
)

type envelope struct {
	at  int
	seq int
	m   replog.Message
}

type simNode struct {
	id      replog.ID
	node    replog.Node
	prop    *replog.Proposer
	learner *replog.Learner
	synced  uint64 // what a lazily syncing learner will report durable next tick
	down    bool

	pstore *storage.MemProposer
	astore *storage.MemAcceptor
	lstore *storage.MemLearner
}

type request struct {
	id       string
	value    string
	sentAt   int
	attempts int
	acked    bool
}

type sim struct {
	t       testing.TB
	seed    uint64
	rng     *rand.Rand
	now     int
	seq     int
	quorum  int
	nodes   map[replog.ID]*simNode
	order   []replog.ID
	inbox   []envelope
	group   map[replog.ID]int // partition group; messages cross only within a group
	drop    float64
	dup     float64
	delay   int
	reqs    []*request
	pending []*request // not acked yet
	acks    map[string]uint64
	chosen  map[uint64]replog.Command // every slot ever reported chosen, by anyone
	nextReq int
	failed  string
	// acceptNew is false at the end of the calm period, so the learners can
	// settle before the logs are compared.
	acceptNew bool
	logf      func(format string, args ...any)
}

func newSim(t testing.TB, seed uint64, quorum int) *sim {
	s := &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 1)), quorum: quorum,
		nodes: map[replog.ID]*simNode{}, group: map[replog.ID]int{},
		acks: map[string]uint64{}, chosen: map[uint64]replog.Command{}}
	s.acceptNew = true
	s.logf = func(string, ...any) {}
	if *flagVerbose {
		s.logf = func(f string, a ...any) { t.Logf("[%5d] "+f, append([]any{s.now}, a...)...) }
	}
	s.drop = s.rng.Float64() * 0.2
	s.dup = s.rng.Float64() * 0.1
	s.delay = 1 + s.rng.IntN(3*stepsPerTick)
	for _, id := range slices.Concat(proposerIDs, acceptorIDs, learnerIDs) {
		n := &simNode{id: id}
		switch {
		case slices.Contains(proposerIDs, id):
			n.pstore = storage.NewMemProposer()
		case slices.Contains(acceptorIDs, id):
			n.astore = storage.NewMemAcceptor()
		default:
			n.lstore = storage.NewMemLearner()
		}
		s.nodes[id] = n
		s.order = append(s.order, id)
		s.start(n)
	}
	return s
}

func (s *sim) config(id replog.ID) replog.Config {
	c := replog.Config{ID: id, Proposers: proposerIDs, Acceptors: acceptorIDs, Learners: learnerIDs,
		Notify: proposerIDs, Window: 8, MaxBatch: 3, CatchupLimit: 5, MaxQueue: 64, CompactEvery: 3,
		Rand: rand.New(rand.NewPCG(s.seed, uint64(id)+uint64(s.now)<<8))}
	if s.quorum > 0 {
		replog.SetQuorum(&c, s.quorum)
	}
	// Half the schedules run learners that fsync lazily: they report as
	// durable, one tick late, what they had stored a tick before.
	c.LazySync = s.seed%2 == 0
	return c
}

// start (re)creates a node from its storage: all volatile state is lost.
func (s *sim) start(n *simNode) {
	var err error
	cfg := s.config(n.id)
	switch {
	case n.pstore != nil:
		n.prop, err = replog.NewProposer(cfg, n.pstore)
		n.node = n.prop
	case n.astore != nil:
		n.node, err = replog.NewAcceptor(cfg, n.astore)
	default:
		n.learner, err = replog.NewLearner(cfg, n.lstore)
		n.node = n.learner
	}
	if err != nil {
		s.t.Fatalf("seed %d: start node %d: %v", s.seed, n.id, err)
	}
	n.down = false
}

func (s *sim) fail(format string, args ...any) {
	if s.failed == "" {
		s.failed = fmt.Sprintf(format, args...)
	}
}

// deliver queues m unless the network loses it.
func (s *sim) deliver(m replog.Message, chaos bool) {
	copies := 1
	if chaos {
		if s.rng.Float64() < s.drop {
			return
		}
		if s.rng.Float64() < s.dup {
			copies = 2
		}
	}
	for range copies {
		s.seq++
		at := s.now + 1
		if chaos {
			at += s.rng.IntN(s.delay)
		} else {
			at += s.rng.IntN(stepsPerTick)
		}
		s.inbox = append(s.inbox, envelope{at: at, seq: s.seq, m: m})
	}
}

// handle runs one node's Ready: persist, then send, then apply.
func (s *sim) handle(n *simNode, chaos bool) {
	for n.node.HasReady() {
		rd := n.node.Ready()
		var err error
		switch {
		case n.pstore != nil && rd.HardState.Round > 0:
			err = n.pstore.SetRound(rd.HardState.Round)
		case n.astore != nil:
			err = n.astore.Save(rd.HardState.Promised, rd.Accepted)
			if err == nil && rd.Compact > 0 {
				err = n.astore.Compact(rd.Compact)
			}
		case n.lstore != nil && len(rd.Chosen) > 0:
			err = n.lstore.Append(rd.Chosen)
		}
		if err != nil {
			s.t.Fatalf("seed %d: node %d persist: %v", s.seed, n.id, err)
		}
		for _, m := range rd.Messages {
			if debugSlot >= 0 {
				for _, e := range m.Entries {
					if e.Slot == uint64(debugSlot) {
						s.logf("%v %d->%d b=%d commit=%d e=%+v", m.Type, m.From, m.To, m.Ballot, m.Commit, e)
					}
				}
				for _, sl := range m.Slots {
					if sl == uint64(debugSlot) {
						s.logf("%v %d->%d b=%d", m.Type, m.From, m.To, m.Ballot)
					}
				}
				if m.Type == replog.MsgPromise || m.Type == replog.MsgNack || m.Type == replog.MsgPrepare {
					s.logf("%v %d->%d b=%d commit=%d slot=%d n=%d", m.Type, m.From, m.To, m.Ballot, m.Commit, m.Slot, len(m.Entries))
				}
			}
			s.deliver(m, chaos)
		}
		for _, ce := range rd.Chosen {
			s.observe(n.id, ce)
		}
		for _, ce := range rd.Applied {
			s.observe(n.id, ce)
		}
		for _, r := range rd.Results {
			s.result(n.id, r)
		}
		n.node.Advance()
	}
}

func (s *sim) observe(from replog.ID, ce replog.ChosenEntry) {
	if prev, ok := s.chosen[ce.Slot]; ok && prev != ce.Command {
		s.fail("slot %d chosen twice: %+v, then %+v (seen by node %d)", ce.Slot, prev, ce.Command, from)
	}
	s.chosen[ce.Slot] = ce.Command
}

func (s *sim) result(from replog.ID, r replog.Result) {
	if r.Err != nil {
		return // the client retries on its own schedule
	}
	if prev, ok := s.acks[r.RequestID]; ok && prev != r.Slot {
		s.fail("request %s acknowledged at slot %d and then at slot %d", r.RequestID, prev, r.Slot)
	}
	s.logf("ack %s slot %d from %d", r.RequestID, r.Slot, from)
	s.acks[r.RequestID] = r.Slot
}

// client sends new requests and retries unacknowledged ones with the same
// request id, to a random proposer; when !newOK it sends nothing (the
// cluster settles before the logs are compared).
func (s *sim) client(newOK bool) {
	if newOK && len(s.pending) < 6 && s.rng.IntN(3) == 0 {
		s.nextReq++
		r := &request{id: fmt.Sprintf("c-%d", s.nextReq), value: fmt.Sprintf("v%d", s.nextReq), sentAt: -1 << 30}
		s.reqs = append(s.reqs, r)
		s.pending = append(s.pending, r)
	}
	keep := s.pending[:0]
	for _, r := range s.pending {
		if _, ok := s.acks[r.id]; ok {
			continue
		}
		keep = append(keep, r)
		if !newOK || s.now-r.sentAt < 15*stepsPerTick {
			continue
		}
		p := s.nodes[proposerIDs[s.rng.IntN(len(proposerIDs))]]
		if p.down {
			continue
		}
		r.sentAt, r.attempts = s.now, r.attempts+1
		err := p.prop.Propose(replog.Command{ClientID: 9, RequestID: r.id, Value: r.value})
		if err != nil {
			r.sentAt -= 10 * stepsPerTick // not the leader: try another one soon
		}
		s.handle(p, true)
	}
	s.pending = keep
}

// chaos applies one random fault, or heals one.
func (s *sim) chaos() {
	switch k := s.rng.IntN(100); {
	case k < 3: // crash a node
		n := s.nodes[s.order[s.rng.IntN(len(s.order))]]
		if !n.down {
			s.logf("crash %d", n.id)
			n.down = true
		}
	case k < 8: // restart a crashed node
		for _, id := range s.order {
			if n := s.nodes[id]; n.down {
				s.logf("restart %d", id)
				s.start(n)
				break
			}
		}
	case k < 10: // a new partition
		for _, id := range s.order {
			s.group[id] = s.rng.IntN(2)
		}
		s.logf("partition %v", s.group)
	case k < 14: // heal
		clear(s.group)
	case k < 15: // force an election somewhere
		n := s.nodes[proposerIDs[s.rng.IntN(len(proposerIDs))]]
		if !n.down {
			n.prop.Campaign()
		}
	}
}

func (s *sim) step(chaos bool) {
	s.now++
	// Deliver the due messages in a random order.
	var due, later []envelope
	for _, e := range s.inbox {
		if e.at <= s.now {
			due = append(due, e)
		} else {
			later = append(later, e)
		}
	}
	s.inbox = later
	s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, e := range due {
		n := s.nodes[e.m.To]
		if n == nil || n.down || s.group[e.m.From] != s.group[e.m.To] {
			continue
		}
		if err := n.node.Step(e.m); err != nil {
			s.t.Fatalf("seed %d: node %d step: %v", s.seed, n.id, err)
		}
		s.handle(n, chaos)
	}
	if s.now%stepsPerTick == 0 {
		for _, id := range s.order {
			if n := s.nodes[id]; !n.down {
				if n.learner != nil {
					n.learner.Synced(n.synced)
					n.synced = n.learner.Commit()
				}
				n.node.Tick()
				s.handle(n, chaos)
			}
		}
		if chaos {
			s.chaos()
		}
	}
	s.client(s.acceptNew)
}

// run plays the schedule and returns the first violated invariant ("" if none).
func (s *sim) run() (failure string) {
	defer func() {
		if r := recover(); r != nil {
			failure = fmt.Sprintf("panic: %v", r)
		}
	}()
	for s.now < chaosTicks*stepsPerTick && s.failed == "" {
		s.step(true)
	}
	// Heal: everyone up, one network.
	clear(s.group)
	for _, id := range s.order {
		if n := s.nodes[id]; n.down {
			s.start(n)
		}
	}
	healed := s.now
	acksAtHeal := len(s.acks)
	for s.now < healed+calmTicks*stepsPerTick && s.failed == "" {
		s.acceptNew = s.now < healed+(calmTicks-100)*stepsPerTick
		s.step(false)
	}
	if s.failed != "" {
		return s.failed
	}
	if len(s.acks) == acksAtHeal {
		return fmt.Sprintf("liveness: no request acknowledged in %d ticks after the network healed", calmTicks)
	}
	return s.checkLogs()
}

// checkLogs checks the learners' logs after the calm period: identical, every
// acknowledged request at its slot as the first copy, each request once.
func (s *sim) checkLogs() string {
	var logs [][]replog.ChosenEntry
	for _, id := range learnerIDs {
		n := s.nodes[id]
		c, _ := n.lstore.Commit()
		entries, err := n.lstore.Chosen(0, int(c)+1)
		if err != nil {
			return fmt.Sprintf("learner %d: %v", id, err)
		}
		logs = append(logs, entries)
	}
	if len(logs[0]) != len(logs[1]) {
		return fmt.Sprintf("learners did not converge: %d and %d slots", len(logs[0]), len(logs[1]))
	}
	first := map[string]uint64{}
	for i, e := range logs[0] {
		if e != logs[1][i] {
			return fmt.Sprintf("learners differ at slot %d: %+v and %+v", i, e, logs[1][i])
		}
		if e.Slot != uint64(i) {
			return fmt.Sprintf("log slot %d holds slot %d", i, e.Slot)
		}
		if e.Command.IsNoop() {
			continue
		}
		f, seen := first[e.Command.RequestID]
		if !seen {
			first[e.Command.RequestID] = e.Slot
			f = e.Slot
		}
		if e.Dup != seen || e.FirstSlot != f {
			return fmt.Sprintf("slot %d: dup=%v first=%d, want dup=%v first=%d", e.Slot, e.Dup, e.FirstSlot, seen, f)
		}
	}
	ids := make([]string, 0, len(s.acks))
	for id := range s.acks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		slot := s.acks[id]
		if slot >= uint64(len(logs[0])) {
			return fmt.Sprintf("acknowledged %s at slot %d, but the log has %d slots", id, slot, len(logs[0]))
		}
		if got := logs[0][slot]; got.Command.RequestID != id || got.Dup {
			return fmt.Sprintf("acknowledged %s at slot %d, but the log has %+v there", id, slot, got)
		}
	}
	return ""
}

func schedules(t *testing.T) int {
	switch {
	case *flagSchedules > 0:
		return *flagSchedules
	case testing.Short(), raceEnabled:
		return 200
	}
	return 2000
}

func TestSimulation(t *testing.T) {
	if *flagSeed != 0 {
		if f := newSim(t, *flagSeed, 0).run(); f != "" {
			t.Fatalf("seed %d: %s", *flagSeed, f)
		}
		return
	}
	n := schedules(t)
	for i := range n {
		seed := *flagSeedBase + uint64(i) + 1
		if f := newSim(t, seed, 0).run(); f != "" {
			t.Fatalf("seed %d: %s\nreplay: go test ./replog -run TestSimulation -seed %d -simv", seed, f, seed)
		}
	}
}

// TestSimulationCatchesBrokenQuorum breaks the quorum rule (n/2 acceptors
// instead of a majority) and expects the simulation to find a violation.
func TestSimulationCatchesBrokenQuorum(t *testing.T) {
	for seed := uint64(1); seed <= 500; seed++ {
		if f := newSim(t, seed, len(acceptorIDs)/2).run(); f != "" {
			t.Logf("seed %d found the broken quorum: %s", seed, f)
			return
		}
	}
	t.Fatal("500 schedules with a quorum of n/2 found no violation: the simulation is blind")
}
