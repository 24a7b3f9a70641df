package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/testenv"
	"github.com/paxos-go/paxos/replog"
)

// testCluster runs the 10 nodes of SPEC §3 in this process on loopback
// ports, each with its own data dir, so nodes can be stopped and restarted
// with their storage.
type testCluster struct {
	t      *testing.T
	dir    string
	cfg    Config // the topology every node shares
	mu     sync.Mutex
	nodes  map[replog.ID]*testNode
	secret string
	// logw, when set, gets every node's log at debug level (instead of
	// the warnings on stderr).
	logw io.Writer
	// prepare, when set, runs on every node after New and before Serve.
	prepare func(*Server)
	// gossipPorts, when set, gives every node a fixed gossip port and
	// makes it join proposer1 and acceptor1 (newTestClusterGossip);
	// otherwise each node gossips alone on a port of its own.
	gossipPorts map[replog.ID]int
	join        []string
}

type testNode struct {
	srv    *Server
	peer   Peer
	cancel context.CancelFunc
	done   chan error
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	return newTestClusterWith(t, nil)
}

// newTestClusterWith is newTestCluster with tune applied to the
// configuration every node shares (nil: the defaults).
func newTestClusterWith(t *testing.T, tune func(*Config)) *testCluster {
	t.Helper()
	return newTestClusterLog(t, tune, nil)
}

// newTestClusterLog is newTestClusterWith whose nodes log at debug level to
// logw (nil: warnings to stderr).
func newTestClusterLog(t *testing.T, tune func(*Config), logw io.Writer) *testCluster {
	t.Helper()
	return newTestClusterGossip(t, tune, logw, false)
}

// newTestClusterGossip is newTestClusterLog whose nodes, with joined set,
// form one gossip cluster.
func newTestClusterGossip(t *testing.T, tune func(*Config), logw io.Writer, joined bool) *testCluster {
	t.Helper()
	return newTestClusterOpts(t, tune, logw, joined, nil)
}

// newTestClusterGossipPrepare is newTestClusterGossip, joined, with
// prepare run on every node before it serves.
func newTestClusterGossipPrepare(t *testing.T, tune func(*Config), logw io.Writer, prepare func(*Server)) *testCluster {
	t.Helper()
	return newTestClusterOpts(t, tune, logw, true, prepare)
}

func newTestClusterOpts(t *testing.T, tune func(*Config), logw io.Writer, joined bool, prepare func(*Server)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dir: t.TempDir(), nodes: map[replog.ID]*testNode{}, logw: logw, prepare: prepare}
	// API ports come from below the ephemeral range (32768-60999 on Linux,
	// 49152-65535 on macOS): a port from there could become the source port
	// of an outgoing connection of a node started first, and its own node
	// could then not listen on it.
	used := map[int]bool{}
	pick := func(r Role) []Peer {
		ps := StandardPeers(r, "127.0.0.1")
		for i := range ps {
			ps[i].Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t, "127.0.0.1", used)))
		}
		return ps
	}
	c.cfg = Config{Proposers: pick(RoleProposer), Acceptors: pick(RoleAcceptor), Learners: pick(RoleLearner),
		Clients: pick(RoleClient), Tick: 20 * time.Millisecond, RequestTimeout: 3 * time.Second}
	if tune != nil {
		tune(&c.cfg)
		c.secret = c.cfg.Secret
	}
	if joined {
		c.gossipPorts = map[replog.ID]int{}
		for _, p := range c.cfg.Peers() {
			c.gossipPorts[p.ID] = testenv.FreePort(t, "127.0.0.1", used)
		}
		c.join = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(c.gossipPorts[1])), net.JoinHostPort("127.0.0.1", strconv.Itoa(c.gossipPorts[4]))}
	}
	for _, p := range c.cfg.Peers() {
		c.start(p.ID)
	}
	t.Cleanup(c.stopAll)
	c.waitHealthy()
	return c
}

func (c *testCluster) start(id replog.ID) {
	c.t.Helper()
	p, _ := c.cfg.Peer(id)
	cfg := c.cfg
	cfg.ID, cfg.Name, cfg.Role = p.ID, p.Name, p.Role
	cfg.Listen = p.Addr
	cfg.DataDir = filepath.Join(c.dir, p.Name)
	cfg.GossipBind, cfg.GossipPort = "127.0.0.1", 0
	if c.gossipPorts != nil {
		cfg.GossipPort, cfg.Join = c.gossipPorts[id], c.join
	}
	cfg.Secret = c.secret
	level := slog.LevelWarn
	if os.Getenv("PAXOS_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	var out io.Writer = os.Stderr
	if c.logw != nil {
		out, level = c.logw, slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})).With("node", p.Name, "role", string(p.Role))
	var s *Server
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if s, err = New(cfg, log); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("start %s: %v", p.Name, err)
	}
	var ln net.Listener
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", p.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("listen %s: %v", p.Name, err)
	}
	if c.prepare != nil {
		c.prepare(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{srv: s, peer: p, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- s.Serve(ctx, ln) }()
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
}

// stop shuts a node down (like SIGTERM) and waits until its storage is closed.
func (c *testCluster) stop(id replog.ID) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("node %s did not stop", n.peer.Name)
	}
}

func (c *testCluster) stopAll() {
	for _, p := range c.cfg.Peers() {
		c.stop(p.ID)
	}
}

func (c *testCluster) addr(id replog.ID) string {
	p, _ := c.cfg.Peer(id)
	return "http://" + p.Addr
}

func (c *testCluster) waitHealthy() {
	c.t.Helper()
	c.waitAll("/health", 10*time.Second)
}

