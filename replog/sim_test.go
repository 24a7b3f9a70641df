package replog_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
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

// debugSlot, when set, makes -simv log every message about that slot (and
// every prepare, promise, nack and rejoin state).
var debugSlot = -1

var (
	proposerIDs = []replog.ID{1, 2, 3}
	acceptorIDs = []replog.ID{4, 5, 6}
	learnerIDs  = []replog.ID{7, 8}
)

type simNode struct {
	id      replog.ID
	node    replog.Node
	prop    *replog.Proposer
	learner *replog.Learner
	synced  uint64        // what a lazily syncing learner will report durable next tick
	ballot  replog.Ballot // the highest ballot this proposer used, in any life
	durable uint64        // what it reported durable last (a power loss keeps that much)
	down    bool

	store  replogtest.Store // the one of pstore, astore and lstore that is set
	pstore *replogtest.ProposerStore
	astore *replogtest.AcceptorStore
	lstore *replogtest.LearnerStore
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
	quorum  int
	nodes   map[replog.ID]*simNode
	order   []replog.ID
	net     *replogtest.Network
	drop    float64
	dup     float64
	delay   int
	reqs    []*request
	pending []*request // not acked yet
	acks    map[string]uint64
	chosen  map[uint64]replog.Command // every slot ever reported chosen by a learner
	applied map[uint64]replog.Command // every slot ever applied by a proposer (values digested)
	values  map[string]string         // request → its value
	// ackTop is one past the highest slot acknowledged so far; a
	// linearizable read started now must get an Index at least this high.
	ackTop  uint64
	readSeq uint64
	reads   map[uint64]uint64 // read ctx → the ackTop when it started
	readsOK int               // reads answered with an index, all checked
	// period and phase give every node its own tick rate (clock skew):
	// a node ticks when (now+phase) % period == 0.
	period, phase map[replog.ID]int
	nextReq       int
	failed        string
	// acceptNew is false at the end of the calm period, so the learners can
	// settle before the logs are compared.
	acceptNew bool
	// faults makes storage reads fail now and then (during the chaos).
	faults bool
	// noRejoin turns the acceptors' rejoin rule off (to show the lost
	// disks the chaos makes would break safety without it).
	noRejoin bool
	// compactChosen breaks the compaction rule (to show the simulation
	// catches compaction of the last durable copy of a slot).
	compactChosen bool
	logf          func(format string, args ...any)
}

func newSim(t testing.TB, seed uint64, quorum int) *sim {
	s := &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 1)), quorum: quorum,
		nodes: map[replog.ID]*simNode{},
		acks:  map[string]uint64{}, chosen: map[uint64]replog.Command{}, applied: map[uint64]replog.Command{}, values: map[string]string{},
		reads: map[uint64]uint64{}, period: map[replog.ID]int{}, phase: map[replog.ID]int{}}
	s.acceptNew = true
	s.logf = func(string, ...any) {}
	if *flagVerbose {
		s.logf = func(f string, a ...any) { t.Logf("[%5d] "+f, append([]any{s.now}, a...)...) }
	}
	s.drop = s.rng.Float64() * 0.2
	s.dup = s.rng.Float64() * 0.1
	s.delay = 1 + s.rng.IntN(3*stepsPerTick)
	s.net = replogtest.NewNetwork(s.rng)
	s.net.Reorder = true
	s.net.MaxBytes = simMaxMsgBytes
	skew := s.rng.IntN(3) // up to ±2 steps per tick of stepsPerTick
	for _, id := range slices.Concat(proposerIDs, acceptorIDs, learnerIDs) {
		s.period[id] = stepsPerTick - skew + s.rng.IntN(2*skew+1)
		s.phase[id] = s.rng.IntN(stepsPerTick)
		n := &simNode{id: id}
		switch {
		case slices.Contains(proposerIDs, id):
			n.pstore = replogtest.NewProposerStore()
		case slices.Contains(acceptorIDs, id):
			n.astore = replogtest.NewAcceptorStore()
		default:
			n.lstore = replogtest.NewLearnerStore()
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
		// Byte bounds small enough that messages, the window and the queue
		// meet them (a command here is about 34 bytes).
		MaxMsgBytes: simMaxMsgBytes, MaxInflightBytes: 200, MaxQueueBytes: 1000,
		Rand: rand.New(rand.NewPCG(s.seed, uint64(id)+uint64(s.now)<<8))}
	if s.quorum > 0 {
		replog.SetQuorum(&c, s.quorum)
	}
	if s.noRejoin {
		replog.SetNoRejoin(&c)
	}
	if s.compactChosen {
		replog.SetCompactChosen(&c)
	}
	// Learners that are down (or cut off) for a while stop holding
	// compaction back, and catch up from the other learner when they
	// return: a silence of 10 to 70 ticks, by seed.
	c.LearnerSilenceTicks = 10 + int(s.seed/4%4)*20
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
		n.store = n.pstore
		n.prop, err = replog.NewProposer(cfg, faultyProposer{n.pstore, s})
		n.node = n.prop
		if err == nil && n.prop.Status().Round < n.ballot.Round() {
			s.fail("proposer %d restarted at round %d; it used ballot %d before", n.id, n.prop.Status().Round, n.ballot)
		}
	case n.astore != nil:
		n.store = n.astore
		n.node, err = replog.NewAcceptor(cfg, faultyAcceptor{n.astore, s})
	default:
		n.store = n.lstore
		n.learner, err = replog.NewLearner(cfg, faultyLearner{n.lstore, s})
		n.node = n.learner
	}
	if err != nil {
		s.stopped(n, err) // a read error at start: the node stays down
		return
	}
	n.down = false
}

