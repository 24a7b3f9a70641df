package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
)

// TestE2ETrace runs paxosctl trace against the 10 paxosd processes: the
// trace of a slot just written, then, after the leader was SIGKILLed, the
// trace of the election. It checks the merged order paxosctl prints
// (-w json): a receipt after its send; at each acceptor the accept (or
// prepare) received, then its persist, then its answer; the quorum marked
// on the answer of the quorum-th distinct acceptor at the leader, and
// chosen (or the first accept of the new leader) after it. The diagrams
// (text) must show the quorum and the steps too.
func TestE2ETrace(t *testing.T) {
	ctl := paxosctl(t)
	c := NewCluster(t, Options{})
	client := c.Node("client1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var last uint64
	for i := range 3 {
		res, err := send(ctx, client, fmt.Sprintf("traced-%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		last = res.Slot
	}
	endpoints := client.addr() + "," + c.Node("learner1").addr()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, ctl, append([]string{"--endpoints", endpoints, "--timeout", "10s"}, args...)...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("paxosctl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return out.String(), err
	}
	// merged runs paxosctl -w json trace args until check passes: a
	// node's learn and chosen notices may still be on their way when the
	// write is answered.
	merged := func(check func(m server.MergedTrace) error, args ...string) server.MergedTrace {
		t.Helper()
		var m server.MergedTrace
		eventually(t, 20*time.Second, func() error {
			out, err := run(append([]string{"-w", "json", "trace", "--api"}, args...)...)
			if err != nil {
				return err
			}
			m = server.MergedTrace{}
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				return fmt.Errorf("paxosctl -w json trace: %v: %.300s", err, out)
			}
			if err := check(m); err != nil {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
		return m
	}

	leaderName := c.Leader(10 * time.Second)
	leader := replog.ID(c.Node(leaderName).ID)
	m := merged(func(m server.MergedTrace) error {
		if m.Slot == nil || *m.Slot != last {
			return fmt.Errorf("the trace is of slot %v, want %d", m.Slot, last)
		}
		return checkRound(m, leader, "MsgAccept", "MsgAccepted", server.TraceChosen)
	}, strconv.FormatUint(last, 10))
	t.Logf("slot %d: %d events from %d nodes", last, len(m.Events), len(m.Nodes))
	text, err := run("trace", "--api", strconv.FormatUint(last, 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"slot " + strconv.FormatUint(last, 10), "◆ quorum", "★", "chosen [", "Accepted", leaderName, "acceptor3"} {
		if !strings.Contains(text, want) {
			t.Errorf("the diagram of slot %d has no %q:\n%s", last, want, text)
		}
	}

	// Kill the leader: the next one runs Phase 1. paxosctl shows the last
	// Phase 1, the highest ballot prepared: on a loaded machine two
	// followers may both campaign and the higher ballot lose (its prepares
	// reached too few acceptors in time). Then the new leader is asked to
	// campaign again (paxosctl leader --elect), so the last Phase 1 is
	// its, at most twice.
	c.Kill(leaderName)
	var newName string
	for attempt := 1; ; attempt++ {
		newName = c.Leader(20 * time.Second)
		newLeader := replog.ID(c.Node(newName).ID)
		if _, err := send(ctx, client, fmt.Sprintf("after-the-election-%d", attempt), ""); err != nil {
			t.Fatal(err)
		}
		m = merged(func(m server.MergedTrace) error {
			if m.Ballot.Proposer() != newLeader {
				return nil // a campaign that lost: see below
			}
			for _, n := range m.Nodes {
				if n.Name == leaderName && n.Error == "" {
					return fmt.Errorf("the killed leader %s answered", leaderName)
				}
			}
			return checkRound(m, newLeader, "MsgPrepare", "MsgPromise", server.TraceSend)
		}, "--election")
		if m.Ballot.Proposer() == newLeader {
			break
		}
		if attempt == 3 {
			t.Fatalf("the last election shown is of ballot %d, not one of the leader %s, %d times", m.Ballot, newName, attempt)
		}
		t.Logf("the last Phase 1 (ballot %d) is of a campaign that lost to %s; asking %s to campaign again", m.Ballot, newName, newName)
		if out, err := run("leader", "--elect", newName); err != nil {
			t.Logf("paxosctl leader --elect %s: %v %s", newName, err, out)
		}
	}
	t.Logf("election at ballot %d: %d events from %d nodes", m.Ballot, len(m.Events), len(m.Nodes))
	text, err = run("trace", "--api", "--election")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Prepare", "Promise", "◆ quorum", newName} {
		if !strings.Contains(text, want) {
			t.Errorf("the diagram of the election has no %q:\n%s", want, text)
		}
	}
}

// checkRound says what is out of order in the merged trace of one round
// led by leader: request is what the leader sends (accept, prepare), answer
// what the acceptors return (accepted, promise), and after is the kind of
// event that must follow the quorum at the leader (chosen, for a slot; a
// send, the first accept, for an election).
func checkRound(m server.MergedTrace, leader replog.ID, request, answer string, after server.TraceKind) error {
	if m.Quorum != 2 {
		return fmt.Errorf("quorum %d, want 2 of 3 acceptors", m.Quorum)
	}
	firstRequest := -1
	answered := map[replog.ID]bool{}
	quorum := -1
	// told is when a learner's chosen notice for the slot reached the
	// leader: a leader may learn its slot so, before its own quorum of
	// answers arrives (on a starved machine), and choose it then.
	told := -1
	for i, e := range m.Events {
		if e.Kind == server.TraceRecv && (e.Peer < 0 || e.Peer >= i) && e.Type == answer {
			return fmt.Errorf("event %d: a %s received before (or without) its send (%d)", i, e.Type, e.Peer)
		}
		if e.Kind == server.TraceRecv && e.Peer >= i {
			return fmt.Errorf("event %d: a %s received before its send (%d)", i, e.Type, e.Peer)
		}
		switch {
		case e.Node == leader && e.Kind == server.TraceSend && e.Type == request && firstRequest < 0:
			firstRequest = i
		case e.Kind == server.TraceSend && e.Type == answer && e.To == leader:
			// The acceptor received the request from the leader (the
			// first time: a repeated request may be answered from what is
			// durable already), then persisted, then answered.
			got, persisted := -1, -1
			for j := i - 1; j >= 0; j-- {
				p := m.Events[j]
				if p.Node != e.Node {
					continue
				}
				if p.Kind == server.TracePersistEnd && persisted < 0 {
					persisted = j
				}
				if p.Kind == server.TraceRecv && p.Type == request && p.From == leader {
					got = j
				}
			}
			if got < 0 || persisted < got {
				return fmt.Errorf("acceptor %d sent %s (event %d) without %s received (%d) then persisted (%d) before", e.Node, answer, i, request, got, persisted)
			}
		case e.Node == leader && e.Kind == server.TraceRecv && e.Type == answer:
			if firstRequest < 0 || i < firstRequest {
				return fmt.Errorf("the leader received %s (event %d) before it sent %s (%d)", answer, i, request, firstRequest)
			}
			answered[e.From] = true
			if e.Quorum {
				if quorum >= 0 {
					return fmt.Errorf("two quorums marked at the leader: events %d and %d", quorum, i)
				}
				if len(answered) != m.Quorum {
					return fmt.Errorf("the quorum is marked (event %d) at the %d-th distinct acceptor's %s, want the %d-th", i, len(answered), answer, m.Quorum)
				}
				quorum = i
			} else if quorum < 0 && len(answered) >= m.Quorum {
				return fmt.Errorf("event %d: %d acceptors answered %s and no quorum is marked", i, len(answered), answer)
			}
		case e.Node == leader && e.Kind == server.TraceRecv && e.Type == "MsgChosen" && after == server.TraceChosen && told < 0 && m.Slot != nil && e.Covers(*m.Slot):
			told = i
		case e.Node == leader && e.Kind == after && quorum < 0 && told < 0 && (after != server.TraceSend || e.Type == "MsgAccept"):
			return fmt.Errorf("event %d: the leader's %s %s comes before the quorum of %s", i, e.Kind, e.Type, answer)
		}
	}
	if firstRequest < 0 || quorum < 0 {
		return fmt.Errorf("no %s from the leader (%d) or no quorum of %s marked (%d)", request, firstRequest, answer, quorum)
	}
	from := quorum
	if told >= 0 {
		from = min(quorum, told)
	}
	for i := from + 1; i < len(m.Events); i++ {
		if e := m.Events[i]; e.Node == leader && e.Kind == after && (after != server.TraceSend || e.Type == "MsgAccept") {
			return nil
		}
	}
	return fmt.Errorf("no %s at the leader after the quorum (event %d) or a learner's notice (%d)", after, quorum, told)
}
