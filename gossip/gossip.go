// Package gossip is a node's membership in the memberlist cluster:
// discovery, failure detection and metadata (each node's role, API address,
// the leader it follows, its chosen slot, its alarms), and the keyring that
// encrypts it. It never decides quorums (SPEC §8.10): a quorum is a majority
// of the configured acceptors, whatever gossip says.
package gossip

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/paxos-go/paxos/replog"
)

// DefaultPort is memberlist's port when an address names none (every
// container uses it in Compose, SPEC §3).
const DefaultPort = 7946

// The states a node can be in, as memberlist sees it.
const (
	Alive   = "alive"
	Suspect = "suspect"
	Dead    = "dead"
	Left    = "left"
)

// roles are the node roles gossip knows (SPEC §3); the leader is the one
// the proposers report.
var roles = []string{roleProposer, "acceptor", "learner", "client"}

const roleProposer = "proposer"

// metaLimit bounds the encoded Meta (memberlist allows 512).
const metaLimit = 400

// Config configures memberlist for one node.
type Config struct {
	ID   replog.ID
	Name string
	Role string // proposer, acceptor, learner or client
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
	// Join lists the host:port of gossip peers to join at start. New
	// never blocks on them: it retries in the background until one answers.
	Join []string
	// Secret, when set, keys gossip encryption (AES-256 with sha256(Secret)),
	// so a node with another secret cannot join.
	Secret string
	// KeyringFile, when set, is where the keyring is kept across restarts
	// (keys.go): when it exists, it, not Secret, gives the keys.
	KeyringFile string
	// Logger receives memberlist's own logs at debug level (nil: slog.Default()).
	Logger *slog.Logger
	// ProbeInterval and ProbeTimeout pace failure detection (0: 500 ms
	// and 250 ms). Tests on a starved machine make them longer.
	ProbeInterval, ProbeTimeout time.Duration
}