// errDisk is the read error the simulation's storage returns now and then.
var errDisk = errors.New("simulated disk read error")

// fault reports whether this storage read fails: rarely, during the chaos.
func (s *sim) fault() error {
	if s.faults && s.rng.IntN(5000) == 0 {
		return errDisk
	}
	return nil
}

// stopped takes a node whose storage failed out of the protocol, as the
// server's driver does (it restarts later, like a crashed node).
func (s *sim) stopped(n *simNode, err error) {
	if !errors.Is(err, errDisk) {
		s.t.Fatalf("seed %d: node %d: %v", s.seed, n.id, err)
	}
	s.logf("node %d stopped: %v", n.id, err)
	n.down = true
	// The process stops: a lazily syncing learner's unsynced tail is gone,
	// as a BufferedLearner's buffer is (LazySync: storage holds only
	// durable slots at a learner's start).
	s.powerLoss(n)
}

// The simulation's stores: the memory stores, whose reads fail now and then.
type (
	faultyProposer struct {
		*replogtest.ProposerStore
		s *sim
	}
	faultyAcceptor struct {
		*replogtest.AcceptorStore
		s *sim
	}
	faultyLearner struct {
		*replogtest.LearnerStore
		s *sim
	}
)

func (f faultyProposer) Round() (uint64, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.ProposerStore.Round()
}

func (f faultyProposer) Applied() (uint64, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.ProposerStore.Applied()
}

func (f faultyProposer) FirstSlot(r string) (uint64, bool, error) {
	if err := f.s.fault(); err != nil {
		return 0, false, err
	}
	return f.ProposerStore.FirstSlot(r)
}

func (f faultyAcceptor) Promised() (replog.Ballot, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.AcceptorStore.Promised()
}

func (f faultyAcceptor) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	if err := f.s.fault(); err != nil {
		return nil, err
	}
	return f.AcceptorStore.AcceptedBytes(from, limit, maxBytes)
}

func (f faultyAcceptor) Compacted() (uint64, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.AcceptorStore.Compacted()
}

func (f faultyAcceptor) Commit() (uint64, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.AcceptorStore.Commit()
}

func (f faultyLearner) Commit() (uint64, error) {
	if err := f.s.fault(); err != nil {
		return 0, err
	}
	return f.LearnerStore.Commit()
}

func (f faultyLearner) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	if err := f.s.fault(); err != nil {
		return nil, err
	}
	return f.LearnerStore.ChosenBytes(from, limit, maxBytes)
}

func (f faultyLearner) FirstSlot(r string) (uint64, bool, error) {
	if err := f.s.fault(); err != nil {
		return 0, false, err
	}
	return f.LearnerStore.FirstSlot(r)
}

