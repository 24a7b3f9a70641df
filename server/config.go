package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// Role is what a node does in the cluster.
type Role string

// The four roles of SPEC §3.
const (
	RoleProposer Role = "proposer"
	RoleAcceptor Role = "acceptor"
	RoleLearner  Role = "learner"
	RoleClient   Role = "client"
)

// Roles lists every role in topology order.
var Roles = []Role{RoleProposer, RoleAcceptor, RoleLearner, RoleClient}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == strings.ToLower(strings.TrimSpace(s)) {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want proposer, acceptor, learner or client)", s)
}

// MaxRequestIDBytes is the longest request ID a node takes, at every edge:
// the client endpoints (/propose, /send, /propose-batch), the seed's
// internal ones (/accept, /learn, /notify) and the protocol messages
// (/paxos/messages, message streams: codec.go). Nothing longer reaches a
// replog core, so nothing reaches a learner's store that it cannot index
// (storage's own limit, bbolt's 32 KiB key size, is far above it).
// Config.MaxValueBytes is the value limit.
const MaxRequestIDBytes = 256

// checkRequestID refuses a request ID longer than MaxRequestIDBytes
// (ErrBadRequest).
func checkRequestID(id string) error {
	if len(id) > MaxRequestIDBytes {
		return fmt.Errorf("%w: request_id of %d bytes, the limit is %d", ErrBadRequest, len(id), MaxRequestIDBytes)
	}
	return nil
}

// Peer is one node of the static topology.
type Peer struct {
	ID   replog.ID `json:"id"`
	Name string    `json:"name"`
	Role Role      `json:"role"`
	// Addr is the host:port of its API.
	Addr string `json:"address"`
}

// Config configures one node. Flags and environment variables map one to one
// onto these fields (see cli/paxosd.go); zero values take the defaults of
// DefaultConfig.
type Config struct {
	ID   replog.ID
	Name string
	Role Role
	// ClusterID names the cluster. The data dir records it with ID at first
	// start, and a node refuses a data dir of another cluster or node
	// (storage.ClaimDir). Default DefaultClusterID.
	ClusterID string

	// Listen is the API address (":3001"); MonitorListen the monitor address
	// (":8001", empty to disable).
	Listen        string
	MonitorListen string
	// Advertise is the host others reach this node at (default: the host
	// of its topology address). Gossip advertises it unless GossipAdvertise
	// is set; the API address others use is the one in the topology.
	Advertise string

	// GossipBind and GossipPort are memberlist's address; Join lists the
	// host:port of gossip peers to join at start.
	GossipBind string
	GossipPort int
	Join       []string
	// GossipAdvertise is the HOST or HOST:PORT memberlist tells its peers
	// to reach it at (default: Advertise, at GossipPort). A name is
	// resolved at start: in a Docker Swarm task memberlist would otherwise
	// pick the docker_gwbridge address, which peers cannot reach.
	GossipAdvertise string

	// The static topology. Quorum is a majority of Acceptors; gossip never
	// changes it (SPEC §3).
	Proposers []Peer
	Acceptors []Peer
	Learners  []Peer
	Clients   []Peer

	// DataDir holds this node's bbolt file.
	DataDir string
	// Secret, when set, is required as a bearer token on internal endpoints
	// and keys gossip encryption.
	Secret string
	// ClientToken, when set, is required on writes (/send, /propose).
	ClientToken string
	// TraceAllowFrom are the networks whose callers may read the protocol
	// trace (/trace, /trace/cluster on the monitor port: what the status
	// page draws) without the secret. Loopback always may; pprof always
	// needs the secret from any other address.
	TraceAllowFrom []netip.Prefix
	// CertFile, KeyFile and TrustedCAFile, all set or none, turn TLS on
	// for the API port (tls.go): the node's certificate and key (its URI
	// SAN paxos://node/ID names this node), and the CA every node's and
	// client's certificate must be signed by. They are read again at every
	// handshake, so they rotate without a restart.
	CertFile      string
	KeyFile       string
	TrustedCAFile string

	// Tick is the protocol clock (heartbeats every 2 ticks, election after
	// 10-20 ticks without a leader).
	Tick time.Duration
	// RequestTimeout bounds a write or a read from the client's view.
	RequestTimeout time.Duration
	// MaxValueBytes is the largest value accepted (413 above it).
	MaxValueBytes int
	// NoSync turns fsync off (benchmarks of the protocol only; never in production).
	NoSync bool
	// NoTrace turns the protocol trace ring off (trace.go): nothing is
	// recorded, GET /trace answers 404 and the others' merges list this
	// node without events. For measuring what tracing costs (A/B with
	// scripts/bench-ab.sh); tracing is on by default.
	NoTrace bool

	// Alarm bounds (alarm.go). MaxLearnerLag (proposers): LEARNER_LAG when
	// the chosen log is more slots than this ahead of the slowest learner's
	// durable log. QuotaBytes and MinFreeBytes (acceptors): NOSPACE when
	// the acceptor's data is larger, or its data dir's filesystem has less
	// free.
	MaxLearnerLag uint64
	QuotaBytes    int64
	MinFreeBytes  int64

	// Core tunes the replog state machines (zero fields: replog defaults).
	Core replog.Config
}

