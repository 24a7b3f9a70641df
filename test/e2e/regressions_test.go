package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests in this file reproduced availability bugs the end-to-end tests
// found (see each test's doc); they are fixed, and the tests stay as
// regressions. They are skipped in -short.

func skipInShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("regression test; skipped in -short")
	}
}

// timed runs f and returns how long it took.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// TestE2EBugPausedLeaderBlocksClients: when the leader hangs (SIGSTOP: its
// sockets still accept connections), the other proposers elect a new leader
// within about a second, but a write (POST /send) or a linearizable read (GET
// /read?consistency=linearizable) that a client node sends then waits for
// the whole REQUEST_TIMEOUT and fails with 503, because the client node
// (clientRole.send), the learner (Server.readIndex) and a follower
// (proposerRole.forward) try the presumed leader first with the request's
// whole deadline, and never get to the new leader. Expected: both answer
// soon after the new leader is elected (here: within 3s, REQUEST_TIMEOUT
// being 5s).
func TestE2EBugPausedLeaderBlocksClients(t *testing.T) {
	skipInShort(t)
	c := NewCluster(t, Options{}) // production timing: TICK 50ms, REQUEST_TIMEOUT 5s
	for i, cl := range c.Role("client") {
		mustSend(t, cl, fmt.Sprintf("before-%d", i))
	}
	leader := c.Leader(10 * time.Second)
	st, err := proposerStatus(context.Background(), c.Node(leader))
	if err != nil {
		t.Fatal(err)
	}
	c.Pause(leader)
	defer c.Resume(leader)
	t.Logf("paused the leader %s at ballot %d", leader, st.ProposalNumber)

	const bound = 3 * time.Second
	var wg sync.WaitGroup
	wg.Go(func() {
		d, err := timed(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := send(ctx, c.Node("client1"), "during-pause", "bug-pause-write")
			return err
		})
		if err != nil || d > bound {
			t.Errorf("write through client1 with the leader paused: %v after %s (want an answer within %s)", err, d.Round(time.Millisecond), bound)
		}
	})
	wg.Go(func() {
		d, err := timed(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := read(ctx, c.Node("client2"), true)
			return err
		})
		if err != nil || d > bound {
			t.Errorf("linearizable read through client2 with the leader paused: %v after %s (want an answer within %s)", err, d.Round(time.Millisecond), bound)
		}
	})
	wg.Wait()
	// A running proposer leads now (Leader asks only those, so it is not
	// the paused one), at a ballot above the paused leader's.
	newLeader := c.Leader(bound)
	now, err := proposerStatus(context.Background(), c.Node(newLeader))
	if err != nil {
		t.Fatal(err)
	}
	if now.ProposalNumber <= st.ProposalNumber {
		t.Errorf("the new leader %s is at ballot %d, not above the paused leader's %d", newLeader, now.ProposalNumber, st.ProposalNumber)
	}
	t.Logf("the new leader is %s at ballot %d", newLeader, now.ProposalNumber)
}

// TestE2EBugPausedLearnerBlocksReads: GET /read on a client node "fails over
// between learners", but when the first learner hangs (SIGSTOP) the client
// node waits for it for the whole REQUEST_TIMEOUT and answers 503 "no learner
// answered" without asking the second, healthy learner
// (clientRole.handleRead uses the request's whole deadline for the first
// learner). Expected: an answer from learner2 within a few seconds.
func TestE2EBugPausedLearnerBlocksReads(t *testing.T) {
	skipInShort(t)
	c := NewCluster(t, Options{})
	mustSend(t, c.Node("client1"), "x")
	// An acknowledged write reaches a learner's durable log on its next
	// sync tick; the plain read below may serve a stale answer, so both
	// learners must hold x before learner1 is paused.
	for _, l := range c.Role("learner") {
		eventually(t, 10*time.Second, func() error {
			p, err := values(context.Background(), l)
			if err == nil && len(p.Values) != 1 {
				err = fmt.Errorf("%s holds %q, want [x]", l.Name, p.Values)
			}
			return err
		})
	}
	c.Pause("learner1")
	defer c.Resume("learner1")
	const bound = 3 * time.Second
	for _, lin := range []bool{false, true} {
		var p Page
		d, err := timed(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			p, err = read(ctx, c.Node("client2"), lin)
			return err
		})
		if err != nil || d > bound {
			t.Errorf("read (linearizable %v) with learner1 paused: %v after %s (want learner2's answer within %s)", lin, err, d.Round(time.Millisecond), bound)
		} else if len(p.Values) != 1 {
			t.Errorf("read (linearizable %v): %q, want [x]", lin, p.Values)
		}
	}
}

