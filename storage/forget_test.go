package storage

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// keys counts the keys of bucket b in the file of s.
func keys[S any](t *testing.T, s *store[S], b []byte) int {
	t.Helper()
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(b).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The applied index keeps the dedup window only: after Forget and a Sync the
// request IDs and records below the floor are gone from the file, the rest
// answer as before, and a reopened index starts where it was (no replay)
// and remembers what it forgot.
func TestProposerForgetsOutsideDedupWindow(t *testing.T) {
	path := tempPath(t, "p.db")
	p := mustOpen(t, OpenProposer, path, nil)
	if err := p.Apply(run(0, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(&replog.Ready{DedupFloor: 900}); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if n := keys(t, p.applied.l.s, bucketRequestSlots); n != 100 {
			t.Errorf("round %d: the file holds %d request IDs, want 100 (slots 900..999)", round, n)
		}
		if n := p.applied.l.idx.len(); n != 100 {
			t.Errorf("round %d: the index in memory holds %d request IDs, want 100", round, n)
		}
		if n := keys(t, p.applied.l.s, bucketChosen); n != 100 {
			t.Errorf("round %d: applied index holds %d records, want 100", round, n)
		}
		if s, ok, err := p.FirstSlot("r950"); err != nil || !ok || s != 950 {
			t.Errorf("round %d: FirstSlot(r950) = %d, %v, %v; want 950", round, s, ok, err)
		}
		if s, ok, err := p.FirstSlot("r10"); err != nil || ok {
			t.Errorf("round %d: FirstSlot(r10) = %d, %v, %v; want forgotten", round, s, ok, err)
		}
		if a, err := p.Applied(); err != nil || a != 1000 {
			t.Errorf("round %d: Applied = %d, %v; want 1000", round, a, err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		p = mustOpen(t, OpenProposer, path, nil)
	}
	// A request again outside its window is a first copy again: the index
	// points at the new one, and forgetting the old slot keeps it.
	again := chosen(1000, "r950", -1)
	if err := p.Apply([]replog.ChosenEntry{again}); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(&replog.Ready{DedupFloor: 960}); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	if s, ok, err := p.FirstSlot("r950"); err != nil || !ok || s != 1000 {
		t.Errorf("FirstSlot(r950) = %d, %v, %v; want its new first copy 1000", s, ok, err)
	}
}

// A learner's index forgets by bounded steps (minForget when nothing is
// appended, as many as are appended otherwise), and keeps its log: every
// record stays readable.
func TestLearnerForgetsInBoundedSteps(t *testing.T) {
	file := mustOpen(t, OpenLearner, tempPath(t, "l.db"), &Options{NoSync: true})
	b, err := NewBufferedLearner(file, LearnerBufferEntries)
	if err != nil {
		t.Fatal(err)
	}
	indexed := func(want int, when string) {
		t.Helper()
		if got := keys(t, file.s, bucketRequestSlots); got != want {
			t.Errorf("%s the file holds %d IDs, want %d", when, got, want)
		}
		if got := file.idx.len(); got != want {
			t.Errorf("%s the index in memory holds %d IDs, want %d", when, got, want)
		}
	}
	n := uint64(minForget + minForget/2)
	if err := b.Append(run(0, n)); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&replog.Ready{DedupFloor: n}); err != nil { // as a learner's Ready says
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil { // nothing new to write: one step of minForget
		t.Fatal(err)
	}
	indexed(int(n)-minForget, fmt.Sprintf("after one Sync with nothing appended (a step of %d)", minForget))
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	indexed(0, "after two Syncs")
	// A write of more than minForget entries forgets as many: the index
	// stays at the window however fast the log grows.
	m := n + 3*minForget
	if err := b.Append(run(n, m)); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&replog.Ready{DedupFloor: m}); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	indexed(0, fmt.Sprintf("after a Sync of %d entries, all below the window", m-n))
	if got := keys(t, file.s, bucketChosen); got != int(m) {
		t.Errorf("the learner's log holds %d records, want all %d", got, m)
	}
	if _, ok, _ := b.FirstSlot(fmt.Sprint("r", m-1)); ok {
		t.Errorf("the last request ID is still indexed")
	}
}

// A Sync with nothing to write or forget touches no file, so one that runs
// beside a shutdown (the proposer syncs its applied index each tick) does
// not fail on the closed file.
func TestIdleSyncAfterClose(t *testing.T) {
	p := mustOpen(t, OpenProposer, tempPath(t, "p.db"), nil)
	if err := p.Apply(run(0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(&replog.Ready{DedupFloor: 5}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil { // syncs and forgets
		t.Fatal(err)
	}
	if err := p.Sync(); err != nil {
		t.Errorf("an idle Sync after Close = %v, want nil", err)
	}
}
