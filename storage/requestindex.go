package storage

import (
	"hash/maphash"
	"sync"
)

// requestIndex is a learner store's request-ID index, in memory: the slot of
// the first copy of each request ID in the dedup window, by a 64-bit hash of
// the ID. The file keeps the same first copies by slot (bucketRequestSlots):
// an open reads them to build the index, and a lookup checks the ID at the
// slot a hash gives, so two IDs with one hash never answer for each other.
//
// Why not in the file by ID: bbolt kept the index sorted by request ID, so
// each write inserted at random keys and each forget deleted at random keys,
// one page each. That was half of a learner's CPU and most of the pages a
// proposer and a learner had resident over 10 million slots (issue 13).
// By slot, the file is written at its end and forgotten at its start; here
// an ID costs about 26 bytes (no pointers, nothing for the GC to scan), so
// the default window of 1,048,576 slots is about 27 MB.
type requestIndex struct {
	hash func(id string) uint64 // a seeded maphash; tests make clashes with their own

	mu    sync.Mutex
	slots map[uint64]uint64 // hash of a request ID → slot of its first copy
	// clash holds the request IDs whose hash an indexed ID of another
	// slot had when they were added: almost always empty.
	clash map[string]uint64
}

func newRequestIndex() *requestIndex {
	seed := maphash.MakeSeed()
	return &requestIndex{hash: func(id string) uint64 { return maphash.String(seed, id) },
		slots: map[uint64]uint64{}, clash: map[string]uint64{}}
}

// lookup returns the slot of id's first copy. sure is false when the slot
// came by the hash alone: the caller checks the ID at it.
func (x *requestIndex) lookup(id string) (slot uint64, sure, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if slot, ok := x.clash[id]; ok {
		return slot, true, true
	}
	slot, ok = x.slots[x.hash(id)]
	return slot, false, ok
}

// add records slot as the first copy of id, replacing an earlier one.
// idAt reads the ID the file holds at a slot ("" for none): it tells the
// same ID again from another one with the same hash.
func (x *requestIndex) add(id string, slot uint64, idAt func(uint64) (string, error)) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.clash[id]; ok {
		x.clash[id] = slot
		return nil
	}
	h := x.hash(id)
	if s, ok := x.slots[h]; ok && s != slot {
		other, err := idAt(s)
		if err != nil {
			return err
		}
		if other != "" && other != id {
			x.clash[id] = slot
			return nil
		}
	}
	x.slots[h] = slot
	return nil
}

// remove forgets id's first copy if it is at slot.
func (x *requestIndex) remove(id string, slot uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.clash[id]; ok {
		if s == slot {
			delete(x.clash, id)
		}
		return
	}
	if h := x.hash(id); x.slots[h] == slot {
		delete(x.slots, h)
	}
}

// len returns how many IDs the index holds.
func (x *requestIndex) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.slots) + len(x.clash)
}

// indexOp is one change a write made to the file's first copies, applied to
// the index once the write committed (add, or remove when !add).
type indexOp struct {
	id   string
	slot uint64
	add  bool
}
