// Package logmodel is the sequential specification of the replicated log,
// as a porcupine model, shared by the end-to-end tests (test/e2e) and the
// Docker drills (test/drill).
//
// The log is an append-only list of (slot, value) with unique values:
//
//   - a write of v that returns slot s appends v at s. It is legal when s is
//     above every slot in the list: a write that starts after another one
//     was acknowledged gets a later slot, and the log never grows at its
//     front.
//   - a read is legal when what it returned is exactly the list, slots
//     included. A read's output is a Log (the entries, compared one by one)
//     or, where a history is too large to keep every entry it read, a Digest
//     (the count, the last slot and a sum of one 64-bit hash per entry).
//
// A write whose outcome the client never learned is the caller's to place:
// its output is the slot its value holds in the final log (Unknown set) and
// its return time is the end of the history; one whose value is not in the
// final log is left out of the history.
package logmodel

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Entry is one value of the log at its slot.
type Entry struct {
	Slot  uint64
	Value string
}

// Input is an operation's input: a write of Value, or a read.
type Input struct {
	Write bool
	Value string // for writes
}

// WriteOutput is a write's output: the slot it was acknowledged with (or,
// for a write whose outcome is unknown, the slot of its value in the final
// log).
type WriteOutput struct {
	Slot    uint64
	Unknown bool // the slot comes from the final log
}

// Digest sums up a log in constant space: the number of values, the slot
// of the last one (-1 when empty) and the sum of one hash per entry. It is
// a read's output when the history keeps no entries.
type Digest struct {
	N    int
	Last int64
	Sum  uint64
}

// Empty is the digest of the empty log.
var Empty = Digest{Last: -1}

// Add returns the digest of the log d sums up with (slot, value) appended.
func (d Digest) Add(slot uint64, value string) Digest {
	return Digest{N: d.N + 1, Last: int64(slot), Sum: d.Sum + entryHash(slot, value)}
}

// DigestOf returns the digest of entries (in slot order).
func DigestOf(entries []Entry) Digest {
	d := Empty
	for _, e := range entries {
		d = d.Add(e.Slot, e.Value)
	}
	return d
}

// Log is a read's output that keeps every entry read.
type Log struct {
	Entries []Entry
	digest  Digest
}

// NewLog returns the output of a read that returned entries (in slot
// order); the model owns entries from then on.
func NewLog(entries []Entry) Log { return Log{Entries: entries, digest: DigestOf(entries)} }

func entryHash(slot uint64, value string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(value))
	return splitmix(h.Sum64() ^ splitmix(slot+0x9e3779b97f4a7c15))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// state is an immutable list that shares its prefix with the states it grew
// from, with its digest, so that most comparisons are O(1).
type state struct {
	last *cell
	d    Digest
}

type cell struct {
	e    Entry
	prev *cell
}

func (s state) append(e Entry) state {
	return state{last: &cell{e: e, prev: s.last}, d: s.d.Add(e.Slot, e.Value)}
}

// is reports whether the list is exactly the log l.
func (s state) is(l Log) bool {
	if s.d != l.digest || s.d.N != len(l.Entries) {
		return false
	}
	c := s.last
	for i := len(l.Entries) - 1; i >= 0; i-- {
		if c.e != l.Entries[i] {
			return false
		}
		c = c.prev
	}
	return true
}

func (s state) equal(o state) bool {
	if s.d != o.d {
		return false
	}
	for a, b := s.last, o.last; a != b; a, b = a.prev, b.prev {
		if a.e != b.e {
			return false
		}
	}
	return true
}

func (s state) entries() []Entry {
	var es []Entry
	for c := s.last; c != nil; c = c.prev {
		es = append(es, c.e)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// Model is the porcupine model of the log. Inputs are Input; a write's
// output is a WriteOutput, a read's a Log or a Digest.
var Model = porcupine.Model{
	Init: func() any { return state{d: Empty} },
	Step: func(st, input, output any) (bool, any) {
		s := st.(state)
		in := input.(Input)
		if in.Write {
			out := output.(WriteOutput)
			if int64(out.Slot) <= s.d.Last {
				return false, s
			}
			return true, s.append(Entry{Slot: out.Slot, Value: in.Value})
		}
		switch out := output.(type) {
		case Log:
			return s.is(out), s
		case Digest:
			return s.d == out, s
		}
		panic(fmt.Sprintf("logmodel: a read's output is a Log or a Digest, not %T", output))
	},
	Equal: func(a, b any) bool { return a.(state).equal(b.(state)) },
	Hash: func(st any) uint64 {
		d := st.(state).d
		return d.Sum ^ splitmix(uint64(d.N)) ^ uint64(d.Last)
	},
	DescribeOperation: func(input, output any) string {
		in := input.(Input)
		if in.Write {
			out := output.(WriteOutput)
			if out.Unknown {
				return fmt.Sprintf("write(%s) -> ? (slot %d in the final log)", in.Value, out.Slot)
			}
			return fmt.Sprintf("write(%s) -> slot %d", in.Value, out.Slot)
		}
		switch out := output.(type) {
		case Log:
			return "read() -> " + describe(out.Entries)
		case Digest:
			return fmt.Sprintf("read() -> %d values, last slot %d", out.N, out.Last)
		}
		return fmt.Sprintf("read() -> %v", output)
	},
	DescribeState: func(st any) string { return describe(st.(state).entries()) },
}

// describe shows the length and the last few entries of a log.
func describe(es []Entry) string {
	const show = 4
	var parts []string
	if len(es) > show {
		parts = append(parts, "…")
	}
	for _, e := range es[max(0, len(es)-show):] {
		parts = append(parts, fmt.Sprintf("%d:%s", e.Slot, e.Value))
	}
	return fmt.Sprintf("%d entries [%s]", len(es), strings.Join(parts, " "))
}