// powerLoss is what a crash does to a lazily syncing learner's storage: the
// slots it stored after the last point it reported durable (Synced) are
// lost.
func (s *sim) powerLoss(n *simNode) {
	if n.lstore == nil || !s.config(n.id).LazySync {
		return
	}
	n.lstore, n.synced = n.lstore.Keep(n.durable), n.durable
	kept, _ := n.lstore.Commit()
	s.logf("power loss: learner %d keeps %d slots", n.id, kept)
}

func (s *sim) fail(format string, args ...any) {
	if s.failed == "" {
		s.failed = fmt.Sprintf(format, args...)
	}
}

// simMaxMsgBytes is the simulation's Config.MaxMsgBytes; the network
// checks every message keeps to it (one entry may go over alone).
const simMaxMsgBytes = 100

// deliver puts m in flight unless the network loses it: with chaos it
// drops, duplicates and delays, without it only delays a little.
func (s *sim) deliver(m replog.Message, chaos bool) {
	if chaos {
		s.net.Drop, s.net.Dup, s.net.Delay = s.drop, s.dup, s.delay
	} else {
		s.net.Drop, s.net.Dup, s.net.Delay = 0, 0, stepsPerTick
	}
	if err := s.net.Send(m); err != nil {
		s.fail("%v", err)
	}
}

// handle runs one node's Ready: persist, then send, then apply.
func (s *sim) handle(n *simNode, chaos bool) {
	for !n.down && n.node.HasReady() {
		rd := n.node.Ready()
		if err := n.store.Save(&rd); err != nil {
			s.t.Fatalf("seed %d: node %d persist: %v", s.seed, n.id, err)
		}
		for _, m := range rd.Messages {
			if n.pstore != nil && (m.Type == replog.MsgPrepare || m.Type == replog.MsgAccept) {
				n.ballot = max(n.ballot, m.Ballot)
			}
			if debugSlot >= 0 && (mentions(m, uint64(debugSlot)) || m.Type == replog.MsgRejoinState ||
				m.Type == replog.MsgPromise || m.Type == replog.MsgNack || m.Type == replog.MsgPrepare) {
				s.logf("%s", replogtest.DescribeMessage(m))
			}
			s.deliver(m, chaos)
		}
		for _, ce := range rd.Chosen {
			s.observe(n.id, ce)
		}
		for _, ce := range rd.Applied {
			s.observeApplied(n.id, ce)
		}
		for _, r := range rd.Results {
			s.result(n.id, r)
		}
		for _, rs := range rd.ReadStates {
			s.readState(n.id, rs)
		}
		n.node.Advance()
	}
}

// mentions reports whether m carries slot in its entries or slots.
func mentions(m replog.Message, slot uint64) bool {
	return slices.Contains(m.Slots, slot) || slices.ContainsFunc(m.Entries, func(e replog.Entry) bool { return e.Slot == slot })
}

// impostor returns a node whose role never sends m: a copy of m from it
// must change nothing (only acceptors vote, only learners send chosen
// entries, only proposers heartbeat).
func (s *sim) impostor(m replog.Message) replog.ID {
	var wrong []replog.ID
	switch m.Type {
	case replog.MsgLearn, replog.MsgPromise, replog.MsgAccepted, replog.MsgNack:
		wrong = slices.Concat(proposerIDs, learnerIDs)
	case replog.MsgChosen:
		wrong = slices.Concat(proposerIDs, acceptorIDs)
	case replog.MsgHeartbeat:
		wrong = slices.Concat(acceptorIDs, learnerIDs)
	default:
		return m.From // acceptors answer anyone's prepares and accepts
	}
	return wrong[s.rng.IntN(len(wrong))]
}

// checkLeaders checks that no two proposers lead at one ballot.
func (s *sim) checkLeaders() {
	leaders := map[replog.Ballot]replog.ID{}
	for _, id := range proposerIDs {
		n := s.nodes[id]
		if n.down {
			continue
		}
		if st := n.prop.Status(); st.State == replog.Leader {
			if other, ok := leaders[st.Ballot]; ok {
				s.fail("proposers %d and %d both lead at ballot %d", other, id, st.Ballot)
			}
			leaders[st.Ballot] = id
		}
	}
}

