package server

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// GossipDefaultPort is memberlist's port when an address names none (every
// container uses it in Compose, SPEC §3).
const GossipDefaultPort = 7946

// The states a node can be in, as memberlist sees it.
const (
	GossipAlive   = "alive"
	GossipSuspect = "suspect"
	GossipDead    = "dead"
	GossipLeft    = "left"
)

// gossipMetaLimit bounds the encoded GossipMeta (memberlist allows 512).
const gossipMetaLimit = 400

// gossipPushLimit is the largest POST /gossip body; gossipPushMaxJoins bounds
// the addresses one push makes us contact (each may cost a TCP timeout).
const (
	gossipPushLimit    = 1 << 20
	gossipPushMaxJoins = 16
)

// GossipConfig configures memberlist for one node.
type GossipConfig struct {
	ID   replog.ID
	Name string
	Role Role
	// APIAddr is the host:port others reach this node's API at.
	APIAddr string
	// BindAddr and BindPort are memberlist's listen address ("" means
	// 0.0.0.0; port 0 picks a free port, for tests).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort, when set, are the gossip address
	// others reach this node at (AdvertisePort 0 means the bound port).
	AdvertiseAddr string
	AdvertisePort int
	// Join lists the host:port of gossip peers to join at start. NewGossip
	// never blocks on them: it retries in the background until one answers.
	Join []string
	// Secret, when set, keys gossip encryption (AES-256 with sha256(Secret)),
	// so a node with another secret cannot join.
	Secret string
	// Logger receives memberlist's own logs at debug level (nil: slog.Default()).
	Logger *slog.Logger
}

// Validate reports a configuration gossip cannot start with.
func (c *GossipConfig) Validate() error {
	if c.ID == replog.None {
		return errors.New("gossip: node ID must be set")
	}
	if c.Name == "" {
		return errors.New("gossip: node name must be set")
	}
	if _, err := ParseRole(string(c.Role)); err != nil || c.Role == "" {
		return fmt.Errorf("gossip: node role must be set: %q is not a role", c.Role)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return fmt.Errorf("gossip: bind port %d out of range", c.BindPort)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("gossip: advertise port %d out of range", c.AdvertisePort)
	}
	if c.APIAddr != "" {
		if _, _, err := net.SplitHostPort(c.APIAddr); err != nil {
			return fmt.Errorf("gossip: API address %q: want HOST:PORT", c.APIAddr)
		}
	}
	return nil
}

// GossipMeta is what a node tells the others about itself in memberlist's
// node metadata (compact JSON, under 400 bytes).
type GossipMeta struct {
	ID     replog.ID `json:"id"`
	Name   string    `json:"name"`
	Role   Role      `json:"role"`
	API    string    `json:"api"`
	Leader replog.ID `json:"leader,omitempty"`
	Ballot uint64    `json:"ballot,omitempty"`
	// Chosen is the highest chosen slot the node knows, -1 when none.
	Chosen int64 `json:"chosen"`
	// Leaving is set by Leave, so the others report "left" rather than "dead".
	Leaving bool `json:"leaving,omitempty"`
}

// GossipNode is one node as this node's memberlist sees it (a row of
// GET /gossip/nodes).
type GossipNode struct {
	ID   replog.ID `json:"id"`
	Name string    `json:"name"`
	Role Role      `json:"role"`
	// Address and Port are the node's API host and port.
	Address string `json:"address"`
	Port    int    `json:"port"`
	// State is GossipAlive, GossipSuspect, GossipDead or GossipLeft.
	State string `json:"state"`
	// Metadata holds leader, ballot, chosen, api and gossip (the
	// memberlist host:port); null for unknown.
	Metadata map[string]any `json:"metadata"`
	// Meta is the decoded metadata, for code that reacts to changes.
	Meta GossipMeta `json:"-"`
	// Since is when State last changed, as seen here.
	Since time.Time `json:"-"`
}

