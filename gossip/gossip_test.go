package gossip_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/gossip/gossiptest"
	"github.com/paxos-go/paxos/replog"
)

func TestGossipCluster(t *testing.T) {
	p1 := gossiptest.Start(t, 1, "proposer1", "proposer", "")
	p2 := gossiptest.Start(t, 2, "proposer2", "proposer", "", p1.LocalAddr())
	a1 := gossiptest.Start(t, 4, "acceptor1", "acceptor", "", p1.LocalAddr())
	all := []*gossiptest.Agent{p1, p2, a1}
	want := []struct {
		id   replog.ID
		name string
		role string
		port int
	}{{1, "proposer1", "proposer", 3001}, {2, "proposer2", "proposer", 3002}, {4, "acceptor1", "acceptor", 3004}}

	// Background joins converge: everyone sees everyone alive, sorted by ID.
	gossiptest.Wait(t, 10*time.Second, "every node sees 3 alive nodes", func() error {
		for _, g := range all {
			nodes := g.Nodes()
			if len(nodes) != len(want) {
				return fmt.Errorf("%s sees %d nodes", g.Name, len(nodes))
			}
			for i, w := range want {
				n := nodes[i]
				if n.ID != w.id || n.Name != w.name || n.Role != w.role || n.Address != "127.0.0.1" ||
					n.Port != w.port || n.State != gossip.Alive {
					return fmt.Errorf("%s sees %+v, want %+v alive", g.Name, n, w)
				}
				if md := n.Metadata; md.API == nil || *md.API != fmt.Sprintf("127.0.0.1:%d", w.port) || md.Chosen == nil || *md.Chosen != -1 ||
					md.Leader != nil {
					return fmt.Errorf("%s sees metadata %v for %s", g.Name, n.Metadata, w.name)
				}
			}
			if got := g.LeaderID(); got != replog.None {
				return fmt.Errorf("%s: LeaderID = %d before any leader", g.Name, got)
			}
		}
		return nil
	})
	if gn, _ := gossiptest.MemberByID(p2.Agent, 4); gn.Metadata.Gossip != a1.LocalAddr() {
		t.Errorf("gossip address of acceptor1 = %v, want %s", gn.Metadata.Gossip, a1.LocalAddr())
	}

	// UpdateMeta spreads a new leader.
	p1.SetLeader(1, 101)
	p2.SetLeader(1, 101)
	gossiptest.Wait(t, 5*time.Second, "every node learns leader 1", func() error {
		for _, g := range all {
			if got := g.LeaderID(); got != 1 {
				return fmt.Errorf("%s: LeaderID = %d", g.Name, got)
			}
			n, _ := gossiptest.MemberByID(g.Agent, 2)
			if md := n.Metadata; md.Leader == nil || *md.Leader != 1 || md.Ballot == nil || *md.Ballot != 101 || n.Meta.Leader != 1 {
				return fmt.Errorf("%s sees proposer2 metadata %v", g.Name, n.Metadata)
			}
		}
		return nil
	})

	// OnChange first replays the known nodes, then reports changes.
	type event struct {
		observer string
		node     gossip.Member
	}
	events := make(chan event, 1024)
	for _, g := range []*gossiptest.Agent{p1, p2} {
		name := g.Name
		g.OnChange(func(n gossip.Member) {
			select {
			case events <- event{name, n}:
			default:
			}
		})
	}
	for range 2 * len(want) {
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("OnChange did not replay the known nodes")
		}
	}

	// A crash (no leave): suspect, then dead.
	if err := a1.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	sawSuspect := map[string]bool{}
	gossiptest.Wait(t, 10*time.Second, "acceptor1 seen dead by both", func() error {
		dead := 0
		for _, g := range []*gossiptest.Agent{p1, p2} {
			n, _ := gossiptest.MemberByID(g.Agent, 4)
			switch n.State {
			case gossip.Suspect:
				sawSuspect[g.Name] = true
			case gossip.Dead:
				dead++
			}
		}
		if dead != 2 {
			return fmt.Errorf("%d of 2 see it dead", dead)
		}
		return nil
	})
	if len(sawSuspect) == 0 {
		t.Error("no node saw acceptor1 suspect before dead")
	}
	gossiptest.Wait(t, 5*time.Second, "OnChange reports acceptor1 dead", func() error {
		for {
			select {
			case ev := <-events:
				if ev.node.ID == 4 && ev.node.State == gossip.Dead {
					return nil
				}
			default:
				return fmt.Errorf("no dead event yet")
			}
		}
	})

	// A graceful leave: left, not dead.
	if err := p2.Leave(time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := p2.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	gossiptest.Wait(t, 5*time.Second, "proposer1 sees proposer2 left", func() error {
		if n, _ := gossiptest.MemberByID(p1.Agent, 2); n.State != gossip.Left {
			return fmt.Errorf("proposer2 is %q", n.State)
		}
		return nil
	})

	// Dead and left nodes stay listed with their last state.
	var states []string
	for _, n := range p1.Nodes() {
		states = append(states, n.Name+"="+n.State)
	}
	if got := strings.Join(states, " "); got != "proposer1=alive proposer2=left acceptor1=dead" {
		t.Errorf("proposer1 sees %s", got)
	}
	if got := p1.LeaderID(); got != 1 {
		t.Errorf("LeaderID = %d after the others went, want 1 (proposer1 still reports itself)", got)
	}
}

