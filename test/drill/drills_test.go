//go:build drill

package drill

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Targets of the drills. SPEC §4: a follower campaigns 10-20 ticks (0.5-1 s
// at the default 50 ms tick) after the leader's heartbeats stop; gossip may
// notice sooner. The targets leave room for a loaded CI machine.
const (
	failoverTarget = 10 * time.Second // a new leader after the old one is gone
	resumeTarget   = 15 * time.Second // writes acknowledged again after a fault ends
	requestTimeout = 5 * time.Second  // REQUEST_TIMEOUT of the nodes (default)
	settleTimeout  = 45 * time.Second // learners converge after the traffic stops
)

// run is one cluster, one workload, one history, checked after every drill.
type run struct {
	t     *testing.T
	c     *cluster
	w     *workload
	lines []string
	mu    sync.Mutex
}

// drillCtx is what a drill function gets: the cluster, the workload, and
// places to record what it saw.
type drillCtx struct {
	*run
	t        *testing.T
	problems []string
	notes    []string
	// finished runs after the traffic stopped and every write in flight
	// ended: checks on the attempts of the whole drill.
	finished []func()
}

// afterTraffic runs f once the drill's writes are all recorded.
func (d *drillCtx) afterTraffic(f func()) { d.finished = append(d.finished, f) }

// fail records a failed expectation; the drill goes on (so that it undoes
// its fault) and fails at the end with every problem listed.
func (d *drillCtx) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.problems = append(d.problems, msg)
	d.t.Logf("%s FAIL: %s", time.Now().Format("15:04:05.000"), msg)
}

