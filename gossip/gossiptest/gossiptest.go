// Package gossiptest starts gossip agents on 127.0.0.1 for tests, with
// metadata the test can change.
package gossiptest

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/internal/testenv"
	"github.com/paxos-go/paxos/replog"
)

// Agent is one memberlist node on 127.0.0.1 (a free port), stopped when
// the test ends.
type Agent struct {
	*gossip.Agent
	Name string
	meta atomic.Pointer[gossip.Meta]
}

// SetLeader makes the agent report leader at ballot, as a proposer does.
func (a *Agent) SetLeader(leader replog.ID, ballot uint64) {
	m := *a.meta.Load()
	m.Leader, m.Ballot = leader, ballot
	a.meta.Store(&m)
	a.UpdateMeta()
}

// Start starts node id, named name, of role (its API at 127.0.0.1:3000+id),
// encrypted with secret when it is not empty, joining join.
func Start(t testing.TB, id replog.ID, name, role, secret string, join ...string) *Agent {
	t.Helper()
	api := fmt.Sprintf("127.0.0.1:%d", 3000+int(id))
	a := &Agent{Name: name}
	a.meta.Store(&gossip.Meta{ID: id, Name: name, Role: role, API: api, Chosen: -1})
	g, err := gossip.New(gossip.Config{ID: id, Name: name, Role: role, APIAddr: api,
		BindAddr: "127.0.0.1", BindPort: 0, Join: join, Secret: secret,
		Logger: slog.New(slog.DiscardHandler)}, func() gossip.Meta { return *a.meta.Load() })
	if err != nil {
		t.Fatalf("gossip.New(%s): %v", name, err)
	}
	a.Agent = g
	t.Cleanup(func() { _ = g.Shutdown() })
	return a
}

// Wait polls check until it returns nil, or fails the test after within.
func Wait(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, within, what, check)
}

// MemberByID is the member with id as g sees it.
func MemberByID(g *gossip.Agent, id replog.ID) (gossip.Member, bool) {
	for _, n := range g.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	return gossip.Member{}, false
}
