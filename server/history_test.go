package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// fakeClock is a settable clock for history.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestHistoryPercentiles fills windows with known latencies and checks the
// samples: the rate, and percentiles within one bucket above the truth,
// never above the largest measurement.
func TestHistoryPercentiles(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	h := newHistory(clk.now)
	// Window 1: 100 writes, 1ms..100ms.
	for i := 1; i <= 100; i++ {
		h.observe(1, time.Duration(i)*time.Millisecond)
	}
	clk.t = clk.t.Add(historyInterval)
	// Window 2: 7 slots made durable in one fsync of 3ms, plus a count.
	h.observe(7, 3*time.Millisecond)
	h.add(5)
	clk.t = clk.t.Add(3 * historyInterval) // two empty windows follow
	got := h.snapshot()
	if len(got) != 4 {
		t.Fatalf("%d samples, want 4: %+v", len(got), got)
	}
	within := func(name string, v *float64, want float64) {
		t.Helper()
		if v == nil {
			t.Fatalf("%s: missing", name)
		}
		if *v < want || *v > want*1.19+1e-9 {
			t.Errorf("%s = %.3f ms, want %.3f to %.3f", name, *v, want, want*1.19)
		}
	}
	w1 := got[0]
	if w1.Ops != 100 || w1.Rate != 100 || w1.N != 100 || w1.Start != 1_000_000_000 {
		t.Errorf("window 1: %+v", w1)
	}
	within("window 1 p50", w1.P50, 50)
	within("window 1 p99", w1.P99, 99)
	if *w1.Max != 100 || *w1.P99 > *w1.Max {
		t.Errorf("window 1: max %.3f, p99 %.3f", *w1.Max, *w1.P99)
	}
	w2 := got[1]
	if w2.Ops != 12 || w2.N != 1 || *w2.P50 != 3 || *w2.P99 != 3 {
		t.Errorf("window 2: %+v (p50 %v p99 %v)", w2, *w2.P50, *w2.P99)
	}
	for _, w := range got[2:] {
		if w.Ops != 0 || w.N != 0 || w.P50 != nil || w.P99 != nil {
			t.Errorf("an empty window has %+v", w)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Start-got[i-1].Start != historyInterval.Milliseconds() {
			t.Errorf("samples %d and %d are %d ms apart", i-1, i, got[i].Start-got[i-1].Start)
		}
	}
}

// TestHistoryBounded checks the history keeps historySamples windows, the
// newest, after a long quiet time and after many busy windows.
func TestHistoryBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(2_000_000, 0)}
	h := newHistory(clk.now)
	clk.t = clk.t.Add(24 * time.Hour)
	if got := h.snapshot(); len(got) != historySamples {
		t.Fatalf("after a day: %d samples, want %d", len(got), historySamples)
	}
	for i := 0; i < 2*historySamples+7; i++ {
		h.observe(i, time.Millisecond)
		clk.t = clk.t.Add(historyInterval)
	}
	got := h.snapshot()
	if len(got) != historySamples {
		t.Fatalf("%d samples, want %d", len(got), historySamples)
	}
	if last := got[len(got)-1]; last.Ops != uint64(2*historySamples+6) {
		t.Errorf("the newest sample has %d ops, want %d", last.Ops, 2*historySamples+6)
	}
	if first := got[0]; first.Ops != uint64(historySamples+7) {
		t.Errorf("the oldest sample has %d ops, want %d", first.Ops, historySamples+7)
	}
}