// DefaultClusterID is the cluster ID of a node that sets none: every
// cluster started without CLUSTER_ID shares it, so a data dir moved between
// two such clusters is not caught; set CLUSTER_ID per cluster for that.
const DefaultClusterID = "paxos"

// maxClusterIDBytes bounds ClusterID.
const maxClusterIDBytes = 128

// DefaultConfig returns the defaults for the standard 10-node topology on
// 127.0.0.1 (local mode).
func DefaultConfig() Config {
	return Config{
		ClusterID:      DefaultClusterID,
		Tick:           50 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		MaxValueBytes:  1 << 20,
		Proposers:      StandardPeers(RoleProposer, "127.0.0.1"),
		Acceptors:      StandardPeers(RoleAcceptor, "127.0.0.1"),
		Learners:       StandardPeers(RoleLearner, "127.0.0.1"),
		Clients:        StandardPeers(RoleClient, "127.0.0.1"),
		// 10 M slots: about 1 GiB of acceptor data at 64-byte values, and
		// about 100 s for the learner to catch up at 100,000 slots/s. The
		// bytes the lag holds on the acceptors' disks are QuotaBytes' to
		// bound: the proposer does not know the sizes of old slots.
		MaxLearnerLag: 10_000_000,
		// etcd's default backend quota.
		QuotaBytes: 2 << 30,
		// Room for a checkpoint of the write-ahead file (16 MiB), a grown
		// bbolt file (16 MiB steps) and a batch of accepts (4 MiB).
		MinFreeBytes: 64 << 20,
	}
}

// ParsePeers parses a comma-separated list of [ID@]host:port for role r. An
// entry without an ID takes the ID of the standard topology at its position
// (acceptor1:4001,acceptor2:4002 are IDs 4 and 5).
func ParsePeers(r Role, s string) ([]Peer, error) {
	var out []Peer
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p := Peer{Role: r, ID: replog.ID(standard[r].firstID + i)}
		if at := strings.IndexByte(f, '@'); at >= 0 {
			id, err := strconv.ParseUint(f[:at], 10, 64)
			if err != nil || id == 0 {
				return nil, fmt.Errorf("%s entry %q: %q is not a node ID", r, f, f[:at])
			}
			p.ID, f = replog.ID(id), f[at+1:]
		}
		host, port, err := net.SplitHostPort(f)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%s entry %q: want [ID@]HOST:PORT", r, f)
		}
		p.Addr = f
		p.Name = host
		if host == "127.0.0.1" || host == "localhost" {
			p.Name = fmt.Sprintf("%s%d", r, i+1)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %ss in %q", r, s)
	}
	return out, nil
}

// FormatPeers is the inverse of ParsePeers.
func FormatPeers(ps []Peer) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%d@%s", p.ID, p.Addr)
	}
	return strings.Join(parts, ",")
}

