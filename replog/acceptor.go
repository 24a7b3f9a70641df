package replog

import (
	"math"
	"sort"
)

// Acceptor is the Paxos acceptor for every slot of the log. It promises a
// ballot n when n is above every ballot it promised, accepts at n when n is at
// least its promise, and tells the learners what it accepted. Its promised
// ballot and accepted entries reach storage (Ready.HardState, Ready.Accepted)
// before the replies that depend on them are sent.
type Acceptor struct {
	cfg     Config
	storage AcceptorStorage

	promised Ballot
	// commit is the chosen watermark leaders told this acceptor: every slot
	// below it is chosen. It bounds promises (SPEC §8.2).
	commit uint64
	// compacted is the highest compaction point handed out in a Ready.
	compacted uint64
	// sinceLeader counts ticks since an accept from the promised leader. While
	// the leader is heard, prepares from others are refused unless forced:
	// a proposer that was cut off (and kept raising its ballot) cannot depose
	// a healthy leader when it comes back.
	sinceLeader int

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
	// A restarted acceptor has heard no leader yet.
	return &Acceptor{cfg: cfg, storage: s, promised: p, commit: c, compacted: c, sinceLeader: cfg.ElectionTicks}, nil
}

// Promised returns the highest ballot this acceptor promised.
func (a *Acceptor) Promised() Ballot { return a.promised }

// Commit returns the chosen watermark this acceptor was told.
func (a *Acceptor) Commit() uint64 { return a.commit }

// Step handles MsgPrepare, MsgAccept and MsgCatchup; other messages are ignored.
func (a *Acceptor) Step(m Message) error {
	switch m.Type {
	case MsgPrepare:
		return a.prepare(m)
	case MsgAccept:
		a.accept(m)
	case MsgCatchup:
		return a.catchup(m)
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
	entries, err := a.accepted(max(m.Slot, a.commit), math.MaxInt)
	if err != nil {
		return err
	}
	a.send(Message{Type: MsgPromise, To: m.From, Ballot: a.promised, Commit: a.commit, Entries: entries})
	return nil
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
	// Compaction is safe below min(Compact, commit): every learner has those
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
	from := max(m.Slot, a.compacted)
	entries, err := a.accepted(from, a.cfg.CatchupLimit+1)
	if err != nil {
		return err
	}
	n := a.cfg.fit(entries, a.cfg.CatchupLimit)
	a.send(Message{Type: MsgLearn, To: m.From, Commit: a.commit, Probe: m.Probe, Slot: from,
		Entries: entries[:n], Truncated: n < len(entries)})
	return nil
}

// accepted returns the accepted entries from slot on: what storage holds,
// overlaid with what this Ready has not persisted yet.
func (a *Acceptor) accepted(from uint64, limit int) ([]Entry, error) {
	stored, err := a.storage.Accepted(from, limit)
	if err != nil {
		return nil, err
	}
	if len(a.rd.Accepted) == 0 {
		return stored, nil
	}
	bySlot := make(map[uint64]Entry, len(stored)+len(a.rd.Accepted))
	for _, e := range stored {
		bySlot[e.Slot] = e
	}
	for _, e := range a.rd.Accepted {
		if e.Slot >= from {
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
	return out, nil
}

func (a *Acceptor) send(m Message) {
	m.From = a.cfg.ID
	a.rd.Messages = append(a.rd.Messages, m)
}

// Tick advances the acceptor's clock (how long since it heard the leader).
func (a *Acceptor) Tick() { a.sinceLeader++ }

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
