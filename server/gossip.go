package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
)

// gossipPushLimit is the largest POST /gossip body; gossipPushMaxJoins bounds
// the addresses one push makes us contact (each may cost a TCP timeout).
const (
	gossipPushLimit    = 1 << 20
	gossipPushMaxJoins = 16
)

// gossipNodesReply is the body of GET /gossip/nodes.
type gossipNodesReply struct {
	Total    int                      `json:"total"`
	Alive    int                      `json:"alive"`
	LeaderID *replog.ID               `json:"leader_id"`
	Nodes    map[string]gossip.Member `json:"nodes"`
}

// GossipNodesHandler serves GET /gossip/nodes: every node this node's
// memberlist knows, keyed by ID, and the leader the proposers report
// (leader_id null when unknown).
func GossipNodesHandler(g *gossip.Agent) httprouter.Handle {
	return func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		nodes := g.Nodes()
		out := gossipNodesReply{Total: len(nodes), Nodes: make(map[string]gossip.Member, len(nodes))}
		for _, n := range nodes {
			key := strconv.FormatUint(uint64(n.ID), 10)
			if n.ID == replog.None {
				key = n.Name
			}
			out.Nodes[key] = n
			if n.State == gossip.Alive {
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
func GossipPushHandler(g *gossip.Agent) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		var push gossipPush
		if err := decodeJSON(w, r, gossipPushLimit, &push); err != nil {
			writeError(w, err, nil)
			return
		}
		alive := map[replog.ID]bool{}
		self := g.LocalAddr()
		for _, n := range g.Nodes() {
			if n.ID != replog.None && (n.State == gossip.Alive || n.State == gossip.Suspect) {
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
			if alive[id] || n.State == gossip.Dead || n.State == gossip.Left {
				continue
			}
			a := strings.TrimSpace(n.Gossip)
			if a == "" {
				a = strings.TrimSpace(n.Metadata.Gossip)
			}
			if a == "" && strings.TrimSpace(n.Address) != "" {
				a = gossip.Addr(strings.TrimSpace(n.Address))
			}
			if a == "" || a == self || seen[a] {
				continue
			}
			seen[a] = true
			addrs = append(addrs, a)
		}
		if len(addrs) > gossipPushMaxJoins {
			g.Logger().Debug("gossip push: too many addresses, joining the first ones",
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
				g.Logger().Debug("gossip push: join failed", "sender", push.SenderID, "addr", a, "err", err)
			}
			updates += n
		}
		writeJSON(w, http.StatusOK, api.GossipPushResponse{Status: "ok", Updates: updates, NodeCount: len(g.Nodes())})
	}
}
