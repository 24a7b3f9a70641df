package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/gossip/gossiptest"
	"github.com/paxos-go/paxos/replog"
)

// patientGossip gives a node the slower failure detection of
// TestGossipKeyRotatesUnderLoad (2 s probes, 1.5 s timeouts instead of
// 500 ms and 250 ms): on a starved machine (test binaries with -race on
// two loaded cores) a node's own probes time out now and then, the live
// nodes flap between alive and suspect, and joinGossip never sees all of
// them alive at once (after 20s: node 4 sees 9 of 10 nodes alive). A node
// whose gossip is shut down is still called dead, a few seconds later.
func patientGossip(s *Server) {
	s.gossipTune = func(gc *gossip.Config) { gc.ProbeInterval, gc.ProbeTimeout = 2*time.Second, 1500*time.Millisecond }
}

// joinGossip joins every running node's memberlist to via's (the harness
// starts each node's gossip alone) and waits until every node sees all of
// them alive.
func (c *testCluster) joinGossip(via replog.ID) map[replog.ID]*Server {
	c.t.Helper()
	c.mu.Lock()
	servers := map[replog.ID]*Server{}
	for id, n := range c.nodes {
		servers[id] = n.srv
	}
	c.mu.Unlock()
	for id, s := range servers {
		if id != via {
			if _, err := s.gossip.Join([]string{servers[via].gossip.LocalAddr()}); err != nil {
				c.t.Fatalf("gossip join: %v", err)
			}
		}
	}
	c.eventually(20*time.Second, func() error {
		for id, s := range servers {
			alive := 0
			for _, n := range s.gossip.Nodes() {
				if n.State == gossip.Alive {
					alive++
				}
			}
			if alive != len(servers) {
				return fmt.Errorf("node %d sees %d of %d nodes alive", id, alive, len(servers))
			}
		}
		return nil
	})
	return servers
}

// proposerView is the part of a proposer's GET /status these tests read.
type proposerView struct {
	IsLeader      bool      `json:"is_leader"`
	CurrentLeader replog.ID `json:"current_leader"`
	Ballot        uint64    `json:"proposal_number"`
	Round         uint64    `json:"proposal_counter"`
}

func (c *testCluster) proposerStatus(id replog.ID) (proposerView, error) {
	code, body := httpDo(http.MethodGet, c.addr(id)+"/status", "")
	var v proposerView
	if code != 200 {
		return v, fmt.Errorf("proposer %d /status: %d %s", id, code, body)
	}
	return v, json.Unmarshal([]byte(body), &v)
}

