package replog

import (
	"fmt"
	"slices"
	"sort"
)

// State is a proposer's state: follower, candidate or leader.
type State uint8

// The proposer states.
const (
	Follower State = iota
	Candidate
	Leader
)

func (r State) String() string {
	return [...]string{"follower", "candidate", "leader"}[r]
}

// Proposer is a Multi-Paxos proposer. One proposer at a time leads: it runs
// Phase 1 once for every slot from its first unchosen one (Campaign), finishes
// what earlier leaders left (the highest-ballot value per slot, no-ops in the
// holes), and then runs only Phase 2 for new commands while its ballot holds,
// with up to Window slots in flight and many slots per accept message. It
// steps down when an acceptor answers with a higher ballot.
//
// A proposer also follows the chosen log (from its own quorums and from the
// learners' MsgChosen) so it can answer a retried request with the slot of its
// first copy.
type Proposer struct {
	cfg     Config
	storage ProposerStorage

	role    State
	round   uint64 // highest round used (persisted before use)
	ballot  Ballot // this proposer's ballot while candidate or leader
	leader  ID     // the leader we follow (None when unknown)
	maxSeen Ballot // highest ballot seen in any message
	// leaderBallot is the ballot of the leader we follow.
	leaderBallot Ballot
	// heard are the acceptors that answered this leader since the last check.
	heard      map[ID]bool
	quorumTick int

	electionElapsed int
	electionTimeout int
	// failedCampaigns counts campaigns in a row that won no quorum; the
	// election timeout backs off with it (SPEC §8.7), so proposers that cannot
	// reach a quorum do not burn through ballots.
	failedCampaigns  int
	heartbeatElapsed int
	retryElapsed     int

	// Phase 1 (candidate).
	forced bool // this campaign was asked for (Campaign): prepares say Force
	// promises are the acceptors whose whole (paged) promise arrived;
	// pages[a] is the slot acceptor a's next page starts at, once its first
	// page arrived.
	promises  map[ID]bool
	pages     map[ID]uint64
	recovered map[uint64]Entry // highest-ballot accepted entry per slot
	promisedW uint64           // highest chosen watermark in the promises

	// Phase 2 (leader).
	nextSlot  uint64
	lowSlot   uint64 // no slot below it is in flight
	leadStart uint64 // the first slot of this leadership: new commands wait until every slot below is applied
	inflight  map[uint64]*proposal
	byRequest map[string]uint64 // request → slot, for slots in flight or chosen and not yet applied
	queue     []Command         // proposals waiting for room in the window
	unsent    []Entry           // entries to send in the next Ready's accepts
	// inflightBytes and queueBytes are what inflight and queue hold, by
	// Command.Size: the window and the queue are bounded in bytes too.
	inflightBytes, queueBytes int

	// The chosen log as far as this proposer knows it.
	commit   uint64             // first slot whose chosen value is unknown here
	floor    uint64             // every slot below it is chosen (values maybe unknown)
	known    map[uint64]Command // chosen commands at or above commit, values digested
	knownReq map[string]uint64  // request → lowest slot of it in known
	// firstInReady holds the requests first applied in rd.Applied (not yet
	// in storage's applied index), with their slots.
	firstInReady map[string]uint64
	waiting      map[string]bool // requests proposed here that still need a Result

	// learnerCommit is each learner's durable log length (Compact in its
	// notifications) and learnerSeen the tick it was last heard at: the
	// compaction point acceptors are told comes from them (compactPoint).
	learnerCommit map[ID]uint64
	learnerSeen   map[ID]uint64
	ticks         uint64 // ticks since this proposer started

	// Linearizable reads.
	probe      uint64
	probeAcks  map[ID]uint64
	reads      []pendingRead
	askElapsed int
	// pollElapsed counts the ticks since the learners this proposer has not
	// heard from were last asked (askUnheard).
	pollElapsed int

	rd Ready
}

