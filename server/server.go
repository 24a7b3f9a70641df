// Package server is the paxos node daemon: it drives one replog role
// (proposer, acceptor or learner) or a client node, serves the HTTP API of
// SPEC §5 with httprouter, carries protocol messages between nodes over HTTP,
// and takes part in memberlist gossip for discovery and liveness.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// Server is one node.
type Server struct {
	*node // what the role shares with the rest of the node (node.go)

	// gossipTune, when set, changes gossip's configuration before it
	// starts (tests).
	gossipTune func(*gossip.Config)
	ring       *LogRing
	router     *httprouter.Router

	transport Transport
	role      role    // the node's role: proposer, acceptor, learner or client
	drv       *driver // the role's loop; nil on client nodes

	streams connSet // message streams from peers (stream.go)
}

// New builds a node from cfg: it validates the configuration and opens the
// role's storage (a data dir locked by another process is a clear error),
// unless opts give a store (WithProposerStore, ...), and the HTTP
// transport, unless opts give one (WithTransport). Nothing is served until
// Run.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(cfg.Role); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir != "" {
		// Synced: a power loss must not drop the directory of stores
		// that were written.
		if err := storage.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		// Before any store opens: a data dir of another cluster or node
		// must not be read as this node's (SPEC §9 Lost disk).
		if err := storage.ClaimDir(cfg.DataDir, storage.Identity{ClusterID: cfg.ClusterID, NodeID: uint64(cfg.ID)}); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	ring := NewLogRing(200)
	log = slog.New(ring.Handler(log.Handler(), slog.LevelInfo))
	s := &Server{ring: ring, node: &node{cfg: cfg, log: log, started: time.Now(),
		addrs: map[replog.ID]string{}, roles: map[replog.ID]Role{}, warns: newLogLimiter(warnEvery)}}
	hc := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	if cfg.CertFile != "" {
		var err error
		if s.tls, err = newNodeTLS(&cfg, log, s.warns); err != nil {
			return nil, err
		}
		hc = s.tls.httpTransport(hc)
	}
	s.httpClient = &http.Client{Timeout: cfg.RequestTimeout + time.Second, Transport: hc}
	for _, p := range cfg.Peers() {
		s.addrs[p.ID] = p.Addr
		s.roles[p.ID] = p.Role
	}
	s.metrics = newMetrics(s)
	if !cfg.NoTrace {
		s.trace = newTraceRing(cfg.ID)
	}
	if o.transport == nil {
		o.transport = newHTTPTransport(cfg.ID, s.addressOf, cfg.Secret, s.tls, log, s.warns)
	}
	s.transport = newTapTransport(s.node, o.transport)

	core := cfg.Core
	core.ID = cfg.ID
	core.Proposers, core.Acceptors, core.Learners = ids(cfg.Proposers), ids(cfg.Acceptors), ids(cfg.Learners)
	core.Notify = append(ids(cfg.Proposers), ids(cfg.Clients)...)
	if core.Rand == nil {
		core.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cfg.ID)))
	}
	var err error
	if s.role, err = s.newRole(&o, core); err != nil {
		s.transport.Close()
		return nil, err
	}
	s.drv = s.role.loop()
	s.router = s.routes()
	if c, ok := o.transport.(Connector); ok {
		c.Connect(cfg.ID, s.deliver)
	}
	return s, nil
}