// readState checks a linearizable read's answer: every write acknowledged
// before the read started is below its Index.
func (s *sim) readState(from replog.ID, rs replog.ReadState) {
	need, ok := s.reads[rs.Ctx]
	if !ok {
		s.fail("node %d answered read %d, which nobody asked or which was answered before", from, rs.Ctx)
		return
	}
	delete(s.reads, rs.Ctx)
	if rs.Err != nil {
		return
	}
	if rs.Index < need {
		s.fail("linearizable read %d answered with index %d by node %d, but slot %d was acknowledged before it started",
			rs.Ctx, rs.Index, from, need-1)
	}
	s.readsOK++
}

func (s *sim) observe(from replog.ID, ce replog.ChosenEntry) {
	if prev, ok := s.chosen[ce.Slot]; ok && prev != ce.Command {
		s.fail("slot %d chosen twice: %+v, then %+v (seen by node %d)", ce.Slot, prev, ce.Command, from)
	}
	if prev, ok := s.applied[ce.Slot]; ok && prev != ce.Command.Digest() {
		s.fail("slot %d chosen twice: %+v applied, then %+v (seen by node %d)", ce.Slot, prev, ce.Command, from)
	}
	s.chosen[ce.Slot] = ce.Command
}

// observeApplied checks a proposer's applied entry, whose value is a
// digest, against what every node reported.
func (s *sim) observeApplied(from replog.ID, ce replog.ChosenEntry) {
	if prev, ok := s.chosen[ce.Slot]; ok && prev.Digest() != ce.Command {
		s.fail("slot %d chosen twice: %+v, then %+v applied (by node %d)", ce.Slot, prev, ce.Command, from)
	}
	if prev, ok := s.applied[ce.Slot]; ok && prev != ce.Command {
		s.fail("slot %d applied twice: %+v, then %+v (by node %d)", ce.Slot, prev, ce.Command, from)
	}
	s.applied[ce.Slot] = ce.Command
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
	s.ackTop = max(s.ackTop, r.Slot+1)
}

// client sends new requests and retries unacknowledged ones with the same
// request id, to a random proposer; when !newOK it sends nothing (the
// cluster settles before the logs are compared).
func (s *sim) client(newOK bool) {
	if newOK && len(s.pending) < 6 && s.rng.IntN(3) == 0 {
		s.nextReq++
		r := &request{id: fmt.Sprintf("c-%d", s.nextReq), value: fmt.Sprintf("v%d", s.nextReq), sentAt: -1 << 30}
		s.values[r.id] = r.value
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
		if errors.Is(err, errDisk) {
			s.stopped(p, err)
			continue
		}
		if err != nil {
			r.sentAt -= 10 * stepsPerTick // not the leader: try another one soon
		}
		s.handle(p, true)
	}
	s.pending = keep
	// A linearizable read now and then, at a random proposer.
	if newOK && s.rng.IntN(20) == 0 {
		if p := s.nodes[proposerIDs[s.rng.IntN(len(proposerIDs))]]; !p.down {
			s.readSeq++
			s.reads[s.readSeq] = s.ackTop
			p.prop.ReadIndex(s.readSeq)
			s.handle(p, true)
		}
	}
}

