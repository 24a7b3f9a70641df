package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// testGossip is one memberlist node on 127.0.0.1 with metadata the test can change.
type testGossip struct {
	*Gossip
	meta atomic.Pointer[GossipMeta]
}

func (tg *testGossip) setLeader(leader replog.ID, ballot uint64) {
	m := *tg.meta.Load()
	m.Leader, m.Ballot = leader, ballot
	tg.meta.Store(&m)
	tg.UpdateMeta()
}

func startTestGossip(t *testing.T, id replog.ID, name string, role Role, secret string, join ...string) *testGossip {
	t.Helper()
	api := fmt.Sprintf("127.0.0.1:%d", 3000+int(id))
	tg := &testGossip{}
	tg.meta.Store(&GossipMeta{ID: id, Name: name, Role: role, API: api, Chosen: -1})
	g, err := NewGossip(GossipConfig{ID: id, Name: name, Role: role, APIAddr: api,
		BindAddr: "127.0.0.1", BindPort: 0, Join: join, Secret: secret,
		Logger: slog.New(slog.DiscardHandler)}, func() GossipMeta { return *tg.meta.Load() })
	if err != nil {
		t.Fatalf("NewGossip(%s): %v", name, err)
	}
	tg.Gossip = g
	t.Cleanup(func() { _ = g.Shutdown() })
	return tg
}

// waitGossip polls check until it returns nil or the deadline passes.
func waitGossip(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s: %v", within, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gossipNodeByID(g *Gossip, id replog.ID) (GossipNode, bool) {
	for _, n := range g.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	return GossipNode{}, false
}

