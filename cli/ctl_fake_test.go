package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
)

// fakeCluster is a cluster of httptest nodes that speak the HTTP API of
// SPEC §5 over one in-memory log: enough for paxosctl's commands.
type fakeCluster struct {
	t     *testing.T
	mu    sync.Mutex
	nodes []*fakeNode

	log    []logEntry
	byReq  map[string]uint64
	leader uint64 // proposer ID that leads, 0 for none
	ballot uint64

	// sendCalls lists "node request_id" for every POST /send, in order.
	sendCalls []string
	// failSend makes the next n POST /send calls on a node fail with 504
	// after recording the value in the log (as a real timeout may).
	failSend map[string]int
	// proposeCalls counts POST /propose per node.
	proposeCalls map[string]int
	// electTo is the proposer that wins an election started anywhere.
	electTo uint64
	// moveLeaderAfter, when above 0, hands the leadership to electTo after
	// that many more POST /propose calls.
	moveLeaderAfter int
	auth            []string // Authorization headers of POST requests
	// electBearer, when set, is the only Authorization an election
	// request may carry (401 otherwise), as a proposer with a secret.
	electBearer string
	// pageMax, when above 0, caps every page of the log at that many
	// entries whatever the limit, as a learner's byte bound does.
	pageMax int
}

// fakeNode is one node of a fakeCluster.
type fakeNode struct {
	id        uint64
	name      string
	role      string
	srv       *httptest.Server
	down      bool
	unhealthy string
	alarms    []api.Alarm // what the node's views list (SPEC §9)
}

func (n *fakeNode) addr() string { return n.srv.Listener.Addr().String() }

// newFakeCluster starts the standard 10 nodes (proposer1 leads).
func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	f := &fakeCluster{t: t, byReq: map[string]uint64{}, leader: 1, ballot: 101, failSend: map[string]int{},
		proposeCalls: map[string]int{}, electTo: 2}
	id := uint64(0)
	for _, r := range []struct {
		role  string
		count int
	}{{"proposer", 3}, {"acceptor", 3}, {"learner", 2}, {"client", 2}} {
		for i := 1; i <= r.count; i++ {
			id++
			n := &fakeNode{id: id, name: fmt.Sprintf("%s%d", r.role, i), role: r.role}
			n.srv = httptest.NewServer(f.handler(n))
			f.nodes = append(f.nodes, n)
		}
	}
	t.Cleanup(func() {
		for _, n := range f.nodes {
			if !n.down {
				n.srv.Close()
			}
		}
	})
	noStandardPorts(t)
	return f
}

