//go:build drill

package drill

import (
	"strings"
	"testing"
	"time"
)

// TestChecker runs the drills' checks on made-up histories (no Docker): a
// checker that passes everything would make every drill pass.
func TestChecker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	write := func(v string, slot uint64, call, ret int) *op {
		return &op{Kind: opWrite, Value: v, ReqID: "r-" + v, Call: at(call), Return: at(ret), Acked: true, Slot: slot,
			Attempts: []attempt{{Start: at(call), End: at(ret), Status: 200}}}
	}
	failed := func(v string, call, ret int) *op {
		return &op{Kind: opWrite, Value: v, ReqID: "r-" + v, Call: at(call), Return: at(ret),
			Attempts: []attempt{{Start: at(call), End: at(ret), Status: 504}}}
	}
	read := func(call, ret int, es ...entry) *op {
		return &op{Kind: opReadLinearizable, Call: at(call), Return: at(ret), Seen: digest(es)}
	}
	e := func(slot uint64, v string) entry { return entry{Slot: slot, Value: v, RequestID: "r-" + v} }
	both := func(es ...entry) [2][]entry { return [2][]entry{es, es} }

	tests := []struct {
		name    string
		history []*op
		logs    [2][]entry
		want    string // a problem kind; empty: no problem
	}{
		{
			name:    "writes and a read that sees them",
			history: []*op{write("a", 0, 0, 10), write("b", 2, 20, 30), read(40, 50, e(0, "a"), e(2, "b"))},
			logs:    both(e(0, "a"), e(2, "b")),
		},
		{
			name: "concurrent writes may be acknowledged out of slot order",
			history: []*op{write("a", 1, 0, 10), write("b", 0, 5, 30),
				read(2, 8), read(40, 50, e(0, "b"), e(1, "a"))},
			logs: both(e(0, "b"), e(1, "a")),
		},
		{
			name: "a failed write that happened, seen by a read",
			history: []*op{failed("a", 0, 10), read(20, 30, e(0, "a")), write("b", 40, 50, 60),
				read(70, 80, e(0, "a"), e(40, "b"))},
			logs: both(e(0, "a"), e(40, "b")),
		},
		{
			name:    "a failed write that never happened",
			history: []*op{failed("a", 0, 10), write("b", 3, 20, 30), read(40, 50, e(3, "b"))},
			logs:    both(e(3, "b")),
		},
		{
			name:    "stale read: an acknowledged write is missing",
			history: []*op{write("a", 0, 0, 10), read(20, 30)},
			logs:    both(e(0, "a")),
			want:    "porcupine: not linearizable",
		},
		{
			name:    "a read sees a value that is gone from the final log",
			history: []*op{failed("a", 0, 10), read(20, 30, e(0, "a")), write("b", 0, 40, 50)},
			logs:    both(e(0, "b")),
			want:    "porcupine: not linearizable",
		},
		{
			name:    "real-time order broken: a later write got an earlier slot",
			history: []*op{write("a", 5, 0, 10), write("b", 3, 20, 30)},
			logs:    both(e(3, "b"), e(5, "a")),
			want:    "porcupine: not linearizable",
		},
		{
			name:    "acknowledged write lost",
			history: []*op{write("a", 0, 0, 10), write("b", 1, 20, 30)},
			logs:    both(e(1, "b")),
			want:    "acknowledged write missing from a learner's log",
		},
		{
			name:    "acknowledged write at another slot",
			history: []*op{write("a", 0, 0, 10)},
			logs:    both(e(1, "a")),
			want:    "acknowledged write at another slot",
		},
		{
			name:    "a retried write chosen twice",
			history: []*op{write("a", 0, 0, 10)},
			logs:    both(e(0, "a"), e(1, "a")),
			want:    "value in a log more than once",
		},
		{
			name:    "learners differ",
			history: []*op{write("a", 0, 0, 10), failed("b", 20, 30)},
			logs:    [2][]entry{{e(0, "a"), e(1, "b")}, {e(0, "a")}},
			want:    "learners differ",
		},
		{
			name:    "a value nobody wrote",
			history: []*op{write("a", 0, 0, 10)},
			logs:    both(e(0, "a"), e(1, "zz")),
			want:    "value nobody wrote",
		},
		{
			name: "serializable reads that are prefixes of the final log",
			history: []*op{write("a", 0, 0, 10), write("b", 2, 20, 30),
				{Kind: opReadSerializable, Call: at(5), Return: at(6), Seen: digest(nil), Chosen: -1},
				{Kind: opReadSerializable, Call: at(12), Return: at(14), Seen: digest([]entry{e(0, "a")}), Chosen: 1},
				{Kind: opReadSerializable, Call: at(40), Return: at(44), Seen: digest([]entry{e(0, "a"), e(2, "b")}), Chosen: 3}},
			logs: both(e(0, "a"), e(2, "b")),
		},
		{
			name: "a serializable read that is not a prefix of the final log",
			history: []*op{write("a", 0, 0, 10),
				{Kind: opReadSerializable, Call: at(20), Return: at(30), Seen: digest([]entry{e(0, "x")}), Chosen: 0}},
			logs: both(e(0, "a")),
			want: "serializable read not a prefix of the final log",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := check(tt.history, tt.logs, "")
			if tt.want == "" {
				if !v.ok() {
					t.Fatalf("problems in a correct history:\n  %s", v.summary())
				}
				return
			}
			if v.Counts[tt.want] == 0 {
				t.Fatalf("want a %q problem, got: %s", tt.want, strings.ReplaceAll(v.summary(), "\n", "; "))
			}
		})
	}
}