// Gossip is this node's membership in the memberlist cluster: discovery,
// failure detection and metadata. It never decides quorums (SPEC §8.10).
type Gossip struct {
	cfg        GossipConfig
	meta       func() GossipMeta
	log        *slog.Logger
	ml         *memberlist.Memberlist
	suspectTTL time.Duration

	leaving atomic.Bool
	stopped atomic.Bool
	stop    chan struct{}
	dirty   chan struct{} // UpdateMeta requests, coalesced
	wake    chan struct{} // events queued for the subscribers
	wg      sync.WaitGroup
	once    sync.Once
	shutErr error

	// mu guards the fields below. Lock order: memberlist's own lock, then
	// mu; never call into memberlist while holding mu.
	mu    sync.Mutex
	nodes map[string]*gossipEntry // by memberlist name
	subs  []func(GossipNode)
	queue []gossipEvent
}

// gossipEntry is what we remember of one memberlist node, dead ones included.
type gossipEntry struct {
	name   string
	gossip string // memberlist host:port
	meta   GossipMeta
	metaOK bool
	state  string
	since  time.Time
}

type gossipEvent struct {
	node GossipNode
	subs []func(GossipNode) // nil: every subscriber
}

// NewGossip starts memberlist for one node and, in the background, joins
// cfg.Join. meta is called whenever memberlist advertises this node; it must
// be fast and safe for concurrent use (nil: only ID, name, role and API).
func NewGossip(cfg GossipConfig, meta func() GossipMeta) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "0.0.0.0"
	}
	g := &Gossip{
		cfg:   cfg,
		meta:  meta,
		log:   cfg.Logger.With("component", "gossip"),
		stop:  make(chan struct{}),
		dirty: make(chan struct{}, 1),
		wake:  make(chan struct{}, 1),
		nodes: map[string]*gossipEntry{},
	}
	if b, err := json.Marshal(g.localMeta()); err != nil || len(b) > gossipMetaLimit {
		return nil, fmt.Errorf("gossip: node metadata is %d bytes, more than %d", len(b), gossipMetaLimit)
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = cfg.BindAddr, cfg.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseAddr, cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 250 * time.Millisecond
	mc.SuspicionMult = 2
	mc.GossipInterval = 100 * time.Millisecond
	mc.PushPullInterval = 10 * time.Second
	mc.DeadNodeReclaimTime = time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.LogOutput = nil
	mc.Logger = log.New(gossipLogWriter{g}, "", 0)
	hooks := gossipHooks{g}
	mc.Delegate, mc.Events, mc.Ping = hooks, hooks, hooks
	if cfg.Secret != "" {
		key := sha256.Sum256([]byte(cfg.Secret))
		mc.SecretKey = key[:]
	}
	// A suspect that outlives the longest suspicion timeout and is still a
	// member refuted it: memberlist does not tell us, so we time it out.
	g.suspectTTL = 2 * time.Duration(mc.SuspicionMult*mc.SuspicionMaxTimeoutMult) * mc.ProbeInterval

	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w",
			net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	g.ml = ml
	g.wg.Add(3)
	go g.dispatch()
	go g.advertise()
	go g.sweep(2 * mc.ProbeInterval)
	if len(cfg.Join) > 0 {
		go g.joinLoop(cfg.Join)
	}
	g.log.Info("gossip started", "name", cfg.Name, "addr", g.LocalAddr(), "join", cfg.Join,
		"encrypted", cfg.Secret != "")
	return g, nil
}

// LocalAddr returns the gossip host:port this node advertises.
func (g *Gossip) LocalAddr() string {
	// Not ml.LocalNode(): memberlist hands out that node unlocked.
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.nodes[g.cfg.Name]; ok {
		return e.gossip
	}
	return ""
}

// Join contacts the gossip peers at addrs (host:port; a bare host means
// port 7946) and returns how many answered; the error is set when none did.
// It blocks up to 2 s per unreachable address.
func (g *Gossip) Join(addrs []string) (int, error) {
	if g.stopped.Load() {
		return 0, errors.New("gossip: stopped")
	}
	var clean []string
	for _, a := range addrs {
		if a = strings.TrimSpace(a); a != "" {
			clean = append(clean, gossipAddr(a))
		}
	}
	if len(clean) == 0 {
		return 0, errors.New("gossip: no address to join")
	}
	n, err := g.ml.Join(clean)
	if err != nil && n == 0 {
		return 0, fmt.Errorf("gossip: join %s: %w", strings.Join(clean, ","), err)
	}
	return n, nil
}