type proposal struct {
	entry Entry
	votes []ID
	// resends counts the retransmissions of this accept, and wait the
	// retransmit rounds left before the next one (retransmit).
	resends, wait int
}

// maxResendShift caps the retransmit backoff: an accept still unanswered is
// resent after 1, 2, 4, then every 8 retransmit rounds (RetryTicks each).
const maxResendShift = 3

type pendingRead struct {
	ctx, index, probe uint64
}

var _ Node = (*Proposer)(nil)

// NewProposer restores a proposer from its storage. It starts as a follower.
func NewProposer(cfg Config, s ProposerStorage) (*Proposer, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ID >= ProposerIDLimit {
		return nil, fmt.Errorf("replog: proposer ID %d must be below %d", cfg.ID, ProposerIDLimit)
	}
	r, err := s.Round()
	if err != nil {
		return nil, err
	}
	applied, err := s.Applied()
	if err != nil {
		return nil, err
	}
	p := &Proposer{cfg: cfg, storage: s, round: r, commit: applied, floor: applied,
		known: map[uint64]Command{}, knownReq: map[string]uint64{},
		firstInReady: map[string]uint64{}, waiting: map[string]bool{}}
	p.becomeFollower(None)
	// A proposer that just started waits twice as long before its first
	// campaign: a healthy leader's heartbeats may take a moment to reach a
	// node that was down, and campaigning would depose that leader.
	p.electionTimeout *= 2
	return p, nil
}

// Status is a snapshot of a proposer for observers.
type Status struct {
	ID        ID
	State     State
	Leader    ID
	Ballot    Ballot // this proposer's current ballot (0 before its first campaign)
	MaxSeen   Ballot
	Round     uint64
	NextSlot  uint64
	Commit    uint64
	Floor     uint64
	InFlight  int
	Queued    int
	Recovered int
	// Compact is what acceptors may compact below (compactPoint): the
	// lowest durable log length of the learners heard within
	// LearnerSilenceTicks (0 until every learner has reported, or a
	// silence period has passed).
	// LearnersHeard is how many learners have reported since this
	// proposer started. Commit - Compact is how far the slowest learner
	// heard lately lags, as far as this proposer knows.
	Compact       uint64
	LearnersHeard int
}

// Status returns a snapshot of the proposer.
func (p *Proposer) Status() Status {
	return Status{ID: p.cfg.ID, State: p.role, Leader: p.leader, Ballot: p.ballot, MaxSeen: p.maxSeen,
		Round: p.round, NextSlot: p.nextSlot, Commit: p.commit, Floor: p.floor,
		InFlight: len(p.inflight), Queued: len(p.queue), Recovered: len(p.recovered),
		Compact: p.compactPoint(), LearnersHeard: len(p.learnerCommit)}
}

// Propose asks the leader to get cmd chosen. The answer comes later as a
// Result in Ready (the slot of the request's first copy), unless Propose
// returns an error: ErrNotLeader (the caller may forward to Status().Leader),
// ErrInvalid or ErrDropped (the queue is full).
func (p *Proposer) Propose(cmd Command) error {
	if cmd.RequestID == "" || cmd.Value == "" {
		return ErrInvalid
	}
	if p.role != Leader {
		return ErrNotLeader
	}
	if len(p.queue) >= p.cfg.MaxQueue || (len(p.queue) > 0 && p.queueBytes+cmd.Size() > p.cfg.MaxQueueBytes) {
		return ErrDropped
	}
	p.waiting[cmd.RequestID] = true
	if dup, err := p.dedup(cmd.RequestID); dup || err != nil {
		return err
	}
	if p.windowFull(cmd) || len(p.queue) > 0 {
		p.queue = append(p.queue, cmd)
		p.queueBytes += cmd.Size()
		return nil
	}
	p.assign(cmd)
	return nil
}