func TestGossipCluster(t *testing.T) {
	p1 := startTestGossip(t, 1, "proposer1", RoleProposer, "")
	p2 := startTestGossip(t, 2, "proposer2", RoleProposer, "", p1.LocalAddr())
	a1 := startTestGossip(t, 4, "acceptor1", RoleAcceptor, "", p1.LocalAddr())
	all := []*testGossip{p1, p2, a1}
	want := []struct {
		id   replog.ID
		name string
		role Role
		port int
	}{{1, "proposer1", RoleProposer, 3001}, {2, "proposer2", RoleProposer, 3002}, {4, "acceptor1", RoleAcceptor, 3004}}

	// Background joins converge: everyone sees everyone alive, sorted by ID.
	waitGossip(t, 10*time.Second, "every node sees 3 alive nodes", func() error {
		for _, g := range all {
			nodes := g.Nodes()
			if len(nodes) != len(want) {
				return fmt.Errorf("%s sees %d nodes", g.cfg.Name, len(nodes))
			}
			for i, w := range want {
				n := nodes[i]
				if n.ID != w.id || n.Name != w.name || n.Role != w.role || n.Address != "127.0.0.1" ||
					n.Port != w.port || n.State != GossipAlive {
					return fmt.Errorf("%s sees %+v, want %+v alive", g.cfg.Name, n, w)
				}
				if n.Metadata["api"] != fmt.Sprintf("127.0.0.1:%d", w.port) || n.Metadata["chosen"] != int64(-1) ||
					n.Metadata["leader"] != nil {
					return fmt.Errorf("%s sees metadata %v for %s", g.cfg.Name, n.Metadata, w.name)
				}
			}
			if got := g.LeaderID(); got != replog.None {
				return fmt.Errorf("%s: LeaderID = %d before any leader", g.cfg.Name, got)
			}
		}
		return nil
	})
	if gn, _ := gossipNodeByID(p2.Gossip, 4); gn.Metadata["gossip"] != a1.LocalAddr() {
		t.Errorf("gossip address of acceptor1 = %v, want %s", gn.Metadata["gossip"], a1.LocalAddr())
	}

	// UpdateMeta spreads a new leader.
	p1.setLeader(1, 101)
	p2.setLeader(1, 101)
	waitGossip(t, 5*time.Second, "every node learns leader 1", func() error {
		for _, g := range all {
			if got := g.LeaderID(); got != 1 {
				return fmt.Errorf("%s: LeaderID = %d", g.cfg.Name, got)
			}
			n, _ := gossipNodeByID(g.Gossip, 2)
			if n.Metadata["leader"] != replog.ID(1) || n.Metadata["ballot"] != uint64(101) || n.Meta.Leader != 1 {
				return fmt.Errorf("%s sees proposer2 metadata %v", g.cfg.Name, n.Metadata)
			}
		}
		return nil
	})

	// OnChange first replays the known nodes, then reports changes.
	type event struct {
		observer string
		node     GossipNode
	}
	events := make(chan event, 1024)
	for _, g := range []*testGossip{p1, p2} {
		name := g.cfg.Name
		g.OnChange(func(n GossipNode) {
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
	waitGossip(t, 10*time.Second, "acceptor1 seen dead by both", func() error {
		dead := 0
		for _, g := range []*testGossip{p1, p2} {
			n, _ := gossipNodeByID(g.Gossip, 4)
			switch n.State {
			case GossipSuspect:
				sawSuspect[g.cfg.Name] = true
			case GossipDead:
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
	waitGossip(t, 5*time.Second, "OnChange reports acceptor1 dead", func() error {
		for {
			select {
			case ev := <-events:
				if ev.node.ID == 4 && ev.node.State == GossipDead {
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
	waitGossip(t, 5*time.Second, "proposer1 sees proposer2 left", func() error {
		if n, _ := gossipNodeByID(p1.Gossip, 2); n.State != GossipLeft {
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
	a := startTestGossip(t, 1, "proposer1", RoleProposer, "alpha")
	b := startTestGossip(t, 4, "acceptor1", RoleAcceptor, "beta")
	if n, err := b.Join([]string{a.LocalAddr()}); err == nil {
		t.Fatalf("join with another secret contacted %d nodes, want an error", n)
	}
	if na, nb := len(a.Nodes()), len(b.Nodes()); na != 1 || nb != 1 {
		t.Errorf("after a refused join: %d and %d nodes, want 1 and 1", na, nb)
	}

	c := startTestGossip(t, 5, "acceptor2", RoleAcceptor, "alpha")
	if _, err := c.Join([]string{a.LocalAddr()}); err != nil {
		t.Fatalf("join with the same secret: %v", err)
	}
	waitGossip(t, 5*time.Second, "same-secret nodes see each other", func() error {
		for _, g := range []*testGossip{a, c} {
			nodes := g.Nodes()
			if len(nodes) != 2 || nodes[0].State != GossipAlive || nodes[1].State != GossipAlive {
				return fmt.Errorf("%s sees %v", g.cfg.Name, nodes)
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
	ok := GossipConfig{ID: 1, Name: "proposer1", Role: RoleProposer, APIAddr: "127.0.0.1:3001"}
	for _, tc := range []struct {
		name   string
		change func(*GossipConfig)
		want   string
	}{
		{"valid", func(*GossipConfig) {}, ""},
		{"no ID", func(c *GossipConfig) { c.ID = 0 }, "node ID"},
		{"no name", func(c *GossipConfig) { c.Name = "" }, "node name"},
		{"no role", func(c *GossipConfig) { c.Role = "" }, "node role"},
		{"bad role", func(c *GossipConfig) { c.Role = "boss" }, "node role"},
		{"bad port", func(c *GossipConfig) { c.BindPort = 70000 }, "bind port"},
		{"bad API", func(c *GossipConfig) { c.APIAddr = "nohost" }, "API address"},
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
	big := func() GossipMeta { return GossipMeta{API: strings.Repeat("x", 500) + ":1"} }
	if _, err := NewGossip(GossipConfig{ID: 1, Name: "p", Role: RoleProposer, BindAddr: "127.0.0.1",
		Logger: slog.New(slog.DiscardHandler)}, big); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("NewGossip with 500-byte metadata: %v, want a metadata error", err)
	}
}

func TestGossipLeaderVote(t *testing.T) {
	p := func(leader replog.ID, ballot uint64) GossipMeta {
		return GossipMeta{Role: RoleProposer, Leader: leader, Ballot: ballot}
	}
	for _, tc := range []struct {
		name  string
		votes []GossipMeta
		gone  map[replog.ID]bool
		want  replog.ID
	}{
		{"none", nil, nil, replog.None},
		{"nobody knows", []GossipMeta{p(0, 0), p(0, 0)}, nil, replog.None},
		{"unanimous", []GossipMeta{p(1, 101), p(1, 101), p(1, 101)}, nil, 1},
		{"majority", []GossipMeta{p(1, 101), p(2, 202), p(2, 202)}, nil, 2},
		{"tie: higher ballot", []GossipMeta{p(1, 101), p(2, 202)}, nil, 2},
		{"dead leader ignored", []GossipMeta{p(1, 101), p(1, 101), p(3, 103)}, map[replog.ID]bool{1: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gossipLeader(tc.votes, tc.gone); got != tc.want {
				t.Errorf("gossipLeader = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGossipNodesHandler(t *testing.T) {
	g := startTestGossip(t, 1, "proposer1", RoleProposer, "")
	a := startTestGossip(t, 4, "acceptor1", RoleAcceptor, "", g.LocalAddr())
	waitGossip(t, 5*time.Second, "two nodes", func() error {
		if n := len(g.Nodes()); n != 2 {
			return fmt.Errorf("%d nodes", n)
		}
		return nil
	})
	get := func() map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		GossipNodesHandler(g.Gossip)(rec, httptest.NewRequest(http.MethodGet, "/gossip/nodes", nil), nil)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("GET /gossip/nodes: %d %s", rec.Code, rec.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %s: %v", rec.Body, err)
		}
		return body
	}

	body := get()
	if lid, ok := body["leader_id"]; !ok || lid != nil {
		t.Errorf("leader_id = %v (present %v), want null", lid, ok)
	}
	if body["total"] != 2.0 {
		t.Errorf("total = %v, want 2", body["total"])
	}
	nodes, _ := body["nodes"].(map[string]any)
	n4, _ := nodes["4"].(map[string]any)
	if n4 == nil || n4["id"] != 4.0 || n4["name"] != "acceptor1" || n4["role"] != "acceptor" ||
		n4["address"] != "127.0.0.1" || n4["port"] != 3004.0 || n4["state"] != "alive" {
		t.Fatalf("nodes[\"4\"] = %v", nodes["4"])
	}
	md, _ := n4["metadata"].(map[string]any)
	if md["gossip"] != a.LocalAddr() || md["chosen"] != -1.0 || md["api"] != "127.0.0.1:3004" {
		t.Errorf("metadata = %v", md)
	}

	g.setLeader(1, 101)
	waitGossip(t, 5*time.Second, "leader_id 1", func() error {
		if body := get(); body["leader_id"] != 1.0 {
			return fmt.Errorf("leader_id = %v", body["leader_id"])
		}
		return nil
	})
}

func TestGossipPushHandler(t *testing.T) {
	g := startTestGossip(t, 1, "proposer1", RoleProposer, "")
	other := startTestGossip(t, 7, "learner1", RoleLearner, "")
	big := `{"nodes":{},"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"malformed", `{"nodes":`, http.StatusBadRequest},
		{"empty", ``, http.StatusBadRequest},
		{"nodes not an object", `{"nodes":[1]}`, http.StatusBadRequest},
		{"sender not a number", `{"sender_id":"one","nodes":{}}`, http.StatusBadRequest},
		{"address not a string", `{"nodes":{"7":{"address":7}}}`, http.StatusBadRequest},
		{"too large", big, http.StatusRequestEntityTooLarge},
		{"nothing to join", `{"sender_id":2,"nodes":{}}`, http.StatusOK},
		{"valid", fmt.Sprintf(`{"sender_id":7,"extra":true,"nodes":{"7":{"address":"127.0.0.1","port":5001,"gossip":%q,"role":"learner"},"8":{"address":"learner2","state":"dead"}}}`,
			other.LocalAddr()), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/gossip", strings.NewReader(tc.body))
			GossipPushHandler(g.Gossip)(rec, req, httprouter.Params{})
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %q", rec.Body)
			}
			if tc.status != http.StatusOK {
				if msg, _ := body["error"].(string); msg == "" {
					t.Errorf("error body %v has no \"error\"", body)
				}
				return
			}
			if body["status"] != "ok" {
				t.Errorf("body %v, want status ok", body)
			}
			if tc.name == "valid" && (body["updates"] != 1.0 || body["node_count"] != 2.0) {
				t.Errorf("body %v, want updates 1 and node_count 2", body)
			}
		})
	}
	waitGossip(t, 5*time.Second, "learner1 learns proposer1 through the push", func() error {
		if n, ok := gossipNodeByID(other.Gossip, 1); !ok || n.State != GossipAlive {
			return fmt.Errorf("learner1 sees %v", other.Nodes())
		}
		return nil
	})
}

// TestGossipOnChangeConcurrent checks that callbacks may call back into
// Gossip (they run off memberlist's locks).
func TestGossipOnChangeConcurrent(t *testing.T) {
	g := startTestGossip(t, 1, "proposer1", RoleProposer, "")
	var mu sync.Mutex
	seen := map[replog.ID]string{}
	g.OnChange(func(n GossipNode) {
		_ = g.Nodes()
		_ = g.LeaderID()
		g.UpdateMeta()
		mu.Lock()
		seen[n.ID] = n.State
		mu.Unlock()
	})
	o := startTestGossip(t, 2, "proposer2", RoleProposer, "", g.LocalAddr())
	waitGossip(t, 5*time.Second, "OnChange sees proposer2 join", func() error {
		mu.Lock()
		defer mu.Unlock()
		if seen[1] != GossipAlive || seen[2] != GossipAlive {
			return fmt.Errorf("seen %v", seen)
		}
		return nil
	})
	_ = o
}