func TestGossipSecret(t *testing.T) {
	a := gossiptest.Start(t, 1, "proposer1", "proposer", "alpha")
	b := gossiptest.Start(t, 4, "acceptor1", "acceptor", "beta")
	if n, err := b.Join([]string{a.LocalAddr()}); err == nil {
		t.Fatalf("join with another secret contacted %d nodes, want an error", n)
	}
	if na, nb := len(a.Nodes()), len(b.Nodes()); na != 1 || nb != 1 {
		t.Errorf("after a refused join: %d and %d nodes, want 1 and 1", na, nb)
	}

	c := gossiptest.Start(t, 5, "acceptor2", "acceptor", "alpha")
	if _, err := c.Join([]string{a.LocalAddr()}); err != nil {
		t.Fatalf("join with the same secret: %v", err)
	}
	gossiptest.Wait(t, 5*time.Second, "same-secret nodes see each other", func() error {
		for _, g := range []*gossiptest.Agent{a, c} {
			nodes := g.Nodes()
			if len(nodes) != 2 || nodes[0].State != gossip.Alive || nodes[1].State != gossip.Alive {
				return fmt.Errorf("%s sees %v", g.Name, nodes)
			}
		}
		return nil
	})
	for _, n := range a.Nodes() {
		if n.ID == 4 {
			t.Errorf("proposer1 sees acceptor1 (other secret): %+v", n)
		}
	}
}

func TestGossipConfigValidate(t *testing.T) {
	ok := gossip.Config{ID: 1, Name: "proposer1", Role: "proposer", APIAddr: "127.0.0.1:3001"}
	for _, tc := range []struct {
		name   string
		change func(*gossip.Config)
		want   string
	}{
		{"valid", func(*gossip.Config) {}, ""},
		{"no ID", func(c *gossip.Config) { c.ID = 0 }, "node ID"},
		{"no name", func(c *gossip.Config) { c.Name = "" }, "node name"},
		{"no role", func(c *gossip.Config) { c.Role = "" }, "node role"},
		{"bad role", func(c *gossip.Config) { c.Role = "boss" }, "node role"},
		{"bad port", func(c *gossip.Config) { c.BindPort = 70000 }, "bind port"},
		{"bad API", func(c *gossip.Config) { c.APIAddr = "nohost" }, "API address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
	big := func() gossip.Meta { return gossip.Meta{API: strings.Repeat("x", 500) + ":1"} }
	if _, err := gossip.New(gossip.Config{ID: 1, Name: "p", Role: "proposer", BindAddr: "127.0.0.1",
		Logger: slog.New(slog.DiscardHandler)}, big); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("gossip.New with 500-byte metadata: %v, want a metadata error", err)
	}
}

// TestGossipOnChangeConcurrent checks that callbacks may call back into
// Gossip (they run off memberlist's locks).
func TestGossipOnChangeConcurrent(t *testing.T) {
	g := gossiptest.Start(t, 1, "proposer1", "proposer", "")
	var mu sync.Mutex
	seen := map[replog.ID]string{}
	g.OnChange(func(n gossip.Member) {
		_ = g.Nodes()
		_ = g.LeaderID()
		g.UpdateMeta()
		mu.Lock()
		seen[n.ID] = n.State
		mu.Unlock()
	})
	o := gossiptest.Start(t, 2, "proposer2", "proposer", "", g.LocalAddr())
	gossiptest.Wait(t, 5*time.Second, "OnChange sees proposer2 join", func() error {
		mu.Lock()
		defer mu.Unlock()
		if seen[1] != gossip.Alive || seen[2] != gossip.Alive {
			return fmt.Errorf("seen %v", seen)
		}
		return nil
	})
	_ = o
}
