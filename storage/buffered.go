package storage

import (
	"fmt"
	"sync"

	"github.com/paxos-go/paxos/replog"
)

var _ replog.LearnerStorage = (*BufferedLearner)(nil)

// What a BufferedLearner holds in memory is bounded in entries (given to
// NewBufferedLearner) and in bytes (maxPendingBytes): an Append that brings
// it to either waits for a Sync to write everything. Below that an Append
// never writes: the roles Sync beside their loop once a tick, and a
// proposer's loop, which appends its applied index, must go on (and keep
// its leadership) while a slow disk finishes that Sync.
const (
	// LearnerBufferEntries bounds a learner's buffer. A learner catching up
	// fills it while its Sync writes: at 65,536 entries its buffer and the
	// values in it were 20 MB of a 59 MB heap at the peak of the 10 M-slot
	// soak; at 32,768 that learner peaked 32 MiB lower, catching up at
	// 130,008 slots/s (docs/PERFORMANCE.md).
	LearnerBufferEntries = 32768
	// appliedBufferEntries bounds a proposer's applied index (request IDs,
	// no values): the leader's loop appends to it, and must not wait for
	// the disk while a Sync runs.
	appliedBufferEntries = 65536
	maxPendingBytes      = 64 << 20
)

// maxCommitEntries bounds the entries of one commit of Sync (a Sync of more
// makes several), so the pages one commit touches, in memory (bbolt's dirty
// nodes) and in the mapping: each entry writes its record and request ID
// and may forget another's (forgetLimit), all at the ends of their buckets.
// (It was 4,096 while the request index was written at random keys; a
// learner catching up makes a fourth as many commits now.)
const maxCommitEntries = 16384

// BufferedLearner is a Learner whose Appends stay in memory until Sync
// writes them all in one commit (fsynced, unless the file was opened with
// NoSync), so a learner pays one bbolt commit per Sync instead of one per
// batch. Reads see the buffered entries too.
//
// A crash loses what was appended since the last Sync. That is safe for a
// replog learner run with LazySync: it reports to the acceptors only what
// Sync made durable (Learner.Synced), the acceptors keep every value above
// that, and the restarted learner catches the rest up. Unlike appending with
// NoSync and fsyncing later, a power loss cannot leave a half-written bbolt
// commit behind: every commit is a normal synced one.
type BufferedLearner struct {
	l          *Learner
	maxEntries int // entries pending before an Append waits for a Sync

	syncMu sync.Mutex // one Sync at a time

	mu      sync.Mutex
	commit  uint64               // first slot in neither the file nor pending
	pending []replog.ChosenEntry // slots [commit-len(pending), commit)
	bytes   int                  // values and request IDs in pending
	values  uint64               // entries of pending that count as client values
	first   map[string]uint64    // request ID → slot of first copies in pending
	gen     uint64               // bumped when Sync moves pending to the file
	// forget is what the next Sync forgets (Forget); records is set for a
	// proposer's applied index, which reads no records.
	forget forget
}

// NewBufferedLearner buffers the Appends to l, up to maxEntries of them
// (LearnerBufferEntries for a learner) and maxPendingBytes. l must not be
// used directly afterwards.
func NewBufferedLearner(l *Learner, maxEntries int) (*BufferedLearner, error) {
	c, err := l.Commit()
	if err != nil {
		return nil, err
	}
	return &BufferedLearner{l: l, maxEntries: max(1, maxEntries), commit: c, first: map[string]uint64{}}, nil
}