// dedup answers req now if its first copy is applied, and reports whether
// a copy is applied, chosen or in flight (then req needs no new slot: the
// copy's Result answers it).
func (p *Proposer) dedup(req string) (bool, error) {
	s, ok, err := p.firstSlot(req)
	if err != nil {
		return false, err
	}
	if ok && p.cfg.isCopy(s, p.commit) {
		// A new slot for req would be at commit or later: inside the
		// window of its first copy, it would be a copy. Outside, it gets
		// one (Config.DedupWindow).
		p.answer(req, s)
		return true, nil
	}
	if _, ok := p.knownReq[req]; ok {
		return true, nil // chosen, not applied yet: applyKnown answers it
	}
	if s, ok = p.byRequest[req]; ok {
		if pr := p.inflight[s]; pr != nil {
			pr.wait = 0 // asked again: resent at the next retransmit round
		}
	}
	return ok, nil
}

// firstSlot is the slot of req's first copy among the applied slots.
func (p *Proposer) firstSlot(req string) (uint64, bool, error) {
	if s, ok := p.firstInReady[req]; ok {
		return s, true, nil
	}
	return p.storage.FirstSlot(req)
}

// windowFull reports whether cmd must wait: Window slots or
// MaxInflightBytes are in flight (one command always fits), or this leader
// has not yet applied every slot below its first one (it could not tell a
// retry of a request chosen there from a new request).
func (p *Proposer) windowFull(cmd Command) bool {
	return p.commit < p.leadStart || len(p.inflight) >= p.cfg.Window ||
		(len(p.inflight) > 0 && p.inflightBytes+cmd.Size() > p.cfg.MaxInflightBytes)
}

// Campaign starts an election now (force_election), whatever the leader.
func (p *Proposer) Campaign() {
	p.campaign()
	p.forced = true
	p.sendPrepares() // again, now forced: acceptors promise even while a leader is alive
}

// CampaignUnforced starts an ordinary election now, as if a follower's
// election timeout had run out: for a hint that the leader is gone (gossip
// says it is dead) that may be wrong. Its prepares are not forced, so
// acceptors that still hear the leader refuse them and the candidate yields
// to the leader's next heartbeat (SPEC §8.10). Only a follower campaigns; a
// candidate or leader ignores it.
func (p *Proposer) CampaignUnforced() {
	if p.role == Follower {
		p.campaign()
	}
}

// ReadIndex asks for a linearizable read. The answer comes as a ReadState with
// the same ctx: once a quorum of acceptors confirms this leadership, every
// write acknowledged before the call is below Index.
func (p *Proposer) ReadIndex(ctx uint64) {
	if p.role != Leader {
		p.rd.ReadStates = append(p.rd.ReadStates, ReadState{Ctx: ctx, Err: ErrNotLeader})
		return
	}
	p.probe++
	p.reads = append(p.reads, pendingRead{ctx: ctx, index: p.nextSlot, probe: p.probe})
	p.broadcast(Message{Type: MsgAccept, Ballot: p.ballot, Commit: p.watermark(), Compact: p.compactPoint(), Probe: p.probe}, p.cfg.Acceptors)
}

// Step handles every message a proposer gets.
func (p *Proposer) Step(m Message) error {
	if !p.fromRightRole(m) {
		return nil
	}
	if m.Ballot > p.maxSeen {
		p.maxSeen = m.Ballot
	}
	switch m.Type {
	case MsgPromise:
		p.onPromise(m)
	case MsgAccepted:
		return p.onAccepted(m)
	case MsgNack:
		switch {
		case m.Ballot > p.ballot && p.role != Follower:
			p.becomeFollower(m.Ballot.Proposer())
		case p.role == Candidate && m.Ballot > p.leaderBallot:
			// The acceptor still follows a live leader at m.Ballot: yield
			// to that leader's next heartbeat.
			p.leaderBallot = m.Ballot
		}
	case MsgHeartbeat:
		p.onHeartbeat(m)
	case MsgRejoin:
		// An acceptor that lost its disk asks for the ballot of this
		// proposer's Phase 1 (see Acceptor): it must not accept below it.
		p.send(Message{Type: MsgRejoinState, To: m.From, Ballot: p.ballot, Commit: p.watermark()})
	case MsgChosen:
		p.floor = max(p.floor, m.Commit)
		if p.learnerCommit == nil {
			p.learnerCommit, p.learnerSeen = map[ID]uint64{}, map[ID]uint64{}
		}
		p.learnerCommit[m.From] = max(p.learnerCommit[m.From], m.Compact)
		p.learnerSeen[m.From] = p.ticks
		for _, e := range m.Entries {
			if !m.Digests {
				e.Command = e.Command.Digest()
			}
			p.learn(e.Slot, e.Command)
		}
		if err := p.applyKnown(); err != nil {
			return err
		}
		if m.Truncated && p.commit < m.Commit {
			// A full catch-up answer: fetch the next batch now.
			p.askElapsed = 0
			p.send(Message{Type: MsgCatchup, To: m.From, Slot: p.commit})
		}
	}
	return nil
}