// joinLoop joins addrs until a peer answered and someone else is a member.
func (g *Gossip) joinLoop(addrs []string) {
	backoff := 250 * time.Millisecond
	for {
		if g.ml.NumMembers() > 1 {
			return
		}
		n, err := g.Join(addrs)
		if n > 0 && g.ml.NumMembers() > 1 {
			g.log.Info("joined gossip", "contacted", n, "members", g.ml.NumMembers())
			return
		}
		g.log.Debug("gossip join: no peer yet, retrying", "addrs", addrs, "err", err, "in", backoff)
		select {
		case <-g.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// UpdateMeta re-advertises this node's metadata (after a leader or ballot
// change). It does not block: the broadcast happens on a gossip goroutine,
// and requests made meanwhile are coalesced.
func (g *Gossip) UpdateMeta() { gossipPoke(g.dirty) }

func (g *Gossip) advertise() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case <-g.dirty:
			if g.stopped.Load() {
				return
			}
			if err := g.ml.UpdateNode(time.Second); err != nil {
				g.log.Debug("gossip metadata update", "err", err)
			}
		}
	}
}

// OnChange registers f to be told about every node already known, then about
// every change: a node joins, changes state (alive, suspect, dead, left) or
// updates its metadata. Calls come from one gossip goroutine, in order; f may
// call Gossip methods, but a slow f delays later events.
func (g *Gossip) OnChange(f func(n GossipNode)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.subs = append(g.subs, f)
	for _, e := range g.sortedLocked() {
		g.queue = append(g.queue, gossipEvent{node: e.node(), subs: []func(GossipNode){f}})
	}
	gossipPoke(g.wake)
}

// gossipPoke wakes the goroutine waiting on ch (capacity 1) without blocking.
func gossipPoke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (g *Gossip) dispatch() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case <-g.wake:
		}
		for {
			g.mu.Lock()
			batch, all := g.queue, g.subs
			g.queue = nil
			g.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, ev := range batch {
				subs := ev.subs
				if subs == nil {
					subs = all
				}
				for _, f := range subs {
					f(ev.node)
				}
			}
		}
	}
}

// Nodes returns every node this node has heard of, dead and left ones
// included (with their last state), sorted by ID.
func (g *Gossip) Nodes() []GossipNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	es := g.sortedLocked()
	out := make([]GossipNode, len(es))
	for i, e := range es {
		out[i] = e.node()
	}
	return out
}

// LeaderID returns the leader that most alive proposers report in their
// metadata (ties go to the higher ballot), ignoring a leader known to be dead
// or left; replog.None when no alive proposer reports one.
func (g *Gossip) LeaderID() replog.ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	gone := map[replog.ID]bool{}
	var votes []GossipMeta
	for _, e := range g.nodes {
		if !e.metaOK {
			continue
		}
		if e.state == GossipDead || e.state == GossipLeft {
			gone[e.meta.ID] = true
		} else if e.state == GossipAlive && e.meta.Role == RoleProposer {
			votes = append(votes, e.meta)
		}
	}
	return gossipLeader(votes, gone)
}

// gossipLeader is the plurality of the reported leaders not in gone, ties
// broken by the highest ballot reported for them, then the lowest ID.
func gossipLeader(votes []GossipMeta, gone map[replog.ID]bool) replog.ID {
	count := map[replog.ID]int{}
	ballot := map[replog.ID]uint64{}
	for _, v := range votes {
		if v.Leader == replog.None || gone[v.Leader] {
			continue
		}
		count[v.Leader]++
		ballot[v.Leader] = max(ballot[v.Leader], v.Ballot)
	}
	best := replog.None
	for id, c := range count {
		switch {
		case best == replog.None, c > count[best],
			c == count[best] && ballot[id] > ballot[best],
			c == count[best] && ballot[id] == ballot[best] && id < best:
			best = id
		}
	}
	return best
}

