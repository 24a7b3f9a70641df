package replog

import (
	"math"
	"slices"
	"sort"
)

// Acceptor is the Paxos acceptor for every slot of the log. It promises a
// ballot n when n is above every ballot it promised, accepts at n when n is at
// least its promise, and tells the learners what it accepted. Its promised
// ballot and accepted entries reach storage (Ready.HardState, Ready.Accepted)
// before the replies that depend on them are sent.
//
// An acceptor whose storage is new (RejoinPending: a new data dir, or a
// disk that was lost) may have promised ballots and accepted values that
// counted in a choice, and forgotten them. It takes no part until it has
// asked every proposer and the other acceptors for their state (MsgRejoin)
// and heard from every proposer and a quorum of the acceptors (the rejoin
// rule, after Paxos Made Live §5.1). If none of them has history, the
// cluster is new and it votes at once. Otherwise it raises its promise to
// the highest ballot any of them promised or runs a Phase 1 at: a ballot it
// promised before is either some proposer's current one, or one no Phase 1
// can complete any more. It accepts again (a leader elected without its
// promise learned every chosen value from the others), and promises nothing
// until its chosen watermark passes the highest slot any of them accepted
// and the learners that count have persisted the log up to there (Compact on
// accepts): every slot where its forgotten votes could have counted is then
// chosen, known and held durably by a learner, so the next lost disk cannot
// take the last copies. Below that slot it answers catch-up requests as for
// compacted slots: a learner's recovery must not take its silence there for
// a vote. The outcome is persisted (HardState.Rejoin), so a crash before it
// is decided does not end the rule, and one after it does not start it again.
type Acceptor struct {
	cfg     Config
	storage AcceptorStorage

	promised Ballot
	// commit is the chosen watermark leaders told this acceptor: every slot
	// below it is chosen. It bounds promises (SPEC §8.2).
	commit uint64
	// savedCommit is the highest commit handed out in a Ready's HardState.
	savedCommit uint64
	// compacted is the highest compaction point handed out in a Ready.
	compacted uint64
	// sinceLeader counts ticks since an accept from the promised leader. While
	// the leader is heard, prepares from others are refused unless forced:
	// a proposer that was cut off (and kept raising its ballot) cannot depose
	// a healthy leader when it comes back.
	sinceLeader int

	// The rejoin rule (see the type's doc). fresh: storage was empty at
	// start and the others have not answered yet; rejoin: promise nothing
	// while commit is below it; top: one past the highest slot accepted.
	fresh      bool
	rejoin     uint64
	top        uint64
	rejoinAsk  int
	rejoinFrom map[ID]Message
	// learned is the highest compaction point leaders told (Compact)
	// (Compact on accepts): below it no one needs this acceptor's votes.
	learned uint64

	rd Ready
}

var _ Node = (*Acceptor)(nil)

// NewAcceptor restores an acceptor from its storage.
func NewAcceptor(cfg Config, s AcceptorStorage) (*Acceptor, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := s.Promised()
	if err != nil {
		return nil, err
	}
	// Compacted slots are chosen: the compaction point is a chosen
	// watermark this acceptor must keep reporting after a restart, or a new
	// leader would take the missing entries for holes.
	c, err := s.Compacted()
	if err != nil {
		return nil, err
	}
	// The persisted commit point keeps a restarted acceptor's promises
	// small: without it they would carry every entry above the compaction
	// point (SPEC §8.2).
	commit, err := s.Commit()
	if err != nil {
		return nil, err
	}
	commit = max(commit, c)
	top, err := s.Top()
	if err != nil {
		return nil, err
	}
	rejoinValue, err := s.Rejoin()
	if err != nil {
		return nil, err
	}
	var rejoin uint64
	if rejoinValue != RejoinPending && rejoinValue > 0 {
		rejoin = rejoinValue - 1
	}
	// A restarted acceptor has heard no leader yet.
	// Compaction happens only below what a learner persisted (Compact).
	a := &Acceptor{cfg: cfg, storage: s, promised: p, commit: commit, savedCommit: commit, compacted: c,
		sinceLeader: cfg.ElectionTicks, top: top, rejoin: rejoin, learned: c}
	if rejoinValue == RejoinPending && len(a.others()) > 0 && !cfg.noRejoin {
		a.fresh, a.rejoinFrom = true, map[ID]Message{}
		a.rejoinAsk = cfg.RetryTicks // ask at the first tick
	}
	return a, nil
}