// promised returns each acceptor's promised ballot.
func (c *testCluster) promised() map[replog.ID]uint64 {
	c.t.Helper()
	out := map[replog.ID]uint64{}
	for _, a := range c.cfg.Acceptors {
		code, body := httpDo(http.MethodGet, c.addr(a.ID)+"/view-logs", "")
		var v struct {
			Promised uint64 `json:"promised"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
			c.t.Fatalf("acceptor %d /view-logs: %d %s", a.ID, code, truncate([]byte(body), 200))
		}
		out[a.ID] = v.Promised
	}
	return out
}

// TestGossipDeadDoesNotDeposeLiveLeader: memberlist calls a live leader
// dead (its gossip is shut down while its API and the protocol keep
// running, as when its gossip port is blocked). The followers may campaign
// early, but the acceptors, which still hear the leader, refuse: for the
// next seconds the leader stays, no acceptor promises another ballot, and
// writes go on (issue 11, finding 5; SPEC §8.10).
func TestGossipDeadDoesNotDeposeLiveLeader(t *testing.T) {
	// A production-like clock (elections after 1-2 s without heartbeats)
	// so that the machine's load alone does not start an election.
	c := newTestClusterOpts(t, func(cfg *Config) { cfg.Tick = 100 * time.Millisecond }, nil, false, patientGossip)
	// A leader and a first write, patiently (retried with its request ID):
	// the first election alone takes 1-2 s at this clock, more than the
	// 3 s request timeout allows a loaded machine for it and the write.
	c.eventually(30*time.Second, func() error {
		_, err := c.send(9, "before", "before")
		return err
	})
	servers := c.joinGossip(4) // through acceptor1, which never leads
	// Wait for one settled leader that every proposer follows.
	var leader replog.ID
	var lv proposerView
	var followers []replog.ID
	rounds := map[replog.ID]uint64{}
	c.eventually(20*time.Second, func() error {
		leader, followers = c.leader(), nil
		for _, p := range c.cfg.Proposers {
			v, err := c.proposerStatus(p.ID)
			switch {
			case err != nil:
				return err
			case p.ID == leader && !v.IsLeader:
				return fmt.Errorf("proposer %d no longer leads", leader)
			case p.ID == leader:
				lv = v
			case v.CurrentLeader != leader:
				return fmt.Errorf("proposer %d follows %d, not the leader %d", p.ID, v.CurrentLeader, leader)
			default:
				followers = append(followers, p.ID)
				rounds[p.ID] = v.Round
			}
		}
		return nil
	})
	before := c.promised()

	// The leader's gossip goes silent; its API and protocol keep running.
	if err := servers[leader].gossip.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c.eventually(30*time.Second, func() error {
		for _, f := range followers {
			n, ok := gossiptest.MemberByID(servers[f].gossip, leader)
			if !ok || n.State != gossip.Dead {
				return fmt.Errorf("proposer %d's gossip has the leader %d as %q", f, leader, n.State)
			}
		}
		return nil
	})
	t.Logf("every follower's gossip calls leader %d dead", leader)

	// For the next 3 s: the same leader, at the same ballot, and no
	// acceptor promised anything else.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if now := c.promised(); fmt.Sprint(now) != fmt.Sprint(before) {
			t.Fatalf("acceptors' promised ballots went from %v to %v: a campaign deposed the live leader %d", before, now, leader)
		}
		for _, p := range c.cfg.Proposers {
			v, err := c.proposerStatus(p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID == leader && (!v.IsLeader || v.Ballot != lv.Ballot) {
				t.Fatalf("the live leader %d was deposed: %+v, was leading at ballot %d", leader, v, lv.Ballot)
			}
			if p.ID != leader && v.CurrentLeader != leader && !v.IsLeader {
				continue // between its refused campaign and the leader's next heartbeat
			}
			if p.ID != leader && v.IsLeader {
				t.Fatalf("proposer %d leads (%+v) while %d is alive", p.ID, v, leader)
			}
		}
	}
	// The followers did campaign (their round rose), and yielded.
	campaigned := 0
	for _, f := range followers {
		v, err := c.proposerStatus(f)
		if err != nil {
			t.Fatal(err)
		}
		if v.Round > rounds[f] {
			campaigned++
		}
		if v.CurrentLeader != leader {
			t.Errorf("proposer %d follows %d after its refused campaign, want %d", f, v.CurrentLeader, leader)
		}
	}
	if campaigned == 0 {
		t.Errorf("no follower campaigned when gossip called the leader dead (rounds before %v)", rounds)
	}
	if _, err := c.send(10, "after", ""); err != nil {
		t.Fatal(err)
	}
}

// electionNode is one proposer (not serving, no gossip, its peers
// unreachable) with cfg changed by tune, for tests of /propose alone.
func electionNode(t *testing.T, tune func(*Config)) *Server {
	t.Helper()
	return offlineNode(t, RoleProposer, fuzzTune(tune))
}

// coreRound returns the proposer's round, read on its driver loop.
func coreRound(t *testing.T, s *Server) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := make(chan uint64, 1)
	if err := s.drv.call(ctx, func() { rc <- s.role.(*proposerRole).core.Status().Round }); err != nil {
		t.Fatal(err)
	}
	return <-rc
}

// postElection posts an election request to s's /propose.
func postElection(s *Server, body, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/propose", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// TestForceElectionNeedsCredential: with CLUSTER_SECRET set (and no client
// token), an election request without the secret is a 401 and starts
// nothing; with it, the election starts. With a client token, the token
// does too (issue 11, finding 5).
func TestForceElectionNeedsCredential(t *testing.T) {
	const secret, token = "cs-election", "ct-election"
	s := electionNode(t, func(cfg *Config) { cfg.Secret = secret })
	round := func() uint64 { return coreRound(t, s) }
	r0 := round()
	for _, tc := range []struct{ body, auth string }{
		{`{"is_leader_election":true}`, ""},
		{`{"value":"force_election"}`, ""},
		{`{"is_leader_election":true}`, "Bearer wrong"},
		{`{"value":"force_election","client_id":9}`, "Bearer " + secret + "x"},
		{`{"is_leader_election":true}`, secret},
	} {
		rec := postElection(s, tc.body, tc.auth)
		var e struct {
			Error string `json:"error"`
		}
		if rec.Code != http.StatusUnauthorized || json.Unmarshal(rec.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, "force_election needs") {
			t.Errorf("%s with %q: %d %s, want 401 with a JSON error", tc.body, tc.auth, rec.Code, rec.Body)
		}
	}
	if r := round(); r != r0 {
		t.Fatalf("refused election requests campaigned: round %d -> %d", r0, r)
	}
	if rec := postElection(s, `{"value":"force_election"}`, "Bearer "+secret); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"election_started"`) {
		t.Fatalf("force_election with the secret: %d %s", rec.Code, rec.Body)
	}
	if r := round(); r <= r0 {
		t.Fatalf("force_election with the secret did not campaign: round %d -> %d", r0, r)
	}

	s = electionNode(t, func(cfg *Config) { cfg.Secret, cfg.ClientToken = secret, token })
	if rec := postElection(s, `{"is_leader_election":true}`, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("election without the client token: %d %s, want 401", rec.Code, rec.Body)
	}
	if rec := postElection(s, `{"is_leader_election":true}`, "Bearer "+token); rec.Code != 200 {
		t.Errorf("election with the client token: %d %s, want 200", rec.Code, rec.Body)
	}
}

// TestForceElectionRateLimited: a proposer starts at most one forced
// election per election timeout; another request meanwhile is a 429 with a
// JSON error and Retry-After, and starts nothing.
func TestForceElectionRateLimited(t *testing.T) {
	// A slow clock: the second request surely comes within the window.
	s := electionNode(t, func(cfg *Config) { cfg.Tick = time.Second })
	every := s.role.(*proposerRole).forcedEvery
	if want := 2 * time.Duration(replog.DefaultConfig().ElectionTicks) * time.Second; every != want {
		t.Fatalf("forced elections every %s, want the longest election timeout %s", every, want)
	}
	round := func() uint64 { return coreRound(t, s) }
	if rec := postElection(s, `{"is_leader_election":true}`, ""); rec.Code != 200 {
		t.Fatalf("first election: %d %s", rec.Code, rec.Body)
	}
	r0 := round()
	for _, body := range []string{`{"value":"force_election"}`, `{"is_leader_election":true}`} {
		rec := postElection(s, body, "")
		var e struct {
			Error        string    `json:"error"`
			ProposerID   replog.ID `json:"proposer_id"`
			RetryAfterMS int64     `json:"retry_after_ms"`
		}
		if rec.Code != http.StatusTooManyRequests || json.Unmarshal(rec.Body.Bytes(), &e) != nil ||
			!strings.Contains(e.Error, "at most one per election timeout") || e.ProposerID != 1 ||
			e.RetryAfterMS <= 0 || e.RetryAfterMS > every.Milliseconds() {
			t.Fatalf("%s right after an election: %d %s, want 429 with a JSON error", body, rec.Code, rec.Body)
		}
		if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 || ra > int(every/time.Second) {
			t.Errorf("Retry-After %q, want whole seconds up to %s", rec.Header().Get("Retry-After"), every)
		}
	}
	if r := round(); r != r0 {
		t.Errorf("refused elections campaigned: round %d -> %d", r0, r)
	}
	// A value is not an election: not rate limited (409: no leader here).
	if rec := postElection(s, `{"value":"x"}`, ""); rec.Code != http.StatusConflict {
		t.Errorf("a value after an election: %d %s, want 409", rec.Code, rec.Body)
	}

	// The window, on the gate's own clock.
	p := electionNode(t, nil).role.(*proposerRole)
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at   time.Duration
		wait time.Duration
	}{
		{0, 0},
		{time.Millisecond, p.forcedEvery - time.Millisecond},
		{p.forcedEvery - 1, 1},
		{p.forcedEvery, 0},
		{p.forcedEvery + 1, p.forcedEvery - 1},
	} {
		if got := p.forcedGate(t0.Add(tc.at)); got != tc.wait {
			t.Errorf("gate at +%s: wait %s, want %s", tc.at, got, tc.wait)
		}
	}
}