// fromRightRole reports whether m comes from a node whose role sends it:
// promises, acceptances and nacks from configured acceptors, heartbeats
// from proposers, chosen entries from learners (SPEC §9).
func (p *Proposer) fromRightRole(m Message) bool {
	switch m.Type {
	case MsgPromise, MsgAccepted, MsgNack:
		return p.cfg.isAcceptor(m.From)
	case MsgHeartbeat:
		return m.From != p.cfg.ID && slices.Contains(p.cfg.Proposers, m.From)
	case MsgRejoin:
		return p.cfg.isAcceptor(m.From)
	case MsgChosen:
		return p.cfg.isLearner(m.From)
	}
	return true
}

func (p *Proposer) onHeartbeat(m Message) {
	p.floor = max(p.floor, m.Commit)
	if p.role != Follower {
		// Step down for a higher ballot; a candidate that was not forced also
		// yields to the leader the acceptors said they still follow.
		if m.Ballot > p.ballot || (p.role == Candidate && !p.forced && p.leaderBallot != 0 && m.Ballot >= p.leaderBallot) {
			p.becomeFollower(m.Ballot.Proposer())
			p.leaderBallot = m.Ballot
			p.electionElapsed = 0
		}
		return
	}
	if m.Ballot >= p.leaderBallot {
		// An older leader's heartbeat is ignored: the acceptors' nacks stop it.
		p.leader, p.leaderBallot = m.Ballot.Proposer(), m.Ballot
		if p.failedCampaigns > 0 {
			p.failedCampaigns = 0
			p.resetElection() // drop the backoff: the next failover must be quick
		}
		p.electionElapsed = 0
	}
}

// Tick drives heartbeats, election timeouts and retransmissions.
func (p *Proposer) Tick() {
	p.ticks++
	p.askElapsed++
	switch p.role {
	case Leader:
		p.heartbeatElapsed++
		if p.heartbeatElapsed >= p.cfg.HeartbeatTicks {
			p.heartbeat()
		}
		// Check quorum: a leader no quorum of acceptors answered for an
		// election timeout steps down, so a cut-off leader does not keep the
		// other proposers from campaigning.
		p.quorumTick++
		if p.quorumTick >= 2*p.cfg.ElectionTicks {
			if len(p.heard) < p.cfg.Quorum() {
				p.becomeFollower(None)
				p.askForChosen()
				return
			}
			p.quorumTick = 0
			clear(p.heard)
		}
		p.retryElapsed++
		if p.retryElapsed >= p.cfg.RetryTicks {
			p.retryElapsed = 0
			p.retransmit()
		}
	default:
		p.electionElapsed++
		if p.electionElapsed >= p.electionTimeout {
			p.campaign()
		} else if p.role == Candidate && p.electionElapsed%p.cfg.RetryTicks == 0 {
			p.sendPrepares()
		}
	}
	p.askForChosen()
	p.askUnheard()
}