// chaos applies one random fault, or heals one.
func (s *sim) chaos() {
	switch k := s.rng.IntN(100); {
	case k < 3: // crash a node
		n := s.nodes[s.order[s.rng.IntN(len(s.order))]]
		if !n.down {
			s.logf("crash %d", n.id)
			n.down = true
			s.powerLoss(n)
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
		group := map[replog.ID]int{}
		for _, id := range s.order {
			group[id] = s.rng.IntN(2)
			s.net.SetGroup(id, group[id])
		}
		s.logf("partition %v", group)
	case k < 14: // heal
		s.net.Heal()
	case k < 15: // force an election somewhere
		n := s.nodes[proposerIDs[s.rng.IntN(len(proposerIDs))]]
		if !n.down {
			n.prop.Campaign()
		}
	case k < 17: // crash and restart at once: messages of the old life arrive in the new one
		n := s.nodes[s.order[s.rng.IntN(len(s.order))]]
		if !n.down {
			s.logf("quick restart %d", n.id)
			s.powerLoss(n)
			s.start(n)
		}
	case k < 18 && s.rng.IntN(2) == 0: // an acceptor loses its disk, while the others vote
		n := s.nodes[acceptorIDs[s.rng.IntN(len(acceptorIDs))]]
		for _, id := range acceptorIDs {
			if o := s.nodes[id]; o.down || !o.node.(*replog.Acceptor).Voting() {
				return // one lost disk at a time: two at once can lose a chosen value
			}
		}
		s.logf("disk lost %d", n.id)
		n.astore = replogtest.NewAcceptorStore()
		s.start(n)
	case k < 18: // gossip wrongly says the leader is dead somewhere
		n := s.nodes[proposerIDs[s.rng.IntN(len(proposerIDs))]]
		if !n.down {
			n.prop.CampaignUnforced()
		}
	case k < 20: // a copy of some message in flight, claiming a sender of the wrong role
		if s.net.Len() > 0 {
			i := s.rng.IntN(s.net.Len())
			s.net.Forge(i, s.impostor(s.net.InFlight(i)))
		}
	}
}

func (s *sim) step(chaos bool) {
	s.now++
	// Deliver the due messages in a random order (the network's clock
	// moves with the simulation's).
	due := s.net.Step()
	// Half the schedules step every due message of a node before handling
	// its Ready, as the server's driver does with what queued during an
	// fsync (server/driver.go); the others handle a Ready after each Step.
	batched := s.seed%4 >= 2
	var touched []*simNode
	for _, m := range due {
		n := s.nodes[m.To]
		if n == nil || n.down {
			continue
		}
		if err := n.node.Step(m); err != nil {
			s.stopped(n, err)
			continue
		}
		if !batched {
			s.handle(n, chaos)
		} else if !slices.Contains(touched, n) {
			touched = append(touched, n)
		}
	}
	for _, n := range touched {
		s.handle(n, chaos)
	}
	for _, id := range s.order {
		if (s.now+s.phase[id])%s.period[id] != 0 {
			continue
		}
		if n := s.nodes[id]; !n.down {
			if n.learner != nil {
				n.learner.Synced(n.synced)
				n.durable = max(n.durable, n.synced)
				n.synced = n.learner.Commit()
			}
			n.node.Tick()
			s.handle(n, chaos)
		}
	}
	if s.now%stepsPerTick == 0 {
		s.checkLeaders()
		if chaos {
			s.chaos()
		}
	}
	s.client(s.acceptNew)
	s.checkCompaction()
}

// checkCompaction checks, after every step, that no acceptor compacted
// away a slot no learner holds durably: every slot below an acceptor's
// compaction point is in at least one learner's durable log (what a
// crash of that learner keeps).
func (s *sim) checkCompaction() {
	var held uint64
	for _, id := range learnerIDs {
		n := s.nodes[id]
		d, _ := n.lstore.Commit()
		if s.config(id).LazySync {
			d = min(d, n.durable)
		}
		held = max(held, d)
	}
	for _, id := range acceptorIDs {
		if c, _ := s.nodes[id].astore.Compacted(); c > held {
			s.fail("acceptor %d compacted below slot %d, but the learners hold only %d slots durably: slots durable on no learner", id, c, held)
		}
	}
}

// run plays the schedule and returns the first violated invariant ("" if none).
func (s *sim) run() (failure string) {
	defer func() {
		if r := recover(); r != nil {
			failure = fmt.Sprintf("panic: %v", r)
		}
	}()
	s.faults = true
	for s.now < chaosTicks*stepsPerTick && s.failed == "" {
		s.step(true)
	}
	// Heal: everyone up, one network, no more disk errors.
	s.faults = false
	s.net.Heal()
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
	window := replog.DefaultConfig().DedupWindow
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
		// The dedup rule (SPEC §8.6, Config.DedupWindow): a copy of a
		// request counts only as far as the window from its first copy.
		f, seen := first[e.Command.RequestID]
		if seen && e.Slot-f >= uint64(window) {
			seen = false
		}
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
		if got := logs[0][slot]; got.Command.RequestID != id || got.Dup || got.Command.Value != s.values[id] {
			return fmt.Sprintf("acknowledged %s (value %q) at slot %d, but the log has %+v there", id, s.values[id], slot, got)
		}
	}
	return s.checkAcceptors(logs[0])
}

