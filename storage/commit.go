package storage

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Group commit. A writer enqueues a request. When no commit is running it
// becomes the leader: it takes every queued request and commits them in one
// read-write transaction and one fsync, then hands the lead to the first
// writer that queued meanwhile, if any. A lone writer commits at once; there
// is no timer.

// request is one writer's share of a commit.
type request[S any] struct {
	slots int                      // slots written, for Options.OnCommit
	apply func(*bolt.Tx, *S) error // writes; may return reject(err) before writing
	err   error
	done  chan bool // true: lead the next commit; false: err is the result
}

// commit runs apply in a transaction shared with concurrent writers and
// returns once the transaction is durable. apply updates the meta values in
// *S along with the file; they become visible (cached) only if the
// transaction commits. If the transaction fails, every writer in it gets the
// error.
func (s *store[S]) commit(slots int, apply func(*bolt.Tx, *S) error) error {
	r := &request[S]{slots: slots, apply: apply, done: make(chan bool, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return closedError(s.path)
	}
	s.queue = append(s.queue, r)
	if s.leading {
		s.mu.Unlock()
		if lead := <-r.done; !lead {
			return r.err
		}
		s.mu.Lock()
	}
	s.leading = true
	batch, state, closed := s.queue, s.state, s.closed
	s.queue = nil
	s.mu.Unlock()

	var err error
	if closed {
		err = closedError(s.path)
	} else {
		err = s.run(batch, &state)
	}

	s.mu.Lock()
	if err == nil {
		s.state = state
	}
	if len(s.queue) > 0 {
		s.queue[0].done <- true
	} else {
		s.leading = false
	}
	s.mu.Unlock()

	for _, q := range batch {
		if q.err == nil {
			q.err = err
		}
		if q != r {
			q.done <- false
		}
	}
	return r.err
}

// run commits batch in one transaction, applying it to state.
func (s *store[S]) run(batch []*request[S], state *S) (err error) {
	start := time.Now()
	slots := 0
	defer recoverCorrupt(s.path, &err)
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, q := range batch {
			if err := q.apply(tx, state); err != nil {
				var rj rejected
				if !errors.As(err, &rj) {
					return err
				}
				q.err = rj.error
				continue
			}
			slots += q.slots
		}
		return nil
	})
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return closedError(s.path)
	case err != nil:
		return commitError(s.path, err)
	}
	s.synced()
	now := time.Now()
	if s.onCommit != nil {
		s.onCommit(now.Sub(start), slots)
	}
	s.unmapIdle(now, slots >= unmapSlots)
	return nil
}
