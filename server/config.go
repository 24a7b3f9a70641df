package server

import (
	"errors"
	"fmt"
	"net"
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

	// Listen is the API address (":3001"); MonitorListen the monitor address
	// (":8001", empty to disable).
	Listen        string
	MonitorListen string
	// Advertise is the host others reach this node's API at (default: the
	// node name in Compose, 127.0.0.1 in local mode).
	Advertise string

	// GossipBind and GossipPort are memberlist's address; Join lists the
	// host:port of gossip peers to join at start.
	GossipBind string
	GossipPort int
	Join       []string

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

	// Tick is the protocol clock (heartbeats every 2 ticks, election after
	// 10-20 ticks without a leader).
	Tick time.Duration
	// RequestTimeout bounds a write or a read from the client's view.
	RequestTimeout time.Duration
	// MaxValueBytes is the largest value accepted (413 above it).
	MaxValueBytes int
	// NoSync turns fsync off (benchmarks of the protocol only; never in production).
	NoSync bool

	// Core tunes the replog state machines (zero fields: replog defaults).
	Core replog.Config
}

// DefaultConfig returns the defaults for the standard 10-node topology on
// 127.0.0.1 (local mode).
func DefaultConfig() Config {
	return Config{
		Tick:           50 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		MaxValueBytes:  1 << 20,
		Proposers:      StandardPeers(RoleProposer, "127.0.0.1"),
		Acceptors:      StandardPeers(RoleAcceptor, "127.0.0.1"),
		Learners:       StandardPeers(RoleLearner, "127.0.0.1"),
		Clients:        StandardPeers(RoleClient, "127.0.0.1"),
	}
}

// standard is the topology of SPEC §3: per role, the first ID, count and API port.
var standard = map[Role]struct{ firstID, count, port int }{
	RoleProposer: {1, 3, 3001},
	RoleAcceptor: {4, 3, 4001},
	RoleLearner:  {7, 2, 5001},
	RoleClient:   {9, 2, 6001},
}

// StandardPeers returns the role's nodes of the standard topology. host is
// the host of every node, or "" to use each node's name (Compose).
func StandardPeers(r Role, host string) []Peer {
	st := standard[r]
	out := make([]Peer, st.count)
	for i := range out {
		name := fmt.Sprintf("%s%d", r, i+1)
		h := host
		if h == "" {
			h = name
		}
		out[i] = Peer{ID: replog.ID(st.firstID + i), Name: name, Role: r,
			Addr: net.JoinHostPort(h, strconv.Itoa(st.port+i))}
	}
	return out
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
	if c.Tick <= 0 {
		c.Tick = d.Tick
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxValueBytes <= 0 {
		c.MaxValueBytes = d.MaxValueBytes
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
	if c.DataDir == "" && c.Role != RoleClient {
		return errors.New("data directory must be set (DATA_DIR)")
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
	if c.Role == RoleProposer && c.ID >= 100 {
		return fmt.Errorf("proposer ID %d must be below 100 (it is part of every ballot)", c.ID)
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