// Peers returns every node of the topology.
func (c *Config) Peers() []Peer {
	out := make([]Peer, 0, len(c.Proposers)+len(c.Acceptors)+len(c.Learners)+len(c.Clients))
	for _, ps := range [][]Peer{c.Proposers, c.Acceptors, c.Learners, c.Clients} {
		out = append(out, ps...)
	}
	return out
}

// Peer returns the node with id.
func (c *Config) Peer(id replog.ID) (Peer, bool) {
	for _, p := range c.Peers() {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.ClusterID == "" {
		c.ClusterID = d.ClusterID
	}
	if c.Tick <= 0 {
		c.Tick = d.Tick
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxValueBytes <= 0 {
		c.MaxValueBytes = d.MaxValueBytes
	}
	if c.MaxLearnerLag == 0 {
		c.MaxLearnerLag = d.MaxLearnerLag
	}
	if c.QuotaBytes <= 0 {
		c.QuotaBytes = d.QuotaBytes
	}
	if c.MinFreeBytes <= 0 {
		c.MinFreeBytes = d.MinFreeBytes
	}
	for _, f := range []struct{ ps, def *[]Peer }{
		{&c.Proposers, &d.Proposers}, {&c.Acceptors, &d.Acceptors}, {&c.Learners, &d.Learners}, {&c.Clients, &d.Clients},
	} {
		if len(*f.ps) == 0 {
			*f.ps = *f.def
		}
	}
	if c.Name == "" {
		if p, ok := c.Peer(c.ID); ok {
			c.Name = p.Name
		}
	}
}

// Validate reports a configuration a node cannot start with.
func (c *Config) Validate() error {
	if c.ID == replog.None {
		return errors.New("node ID must be set (NODE_ID)")
	}
	if c.Role == "" {
		return errors.New("node role must be set (NODE_ROLE)")
	}
	if c.Listen == "" {
		return errors.New("API listen address must be set (PORT)")
	}
	if len(c.ClusterID) > maxClusterIDBytes || strings.IndexFunc(c.ClusterID, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("cluster ID %.40q: want at most %d bytes, no spaces or control characters (CLUSTER_ID)", c.ClusterID, maxClusterIDBytes)
	}
	if c.DataDir == "" && c.Role != RoleClient {
		return errors.New("data directory must be set (DATA_DIR)")
	}
	if (c.CertFile == "") != (c.KeyFile == "") || (c.CertFile == "") != (c.TrustedCAFile == "") {
		return errors.New("TLS needs all of CERT_FILE, KEY_FILE and TRUSTED_CA_FILE, or none of them")
	}
	seen := map[replog.ID]string{}
	for _, p := range c.Peers() {
		if prev, dup := seen[p.ID]; dup {
			return fmt.Errorf("node ID %d is used by both %s and %s", p.ID, prev, p.Name)
		}
		seen[p.ID] = p.Name
	}
	if _, ok := seen[c.ID]; !ok {
		return fmt.Errorf("node ID %d is not in the topology (PROPOSERS, ACCEPTORS, LEARNERS, CLIENTS)", c.ID)
	}
	if c.Role == RoleProposer && c.ID >= replog.ProposerIDLimit {
		return fmt.Errorf("proposer ID %d must be below %d (it is part of every ballot)", c.ID, replog.ProposerIDLimit)
	}
	if c.Core.DedupWindow > replog.MaxDedupWindow {
		return fmt.Errorf("DEDUP_WINDOW %d is too large: at most %d slots (a learner's request index holds one window)",
			c.Core.DedupWindow, replog.MaxDedupWindow)
	}
	// The largest message a core builds must fit in a frame, or every
	// retry of it is refused.
	maxMsg := c.Core.MaxMsgBytes
	if maxMsg <= 0 {
		maxMsg = replog.DefaultConfig().MaxMsgBytes
	}
	if maxMsg+c.MaxValueBytes+frameHeadroom > maxFrameBytes {
		return fmt.Errorf("MAX_VALUE_BYTES %d is too large: a message (%d bytes of values, plus one value) must fit in a %d-byte frame with %d bytes to spare",
			c.MaxValueBytes, maxMsg, maxFrameBytes, frameHeadroom)
	}
	return nil
}

func ids(ps []Peer) []replog.ID {
	out := make([]replog.ID, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
