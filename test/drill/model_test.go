//go:build drill

package drill

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/paxos-go/paxos/internal/logmodel"
)

// The history is checked with the log's porcupine model (internal/logmodel).
// A write whose outcome the client never learned (every attempt failed or
// timed out) may or may not have happened. Values are unique, so the final
// log decides: a failed write whose value is in it happened at the slot it
// holds, at any time after its call (its return is put at the end of the
// history); one whose value is not in it is left out (a write that never
// took effect, or takes effect after the history ends, constrains nothing).
// Reads are kept as digests (logmodel.Digest): a history holds thousands of
// reads of logs of thousands of values.

// digest is the digest of a log that holds es (in slot order).
func digest(es []entry) logmodel.Digest {
	d := logmodel.Empty
	for _, e := range es {
		d = d.Add(e.Slot, e.Value)
	}
	return d
}

// verdict is the result of the checks after a drill.
type verdict struct {
	Problems []string
	// Counts counts the problems per kind ("acknowledged write lost", ...).
	Counts map[string]int
	// Porcupine's answer: "ok", "illegal" or "unknown" (timed out).
	Linearizable string
	Visual       string // visualization file when not linearizable
	LogLen       int
	Resolved     int // failed writes found in the log
}

func (v *verdict) fail(kind, format string, args ...any) {
	if v.Counts == nil {
		v.Counts = map[string]int{}
	}
	v.Counts[kind]++
	if v.Counts[kind] > 5 {
		return // the first few of each kind tell the story
	}
	if len(v.Problems) < 40 {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	} else if len(v.Problems) == 40 {
		v.Problems = append(v.Problems, "... (more problems left out)")
	}
}

func (v *verdict) ok() bool { return len(v.Problems) == 0 }

// summary is one line per kind of problem with its count, then the first
// few problems of each kind.
func (v *verdict) summary() string {
	kinds := make([]string, 0, len(v.Counts))
	for k := range v.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var lines []string
	for _, k := range kinds {
		lines = append(lines, fmt.Sprintf("%d × %s", v.Counts[k], k))
	}
	lines = append(lines, "first problems of each kind:")
	lines = append(lines, v.Problems...)
	return strings.Join(lines, "\n  ")
}

// check runs every check on the history against the two learners' final
// logs: learners identical, every acknowledged write exactly once at its
// slot in both, no value nobody wrote, every serializable read a prefix of
// the final log, and porcupine on the whole history.
func check(history []*op, logs [2][]entry, visualDir string) verdict {
	var v verdict
	l1, l2 := logs[0], logs[1]
	v.LogLen = len(l1)

	// The two learners hold the same log.
	if len(l1) != len(l2) {
		v.fail("learners differ", "learners differ: learner1 has %d values, learner2 %d", len(l1), len(l2))
	}
	for i := 0; i < min(len(l1), len(l2)); i++ {
		if l1[i] != l2[i] {
			v.fail("learners differ", "learners differ at value #%d: learner1 %+v, learner2 %+v", i, l1[i], l2[i])
			break
		}
	}

	written := map[string]*op{}
	for _, o := range history {
		if o.Kind == opWrite {
			written[o.Value] = o
		}
	}
	// Per learner: where each value is, and how often.
	type place struct {
		slot  uint64
		count int
	}
	index := [2]map[string]place{{}, {}}
	for li, log := range logs {
		var prev int64 = -1
		for _, e := range log {
			if int64(e.Slot) <= prev {
				v.fail("slots out of order", "learner%d: slots out of order: %d after %d", li+1, e.Slot, prev)
			}
			prev = int64(e.Slot)
			p := index[li][e.Value]
			if p.count == 0 {
				p.slot = e.Slot
			}
			p.count++
			index[li][e.Value] = p
			if _, ok := written[e.Value]; !ok {
				v.fail("value nobody wrote", "learner%d: slot %d holds %q, which no client wrote", li+1, e.Slot, e.Value)
			}
		}
		for val, p := range index[li] {
			if p.count > 1 {
				v.fail("value in a log more than once", "learner%d: %q (request %s) is in the log %d times", li+1, val, reqOf(written[val]), p.count)
			}
		}
	}

	// Every acknowledged write: exactly once, at its slot, in both logs.
	var ops []porcupine.Operation
	base := time.Time{}
	for _, o := range history {
		if base.IsZero() || o.Call.Before(base) {
			base = o.Call
		}
	}
	ts := func(t time.Time) int64 { return t.Sub(base).Nanoseconds() }
	for _, o := range history {
		switch o.Kind {
		case opWrite:
			if o.Acked {
				for li := range logs {
					p, ok := index[li][o.Value]
					switch {
					case !ok:
						v.fail("acknowledged write missing from a learner's log", "acknowledged write lost: %q (request %s, slot %d, acked %s) is not in learner%d's log",
							o.Value, o.ReqID, o.Slot, o.Return.Format("15:04:05.000"), li+1)
					case p.slot != o.Slot:
						v.fail("acknowledged write at another slot", "acknowledged write moved: %q (request %s) acked at slot %d, learner%d has it at slot %d",
							o.Value, o.ReqID, o.Slot, li+1, p.slot)
					}
				}
				ops = append(ops, porcupine.Operation{ClientId: o.Client, Input: logmodel.Input{Write: true, Value: o.Value},
					Call: ts(o.Call), Output: logmodel.WriteOutput{Slot: o.Slot}, Return: ts(o.Return)})
				continue
			}
			// Unknown outcome: the final log decides.
			if p, ok := index[0][o.Value]; ok {
				v.Resolved++
				ops = append(ops, porcupine.Operation{ClientId: o.Client, Input: logmodel.Input{Write: true, Value: o.Value},
					Call: ts(o.Call), Output: logmodel.WriteOutput{Slot: p.slot, Unknown: true}, Return: math.MaxInt64 / 2})
			}
		case opReadLinearizable:
			ops = append(ops, porcupine.Operation{ClientId: o.Client, Input: logmodel.Input{},
				Call: ts(o.Call), Output: o.Seen, Return: ts(o.Return)})
		case opReadSerializable:
			// A learner's log at any time is a prefix of the final log.
			if want := prefixDigest(l1, o.Chosen); o.Seen != want {
				v.fail("serializable read not a prefix of the final log", "serializable read at %s (chosen_slot %d) saw %d values up to slot %d; the final log has %d values up to slot %d there",
					o.Call.Format("15:04:05.000"), o.Chosen, o.Seen.N, o.Seen.Last, want.N, want.Last)
			}
		}
	}

	res, info := porcupine.CheckOperationsVerbose(logmodel.Model, ops, 2*time.Minute)
	switch res {
	case porcupine.Ok:
		v.Linearizable = "ok"
	case porcupine.Illegal:
		v.Linearizable = "illegal"
		v.fail("porcupine: not linearizable", "porcupine: the history of %d operations is not linearizable", len(ops))
		if visualDir != "" {
			path := filepath.Join(visualDir, fmt.Sprintf("porcupine-%d.html", time.Now().UnixNano()))
			if f, err := os.Create(path); err == nil {
				if porcupine.Visualize(logmodel.Model, info, f) == nil {
					v.Visual = path
				}
				f.Close()
			}
		}
	default:
		v.Linearizable = "unknown"
		v.fail("porcupine: no answer", "porcupine: no answer within 2m for %d operations", len(ops))
	}
	return v
}