// Leave tells the cluster this node is leaving (others see "left" rather
// than "dead") and waits up to timeout for the news to go out. The node keeps
// its listeners: call Shutdown afterwards.
func (g *Gossip) Leave(timeout time.Duration) error {
	if g.stopped.Load() {
		return errors.New("gossip: stopped")
	}
	start := time.Now()
	g.leaving.Store(true)
	if err := g.ml.UpdateNode(timeout / 2); err != nil {
		g.log.Debug("gossip leave: metadata update", "err", err)
	}
	rest := max(timeout-time.Since(start), 10*time.Millisecond)
	if err := g.ml.Leave(rest); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossip without telling anyone (the others see this node
// suspect, then dead). It is safe to call more than once.
func (g *Gossip) Shutdown() error {
	g.once.Do(func() {
		g.stopped.Store(true)
		close(g.stop)
		if err := g.ml.Shutdown(); err != nil {
			g.shutErr = fmt.Errorf("gossip: shutdown: %w", err)
		}
		g.wg.Wait()
	})
	return g.shutErr
}

// localMeta is this node's metadata: the caller's, with identity filled in.
func (g *Gossip) localMeta() GossipMeta {
	m := GossipMeta{Chosen: -1}
	if g.meta != nil {
		m = g.meta()
	}
	if m.ID == replog.None {
		m.ID = g.cfg.ID
	}
	if m.Name == "" {
		m.Name = g.cfg.Name
	}
	if m.Role == "" {
		m.Role = g.cfg.Role
	}
	if m.API == "" {
		m.API = g.cfg.APIAddr
	}
	m.Leaving = g.leaving.Load()
	return m
}

// update records what memberlist told us about n; state "" keeps the state.
func (g *Gossip) update(n *memberlist.Node, state string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.nodes[n.Name]
	if !ok {
		e = &gossipEntry{name: n.Name}
		g.nodes[n.Name] = e
	}
	before := *e
	e.gossip = n.Address()
	meta := GossipMeta{Chosen: -1}
	if err := json.Unmarshal(n.Meta, &meta); err == nil {
		e.meta, e.metaOK = meta, true
	} else if !e.metaOK {
		e.meta = GossipMeta{Name: n.Name, Chosen: -1}
	}
	if state == GossipDead && e.metaOK && e.meta.Leaving {
		state = GossipLeft
	}
	if state != "" && state != e.state {
		e.state, e.since = state, time.Now()
	}
	if e.state == "" {
		e.state, e.since = GossipAlive, time.Now()
	}
	if !ok || before.state != e.state || before.meta != e.meta || before.gossip != e.gossip {
		g.emitLocked(e)
	}
}

// setState moves node name from one of the states in from to state.
func (g *Gossip) setState(name, state string, from ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.nodes[name]
	if !ok {
		return
	}
	for _, f := range from {
		if e.state == f {
			e.state, e.since = state, time.Now()
			g.emitLocked(e)
			return
		}
	}
}

func (g *Gossip) emitLocked(e *gossipEntry) {
	if len(g.subs) == 0 {
		return
	}
	g.queue = append(g.queue, gossipEvent{node: e.node()})
	gossipPoke(g.wake)
}

// sweep clears suspects that memberlist silently cleared (the node refuted).
func (g *Gossip) sweep(every time.Duration) {
	defer g.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		members := map[string]bool{}
		for _, n := range g.ml.Members() {
			members[n.Name] = true
		}
		g.mu.Lock()
		var stale []string
		for name, e := range g.nodes {
			if e.state == GossipSuspect && members[name] && time.Since(e.since) > g.suspectTTL {
				stale = append(stale, name)
			}
		}
		g.mu.Unlock()
		for _, name := range stale {
			g.setState(name, GossipAlive, GossipSuspect)
		}
	}
}

func (g *Gossip) sortedLocked() []*gossipEntry {
	es := make([]*gossipEntry, 0, len(g.nodes))
	for _, e := range g.nodes {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *gossipEntry) int {
		return cmp.Or(cmp.Compare(a.meta.ID, b.meta.ID), cmp.Compare(a.name, b.name))
	})
	return es
}