// Voting reports whether this acceptor promises: false while the rejoin
// rule (see Acceptor) holds it back.
func (a *Acceptor) Voting() bool {
	return !a.fresh && (a.rejoin == 0 || (a.commit >= a.rejoin && a.learned >= a.rejoin))
}

// RejoinSlot returns the slot the rejoin rule waits for (0 when this
// acceptor never lost its storage, or has not heard the others yet).
func (a *Acceptor) RejoinSlot() uint64 { return a.rejoin }

func (a *Acceptor) others() []ID { return without(a.cfg.Acceptors, a.cfg.ID) }

// rejoinAsks are the nodes the rejoin rule asks: every proposer (the only
// ones that know the ballots of Phase 1s still under way) and the other
// acceptors.
func (a *Acceptor) rejoinAsks() []ID { return slices.Concat(a.cfg.Proposers, a.others()) }

// onRejoinState takes another node's state; with every proposer's answer
// and a quorum of the other acceptors' the rejoin rule decides (see
// Acceptor).
func (a *Acceptor) onRejoinState(m Message) {
	if !a.fresh || m.From == a.cfg.ID || !slices.Contains(a.rejoinAsks(), m.From) {
		return
	}
	a.rejoinFrom[m.From] = m
	acceptors := 0
	for id := range a.rejoinFrom {
		if a.cfg.isAcceptor(id) {
			acceptors++
		}
	}
	for _, id := range a.cfg.Proposers {
		if _, ok := a.rejoinFrom[id]; !ok {
			return
		}
	}
	if acceptors < a.cfg.Quorum() {
		return
	}
	var promised Ballot
	var top, commit uint64
	for _, st := range a.rejoinFrom {
		promised, top, commit = max(promised, st.Ballot), max(top, st.Slot), max(commit, st.Commit)
	}
	a.fresh, a.rejoinFrom = false, nil
	if promised == 0 && top == 0 && commit == 0 {
		a.rd.HardState.Rejoin = 1 // a new cluster: nothing to forget
		return
	}
	// Its forgotten promises are at most promised: a ballot it promised
	// before is either a proposer's current one, or one no Phase 1 can
	// complete any more (a proposer that moves on, or restarts, drops the
	// promises of its earlier ballots). Its forgotten votes counted only in
	// slots below top (a choice needs one of the others).
	a.promise(promised)
	a.commit = max(a.commit, commit)
	a.rejoin = max(top, commit)
	a.rd.HardState.Rejoin = a.rejoin + 1
}

// Promised returns the highest ballot this acceptor promised.
func (a *Acceptor) Promised() Ballot { return a.promised }

// Commit returns the chosen watermark this acceptor was told.
func (a *Acceptor) Commit() uint64 { return a.commit }

// Step handles MsgPrepare, MsgAccept, MsgCatchup, MsgRejoin and
// MsgRejoinState; other messages are ignored.
func (a *Acceptor) Step(m Message) error {
	switch m.Type {
	case MsgPrepare:
		if a.Voting() {
			return a.prepare(m)
		}
	case MsgAccept:
		if !a.fresh {
			a.accept(m)
		}
	case MsgCatchup:
		return a.catchup(m)
	case MsgRejoin:
		if a.cfg.isAcceptor(m.From) {
			a.send(Message{Type: MsgRejoinState, To: m.From, Ballot: a.promised, Slot: a.top, Commit: a.commit})
		}
	case MsgRejoinState:
		a.onRejoinState(m)
	}
	return nil
}

func (a *Acceptor) promise(b Ballot) {
	if b > a.promised {
		a.promised = b
		a.rd.HardState.Promised = b
	}
}

func (a *Acceptor) nack(m Message) {
	a.send(Message{Type: MsgNack, To: m.From, Ballot: a.promised, Probe: m.Probe})
}