// askUnheard asks each learner this proposer has not heard from since it
// started, or for half of LearnerSilenceTicks (a proposer hears one with
// every MsgChosen), every PollTicks: the answer to a catch-up request
// carries its durable log length. So the compaction point and the
// learners' lag are known soon after a restart, and a live learner does
// not fall silent while no write makes it speak; one that does not answer
// for LearnerSilenceTicks holds compaction back no more.
func (p *Proposer) askUnheard() {
	p.pollElapsed++
	if p.pollElapsed < p.cfg.PollTicks {
		return
	}
	p.pollElapsed = 0
	for _, id := range p.cfg.Learners {
		if seen, heard := p.learnerSeen[id]; !heard || p.ticks-seen >= uint64(p.cfg.LearnerSilenceTicks)/2 {
			p.send(Message{Type: MsgCatchup, To: id, Slot: p.commit})
		}
	}
}

// askForChosen fetches chosen values this proposer lacks (below floor, or
// above a hole) from a learner.
func (p *Proposer) askForChosen() {
	if len(p.cfg.Learners) == 0 || p.askElapsed < p.cfg.RetryTicks {
		return
	}
	if p.floor <= p.commit && len(p.known) == 0 {
		return
	}
	p.askElapsed = 0
	to := p.cfg.Learners[p.cfg.Rand.IntN(len(p.cfg.Learners))]
	p.send(Message{Type: MsgCatchup, To: to, Slot: p.commit})
}

func (p *Proposer) others() []ID { return without(p.cfg.Proposers, p.cfg.ID) }

func (p *Proposer) resetElection() {
	p.electionElapsed = 0
	p.electionTimeout = (p.cfg.ElectionTicks + p.cfg.Rand.IntN(p.cfg.ElectionTicks)) << min(p.failedCampaigns, 2)
}

func (p *Proposer) becomeFollower(leader ID) {
	if p.role == Candidate {
		p.failedCampaigns++
	}
	if p.role == Leader || p.role == Candidate {
		p.dropAll(ErrNotLeader)
	}
	p.role = Follower
	p.leader = leader
	p.promises, p.pages, p.recovered = nil, nil, nil
	p.resetElection()
}

// dropAll fails every proposal and read this proposer was carrying.
func (p *Proposer) dropAll(err error) {
	reqs := make([]string, 0, len(p.waiting))
	for r := range p.waiting {
		reqs = append(reqs, r)
	}
	sort.Strings(reqs)
	for _, r := range reqs {
		p.rd.Results = append(p.rd.Results, Result{RequestID: r, Err: err})
	}
	clear(p.waiting)
	for _, rd := range p.reads {
		p.rd.ReadStates = append(p.rd.ReadStates, ReadState{Ctx: rd.ctx, Err: err})
	}
	p.reads = nil
	p.inflight, p.byRequest, p.queue, p.unsent = nil, nil, nil, nil
	p.inflightBytes, p.queueBytes = 0, 0
}

// campaign starts Phase 1 with a fresh ballot above every ballot seen. The new
// round is in Ready.HardState, so it is durable before any prepare leaves.
func (p *Proposer) campaign() {
	switch p.role {
	case Leader:
		p.dropAll(ErrNotLeader)
	case Candidate:
		p.failedCampaigns++
	}
	p.round = max(p.round, p.maxSeen.Round()) + 1
	p.ballot = MakeBallot(p.round, p.cfg.ID)
	p.maxSeen = max(p.maxSeen, p.ballot)
	p.rd.HardState.Round = p.round
	p.role = Candidate
	p.forced = false
	p.leader = None
	p.promises = map[ID]bool{}
	p.pages = map[ID]uint64{}
	p.recovered = map[uint64]Entry{}
	p.promisedW = 0
	p.resetElection()
	p.sendPrepares()
}

// sendPrepares sends each acceptor whose promise is not whole the prepare
// for what is missing: the whole promise, or its next page.
func (p *Proposer) sendPrepares() {
	for _, a := range p.cfg.Acceptors {
		if !p.promises[a] {
			p.prepare(a)
		}
	}
}

