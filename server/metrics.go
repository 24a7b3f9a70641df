package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paxos-go/paxos/replog"
)

// metrics are one node's Prometheus metrics, in a registry of its own (so
// several nodes can live in one test process).
type metrics struct {
	reg *prometheus.Registry

	leaderChanges prometheus.Counter
	proposals     *prometheus.CounterVec
	commitLatency prometheus.Histogram
	fsync         prometheus.Histogram
	httpRequests  *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"node": s.cfg.Name, "role": string(s.cfg.Role)}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Name: name, Help: help, ConstLabels: labels}
	}
	m.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts(f("paxos_leader_changes_total", "Times the leader this proposer knows changed.")))
	m.proposals = prometheus.NewCounterVec(prometheus.CounterOpts(f("paxos_proposals_total", "Proposals handled, by result (chosen, failed, timeout, not_leader).")), []string{"result"})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paxos_commit_latency_seconds",
		Help: "Time from a proposal's arrival to its answer (chosen).", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paxos_fsync_duration_seconds",
		Help: "Duration of each durable storage commit (write and fsync).", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts(f("paxos_http_requests_total", "API requests by route and status code.")), []string{"path", "code"})
	m.reg.MustRegister(m.leaderChanges, m.proposals, m.commitLatency, m.fsync, m.httpRequests,
		&stateCollector{s: s, labels: labels},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) proposal(result string) { m.proposals.WithLabelValues(result).Inc() }

func (m *metrics) observeFsync(d time.Duration, _ int) { m.fsync.Observe(d.Seconds()) }

// instrument counts API requests by route (known routes only, so a scan of
// random paths cannot blow up the label space) and status code.
func (m *metrics) instrument(known func(path string) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		path := r.URL.Path
		if !known(path) {
			path = "other"
		}
		m.httpRequests.WithLabelValues(path, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (Hijack, for
// message streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// stateCollector reads the node's state at scrape time.
type stateCollector struct {
	s      *Server
	labels prometheus.Labels
}

var (
	descIsLeader = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_is_leader", "1 when this proposer is the leader.", nil, l)
	}
	descBallot = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_ballot", "Ballot (proposal number): the proposer's own, or the acceptor's promise.", nil, l)
	}
	descChosen = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_chosen_slot", "Highest slot of the contiguous chosen log this node knows (-1: none).", nil, l)
	}
	descAccepted = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_accepted_slots", "Accepted entries an acceptor stores.", nil, l)
	}
	descDBSize = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_db_size_bytes", "Size of the node's bbolt file.", nil, l)
	}
	descPeers = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_peers", "Nodes gossip knows, by state.", []string{"state"}, l)
	}
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []func(prometheus.Labels) *prometheus.Desc{descIsLeader, descBallot, descChosen, descAccepted, descDBSize, descPeers} {
		ch <- d(c.labels)
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s, l := c.s, c.labels
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	switch {
	case s.proposer != nil:
		st := s.proposer.status()
		leader := 0.0
		if st.Role == replog.Leader {
			leader = 1
		}
		gauge(descIsLeader(l), leader)
		gauge(descBallot(l), float64(st.Ballot))
		gauge(descChosen(l), float64(int64(st.Commit)-1))
	case s.acceptor != nil:
		st := s.acceptor.store.Stats()
		gauge(descBallot(l), float64(st.Promised))
		gauge(descAccepted(l), float64(st.AcceptedCount))
		gauge(descDBSize(l), float64(st.SizeBytes))
	case s.learner != nil:
		gauge(descChosen(l), float64(int64(s.learner.commit.Load())-1))
		gauge(descDBSize(l), float64(s.learner.store.Stats().SizeBytes))
	}
	if s.gossip != nil {
		counts := map[string]int{GossipAlive: 0, GossipSuspect: 0, GossipDead: 0, GossipLeft: 0}
		for _, n := range s.gossip.Nodes() {
			counts[n.State]++
		}
		for state, n := range counts {
			gauge(descPeers(l), float64(n), state)
		}
	}
}