// checkAcceptors computes, from the acceptors' stored accepted entries,
// what is chosen now: a slot where a majority holds one ballot with one
// value. That value must be the learners' value there (by value, not only
// by request ID). A slot compacted away on some acceptors is checked only
// when the others still make a majority.
func (s *sim) checkAcceptors(log []replog.ChosenEntry) string {
	type vote struct {
		b replog.Ballot
		c replog.Command
	}
	tally := map[uint64]map[vote]int{}
	for _, id := range acceptorIDs {
		entries, err := s.nodes[id].astore.Accepted(0, 0)
		if err != nil {
			return fmt.Sprintf("acceptor %d: %v", id, err)
		}
		for _, e := range entries {
			if tally[e.Slot] == nil {
				tally[e.Slot] = map[vote]int{}
			}
			tally[e.Slot][vote{e.Ballot, e.Command}]++
		}
	}
	majority := len(acceptorIDs)/2 + 1
	for slot, votes := range tally {
		for v, n := range votes {
			if n < majority {
				continue
			}
			if slot >= uint64(len(log)) {
				return fmt.Sprintf("a majority of acceptors accepted %+v at slot %d, ballot %d, but the learners' log ends at %d",
					v.c, slot, v.b, len(log))
			}
			if log[slot].Command != v.c {
				return fmt.Sprintf("slot %d: a majority of acceptors accepted %+v at ballot %d, the learners hold %+v",
					slot, v.c, v.b, log[slot].Command)
			}
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

// safetyViolation reports whether failure (from sim.run) breaks safety: a
// slot chosen twice, learners holding different values, an acknowledgement
// the log contradicts, a retry marked wrongly. A liveness failure (nothing
// acknowledged, learners that did not converge) is not one.
func safetyViolation(failure string) bool {
	if strings.HasPrefix(failure, "liveness:") {
		return false
	}
	for _, s := range []string{"chosen twice", "learners differ", "acknowledged", "dup=", "durable on no learner"} {
		if strings.Contains(failure, s) {
			return true
		}
	}
	return false
}

// TestSimulationCatchesBrokenQuorum breaks the quorum rule (n/2 acceptors
// instead of a majority) and expects the simulation to find a safety
// violation, not just any failure.
// TestSimulationCatchesAmnesia turns the acceptors' rejoin rule off and
// expects the simulation's lost disks to break safety.
func TestSimulationCatchesAmnesia(t *testing.T) {
	var other []string
	for seed := uint64(1); seed <= 2000; seed++ {
		s := newSim(t, seed, 0)
		s.noRejoin = true
		for _, id := range acceptorIDs {
			s.start(s.nodes[id]) // again, without the rule
		}
		f := s.run()
		if safetyViolation(f) {
			t.Logf("seed %d found the acceptor that forgot: %s", seed, f)
			return
		}
		if f != "" {
			other = append(other, fmt.Sprintf("seed %d: %s", seed, f))
		}
	}
	t.Fatalf("2000 schedules with lost disks and no rejoin rule found no safety violation; other failures: %q", other)
}

// TestSimulationCatchesEagerCompaction makes proposers tell acceptors to
// compact at the chosen watermark, without waiting for a learner to hold
// the slots durably, and expects the compaction invariant to catch it.
func TestSimulationCatchesEagerCompaction(t *testing.T) {
	var other []string
	for seed := uint64(1); seed <= 200; seed++ {
		s := newSim(t, seed, 0)
		s.compactChosen = true
		for _, id := range proposerIDs {
			s.start(s.nodes[id]) // again, with the broken rule
		}
		f := s.run()
		if strings.Contains(f, "durable on no learner") {
			t.Logf("seed %d found the eager compaction: %s", seed, f)
			return
		}
		if f != "" {
			other = append(other, fmt.Sprintf("seed %d: %s", seed, f))
		}
	}
	t.Fatalf("200 schedules with eager compaction found no slot compacted below every learner's durable log; other failures: %q", other)
}

func TestSimulationCatchesBrokenQuorum(t *testing.T) {
	var other []string
	for seed := uint64(1); seed <= 500; seed++ {
		f := newSim(t, seed, len(acceptorIDs)/2).run()
		if safetyViolation(f) {
			t.Logf("seed %d found the broken quorum: %s", seed, f)
			return
		}
		if f != "" {
			other = append(other, fmt.Sprintf("seed %d: %s", seed, f))
		}
	}
	t.Fatalf("500 schedules with a quorum of n/2 found no safety violation: the simulation is blind; other failures: %q", other)
}
