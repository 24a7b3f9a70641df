package storage

import (
	"bytes"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var (
	_ replog.AcceptorStorage = (*Acceptor)(nil)
	_ replog.AcceptorStorage = (*MemAcceptor)(nil)
)

// Acceptor is an acceptor's durable state in a bbolt file: the highest ballot
// promised and the accepted entries by slot. It is safe for concurrent use;
// concurrent Saves share one transaction and one fsync.
type Acceptor struct {
	s *store[acceptorState]

	mu         sync.Mutex
	wantCommit uint64 // SetCommit's value, written by the next commit
}

// AcceptorStats describes an acceptor store for monitoring.
type AcceptorStats struct {
	Promised      replog.Ballot // highest ballot promised
	AcceptedCount uint64        // accepted entries stored
	LastSlot      int64         // highest slot ever accepted; -1 when none
	Compacted     uint64        // entries below this slot were compacted away
	SizeBytes     int64         // file size; 0 for a memory store
	Path          string        // file path; "" for a memory store
}

// acceptorState is the cached meta of an acceptor store. It holds the rules
// that the bbolt and memory acceptors share.
type acceptorState struct {
	promised  replog.Ballot
	count     uint64
	top       uint64 // highest slot accepted + 1; 0 when none
	compacted uint64
	commit    uint64 // the chosen watermark (replog.HardState.Commit)
	rejoin    uint64 // replog.HardState.Rejoin
	walLSN    uint64 // the last write-ahead record applied to the file (wal.go)
	walSalt   uint64 // the CRC salt of the write-ahead records after walLSN
	walMade   uint64 // 1 once the write-ahead file exists durably: its loss is then ErrMissingWAL
}

// save applies Accept to st; put stores an entry and reports whether its slot
// was empty.
func (st *acceptorState) save(promised replog.Ballot, entries []replog.Entry, put func(replog.Entry) (bool, error)) error {
	st.promised = max(st.promised, promised)
	for _, e := range entries {
		if e.Slot < st.compacted {
			continue
		}
		isNew, err := put(e)
		if err != nil {
			return err
		}
		if isNew {
			st.count++
		}
		st.top = max(st.top, e.Slot+1)
	}
	return nil
}

// compact applies Compact to st; del deletes the entries below and returns
// how many there were.
func (st *acceptorState) compact(below uint64, del func(below uint64) (uint64, error)) error {
	if below <= st.compacted {
		return nil
	}
	n, err := del(below)
	if err != nil {
		return err
	}
	st.count -= n
	st.compacted = below
	return nil
}

func (st acceptorState) stats() AcceptorStats {
	return AcceptorStats{Promised: st.promised, AcceptedCount: st.count,
		LastSlot: int64(st.top) - 1, Compacted: st.compacted}
}

// put writes the fields of st that differ from old to the meta bucket.
func (st acceptorState) put(tx *bolt.Tx, old acceptorState) error {
	meta := tx.Bucket(bucketMeta)
	for _, f := range []struct {
		key      []byte
		old, new uint64
	}{
		{keyPromised, uint64(old.promised), uint64(st.promised)},
		{keyAcceptedCount, old.count, st.count},
		{keyAcceptedTop, old.top, st.top},
		{keyCompacted, old.compacted, st.compacted},
		{keyCommit, old.commit, st.commit},
		{keyRejoin, old.rejoin, st.rejoin},
		{keyWALApplied, old.walLSN, st.walLSN},
		{keyWALSalt, old.walSalt, st.walSalt},
		{keyWALMade, old.walMade, st.walMade},
	} {
		if f.old != f.new {
			if err := putUint64(meta, f.key, f.new); err != nil {
				return err
			}
		}
	}
	return nil
}

// load reads st from the meta bucket.
func (st *acceptorState) load(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	var err error
	for _, f := range []struct {
		key []byte
		v   *uint64
	}{
		{keyPromised, (*uint64)(&st.promised)},
		{keyAcceptedCount, &st.count},
		{keyAcceptedTop, &st.top},
		{keyCompacted, &st.compacted},
		{keyCommit, &st.commit},
		{keyRejoin, &st.rejoin},
		{keyWALApplied, &st.walLSN},
		{keyWALSalt, &st.walSalt},
		{keyWALMade, &st.walMade},
	} {
		if *f.v, err = getUint64(meta, f.key); err != nil {
			return err
		}
	}
	return nil
}

// OpenAcceptor opens (creating if needed) the acceptor file at path. It
// fails with ErrLocked when another process has it open and with ErrCorrupt
// when it is not a valid store.
func OpenAcceptor(path string, o *Options) (*Acceptor, error) {
	// A new acceptor file records that its owner must follow the rejoin
	// rule (replog.RejoinPending), in the transaction that makes it: a
	// new data dir and a lost disk look the same.
	s, err := open(path, o, [][]byte{bucketMeta, bucketAccepted}, func(tx *bolt.Tx) error {
		return putUint64(tx.Bucket(bucketMeta), keyRejoin, replog.RejoinPending)
	}, (*acceptorState).load)
	if err != nil {
		return nil, err
	}
	return &Acceptor{s: s}, nil
}

// Promised returns the highest ballot promised (0 when none). It does not
// touch the disk.
func (a *Acceptor) Promised() (replog.Ballot, error) {
	st, err := a.s.cached()
	return st.promised, err
}

// Compacted returns the compaction point: entries below it were deleted.
func (a *Acceptor) Compacted() (uint64, error) {
	st, err := a.s.cached()
	return st.compacted, err
}

// Accepted returns at most limit (every one when limit <= 0) accepted entries
// with Slot >= from, in slot order, each with the ballot it was accepted at.
// The slice is the caller's. A malformed record is ErrCorrupt.
func (a *Acceptor) Accepted(from uint64, limit int) ([]replog.Entry, error) {
	return a.AcceptedBytes(from, limit, 0)
}

// AcceptedBytes is Accepted that also stops once the entries read hold
// maxBytes (by Command.Size; no bound when maxBytes <= 0): the entry that
// reaches it is the last returned, as in Learner.ChosenBytes.
func (a *Acceptor) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	var out []replog.Entry
	var budget byteBudget
	err := a.s.view(func(tx *bolt.Tx) error {
		return scan(tx.Bucket(bucketAccepted), from, limit, func(slot uint64, v []byte) error {
			if budget.spent(maxBytes) {
				return errScanDone
			}
			e, err := decodeEntry(slot, v)
			out = append(out, e)
			budget.add(e.Command)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Accept persists promised, if it is above the stored promise (0 leaves it
// unchanged), and each entry at its slot, overwriting what the slot held;
// entries below the compaction point are dropped. It returns once all of it
// is durable, and blocks only on the disk and on a commit in progress.
func (a *Acceptor) Accept(promised replog.Ballot, entries []replog.Entry) error {
	if st, err := a.s.cached(); err != nil || (len(entries) == 0 && promised <= st.promised) {
		return err
	}
	return a.save(promised, entries, nil)
}

// walMark is what a checkpoint of LoggedAcceptor records with its commit:
// the last write-ahead record it holds and the salt of the records after.
type walMark struct{ lsn, salt uint64 }

// Commit returns the chosen watermark persisted (0 when none).
func (a *Acceptor) Commit() (uint64, error) {
	st, err := a.s.cached()
	return st.commit, err
}

// Top returns one past the highest slot ever accepted (0 when none).
func (a *Acceptor) Top() (uint64, error) {
	st, err := a.s.cached()
	return st.top, err
}

// Rejoin returns the slot SetRejoin recorded (0 when none).
func (a *Acceptor) Rejoin() (uint64, error) {
	st, err := a.s.cached()
	return st.rejoin, err
}

// SetRejoin records replog's rejoin value (replog.HardState.Rejoin) and
// returns once it is durable.
func (a *Acceptor) SetRejoin(v uint64) error {
	return a.s.commit(0, func(tx *bolt.Tx, st *acceptorState) error {
		old := *st
		st.rejoin = v
		return st.put(tx, old)
	})
}

// SetCommit records commit as the chosen watermark; it becomes durable with
// the next Accept or Compact (a lower one after a crash is safe: see
// replog.HardState.Commit). A lower commit than the recorded one does nothing.
func (a *Acceptor) SetCommit(commit uint64) error {
	if _, err := a.s.cached(); err != nil {
		return err
	}
	a.mu.Lock()
	a.wantCommit = max(a.wantCommit, commit)
	a.mu.Unlock()
	return nil
}

func (a *Acceptor) pendingCommit() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wantCommit
}

// save is Accept; with mark it is a checkpoint and records mark too.
func (a *Acceptor) save(promised replog.Ballot, entries []replog.Entry, mark *walMark) error {
	return a.s.commit(len(entries), func(tx *bolt.Tx, st *acceptorState) error {
		old := *st
		if mark != nil {
			st.walLSN, st.walSalt = max(st.walLSN, mark.lsn), mark.salt
		}
		st.commit = max(st.commit, a.pendingCommit())
		acc := tx.Bucket(bucketAccepted)
		err := st.save(promised, entries, func(e replog.Entry) (bool, error) {
			k := slotKey(e.Slot)
			return acc.Get(k) == nil, acc.Put(k, encodeEntry(e))
		})
		if err != nil {
			return err
		}
		return st.put(tx, old)
	})
}

// Compact deletes the accepted entries with slot < below (they are chosen
// and known to the learners) and records below as the compaction point: later
// Saves drop entries under it. A below at or under the current point does
// nothing.
func (a *Acceptor) Compact(below uint64) error {
	if st, err := a.s.cached(); err != nil || below <= st.compacted {
		return err
	}
	return a.s.commit(0, func(tx *bolt.Tx, st *acceptorState) error {
		old := *st
		st.commit = max(st.commit, a.pendingCommit())
		err := st.compact(below, func(below uint64) (uint64, error) {
			acc := tx.Bucket(bucketAccepted)
			end := slotKey(below)
			var keys [][]byte
			c := acc.Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := acc.Delete(k); err != nil {
					return 0, err
				}
			}
			return uint64(len(keys)), nil
		})
		if err != nil {
			return err
		}
		return st.put(tx, old)
	})
}

// Stats returns the store's counters; it does not scan the file.
func (a *Acceptor) Stats() AcceptorStats {
	a.s.mu.Lock()
	st := a.s.state.stats()
	a.s.mu.Unlock()
	st.SizeBytes, st.Path = a.s.size(), a.s.path
	return st
}

// Close closes the file once in-flight commits are done. Later calls return
// ErrClosed.
func (a *Acceptor) Close() error { return a.s.close() }

// Save writes what an acceptor's Ready asks to persist (saveAcceptorReady).
func (a *Acceptor) Save(rd *replog.Ready) error { return saveAcceptorReady(a, rd) }

// acceptorWriter is the write side of the acceptor stores (Acceptor,
// LoggedAcceptor, MemAcceptor).
type acceptorWriter interface {
	SetCommit(commit uint64) error
	SetRejoin(slot uint64) error
	Accept(promised replog.Ballot, entries []replog.Entry) error
	Compact(below uint64) error
}

// saveAcceptorReady writes what an acceptor's Ready asks to persist, in the
// order replog needs: the commit point, the rejoin slot, the promise and the accepted
// entries (durable on return), then the compaction. It is the Save of
// every acceptor store.
func saveAcceptorReady(w acceptorWriter, rd *replog.Ready) error {
	if rd.HardState.Commit > 0 {
		if err := w.SetCommit(rd.HardState.Commit); err != nil {
			return err
		}
	}
	if rd.HardState.Rejoin > 0 {
		if err := w.SetRejoin(rd.HardState.Rejoin); err != nil {
			return err
		}
	}
	if rd.HardState.Promised != 0 || len(rd.Accepted) > 0 {
		if err := w.Accept(rd.HardState.Promised, rd.Accepted); err != nil {
			return err
		}
	}
	if rd.Compact > 0 {
		return w.Compact(rd.Compact)
	}
	return nil
}