// TestHistoryOfALiveCluster writes through the in-process cluster and
// checks the leader's /stats/history counts the writes with their commit
// latency, and an acceptor's its fsyncs.
func TestHistoryOfALiveCluster(t *testing.T) {
	// A slow clock (elections after 1-2 s) keeps one leader for the
	// writes, on a loaded machine too.
	c := newTestClusterWith(t, func(cfg *Config) { cfg.Tick = 100 * time.Millisecond })
	const writes = 6
	var leader replog.ID
	for attempt := 1; ; attempt++ {
		leader = c.leader()
		ballot := c.ballot(leader)
		for i := range writes {
			if _, err := c.send(9, fmt.Sprintf("h%d-%d", attempt, i), ""); err != nil {
				t.Fatal(err)
			}
		}
		now := c.leader()
		if now == leader && c.ballot(now) == ballot {
			break
		}
		// The new leader answered only some of the writes: write again.
		if attempt == 3 {
			t.Fatalf("the leader changed during the writes %d times", attempt)
		}
		t.Logf("the leader changed during the writes (%d at ballot %d, then %d); writing again", leader, ballot, now)
	}
	// get waits until id's closed windows hold want operations or more
	// (those of the current second show once it ends).
	get := func(id replog.ID, want uint64) History {
		t.Helper()
		c.mu.Lock()
		srv := c.nodes[id].srv
		c.mu.Unlock()
		var h History
		c.eventually(5*time.Second, func() error {
			rec := httptest.NewRecorder()
			srv.monitorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats/history", nil))
			if rec.Code != 200 {
				return fmt.Errorf("GET /stats/history: %d %s", rec.Code, rec.Body)
			}
			h = History{}
			if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
				return err
			}
			var ops uint64
			for _, s := range h.Samples {
				ops += s.Ops
			}
			if ops < want {
				return fmt.Errorf("%d operations in %d samples, want %d or more", ops, len(h.Samples), want)
			}
			return nil
		})
		return h
	}
	h := get(leader, writes)
	if h.Ops != "writes" || h.Latency != "commit latency" || h.Capacity != historySamples || h.Interval != 1000 {
		t.Errorf("leader's history: %+v", h)
	}
	var ops, n uint64
	for _, s := range h.Samples {
		ops, n = ops+s.Ops, n+s.N
		if s.N > 0 && (*s.P50 <= 0 || *s.P99 < *s.P50) {
			t.Errorf("sample %+v: p50 %v p99 %v", s, *s.P50, *s.P99)
		}
	}
	// The client node forwards to a proposer that may forward to the
	// leader: every write is answered by the leader once.
	if ops < writes || n != ops {
		t.Errorf("leader's history counts %d writes, %d latencies; want %d or more of each", ops, n, writes)
	}
	a := get(c.cfg.Acceptors[0].ID, 1)
	if a.Ops != "slots made durable" || a.Latency != "fsync" {
		t.Errorf("acceptor's history: %+v", a)
	}

	c.mu.Lock()
	mon := c.nodes[leader].srv.monitorHandler()
	c.mu.Unlock()
	serve := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mon.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for _, bad := range []string{"0", "301", "x"} {
		if rec := serve("/stats/history?last=" + bad); rec.Code != http.StatusBadRequest {
			t.Errorf("last=%s: %d %s, want 400", bad, rec.Code, rec.Body)
		}
	}
	var one History
	if rec := serve("/stats/history?last=1"); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &one) != nil || len(one.Samples) != 1 {
		t.Errorf("last=1: %d %s", rec.Code, rec.Body)
	}
	// GET /stats/cluster: every node's last minute, from its API port.
	var all ClusterHistory
	c.eventually(5*time.Second, func() error {
		rec := serve("/stats/cluster")
		all = ClusterHistory{}
		if err := json.Unmarshal(rec.Body.Bytes(), &all); rec.Code != 200 || err != nil {
			return fmt.Errorf("GET /stats/cluster: %d %s", rec.Code, rec.Body)
		}
		for _, h := range all.Nodes {
			var ops uint64
			for _, s := range h.Samples {
				ops += s.Ops
			}
			if h.Error != "" || len(h.Samples) > historyGatherSamples || h.Ops != historyNames[h.Node.Role][0] ||
				(h.Node.Role == RoleAcceptor || h.Node.Role == RoleLearner || h.Node.ID == leader) && ops == 0 {
				return fmt.Errorf("GET /stats/cluster: %s: %d samples, %d %s, error %q", h.Node.Name, len(h.Samples), ops, h.Ops, h.Error)
			}
		}
		if len(all.Nodes) != len(c.cfg.Peers()) {
			return fmt.Errorf("GET /stats/cluster: %d nodes", len(all.Nodes))
		}
		return nil
	})
}
