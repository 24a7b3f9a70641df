package storage

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var (
	_ replog.LearnerStorage = (*Learner)(nil)
	_ replog.LearnerStorage = (*MemLearner)(nil)
)

// Learner is a learner's durable chosen log in a bbolt file: the chosen
// entries by slot, contiguous from slot 0, and the request IDs of the first
// copies in the dedup window by slot, which it indexes by ID in memory
// (requestIndex). It is safe for concurrent use.
type Learner struct {
	s   *store[learnerState]
	idx *requestIndex // the first copies of bucketRequestSlots, by request ID
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
	// forgotten: the request index holds no first copy below it (forget).
	forgotten uint64
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
	buckets := [][]byte{bucketMeta, bucketChosen, bucketRequestSlots}
	idx := newRequestIndex()
	s, err := open(path, o, buckets, nil, func(st *learnerState, tx *bolt.Tx) (err error) {
		meta := tx.Bucket(bucketMeta)
		if st.commit, err = getUint64(meta, keyCommit); err != nil {
			return err
		}
		if st.forgotten, err = getUint64(meta, keyForgotten); err != nil {
			return err
		}
		if err := loadRequestIndex(tx, idx); err != nil {
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
	return &Learner{s: s, idx: idx}, nil
}

// loadRequestIndex fills idx with the first copies the file holds by slot.
// A file from before that layout held them by request ID (bucketRequests):
// they move to the new bucket first, once.
func loadRequestIndex(tx *bolt.Tx, idx *requestIndex) error {
	bySlot := tx.Bucket(bucketRequestSlots)
	if old := tx.Bucket(bucketRequests); old != nil {
		err := old.ForEach(func(id, k []byte) error {
			slot, err := keySlot(k)
			if err != nil {
				return fmt.Errorf("request %q: %w", id, err)
			}
			return bySlot.Put(slotKey(slot), bytes.Clone(id))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketRequests); err != nil {
			return err
		}
	}
	idAt := requestAt(bySlot)
	n := 0
	return scan(bySlot, 0, 0, func(slot uint64, id []byte) error {
		if n++; n%loadUnmapEvery == 0 {
			// The index keeps hashes, not the IDs: the pages read so far
			// are not needed, and a window of a million IDs would
			// otherwise all be resident at once.
			if err := unmapTx(tx); err != nil {
				return err
			}
		}
		return idx.add(string(id), slot, idAt)
	})
}

// loadUnmapEvery is how many first copies an open reads between two drops
// of the pages it read.
const loadUnmapEvery = 1 << 16

// requestAt reads the request ID of the first copy at a slot of b
// (bucketRequestSlots), "" when it holds none.
func requestAt(b *bolt.Bucket) func(uint64) (string, error) {
	return func(slot uint64) (string, error) { return string(b.Get(slotKey(slot))), nil }
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
	return l.ChosenBytes(from, limit, 0)
}

// ChosenBytes is Chosen that also stops once the entries read hold
// maxBytes (by Command.Size; no byte bound when maxBytes <= 0). The entry
// that reaches maxBytes is returned, so a page always makes progress: the
// entries hold less than maxBytes plus one entry.
func (l *Learner) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	var out []replog.ChosenEntry
	var budget byteBudget
	err := l.s.view(func(tx *bolt.Tx) error {
		return scan(tx.Bucket(bucketChosen), from, limit, func(slot uint64, v []byte) error {
			if budget.spent(maxBytes) {
				return errScanDone
			}
			c, err := decodeChosen(slot, v)
			out = append(out, c)
			budget.add(c.Command)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// byteBudget counts the bytes of the entries a read returned (ChosenBytes).
type byteBudget int

func (b *byteBudget) add(c replog.Command) { *b += byteBudget(c.Size()) }

// spent reports whether the entries counted so far reached maxBytes.
func (b byteBudget) spent(maxBytes int) bool { return maxBytes > 0 && int(b) >= maxBytes }

// FirstSlot returns the slot of the first copy of requestID in the log.
func (l *Learner) FirstSlot(requestID string) (slot uint64, ok bool, err error) {
	if _, err := l.s.cached(); err != nil || requestID == "" {
		return 0, false, err
	}
	slot, sure, ok := l.idx.lookup(requestID)
	if !ok || sure {
		return slot, ok, nil
	}
	// The hash matched: the ID at the slot says whether the request did.
	err = l.s.view(func(tx *bolt.Tx) error {
		id, err := requestAt(tx.Bucket(bucketRequestSlots))(slot)
		ok = id == requestID
		return err
	})
	return slot, ok && err == nil, err
}

// Append adds entries to the log and returns once they are durable. They must
// start at Commit and be contiguous, else Append returns ErrNotContiguous and
// writes nothing. An entry with Dup false and a request ID records its slot as
// the request's first copy (replacing one outside the dedup window).
func (l *Learner) Append(entries []replog.ChosenEntry) error {
	return l.write(entries, forget{})
}

// forget asks a write to delete the request index's first copies below
// slot below (replog.Ready.DedupFloor), and with records the chosen
// records below it too.
type forget struct {
	below   uint64
	records bool
}

// minForget and the entries a write appends bound the slots it forgets:
// max(minForget, appended). A small bound keeps the commit short and the
// pages it maps few (unmapEvery), and forgetting at least as many slots as
// are appended keeps the index from growing past the dedup window, however
// fast the log grows. The next writes go on from there.
const minForget = 4096

// forgetLimit is how many slots a write that appends appended entries
// forgets at most.
func forgetLimit(appended int) uint64 { return uint64(max(minForget, appended)) }

// forgets reports whether a write would forget anything of what f asks.
func (l *Learner) forgets(f forget) bool {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return min(f.below, l.s.state.commit) > l.s.state.forgotten
}

// write appends entries (as Append) and forgets as f asks, in one commit.
func (l *Learner) write(entries []replog.ChosenEntry, f forget) error {
	if len(entries) == 0 && !l.forgets(f) {
		_, err := l.s.cached()
		return err
	}
	var ops []indexOp // what the index takes once the commit is durable
	err := l.s.commit(len(entries), func(tx *bolt.Tx, st *learnerState) error {
		if err := st.check(entries); err != nil {
			return reject(err)
		}
		chosen, requests := tx.Bucket(bucketChosen), tx.Bucket(bucketRequestSlots)
		err := st.append(entries, func(e replog.ChosenEntry) error {
			return chosen.Put(slotKey(e.Slot), encodeChosen(e))
		}, func(requestID string, slot uint64) error {
			ops = append(ops, indexOp{id: requestID, slot: slot, add: true})
			return requests.Put(slotKey(slot), []byte(requestID))
		})
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := st.forget(tx, f, forgetLimit(len(entries)), &ops); err != nil {
			return err
		}
		if err := putUint64(meta, keyCommit, st.commit); err != nil {
			return err
		}
		return putUint64(meta, keyValues, st.values)
	})
	if err != nil {
		return err
	}
	return l.index(ops)
}

// index applies the changes of a durable write to the request index, in
// the order the write made them.
func (l *Learner) index(ops []indexOp) error {
	for _, op := range ops {
		if !op.add {
			l.idx.remove(op.id, op.slot)
			continue
		}
		err := l.idx.add(op.id, op.slot, func(slot uint64) (id string, err error) {
			err = l.s.view(func(tx *bolt.Tx) (err error) {
				id, err = requestAt(tx.Bucket(bucketRequestSlots))(slot)
				return err
			})
			return id, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// forget deletes the first copies of the slots from st.forgotten up to
// f.below (at most limit slots, and none the log does not hold yet), and
// their chosen records when f.records. It adds to ops what the request
// index is to forget once the write commits.
func (st *learnerState) forget(tx *bolt.Tx, f forget, limit uint64, ops *[]indexOp) error {
	end := min(f.below, st.commit, st.forgotten+limit)
	if end <= st.forgotten {
		return nil
	}
	requests := tx.Bucket(bucketRequestSlots)
	err := deleteSlots(requests, st.forgotten, end, func(slot uint64, id []byte) {
		*ops = append(*ops, indexOp{id: string(id), slot: slot})
	})
	if err != nil {
		return err
	}
	if f.records {
		if err := deleteSlots(tx.Bucket(bucketChosen), st.forgotten, end, nil); err != nil {
			return err
		}
	}
	st.forgotten = end
	return putUint64(tx.Bucket(bucketMeta), keyForgotten, end)
}

// deleteSlots deletes the records of b with slots in [from, end), telling
// each to deleted (when not nil) first.
func deleteSlots(b *bolt.Bucket, from, end uint64, deleted func(slot uint64, v []byte)) error {
	var drop [][]byte
	err := scan(b, from, 0, func(slot uint64, v []byte) error {
		if slot >= end {
			return errScanDone
		}
		if deleted != nil {
			deleted(slot, v)
		}
		drop = append(drop, slotKey(slot))
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Save appends the chosen entries of a Ready (saveLearnerReady).
func (l *Learner) Save(rd *replog.Ready) error { return saveLearnerReady(l, rd) }

// Forget deletes the request IDs of first copies below slot below
// (replog.Ready.DedupFloor), at most minForget slots of them, in a commit
// of its own (a BufferedLearner does it in the commit of its next Sync).
func (l *Learner) Forget(below uint64) error { return l.write(nil, forget{below: below}) }

// saveLearnerReady lets a learner store w forget the request IDs below
// rd.DedupFloor and appends rd.Chosen: what a learner's Ready asks to
// persist. It is the Save of every learner store.
func saveLearnerReady(w interface {
	Append([]replog.ChosenEntry) error
	Forget(below uint64) error
}, rd *replog.Ready) error {
	if rd.DedupFloor > 0 {
		if err := w.Forget(rd.DedupFloor); err != nil {
			return err
		}
	}
	if len(rd.Chosen) == 0 {
		return nil
	}
	return w.Append(rd.Chosen)
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
	fileSynced(l.s.path)
	return nil
}
