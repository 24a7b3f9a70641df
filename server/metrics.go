package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paxos-go/paxos/gossip"
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

	// history is the per-second history of the role's work, for the
	// status page's charts (history.go): a proposer's writes, an
	// acceptor's or a learner's durable commits (historyFsync).
	history      *history
	historyFsync bool
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), history: newHistory(nil),
		historyFsync: s.cfg.Role == RoleAcceptor || s.cfg.Role == RoleLearner}
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

func (m *metrics) observeFsync(d time.Duration, slots int) {
	m.fsync.Observe(d.Seconds())
	if m.historyFsync {
		m.history.observe(slots, d)
	}
}

// committed records a proposal answered as chosen after d.
func (m *metrics) committed(d time.Duration) {
	m.proposal("chosen")
	m.commitLatency.Observe(d.Seconds())
	m.history.observe(1, d)
}

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

// gauge is one value of a role's state at a scrape (role.gauges).
type gauge struct {
	desc  func(prometheus.Labels) *prometheus.Desc
	value float64
}

func (p *proposerRole) gauges() []gauge {
	st := p.status()
	leader := 0.0
	if st.State == replog.Leader {
		leader = 1
	}
	return []gauge{{descIsLeader, leader}, {descBallot, float64(st.Ballot)}, {descChosen, float64(int64(st.Commit) - 1)}}
}

func (a *acceptorRole) gauges() []gauge {
	st := a.store.Stats()
	return []gauge{{descBallot, float64(st.Promised)}, {descAccepted, float64(st.AcceptedCount)}, {descCompacted, float64(st.Compacted)},
		{descDBSize, float64(st.SizeBytes)}}
}

func (l *learnerRole) gauges() []gauge {
	return []gauge{{descChosen, float64(int64(l.commit.Load()) - 1)}, {descDBSize, float64(l.store.Stats().SizeBytes)}}
}

func (c *clientRole) gauges() []gauge { return nil }

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
		return prometheus.NewDesc("paxos_chosen_slot", "Highest slot of the contiguous chosen log this node knows; a learner's is the durable log it serves (-1: none).", nil, l)
	}
	descAccepted = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_accepted_slots", "Accepted entries an acceptor stores.", nil, l)
	}
	descCompacted = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_compacted_slot", "An acceptor's compaction point: it deleted its accepted entries below this slot (a learner holds them durably).", nil, l)
	}
	descDBSize = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_db_size_bytes", "Size of the node's bbolt file.", nil, l)
	}
	descPeers = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_peers", "Nodes gossip knows, by state.", []string{"state"}, l)
	}
	descAlarm = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("paxos_alarm", "1 while this node raises the alarm (LEARNER_LAG: a proposer; NOSPACE: an acceptor), else 0.", []string{"alarm"}, l)
	}
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []func(prometheus.Labels) *prometheus.Desc{descIsLeader, descBallot, descChosen, descAccepted, descCompacted, descDBSize, descPeers, descAlarm} {
		ch <- d(c.labels)
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s, l := c.s, c.labels
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, g := range s.role.gauges() {
		gauge(g.desc(l), g.value)
	}
	raised := map[string]float64{}
	for _, a := range s.ownAlarms() {
		raised[a.Alarm] = 1
	}
	for _, a := range Alarms {
		gauge(descAlarm(l), raised[a], a)
	}
	if s.gossip != nil {
		counts := map[string]int{gossip.Alive: 0, gossip.Suspect: 0, gossip.Dead: 0, gossip.Left: 0}
		for _, n := range s.gossip.Nodes() {
			counts[n.State]++
		}
		for state, n := range counts {
			gauge(descPeers(l), float64(n), state)
		}
	}
}