// TestE2EBugSigtermLeaderStallsWrites: a leader that gets SIGTERM should
// hand over quickly (SPEC §4), but every write in flight at it at that
// moment takes about 2.7s: paxosd leaves gossip (up to 500ms), stops its
// protocol loop, and then waits for http.Server.Shutdown, whose 2s timeout
// runs out because the /propose handlers still wait for results the stopped
// loop will never deliver; only when the process exits do the client nodes
// retry at the new leader. Expected: the writes in flight are failed at once
// (or handed over) and answered by the new leader as soon as it answers
// anything: none later than sigtermLag after the first write a new leader
// acknowledged (the stall made them about 2s later).
//
// The bound is on that difference, not on the time since the SIGTERM: how
// soon a new leader is elected depends on how starved the machine is (on
// two loaded cores the election alone took 2s, and a write in flight had
// been waiting for a second before the SIGTERM), while the stall is the
// same 2s whatever the load.
func TestE2EBugSigtermLeaderStallsWrites(t *testing.T) {
	skipInShort(t)
	c := NewCluster(t, Options{})
	leader := c.steadyLeader(10 * time.Second)
	leaderID := uint64(c.Node(leader).ID)
	ctx, stop := context.WithCancel(context.Background())
	var signalled atomic.Int64 // UnixNano of the SIGTERM
	var mu sync.Mutex
	var takeover time.Time // the first acknowledgement by another proposer
	type write struct {
		name           string
		sent, answered time.Time
	}
	var inflight []write
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				v := fmt.Sprintf("g%d-%d", g, i)
				sent := time.Now()
				rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := send(rctx, c.Role("client")[g%2], v, v)
				cancel()
				answered := time.Now()
				mu.Lock()
				if err == nil && res.ProposerID != leaderID && (takeover.IsZero() || answered.Before(takeover)) {
					takeover = answered
				}
				if sig := signalled.Load(); sig != 0 && sent.UnixNano() < sig && answered.UnixNano() > sig {
					inflight = append(inflight, write{v, sent, answered})
					if err != nil {
						t.Errorf("write %s in flight at the SIGTERM failed: %v", v, err)
					}
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // let the writers get going
	sig := time.Now()
	signalled.Store(sig.UnixNano())
	exit, _ := timed(func() error { c.Stop(leader); return nil })
	time.Sleep(3 * time.Second)
	stop()
	wg.Wait()
	if len(inflight) == 0 {
		t.Fatal("no write was in flight at the SIGTERM")
	}
	if takeover.IsZero() {
		t.Fatalf("no proposer but %s acknowledged a write in the 3s after its SIGTERM", leader)
	}
	last := inflight[0]
	for _, w := range inflight {
		if w.answered.After(last.answered) {
			last = w
		}
	}
	t.Logf("SIGTERM %s: it exited after %s; a new leader acknowledged a write %s after the SIGTERM; %d writes were in flight, the last answered %s after the SIGTERM (sent %s before it)",
		leader, exit.Round(time.Millisecond), takeover.Sub(sig).Round(time.Millisecond), len(inflight),
		last.answered.Sub(sig).Round(time.Millisecond), sig.Sub(last.sent).Round(time.Millisecond))
	const sigtermLag = time.Second
	if late := last.answered.Sub(takeover); late > sigtermLag {
		t.Errorf("write %s, in flight at the leader's SIGTERM, was answered %s after a new leader acknowledged a write (want within %s)",
			last.name, late.Round(time.Millisecond), sigtermLag)
	}
}