func (p *Proposer) prepare(to ID) {
	from, paging := p.pages[to]
	if !paging {
		from = p.commit
	}
	p.send(Message{Type: MsgPrepare, To: to, Ballot: p.ballot, Slot: from, Force: p.forced})
}

// onPromise takes one page of an acceptor's promise. The acceptor's
// promise counts once every page arrived: until then this candidate does
// not know the highest-ballot value of every slot that acceptor accepted.
func (p *Proposer) onPromise(m Message) {
	if p.role != Candidate || m.Ballot != p.ballot || !p.cfg.isAcceptor(m.From) || p.promises[m.From] {
		return
	}
	if next, paging := p.pages[m.From]; paging && m.Slot > next {
		return // a page after one that has not arrived: ask again in order
	}
	p.promisedW = max(p.promisedW, m.Commit)
	for _, e := range m.Entries {
		if e.Slot < p.commit {
			continue
		}
		if prev, ok := p.recovered[e.Slot]; !ok || e.Ballot > prev.Ballot {
			p.recovered[e.Slot] = e
		}
	}
	if m.Truncated && len(m.Entries) > 0 {
		p.pages[m.From] = max(p.pages[m.From], m.Entries[len(m.Entries)-1].Slot+1)
		p.prepare(m.From)
		return
	}
	p.promises[m.From] = true
	if len(p.promises) >= p.cfg.Quorum() {
		p.becomeLeader()
	}
}

// becomeLeader finishes the slots earlier leaders may have left: from the
// first slot not known chosen, every slot gets the highest-ballot value a
// promise reported, or a no-op (SPEC §8.3).
func (p *Proposer) becomeLeader() {
	p.role = Leader
	p.failedCampaigns = 0
	p.leader = p.cfg.ID
	p.floor = max(p.floor, p.promisedW)
	start := max(p.commit, p.floor)
	top := start
	for s := range p.recovered {
		if s >= start && s+1 > top {
			top = s + 1
		}
	}
	for s := range p.known {
		top = max(top, s+1) // chosen under a newer ballot: our accepts there will be nacked
	}
	p.inflight = map[uint64]*proposal{}
	p.byRequest = map[string]uint64{}
	p.nextSlot, p.lowSlot, p.leadStart = start, start, start
	for s := start; s < top; s++ {
		if _, ok := p.known[s]; ok {
			p.nextSlot++
			continue
		}
		cmd := p.recovered[s].Command // the zero Command is the no-op
		p.assign(cmd)
	}
	p.nextSlot = top
	p.recovered, p.promises, p.pages = nil, nil, nil
	p.retryElapsed, p.quorumTick = 0, 0
	p.heard = map[ID]bool{}
	p.heartbeat()
}

// heartbeat tells the other proposers this leader is alive, and sends the
// acceptors an empty accept that confirms the ballot still holds (which also
// confirms the pending linearizable reads).
func (p *Proposer) heartbeat() {
	p.heartbeatElapsed = 0
	p.broadcast(Message{Type: MsgHeartbeat, Ballot: p.ballot, Commit: p.watermark()}, p.others())
	p.broadcast(Message{Type: MsgAccept, Ballot: p.ballot, Commit: p.watermark(), Compact: p.compactPoint(), Probe: p.probe}, p.cfg.Acceptors)
}

// compactPoint is where acceptors may compact: the lowest durable log
// length among the learners heard within LearnerSilenceTicks, so every
// slot below it is durable on at least one learner (SPEC: compaction).
// A learner silent longer holds compaction back no more: it catches up
// from another learner when it returns. One not heard since this proposer
// started holds it back for a silence period (0 until then); with no
// learner heard lately it is 0.
func (p *Proposer) compactPoint() uint64 {
	if p.cfg.compactChosen {
		return p.watermark() // broken on purpose (tests)
	}
	silence := uint64(p.cfg.LearnerSilenceTicks)
	low, holders := uint64(1<<64-1), 0
	for _, id := range p.cfg.Learners {
		c, heard := p.learnerCommit[id]
		switch {
		case heard && p.ticks-p.learnerSeen[id] < silence:
			low = min(low, c)
			holders++
		case !heard && p.ticks < silence:
			return 0
		}
	}
	if holders == 0 {
		return 0
	}
	return low
}

