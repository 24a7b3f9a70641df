package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var (
	_ replog.LearnerStorage = (*Learner)(nil)
	_ replog.LearnerStorage = (*MemLearner)(nil)
)

// Learner is a learner's durable chosen log in a bbolt file: the chosen
// entries by slot, contiguous from slot 0, and the slot of the first copy of
// each request ID. It is safe for concurrent use.
type Learner struct {
	s *store[learnerState]
}

// LearnerStats describes a learner store for monitoring.
type LearnerStats struct {
	Commit    uint64 // first slot not in the log
	Values    uint64 // client values in the log: no no-ops, no later copies of a request
	SizeBytes int64  // file size; 0 for a memory store
	Path      string // file path; "" for a memory store
}

// learnerState is the cached meta of a learner store. It holds the rules
// that the bbolt and memory learners share.
type learnerState struct {
	commit uint64
	values uint64 // entries that are neither no-ops nor duplicates
}

// maxRequestID is the longest request ID a learner can index.
const maxRequestID = bolt.MaxKeySize

// check reports whether entries can be appended: they must start at the
// commit and be contiguous (ErrNotContiguous otherwise).
func (st *learnerState) check(entries []replog.ChosenEntry) error {
	for i, e := range entries {
		if want := st.commit + uint64(i); e.Slot != want {
			return fmt.Errorf("storage: append slot %d where slot %d is next: %w", e.Slot, want, ErrNotContiguous)
		}
		if len(e.Command.RequestID) > maxRequestID {
			return fmt.Errorf("storage: append slot %d: request ID longer than %d bytes", e.Slot, maxRequestID)
		}
	}
	return nil
}

// append applies checked entries to st: put stores an entry; index records
// the slot of a first copy of a request.
func (st *learnerState) append(entries []replog.ChosenEntry, put func(replog.ChosenEntry) error,
	index func(requestID string, slot uint64) error) error {
	for _, e := range entries {
		if err := put(e); err != nil {
			return err
		}
		if !e.Dup && e.Command.RequestID != "" {
			if err := index(e.Command.RequestID, e.Slot); err != nil {
				return err
			}
		}
	}
	st.commit += uint64(len(entries))
	for _, e := range entries {
		if e.IsValue() {
			st.values++
		}
	}
	return nil
}

// OpenLearner opens (creating if needed) the learner file at path. It fails
// with ErrLocked when another process has it open and with ErrCorrupt when it
// is not a valid store.
func OpenLearner(path string, o *Options) (*Learner, error) {
	buckets := [][]byte{bucketMeta, bucketChosen, bucketRequests}
	s, err := open(path, o, buckets, func(st *learnerState, tx *bolt.Tx) (err error) {
		meta := tx.Bucket(bucketMeta)
		if st.commit, err = getUint64(meta, keyCommit); err != nil {
			return err
		}
		if meta.Get(keyValues) != nil || st.commit == 0 {
			st.values, err = getUint64(meta, keyValues)
			return err
		}
		// A file from before the count was kept: count once, keep it.
		err = scan(tx.Bucket(bucketChosen), 0, 0, func(slot uint64, v []byte) error {
			c, err := decodeChosen(slot, v)
			if c.IsValue() {
				st.values++
			}
			return err
		})
		if err != nil {
			return err
		}
		return putUint64(meta, keyValues, st.values)
	})
	if err != nil {
		return nil, err
	}
	return &Learner{s: s}, nil
}

// Commit returns the number of contiguous chosen slots stored: the first
// slot not yet in the log. It does not touch the disk.
func (l *Learner) Commit() (uint64, error) {
	st, err := l.s.cached()
	return st.commit, err
}

// Chosen returns at most limit (every one when limit <= 0) chosen entries
// with Slot >= from, in slot order. The slice is the caller's. A malformed
// record is ErrCorrupt.
func (l *Learner) Chosen(from uint64, limit int) ([]replog.ChosenEntry, error) {
	var out []replog.ChosenEntry
	err := l.s.view(func(tx *bolt.Tx) error {
		return scan(tx.Bucket(bucketChosen), from, limit, func(slot uint64, v []byte) error {
			c, err := decodeChosen(slot, v)
			out = append(out, c)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FirstSlot returns the slot of the first copy of requestID in the log.
func (l *Learner) FirstSlot(requestID string) (slot uint64, ok bool, err error) {
	err = l.s.view(func(tx *bolt.Tx) error {
		if requestID == "" {
			return nil
		}
		v := tx.Bucket(bucketRequests).Get([]byte(requestID))
		if v == nil {
			return nil
		}
		slot, err = keySlot(v)
		ok = err == nil
		return err
	})
	return slot, ok, err
}

// Append adds entries to the log and returns once they are durable. They must
// start at Commit and be contiguous, else Append returns ErrNotContiguous and
// writes nothing. An entry with Dup false and a request ID records its slot as
// the request's first copy (unless the request already has one).
func (l *Learner) Append(entries []replog.ChosenEntry) error {
	if len(entries) == 0 {
		_, err := l.s.cached()
		return err
	}
	return l.s.commit(len(entries), func(tx *bolt.Tx, st *learnerState) error {
		if err := st.check(entries); err != nil {
			return reject(err)
		}
		chosen, requests := tx.Bucket(bucketChosen), tx.Bucket(bucketRequests)
		err := st.append(entries, func(e replog.ChosenEntry) error {
			return chosen.Put(slotKey(e.Slot), encodeChosen(e))
		}, func(requestID string, slot uint64) error {
			if requests.Get([]byte(requestID)) != nil {
				return nil
			}
			return requests.Put([]byte(requestID), slotKey(slot))
		})
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := putUint64(meta, keyCommit, st.commit); err != nil {
			return err
		}
		return putUint64(meta, keyValues, st.values)
	})
}

// Stats returns the store's counters; it does not scan the file.
func (l *Learner) Stats() LearnerStats {
	l.s.mu.Lock()
	st := LearnerStats{Commit: l.s.state.commit, Values: l.s.state.values}
	l.s.mu.Unlock()
	st.SizeBytes, st.Path = l.s.size(), l.s.path
	return st
}

// Close closes the file once in-flight commits are done. Later calls return
// ErrClosed.
func (l *Learner) Close() error { return l.s.close() }

// Sync makes every Append so far durable (fdatasync). It matters only for a
// store opened with NoSync, whose Appends reach the OS but not the disk.
func (l *Learner) Sync() error {
	if err := l.s.db.Sync(); err != nil {
		return commitError(l.s.path, err)
	}
	return nil
}
