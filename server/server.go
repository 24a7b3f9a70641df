// Package server is the paxos node daemon: it drives one replog role
// (proposer, acceptor or learner) or a client node, serves the HTTP API of
// SPEC §5 with httprouter, carries protocol messages between nodes over HTTP,
// and takes part in memberlist gossip for discovery and liveness.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// Server is one node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ring    *LogRing
	router  *httprouter.Router
	started time.Time
	metrics *metrics

	transport Transport
	gossip    *Gossip
	drv       *driver // nil on client nodes

	proposer *proposerRole
	acceptor *acceptorRole
	learner  *learnerRole
	client   *clientRole

	// taps route replies addressed to a pseudo node ID back to the HTTP
	// handler that asked (the seed's synchronous /prepare and /accept).
	taps   sync.Map // replog.ID → chan replog.Message
	tapSeq atomic.Uint64

	// httpClient is for node-to-node API calls (forwarding, reads).
	httpClient *http.Client

	addrMu sync.RWMutex
	addrs  map[replog.ID]string // API address book: static, refreshed by gossip

	streams connSet // message streams from peers (stream.go)
}

// tapBase is the first pseudo node ID used for taps.
const tapBase = 1 << 20

// New builds a node from cfg: it validates the configuration and opens the
// role's storage (a data dir locked by another process is a clear error).
// Nothing is served until Run.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	ring := NewLogRing(200)
	log = slog.New(ring.Handler(log.Handler(), slog.LevelInfo))
	s := &Server{cfg: cfg, log: log, ring: ring, started: time.Now(),
		httpClient: &http.Client{Timeout: cfg.RequestTimeout + time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
		addrs: map[replog.ID]string{}}
	for _, p := range cfg.Peers() {
		s.addrs[p.ID] = p.Addr
	}
	s.metrics = newMetrics(s)
	s.transport = newTapTransport(s, newHTTPTransport(s.addressOf, cfg.Secret, log))

	core := cfg.Core
	core.ID = cfg.ID
	core.Proposers, core.Acceptors, core.Learners = ids(cfg.Proposers), ids(cfg.Acceptors), ids(cfg.Learners)
	core.Notify = append(ids(cfg.Proposers), ids(cfg.Clients)...)
	if core.Rand == nil {
		core.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cfg.ID)))
	}
	var err error
	switch cfg.Role {
	case RoleProposer:
		s.proposer, err = newProposerRole(s, core)
	case RoleAcceptor:
		s.acceptor, err = newAcceptorRole(s, core)
	case RoleLearner:
		s.learner, err = newLearnerRole(s, core)
	case RoleClient:
		s.client = newClientRole(s)
	default:
		err = fmt.Errorf("unknown role %q", cfg.Role)
	}
	if err != nil {
		s.transport.Close()
		return nil, err
	}
	s.router = s.routes()
	return s, nil
}

// dbPath is the role's bbolt file in the data dir.
func (s *Server) dbPath() string {
	return filepath.Join(s.cfg.DataDir, string(s.cfg.Role)+".db")
}

// Handler returns the node's API handler (for tests and embedding).
func (s *Server) Handler() http.Handler {
	return s.metrics.instrument(func(path string) bool {
		h, _, _ := s.router.Lookup(http.MethodGet, path)
		if h == nil {
			h, _, _ = s.router.Lookup(http.MethodPost, path)
		}
		return h != nil
	}, s.router)
}

// Run serves the API (and the monitor port) and runs the protocol until ctx
// is cancelled; then it leaves gossip, stops, and closes storage.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.closeStorage()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.closeStorage()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	g, err := s.startGossip()
	if err != nil {
		ln.Close()
		return err
	}
	s.gossip = g

	var wg sync.WaitGroup
	drvCtx, stopDriver := context.WithCancel(context.Background())
	defer stopDriver()
	if s.drv != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.drv.run(drvCtx) }()
	}
	api := newHTTPServer(s.Handler())
	errc := make(chan error, 2)
	go func() { errc <- api.Serve(ln) }()
	var mon *http.Server
	if s.cfg.MonitorListen != "" {
		mln, err := net.Listen("tcp", s.cfg.MonitorListen)
		if err != nil {
			s.log.Warn("monitor port disabled", "addr", s.cfg.MonitorListen, "err", err)
		} else {
			mon = newHTTPServer(s.monitorHandler())
			go func() { errc <- mon.Serve(mln) }()
		}
	}
	s.log.Info("node started", "id", s.cfg.ID, "api", ln.Addr().String(), "monitor", s.cfg.MonitorListen,
		"acceptors", FormatPeers(s.cfg.Acceptors), "quorum", len(s.cfg.Acceptors)/2+1)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	s.log.Info("shutting down")
	// Stop the protocol first (a leader stops heartbeating), answer what
	// waits with 503 so clients retry elsewhere at once, then leave gossip:
	// the other proposers see "left" and campaign without waiting for a
	// timeout.
	if s.drv != nil {
		s.drv.stop()
	}
	stopDriver()
	wg.Wait()
	s.failPending(ErrShuttingDown)
	if s.gossip != nil {
		_ = s.gossip.Leave(500 * time.Millisecond)
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	_ = api.Shutdown(shutdownCtx)
	s.streams.closeAll()
	if mon != nil {
		_ = mon.Shutdown(shutdownCtx)
	}
	s.transport.Close()
	if s.gossip != nil {
		_ = s.gossip.Shutdown()
	}
	return err
}

