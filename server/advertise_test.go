package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/testenv"
)

// TestGossipAdvertise: memberlist advertises GOSSIP_ADVERTISE (a name
// resolved, an optional port), else ADVERTISE_HOST, else the node's
// topology host when it is an IP. An explicit GOSSIP_ADVERTISE that does
// not resolve stops the start; an ADVERTISE_HOST that does not leaves the
// choice to memberlist.
func TestGossipAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		gossip, advertise, api string
		wantAddr               string
		wantPort               int
		wantErr                string
	}{
		{name: "GOSSIP_ADVERTISE IP", gossip: "10.1.2.3", advertise: "127.0.0.1", wantAddr: "10.1.2.3"},
		{name: "GOSSIP_ADVERTISE name and port", gossip: "localhost:17946", wantAddr: "127.0.0.1", wantPort: 17946},
		{name: "GOSSIP_ADVERTISE bad port", gossip: "localhost:x", wantErr: "bad port"},
		{name: "GOSSIP_ADVERTISE unknown name", gossip: "no-such-node.invalid", wantErr: `GOSSIP_ADVERTISE "no-such-node.invalid"`},
		{name: "ADVERTISE_HOST name", advertise: "localhost", wantAddr: "127.0.0.1"},
		{name: "ADVERTISE_HOST unknown name", advertise: "no-such-node.invalid", wantAddr: ""},
		{name: "topology IP", api: "127.0.0.5:3001", wantAddr: "127.0.0.5"},
		{name: "topology name", api: "proposer-1.proposer:3001", wantAddr: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ID, cfg.Listen, cfg.GossipAdvertise, cfg.Advertise = 1, ":3001", tc.gossip, tc.advertise
			if tc.api != "" {
				cfg.Proposers[0].Addr = tc.api
			}
			s := &Server{node: &node{cfg: cfg, log: slog.New(slog.DiscardHandler)}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			addr, port, err := s.gossipAdvertise(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || addr != tc.wantAddr || port != tc.wantPort {
				t.Fatalf("advertise %q:%d, %v; want %q:%d", addr, port, err, tc.wantAddr, tc.wantPort)
			}
		})
	}
}

// TestGossipAdvertiseReachesMemberlist: a node bound to every interface
// advertises the GOSSIP_ADVERTISE address and port, not memberlist's pick.
func TestGossipAdvertiseReachesMemberlist(t *testing.T) {
	// memberlist binds the port on TCP and UDP at 0.0.0.0.
	port := testenv.FreePort(t, "0.0.0.0", nil)
	s := offlineNode(t, RoleLearner, func(c *Config) {
		c.GossipBind, c.GossipPort, c.GossipAdvertise = "0.0.0.0", port, "localhost:17999"
	})
	g, err := s.startGossip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown()
	if got := g.LocalAddr(); got != "127.0.0.1:17999" {
		t.Errorf("gossip advertises %q, want 127.0.0.1:17999", got)
	}
}
