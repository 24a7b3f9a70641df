package server

import (
	"context"
	"time"

	"github.com/paxos-go/paxos/gossip"
)

// chosenAdvertiseEvery is how often a node checks whether its chosen slot
// moved since it last advertised it in gossip.
const chosenAdvertiseEvery = time.Second

// advertiseChosen re-advertises this node's gossip metadata whenever its
// chosen slot moved, at most once per every, until ctx is done. Memberlist
// sends a node's metadata only when the node says it changed: without this
// a learner would show the others the chosen slot it had at start (-1) for
// ever, and a proposer the one of its last leadership change.
func (s *Server) advertiseChosen(ctx context.Context, g *gossip.Agent, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.gossipMeta().Chosen
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c := s.gossipMeta().Chosen; c != last {
			last = c
			g.UpdateMeta()
		}
	}
}
