package gossip

import (
	"testing"

	"github.com/paxos-go/paxos/replog"
)

func TestGossipLeaderVote(t *testing.T) {
	p := func(leader replog.ID, ballot uint64) Meta {
		return Meta{Role: roleProposer, Leader: leader, Ballot: ballot}
	}
	for _, tc := range []struct {
		name  string
		votes []Meta
		gone  map[replog.ID]bool
		want  replog.ID
	}{
		{"none", nil, nil, replog.None},
		{"nobody knows", []Meta{p(0, 0), p(0, 0)}, nil, replog.None},
		{"unanimous", []Meta{p(1, 101), p(1, 101), p(1, 101)}, nil, 1},
		{"majority", []Meta{p(1, 101), p(2, 202), p(2, 202)}, nil, 2},
		{"tie: higher ballot", []Meta{p(1, 101), p(2, 202)}, nil, 2},
		{"dead leader ignored", []Meta{p(1, 101), p(1, 101), p(3, 103)}, map[replog.ID]bool{1: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := leaderOf(tc.votes, tc.gone); got != tc.want {
				t.Errorf("leaderOf = %d, want %d", got, tc.want)
			}
		})
	}
}