// note adds a measurement to the drill's line.
func (d *drillCtx) note(format string, args ...any) {
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

// log prints a timestamped step (the timeline of a failure report).
func (d *drillCtx) log(format string, args ...any) {
	d.t.Logf("%s %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (d *drillCtx) sleep(dur time.Duration) { time.Sleep(dur) }

func newRun(t *testing.T) *run {
	c := newCluster(t)
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	r := &run{t: t, c: c}
	r.w = newWorkload(c, hex.EncodeToString(id))
	t.Cleanup(func() {
		r.w.finish()
		c.down(t.Failed())
		if len(r.lines) > 0 {
			fmt.Printf("\n=== drill summary (%s)\n%s\n", c.composeWhich(), strings.Join(r.lines, "\n"))
		}
	})
	start := time.Now()
	c.up()
	fmt.Printf("drill: cluster up (project %s, data %s) in %.1fs\n", project, c.volumes, time.Since(start).Seconds())
	return r
}

// drill runs one drill under traffic, then stops the traffic, lets the
// learners settle and checks the whole history. It prints one line:
// name, acknowledged and failed writes of the drill, the longest gap
// between acknowledgements, and the result. wantViolation inverts the
// result: the drill passes only when the checks find a problem.
func (r *run) drill(name string, wantViolation bool, fn func(d *drillCtx)) bool {
	return r.t.Run(name, func(t *testing.T) {
		r.c.t = t
		defer func() { r.c.t = r.t }()
		d := &drillCtx{run: r, t: t}
		began := time.Now()
		r.c.restore()
		r.c.waitHealthy(30*time.Second, allNodes...)
		from := time.Now()
		r.w.start()
		fn(d)
		r.w.finish()
		to := time.Now()
		for _, f := range d.finished {
			f()
		}

		if err := r.c.settle(settleTimeout); err != nil {
			d.fail("%v", err)
		}
		var logs [2][]entry
		for i, l := range learners {
			es, _, err := r.c.learnerLog(l)
			if err != nil {
				d.fail("reading %s's log: %v", l.Name, err)
			}
			logs[i] = es
		}
		checkStart := time.Now()
		v := check(r.w.ops(), logs, os.TempDir())
		checkTook := time.Since(checkStart)
		st := statsOf(r.w.ops(), from, to)

		result := "PASS"
		violations := !v.ok()
		switch {
		case wantViolation && violations && len(d.problems) == 0:
			result = "PASS (violation detected, as expected)"
		case wantViolation:
			result = "FAIL (no violation detected)"
		case violations || len(d.problems) > 0:
			result = "FAIL"
		}
		line := fmt.Sprintf("%-24s acked=%-5d failed=%-3d (failed attempts %-3d) unavailable=%5.2fs  log=%-5d linearizable=%-7s %5.1fs  %s",
			name, st.Acked, st.Failed, st.FailedAttempts, st.Unavailable.Seconds(), v.LogLen, v.Linearizable,
			time.Since(began).Seconds(), result)
		if len(d.notes) > 0 {
			line += "\n    " + strings.Join(d.notes, "; ")
		}
		r.lines = append(r.lines, line)
		fmt.Printf("DRILL %s\n", line)
		t.Logf("checks took %v (%d operations, %d failed writes resolved from the log)", checkTook.Round(time.Millisecond), len(r.w.ops()), v.Resolved)

		if len(d.problems) > 0 {
			t.Errorf("drill %s:\n  %s", name, summarize(d.problems))
		}
		switch {
		case wantViolation && violations:
			msg := v.summary()
			if v.Visual != "" {
				msg += "\n  porcupine visualization: " + v.Visual
			}
			t.Logf("the checks found what the broken drill did (expected):\n  %s", msg)
		case wantViolation:
			t.Errorf("drill %s: the checks found nothing wrong, but acknowledged writes were lost on purpose", name)
		case violations:
			msg := v.summary()
			if v.Visual != "" {
				msg += "\n  porcupine visualization: " + v.Visual
			}
			t.Errorf("drill %s: checks failed:\n  %s", name, msg)
		}
		if t.Failed() && !wantViolation {
			for _, n := range allNodes {
				t.Logf("--- docker logs %s (last 30 lines) ---\n%s", n.Name, dockerLogs(n.Name, 30))
			}
		}
	})
}

// TestDrills runs the eight drills of issue 5 and the lost disk of issue 18
// (SPEC §9) in order on one cluster.
func TestDrills(t *testing.T) {
	r := newRun(t)
	for _, dr := range drills {
		r.drill(dr.name, false, dr.fn)
	}
}

var drills = []struct {
	name string
	fn   func(d *drillCtx)
}{
	{"1-stop-acceptor", drillStopAcceptor},
	{"2-two-acceptors-down", drillTwoAcceptorsDown},
	{"3-kill-leader", drillKillLeader},
	{"4-pause-leader", drillPauseLeader},
	{"5-partition", drillPartition},
	{"6-restart-learner", drillRestartLearner},
	{"7-stop-start-all", drillStopStartAll},
	{"8-rolling-restart", drillRollingRestart},
	{"9-lost-disk", drillLostDisk},
}

// 9. An acceptor loses its disk under load: docker stop acceptor2, its data
// folder wiped, docker start. It must not vote as if it remembered (the
// rejoin rule of SPEC §9: it logs that it does not vote, then that it votes
// again once the rule is satisfied), and the checks find nothing lost.
func drillLostDisk(d *drillCtx) {
	a2 := nodeNamed("acceptor2")
	d.sleep(2 * time.Second)
	d.c.stop(a2.Name)
	d.c.wipe(a2.Name)
	d.log("stopped acceptor2 and wiped its data")
	d.c.start(a2.Name)
	started := time.Now()
	d.c.waitHealthy(30*time.Second, a2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs := dockerLogs(a2.Name, 200)
		notVoting := strings.Contains(logs, "not voting yet: rejoin rule")
		voting := strings.Contains(logs, "voting again: the rejoin rule is satisfied")
		if notVoting && voting {
			d.note("acceptor2 started without voting and votes again after %.1fs (rejoin rule)", time.Since(started).Seconds())
			break
		}
		if time.Now().After(deadline) {
			d.fail("acceptor2 30s after a start on an empty disk: logged not-voting=%v, voting-again=%v", notVoting, voting)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.sleep(3 * time.Second)
}

// 1. docker stop acceptor1 → writes keep being acknowledged; docker start
// acceptor1 → its promised/accepted state is what it was and it catches up.
func drillStopAcceptor(d *drillCtx) {
	a1 := nodeNamed("acceptor1")
	d.sleep(2 * time.Second)
	d.w.pause()
	// The last accepts of the writes just acknowledged may still be on
	// their way to acceptor1: wait until its state stops changing.
	before, err := d.c.quietAcceptor(a1, 10*time.Second)
	if err != nil {
		d.fail("acceptor1 /view-logs before the stop: %v", err)
	}
	d.log("acceptor1 before stop: %v", before)
	d.c.stop(a1.Name)
	stopped := time.Now()
	d.w.resume()
	d.sleep(4 * time.Second)
	d.w.pause()
	if n := acksIn(d.w.ops(), stopped, time.Now()); n == 0 {
		d.fail("no write acknowledged in the 4 s acceptor1 was stopped")
	} else {
		d.note("%d acks while acceptor1 was down", n)
	}
	d.c.start(a1.Name)
	d.c.waitHealthy(30*time.Second, a1)
	after, err := d.c.acceptorView(a1)
	if err != nil {
		d.fail("acceptor1 /view-logs after the start: %v", err)
	}
	d.log("acceptor1 after start: %v", after)
	d.w.resume()
	bp, ap := before.proposal(), after.proposal()
	switch {
	case before.String() == after.String():
		d.note("view-logs after restart identical to before the stop (%v)", after)
	case after.Promised < before.Promised || after.AcceptedCount < before.AcceptedCount ||
		(before.LastAcceptedSlot != nil && (after.LastAcceptedSlot == nil || *after.LastAcceptedSlot < *before.LastAcceptedSlot)) ||
		(before.LastAcceptedSlot != nil && *after.LastAcceptedSlot == *before.LastAcceptedSlot && ap.Value != bp.Value):
		d.fail("acceptor1 lost state across stop/start:\n    before %v\n    after  %v", before, after)
	default:
		// Messages for it may arrive between its start and the snapshot.
		d.note("view-logs after restart kept everything from before the stop and grew (before %v; after %v)", before, after)
	}
	// Catch-up: it takes part in new slots again.
	deadline := time.Now().Add(resumeTarget)
	for {
		v, err := d.c.acceptorView(a1)
		if err == nil && v.LastAcceptedSlot != nil && (after.LastAcceptedSlot == nil || *v.LastAcceptedSlot > *after.LastAcceptedSlot) {
			d.note("acceptor1 accepting again (last accepted slot %d)", *v.LastAcceptedSlot)
			break
		}
		if time.Now().After(deadline) {
			d.fail("acceptor1 accepted nothing new within %v of its restart: %v", resumeTarget, v)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.sleep(time.Second)
}

// 2. Stop two acceptors → writes fail with 503/504 within the timeout,
// never a false 200; start one → writes resume.
func drillTwoAcceptorsDown(d *drillCtx) {
	d.sleep(2 * time.Second)
	d.c.stop("acceptor2", "acceptor3")
	stopped := time.Now()
	d.log("acceptor2 and acceptor3 stopped")
	// Long enough for every writer to start and finish at least one attempt
	// (each fails after the 5 s request timeout) within the outage.
	d.sleep(2*requestTimeout + 2*time.Second)
	// The outage ends when "docker start" begins: acceptor2 may serve
	// (and values be chosen) before the command returns.
	restarted := time.Now()
	d.c.start("acceptor2")
	d.log("acceptor2 started")

	// Attempts that began and ended while only acceptor1 ran cannot have
	// been chosen: each must be a 503 or 504, within the timeout.
	d.afterTraffic(func() {
		for _, a := range attemptsIn(d.w.ops(), stopped.Add(-requestTimeout-5*time.Second), restarted.Add(time.Second)) {
			if a.Status != 200 {
				d.log("attempt via %s %s → %s: %d %s", a.Node, a.Start.Format("15:04:05.000"), a.End.Format("15:04:05.000"), a.Status, a.Err)
			}
		}
		var n, maxDur = 0, time.Duration(0)
		statuses := map[int]int{}
		for _, a := range attemptsIn(d.w.ops(), stopped, restarted) {
			if a.End.After(restarted) {
				continue
			}
			n++
			statuses[a.Status]++
			dur := a.End.Sub(a.Start)
			maxDur = max(maxDur, dur)
			switch {
			case a.Status == 200:
				d.fail("false success: %s answered 200 at %s with only one acceptor up", a.Node, a.End.Format("15:04:05.000"))
			case a.Status != 503 && a.Status != 504:
				d.fail("%s answered %d (%s) at %s; want 503 or 504", a.Node, a.Status, a.Err, a.End.Format("15:04:05.000"))
			}
			if dur > requestTimeout+2*time.Second {
				d.fail("%s took %v to fail (request timeout %v)", a.Node, dur.Round(time.Millisecond), requestTimeout)
			}
		}
		if n == 0 {
			d.fail("no write attempt completed during the outage")
		}
		d.note("outage: %d attempts, statuses %v, slowest %.1fs", n, statuses, maxDur.Seconds())
	})

	first := waitAck(d, restarted, resumeTarget)
	if first.IsZero() {
		d.fail("no write acknowledged within %v of starting acceptor2", resumeTarget)
	} else {
		d.note("writes resumed %.1fs after acceptor2 started", first.Sub(restarted).Seconds())
	}
	d.c.start("acceptor3")
	d.c.waitHealthy(30*time.Second, nodeNamed("acceptor2"), nodeNamed("acceptor3"))
	d.sleep(2 * time.Second)
}

// waitAck waits up to timeout for a write acknowledged after t.
func waitAck(d *drillCtx, t time.Time, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for {
		if first := firstAckAfter(d.w.ops(), t); !first.IsZero() {
			return first
		}
		if time.Now().After(deadline) {
			return time.Time{}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// currentLeader waits for the leader, failing the drill when there is none.
func currentLeader(d *drillCtx) (node, bool) {
	l, st, _, ok := d.c.waitLeader(failoverTarget)
	if !ok {
		d.fail("no proposer says it leads")
		return node{}, false
	}
	d.log("leader is %s (ballot %d)", l.Name, st.ProposalNumber)
	return l, true
}

// 3. docker kill the leader → a new leader within the failover target;
// writes resume; restart the old one → it rejoins as a follower.
func drillKillLeader(d *drillCtx) {
	d.sleep(2 * time.Second)
	old, ok := currentLeader(d)
	if !ok {
		return
	}
	d.c.kill(old.Name)
	killed := time.Now()
	d.log("killed %s", old.Name)
	nl, st, took, ok := d.c.waitLeader(failoverTarget, old.Name)
	if !ok {
		d.fail("no new leader within %v of killing %s", failoverTarget, old.Name)
	} else {
		d.note("killed %s; %s leads (ballot %d) after %.1fs", old.Name, nl.Name, st.ProposalNumber, took.Seconds())
	}
	if first := waitAck(d, killed.Add(100*time.Millisecond), resumeTarget); first.IsZero() {
		d.fail("no write acknowledged within %v of the kill", resumeTarget)
	} else {
		d.note("first ack %.1fs after the kill", first.Sub(killed).Seconds())
	}
	d.sleep(2 * time.Second)
	d.c.start(old.Name)
	d.c.waitHealthy(30*time.Second, old)
	if st, ok := d.c.waitFollower(old, resumeTarget); !ok {
		d.fail("%s did not rejoin as a follower: %s", old.Name, d.c.proposerSummary())
	} else {
		d.note("%s rejoined as follower of proposer%d", old.Name, *st.CurrentLeader)
	}
	d.sleep(2 * time.Second)
}

// 4. docker pause the leader for 5 s, then unpause → a new leader took
// over; the old one cannot get a value chosen (the history checks) and
// steps down.
func drillPauseLeader(d *drillCtx) {
	d.sleep(2 * time.Second)
	old, ok := currentLeader(d)
	if !ok {
		return
	}
	d.c.pause(old.Name)
	paused := time.Now()
	d.log("paused %s", old.Name)
	nl, st, took, ok := d.c.waitLeader(5*time.Second, old.Name)
	if !ok {
		d.fail("no new leader while %s was paused for 5 s", old.Name)
	} else {
		d.note("paused %s; %s leads (ballot %d) after %.1fs", old.Name, nl.Name, st.ProposalNumber, took.Seconds())
	}
	if rest := 5*time.Second - time.Since(paused); rest > 0 {
		d.sleep(rest)
	}
	d.c.unpause(old.Name)
	unpaused := time.Now()
	d.log("unpaused %s", old.Name)
	if st, ok := d.c.waitFollower(old, resumeTarget); !ok {
		d.fail("%s did not step down after the unpause: %+v", old.Name, st)
	} else {
		d.note("%s stepped down %.1fs after unpause", old.Name, time.Since(unpaused).Seconds())
	}
	if first := waitAck(d, unpaused, resumeTarget); first.IsZero() {
		d.fail("no write acknowledged within %v of the unpause", resumeTarget)
	}
	d.sleep(2 * time.Second)
}

// 5. docker network disconnect acceptor3 and the leader, then reconnect
// → the majority side keeps going; no divergence after the heal.
func drillPartition(d *drillCtx) {
	d.sleep(2 * time.Second)
	old, ok := currentLeader(d)
	if !ok {
		return
	}
	d.c.disconnect("acceptor3")
	d.c.disconnect(old.Name)
	cut := time.Now()
	d.log("disconnected acceptor3 and %s from %s", old.Name, network)
	nl, st, took, ok := d.c.waitLeader(failoverTarget, old.Name)
	if !ok {
		d.fail("the majority side elected no leader within %v", failoverTarget)
	} else {
		d.note("cut acceptor3+%s; %s leads (ballot %d) after %.1fs", old.Name, nl.Name, st.ProposalNumber, took.Seconds())
	}
	if first := waitAck(d, cut.Add(100*time.Millisecond), resumeTarget); first.IsZero() {
		d.fail("the majority side acknowledged no write within %v", resumeTarget)
	}
	d.sleep(3 * time.Second)
	d.note("%d acks during the partition", acksIn(d.w.ops(), cut, time.Now()))
	d.c.connect("acceptor3")
	d.c.connect(old.Name)
	healed := time.Now()
	d.log("reconnected acceptor3 and %s", old.Name)
	d.c.waitHealthy(30*time.Second, nodeNamed("acceptor3"), old)
	// After the heal one proposer leads and the others follow it. The old
	// leader either steps down, or wins a new election with a higher ballot
	// (it may have campaigned while cut off): both are correct; two leaders
	// are not, and the history checks show that nothing diverged.
	l, lst, ok := d.c.waitSingleLeader(resumeTarget)
	switch {
	case !ok:
		d.fail("no single leader %v after the heal: %s", resumeTarget, d.c.proposerSummary())
	case l.Name == old.Name:
		d.note("after the heal %s leads again with ballot %d (> %d of the partition's leader: it campaigned while cut off), %.1fs after the heal",
			old.Name, lst.ProposalNumber, st.ProposalNumber, time.Since(healed).Seconds())
	default:
		d.note("after the heal %s follows %s (ballot %d), %.1fs after the heal", old.Name, l.Name, lst.ProposalNumber, time.Since(healed).Seconds())
	}
	d.sleep(2 * time.Second)
}

// 6. Stop a learner during writes, start it → it catches up to an
// identical log (the checks compare both learners' logs).
func drillRestartLearner(d *drillCtx) {
	l2 := nodeNamed("learner2")
	d.sleep(2 * time.Second)
	d.c.stop(l2.Name)
	d.log("stopped learner2")
	d.sleep(4 * time.Second)
	d.c.start(l2.Name)
	started := time.Now()
	d.c.waitHealthy(30*time.Second, l2)
	target, err := d.c.chosenSlot(nodeNamed("learner1"))
	if err != nil {
		d.fail("learner1: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := d.c.chosenSlot(l2)
		if err == nil && s >= target {
			d.note("learner2 caught up to slot %d %.1fs after its start", target, time.Since(started).Seconds())
			break
		}
		if time.Now().After(deadline) {
			d.fail("learner2 at slot %d, not %d, 20 s after its start (%v)", s, target, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.sleep(2 * time.Second)
}

// snapshot is the durable state of the cluster: both learners' logs and
// every acceptor's /view-logs.
type snapshot struct {
	logs      [2][]entry
	acceptors []acceptorView
}

func takeSnapshot(d *drillCtx) snapshot {
	var s snapshot
	for i, l := range learners {
		es, _, err := d.c.learnerLog(l)
		if err != nil {
			d.fail("%s: %v", l.Name, err)
		}
		s.logs[i] = es
	}
	for _, a := range acceptors {
		v, err := d.c.acceptorView(a)
		if err != nil {
			d.fail("%s: %v", a.Name, err)
		}
		s.acceptors = append(s.acceptors, v)
	}
	return s
}

// 7. Compose stop everything, compose start → the log and all acceptor
// state are intact.
func drillStopStartAll(d *drillCtx) {
	d.sleep(3 * time.Second)
	d.w.pause()
	if err := d.c.settle(settleTimeout); err != nil {
		d.fail("before the stop: %v", err)
	}
	before := takeSnapshot(d)
	t0 := time.Now()
	d.c.compose("stop")
	d.log("compose stop took %.1fs", time.Since(t0).Seconds())
	t1 := time.Now()
	d.c.compose("start")
	d.c.waitHealthy(60*time.Second, allNodes...)
	d.log("compose start + healthy took %.1fs", time.Since(t1).Seconds())
	if err := d.c.settle(settleTimeout); err != nil {
		d.fail("after the start: %v", err)
	}
	after := takeSnapshot(d)
	for i, l := range learners {
		if !sameEntries(before.logs[i], after.logs[i]) {
			d.fail("%s's log changed across stop/start: %d values before, %d after", l.Name, len(before.logs[i]), len(after.logs[i]))
		}
	}
	for i, a := range acceptors {
		b, x := before.acceptors[i], after.acceptors[i]
		// A new leader's Phase 1 raises promises and re-accepts the values
		// it finds with its own ballot (and acceptors may compact entries
		// every learner has): the promise may only grow, the last accepted
		// slot may not go back, and the value there may not change.
		bp, xp := b.proposal(), x.proposal()
		switch {
		case x.Promised < b.Promised:
			d.fail("%s's promise went back across stop/start: before %v, after %v", a.Name, b, x)
		case b.LastAcceptedSlot != nil && (x.LastAcceptedSlot == nil || *x.LastAcceptedSlot < *b.LastAcceptedSlot):
			d.fail("%s forgot accepted slots across stop/start: before %v, after %v", a.Name, b, x)
		case b.LastAcceptedSlot != nil && *x.LastAcceptedSlot == *b.LastAcceptedSlot && xp.Value != bp.Value:
			d.fail("%s's accepted value at slot %d changed across stop/start: before %v, after %v", a.Name, *b.LastAcceptedSlot, b, x)
		}
		d.log("%s before %v / after %v", a.Name, b, x)
	}
	d.note("writes paused around the stop/start; %d values intact in both learners; acceptors' promises and last accepted values kept (stop %.1fs, start+healthy %.1fs)",
		len(after.logs[0]), t1.Sub(t0).Seconds(), time.Since(t1).Seconds())
	restarted := time.Now()
	d.w.resume()
	if first := waitAck(d, restarted, resumeTarget); first.IsZero() {
		d.fail("no write acknowledged within %v of the restart", resumeTarget)
	}
	d.sleep(2 * time.Second)
}

// 8. Rolling restart of all 10 containers under load → zero acknowledged
// writes lost (the checks).
func drillRollingRestart(d *drillCtx) {
	d.sleep(2 * time.Second)
	order := []string{"learner1", "learner2", "client1", "client2", "acceptor1", "acceptor2", "acceptor3"}
	// Proposers last, the leader after the followers.
	l, _, ok := d.c.leader()
	for _, p := range proposers {
		if !ok || p.Name != l.Name {
			order = append(order, p.Name)
		}
	}
	if ok {
		order = append(order, l.Name)
	}
	t0 := time.Now()
	for _, name := range order {
		d.c.docker("restart", "-t", "10", name)
		d.c.waitHealthy(30*time.Second, nodeNamed(name))
		d.log("restarted %s", name)
		// Let it take part again before the next one goes.
		d.sleep(1500 * time.Millisecond)
	}
	d.note("restarted all 10 one by one in %.1fs", time.Since(t0).Seconds())
	d.sleep(2 * time.Second)
}