// noStandardPorts points the standard-topology fallback at closed ports, so
// tests never reach a real cluster on 3001-6002.
func noStandardPorts(t *testing.T) {
	t.Helper()
	old := standardNodes
	var nodes []ctlNode
	for i, r := range []string{"proposer", "acceptor", "learner", "client"} {
		nodes = append(nodes, ctlNode{ID: uint64(i + 1), Name: r + "1", Role: r, Addr: closedAddr(t)})
	}
	standardNodes = func(string) []ctlNode { return nodes }
	t.Cleanup(func() { standardNodes = old })
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (f *fakeCluster) node(name string) *fakeNode {
	for _, n := range f.nodes {
		if n.name == name {
			return n
		}
	}
	f.t.Fatalf("no node %s", name)
	return nil
}

// stop closes nodes: connections are refused from now on.
func (f *fakeCluster) stop(names ...string) {
	var nodes []*fakeNode
	f.do(func() {
		for _, name := range names {
			n := f.node(name)
			n.down = true
			nodes = append(nodes, n)
		}
	})
	for _, n := range nodes {
		n.srv.Close()
	}
}

// do runs fn with the cluster locked: tests read and change the fake's
// state only through it.
func (f *fakeCluster) do(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// endpoints is the --endpoints value of the given nodes (default: clients
// and learners, like paxosctl's default).
func (f *fakeCluster) endpoints(names ...string) string {
	if len(names) == 0 {
		names = []string{"client1", "client2", "learner1", "learner2"}
	}
	var eps []string
	for _, name := range names {
		eps = append(eps, f.node(name).addr())
	}
	return strings.Join(eps, ",")
}

// add appends a value to the log (deduplicated by request ID) and returns
// its slot.
func (f *fakeCluster) add(value, reqID string) uint64 {
	if s, ok := f.byReq[reqID]; ok && reqID != "" {
		return s
	}
	slot := uint64(len(f.log))
	f.log = append(f.log, logEntry{Slot: slot, Value: value, ClientID: 9, RequestID: reqID})
	if reqID != "" {
		f.byReq[reqID] = slot
	}
	return slot
}

func (f *fakeCluster) chosen() int64 { return int64(len(f.log)) - 1 }

func writeJSONTest(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeCluster) handler(n *fakeNode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Method == http.MethodPost {
			f.auth = append(f.auth, r.Header.Get("Authorization"))
		}
		node := api.Node{ID: n.id, Name: n.name, Role: n.role, Alarms: append([]api.Alarm{}, n.alarms...)}
		path := r.URL.Path
		switch {
		case path == "/health":
			if n.unhealthy != "" {
				writeJSONTest(w, 503, api.Health{ID: n.id, Name: n.name, Role: n.role, Status: "unhealthy", Error: n.unhealthy, Alarms: node.Alarms})
				return
			}
			writeJSONTest(w, 200, api.Health{ID: n.id, Name: n.name, Role: n.role, Status: "healthy", Alarms: node.Alarms})
		case path == "/gossip/nodes":
			nodes := map[string]any{}
			for _, m := range f.nodes {
				host, port, _ := net.SplitHostPort(m.addr())
				p, _ := strconv.Atoi(port)
				state := "alive"
				if m.down {
					state = "dead"
				}
				nodes[strconv.FormatUint(m.id, 10)] = map[string]any{"id": m.id, "name": m.name, "role": m.role,
					"address": host, "port": p, "state": state, "metadata": map[string]any{}}
			}
			writeJSONTest(w, 200, map[string]any{"total": len(nodes), "leader_id": f.leader, "nodes": nodes})
		case n.role == "proposer" && (path == "/status" || path == "/view-logs"):
			state := "follower"
			if f.leader == n.id {
				state = "leader"
			}
			writeJSONTest(w, 200, api.ProposerView{Node: node, State: state, IsLeader: f.leader == n.id,
				CurrentLeader: api.OptionalID(f.leader), ProposalNumber: f.ballot, ChosenSlot: f.chosen(),
				NextSlot: uint64(len(f.log)), AcceptorsCount: 3, Quorum: 2,
				Metrics: api.ProposerMetrics{ProposalsTotal: 5, ProposalsChosen: 5, ProposalsFailed: 1, LeaderChanges: 1}})
		case n.role == "proposer" && path == "/propose":
			var req struct {
				Value            *string `json:"value"`
				RequestID        string  `json:"request_id"`
				IsLeaderElection bool    `json:"is_leader_election"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			if req.IsLeaderElection && f.electBearer != "" && r.Header.Get("Authorization") != f.electBearer {
				writeJSONTest(w, 401, map[string]any{"error": "unauthorized: force_election needs the client token or the cluster secret (Authorization: Bearer ...)"})
				return
			}
			if req.IsLeaderElection {
				f.leader = f.electTo
				f.ballot = (f.ballot/100+1)*100 + f.electTo
				writeJSONTest(w, 200, api.ElectionStarted{Status: "election_started", ProposerID: n.id})
				return
			}
			f.proposeCalls[n.name]++
			if f.moveLeaderAfter > 0 {
				f.moveLeaderAfter--
				if f.moveLeaderAfter == 0 {
					f.leader, f.ballot = f.electTo, (f.ballot/100+1)*100+f.electTo
				}
			}
			if f.leader != n.id {
				writeJSONTest(w, 409, api.Error{Error: api.NotLeaderText, CurrentLeader: &api.Leader{ID: f.leader}, RetrySuggested: true})
				return
			}
			if req.Value == nil || *req.Value == "" {
				writeJSONTest(w, 400, map[string]any{"error": "bad request: field \"value\" must not be empty"})
				return
			}
			slot := f.add(*req.Value, req.RequestID)
			writeJSONTest(w, 200, map[string]any{"status": "chosen", "slot": slot, "proposal_number": f.ballot, "proposer_id": n.id})
		case n.role == "acceptor" && path == "/view-logs":
			last := f.chosen()
			node.Logs = []string{"x"}
			writeJSONTest(w, 200, api.AcceptorView{Node: node, Promised: f.ballot, HighestPromisedNumber: f.ballot,
				AcceptedCount: uint64(len(f.log)), LastAcceptedSlot: &last, State: api.AcceptorState{MaxPromised: f.ballot},
				DBSizeBytes: 32768, Metrics: api.AcceptorMetrics{Promises: 2, Accepts: uint64(len(f.log))}})
		case n.role == "learner" && path == "/view-logs":
			var recent []api.RecentEntry
			for _, e := range f.log {
				recent = append(recent, api.RecentEntry{Slot: e.Slot, Value: e.Value, RequestID: e.RequestID})
			}
			writeJSONTest(w, 200, api.LearnerView{Node: node, LearnedValuesCount: uint64(len(f.log)), RecentLearnedValues: recent,
				ChosenSlot: f.chosen(), DBSizeBytes: 65536, Metrics: api.LearnerMetrics{SlotsLearned: uint64(len(f.log))}})
		case n.role == "learner" && path == "/get-values", n.role == "client" && path == "/read":
			f.serveLog(w, r, n)
		case n.role == "client" && path == "/send":
			var req struct {
				Value     *string `json:"value"`
				RequestID string  `json:"request_id"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			f.sendCalls = append(f.sendCalls, n.name+" "+req.RequestID)
			if req.Value == nil || *req.Value == "" {
				writeJSONTest(w, 400, map[string]any{"error": "bad request: field \"value\" must not be empty"})
				return
			}
			slot := f.add(*req.Value, req.RequestID)
			if f.failSend[n.name] > 0 {
				f.failSend[n.name]--
				writeJSONTest(w, 504, map[string]any{"error": "timed out: value not confirmed", "request_id": req.RequestID})
				return
			}
			writeJSONTest(w, 200, api.SendResponse{Status: "value sent", Slot: slot, ProposerID: f.leader, RequestID: req.RequestID})
		case n.role == "client" && path == "/view-logs":
			writeJSONTest(w, 200, api.ClientView{Node: node, CurrentLeader: api.OptionalID(f.leader), Responses: len(f.sendCalls),
				Metrics: api.ClientMetrics{Sent: uint64(len(f.sendCalls)), Notifications: 3}})
		default:
			writeJSONTest(w, 404, map[string]any{"error": "not found: " + path + " is not served by this " + n.role})
		}
	})
}

func (f *fakeCluster) serveLog(w http.ResponseWriter, r *http.Request, n *fakeNode) {
	q := r.URL.Query()
	from, _ := strconv.ParseUint(q.Get("from"), 10, 64)
	limit := uint64(100000)
	if s := q.Get("limit"); s != "" {
		limit, _ = strconv.ParseUint(s, 10, 64)
	}
	if c := q.Get("consistency"); c != "" && c != "linearizable" && c != "serializable" {
		writeJSONTest(w, 400, map[string]any{"error": "bad request: consistency"})
		return
	}
	entries := []logEntry{}
	next := from
	if f.pageMax > 0 {
		limit = min(limit, uint64(f.pageMax))
	}
	for _, e := range f.log {
		if e.Slot < from || uint64(len(entries)) >= limit {
			continue
		}
		entries = append(entries, e)
		next = e.Slot + 1
	}
	if uint64(len(entries)) < limit {
		next = max(next, uint64(len(f.log)))
	}
	values := make([]string, len(entries))
	for i, e := range entries {
		values[i] = e.Value
	}
	writeJSONTest(w, 200, map[string]any{"values": values, "entries": entries, "total_count": len(f.log),
		"returned_count": len(entries), "chosen_slot": f.chosen(), "next_from": next, "learner_id": 7,
		"consistency": q.Get("consistency")})
}

// ctlRun runs paxosctl with args against the environment of a clean shell,
// and returns stdout, stderr and the exit status.
func ctlRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return ctlRunCtx(t, context.Background(), stdin, args...)
}

func ctlRunCtx(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, int) {
	t.Helper()
	clearCtlEnv(t)
	var out, errw syncBuffer
	code := RunPaxosctl(ctx, append([]string{"paxosctl"}, args...), strings.NewReader(stdin), &out, &errw)
	return out.String(), errw.String(), code
}

// clearCtlEnv unsets the environment variables paxosctl reads.
func clearCtlEnv(t *testing.T) {
	t.Helper()
	for _, e := range []string{"PAXOSCTL_ENDPOINTS", "CLUSTER_SECRET", "CLIENT_TOKEN"} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
