package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// readyAnswer is GET /ready and GET /health of a node's handler.
type readyAnswer struct {
	code   int
	status string
	err    string
	health int
}

func readyOf(t *testing.T, h http.Handler) readyAnswer {
	t.Helper()
	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("GET %s: %d %q: %v", path, rec.Code, rec.Body, err)
		}
		return rec.Code, body
	}
	code, body := get("/ready")
	a := readyAnswer{code: code}
	a.status, _ = body["status"].(string)
	a.err, _ = body["error"].(string)
	a.health, _ = get("/health")
	return a
}

// wantNotReady checks a 503 "not ready" naming reason, while /health says
// the process is alive.
func wantNotReady(t *testing.T, what string, a readyAnswer, reason string) {
	t.Helper()
	if a.code != http.StatusServiceUnavailable || a.status != "not ready" || !strings.Contains(a.err, reason) {
		t.Errorf("%s: /ready = %d %q %q, want 503 \"not ready\" with %q", what, a.code, a.status, a.err, reason)
	}
	if a.health != http.StatusOK {
		t.Errorf("%s: /health = %d, want 200 (the process is alive)", what, a.health)
	}
}

// TestReadyOffline: a node that cannot serve its role says why on GET
// /ready with 503, and /health stays 200: a proposer that knows no leader,
// an acceptor that started on empty storage and has not heard from a
// quorum of acceptors (the rejoin rule), a learner that heard from no one
// or is behind the chosen slot it heard of, a client node that reaches no
// proposer.
func TestReadyOffline(t *testing.T) {
	for _, tc := range []struct {
		role   Role
		reason string
	}{
		{RoleProposer, "no leader known"},
		{RoleAcceptor, "rejoining after empty storage"},
		{RoleClient, "no reachable proposer"},
	} {
		s := offlineNode(t, tc.role, nil)
		wantNotReady(t, string(tc.role), readyOf(t, s.Handler()), tc.reason)
	}

	// A learner that heard from no one since it started cannot know what
	// it misses.
	s := offlineNode(t, RoleLearner, nil)
	wantNotReady(t, "learner with no news", readyOf(t, s.Handler()), "no acceptor or learner has answered")
	// Another learner says slots 0-4 are chosen: this one is behind.
	self, other := s.cfg.ID, s.cfg.Learners[1].ID
	if err := s.drv.step([]replog.Message{{Type: replog.MsgChosen, From: other, To: self, Commit: 5}}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Handler(), http.StatusServiceUnavailable, "catching up: 5 slots behind")
	wantNotReady(t, "learner behind", readyOf(t, s.Handler()), "catching up")
	// It gets them: ready again.
	var entries []replog.Entry
	for i := range uint64(5) {
		entries = append(entries, replog.Entry{Slot: i, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("9-%d", i), Value: "v"}})
	}
	if err := s.drv.step([]replog.Message{{Type: replog.MsgChosen, From: other, To: self, Commit: 5, Entries: entries}}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Handler(), http.StatusOK, "")
}

// waitReady polls GET /ready until it answers code with an error that
// holds reason.
func waitReady(t *testing.T, h http.Handler, code int, reason string) {
	t.Helper()
	var a readyAnswer
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if a = readyOf(t, h); a.code == code && strings.Contains(a.err, reason) {
			return
		}
	}
	t.Fatalf("/ready = %d %q %q, want %d with %q", a.code, a.status, a.err, code, reason)
}

// TestReadyCluster: in a running cluster every node becomes ready. An
// acceptor restarted on a wiped data dir is not ready while the rejoin
// rule keeps it from voting (here: no proposer is up to move the chosen
// log past what the others accepted), though /health says it is alive; it
// is ready again once the rule lets it vote.
func TestReadyCluster(t *testing.T) {
	c := newTestCluster(t)
	c.leader()
	c.waitReady()
	for i := range 3 {
		if _, err := c.send(9, fmt.Sprint("v", i), fmt.Sprint("9-", i)); err != nil {
			t.Fatal(err)
		}
	}

	acc := c.cfg.Acceptors[0]
	c.stop(acc.ID)
	for _, p := range c.cfg.Proposers {
		c.stop(p.ID)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, acc.Name)); err != nil {
		t.Fatal(err)
	}
	c.start(acc.ID)
	h := c.node(acc.ID).Handler()
	// It asks the others at its first tick and learns it must wait; it is
	// not ready before or after (30 ticks: the answers come within a few).
	for range 30 {
		if wantNotReady(t, "wiped acceptor", readyOf(t, h), "rejoining after empty storage"); t.Failed() {
			break
		}
		time.Sleep(c.cfg.Tick)
	}

	for _, p := range c.cfg.Proposers {
		c.start(p.ID)
	}
	c.leader()
	for i := 3; i < 6; i++ {
		if _, err := c.send(9, fmt.Sprint("v", i), fmt.Sprint("9-", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, h, http.StatusOK, "")
	c.waitReady()
}

// waitReady waits until every running node answers GET /ready with 200.
func (c *testCluster) waitReady() {
	c.t.Helper()
	c.waitAll("/ready", 15*time.Second)
}

// node returns the running server of node id.
func (c *testCluster) node(id replog.ID) *Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id].srv
}
