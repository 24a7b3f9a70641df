package cli

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample p99.9", ms(7), 99.9, 7 * time.Millisecond},
		{"two samples p50 is the lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two samples p51 is the upper", ms(1, 2), 51, 2 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p90", ms(hundred...), 90, 90 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p99.9 rounds up to the max", ms(hundred...), 99.9, 100 * time.Millisecond},
		{"1..100 p100", ms(hundred...), 100, 100 * time.Millisecond},
		{"1..1000 p99.9", ms(thousand...), 99.9, 999 * time.Millisecond},
		{"tiny p is the min", ms(3, 4, 5), 0.0001, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := percentile(tc.samples, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}

	// latencyStats sorts its samples and reports milliseconds.
	shuffled := ms(5, 1, 4, 2, 3)
	shuffled = append(shuffled, 1500*time.Microsecond)
	got := latencyStats(shuffled)
	want := latencyMS{Min: 1, P50: 2, P90: 5, P99: 5, P999: 5, Max: 5}
	if got != want {
		t.Errorf("latencyStats = %+v, want %+v", got, want)
	}
	if got := latencyStats(nil); got != (latencyMS{}) {
		t.Errorf("latencyStats(nil) = %+v", got)
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

// The timeline cuts a run into slices of at least 100 ms, at most 300 of
// them, each with the latencies of the operations chosen in it.
func TestBenchTimeline(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	samples := []benchSample{{ms(50), ms(1)}, {ms(150), ms(3)}, {ms(160), ms(5)}, {ms(999), ms(2)}, {ms(1000), ms(4)}}
	width, got := benchTimeline(samples, time.Second)
	if width != 100*time.Millisecond || len(got) != 10 {
		t.Fatalf("a 1 s run: %d slices of %v, want 10 of 100ms", len(got), width)
	}
	want := map[int]benchSlice{0: {T: 0, Ops: 1, P50: 1, P99: 1, Max: 1}, 1: {T: 0.1, Ops: 2, P50: 3, P99: 5, Max: 5},
		9: {T: 0.9, Ops: 2, P50: 2, P99: 4, Max: 4}}
	for i, s := range got {
		w, ok := want[i]
		if !ok {
			w = benchSlice{T: float64(i) / 10}
		}
		if math.Abs(s.T-w.T) > 1e-9 || s.Ops != w.Ops || s.P50 != w.P50 || s.P99 != w.P99 || s.Max != w.Max {
			t.Errorf("slice %d = %+v, want %+v", i, s, w)
		}
	}
	if width, got := benchTimeline(nil, 90*time.Second); width != 300*time.Millisecond || len(got) != 300 {
		t.Errorf("a 90 s run: %d slices of %v, want 300 of 300ms", len(got), width)
	}
	if _, got := benchTimeline(nil, 0); len(got) != 1 {
		t.Errorf("an empty run: %d slices, want 1", len(got))
	}
}
