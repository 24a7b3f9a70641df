package storage

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
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

// The index against a map, through what a learner does to it: first
// copies appended at rising slots (from below 2^32 to above it, so the
// slots' low bits wrap), retries of IDs still in the window skipped, and
// the first copies below a floor one window back forgotten in slot order.
// Hashes of few fingerprints (clashes, long runs of cells, a run across
// the table's end) and the real hash (the table grows) both answer as
// the map does.
func TestRequestIndexAgainstAMap(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, tc := range []struct {
		name   string
		hash   func(string) uint64
		ids    int // request IDs drawn from
		window uint64
	}{
		{"40 fingerprints", func(id string) uint64 {
			h := maphash.String(seed, id)
			return (h%40 + 32728) << 49 // 40 fingerprints, homes in the last cells: runs wrap past the end
		}, 300, 200},
		{"the real hash", nil, 6000, 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newRequestIndex()
			if tc.hash != nil {
				x.hash = tc.hash
			}
			file := map[uint64]string{}  // the first copies the file holds
			model := map[string]uint64{} // the index it should be
			idAt := func(slot uint64) (string, error) { return file[slot], nil }
			rng := rand.New(rand.NewPCG(1, 2))
			const first = 1<<32 - 5000
			floor := uint64(first)
			check := func(slot uint64) {
				t.Helper()
				for i := range tc.ids {
					id := fmt.Sprintf("req-%d", i)
					got, sure, ok := x.lookup(id)
					if ok && !sure && file[got] != id {
						ok = false // the hash matched another ID: the learner reads the file
					}
					if want, in := model[id]; ok != in || ok && got != want {
						t.Fatalf("at slot %d: lookup(%s) = %d, %v; want %d, %v", slot, id, got, ok, want, in)
					}
				}
				if x.len() != len(model) {
					t.Fatalf("at slot %d: the index holds %d IDs, want %d", slot, x.len(), len(model))
				}
			}
			for slot := uint64(first); slot < first+12000; slot++ {
				id := fmt.Sprintf("req-%d", rng.IntN(tc.ids))
				if _, dup := model[id]; !dup {
					file[slot], model[id] = id, slot
					if err := x.add(id, slot, idAt); err != nil {
						t.Fatal(err)
					}
				}
				for ; slot >= tc.window && floor <= slot-tc.window; floor++ {
					if id, ok := file[floor]; ok {
						delete(file, floor)
						delete(model, id)
						x.remove(id, floor)
					}
				}
				if slot%97 == 0 {
					check(slot)
				}
			}
			check(first + 12000)
		})
	}
}

// The slots a cell holds keep their high bits across 2^32 and its
// multiples, and a table that wraps past its end still finds its cells.
func TestHashCellsSlotsAcrossTheirLowBits(t *testing.T) {
	var c hashCells
	slots := []uint64{1<<32 - 2, 1<<32 - 1, 1 << 32, 1<<32 + 1, 3<<32 - 1, 3 << 32}
	for i, s := range slots {
		fp := uint32(0xffff0000) | uint32(i)<<1 | 1 // one home: the table's last cell
		c.put(fp, s)
		for j, s := range slots[:i+1] {
			got, ok := c.get(uint32(0xffff0000) | uint32(j)<<1 | 1)
			want := s
			if s+1<<32 <= slots[i] {
				want = s + (slots[i]-s)>>32<<32 // more than 2^32 below the highest: outside any window
			}
			if !ok || got != want {
				t.Errorf("after putting %d: cell %d holds %d, %v; want %d", slots[i], j, got, ok, want)
			}
		}
	}
}

// The default window's IDs take 16 MiB of cells: 2^21 of 8 bytes, at most
// 3/4 full (a Go map of them held 36-38 MB in the 10 M-slot soak).
func TestRequestIndexBytesForTheDefaultWindow(t *testing.T) {
	x := newRequestIndex()
	window := replog.DefaultConfig().DedupWindow
	for slot := range uint64(window) {
		if err := x.add(fmt.Sprint(slot), slot, func(s uint64) (string, error) { return fmt.Sprint(s), nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(x.cells.cells)*8, 16<<20; got != want || x.len() != window {
		t.Errorf("%d IDs in %d bytes of cells; want %d IDs in %d", x.len(), got, window, want)
	}
	// A fingerprint is 31 bits of hash: a few hundred of a million IDs
	// share one with another, and wait in clash by their whole ID.
	if len(x.clash) > 1000 {
		t.Errorf("%d of %d IDs in clash; want a few hundred", len(x.clash), window)
	}
	t.Logf("%d of %d IDs in clash", len(x.clash), window)
}
