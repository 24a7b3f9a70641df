package storage

import (
	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var (
	_ replog.ProposerStorage = (*Proposer)(nil)
	_ replog.ProposerStorage = (*MemProposer)(nil)
)

// Proposer is a proposer's durable state: the highest round it used, in a
// bbolt file, and its applied index (replog.ProposerStorage) in a second
// one, path+".applied": the chosen log's request IDs, without the values,
// buffered in memory until Sync (a BufferedLearner). It is safe for
// concurrent use.
type Proposer struct {
	s       *store[proposerState]
	applied *BufferedLearner
}

// proposerState is the cached meta of a Proposer file.
type proposerState struct {
	round uint64
}

// OpenProposer opens (creating if needed) the proposer file at path. It
// fails with ErrLocked when another process has it open and with ErrCorrupt
// when it is not a valid store.
func OpenProposer(path string, o *Options) (*Proposer, error) {
	s, err := open(path, o, [][]byte{bucketMeta}, nil, func(st *proposerState, tx *bolt.Tx) (err error) {
		st.round, err = getUint64(tx.Bucket(bucketMeta), keyRound)
		return err
	})
	if err != nil {
		return nil, err
	}
	l, err := OpenLearner(path+".applied", o)
	if err != nil {
		s.close()
		return nil, err
	}
	b, err := NewBufferedLearner(l, appliedBufferEntries)
	if err != nil {
		l.Close()
		s.close()
		return nil, err
	}
	b.forget.records = true // nothing reads the applied index's records
	return &Proposer{s: s, applied: b}, nil
}

// Applied returns the first slot not in the applied index (in the file or
// buffered).
func (p *Proposer) Applied() (uint64, error) { return p.applied.Commit() }

// FirstSlot returns the slot of the first copy of requestID in the applied
// index.
func (p *Proposer) FirstSlot(requestID string) (uint64, bool, error) {
	return p.applied.FirstSlot(requestID)
}

// Apply adds entries (replog.Ready.Applied: contiguous from Applied) to the
// applied index, in memory until the next Sync; it keeps no values.
func (p *Proposer) Apply(entries []replog.ChosenEntry) error {
	return p.applied.Append(stripValues(entries))
}

// Forget lets the next Syncs delete the applied index's request IDs and
// records below slot below (replog.Ready.DedupFloor).
func (p *Proposer) Forget(below uint64) error {
	p.applied.Forget(below)
	return nil
}

// Sync makes the applied index durable (one commit) and returns once it is.
func (p *Proposer) Sync() error { return p.applied.Sync() }

// stripValues returns entries without their values: the applied index
// needs request IDs only. A value with no request ID keeps one byte, so
// that it stays a value and not a no-op.
func stripValues(entries []replog.ChosenEntry) []replog.ChosenEntry {
	out := make([]replog.ChosenEntry, len(entries))
	for i, e := range entries {
		if e.Command.Value != "" {
			e.Command.Value = "v"
		}
		out[i] = e
	}
	return out
}

// Round returns the highest round persisted (0 when none). It does not touch
// the disk.
func (p *Proposer) Round() (uint64, error) {
	st, err := p.s.cached()
	return st.round, err
}

// SetRound persists r as the highest round used and returns once it is
// durable. A round not above the stored one is ignored: the round only goes
// up.
func (p *Proposer) SetRound(r uint64) error {
	if st, err := p.s.cached(); err != nil || r <= st.round {
		return err
	}
	return p.s.commit(0, func(tx *bolt.Tx, st *proposerState) error {
		if r <= st.round {
			return nil
		}
		st.round = r
		return putUint64(tx.Bucket(bucketMeta), keyRound, r)
	})
}

// Close syncs the applied index and closes both files. Later calls return
// ErrClosed.
func (p *Proposer) Close() error {
	err := p.applied.Close()
	if cerr := p.s.close(); err == nil {
		err = cerr
	}
	return err
}

// Save writes what a proposer's Ready asks to persist (saveProposerReady).
func (p *Proposer) Save(rd *replog.Ready) error { return saveProposerReady(p, rd) }

// proposerWriter is the write side of the proposer stores (Proposer,
// MemProposer).
type proposerWriter interface {
	SetRound(r uint64) error
	Apply(entries []replog.ChosenEntry) error
	Forget(below uint64) error
}

// saveProposerReady writes what a proposer's Ready asks to persist: the
// round (durable on return: it must be before any prepare leaves) and the
// applied entries (into the applied index, which may be synced later), and
// what the applied index may forget. It is the Save of every proposer store.
func saveProposerReady(w proposerWriter, rd *replog.Ready) error {
	if rd.HardState.Round > 0 {
		if err := w.SetRound(rd.HardState.Round); err != nil {
			return err
		}
	}
	if len(rd.Applied) > 0 {
		if err := w.Apply(rd.Applied); err != nil {
			return err
		}
	}
	if rd.DedupFloor > 0 {
		return w.Forget(rd.DedupFloor)
	}
	return nil
}
