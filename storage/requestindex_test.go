package storage

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// firstSlots checks FirstSlot for every request ID of want (a slot, or -1
// for not indexed).
func firstSlots(t *testing.T, l *Learner, when string, want map[string]int) {
	t.Helper()
	for id, w := range want {
		slot, ok, err := l.FirstSlot(id)
		switch {
		case err != nil:
			t.Errorf("%s: FirstSlot(%q): %v", when, id, err)
		case w < 0 && ok:
			t.Errorf("%s: FirstSlot(%q) = %d; want not indexed", when, id, slot)
		case w >= 0 && (!ok || slot != uint64(w)):
			t.Errorf("%s: FirstSlot(%q) = %d, %v; want %d", when, id, slot, ok, w)
		}
	}
}

// Every request ID with the same hash: each still answers with its own
// slot, an ID never written answers with none although its hash is
// indexed, and forgetting one leaves the others.
func TestRequestIndexHashClash(t *testing.T) {
	path := tempPath(t, "l.db")
	l := mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	l.idx.hash = func(string) uint64 { return 7 }
	if err := l.Append(run(0, 10)); err != nil {
		t.Fatal(err)
	}
	firstSlots(t, l, "ten IDs, one hash", map[string]int{"r0": 0, "r3": 3, "r9": 9, "r10": -1, "never": -1})
	// r3 again, outside its window before the store forgot it: a first
	// copy again, at its new slot, which forgetting the old one keeps.
	if err := l.Append([]replog.ChosenEntry{chosen(10, "r3", -1)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(5); err != nil {
		t.Fatal(err)
	}
	firstSlots(t, l, "after forgetting slots below 5", map[string]int{"r0": -1, "r3": 10, "r4": -1, "r5": 5, "r9": 9})
	// r2 again, forgotten already: a first copy again too.
	if err := l.Append([]replog.ChosenEntry{chosen(11, "r2", -1), chosen(12, "r7", 7)}); err != nil {
		t.Fatal(err)
	}
	firstSlots(t, l, "after r2 again", map[string]int{"r2": 11, "r3": 10, "r7": 7, "r8": 8})
	if n := l.idx.len(); n != 7 {
		t.Errorf("the index holds %d IDs, want 7 (r5..r9, r3, r2)", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the index is built again from the file (with the real hash).
	l = mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	firstSlots(t, l, "reopened", map[string]int{"r0": -1, "r2": 11, "r3": 10, "r5": 5, "r7": 7, "r9": 9, "never": -1})
}

// A file of the layout before request_slots (the index by request ID in
// "requests") opens with its index moved: the same answers, the old bucket
// gone.
func TestLearnerOpensTheOldRequestLayout(t *testing.T) {
	path := tempPath(t, "l.db")
	l := mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	if err := l.Append(append(run(0, 100), chosen(100, "r5", 5))); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(20); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(bucketRequests)
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketRequestSlots).ForEach(func(k, id []byte) error {
			return old.Put(bytes.Clone(id), bytes.Clone(k))
		})
		if err != nil {
			return err
		}
		return tx.DeleteBucket(bucketRequestSlots)
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	firstSlots(t, l, "the old layout opened", map[string]int{"r5": -1, "r19": -1, "r20": 20, "r99": 99, "r100": -1})
	if n := keys(t, l.s, bucketRequestSlots); n != 80 {
		t.Errorf("request_slots holds %d IDs, want 80", n)
	}
	err = l.s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRequests) != nil {
			return fmt.Errorf("the old bucket is still there")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
