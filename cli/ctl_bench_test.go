package cli

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank percentile of sorted: the smallest
// sample with at least p% of the samples at or below it (0 for none). The
// histogram's percentile is measured against it.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}

// Buckets: exact below 256 µs; above, each holds a run of values less than
// 1/256 of them wide, and they follow each other without a gap.
func TestHistBuckets(t *testing.T) {
	for us := range uint64(1 << 12) {
		b := histBucket(us)
		if us < 256 && (b != int(us) || histHighest(b) != us) {
			t.Fatalf("%d µs: bucket %d holding up to %d; want its own bucket", us, b, histHighest(b))
		}
		if b > 0 && histHighest(b-1)+1 > us || histHighest(b) < us {
			t.Fatalf("%d µs in bucket %d, which holds %d..%d", us, b, histHighest(b-1)+1, histHighest(b))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		us := rng.Uint64N(uint64(benchMaxDuration/time.Microsecond)) + 1
		b := histBucket(us)
		low, high := histHighest(b-1)+1, histHighest(b)
		if us < low || us > high || float64(high-low+1) > float64(low)/256 {
			t.Fatalf("%d µs in bucket %d of %d..%d: want it inside, less than 1/256 wide", us, b, low, high)
		}
	}
	if n := histBucket(uint64(benchMaxDuration/time.Microsecond)) + 1; n*8 > 64<<10 {
		t.Errorf("a day's latency takes %d buckets (%d bytes); want at most 64 KiB", n, n*8)
	}
}

// A percentile is the largest value of the bucket of the exact
// nearest-rank sample, within the exact min and max: never below the exact
// percentile, less than 1/256 above it.
func TestHistPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred, thousand := make([]int, 100), make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
		if i < 100 {
			hundred[i] = i + 1
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]time.Duration, 5000)
	for i := range random {
		random[i] = time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
	}{
		{"one sample", ms(7)}, {"two samples", ms(1, 2)}, {"1..100 ms", ms(hundred...)},
		{"1..1000 ms", ms(thousand...)}, {"three", ms(3, 4, 5)},
		{"under 256 µs, exact", []time.Duration{5 * time.Microsecond, 200 * time.Microsecond, 17 * time.Microsecond}},
		{"5000 exponential, mean 20 ms", random},
	} {
		var h latencyHist
		for _, d := range tc.samples {
			h.add(d)
		}
		sorted := slices.Sorted(slices.Values(tc.samples))
		for _, p := range []float64{0.0001, 50, 51, 90, 99, 99.9, 100} {
			exact := uint64((exactPercentile(sorted, p) + time.Microsecond/2) / time.Microsecond)
			want := min(max(histHighest(histBucket(exact)), h.min), h.max)
			got := h.percentile(p)
			if got != want || got < exact || float64(got-exact) >= float64(exact)/256+1 {
				t.Errorf("%s: p%v = %d µs; want %d (exact %d)", tc.name, p, got, want, exact)
			}
			if exact < 256 && got != exact {
				t.Errorf("%s: p%v = %d µs; want %d exactly (under 256 µs)", tc.name, p, got, exact)
			}
		}
	}
	var empty latencyHist
	if empty.percentile(50) != 0 || empty.stats() != (latencyMS{}) {
		t.Errorf("no samples: p50 %d, stats %+v; want zeros", empty.percentile(50), empty.stats())
	}
	// stats: min and max exact, in milliseconds; 1.5 ms is between.
	var h latencyHist
	for _, d := range append(ms(5, 1, 4, 2, 3), 1500*time.Microsecond) {
		h.add(d)
	}
	want := latencyMS{Min: 1, P50: 2.003, P90: 5, P99: 5, P999: 5, Max: 5} // 2 ms is in 2.000-2.003
	if got := h.stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

