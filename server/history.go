package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/paxos-go/paxos/api"
)

// Metrics history (issue 16): the status page's charts. Every node keeps
// one sample per historyInterval for the last historySamples intervals: how
// many operations its role did in the interval (a proposer: writes it
// answered as chosen; an acceptor or a learner: slots it made durable) and
// the percentiles of the latencies measured in it (a proposer: commit
// latency, from a proposal's arrival to its answer; an acceptor or a
// learner: the length of each durable commit, write and fsync).
//
// The percentiles are read from a fixed histogram of the interval's
// measurements (historyBuckets buckets, historyBucketsPerDoubling per
// doubling from historyMinLatency): a percentile is the upper bound of the
// bucket that holds it, never above the largest measurement, so it is at
// most one bucket width (19%) above the true value. Windows roll lazily, on
// the next measurement or read: no goroutine, no timer.
//
// GET /stats/history on the monitor port (and, internal, on the API port)
// answers the samples, oldest first; ?last=N only the newest N. GET
// /stats/cluster on the monitor port gathers the newest
// historyGatherSamples of every node (the status page's row per node).

// The bounds of the history (SPEC §9: one constant per limit).
const (
	// historyInterval is the length of one sample's window.
	historyInterval = time.Second
	// historySamples is how many windows a node keeps: 5 minutes.
	historySamples = 300
	// historyMinLatency is the upper bound of the first bucket.
	historyMinLatency = 10 * time.Microsecond
	// historyBucketsPerDoubling sets the buckets' resolution.
	historyBucketsPerDoubling = 4
	// historyBuckets is the histogram's size: 10µs to about 168 s; the
	// last bucket takes anything longer.
	historyBuckets = 24 * historyBucketsPerDoubling
	// historyGatherSamples is how many samples of each node /stats/cluster
	// gathers: the last minute.
	historyGatherSamples = 60
)

// HistorySample is one window of a node's metrics history.
type HistorySample struct {
	// Start is when the window began, in Unix milliseconds.
	Start int64 `json:"t"`
	// Ops is how many operations the role did in the window; Rate is the
	// same per second.
	Ops  uint64  `json:"ops"`
	Rate float64 `json:"rate"`
	// N is how many latencies were measured in the window; the
	// percentiles and the maximum are in milliseconds, absent when N is 0.
	N   uint64   `json:"n"`
	P50 *float64 `json:"p50_ms,omitempty"`
	P99 *float64 `json:"p99_ms,omitempty"`
	Max *float64 `json:"max_ms,omitempty"`
}

// History is the answer of GET /stats/history.
type History struct {
	Node TraceNode `json:"node"`
	// Interval is a window's length in milliseconds; Capacity is how many
	// windows the node keeps.
	Interval int64 `json:"interval_ms"`
	Capacity int   `json:"capacity"`
	// Ops and Latency name what this role counts and times.
	Ops     string `json:"ops"`
	Latency string `json:"latency"`
	// Samples are the closed windows, oldest first (at most Capacity).
	Samples []HistorySample `json:"samples"`
	// Error says why a gathered node's history is missing.
	Error string `json:"error,omitempty"`
}

// ClusterHistory is the answer of GET /stats/cluster: every node's
// history, in topology order.
type ClusterHistory struct {
	Nodes []History `json:"nodes"`
}

// historyWindow is the window being filled.
type historyWindow struct {
	ops  uint64
	n    uint64
	max  time.Duration
	hist [historyBuckets]uint32
}

// history is a node's metrics history. Safe for concurrent use; the zero
// value is not usable (newHistory).
type history struct {
	now func() time.Time

	mu      sync.Mutex
	samples [historySamples]HistorySample // a ring: next is the oldest once full
	next    int
	full    bool
	cur     historyWindow
	curIdx  int64 // the current window's number: Unix time / historyInterval
}

func newHistory(now func() time.Time) *history {
	if now == nil {
		now = time.Now
	}
	return &history{now: now, curIdx: now().UnixNano() / int64(historyInterval)}
}

// add counts ops operations without a latency.
func (h *history) add(ops int) { h.record(ops, -1) }

// observe counts ops operations and one latency d.
func (h *history) observe(ops int, d time.Duration) { h.record(ops, max(d, 0)) }

func (h *history) record(ops int, d time.Duration) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	h.cur.ops += uint64(max(ops, 0))
	if d < 0 {
		return
	}
	h.cur.n++
	h.cur.max = max(h.cur.max, d)
	h.cur.hist[latencyBucket(d)]++
}

// latencyBucket is the bucket of d: the first whose upper bound is d or more.
func latencyBucket(d time.Duration) int {
	if d <= historyMinLatency {
		return 0
	}
	b := int(math.Ceil(math.Log2(float64(d)/float64(historyMinLatency)) * historyBucketsPerDoubling))
	return min(b, historyBuckets-1)
}

