package storage

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// gate holds the first commit of a store (in its OnCommit) until n writers
// are queued behind it, so that the test knows which commit each writer joins.
type gate struct {
	t       *testing.T
	queued  func() int
	n       int
	armed   atomic.Bool // hold the next commit
	commits atomic.Int64
	slots   atomic.Int64
}

func (g *gate) onCommit(_ time.Duration, slots int) {
	g.commits.Add(1)
	g.slots.Add(int64(slots))
	if !g.armed.CompareAndSwap(true, false) {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); g.queued() < g.n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			g.t.Errorf("only %d writers queued, want %d", g.queued(), g.n)
			return
		}
	}
}

// queueLen returns how many writers wait for the next commit of s.
func queueLen[S any](s *store[S]) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// TestGroupCommit checks that writers arriving during a commit share the
// next one.
func TestGroupCommit(t *testing.T) {
	const writers = 64
	g := &gate{t: t, n: writers - 1}
	a := mustOpen(t, OpenAcceptor, tempPath(t, "a.db"), &Options{OnCommit: g.onCommit})
	g.queued = func() int { return queueLen(a.s) }

	if err := a.Accept(0, []replog.Entry{entry(1000, 1)}); err != nil { // a lone writer; it passes the gate
		t.Fatal(err)
	}
	if g.commits.Load() != 1 || g.slots.Load() != 1 {
		t.Fatalf("lone Save: %d commits of %d slots, want 1 of 1", g.commits.Load(), g.slots.Load())
	}
	g.commits.Store(0)
	g.armed.Store(true)
	var wg sync.WaitGroup
	for w := range uint64(writers) {
		wg.Go(func() {
			if err := a.Accept(0, []replog.Entry{entry(w, 1)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c := g.commits.Load(); c != 2 {
		t.Errorf("%d writers made %d commits, want 2 (the first, then everyone who queued behind it)", writers, c)
	}
	if st := a.Stats(); st.AcceptedCount != writers+1 {
		t.Errorf("Stats = %+v, want %d accepted", st, writers+1)
	}
}

// TestCommitErrors checks that a failing transaction fails every writer in
// it and changes nothing, while a rejection fails only its writer.
func TestCommitErrors(t *testing.T) {
	errBoom, errNo := errors.New("boom"), errors.New("no")
	g := &gate{t: t, n: 3}
	a := mustOpen(t, OpenAcceptor, tempPath(t, "a.db"), &Options{OnCommit: g.onCommit})
	g.queued = func() int { return queueLen(a.s) }
	g.armed.Store(true)
	promise := func(b replog.Ballot) func(*bolt.Tx, *acceptorState) error {
		return func(tx *bolt.Tx, st *acceptorState) error {
			old := *st
			st.promised = b
			return st.put(tx, old)
		}
	}
	fail := func(err error) func(*bolt.Tx, *acceptorState) error {
		return func(*bolt.Tx, *acceptorState) error { return err }
	}

	// The first commit holds the gate while three writers queue: one writes,
	// one is rejected, one fails the transaction (for all but the rejected).
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.s.commit(0, promise(1)); err != nil {
			t.Error(err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); g.commits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	var errs [3]error
	for i, apply := range []func(*bolt.Tx, *acceptorState) error{promise(7), fail(reject(errNo)), fail(errBoom)} {
		for deadline := time.Now().Add(10 * time.Second); queueLen(a.s) < i && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // keep the queue in order
		}
		wg.Go(func() { errs[i] = a.s.commit(0, apply) })
	}
	wg.Wait()
	if !errors.Is(errs[0], errBoom) || errs[1] != errNo || !errors.Is(errs[2], errBoom) {
		t.Errorf("errors = %v, want boom, no, boom", errs)
	}
	if p, _ := a.Promised(); p != 1 {
		t.Errorf("after the failed commit Promised = %d, want 1", p)
	}

	// Alone: the rejection does not stop the commit.
	if err := a.s.commit(0, fail(reject(errNo))); err != errNo {
		t.Errorf("rejected commit = %v, want %v", err, errNo)
	}
	if err := a.s.commit(0, promise(9)); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.Promised(); p != 9 {
		t.Errorf("Promised = %d, want 9", p)
	}
}