// Validate reports a configuration gossip cannot start with.
func (c *Config) Validate() error {
	if c.ID == replog.None {
		return errors.New("gossip: node ID must be set")
	}
	if c.Name == "" {
		return errors.New("gossip: node name must be set")
	}
	if !slices.Contains(roles, c.Role) {
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

// Meta is what a node tells the others about itself in memberlist's
// node metadata (compact JSON, under 400 bytes).
type Meta struct {
	ID     replog.ID `json:"id"`
	Name   string    `json:"name"`
	Role   string    `json:"role"`
	API    string    `json:"api"`
	Leader replog.ID `json:"leader,omitempty"`
	Ballot uint64    `json:"ballot,omitempty"`
	// Chosen is the highest chosen slot the node knows, -1 when none.
	Chosen int64 `json:"chosen"`
	// Leaving is set by Leave, so the others report "left" rather than "dead".
	Leaving bool `json:"leaving,omitempty"`
	// Alarms names the alarms the node raises (alarm.go), comma-separated.
	Alarms string `json:"alarms,omitempty"`
}

// Metadata is a member's metadata as GET /gossip/nodes shows it: null for
// what the member did not say.
type Metadata struct {
	Gossip string     `json:"gossip"` // the memberlist host:port
	API    *string    `json:"api"`
	Leader *replog.ID `json:"leader"`
	Ballot *uint64    `json:"ballot"`
	Chosen *int64     `json:"chosen"`
	Alarms []string   `json:"alarms,omitempty"`
}

// Member is one node as this node's memberlist sees it (a row of
// GET /gossip/nodes).
type Member struct {
	ID   replog.ID `json:"id"`
	Name string    `json:"name"`
	Role string    `json:"role"`
	// Address and Port are the node's API host and port.
	Address string `json:"address"`
	Port    int    `json:"port"`
	// State is Alive, Suspect, Dead or Left.
	State string `json:"state"`
	// Metadata is what the node said of itself, and its gossip address.
	Metadata Metadata `json:"metadata"`
	// Meta is the decoded metadata, for code that reacts to changes.
	Meta Meta `json:"-"`
	// Since is when State last changed, as seen here.
	Since time.Time `json:"-"`
}

// Agent is this node's membership in the memberlist cluster: discovery,
// failure detection and metadata. It never decides quorums (SPEC §8.10).
type Agent struct {
	cfg        Config
	meta       func() Meta
	log        *slog.Logger
	ml         *memberlist.Memberlist
	suspectTTL time.Duration
	keyring    *Keyring // nil: not encrypted
	// updateMu serializes memberlist's UpdateNode, which is not safe to
	// call twice at once (a leave racing a metadata change).
	updateMu sync.Mutex

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
	nodes map[string]*entry // by memberlist name
	subs  []func(Member)
	queue []event
}

// entry is what we remember of one memberlist node, dead ones included.
type entry struct {
	name   string
	gossip string // memberlist host:port
	meta   Meta
	metaOK bool
	state  string
	since  time.Time
}

type event struct {
	node Member
	subs []func(Member) // nil: every subscriber
}

// New starts memberlist for one node and, in the background, joins
// cfg.Join. meta is called whenever memberlist advertises this node; it must
// be fast and safe for concurrent use (nil: only ID, name, role and API).
func New(cfg Config, meta func() Meta) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "0.0.0.0"
	}
	g := &Agent{
		cfg:   cfg,
		meta:  meta,
		log:   cfg.Logger.With("component", "gossip"),
		stop:  make(chan struct{}),
		dirty: make(chan struct{}, 1),
		wake:  make(chan struct{}, 1),
		nodes: map[string]*entry{},
	}
	if b, err := json.Marshal(g.localMeta()); err != nil || len(b) > metaLimit {
		return nil, fmt.Errorf("gossip: node metadata is %d bytes, more than %d", len(b), metaLimit)
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = cfg.BindAddr, cfg.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseAddr, cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.ProbeInterval = cmp.Or(cfg.ProbeInterval, 500*time.Millisecond)
	mc.ProbeTimeout = cmp.Or(cfg.ProbeTimeout, 250*time.Millisecond)
	mc.SuspicionMult = 2
	mc.GossipInterval = 100 * time.Millisecond
	mc.PushPullInterval = 10 * time.Second
	mc.DeadNodeReclaimTime = time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.LogOutput = nil
	mc.Logger = log.New(logWriter{g}, "", 0)
	hooks := hooks{g}
	mc.Delegate, mc.Events, mc.Ping = hooks, hooks, hooks
	kr, err := openKeyring(cfg.KeyringFile, cfg.Secret)
	if err != nil {
		return nil, err
	}
	if kr != nil {
		g.keyring = kr
		mc.Keyring = kr.kr
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
		"encrypted", kr != nil)
	return g, nil
}

// Logger is the logger of the agent (component=gossip).
func (g *Agent) Logger() *slog.Logger { return g.log }

// Keyring is the keyring gossip encrypts with; nil when it does not (no
// secret).
func (g *Agent) Keyring() *Keyring { return g.keyring }

// LocalAddr returns the gossip host:port this node advertises.
func (g *Agent) LocalAddr() string {
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
func (g *Agent) Join(addrs []string) (int, error) {
	if g.stopped.Load() {
		return 0, errors.New("gossip: stopped")
	}
	var clean []string
	for _, a := range addrs {
		if a = strings.TrimSpace(a); a != "" {
			clean = append(clean, Addr(a))
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
func (g *Agent) joinLoop(addrs []string) {
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
func (g *Agent) UpdateMeta() { poke(g.dirty) }

func (g *Agent) advertise() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case <-g.dirty:
			if g.stopped.Load() {
				return
			}
			g.updateMu.Lock()
			err := g.ml.UpdateNode(time.Second)
			g.updateMu.Unlock()
			if err != nil {
				g.log.Debug("gossip metadata update", "err", err)
			}
		}
	}
}

// OnChange registers f to be told about every node already known, then about
// every change: a node joins, changes state (alive, suspect, dead, left) or
// updates its metadata. Calls come from one gossip goroutine, in order; f may
// call Agent methods, but a slow f delays later events.
func (g *Agent) OnChange(f func(n Member)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.subs = append(g.subs, f)
	for _, e := range g.sortedLocked() {
		g.queue = append(g.queue, event{node: e.node(), subs: []func(Member){f}})
	}
	poke(g.wake)
}

// poke wakes the goroutine waiting on ch (capacity 1) without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (g *Agent) dispatch() {
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
func (g *Agent) Nodes() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	es := g.sortedLocked()
	out := make([]Member, len(es))
	for i, e := range es {
		out[i] = e.node()
	}
	return out
}

// LeaderID returns the leader that most alive proposers report in their
// metadata (ties go to the higher ballot), ignoring a leader known to be dead
// or left; replog.None when no alive proposer reports one.
func (g *Agent) LeaderID() replog.ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	gone := map[replog.ID]bool{}
	var votes []Meta
	for _, e := range g.nodes {
		if !e.metaOK {
			continue
		}
		if e.state == Dead || e.state == Left {
			gone[e.meta.ID] = true
		} else if e.state == Alive && e.meta.Role == roleProposer {
			votes = append(votes, e.meta)
		}
	}
	return leaderOf(votes, gone)
}

// leaderOf is the plurality of the reported leaders not in gone, ties
// broken by the highest ballot reported for them, then the lowest ID.
func leaderOf(votes []Meta, gone map[replog.ID]bool) replog.ID {
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
func (g *Agent) Leave(timeout time.Duration) error {
	if g.stopped.Load() {
		return errors.New("gossip: stopped")
	}
	start := time.Now()
	g.leaving.Store(true)
	g.updateMu.Lock()
	err := g.ml.UpdateNode(timeout / 2)
	g.updateMu.Unlock()
	if err != nil {
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
func (g *Agent) Shutdown() error {
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
func (g *Agent) localMeta() Meta {
	m := Meta{Chosen: -1}
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
func (g *Agent) update(n *memberlist.Node, state string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.nodes[n.Name]
	if !ok {
		e = &entry{name: n.Name}
		g.nodes[n.Name] = e
	}
	before := *e
	e.gossip = n.Address()
	meta := Meta{Chosen: -1}
	if err := json.Unmarshal(n.Meta, &meta); err == nil {
		e.meta, e.metaOK = meta, true
	} else if !e.metaOK {
		e.meta = Meta{Name: n.Name, Chosen: -1}
	}
	if state == Dead && e.metaOK && e.meta.Leaving {
		state = Left
	}
	if state != "" && state != e.state {
		e.state, e.since = state, time.Now()
	}
	if e.state == "" {
		e.state, e.since = Alive, time.Now()
	}
	if !ok || before.state != e.state || before.meta != e.meta || before.gossip != e.gossip {
		g.emitLocked(e)
	}
}

// setState moves node name from one of the states in from to state.
func (g *Agent) setState(name, state string, from ...string) {
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

func (g *Agent) emitLocked(e *entry) {
	if len(g.subs) == 0 {
		return
	}
	g.queue = append(g.queue, event{node: e.node()})
	poke(g.wake)
}

// sweep clears suspects that memberlist silently cleared (the node refuted).
func (g *Agent) sweep(every time.Duration) {
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
			if e.state == Suspect && members[name] && time.Since(e.since) > g.suspectTTL {
				stale = append(stale, name)
			}
		}
		g.mu.Unlock()
		for _, name := range stale {
			g.setState(name, Alive, Suspect)
		}
	}
}

func (g *Agent) sortedLocked() []*entry {
	es := make([]*entry, 0, len(g.nodes))
	for _, e := range g.nodes {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.meta.ID, b.meta.ID), cmp.Compare(a.name, b.name))
	})
	return es
}

// node renders e as a Member.
func (e *entry) node() Member {
	name := e.meta.Name
	if name == "" {
		name = e.name
	}
	n := Member{ID: e.meta.ID, Name: name, Role: e.meta.Role, State: e.state, Meta: e.meta, Since: e.since}
	if host, port, err := net.SplitHostPort(e.meta.API); err == nil && host != "" {
		n.Address = host
		n.Port, _ = strconv.Atoi(port)
	} else if host, _, err := net.SplitHostPort(e.gossip); err == nil {
		n.Address = host
	}
	m, md := e.meta, &n.Metadata
	md.Gossip = e.gossip
	if m.API != "" {
		md.API = &m.API
	}
	if m.Leader != replog.None {
		md.Leader = &m.Leader
	}
	if m.Ballot != 0 {
		md.Ballot = &m.Ballot
	}
	if e.metaOK {
		md.Chosen = &m.Chosen
	}
	if m.Alarms != "" {
		md.Alarms = strings.Split(m.Alarms, ",")
	}
	return n
}

// hooks are memberlist's delegates (kept off Agent's method set).
// memberlist may hold its node lock while calling them: they only touch
// Agent.mu and never call back into memberlist.
type hooks struct{ g *Agent }

var (
	_ memberlist.Delegate      = hooks{}
	_ memberlist.EventDelegate = hooks{}
	_ memberlist.PingDelegate  = hooks{}
)

// NodeMeta implements memberlist.Delegate.
func (h hooks) NodeMeta(limit int) []byte {
	m := h.g.localMeta()
	b, err := json.Marshal(m)
	if err != nil || len(b) > limit {
		h.g.log.Warn("gossip metadata too large: advertising identity only", "bytes", len(b), "limit", limit)
		b, _ = json.Marshal(Meta{ID: m.ID, Role: m.Role, Chosen: m.Chosen, Leaving: m.Leaving, Alarms: m.Alarms})
	}
	return b
}

// NotifyMsg implements memberlist.Delegate (no user messages).
func (hooks) NotifyMsg([]byte) {}

// GetBroadcasts implements memberlist.Delegate (no user broadcasts).
func (hooks) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate (no extra push/pull state).
func (hooks) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate.
func (hooks) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin implements memberlist.EventDelegate.
func (h hooks) NotifyJoin(n *memberlist.Node) { h.g.update(n, Alive) }

// NotifyLeave implements memberlist.EventDelegate. memberlist does not say
// whether the node died or left (Node.State is not maintained), so a node
// whose last metadata said Leaving is reported as left.
func (h hooks) NotifyLeave(n *memberlist.Node) { h.g.update(n, Dead) }

// NotifyUpdate implements memberlist.EventDelegate.
func (h hooks) NotifyUpdate(n *memberlist.Node) { h.g.update(n, "") }

// AckPayload implements memberlist.PingDelegate.
func (hooks) AckPayload() []byte { return nil }

// NotifyPingComplete implements memberlist.PingDelegate: a node that answered
// our probe is no longer suspect.
func (h hooks) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	h.g.setState(other.Name, Alive, Suspect)
}

// logWriter sends memberlist's log lines to slog at debug level. It
// also spots our own failed probes, the only sign of suspicion memberlist
// gives (it has no suspect event).
type logWriter struct{ g *Agent }

func (w logWriter) Write(p []byte) (int, error) {
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
			w.g.setState(name, Suspect, Alive)
		}
	}
	w.g.log.Debug(line, "source", "memberlist", "memberlist_level", level)
	return len(p), nil
}

// Addr adds the default gossip port to a bare host.
func Addr(a string) string {
	if _, _, err := net.SplitHostPort(a); err == nil {
		return a
	}
	return net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(DefaultPort))
}
