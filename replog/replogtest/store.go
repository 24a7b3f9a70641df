package replogtest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/paxos-go/paxos/replog"
)

// Store is a role's durable state in memory. Save writes what a Ready asks
// to persist, in the order replog needs (see replog.Ready); it is the one
// place tests write a Ready. The stores are not safe for concurrent use.
type Store interface {
	Save(rd *replog.Ready) error
}

var (
	_ replog.ProposerStorage = (*ProposerStore)(nil)
	_ replog.AcceptorStorage = (*AcceptorStore)(nil)
	_ replog.LearnerStorage  = (*LearnerStore)(nil)
	_ Store                  = (*ProposerStore)(nil)
	_ Store                  = (*AcceptorStore)(nil)
	_ Store                  = (*LearnerStore)(nil)
)

// ProposerStore is a proposer's round and applied index in memory.
type ProposerStore struct {
	round   uint64
	applied LearnerStore // the applied entries, without their values
}

// KeepRequests makes the applied index ignore Ready.DedupFloor (see
// LearnerStore.KeepRequests).
func (p *ProposerStore) KeepRequests() { p.applied.KeepRequests = true }

// NewProposerStore returns an empty ProposerStore.
func NewProposerStore() *ProposerStore { return &ProposerStore{} }

// Save records the round (when higher) and adds rd.Applied to the applied
// index; it fails when the applied entries do not follow the index.
func (p *ProposerStore) Save(rd *replog.Ready) error {
	p.round = max(p.round, rd.HardState.Round)
	applied := make([]replog.ChosenEntry, len(rd.Applied))
	for i, e := range rd.Applied {
		e.Command.Value = "" // the index keeps request IDs only
		applied[i] = e
	}
	return p.applied.Save(&replog.Ready{Chosen: applied, DedupFloor: rd.DedupFloor})
}

// Requests returns how many request IDs the applied index holds.
func (p *ProposerStore) Requests() int { return p.applied.Requests() }

// Round returns the highest round saved.
func (p *ProposerStore) Round() (uint64, error) { return p.round, nil }

// Applied returns the first slot not in the applied index.
func (p *ProposerStore) Applied() (uint64, error) { return p.applied.Commit() }

// FirstSlot returns the slot of the first copy of requestID applied.
func (p *ProposerStore) FirstSlot(requestID string) (uint64, bool, error) {
	return p.applied.FirstSlot(requestID)
}

// AcceptorStore is an acceptor's promise, accepted entries, chosen
// watermark, compaction point and rejoin value in memory.
type AcceptorStore struct {
	promised  replog.Ballot
	commit    uint64
	compacted uint64
	top       uint64
	rejoin    uint64
	accepted  map[uint64]replog.Entry
}

// NewAcceptorStore returns new acceptor storage: its owner follows the
// rejoin rule (replog.RejoinPending), as with a new or lost disk.
func NewAcceptorStore() *AcceptorStore {
	return &AcceptorStore{rejoin: replog.RejoinPending, accepted: map[uint64]replog.Entry{}}
}

// Save records, in this order, the chosen watermark, the rejoin outcome,
// the promise (when higher) and the accepted entries (each overwrites its
// slot; slots below the compaction point are skipped), then the compaction.
func (a *AcceptorStore) Save(rd *replog.Ready) error {
	hs := rd.HardState
	a.commit = max(a.commit, hs.Commit)
	if hs.Rejoin > 0 {
		a.rejoin = hs.Rejoin
	}
	a.promised = max(a.promised, hs.Promised)
	for _, e := range rd.Accepted {
		if e.Slot < a.compacted {
			continue
		}
		a.accepted[e.Slot] = e
		a.top = max(a.top, e.Slot+1)
	}
	if rd.Compact > a.compacted {
		for slot := range a.accepted {
			if slot < rd.Compact {
				delete(a.accepted, slot)
			}
		}
		a.compacted = rd.Compact
	}
	return nil
}

// Promised returns the highest ballot promised.
func (a *AcceptorStore) Promised() (replog.Ballot, error) { return a.promised, nil }

// Accepted returns at most limit (every one when limit <= 0) accepted
// entries with Slot >= from, in slot order. The slice is the caller's.
func (a *AcceptorStore) Accepted(from uint64, limit int) ([]replog.Entry, error) {
	return a.AcceptedBytes(from, limit, 0)
}

