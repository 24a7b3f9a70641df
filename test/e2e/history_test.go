package e2e

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/paxos-go/paxos/internal/logmodel"
)

// The history of a linearizability test, checked with the log's porcupine
// model (internal/logmodel). A write whose outcome the client never learned
// (every attempt failed or timed out) is open-ended: its return time is
// math.MaxInt64, so it may take effect at any point after its call, or never.
// The checker needs its slot to step it, which only the final log knows: if
// the value is in the final log, the write took effect at that slot; if it is
// not (and the log was read after every node settled), it never took effect,
// and it is left out of the history, which is what linearizing it after every
// other operation would mean. A value read by someone but missing from the
// final log then has no write to explain it, and the checker rejects the
// history: a lost write.

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

// elapsed is the time since the history's start, for logs: "  1.23s".
func (h *history) elapsed() string { return fmt.Sprintf("%6.2fs", time.Since(h.start).Seconds()) }

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
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logmodel.Input{Write: true, Value: o.value},
				Call: o.call, Output: logmodel.WriteOutput{Slot: o.slot}, Return: o.ret, Metadata: o.requestID})
		case o.write:
			slot, ok := final[o.value]
			if !ok {
				dropped++
				continue
			}
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logmodel.Input{Write: true, Value: o.value},
				Call: o.call, Output: logmodel.WriteOutput{Slot: slot, Unknown: true}, Return: math.MaxInt64,
				Metadata: o.requestID + " (open-ended: " + strings.Join(o.errs, "; ") + ")"})
		case o.acked:
			ops = append(ops, porcupine.Operation{ClientId: o.client, Input: logmodel.Input{},
				Call: o.call, Output: readOutput(o.entries), Return: o.ret})
		}
	}
	return ops, dropped
}

// readOutput is the model's output of a read that returned entries.
func readOutput(entries []Entry) logmodel.Log {
	es := make([]logmodel.Entry, len(entries))
	for i, e := range entries {
		es[i] = logmodel.Entry{Slot: e.Slot, Value: e.Value}
	}
	return logmodel.NewLog(es)
}
