package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// store is what the three bbolt stores share: the file, the group committer
// (commit.go) and S, an in-memory copy of the store's meta values that every
// commit writes through.
type store[S any] struct {
	db       *bolt.DB
	path     string
	onCommit func(time.Duration, int)

	// unmapped is when the file's pages were last dropped from the
	// process's resident set (unmapIdle), in Unix nanoseconds.
	unmapped atomic.Int64

	mu      sync.Mutex
	state   S // the committed meta values
	closed  bool
	queue   []*request[S] // writers waiting for the next commit
	leading bool          // a writer is committing
}

// open opens (creating if needed) the bbolt file at path, creates buckets and
// loads S from the file with load.
func open[S any](path string, o *Options, buckets [][]byte, create func(*bolt.Tx) error, load func(*S, *bolt.Tx) error) (_ *store[S], err error) {
	opts := o.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.Timeout,
		NoSync:  opts.NoSync,
		// The free list is written with each commit: without it an open
		// walks every page of the file to rebuild it, and a learner
		// restarted behind millions of slots had its whole file resident
		// (385 MiB at 10 M slots) before it served a byte (issue 13).
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, openError(path, err)
	}
	s := &store[S]{db: db, path: path, onCommit: opts.OnCommit}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	// The file may be new: make its name durable before anything in it
	// is trusted to be.
	if err := syncDirOf(path, opts.NoSync); err != nil {
		return nil, err
	}
	defer recoverCorrupt("open "+path, &err)
	err = db.Update(func(tx *bolt.Tx) error {
		// A file whose first bucket is missing was never opened to the end:
		// it is new (created now, or by a start that crashed at once).
		isNew := tx.Bucket(buckets[0]) == nil
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if isNew && create != nil {
			if err := create(tx); err != nil {
				return err
			}
		}
		return load(&s.state, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	s.synced()
	// Opening touched pages: a learner reads its request index, and bbolt
	// walks the whole file when it finds no free list (a file written
	// before commits wrote one). Drop them now.
	s.unmapIdle(time.Now(), true)
	return s, nil
}

// unmapEvery is how often a store drops its file's pages from the
// process's resident set.
//
// bbolt reads through a shared mapping of the whole file, so every page a
// transaction touches stays in the resident set (RSS) until the kernel
// needs the memory back. A learner serving a catch-up reads its whole log
// (and its request-ID index was once written at random keys): over 10
// million slots a learner's RSS reached 2.3 GiB of file pages, although
// the kernel could take back all of it. After a commit or a read, once
// unmapEvery has passed, the store drops its mapping: the RSS is then the
// node's own memory and the pages touched in the last unmapEvery. The
// pages stay in the page cache, so touching them again costs a minor
// fault, not a disk read.
const unmapEvery = 100 * time.Millisecond

// unmapSlots: a commit of at least this many slots drops the file's pages
// at once, whenever the last time was (maxCommitEntries bounds the slots of
// a commit).
const unmapSlots = 1024

// unmapIdle drops the file's pages from the resident set when unmapEvery
// has passed since the last time, or at once when big. It runs in a read transaction, which
// keeps bbolt from remapping the file meanwhile; other transactions may
// run: they map again what they touch. An error is ignored: the pages
// then stay resident, as they would without this.
func (s *store[S]) unmapIdle(now time.Time, big bool) {
	last := s.unmapped.Load()
	if !big && now.UnixNano()-last < int64(unmapEvery) || !s.unmapped.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	_ = s.db.View(func(tx *bolt.Tx) error { return unmapTx(tx) })
}

// unmapTx drops the pages of tx's file from the process's resident set
// (unmapPages): tx keeps the mapping alive, and what it reads next is
// mapped again.
func unmapTx(tx *bolt.Tx) error { return unmapPages(tx.DB().Info().Data, uintptr(tx.Size())) }

// openError wraps an error of bolt.Open.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("storage: open %s: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("storage: open %s: %w: %w", path, ErrCorrupt, err)
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return fmt.Errorf("storage: %w", err) // names the file already
	}
	// Other errors of a file that opened are about its content ("file size
	// too small", mmap of a bad size).
	return fmt.Errorf("storage: open %s: %w: %w", path, ErrCorrupt, err)
}

// recoverCorrupt turns a panic of bbolt (it panics on invalid pages) into
// ErrCorrupt in *err. Use it deferred.
func recoverCorrupt(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("storage: %s: %w: %v", what, ErrCorrupt, r)
	}
}

// synced tells the tests a commit is durable: bbolt fsyncs every commit
// unless NoSync (bbolt's tx.Commit).
func (s *store[S]) synced() {
	if !s.db.NoSync {
		fileSynced(s.path)
	}
}

// cached returns the committed meta values.
func (s *store[S]) cached() (S, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		var zero S
		return zero, closedError(s.path)
	}
	return s.state, nil
}

// view runs fn in a read-only transaction.
func (s *store[S]) view(fn func(*bolt.Tx) error) (err error) {
	if _, err := s.cached(); err != nil {
		return err
	}
	defer recoverCorrupt(s.path, &err)
	if err := s.db.View(fn); err != nil {
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return closedError(s.path)
		}
		return fmt.Errorf("storage: %s: %w", s.path, err)
	}
	s.unmapIdle(time.Now(), false)
	return nil
}

// size returns the size of the file in bytes (0 when it cannot tell).
func (s *store[S]) size() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// close closes the file once in-flight commits are done; writers still
// queued get ErrClosed.
func (s *store[S]) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return closedError(s.path)
	}
	s.closed = true
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", s.path, err)
	}
	return nil
}