// waitAll waits until every running node answers GET path with 200.
func (c *testCluster) waitAll(path string, d time.Duration) {
	c.t.Helper()
	c.eventually(d, func() error {
		for _, p := range c.cfg.Peers() {
			c.mu.Lock()
			_, up := c.nodes[p.ID]
			c.mu.Unlock()
			if !up {
				continue
			}
			if code, body := httpDo(http.MethodGet, c.addr(p.ID)+path, ""); code != 200 {
				return fmt.Errorf("%s: GET %s = %d %s", p.Name, path, code, body)
			}
		}
		return nil
	})
}

// leader returns the proposer that says it leads.
func (c *testCluster) leader() replog.ID {
	c.t.Helper()
	var leader replog.ID
	c.eventually(10*time.Second, func() error {
		for _, p := range c.cfg.Proposers {
			c.mu.Lock()
			_, up := c.nodes[p.ID]
			c.mu.Unlock()
			if !up {
				continue
			}
			code, body := httpDo(http.MethodGet, c.addr(p.ID)+"/status", "")
			var st struct {
				IsLeader bool `json:"is_leader"`
			}
			if code == 200 && json.Unmarshal([]byte(body), &st) == nil && st.IsLeader {
				leader = p.ID
				return nil
			}
		}
		return fmt.Errorf("no leader")
	})
	return leader
}

func (c *testCluster) eventually(d time.Duration, f func() error) {
	c.t.Helper()
	testenv.Eventually(c.t, d, "cluster", f)
}

var testHTTP = &http.Client{Timeout: 10 * time.Second}

func httpDo(method, url, body string) (int, string) { return httpAuth(method, url, "", body) }

// httpAuth is httpDo with an Authorization header (none when auth is "").
func httpAuth(method, url, auth, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil { // a body cut short is no answer, not a short one
		return 0, fmt.Sprintf("reading the answer of %s %s: %v", method, url, err)
	}
	return resp.StatusCode, string(data)
}

func (c *testCluster) send(client replog.ID, value, reqID string) (uint64, error) {
	body, _ := json.Marshal(map[string]string{"value": value, "request_id": reqID})
	code, resp := httpDo(http.MethodPost, c.addr(client)+"/send", string(body))
	if code != 200 {
		return 0, fmt.Errorf("send %q: %d %s", value, code, resp)
	}
	var r struct {
		Slot uint64 `json:"slot"`
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		return 0, err
	}
	return r.Slot, nil
}

type logEntry struct {
	Slot      uint64 `json:"slot"`
	Value     string `json:"value"`
	RequestID string `json:"request_id"`
}

func (c *testCluster) values(learner replog.ID, query string) ([]logEntry, int64) {
	c.t.Helper()
	code, body := httpDo(http.MethodGet, c.addr(learner)+"/get-values"+query, "")
	if code != 200 {
		c.t.Fatalf("get-values: %d %s", code, body)
	}
	var page struct {
		Entries    []logEntry `json:"entries"`
		ChosenSlot int64      `json:"chosen_slot"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		c.t.Fatal(err)
	}
	return page.Entries, page.ChosenSlot
}

func TestClusterSendAndRead(t *testing.T) {
	c := newTestCluster(t)
	slot, err := c.send(9, "hello", "")
	if err != nil {
		t.Fatal(err)
	}
	c.eventually(5*time.Second, func() error {
		for _, l := range []replog.ID{7, 8} {
			entries, _ := c.values(l, "")
			if len(entries) != 1 || entries[0].Value != "hello" || entries[0].Slot != slot {
				return fmt.Errorf("learner %d has %+v, want hello at slot %d", l, entries, slot)
			}
		}
		return nil
	})
	// A retry with the same request ID is answered with the first slot.
	s1, err := c.send(10, "x", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.send(9, "x", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatalf("retry answered slot %d, first copy at %d", s2, s1)
	}
	entries, _ := c.values(7, "?consistency=linearizable")
	if len(entries) != 2 {
		t.Fatalf("linearizable read: %+v", entries)
	}
}

// ballot returns the ballot (proposal_number) proposer id reports.
func (c *testCluster) ballot(id replog.ID) replog.Ballot {
	c.t.Helper()
	code, body := httpDo(http.MethodGet, c.addr(id)+"/status", "")
	var st struct {
		Ballot replog.Ballot `json:"proposal_number"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		c.t.Fatalf("status of %d: %d %s", id, code, body)
	}
	return st.Ballot
}

func TestClusterLeaderFailover(t *testing.T) {
	c := newTestCluster(t)
	old := c.leader()
	if _, err := c.send(9, "before", ""); err != nil {
		t.Fatal(err)
	}
	oldBallot := c.ballot(old)
	c.stop(old)
	start := time.Now()
	slot, err := c.send(9, "after", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover: next write acknowledged %s after the leader stopped (slot %d)", time.Since(start), slot)
	// c.leader() asks only the running proposers: whoever it finds is not
	// old. What can fail is the ballot: a new leader runs Phase 1 above the
	// old leader's ballot.
	if now := c.leader(); c.ballot(now) <= oldBallot {
		t.Fatalf("new leader %d at ballot %d, not above the stopped leader's %d", now, c.ballot(now), oldBallot)
	}
	c.start(old)
	c.waitHealthy()
	if _, err := c.send(10, "rejoined", ""); err != nil {
		t.Fatal(err)
	}
	c.eventually(5*time.Second, func() error {
		a, _ := c.values(7, "")
		b, _ := c.values(8, "")
		if len(a) != 3 || fmt.Sprint(a) != fmt.Sprint(b) {
			return fmt.Errorf("learners: %+v and %+v", a, b)
		}
		return nil
	})
}