// node renders e as a GossipNode.
func (e *gossipEntry) node() GossipNode {
	name := e.meta.Name
	if name == "" {
		name = e.name
	}
	n := GossipNode{ID: e.meta.ID, Name: name, Role: e.meta.Role, State: e.state, Meta: e.meta, Since: e.since}
	if host, port, err := net.SplitHostPort(e.meta.API); err == nil && host != "" {
		n.Address = host
		n.Port, _ = strconv.Atoi(port)
	} else if host, _, err := net.SplitHostPort(e.gossip); err == nil {
		n.Address = host
	}
	md := map[string]any{"gossip": e.gossip, "api": nil, "leader": nil, "ballot": nil, "chosen": nil}
	if e.meta.API != "" {
		md["api"] = e.meta.API
	}
	if e.meta.Leader != replog.None {
		md["leader"] = e.meta.Leader
	}
	if e.meta.Ballot != 0 {
		md["ballot"] = e.meta.Ballot
	}
	if e.metaOK {
		md["chosen"] = e.meta.Chosen
	}
	n.Metadata = md
	return n
}

// gossipHooks are memberlist's delegates (kept off Gossip's method set).
// memberlist may hold its node lock while calling them: they only touch
// Gossip.mu and never call back into memberlist.
type gossipHooks struct{ g *Gossip }

var (
	_ memberlist.Delegate      = gossipHooks{}
	_ memberlist.EventDelegate = gossipHooks{}
	_ memberlist.PingDelegate  = gossipHooks{}
)

// NodeMeta implements memberlist.Delegate.
func (h gossipHooks) NodeMeta(limit int) []byte {
	m := h.g.localMeta()
	b, err := json.Marshal(m)
	if err != nil || len(b) > limit {
		h.g.log.Warn("gossip metadata too large: advertising identity only", "bytes", len(b), "limit", limit)
		b, _ = json.Marshal(GossipMeta{ID: m.ID, Role: m.Role, Chosen: m.Chosen, Leaving: m.Leaving})
	}
	return b
}

// NotifyMsg implements memberlist.Delegate (no user messages).
func (gossipHooks) NotifyMsg([]byte) {}

// GetBroadcasts implements memberlist.Delegate (no user broadcasts).
func (gossipHooks) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate (no extra push/pull state).
func (gossipHooks) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate.
func (gossipHooks) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin implements memberlist.EventDelegate.
func (h gossipHooks) NotifyJoin(n *memberlist.Node) { h.g.update(n, GossipAlive) }

// NotifyLeave implements memberlist.EventDelegate. memberlist does not say
// whether the node died or left (Node.State is not maintained), so a node
// whose last metadata said Leaving is reported as left.
func (h gossipHooks) NotifyLeave(n *memberlist.Node) { h.g.update(n, GossipDead) }

// NotifyUpdate implements memberlist.EventDelegate.
func (h gossipHooks) NotifyUpdate(n *memberlist.Node) { h.g.update(n, "") }

// AckPayload implements memberlist.PingDelegate.
func (gossipHooks) AckPayload() []byte { return nil }

// NotifyPingComplete implements memberlist.PingDelegate: a node that answered
// our probe is no longer suspect.
func (h gossipHooks) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	h.g.setState(other.Name, GossipAlive, GossipSuspect)
}

// gossipLogWriter sends memberlist's log lines to slog at debug level. It
// also spots our own failed probes, the only sign of suspicion memberlist
// gives (it has no suspect event).
type gossipLogWriter struct{ g *Gossip }