func (a *Acceptor) prepare(m Message) error {
	// A duplicate prepare at the ballot already promised gets the same promise
	// again: ballots are unique to one proposer, so it changes nothing.
	if m.Ballot < a.promised {
		a.nack(m)
		return nil
	}
	if m.Ballot > a.promised && !m.Force && a.leaderAlive() {
		a.nack(m) // carries the live leader's ballot: the candidate yields to its heartbeats
		return nil
	}
	a.promise(m.Ballot)
	// One page of the promise: Phase 1 may need several messages (SPEC §9,
	// bounds). The candidate asks for the next page with a prepare at the
	// same ballot from the slot after the last entry of this one.
	from := max(m.Slot, a.commit)
	entries, truncated, err := a.page(from)
	if err != nil {
		return err
	}
	a.send(Message{Type: MsgPromise, To: m.From, Ballot: a.promised, Commit: a.commit, Slot: from,
		Entries: entries, Truncated: truncated})
	return nil
}

// page returns one message's worth of accepted entries from slot from on
// (at most CatchupLimit and MaxMsgBytes), and whether more follow. It reads
// one entry past both bounds, so fit sees where the page ends.
func (a *Acceptor) page(from uint64) ([]Entry, bool, error) {
	entries, cut, err := a.accepted(from, a.cfg.CatchupLimit+1, a.cfg.MaxMsgBytes+1)
	if err != nil {
		return nil, false, err
	}
	n := a.cfg.fit(entries, a.cfg.CatchupLimit)
	return entries[:n:n], n < len(entries) || cut, nil
}

// maxSlotsAhead bounds how far past its chosen watermark an acceptor
// accepts: a leader keeps at most Window slots in flight, far fewer than
// this, and a slot near 2^64 would make the next leader fill every slot
// below it with no-ops.
const maxSlotsAhead = 1 << 22

func (a *Acceptor) accept(m Message) {
	if m.Ballot < a.promised {
		a.nack(m)
		return
	}
	a.promise(m.Ballot)
	a.sinceLeader = 0
	a.commit = max(a.commit, m.Commit)
	a.learned = max(a.learned, m.Compact)
	if a.rejoin > a.compacted && a.Voting() {
		// The rejoin is done: below its slot the learners hold the log,
		// so this acceptor compacts there (and votes after a restart too).
		a.compacted = a.rejoin
		a.rd.Compact = a.rejoin
	}
	// The chosen watermark rides on the writes this acceptor makes anyway.
	defer a.saveCommit()
	// Compaction is safe below min(Compact, commit): a learner holds those
	// slots, and a new leader's Phase 1 starts at or above this acceptor's
	// commit, so no one asks for them again.
	if c := min(m.Compact, a.commit); c >= a.compacted+uint64(a.cfg.CompactEvery) {
		a.compacted = c
		a.rd.Compact = c
	}
	if len(m.Entries) == 0 {
		a.send(Message{Type: MsgAccepted, To: m.From, Ballot: m.Ballot, Probe: m.Probe})
		return
	}
	slots := make([]uint64, 0, len(m.Entries))
	learned := make([]Entry, 0, len(m.Entries))
	for _, e := range m.Entries {
		if e.Slot >= a.commit+maxSlotsAhead {
			continue // no leader gets this far ahead: a forged or broken slot
		}
		e.Ballot = m.Ballot
		a.top = max(a.top, e.Slot+1)
		slots = append(slots, e.Slot)
		learned = append(learned, e)
	}
	if len(learned) == 0 {
		return
	}
	a.rd.Accepted = append(a.rd.Accepted, learned...)
	a.send(Message{Type: MsgAccepted, To: m.From, Ballot: m.Ballot, Probe: m.Probe, Slots: slots})
	for _, l := range a.cfg.Learners {
		a.send(Message{Type: MsgLearn, To: l, Ballot: m.Ballot, Commit: a.commit, Entries: learned})
	}
}

