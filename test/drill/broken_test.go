//go:build drill

package drill

import (
	"testing"
	"time"
)

// TestDrillBrokenAcceptor is a drill broken on purpose: it shows that the
// checks of the drills catch an acceptor that forgets its state on restart.
// It is not run by "make drill" or CI; run it with "make drill-broken".
//
// The test PASSES when the checks report a violation (acknowledged writes
// lost, a history porcupine finds not linearizable) and FAILS when they find
// nothing wrong: then the checks would miss a real loss.
//
// The sequence makes the loss certain. Paxos keeps a chosen value because
// every quorum intersects the quorum that accepted it; wiping two of three
// acceptors breaks exactly that:
//
//  1. learner1, learner2 and acceptor3 stop: values are now chosen by
//     acceptor1 and acceptor2 alone and acknowledged to the client, but no
//     learner records them.
//  2. acceptor1 and acceptor2 stop and their data folders are wiped (no
//     test-only flag in paxosd: the deployment does the forgetting), and
//     the proposers restart, so nobody remembers those values.
//  3. Everything starts again: the new leader's Phase 1 finds the slots
//     empty and gives them to new commands.
//
// The checks must then say that acknowledged writes are missing from the
// learners' logs and that porcupine finds the history not linearizable.
func TestDrillBrokenAcceptor(t *testing.T) {
	r := newRun(t)
	r.drill("broken-forgetful-acceptors", true, func(d *drillCtx) {
		d.sleep(2 * time.Second)
		cut := time.Now() // the learners stop learning as soon as they get SIGTERM
		d.c.stop("learner1", "learner2", "acceptor3")
		d.log("stopped learner1, learner2, acceptor3: acceptor1+acceptor2 are the only quorum")
		d.sleep(4 * time.Second)
		d.w.pause()
		lost := acksIn(d.w.ops(), cut, time.Now())
		d.note("%d writes acknowledged after the learners and acceptor3 were told to stop, then acceptor1+acceptor2 wiped", lost)
		if lost == 0 {
			d.t.Fatalf("broken drill: no write was acknowledged while only acceptor1 and acceptor2 ran; the scenario needs some")
		}
		d.c.stop("acceptor1", "acceptor2")
		d.c.wipe("acceptor1")
		d.c.wipe("acceptor2")
		d.log("wiped acceptor1 and acceptor2")
		d.c.stop("proposer1", "proposer2", "proposer3")
		d.c.start("acceptor1", "acceptor2", "acceptor3", "learner1", "learner2", "proposer1", "proposer2", "proposer3")
		d.c.waitHealthy(60*time.Second, allNodes...)
		d.w.resume()
		d.sleep(5 * time.Second)
	})
}
