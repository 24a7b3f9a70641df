package storage

import (
	"hash/maphash"
	"math/bits"
	"sync"
)

// requestIndex is a learner store's request-ID index, in memory: the slot of
// the first copy of each request ID in the dedup window, by a hash of the
// ID. The file keeps the same first copies by slot (bucketRequestSlots): an
// open reads them to build the index, and a lookup checks the ID at the
// slot a hash gives, so two IDs with one hash never answer for each other.
//
// Why not in the file by ID: bbolt kept the index sorted by request ID, so
// each write inserted at random keys and each forget deleted at random keys,
// one page each. That was half of a learner's CPU and most of the pages a
// proposer and a learner had resident over 10 million slots (issue 13).
// By slot, the file is written at its end and forgotten at its start.
//
// Why not a Go map: a map[uint64]uint64 of the default window's 1,048,576
// IDs held 36-38 MB in a 10 M-slot soak, half of a learner's live heap (and
// the Go heap grows to twice that before it collects). The table here is 8
// bytes a cell, at most 3/4 full: 16 MiB for that window (hashCells).
type requestIndex struct {
	hash func(id string) uint64 // a seeded maphash; tests make clashes with their own

	mu    sync.Mutex
	cells hashCells // request IDs' fingerprints → slots of their first copies
	// clash holds the request IDs whose fingerprint an indexed ID of
	// another slot had when they were added: a few in a million.
	clash map[string]uint64
}

func newRequestIndex() *requestIndex {
	seed := maphash.MakeSeed()
	return &requestIndex{hash: func(id string) uint64 { return maphash.String(seed, id) },
		clash: map[string]uint64{}}
}

// lookup returns the slot of id's first copy. sure is false when the slot
// came by the hash alone: the caller checks the ID at it.
func (x *requestIndex) lookup(id string) (slot uint64, sure, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if slot, ok := x.clash[id]; ok {
		return slot, true, true
	}
	slot, ok = x.cells.get(fingerprint(x.hash(id)))
	return slot, false, ok
}

// add records slot as the first copy of id, replacing an earlier one.
// idAt reads the ID the file holds at a slot ("" for none): it tells the
// same ID again from another one with the same fingerprint.
func (x *requestIndex) add(id string, slot uint64, idAt func(uint64) (string, error)) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.clash[id]; ok {
		x.clash[id] = slot
		return nil
	}
	fp := fingerprint(x.hash(id))
	if s, ok := x.cells.get(fp); ok && s != slot {
		other, err := idAt(s)
		if err != nil {
			return err
		}
		if other != "" && other != id {
			x.clash[id] = slot
			return nil
		}
	}
	x.cells.put(fp, slot)
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
	x.cells.remove(fingerprint(x.hash(id)), slot)
}

// len returns how many IDs the index holds.
func (x *requestIndex) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cells.n + len(x.clash)
}

// fingerprint is the part of a request ID's hash the index keeps: its top
// 32 bits, never 0 (an empty cell). The table's home cell for it is its
// top bits, so two IDs with one fingerprint have one home.
func fingerprint(h uint64) uint32 { return uint32(h>>32) | 1 }

// hashCells is an open-addressing hash table from fingerprints to slots:
// linear probing from a fingerprint's home cell (its top bits), and
// deletion by shifting the cells after a hole back toward their homes, so
// no deleted cell is left behind to lengthen a probe. A cell is 8 bytes,
// fingerprint<<32 | the slot's low 32 bits, 0 when empty; the slot is
// rebuilt as the one with those low bits at or below the highest slot put,
// which is right while the slots held span less than 2^32: a learner holds
// one dedup window (at most replog.MaxDedupWindow = 2^30 slots; it forgets
// at least as fast as it appends, Learner.write). A table holds no two
// cells with one fingerprint (add sends the second ID to clash).
type hashCells struct {
	cells []uint64 // a power of two long, at most 3/4 full
	n     int      // cells in use
	high  uint64   // the highest slot put
}

// minHashCells is the table's first size.
const minHashCells = 1024

// home is the first cell a fingerprint probes.
func (t *hashCells) home(fp uint32) int {
	return int(fp >> (32 - bits.Len(uint(len(t.cells)-1))))
}

// slot rebuilds a cell's slot from its low 32 bits.
func (t *hashCells) slot(cell uint64) uint64 {
	return t.high - uint64(uint32(t.high)-uint32(cell))
}

// find returns the cell of fp, or the empty cell that ends its probe.
func (t *hashCells) find(fp uint32) (i int, found bool) {
	if len(t.cells) == 0 {
		return 0, false
	}
	mask := len(t.cells) - 1
	for i = t.home(fp); ; i = (i + 1) & mask {
		switch c := t.cells[i]; {
		case c == 0:
			return i, false
		case uint32(c>>32) == fp:
			return i, true
		}
	}
}

// get returns the slot of fp.
func (t *hashCells) get(fp uint32) (uint64, bool) {
	i, ok := t.find(fp)
	if !ok {
		return 0, false
	}
	return t.slot(t.cells[i]), true
}

// put sets fp's slot, adding its cell if it has none.
func (t *hashCells) put(fp uint32, slot uint64) {
	if (t.n+1)*4 > len(t.cells)*3 {
		t.grow()
	}
	t.high = max(t.high, slot)
	i, found := t.find(fp)
	if !found {
		t.n++
	}
	t.cells[i] = uint64(fp)<<32 | uint64(uint32(slot))
}

// grow doubles the table (from minHashCells), moving every cell.
func (t *hashCells) grow() {
	old := t.cells
	t.cells = make([]uint64, max(minHashCells, 2*len(old)))
	mask := len(t.cells) - 1
	for _, c := range old {
		if c == 0 {
			continue
		}
		i := t.home(uint32(c >> 32))
		for t.cells[i] != 0 {
			i = (i + 1) & mask
		}
		t.cells[i] = c
	}
}

// remove deletes fp's cell if its slot is slot. Each cell after the hole,
// up to the next empty one, moves back into the hole when the hole lies
// between its home and where it is; the hole moves to where it was.
func (t *hashCells) remove(fp uint32, slot uint64) {
	hole, found := t.find(fp)
	if !found || t.slot(t.cells[hole]) != slot {
		return
	}
	t.n--
	mask := len(t.cells) - 1
	for i := (hole + 1) & mask; t.cells[i] != 0; i = (i + 1) & mask {
		// How far the cell is from its home, and from the hole.
		if (i-t.home(uint32(t.cells[i]>>32)))&mask >= (i-hole)&mask {
			t.cells[hole] = t.cells[i]
			hole = i
		}
	}
	t.cells[hole] = 0
}

// indexOp is one change a write made to the file's first copies, applied to
// the index once the write committed (add, or remove when !add).
type indexOp struct {
	id   string
	slot uint64
	add  bool
}
