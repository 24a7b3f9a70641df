package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// TestInmemCluster runs a proposer, three acceptors and a learner on
// storage's memory stores over one InmemNetwork, without serving: a value
// posted to the proposer's handler is chosen and the learner's handler
// serves it. Every node's address is one nothing listens on, so the
// protocol can only have gone through the network in memory.
func TestInmemCluster(t *testing.T) {
	net := NewInmemNetwork()
	cfg := DefaultConfig()
	cfg.Proposers, cfg.Learners, cfg.Clients = cfg.Proposers[:1], cfg.Learners[:1], cfg.Clients[:1]
	for _, ps := range [][]Peer{cfg.Proposers, cfg.Acceptors, cfg.Learners, cfg.Clients} {
		for i := range ps {
			ps[i].Addr = "127.0.0.1:1"
		}
	}
	cfg.Tick, cfg.RequestTimeout = 10*time.Millisecond, 20*time.Second
	var proposer, learner *Server
	for _, p := range cfg.Peers() {
		c := cfg
		c.ID, c.Name, c.Role, c.Listen, c.DataDir = p.ID, p.Name, p.Role, p.Addr, t.TempDir()
		opts := []Option{WithTransport(net.Transport(p.ID))}
		switch p.Role {
		case RoleProposer:
			opts = append(opts, WithProposerStore(storage.NewMemProposer()))
		case RoleAcceptor:
			opts = append(opts, WithAcceptorStore(storage.NewMemAcceptor()))
		case RoleLearner:
			opts = append(opts, WithLearnerStore(storage.NewMemLearner()))
		}
		s, err := New(c, slog.New(slog.DiscardHandler), opts...)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		startLoop(t, s)
		switch p.Role {
		case RoleProposer:
			proposer = s
		case RoleLearner:
			learner = s
		}
	}

	const wait = 30 * time.Second
	deadline := time.Now().Add(wait)
	for proposer.role.(*proposerRole).status().State != replog.Leader {
		if time.Now().After(deadline) {
			t.Fatalf("no leader within %s: %+v", wait, proposer.role.(*proposerRole).status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	proposer.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/propose", strings.NewReader(`{"value":"x","request_id":"r1"}`)))
	var res api.ProposeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &res); rec.Code != http.StatusOK || err != nil || res.Status != "chosen" {
		t.Fatalf("POST /propose: %d %s", rec.Code, rec.Body)
	}
	for {
		rec := httptest.NewRecorder()
		learner.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/get-values", nil))
		var page api.ValuesPage
		if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("GET /get-values: %d %s", rec.Code, rec.Body)
		}
		if len(page.Values) == 1 && page.Values[0] == "x" && page.Entries[0].Slot == res.Slot {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner serves %+v, want x at slot %d", page, res.Slot)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startLoop runs s's protocol loop, without serving, until the test ends;
// then it closes the transport and the storage.
func startLoop(tb testing.TB, s *Server) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.drv != nil {
			s.drv.run(ctx)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
		s.transport.Close()
		s.closeRole()
	})
}

// TestNewRefusesAnotherRolesStore: a store given for another role than the
// node's is an error of New, not a store left unused.
func TestNewRefusesAnotherRolesStore(t *testing.T) {
	cfg := DefaultConfig()
	p := cfg.Proposers[0]
	cfg.ID, cfg.Role, cfg.Listen, cfg.DataDir = p.ID, RoleProposer, "127.0.0.1:0", t.TempDir()
	_, err := New(cfg, slog.New(slog.DiscardHandler), WithLearnerStore(storage.NewMemLearner()))
	if err == nil || !strings.Contains(err.Error(), "a learner store given to a proposer") {
		t.Fatalf("New: %v, want a learner store given to a proposer", err)
	}
}