// Commit returns the first slot not in the log (stored or buffered).
func (b *BufferedLearner) Commit() (uint64, error) {
	if _, err := b.l.s.cached(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.commit, nil
}

// Append buffers entries; they must start at Commit and be contiguous
// (ErrNotContiguous otherwise, and nothing is buffered).
func (b *BufferedLearner) Append(entries []replog.ChosenEntry) error {
	if _, err := b.l.s.cached(); err != nil {
		return err
	}
	b.mu.Lock()
	st := learnerState{commit: b.commit}
	if err := st.check(entries); err != nil {
		b.mu.Unlock()
		return err
	}
	for _, e := range entries {
		b.bytes += len(e.Command.Value) + len(e.Command.RequestID)
		if e.IsValue() {
			b.values++
		}
		if !e.Dup && e.Command.RequestID != "" {
			b.first[e.Command.RequestID] = e.Slot
		}
	}
	b.pending = append(b.pending, entries...)
	b.commit = st.commit + uint64(len(entries))
	full := len(b.pending) >= b.maxEntries || b.bytes >= maxPendingBytes
	b.mu.Unlock()
	if full {
		return b.Sync()
	}
	return nil
}

// Forget lets the next Syncs delete the request IDs of first copies below
// slot below from the file (replog.Ready.DedupFloor): a bounded number per
// Sync, in the same commit as the buffered entries.
func (b *BufferedLearner) Forget(below uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.forget.below = max(b.forget.below, below)
	return nil
}

// Save buffers the chosen entries of a Ready (saveLearnerReady): durable
// after the next Sync.
func (b *BufferedLearner) Save(rd *replog.Ready) error { return saveLearnerReady(b, rd) }

// Sync writes every buffered entry to the file, in commits of at most
// maxCommitEntries, and returns once they are durable.
func (b *BufferedLearner) Sync() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	batch, f := b.pending, b.forget
	b.mu.Unlock()
	if len(batch) == 0 && !b.l.forgets(f) {
		return nil // nothing to write: not even a closed file is an error
	}
	for {
		chunk := batch[:min(len(batch), maxCommitEntries)] // empty: only forget
		if err := b.l.write(chunk, f); err != nil {
			return fmt.Errorf("%w (%d buffered entries not written)", err, len(batch))
		}
		b.written(chunk)
		if batch = batch[len(chunk):]; len(batch) == 0 {
			return nil
		}
	}
}

// written drops chunk, just written to the file, from the front of pending.
func (b *BufferedLearner) written(chunk []replog.ChosenEntry) {
	if len(chunk) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range chunk {
		b.bytes -= len(e.Command.Value) + len(e.Command.RequestID)
		if e.IsValue() {
			b.values--
		}
		if b.first[e.Command.RequestID] == e.Slot {
			delete(b.first, e.Command.RequestID)
		}
	}
	b.pending = b.pending[len(chunk):]
	if len(b.pending) == 0 {
		b.pending = nil
	}
	b.gen++
}

// Synced returns the counters of the log as far as Sync has made it durable
// (what a crash keeps): Commit is the first slot not yet durable, Values
// counts the client values below it. It does not scan the file.
func (b *BufferedLearner) Synced() LearnerStats { return b.l.Stats() }

// Chosen returns at most limit (every one when limit <= 0) chosen entries
// with Slot >= from, in slot order, stored or buffered.
func (b *BufferedLearner) Chosen(from uint64, limit int) ([]replog.ChosenEntry, error) {
	return b.ChosenBytes(from, limit, 0)
}

// ChosenBytes is Chosen bounded in bytes as Learner.ChosenBytes is.
func (b *BufferedLearner) ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error) {
	// Take the buffer first: what Sync removes from it afterwards is in the
	// file by the time the file is read.
	b.mu.Lock()
	snap := b.pending
	b.mu.Unlock()
	out, err := b.l.ChosenBytes(from, limit, maxBytes)
	if err != nil {
		return nil, err
	}
	next := from
	var budget byteBudget
	for _, e := range out {
		next = e.Slot + 1
		budget.add(e.Command)
	}
	for _, e := range snap {
		if (limit > 0 && len(out) >= limit) || budget.spent(maxBytes) {
			break
		}
		if e.Slot >= next {
			out = append(out, e)
			budget.add(e.Command)
		}
	}
	return out, nil
}

// FirstSlot returns the slot of the first copy of requestID in the log.
func (b *BufferedLearner) FirstSlot(requestID string) (uint64, bool, error) {
	for {
		b.mu.Lock()
		gen := b.gen
		b.mu.Unlock()
		slot, ok, err := b.l.FirstSlot(requestID)
		if err != nil || ok {
			return slot, ok, err
		}
		b.mu.Lock()
		slot, ok = b.first[requestID]
		moved := b.gen != gen
		b.mu.Unlock()
		if ok || !moved || requestID == "" {
			return slot, ok, nil
		}
		// A Sync moved entries from the buffer to the file between the
		// two lookups: look again.
	}
}

// Stats returns the store's counters; Commit and Values count buffered
// entries. While a Sync runs, Values may count its entries twice.
func (b *BufferedLearner) Stats() LearnerStats {
	st := b.l.Stats()
	b.mu.Lock()
	defer b.mu.Unlock()
	st.Commit = b.commit
	st.Values += b.values
	return st
}

// Close writes what is buffered and closes the file.
func (b *BufferedLearner) Close() error {
	err := b.Sync()
	if cerr := b.l.Close(); err == nil {
		err = cerr
	}
	return err
}
