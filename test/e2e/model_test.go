package e2e

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// The sequential specification of the replicated log, for porcupine: an
// append-only list of (slot, value) with unique values.
//
//   - write(v) -> s appends v at slot s. It is legal when s is above every
//     slot in the list: a write that starts after another one was
//     acknowledged gets a later slot, and the log never grows at its front.
//   - read() -> entries is legal when entries is exactly the list, slots
//     included.
//
// A write whose outcome the client never learned (every attempt failed or
// timed out) is open-ended: its return time is math.MaxInt64, so it may take
// effect at any point after its call, or never. The checker needs its slot
// to step it, which only the final log knows: if the value is in the final
// log, the write took effect at that slot; if it is not (and the log was read
// after every node settled), it never took effect, and it is left out of the
// history, which is what linearizing it after every other operation would
// mean. A value read by someone but missing from the final log then has no
// write to explain it, and the checker rejects the history: a lost write.

// logInput is an operation's input.
type logInput struct {
	Write bool
	Value string // for writes
}

// writeOutput is a write's output: the slot it was acknowledged with (or,
// for an open-ended write, the slot of its value in the final log).
type writeOutput struct {
	Slot    uint64
	Unknown bool // open-ended: the slot comes from the final log
}

// readOutput is a read's output: the log it returned.
type readOutput struct {
	Entries []slotValue
	hash    uint64
}

type slotValue struct {
	Slot  uint64
	Value string
}

// logState is an immutable list that shares its prefix with the states it
// grew from, with a running hash so that most comparisons are O(1).
type logState struct {
	last     *logCell
	n        int
	lastSlot int64 // -1 when empty
	hash     uint64
}

type logCell struct {
	sv   slotValue
	prev *logCell
}

func extendHash(h uint64, sv slotValue) uint64 {
	f := fnv.New64a()
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], h)
	binary.BigEndian.PutUint64(buf[8:], sv.Slot)
	f.Write(buf[:])
	f.Write([]byte(sv.Value))
	return f.Sum64()
}

func newReadOutput(entries []Entry) readOutput {
	out := readOutput{Entries: make([]slotValue, len(entries))}
	for i, e := range entries {
		out.Entries[i] = slotValue{Slot: e.Slot, Value: e.Value}
		out.hash = extendHash(out.hash, out.Entries[i])
	}
	return out
}

func (s logState) append(sv slotValue) logState {
	return logState{last: &logCell{sv: sv, prev: s.last}, n: s.n + 1, lastSlot: int64(sv.Slot), hash: extendHash(s.hash, sv)}
}

// is reports whether the list is exactly entries.
func (s logState) is(r readOutput) bool {
	if s.n != len(r.Entries) || s.hash != r.hash {
		return false
	}
	c := s.last
	for i := len(r.Entries) - 1; i >= 0; i-- {
		if c.sv != r.Entries[i] {
			return false
		}
		c = c.prev
	}
	return true
}

func (s logState) equal(o logState) bool {
	if s.n != o.n || s.hash != o.hash {
		return false
	}
	for a, b := s.last, o.last; a != b; a, b = a.prev, b.prev {
		if a.sv != b.sv {
			return false
		}
	}
	return true
}

var logModel = porcupine.Model{
	Init: func() any { return logState{lastSlot: -1} },
	Step: func(state, input, output any) (bool, any) {
		s := state.(logState)
		in := input.(logInput)
		if in.Write {
			out := output.(writeOutput)
			if int64(out.Slot) <= s.lastSlot {
				return false, s
			}
			return true, s.append(slotValue{Slot: out.Slot, Value: in.Value})
		}
		return s.is(output.(readOutput)), s
	},
	Equal: func(a, b any) bool { return a.(logState).equal(b.(logState)) },
	Hash:  func(s any) uint64 { return s.(logState).hash },
	DescribeOperation: func(input, output any) string {
		in := input.(logInput)
		if in.Write {
			out := output.(writeOutput)
			if out.Unknown {
				return fmt.Sprintf("write(%s) -> ? (slot %d in the final log)", in.Value, out.Slot)
			}
			return fmt.Sprintf("write(%s) -> slot %d", in.Value, out.Slot)
		}
		return "read() -> " + describeEntries(output.(readOutput).Entries)
	},
	DescribeState: func(state any) string {
		s := state.(logState)
		var svs []slotValue
		for c := s.last; c != nil; c = c.prev {
			svs = append(svs, c.sv)
		}
		for i, j := 0, len(svs)-1; i < j; i, j = i+1, j-1 {
			svs[i], svs[j] = svs[j], svs[i]
		}
		return describeEntries(svs)
	},
}

// describeEntries shows the length and the last few entries of a log.
func describeEntries(svs []slotValue) string {
	const show = 4
	var parts []string
	if len(svs) > show {
		parts = append(parts, "…")
	}
	for _, sv := range svs[max(0, len(svs)-show):] {
		parts = append(parts, fmt.Sprintf("%d:%s", sv.Slot, sv.Value))
	}
	return fmt.Sprintf("%d entries [%s]", len(svs), strings.Join(parts, " "))
}

// history records the operations of concurrent clients with times measured
// on one monotonic clock.
type history struct {
	start time.Time

	mu  sync.Mutex
	ops []*op
}

// op is one client operation.
type op struct {
	client    int
	write     bool
	value     string // write
	requestID string // write
	call, ret int64  // ns since the history's start; ret is set when acked
	acked     bool   // the write was acknowledged, the read answered
	slot      uint64 // acknowledged slot (write)
	entries   []Entry
	attempts  int
	errs      []string // the failed attempts
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(o *op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, o)
}

func (h *history) all() []*op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*op(nil), h.ops...)
}

// operations builds porcupine's history: acknowledged writes and answered
// reads as they happened; open-ended writes found in the final log (value →
// slot) with return time math.MaxInt64; open-ended writes not in it are left
// out (dropped counts them), and so are failed reads, which have no effect.
func (h *history) operations(final map[string]uint64) (ops []porcupine.Operation, dropped int) {
	for _, o := range h.all() {
		switch {
		case o.write && o.acked:
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logInput{Write: true, Value: o.value},
				Call: o.call, Output: writeOutput{Slot: o.slot}, Return: o.ret, Metadata: o.requestID})
		case o.write:
			slot, ok := final[o.value]
			if !ok {
				dropped++
				continue
			}
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logInput{Write: true, Value: o.value},
				Call: o.call, Output: writeOutput{Slot: slot, Unknown: true}, Return: math.MaxInt64,
				Metadata: o.requestID + " (open-ended: " + strings.Join(o.errs, "; ") + ")"})
		case o.acked:
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logInput{},
				Call: o.call, Output: newReadOutput(o.entries), Return: o.ret})
		}
	}
	return ops, dropped
}