// assign gives cmd the next slot and queues its accept.
func (p *Proposer) assign(cmd Command) {
	s := p.nextSlot
	p.nextSlot++
	e := Entry{Slot: s, Command: cmd}
	p.inflight[s] = &proposal{entry: e}
	p.inflightBytes += cmd.Size()
	if cmd.RequestID != "" {
		p.byRequest[cmd.RequestID] = s
	}
	p.unsent = append(p.unsent, e)
}

func (p *Proposer) onAccepted(m Message) error {
	if p.role != Leader || m.Ballot != p.ballot || !p.cfg.isAcceptor(m.From) {
		return nil
	}
	p.heard[m.From] = true
	if m.Probe != 0 {
		p.onProbeAck(m.From, m.Probe)
	}
	for _, s := range m.Slots {
		pr := p.inflight[s]
		if pr == nil || slices.Contains(pr.votes, m.From) {
			continue
		}
		pr.votes = append(pr.votes, m.From)
		if len(pr.votes) >= p.cfg.Quorum() {
			p.learn(s, pr.entry.Command.Digest())
		}
	}
	return p.applyKnown()
}

// learn records that cmd is chosen at slot; cmd's value is a digest
// (Command.Digest): a proposer needs its request ID, and the digest lets it
// check that no slot is chosen twice.
func (p *Proposer) learn(slot uint64, cmd Command) {
	if slot < p.commit {
		return
	}
	if prev, ok := p.known[slot]; ok && prev != cmd {
		panic(fmt.Sprintf("replog: proposer %d: slot %d chosen twice: %+v and %+v", p.cfg.ID, slot, prev, cmd))
	}
	p.known[slot] = cmd
	if r, ok := cmd.dedupKey(); ok {
		if s, seen := p.knownReq[r]; !seen || slot < s {
			p.knownReq[r] = slot
		}
	}
	if pr := p.inflight[slot]; pr != nil {
		delete(p.inflight, slot)
		p.inflightBytes -= pr.entry.Command.Size()
		// A proposal that won its slot keeps its byRequest entry until
		// applyKnown answers it: a retry meanwhile must not take a new slot.
		if r := pr.entry.Command.RequestID; r != "" && p.byRequest[r] == slot && r != cmd.RequestID {
			delete(p.byRequest, r)
			if p.waiting[r] {
				// Another value won this slot: this proposal is lost here.
				delete(p.waiting, r)
				p.rd.Results = append(p.rd.Results, Result{RequestID: r, Err: ErrDropped})
			}
		}
	}
}

// applyKnown walks the contiguous known prefix: it records each request's
// first copy and answers the requests that wait for it.
func (p *Proposer) applyKnown() error {
	for {
		cmd, ok := p.known[p.commit]
		if !ok {
			break
		}
		s := p.commit
		delete(p.known, s)
		p.commit++
		ce := ChosenEntry{Entry: Entry{Slot: s, Command: cmd}, FirstSlot: s}
		if r, ok := cmd.dedupKey(); ok {
			first, dup, err := p.firstSlot(r)
			if err != nil {
				return err
			}
			if dup && p.cfg.isCopy(first, s) {
				ce.Dup, ce.FirstSlot = true, first
			} else {
				p.firstInReady[r] = s
			}
			if p.knownReq[r] == s {
				delete(p.knownReq, r)
			}
			if p.byRequest[r] == s {
				delete(p.byRequest, r)
			}
			p.answer(r, ce.FirstSlot)
		}
		p.rd.Applied = append(p.rd.Applied, ce)
	}
	if len(p.rd.Applied) > 0 {
		p.rd.DedupFloor = p.cfg.dedupFloor(p.commit)
	}
	p.floor = max(p.floor, p.commit)
	for p.lowSlot < p.nextSlot && p.inflight[p.lowSlot] == nil {
		p.lowSlot++
	}
	if p.role == Leader {
		for len(p.queue) > 0 && !p.windowFull(p.queue[0]) {
			cmd := p.queue[0]
			p.queue = p.queue[1:]
			p.queueBytes -= cmd.Size()
			dup, err := p.dedup(cmd.RequestID)
			if err != nil {
				return err
			}
			if !dup {
				p.assign(cmd)
			}
		}
		p.completeReads()
	}
	return nil
}

