package storage

import (
	"maps"
	"slices"
	"sync"

	"github.com/paxos-go/paxos/replog"
)

// The memory stores keep the same state as the bbolt stores, with the same
// rules, in maps and slices: nothing survives the process. They are for
// simulation tests. They are safe for concurrent use, and after Close every
// method returns ErrClosed.

// memName names the memory stores in errors.
const memName = "memory store"

// memStore is the lock and the closed flag the memory stores share.
type memStore struct {
	mu     sync.Mutex
	closed bool
}

// lock locks m, or returns ErrClosed (unlocked) when m is closed.
func (m *memStore) lock() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return closedError(memName)
	}
	return nil
}

// Close closes the store. Later calls return ErrClosed.
func (m *memStore) Close() error {
	if err := m.lock(); err != nil {
		return err
	}
	m.closed = true
	m.mu.Unlock()
	return nil
}

// MemProposer is a Proposer in memory.
type MemProposer struct {
	memStore
	st      proposerState
	applied *MemLearner
}

// NewMemProposer returns an empty MemProposer.
func NewMemProposer() *MemProposer { return &MemProposer{applied: NewMemLearner()} }

// Applied returns the first slot not in the applied index.
func (p *MemProposer) Applied() (uint64, error) { return p.applied.Commit() }

// FirstSlot returns the slot of the first copy of requestID in the applied
// index.
func (p *MemProposer) FirstSlot(requestID string) (uint64, bool, error) {
	return p.applied.FirstSlot(requestID)
}

// Apply adds entries to the applied index, as Proposer.Apply does.
func (p *MemProposer) Apply(entries []replog.ChosenEntry) error {
	return p.applied.Append(stripValues(entries))
}

// Forget deletes the applied index's request IDs below slot below, as
// Proposer.Forget lets Sync do (the records stay).
func (p *MemProposer) Forget(below uint64) error { return p.applied.Forget(below) }

// Save writes what a proposer's Ready asks to persist (saveProposerReady).
func (p *MemProposer) Save(rd *replog.Ready) error { return saveProposerReady(p, rd) }

// Sync does nothing: the applied index in memory is as durable as it gets.
func (p *MemProposer) Sync() error { return nil }

// Round returns the highest round set (0 when none).
func (p *MemProposer) Round() (uint64, error) {
	if err := p.lock(); err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	return p.st.round, nil
}

