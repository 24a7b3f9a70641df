package replog_test

import (
	"testing"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// A hint that the leader is gone (gossip says it is dead) starts an
// unforced campaign: the acceptors that still hear the leader refuse it, and
// the candidate yields to the leader's next heartbeat. Only an explicit
// Campaign (an operator's force_election) sets Force.
func TestCampaignUnforcedYieldsToLiveLeader(t *testing.T) {
	sa := replogtest.NewAcceptorStore()
	a := newAcceptor(t, sa)
	step(t, a, replog.Message{Type: replog.MsgAccept, From: 1, Ballot: 101}) // the leader is heard
	ready(t, a, sa)

	sp := replogtest.NewProposerStore()
	p, err := replog.NewProposer(testConfig(2), sp)
	if err != nil {
		t.Fatal(err)
	}
	step(t, p, replog.Message{Type: replog.MsgHeartbeat, From: 1, Ballot: 101})
	if st := p.Status(); st.State != replog.Follower || st.Leader != 1 {
		t.Fatalf("after the leader's heartbeat: %+v", st)
	}

	p.CampaignUnforced()
	prep := onlyMessageTo(t, ready(t, p, sp), replog.MsgPrepare, 4)
	if prep.Force || prep.Ballot <= 101 {
		t.Fatalf("prepare = %+v, want an unforced prepare above 101", prep)
	}
	step(t, a, prep)
	nack := onlyMessage(t, ready(t, a, sa), replog.MsgNack)
	if nack.Ballot != 101 || a.Promised() != 101 {
		t.Fatalf("acceptor answered %+v and promised %d; want a nack with the live leader's 101", nack, a.Promised())
	}
	step(t, p, nack)
	step(t, p, replog.Message{Type: replog.MsgHeartbeat, From: 1, Ballot: 101})
	if st := p.Status(); st.State != replog.Follower || st.Leader != 1 {
		t.Fatalf("after a refused campaign and the leader's heartbeat: %+v, want a follower of 1", st)
	}

	// A leader or a candidate ignores it: no new ballot, no prepares.
	p.Campaign()
	ready(t, p, sp)
	before := p.Status().Ballot
	p.CampaignUnforced()
	if rd := ready(t, p, sp); len(rd.Messages) != 0 || p.Status().Ballot != before {
		t.Fatalf("a candidate campaigned again: ballot %d -> %d, messages %+v", before, p.Status().Ballot, rd.Messages)
	}

	// The operator's Campaign stays forced.
	q, err := replog.NewProposer(testConfig(3), replogtest.NewProposerStore())
	if err != nil {
		t.Fatal(err)
	}
	q.Campaign()
	forced := false
	for _, m := range q.Ready().Messages {
		forced = forced || m.Type == replog.MsgPrepare && m.To == 4 && m.Force
	}
	if !forced {
		t.Fatalf("Campaign sent no forced prepare: %+v", q.Ready().Messages)
	}
}