// prefixDigest is the digest of the entries of log at slots up to chosen.
func prefixDigest(log []entry, chosen int64) logmodel.Digest {
	n := sort.Search(len(log), func(i int) bool { return int64(log[i].Slot) > chosen })
	return digest(log[:n])
}

func sameEntries(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func reqOf(o *op) string {
	if o == nil {
		return "?"
	}
	return o.ReqID
}

// drillStats are the numbers of one drill's line.
type drillStats struct {
	Acked, Failed, Attempts, FailedAttempts int
	Unavailable                             time.Duration // longest gap between acks
}

// statsOf counts the writes that started in [from, to).
func statsOf(history []*op, from, to time.Time) drillStats {
	var s drillStats
	var acks []time.Time
	for _, o := range history {
		if o.Kind != opWrite || o.Call.Before(from) || !o.Call.Before(to) {
			continue
		}
		if o.Acked {
			s.Acked++
			acks = append(acks, o.Return)
		} else {
			s.Failed++
		}
		s.Attempts += len(o.Attempts)
		for _, a := range o.Attempts {
			if a.Status != 200 {
				s.FailedAttempts++
			}
		}
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	for i := 1; i < len(acks); i++ {
		s.Unavailable = max(s.Unavailable, acks[i].Sub(acks[i-1]))
	}
	return s
}

// attemptsIn returns the write attempts that started in [from, to).
func attemptsIn(history []*op, from, to time.Time) []attempt {
	var out []attempt
	for _, o := range history {
		for _, a := range o.Attempts {
			if !a.Start.Before(from) && a.Start.Before(to) {
				out = append(out, a)
			}
		}
	}
	return out
}

// acksIn counts the writes acknowledged in [from, to).
func acksIn(history []*op, from, to time.Time) int {
	n := 0
	for _, o := range history {
		if o.Kind == opWrite && o.Acked && !o.Return.Before(from) && o.Return.Before(to) {
			n++
		}
	}
	return n
}

// firstAckAfter is the first acknowledgement at or after t (zero: none).
func firstAckAfter(history []*op, t time.Time) time.Time {
	var first time.Time
	for _, o := range history {
		if o.Kind == opWrite && o.Acked && !o.Return.Before(t) && (first.IsZero() || o.Return.Before(first)) {
			first = o.Return
		}
	}
	return first
}

func summarize(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "\n  ")
}