// newRole makes the node's role on the store o gives, or on the one it
// opens in the data dir.
func (s *Server) newRole(o *options, core replog.Config) (role, error) {
	path, so, send := s.dbPath(), s.storageOptions(), s.transport.Send
	switch s.cfg.Role {
	case RoleProposer:
		st, err := o.proposerStore(path, so)
		if err != nil {
			return nil, err
		}
		return newProposerRole(s.node, core, st, send)
	case RoleAcceptor:
		st, err := o.acceptorStore(path, so)
		if err != nil {
			return nil, err
		}
		return newAcceptorRole(s.node, core, st, send)
	case RoleLearner:
		st, err := o.learnerStore(path, so)
		if err != nil {
			return nil, err
		}
		return newLearnerRole(s.node, core, st, send)
	case RoleClient:
		return newClientRole(s.node), nil
	}
	return nil, fmt.Errorf("unknown role %q", s.cfg.Role)
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
		s.closeRole()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.closeRole()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	g, err := s.startGossip(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	s.gossip = g
	go s.advertiseChosen(ctx, g, chosenAdvertiseEvery)

	var wg sync.WaitGroup
	drvCtx, stopDriver := context.WithCancel(context.Background())
	defer stopDriver()
	if s.drv != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.drv.run(drvCtx) }()
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.serverConfig())
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
			if s.tls != nil {
				// The status page, /metrics and /trace over TLS too.
				mln = tls.NewListener(mln, s.tls.serverConfig())
			}
			mon = newHTTPServer(s.monitorHandler())
			go func() { errc <- mon.Serve(mln) }()
		}
	}
	s.log.Info("node started", "id", s.cfg.ID, "api", s.scheme()+"://"+ln.Addr().String(), "monitor", s.monitorURL(),
		"acceptors", FormatPeers(s.cfg.Acceptors), "quorum", replog.Quorum(len(s.cfg.Acceptors)))

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
	s.role.fail(ErrShuttingDown)
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

// newHTTPServer returns a server with timeouts on every phase (slowloris).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
}

// closeRole releases what the role holds, once the node stopped.
func (s *Server) closeRole() {
	if err := s.role.close(); err != nil {
		s.log.Warn("closing storage", "err", err)
	}
}

func (s *Server) startGossip(ctx context.Context) (*gossip.Agent, error) {
	gc := gossip.Config{ID: s.cfg.ID, Name: s.cfg.Name, Role: string(s.cfg.Role), APIAddr: s.selfAddr(),
		BindAddr: s.cfg.GossipBind, BindPort: s.cfg.GossipPort, Join: s.cfg.Join, Secret: s.cfg.Secret, Logger: s.log}
	if s.cfg.DataDir != "" {
		gc.KeyringFile = filepath.Join(s.cfg.DataDir, gossip.KeyringFile)
	}
	if s.gossipTune != nil {
		s.gossipTune(&gc)
	}
	var err error
	gc.AdvertiseAddr, gc.AdvertisePort, err = s.gossipAdvertise(ctx)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g, err := gossip.New(gc, s.gossipMeta)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g.OnChange(s.onGossipChange)
	return g, nil
}

// monitorURL is the monitor address, with its scheme, for logs.
func (s *Server) monitorURL() string {
	if s.cfg.MonitorListen == "" {
		return "off"
	}
	return s.scheme() + "://" + s.cfg.MonitorListen
}

// selfAddr is the API address others reach this node at.
func (s *Server) selfAddr() string {
	if p, ok := s.cfg.Peer(s.cfg.ID); ok {
		return p.Addr
	}
	return s.cfg.Listen
}

func (s *Server) gossipMeta() gossip.Meta {
	m := gossip.Meta{ID: s.cfg.ID, Name: s.cfg.Name, Role: string(s.cfg.Role), API: s.selfAddr(), Chosen: -1, Alarms: s.ownAlarmNames()}
	s.role.meta(&m)
	return m
}

func (s *Server) onGossipChange(n gossip.Member) {
	if n.Address != "" && n.Port != 0 && n.ID != replog.None {
		s.addrMu.Lock()
		s.addrs[n.ID] = net.JoinHostPort(n.Address, strconv.Itoa(n.Port))
		s.addrMu.Unlock()
	}
	if w, ok := s.role.(peerWatcher); ok && (n.State == gossip.Dead || n.State == gossip.Left) {
		w.peerGone(n.ID, n.State == gossip.Left)
	}
}