// AcceptedBytes is Accepted that also stops after the entry that brings
// the commands to maxBytes (no bound when maxBytes <= 0).
func (a *AcceptorStore) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	var out []replog.Entry
	size := 0
	for _, slot := range slices.Sorted(maps.Keys(a.accepted)) {
		if slot < from {
			continue
		}
		if limit > 0 && len(out) >= limit || maxBytes > 0 && size >= maxBytes {
			break
		}
		out = append(out, a.accepted[slot])
		size += a.accepted[slot].Command.Size()
	}
	return out, nil
}

// Compacted returns the compaction point.
func (a *AcceptorStore) Compacted() (uint64, error) { return a.compacted, nil }

// Commit returns the chosen watermark saved.
func (a *AcceptorStore) Commit() (uint64, error) { return a.commit, nil }

// Top returns one past the highest slot ever accepted.
func (a *AcceptorStore) Top() (uint64, error) { return a.top, nil }

// Rejoin returns the rejoin value saved (replog.RejoinPending when new).
func (a *AcceptorStore) Rejoin() (uint64, error) { return a.rejoin, nil }

// LearnerStore is a learner's chosen log in memory.
type LearnerStore struct {
	log      []replog.ChosenEntry // log[i].Slot == i
	requests map[string]uint64    // request ID → slot of its first copy
	// KeepRequests makes the store ignore Ready.DedupFloor: a store that
	// forgets late (or never), which replog must not depend on.
	KeepRequests bool
}

// NewLearnerStore returns an empty LearnerStore.
func NewLearnerStore() *LearnerStore { return &LearnerStore{} }

// Save appends rd.Chosen to the log and forgets the request IDs below
// rd.DedupFloor; it fails, appending nothing, when the entries do not
// follow the log slot by slot.
func (l *LearnerStore) Save(rd *replog.Ready) error {
	for i, e := range rd.Chosen {
		if want := uint64(len(l.log) + i); e.Slot != want {
			return fmt.Errorf("replogtest: append slot %d where slot %d is next", e.Slot, want)
		}
	}
	if l.requests == nil {
		l.requests = map[string]uint64{}
	}
	for _, e := range rd.Chosen {
		l.log = append(l.log, e)
		if !e.Dup && e.Command.RequestID != "" {
			l.requests[e.Command.RequestID] = e.Slot // a first copy, maybe again (outside the dedup window)
		}
	}
	if rd.DedupFloor > 0 && !l.KeepRequests {
		for r, slot := range l.requests {
			if slot < rd.DedupFloor {
				delete(l.requests, r)
			}
		}
	}
	return nil
}

// Requests returns how many request IDs the request index holds.
func (l *LearnerStore) Requests() int { return len(l.requests) }

// Commit returns the first slot not in the log.
func (l *LearnerStore) Commit() (uint64, error) { return uint64(len(l.log)), nil }

// Chosen returns at most limit (every one when limit <= 0) entries with
// Slot >= from, in slot order. The slice is the caller's.
func (l *LearnerStore) Chosen(from uint64, limit int) ([]replog.ChosenEntry, error) {
	return l.ChosenBytes(from, limit, 0)
}

// ChosenBytes is Chosen that also stops after the entry that brings the
// commands to maxBytes (no bound when maxBytes <= 0).
func (l *LearnerStore) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	if from >= uint64(len(l.log)) {
		return nil, nil
	}
	end, size := from, 0
	for end < uint64(len(l.log)) && (limit <= 0 || end-from < uint64(limit)) && (maxBytes <= 0 || size < maxBytes) {
		size += l.log[end].Command.Size()
		end++
	}
	return slices.Clone(l.log[from:end]), nil
}

// FirstSlot returns the slot of the first copy of requestID in the log.
func (l *LearnerStore) FirstSlot(requestID string) (uint64, bool, error) {
	slot, ok := l.requests[requestID]
	return slot, ok, nil
}

// Keep returns a store with the first n slots of l's log: what a power
// loss leaves of a log synced up to n.
func (l *LearnerStore) Keep(n uint64) *LearnerStore {
	kept := NewLearnerStore()
	n = min(n, uint64(len(l.log)))
	if err := kept.Save(&replog.Ready{Chosen: l.log[:n]}); err != nil {
		panic(err) // a prefix of a contiguous log is contiguous
	}
	return kept
}