// bucketUpper is the upper bound of bucket b.
func bucketUpper(b int) time.Duration {
	return time.Duration(float64(historyMinLatency) * math.Exp2(float64(b)/historyBucketsPerDoubling))
}

// rollLocked closes the windows that ended before now: the current one,
// then an empty one for every interval without a measurement.
func (h *history) rollLocked() {
	idx := h.now().UnixNano() / int64(historyInterval)
	if idx <= h.curIdx {
		return
	}
	h.pushLocked(h.curIdx, &h.cur)
	h.cur = historyWindow{}
	// Only the last historySamples empty windows can still be in the ring.
	for i := max(h.curIdx+1, idx-historySamples); i < idx; i++ {
		h.pushLocked(i, &h.cur)
	}
	h.curIdx = idx
}

// pushLocked stores window w, number idx, as the newest sample.
func (h *history) pushLocked(idx int64, w *historyWindow) {
	s := HistorySample{Start: idx * int64(historyInterval) / int64(time.Millisecond), Ops: w.ops,
		Rate: float64(w.ops) / historyInterval.Seconds(), N: w.n}
	if w.n > 0 {
		ms := func(d time.Duration) *float64 { v := float64(d) / float64(time.Millisecond); return &v }
		s.P50, s.P99, s.Max = ms(w.quantile(0.50)), ms(w.quantile(0.99)), ms(w.max)
	}
	h.samples[h.next] = s
	h.next = (h.next + 1) % historySamples
	h.full = h.full || h.next == 0
}

// quantile is the q-quantile of the window's latencies: the upper bound of
// the bucket of the ceil(q·n)-th smallest, at most the largest.
func (w *historyWindow) quantile(q float64) time.Duration {
	rank := uint64(math.Ceil(q * float64(w.n)))
	rank = max(rank, 1)
	var seen uint64
	for b, c := range w.hist {
		seen += uint64(c)
		if seen >= rank {
			return min(bucketUpper(b), w.max)
		}
	}
	return w.max
}

// snapshot returns the closed windows, oldest first.
func (h *history) snapshot() []HistorySample {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	if !h.full {
		return append([]HistorySample(nil), h.samples[:h.next]...)
	}
	return append(append([]HistorySample(nil), h.samples[h.next:]...), h.samples[:h.next]...)
}

// historyNames says what each role's history counts and times.
var historyNames = map[Role][2]string{
	RoleProposer: {"writes", "commit latency"},
	RoleAcceptor: {"slots made durable", "fsync"},
	RoleLearner:  {"slots made durable", "fsync"},
	RoleClient:   {"", ""},
}

// handleHistory serves GET /stats/history.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, api.Error{Error: "method " + r.Method + " not allowed on /stats/history", Allow: "GET, HEAD"})
		return
	}
	last := historySamples
	if v := r.URL.Query().Get("last"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > historySamples {
			writeError(w, fmt.Errorf("%w: last=%.20q: want 1 to %d", ErrBadRequest, v, historySamples), nil)
			return
		}
		last = n
	}
	writeJSON(w, http.StatusOK, s.localHistory(last))
}

// localHistory is this node's history, its newest last samples.
func (s *Server) localHistory(last int) History {
	names := historyNames[s.cfg.Role]
	samples := s.metrics.history.snapshot()
	samples = samples[max(len(samples)-last, 0):]
	return History{Node: TraceNode{ID: s.cfg.ID, Name: s.cfg.Name, Role: s.cfg.Role},
		Interval: historyInterval.Milliseconds(), Capacity: historySamples, Ops: names[0], Latency: names[1],
		Samples: samples}
}

// handleClusterHistory serves GET /stats/cluster: the newest
// historyGatherSamples of every node's history (this node's from memory,
// the others' from GET /stats/history on their API ports, concurrently,
// within traceGatherTimeout). A node that does not answer is listed with
// the error.
func (s *Server) handleClusterHistory(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), traceGatherTimeout)
	defer cancel()
	peers := s.cfg.Peers()
	out := ClusterHistory{Nodes: make([]History, len(peers))}
	var wg sync.WaitGroup
	for i, p := range peers {
		node := TraceNode{ID: p.ID, Name: p.Name, Role: p.Role}
		if p.ID == s.cfg.ID {
			out.Nodes[i] = s.localHistory(historyGatherSamples)
			continue
		}
		addr, ok := s.addressOf(p.ID)
		if !ok {
			out.Nodes[i] = History{Node: node, Error: "no address"}
			continue
		}
		wg.Go(func() {
			var h History
			err := s.getJSON(ctx, addr, "/stats/history?last="+strconv.Itoa(historyGatherSamples), &h)
			if err != nil {
				h = History{Node: node, Error: err.Error()}
			} else if h.Node.ID != p.ID {
				h = History{Node: node, Error: fmt.Sprintf("%s answered as node %d", addr, h.Node.ID)}
			}
			h.Samples = h.Samples[max(len(h.Samples)-historyGatherSamples, 0):]
			out.Nodes[i] = h
		})
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, out)
}