func (w gossipLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := ""
	if strings.HasPrefix(line, "[") {
		if i := strings.IndexByte(line, ']'); i > 0 {
			level, line = line[1:i], strings.TrimSpace(line[i+1:])
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if rest, ok := strings.CutPrefix(line, "Suspect "); ok {
		if name, ok := strings.CutSuffix(rest, " has failed, no acks received"); ok {
			w.g.setState(name, GossipSuspect, GossipAlive)
		}
	}
	w.g.log.Debug(line, "source", "memberlist", "memberlist_level", level)
	return len(p), nil
}

// gossipAddr adds the default gossip port to a bare host.
func gossipAddr(a string) string {
	if _, _, err := net.SplitHostPort(a); err == nil {
		return a
	}
	return net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(GossipDefaultPort))
}

// gossipNodesReply is the body of GET /gossip/nodes.
type gossipNodesReply struct {
	Total    int                   `json:"total"`
	Alive    int                   `json:"alive"`
	LeaderID *replog.ID            `json:"leader_id"`
	Nodes    map[string]GossipNode `json:"nodes"`
}

// GossipNodesHandler serves GET /gossip/nodes: every node this node's
// memberlist knows, keyed by ID, and the leader the proposers report
// (leader_id null when unknown).
func GossipNodesHandler(g *Gossip) httprouter.Handle {
	return func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		nodes := g.Nodes()
		out := gossipNodesReply{Total: len(nodes), Nodes: make(map[string]GossipNode, len(nodes))}
		for _, n := range nodes {
			key := strconv.FormatUint(uint64(n.ID), 10)
			if n.ID == replog.None {
				key = n.Name
			}
			out.Nodes[key] = n
			if n.State == GossipAlive {
				out.Alive++
			}
		}
		if id := g.LeaderID(); id != replog.None {
			out.LeaderID = &id
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// gossipPush is the body of POST /gossip (the seed's shape).
type gossipPush struct {
	SenderID replog.ID                 `json:"sender_id"`
	Nodes    map[string]gossipPushNode `json:"nodes"`
}

type gossipPushNode struct {
	ID       replog.ID `json:"id"`
	Address  string    `json:"address"`
	Gossip   string    `json:"gossip"`
	State    string    `json:"state"`
	Metadata struct {
		Gossip string `json:"gossip"`
	} `json:"metadata"`
}

// GossipPushHandler serves POST /gossip: it joins the gossip addresses the
// push names ("gossip" host:port, else metadata.gossip, else "address" with
// port 7946), skipping nodes already alive here and nodes the sender reports
// dead or left, and answers {"status":"ok","updates":n,"node_count":m} where
// n is how many answered and m how many nodes are now known.
func GossipPushHandler(g *Gossip) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		var push gossipPush
		if err := decodeJSON(w, r, gossipPushLimit, &push); err != nil {
			writeError(w, err, nil)
			return
		}
		alive := map[replog.ID]bool{}
		self := g.LocalAddr()
		for _, n := range g.Nodes() {
			if n.ID != replog.None && (n.State == GossipAlive || n.State == GossipSuspect) {
				alive[n.ID] = true
			}
		}
		keys := make([]string, 0, len(push.Nodes))
		for k := range push.Nodes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		seen := map[string]bool{}
		var addrs []string
		for _, k := range keys {
			n := push.Nodes[k]
			id := n.ID
			if id == replog.None {
				if v, err := strconv.ParseUint(k, 10, 64); err == nil {
					id = replog.ID(v)
				}
			}
			if alive[id] || n.State == GossipDead || n.State == GossipLeft {
				continue
			}
			a := strings.TrimSpace(n.Gossip)
			if a == "" {
				a = strings.TrimSpace(n.Metadata.Gossip)
			}
			if a == "" && strings.TrimSpace(n.Address) != "" {
				a = gossipAddr(strings.TrimSpace(n.Address))
			}
			if a == "" || a == self || seen[a] {
				continue
			}
			seen[a] = true
			addrs = append(addrs, a)
		}
		if len(addrs) > gossipPushMaxJoins {
			g.log.Debug("gossip push: too many addresses, joining the first ones",
				"sender", push.SenderID, "named", len(addrs), "joining", gossipPushMaxJoins)
			addrs = addrs[:gossipPushMaxJoins]
		}
		updates := 0
		for _, a := range addrs {
			if r.Context().Err() != nil {
				break
			}
			n, err := g.Join([]string{a})
			if err != nil {
				g.log.Debug("gossip push: join failed", "sender", push.SenderID, "addr", a, "err", err)
			}
			updates += n
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "updates": updates, "node_count": len(g.Nodes())})
	}
}
