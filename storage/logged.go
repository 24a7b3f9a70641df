package storage

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var _ replog.AcceptorStorage = (*LoggedAcceptor)(nil)

// A checkpoint moves the saved state to the bbolt file once this many
// entries wait in memory or the write-ahead file reaches this size (vars
// for the crash test).
var (
	checkpointEntries       = 8192
	checkpointBytes   int64 = 16 << 20
)

// LoggedAcceptor is an acceptor store that makes each Accept durable with one
// append and one fdatasync to a write-ahead file (wal.go) instead of a bbolt
// commit (two fsyncs and several page writes), and moves the saved state to
// the bbolt file at checkpoints. Reads see the file and what waits in memory.
// It is safe for concurrent use; Saves are serialized (the node batches its
// own writes into one Accept).
type LoggedAcceptor struct {
	a        *Acceptor
	onCommit func(time.Duration, int)

	wmu        sync.Mutex // Accept, SetCommit, Compact, checkpoints, Close
	w          *wal
	wantCommit uint64 // SetCommit's value, written with the next Accept

	mu      sync.Mutex
	st      acceptorState           // the file and the overlay together
	overlay map[uint64]replog.Entry // saved since the last checkpoint
}

// OpenLoggedAcceptor opens (creating if needed) the acceptor file at path and
// its write-ahead file path+".wal", replays the records the file does not
// hold yet, and checkpoints them. Errors are those of OpenAcceptor,
// ErrCorrupt for a damaged write-ahead file, and ErrMissingWAL when the
// acceptor file records a write-ahead file that is gone (it is not created
// again: its records would be forgotten).
func OpenLoggedAcceptor(path string, o *Options) (*LoggedAcceptor, error) {
	a, err := OpenAcceptor(path, o)
	if err != nil {
		return nil, err
	}
	st, _ := a.s.cached()
	w, recs, err := openWAL(path+".wal", st, o.withDefaults().NoSync)
	if err != nil {
		a.Close()
		return nil, err
	}
	if st.walMade == 0 {
		// The write-ahead file exists durably now: record it, so that
		// losing it is an error, not an empty acceptor.
		err = a.s.commit(0, func(tx *bolt.Tx, st *acceptorState) error {
			old := *st
			st.walMade = 1
			return st.put(tx, old)
		})
		if err == nil {
			st, err = a.s.cached()
		}
		if err != nil {
			w.close()
			a.Close()
			return nil, err
		}
	}
	l := &LoggedAcceptor{a: a, onCommit: o.withDefaults().OnCommit, w: w, st: st, overlay: map[uint64]replog.Entry{}}
	for _, r := range recs {
		if err := l.apply(r.promised, r.commit, r.entries); err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	if len(recs) > 0 {
		if err := l.checkpoint(); err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	return l, nil
}

// apply adds a durable Accept to the overlay and the merged state.
func (l *LoggedAcceptor) apply(promised replog.Ballot, commit uint64, entries []replog.Entry) error {
	if err := l.a.SetCommit(commit); err != nil { // the next checkpoint writes it to the file
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	file, err := l.a.s.cached()
	if err != nil {
		return err
	}
	l.st.commit = max(l.st.commit, commit)
	return l.st.save(promised, entries, func(e replog.Entry) (bool, error) {
		_, again := l.overlay[e.Slot]
		l.overlay[e.Slot] = e
		if again || e.Slot >= file.top {
			return !again, nil
		}
		got, err := l.a.Accepted(e.Slot, 1) // a slot below the file's top: maybe in it
		return len(got) == 0 || got[0].Slot != e.Slot, err
	})
}

// Save writes what an acceptor's Ready asks to persist (saveAcceptorReady).
func (l *LoggedAcceptor) Save(rd *replog.Ready) error { return saveAcceptorReady(l, rd) }

// Accept makes promised (if above the stored promise; 0 leaves it) and each
// entry durable, overwriting what each slot held; entries below the
// compaction point are dropped.
func (l *LoggedAcceptor) Accept(promised replog.Ballot, entries []replog.Entry) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if _, err := l.a.s.cached(); err != nil {
		return err
	}
	l.mu.Lock()
	noop := len(entries) == 0 && promised <= l.st.promised
	l.mu.Unlock()
	if noop {
		return nil
	}
	start, total := time.Now(), len(entries)
	// One record, or several when the Accept is bigger than a record may be:
	// the promise goes in the first, so a crash between them leaves the
	// promise and some of the accepts, as if the rest never arrived.
	for first := true; first || len(entries) > 0; first = false {
		n := replog.Fit(len(entries), 0, walMaxRecord/2, func(i int) int { return entries[i].Command.Size() })
		p, c := promised, l.wantCommit
		if !first {
			p, c = 0, 0
		}
		if _, err := l.w.append(p, c, entries[:n]); err != nil {
			return err
		}
		if err := l.apply(p, c, entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	if l.onCommit != nil {
		l.onCommit(time.Since(start), total)
	}
	l.mu.Lock()
	full := len(l.overlay) >= checkpointEntries
	l.mu.Unlock()
	if full || l.w.off >= checkpointBytes {
		return l.checkpoint()
	}
	return nil
}

// checkpoint moves the overlay into the bbolt file in one synced commit that
// records the last write-ahead record it holds, then rewinds the
// write-ahead file. Call with wmu held.
func (l *LoggedAcceptor) checkpoint() error {
	l.mu.Lock()
	entries := make([]replog.Entry, 0, len(l.overlay))
	for _, e := range l.overlay {
		entries = append(entries, e)
	}
	promised := l.st.promised
	l.mu.Unlock()
	slices.SortFunc(entries, func(a, b replog.Entry) int { return cmp.Compare(a.Slot, b.Slot) })
	salt := rand.Uint32() // for the records of the next pass
	if err := l.a.save(promised, entries, &walMark{lsn: l.w.lsn, salt: uint64(salt)}); err != nil {
		return err
	}
	st, err := l.a.s.cached()
	if err != nil {
		return err
	}
	l.mu.Lock()
	clear(l.overlay)
	l.st = st
	l.mu.Unlock()
	l.w.rewind(salt)
	return nil
}

// Compact deletes the accepted entries with slot < below and records below
// as the compaction point (see Acceptor.Compact). It checkpoints first.
func (l *LoggedAcceptor) Compact(below uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if st, err := l.a.s.cached(); err != nil || below <= st.compacted {
		return err
	}
	if err := l.checkpoint(); err != nil {
		return err
	}
	if err := l.a.Compact(below); err != nil {
		return err
	}
	st, err := l.a.s.cached()
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.st = st
	l.mu.Unlock()
	return nil
}

// Promised returns the highest ballot promised (0 when none).
func (l *LoggedAcceptor) Promised() (replog.Ballot, error) {
	if _, err := l.a.s.cached(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.promised, nil
}

// Commit returns the chosen watermark recorded (see Acceptor.Commit).
func (l *LoggedAcceptor) Commit() (uint64, error) {
	if _, err := l.a.s.cached(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.commit, nil
}

// SetCommit records commit as the chosen watermark; the next Accept writes it
// in its first write-ahead record, and the next Compact or checkpoint in the
// file (see Acceptor.SetCommit).
func (l *LoggedAcceptor) SetCommit(commit uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.wantCommit = max(l.wantCommit, commit)
	return l.a.SetCommit(commit)
}

// Top returns one past the highest slot ever accepted.
func (l *LoggedAcceptor) Top() (uint64, error) {
	if _, err := l.a.s.cached(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.top, nil
}

// Rejoin returns the rejoin slot recorded (see Acceptor.Rejoin).
func (l *LoggedAcceptor) Rejoin() (uint64, error) { return l.a.Rejoin() }

// SetRejoin records the rejoin slot durably in the bbolt file (a rare
// write: once per lost disk).
func (l *LoggedAcceptor) SetRejoin(slot uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.a.SetRejoin(slot); err != nil {
		return err
	}
	st, err := l.a.s.cached()
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.st.rejoin = st.rejoin
	l.mu.Unlock()
	return nil
}

// Compacted returns the compaction point.
func (l *LoggedAcceptor) Compacted() (uint64, error) { return l.a.Compacted() }

// Accepted returns at most limit (every one when limit <= 0) accepted entries
// with Slot >= from, in slot order. Under a concurrent Accept each slot shows
// its entry from before or after that Accept.
func (l *LoggedAcceptor) Accepted(from uint64, limit int) ([]replog.Entry, error) {
	return l.AcceptedBytes(from, limit, 0)
}

// AcceptedBytes is Accepted bounded in bytes as Acceptor.AcceptedBytes is.
// The file's read and what waits in memory are merged by slot: when the
// file's read stopped at a bound, the merge covers the slots up to its
// last entry only, so the entries returned leave no slot out.
func (l *LoggedAcceptor) AcceptedBytes(from uint64, limit, maxBytes int) ([]replog.Entry, error) {
	l.mu.Lock()
	var mem []replog.Entry
	for _, e := range l.overlay {
		if e.Slot >= from {
			mem = append(mem, e)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(mem, func(a, b replog.Entry) int { return cmp.Compare(a.Slot, b.Slot) })
	if limit > 0 && len(mem) > limit {
		mem = mem[:limit]
	}
	file, err := l.a.AcceptedBytes(from, limit, maxBytes)
	if err != nil {
		return nil, err
	}
	var read byteBudget
	for _, e := range file {
		read.add(e.Command)
	}
	if len(file) > 0 && (limit > 0 && len(file) >= limit || read.spent(maxBytes)) {
		n, last := 0, file[len(file)-1].Slot
		for n < len(mem) && mem[n].Slot <= last {
			n++
		}
		mem = mem[:n]
	}
	out := make([]replog.Entry, 0, len(file)+len(mem))
	var budget byteBudget
	for len(file) > 0 || len(mem) > 0 {
		if limit > 0 && len(out) >= limit || budget.spent(maxBytes) {
			break
		}
		switch {
		case len(mem) == 0 || (len(file) > 0 && file[0].Slot < mem[0].Slot):
			out, file = append(out, file[0]), file[1:]
		case len(file) > 0 && file[0].Slot == mem[0].Slot:
			out, file, mem = append(out, mem[0]), file[1:], mem[1:]
		default:
			out, mem = append(out, mem[0]), mem[1:]
		}
		budget.add(out[len(out)-1].Command)
	}
	return out, nil
}

// Stats returns the store's counters; SizeBytes counts both files.
func (l *LoggedAcceptor) Stats() AcceptorStats {
	l.mu.Lock()
	st := l.st.stats()
	l.mu.Unlock()
	fst := l.a.Stats()
	st.SizeBytes, st.Path = fst.SizeBytes+l.w.size(), fst.Path
	return st
}

// Close checkpoints what waits in memory and closes both files. Later calls
// return ErrClosed.
func (l *LoggedAcceptor) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if _, err := l.a.s.cached(); err != nil {
		return err
	}
	file, _ := l.a.s.cached()
	l.mu.Lock()
	dirty := len(l.overlay) > 0 || l.st.promised != file.promised || l.a.pendingCommit() > file.commit
	l.mu.Unlock()
	var err error
	if dirty {
		err = l.checkpoint()
	}
	if cerr := l.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (l *LoggedAcceptor) closeFiles() error {
	werr := l.w.close()
	if err := l.a.Close(); err != nil {
		return err
	}
	return werr
}
