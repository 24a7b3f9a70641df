package server

import (
	"fmt"
	"net"
	"strconv"

	"github.com/paxos-go/paxos/replog"
)

// TopologyNode is one node of the standard topology of SPEC §3 with every
// port it listens on in local mode (127.0.0.1).
type TopologyNode struct {
	Name    string    `json:"name"`
	ID      replog.ID `json:"id"`
	Role    Role      `json:"role"`
	API     int       `json:"api"`
	Monitor int       `json:"monitor"`
	Gossip  int       `json:"gossip"` // local mode; every container uses gossip.DefaultPort in Compose
}

// standard is the standard topology: per role, the first node ID, how
// many nodes and the first API port. Every other port follows from the ID
// (MonitorPort, GossipPort).
var standard = map[Role]struct{ firstID, count, port int }{
	RoleProposer: {1, 3, 3001},
	RoleAcceptor: {4, 3, 4001},
	RoleLearner:  {7, 2, 5001},
	RoleClient:   {9, 2, 6001},
}

// MonitorPort is the default monitor port of node id: 8000+ID.
func MonitorPort(id replog.ID) int { return 8000 + int(id) }

// GossipPort is the default memberlist port of node id in local mode:
// 7000+ID (in Compose every node uses gossip.DefaultPort).
func GossipPort(id replog.ID) int { return 7000 + int(id) }

// Topology returns the standard topology in topology order (proposers,
// acceptors, learners, clients). The server's defaults, paxosd, paxosctl
// topology (which the scripts read), and the end-to-end tests and drills
// all take it from here.
func Topology() []TopologyNode {
	var out []TopologyNode
	for _, r := range Roles {
		st := standard[r]
		for i := range st.count {
			id := replog.ID(st.firstID + i)
			out = append(out, TopologyNode{Name: fmt.Sprintf("%s%d", r, i+1), ID: id, Role: r,
				API: st.port + i, Monitor: MonitorPort(id), Gossip: GossipPort(id)})
		}
	}
	return out
}

// StandardPeers returns the role's nodes of the standard topology. host is
// the host of every node, or "" to use each node's name (Compose).
func StandardPeers(r Role, host string) []Peer {
	var out []Peer
	for _, n := range Topology() {
		if n.Role != r {
			continue
		}
		h := host
		if h == "" {
			h = n.Name
		}
		out = append(out, Peer{ID: n.ID, Name: n.Name, Role: r, Addr: net.JoinHostPort(h, strconv.Itoa(n.API))})
	}
	return out
}