// failPending answers every proposal and read waiting on this node with err.
func (s *Server) failPending(err error) {
	p := s.proposer
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for req, ws := range p.waiters {
		for _, ch := range ws {
			ch <- replog.Result{RequestID: req, Err: err}
		}
		delete(p.waiters, req)
	}
	for id, ch := range p.reads {
		ch <- replog.ReadState{Ctx: id, Err: err}
		delete(p.reads, id)
	}
}

// newHTTPServer returns a server with timeouts on every phase (slowloris).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
}

func (s *Server) closeStorage() {
	var err error
	switch {
	case s.proposer != nil:
		err = s.proposer.store.Close()
	case s.acceptor != nil:
		err = s.acceptor.store.Close()
	case s.learner != nil:
		err = s.learner.store.Close()
	}
	if err != nil {
		s.log.Warn("closing storage", "err", err)
	}
}

func (s *Server) startGossip() (*Gossip, error) {
	host, _, _ := net.SplitHostPort(s.selfAddr())
	gc := GossipConfig{ID: s.cfg.ID, Name: s.cfg.Name, Role: s.cfg.Role, APIAddr: s.selfAddr(),
		BindAddr: s.cfg.GossipBind, BindPort: s.cfg.GossipPort, Join: s.cfg.Join, Secret: s.cfg.Secret, Logger: s.log}
	if host != "" && net.ParseIP(host) != nil {
		gc.AdvertiseAddr = host
	}
	g, err := NewGossip(gc, s.gossipMeta)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g.OnChange(s.onGossipChange)
	return g, nil
}

// selfAddr is the API address others reach this node at.
func (s *Server) selfAddr() string {
	if p, ok := s.cfg.Peer(s.cfg.ID); ok {
		return p.Addr
	}
	return s.cfg.Listen
}

func (s *Server) gossipMeta() GossipMeta {
	m := GossipMeta{ID: s.cfg.ID, Name: s.cfg.Name, Role: s.cfg.Role, API: s.selfAddr(), Chosen: -1}
	switch {
	case s.proposer != nil:
		st := s.proposer.status()
		m.Leader, m.Ballot, m.Chosen = st.Leader, uint64(st.Ballot), int64(st.Commit)-1
	case s.learner != nil:
		m.Chosen = int64(s.learner.commit.Load()) - 1
	}
	return m
}

func (s *Server) onGossipChange(n GossipNode) {
	if n.Address != "" && n.Port != 0 && n.ID != replog.None {
		s.addrMu.Lock()
		s.addrs[n.ID] = net.JoinHostPort(n.Address, strconv.Itoa(n.Port))
		s.addrMu.Unlock()
	}
	if s.proposer != nil && (n.State == "dead" || n.State == "left") {
		s.proposer.peerGone(n.ID)
	}
}

// addressOf returns the API address of node id.
func (s *Server) addressOf(id replog.ID) (string, bool) {
	s.addrMu.RLock()
	defer s.addrMu.RUnlock()
	a, ok := s.addrs[id]
	return a, ok
}

// tapTransport delivers messages addressed to a tap to the waiting handler
// and everything else through the real transport.
type tapTransport struct {
	s    *Server
	next Transport
}

func newTapTransport(s *Server, next Transport) *tapTransport { return &tapTransport{s: s, next: next} }

func (t *tapTransport) Send(msgs []replog.Message) {
	var out []replog.Message
	for _, m := range msgs {
		if m.To >= tapBase {
			if ch, ok := t.s.taps.Load(m.To); ok {
				select {
				case ch.(chan replog.Message) <- m:
				default:
				}
			}
			continue
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		t.next.Send(out)
	}
}

func (t *tapTransport) Close() { t.next.Close() }

// tap returns a pseudo node ID whose replies arrive on the channel, and a
// function to release it.
func (s *Server) tap() (replog.ID, chan replog.Message, func()) {
	id := replog.ID(tapBase + s.tapSeq.Add(1))
	ch := make(chan replog.Message, 4)
	s.taps.Store(id, ch)
	return id, ch, func() { s.taps.Delete(id) }
}

// authorized checks the bearer token against the allowed secrets (none set:
// open).
func authorized(r *http.Request, secrets ...string) bool {
	open := true
	got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for _, want := range secrets {
		if want == "" {
			continue
		}
		open = false
		if bearer && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			return true
		}
	}
	return open
}

// internal wraps an internal endpoint: it demands the cluster secret.
func (s *Server) internal(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if !authorized(r, s.cfg.Secret) {
			writeError(w, fmt.Errorf("%w: this endpoint needs the cluster secret (Authorization: Bearer ...)", ErrUnauthorized), nil)
			return
		}
		h(w, r, ps)
	}
}

// writes wraps a write endpoint: it demands the client token (or the cluster
// secret, for forwarded writes) when a client token is set.
func (s *Server) writes(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if s.cfg.ClientToken != "" && !authorized(r, s.cfg.ClientToken, s.cfg.Secret) {
			writeError(w, fmt.Errorf("%w: writes need the client token (Authorization: Bearer ...)", ErrUnauthorized), nil)
			return
		}
		h(w, r, ps)
	}
}
