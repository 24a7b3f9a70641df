package logmodel

import (
	"math"
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestModel checks the porcupine model on small hand-made histories, with
// reads that keep their entries (Log) and reads that keep a digest.
func TestModel(t *testing.T) {
	w := func(client int, v string, call, ret int64, slot uint64) porcupine.Operation {
		out := WriteOutput{Slot: slot, Unknown: ret == math.MaxInt64}
		return porcupine.Operation{ClientId: client, Input: Input{Write: true, Value: v}, Call: call, Output: out, Return: ret}
	}
	a, b := Entry{0, "a"}, Entry{2, "b"}
	for _, read := range []struct {
		name string
		out  func(es []Entry) any
	}{
		{"log", func(es []Entry) any { return NewLog(es) }},
		{"digest", func(es []Entry) any { return DigestOf(es) }},
	} {
		r := func(client int, call, ret int64, es ...Entry) porcupine.Operation {
			return porcupine.Operation{ClientId: client, Input: Input{}, Call: call, Output: read.out(es), Return: ret}
		}
		for _, tc := range []struct {
			name string
			ops  []porcupine.Operation
			want porcupine.CheckResult
		}{
			{"sequential", []porcupine.Operation{w(0, "a", 0, 1, 0), w(0, "b", 2, 3, 2), r(1, 4, 5, a, b)}, porcupine.Ok},
			{"concurrent writes, slots decide the order", []porcupine.Operation{w(0, "b", 0, 10, 2), w(1, "a", 0, 10, 0), r(2, 11, 12, a, b)}, porcupine.Ok},
			{"read during a write may miss it", []porcupine.Operation{w(0, "a", 0, 1, 0), w(0, "b", 2, 10, 2), r(1, 3, 4, a)}, porcupine.Ok},
			{"stale read", []porcupine.Operation{w(0, "a", 0, 1, 0), w(0, "b", 2, 3, 2), r(1, 4, 5, a)}, porcupine.Illegal},
			{"later write, lower slot", []porcupine.Operation{w(0, "b", 0, 1, 2), w(1, "a", 2, 3, 0)}, porcupine.Illegal},
			{"read shows another slot", []porcupine.Operation{w(0, "a", 0, 1, 0), r(1, 2, 3, Entry{1, "a"})}, porcupine.Illegal},
			{"value nobody wrote", []porcupine.Operation{r(1, 2, 3, a)}, porcupine.Illegal},
			{"open-ended write seen late", []porcupine.Operation{w(0, "a", 0, math.MaxInt64, 0), r(1, 1, 2), r(1, 3, 4, a)}, porcupine.Ok},
			{"open-ended write seen, then gone", []porcupine.Operation{w(0, "a", 0, math.MaxInt64, 0), r(1, 1, 2, a), r(1, 3, 4)}, porcupine.Illegal},
			{"reads disagree on order", []porcupine.Operation{w(0, "a", 0, 10, 0), w(1, "b", 0, 10, 2), r(2, 1, 2, b), r(2, 3, 4, a, b)}, porcupine.Illegal},
		} {
			t.Run(read.name+"/"+tc.name, func(t *testing.T) {
				if got := porcupine.CheckOperationsTimeout(Model, tc.ops, 0); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
			})
		}
	}
}