// catchup answers a learner with the accepted entries from m.Slot on. Slot
// in the answer is the first slot it covers: compacted slots are not covered
// (this acceptor no longer knows what it accepted there).
func (a *Acceptor) catchup(m Message) error {
	// Below the rejoin slot this acceptor may have forgotten what it
	// accepted: it answers for those slots as for compacted ones (not at all).
	from := max(m.Slot, a.compacted, a.rejoin)
	entries, truncated, err := a.page(from)
	if err != nil {
		return err
	}
	probe := m.Probe
	if !a.Voting() {
		// A learner's recovery round reads what a quorum did NOT accept,
		// as a Phase 1 does: an acceptor that may have forgotten its votes
		// must not count in it. Its entries still count as votes.
		probe = 0
	}
	a.send(Message{Type: MsgLearn, To: m.From, Commit: a.commit, Probe: probe, Slot: from,
		Entries: entries, Truncated: truncated})
	return nil
}

// accepted returns the accepted entries from slot on: what storage holds
// (at most limit and maxBytes of it), overlaid with what this Ready has not
// persisted yet. cut says the storage read stopped at its bounds: the
// entries then cover the slots up to the last one read, no further (an
// entry of the Ready past it would leave the slots between out of a page,
// and a promise with a hole could let a new leader choose over a value).
func (a *Acceptor) accepted(from uint64, limit, maxBytes int) (_ []Entry, cut bool, _ error) {
	stored, err := a.storage.AcceptedBytes(from, limit, maxBytes)
	if err != nil {
		return nil, false, err
	}
	size := 0
	for _, e := range stored {
		size += e.Command.Size()
	}
	end := uint64(math.MaxUint64)
	if cut = cutShort(len(stored), size, limit, maxBytes); cut {
		end = stored[len(stored)-1].Slot + 1
	}
	if len(a.rd.Accepted) == 0 {
		return stored, cut, nil
	}
	bySlot := make(map[uint64]Entry, len(stored)+len(a.rd.Accepted))
	for _, e := range stored {
		bySlot[e.Slot] = e
	}
	for _, e := range a.rd.Accepted {
		if e.Slot >= from && e.Slot < end {
			bySlot[e.Slot] = e
		}
	}
	out := make([]Entry, 0, len(bySlot))
	for _, e := range bySlot {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, cut, nil
}

// saveCommit hands the commit point to storage with the next write. A lower
// persisted point is always safe (it only makes promises longer after a
// restart), so it costs no write of its own.
func (a *Acceptor) saveCommit() {
	if a.commit > a.savedCommit && (!a.rd.HardState.IsEmpty() || len(a.rd.Accepted) > 0 || a.rd.Compact > 0) {
		a.rd.HardState.Commit = a.commit
		a.savedCommit = a.commit
	}
}

func (a *Acceptor) send(m Message) {
	m.From = a.cfg.ID
	a.rd.Messages = append(a.rd.Messages, m)
}

// Tick advances the acceptor's clock (how long since it heard the leader),
// and asks the others again while the rejoin rule waits for their answers.
func (a *Acceptor) Tick() {
	a.sinceLeader++
	if !a.fresh {
		return
	}
	if a.rejoinAsk++; a.rejoinAsk >= a.cfg.RetryTicks {
		a.rejoinAsk = 0
		for _, id := range a.rejoinAsks() {
			if _, ok := a.rejoinFrom[id]; !ok {
				a.send(Message{Type: MsgRejoin, To: id})
			}
		}
	}
}

// leaderAlive reports whether the promised leader was heard recently: within
// half an election timeout. A leader sends accepts at least every heartbeat,
// so a live one is always inside that window; and a follower, which waits a
// whole election timeout after its last heartbeat (older than the last
// accept) before it campaigns, always finds the acceptors ready to promise.
func (a *Acceptor) leaderAlive() bool {
	return a.promised != 0 && a.sinceLeader < a.cfg.ElectionTicks/2
}

// HasReady reports whether there are effects to handle.
func (a *Acceptor) HasReady() bool { return !a.rd.IsEmpty() }

// Ready returns the pending effects; see Node.
func (a *Acceptor) Ready() Ready { return a.rd }

// Advance clears the effects returned by the last Ready.
func (a *Acceptor) Advance() { a.rd = Ready{} }