// SetRound records r as the highest round used, if it is above the current one.
func (p *MemProposer) SetRound(r uint64) error {
	if err := p.lock(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	p.st.round = max(p.st.round, r)
	return nil
}

// MemAcceptor is an Acceptor in memory.
type MemAcceptor struct {
	memStore
	st       acceptorState
	accepted map[uint64]replog.Entry
}

// NewMemAcceptor returns an empty MemAcceptor: new storage, whose owner
// follows the rejoin rule (replog.RejoinPending), as a new bbolt file's does.
func NewMemAcceptor() *MemAcceptor {
	return &MemAcceptor{accepted: make(map[uint64]replog.Entry), st: acceptorState{rejoin: replog.RejoinPending}}
}

// Promised returns the highest ballot promised (0 when none).
func (a *MemAcceptor) Promised() (replog.Ballot, error) {
	if err := a.lock(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	return a.st.promised, nil
}

// Compacted returns the compaction point, as Acceptor.Compacted.
func (a *MemAcceptor) Compacted() (uint64, error) {
	if err := a.lock(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	return a.st.compacted, nil
}

// Commit returns the chosen watermark recorded, as Acceptor.Commit.
func (a *MemAcceptor) Commit() (uint64, error) {
	if err := a.lock(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	return a.st.commit, nil
}

// Top returns one past the highest slot ever accepted.
func (a *MemAcceptor) Top() (uint64, error) {
	if err := a.lock(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	return a.st.top, nil
}

// Rejoin returns the rejoin slot recorded.
func (a *MemAcceptor) Rejoin() (uint64, error) {
	if err := a.lock(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	return a.st.rejoin, nil
}

// SetRejoin records the rejoin slot.
func (a *MemAcceptor) SetRejoin(slot uint64) error {
	if err := a.lock(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	a.st.rejoin = slot
	return nil
}

// SetCommit records the chosen watermark (at once: memory has no later).
func (a *MemAcceptor) SetCommit(commit uint64) error {
	if err := a.lock(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	a.st.commit = max(a.st.commit, commit)
	return nil
}

// Accepted returns at most limit (every one when limit <= 0) accepted entries
// with Slot >= from, in slot order. The slice is the caller's.
func (a *MemAcceptor) Accepted(from uint64, limit int) ([]replog.Entry, error) {
	return a.AcceptedBytes(from, limit, 0)
}

// AcceptedBytes is Accepted bounded in bytes as Acceptor.AcceptedBytes is.
func (a *MemAcceptor) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	if err := a.lock(); err != nil {
		return nil, err
	}
	defer a.mu.Unlock()
	var out []replog.Entry
	var budget byteBudget
	for _, slot := range slices.Sorted(maps.Keys(a.accepted)) {
		if slot < from {
			continue
		}
		if limit > 0 && len(out) >= limit || budget.spent(maxBytes) {
			break
		}
		out = append(out, a.accepted[slot])
		budget.add(a.accepted[slot].Command)
	}
	return out, nil
}

// Save writes what an acceptor's Ready asks to persist (saveAcceptorReady).
func (a *MemAcceptor) Save(rd *replog.Ready) error { return saveAcceptorReady(a, rd) }

// Accept records promised, if it is above the current promise, and each entry
// at its slot, as Acceptor.Accept does.
func (a *MemAcceptor) Accept(promised replog.Ballot, entries []replog.Entry) error {
	if err := a.lock(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	return a.st.save(promised, entries, func(e replog.Entry) (bool, error) {
		_, had := a.accepted[e.Slot]
		a.accepted[e.Slot] = e
		return !had, nil
	})
}

// Compact deletes the accepted entries below slot below, as Acceptor.Compact
// does.
func (a *MemAcceptor) Compact(below uint64) error {
	if err := a.lock(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	return a.st.compact(below, func(below uint64) (n uint64, _ error) {
		for slot := range a.accepted {
			if slot < below {
				delete(a.accepted, slot)
				n++
			}
		}
		return n, nil
	})
}

// Stats returns the store's counters (SizeBytes and Path are empty).
func (a *MemAcceptor) Stats() AcceptorStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.stats()
}

// MemLearner is a Learner in memory.
type MemLearner struct {
	memStore
	st       learnerState
	log      []replog.ChosenEntry // log[i].Slot == i
	requests map[string]uint64
}

// NewMemLearner returns an empty MemLearner.
func NewMemLearner() *MemLearner { return &MemLearner{requests: make(map[string]uint64)} }

// Commit returns the first slot not yet in the log.
func (l *MemLearner) Commit() (uint64, error) {
	if err := l.lock(); err != nil {
		return 0, err
	}
	defer l.mu.Unlock()
	return l.st.commit, nil
}

// Chosen returns at most limit (every one when limit <= 0) chosen entries
// with Slot >= from, in slot order. The slice is the caller's.
func (l *MemLearner) Chosen(from uint64, limit int) ([]replog.ChosenEntry, error) {
	return l.ChosenBytes(from, limit, 0)
}

// ChosenBytes is Chosen bounded in bytes as Learner.ChosenBytes is.
func (l *MemLearner) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	if err := l.lock(); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	if from >= uint64(len(l.log)) {
		return nil, nil
	}
	end := len(l.log)
	if limit > 0 && uint64(limit) < uint64(end)-from {
		end = int(from) + limit
	}
	var budget byteBudget
	for i := int(from); i < end; i++ {
		if budget.spent(maxBytes) {
			end = i
			break
		}
		budget.add(l.log[i].Command)
	}
	return slices.Clone(l.log[from:end]), nil
}

// FirstSlot returns the slot of the first copy of requestID in the log.
func (l *MemLearner) FirstSlot(requestID string) (uint64, bool, error) {
	if err := l.lock(); err != nil {
		return 0, false, err
	}
	defer l.mu.Unlock()
	slot, ok := l.requests[requestID]
	return slot, ok, nil
}

// Append adds entries to the log, as Learner.Append does.
func (l *MemLearner) Append(entries []replog.ChosenEntry) error {
	if err := l.lock(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	if err := l.st.check(entries); err != nil {
		return err
	}
	return l.st.append(entries, func(e replog.ChosenEntry) error {
		l.log = append(l.log, e)
		return nil
	}, func(requestID string, slot uint64) error {
		l.requests[requestID] = slot
		return nil
	})
}

// Forget deletes the request IDs of first copies below slot below
// (replog.Ready.DedupFloor), as BufferedLearner.Forget lets Sync do; the
// records stay.
func (l *MemLearner) Forget(below uint64) error {
	if err := l.lock(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	for r, slot := range l.requests {
		if slot < below {
			delete(l.requests, r)
		}
	}
	return nil
}

// Save appends the chosen entries of a Ready (saveLearnerReady).
func (l *MemLearner) Save(rd *replog.Ready) error { return saveLearnerReady(l, rd) }

// Sync does nothing: what a memory store holds is as durable as it gets.
func (l *MemLearner) Sync() error { return nil }

// Synced returns the store's counters, as BufferedLearner.Synced does:
// every Append is as durable as it gets.
func (l *MemLearner) Synced() LearnerStats { return l.Stats() }

// Stats returns the store's counters (SizeBytes and Path are empty).
func (l *MemLearner) Stats() LearnerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LearnerStats{Commit: l.st.commit, Values: l.st.values}
}