// Two histograms merged answer as one that took both's samples.
func TestHistMerge(t *testing.T) {
	var a, b, both latencyHist
	for i := range 300 {
		d := time.Duration(i*i) * time.Microsecond
		both.add(d)
		if i%3 == 0 {
			a.add(d)
		} else {
			b.add(d)
		}
	}
	a.merge(&b)
	a.merge(&latencyHist{})
	if a.n != both.n || a.min != both.min || a.max != both.max || !slices.Equal(a.counts, both.counts) {
		t.Errorf("merged: n %d, min %d, max %d; want %d, %d, %d and the same counts", a.n, a.min, a.max, both.n, both.min, both.max)
	}
}

func TestPacer(t *testing.T) {
	p := newPacer(200) // one every 5ms
	start := time.Now()
	for range 21 {
		if err := p.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 95*time.Millisecond {
		t.Errorf("21 operations at 200/s took %v, want at least 100ms", el)
	}
	if newPacer(0) != nil {
		t.Error("rate 0 should not pace")
	}
}

func TestBench(t *testing.T) {
	f := newFakeCluster(t)
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json",
		"bench", "--clients", "4", "--total", "40", "--value-size", "10", "--target", "proposer")
	if code != 0 {
		t.Fatalf("bench --target proposer: code %d, stderr %q", code, errOut)
	}
	var r benchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench -w json: %v in %q", err, out)
	}
	if r.Target != "proposer" || r.Clients != 4 || r.Total != 40 || r.OK != 40 || r.Failed != 0 || r.ValueSize != 10 ||
		r.Throughput <= 0 || r.Latency.Max < r.Latency.P50 || r.Latency.P50 < r.Latency.Min || r.Latency.Min <= 0 ||
		len(r.Errors) != 0 {
		t.Fatalf("bench report %+v", r)
	}
	f.do(func() {
		if len(f.log) != 40 || len(f.byReq) != 40 || len(f.log[0].Value) != 10 {
			t.Errorf("log has %d entries (%d request IDs), want 40 distinct", len(f.log), len(f.byReq))
		}
		if f.proposeCalls["proposer1"] != 40 {
			t.Errorf("propose calls %v: want all 40 at the leader", f.proposeCalls)
		}
	})

	// The leader moves to proposer2 during the run: the 409s of proposer1
	// point to it, and the operations follow with their request IDs.
	f.do(func() { f.moveLeaderAfter, f.proposeCalls = 5, map[string]int{} })
	out, errOut, code = ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json",
		"bench", "--clients", "2", "--total", "20", "--target", "proposer")
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("bench across a leader change: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if r.OK != 20 || r.Errors["409"] < 1 {
		t.Fatalf("bench across a leader change: %+v", r)
	}
	f.do(func() {
		if f.proposeCalls["proposer2"] < 15 || len(f.log) != 60 {
			t.Errorf("propose calls %v, log %d: want the rest at proposer2, 60 entries in all", f.proposeCalls, len(f.log))
		}
	})

	// --target client, simple output: a metric table.
	f.do(func() { f.failSend["client2"] = 1 })
	out, errOut, code = ctlRun(t, "", "--endpoints", f.endpoints(), "bench", "--clients", "3", "--total", "30", "--target", "client")
	if code != 0 {
		t.Fatalf("bench --target client: code %d, stderr %q", code, errOut)
	}
	for _, re := range []string{
		`(?m)^METRIC\s+VALUE$`,
		`(?m)^target\s+client \(\S+, \S+\)$`,
		`(?m)^operations\s+30 \(30 ok, 0 failed\)$`,
		`(?m)^throughput\s+[0-9.]+ ops/s$`,
		`(?m)^latency p99\.9\s+[0-9.]+ ms$`,
		`(?m)^errors\s+504=1$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("bench: no line like %s in\n%s", re, out)
		}
	}
	if errOut != "" {
		t.Errorf("bench wrote to stderr (the progress bar must hide when stderr is not a terminal): %q", errOut)
	}

	// --duration ends the run; the table format works.
	out, _, code = ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "table", "bench", "--clients", "2", "--duration", "200ms", "--rate", "50")
	if code != 0 || !strings.Contains(out, "| rate limit    | 50 ops/s") || !strings.Contains(out, "| duration      |") {
		t.Fatalf("bench --duration: code %d, stdout\n%s", code, out)
	}
}

// TestBenchWaitsForLeader: a cluster just started has no leader for a
// moment; bench waits for one (up to --timeout) instead of failing at once
// (bench-vs-etcd.sh lost its first leader runs to that).
func TestBenchWaitsForLeader(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.leader = 0 })
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.do(func() { f.leader = 1 })
	}()
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json",
		"bench", "--clients", "2", "--total", "10", "--target", "proposer")
	var r benchReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.OK != 10 {
		t.Fatalf("bench while the leader is being elected: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// The timeline cuts a run into slices of 100 ms, doubled as often as it
// takes to need at most 300 of them, each with the operations chosen in it.
func TestBenchTimeline(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	rec := newBenchRecorder()
	for _, s := range [][2]float64{{50, 1}, {150, 3}, {160, 5}, {999, 2}, {1000, 4}} {
		rec.add(ms(s[0]), ms(s[1]))
	}
	width, got := rec.timeline(time.Second)
	if width != 100*time.Millisecond || len(got) != 10 {
		t.Fatalf("a 1 s run: %d slices of %v, want 10 of 100ms", len(got), width)
	}
	// Slice 1's p50 is 3 ms's bucket, 3.000-3.007 ms; slice 9's 2 ms's, 2.000-2.003.
	want := map[int]benchSlice{0: {T: 0, Ops: 1, P50: 1, P99: 1, Max: 1}, 1: {T: 0.1, Ops: 2, P50: 3.007, P99: 5, Max: 5},
		9: {T: 0.9, Ops: 2, P50: 2.003, P99: 4, Max: 4}}
	for i, s := range got {
		w, ok := want[i]
		if !ok {
			w = benchSlice{T: float64(i) / 10}
		}
		if math.Abs(s.T-w.T) > 1e-9 || s.Ops != w.Ops || s.P50 != w.P50 || s.P99 != w.P99 || s.Max != w.Max {
			t.Errorf("slice %d = %+v, want %+v", i, s, w)
		}
	}
	// A 90 s run: 225 slices of 400 ms. One operation every 10 ms, its
	// latency its second: each slice counts its own, however often the
	// slices doubled on the way.
	rec = newBenchRecorder()
	for at := time.Duration(0); at < 90*time.Second; at += 10 * time.Millisecond {
		rec.add(at, time.Duration(at/time.Second+1)*time.Millisecond)
	}
	width, got = rec.timeline(90 * time.Second)
	if width != 400*time.Millisecond || len(got) != 225 {
		t.Fatalf("a 90 s run: %d slices of %v, want 225 of 400ms", len(got), width)
	}
	total := 0
	for i, s := range got {
		total += s.Ops
		if first := float64(i*400/1000 + 1); s.Ops != 40 || s.P50 < first || s.Max > first+1 {
			t.Errorf("slice %d = %+v; want 40 operations of %v-%v ms", i, s, first, first+1)
		}
	}
	if total != 9000 || rec.all.n != 9000 {
		t.Errorf("%d operations in the slices, %d in all; want 9000", total, rec.all.n)
	}
	if _, got := newBenchRecorder().timeline(0); len(got) != 1 {
		t.Errorf("an empty run: %d slices, want 1", len(got))
	}
	// A day's run keeps at most 300 slices however many operations.
	rec = newBenchRecorder()
	for at := time.Duration(0); at < 24*time.Hour; at += time.Second {
		rec.add(at, time.Millisecond)
	}
	if len(rec.slices) > benchMaxSlices {
		t.Errorf("a day's run holds %d slices; want at most %d", len(rec.slices), benchMaxSlices)
	}
}
