package storage

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// A Sync of many entries writes them in commits of at most
// maxCommitEntries, so one commit touches a bounded number of pages.
func TestBufferedSyncCommitsInChunks(t *testing.T) {
	var mu sync.Mutex
	var commits []int
	o := &Options{NoSync: true, OnCommit: func(_ time.Duration, slots int) {
		mu.Lock()
		commits = append(commits, slots)
		mu.Unlock()
	}}
	const n = 2*maxCommitEntries + 100
	b, err := NewBufferedLearner(mustOpen(t, OpenLearner, tempPath(t, "l.db"), o), n+1) // one Append below the bound
	if err != nil {
		t.Fatal(err)
	}
	defer b.l.Close()
	if err := b.Append(run(0, n)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	commits = nil // the open's
	mu.Unlock()
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(commits)
	mu.Unlock()
	if want := []int{maxCommitEntries, maxCommitEntries, 100}; !slices.Equal(got, want) {
		t.Fatalf("a Sync of %d entries made commits of %v slots, want %v", n, got, want)
	}
	if c, err := b.l.Commit(); err != nil || c != n {
		t.Fatalf("the file's commit is %d, %v; want %d", c, err, n)
	}
}

// An Append below the buffer's bound goes on at once, even while a Sync is
// running and even with a lot buffered (a proposer's loop keeps
// heartbeating while a slow disk syncs); one that fills the buffer waits
// for the Sync, then writes everything.
func TestBufferedAppendDoesNotWaitForARunningSync(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxEntries int
	}{{"a learner's buffer", LearnerBufferEntries}, {"a proposer's applied index", appliedBufferEntries}} {
		t.Run(tc.name, func(t *testing.T) { appendWaitsOnlyWhenFull(t, tc.maxEntries) })
	}
}

func appendWaitsOnlyWhenFull(t *testing.T, maxEntries int) {
	maxPending := uint64(maxEntries)
	b, err := NewBufferedLearner(mustOpen(t, OpenLearner, tempPath(t, "l.db"), &Options{NoSync: true}), maxEntries)
	if err != nil {
		t.Fatal(err)
	}
	defer b.l.Close()
	// With no Sync running, an Append below the bound writes nothing
	// itself: the Sync beside the loop does.
	if err := b.Append(run(0, maxPending/2)); err != nil {
		t.Fatal(err)
	}
	if c, err := b.l.Commit(); err != nil || c != 0 {
		t.Fatalf("an Append of half the buffer wrote to the file itself (commit %d, %v)", c, err)
	}
	b.syncMu.Lock() // a Sync is running (a slow disk)
	done := make(chan error, 1)
	go func() { done <- b.Append(run(maxPending/2, maxPending-1)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		b.syncMu.Unlock()
		t.Fatalf("an Append below the bound waited for the running Sync")
	}
	go func() { done <- b.Append(run(maxPending-1, maxPending)) }()
	select {
	case err := <-done:
		b.syncMu.Unlock()
		t.Fatalf("an Append that fills the buffer returned (%v) while a Sync was running: nothing bounds the buffer", err)
	case <-time.After(200 * time.Millisecond):
	}
	b.syncMu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c, err := b.l.Commit(); err != nil || c != maxPending {
		t.Fatalf("after the full Append the file's commit is %d, %v; want %d (all written)", c, err, maxPending)
	}
}