func (p *Proposer) answer(req string, slot uint64) {
	if p.waiting[req] {
		delete(p.waiting, req)
		p.rd.Results = append(p.rd.Results, Result{RequestID: req, Slot: slot})
	}
}

// retransmit resends the accepts still in flight, each one less often the
// more it was resent (maxResendShift). A lost accept is resent soon; one
// that is only slow, on a starved machine or behind megabytes of values,
// is not sent again and again, which would queue copies of it (and their
// writes and learns at each acceptor) ahead of the answer it waits for.
func (p *Proposer) retransmit() {
	for s := p.lowSlot; s < p.nextSlot; s++ {
		pr := p.inflight[s]
		if pr == nil {
			continue
		}
		if pr.wait > 0 {
			pr.wait--
			continue
		}
		p.unsent = append(p.unsent, pr.entry)
		pr.resends++
		pr.wait = 1<<min(pr.resends, maxResendShift) - 1
	}
}

func (p *Proposer) onProbeAck(from ID, probe uint64) {
	if p.probeAcks == nil {
		p.probeAcks = map[ID]uint64{}
	}
	p.probeAcks[from] = max(p.probeAcks[from], probe)
}

// completeReads answers the reads whose probe a quorum acknowledged.
func (p *Proposer) completeReads() {
	if len(p.reads) == 0 {
		return
	}
	acks := make([]uint64, 0, len(p.probeAcks))
	for _, a := range p.probeAcks {
		acks = append(acks, a)
	}
	q := p.cfg.Quorum()
	if len(acks) < q {
		return
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] > acks[j] })
	confirmed := acks[q-1]
	n := 0
	for _, rd := range p.reads {
		if rd.probe > confirmed {
			break
		}
		p.rd.ReadStates = append(p.rd.ReadStates, ReadState{Ctx: rd.ctx, Index: rd.index})
		n++
	}
	p.reads = p.reads[n:]
}

// watermark is the chosen watermark a leader tells acceptors and followers.
func (p *Proposer) watermark() uint64 { return max(p.commit, p.floor) }

func (p *Proposer) broadcast(m Message, to []ID) {
	for _, id := range to {
		m.To = id
		p.send(m)
	}
}

func (p *Proposer) send(m Message) {
	m.From = p.cfg.ID
	p.rd.Messages = append(p.rd.Messages, m)
}

// flush turns the unsent entries into accept messages, MaxBatch entries each.
func (p *Proposer) flush() {
	for len(p.unsent) > 0 {
		n := p.cfg.fit(p.unsent, p.cfg.MaxBatch)
		batch := p.unsent[:n:n]
		p.unsent = p.unsent[n:]
		p.broadcast(Message{Type: MsgAccept, Ballot: p.ballot, Commit: p.watermark(), Compact: p.compactPoint(), Entries: batch}, p.cfg.Acceptors)
	}
	p.unsent = nil
}

// HasReady reports whether there are effects to handle.
func (p *Proposer) HasReady() bool { return len(p.unsent) > 0 || !p.rd.IsEmpty() }

// Ready returns the pending effects; see Node.
func (p *Proposer) Ready() Ready {
	p.flush()
	return p.rd
}

// Advance clears the effects returned by the last Ready.
func (p *Proposer) Advance() {
	p.rd = Ready{}
	clear(p.firstInReady) // the applied index holds them now
}
