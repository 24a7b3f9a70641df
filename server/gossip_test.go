package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/gossip/gossiptest"
)

func TestGossipNodesHandler(t *testing.T) {
	g := gossiptest.Start(t, 1, "proposer1", "proposer", "")
	a := gossiptest.Start(t, 4, "acceptor1", "acceptor", "", g.LocalAddr())
	gossiptest.Wait(t, 5*time.Second, "two nodes", func() error {
		if n := len(g.Nodes()); n != 2 {
			return fmt.Errorf("%d nodes", n)
		}
		return nil
	})
	get := func() map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		GossipNodesHandler(g.Agent)(rec, httptest.NewRequest(http.MethodGet, "/gossip/nodes", nil), nil)
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

	g.SetLeader(1, 101)
	gossiptest.Wait(t, 5*time.Second, "leader_id 1", func() error {
		if body := get(); body["leader_id"] != 1.0 {
			return fmt.Errorf("leader_id = %v", body["leader_id"])
		}
		return nil
	})
}

func TestGossipPushHandler(t *testing.T) {
	g := gossiptest.Start(t, 1, "proposer1", "proposer", "")
	other := gossiptest.Start(t, 7, "learner1", "learner", "")
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
			GossipPushHandler(g.Agent)(rec, req, httprouter.Params{})
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
	gossiptest.Wait(t, 5*time.Second, "learner1 learns proposer1 through the push", func() error {
		if n, ok := gossiptest.MemberByID(other.Agent, 1); !ok || n.State != gossip.Alive {
			return fmt.Errorf("learner1 sees %v", other.Nodes())
		}
		return nil
	})
}
