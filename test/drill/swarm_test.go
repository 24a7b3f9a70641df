//go:build drill

package drill

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSwarmDrill is the workload half of make swarm-drill: the script
// (scripts/swarm-drill.sh) starts three Docker engines in network
// namespaces of their own, joins them into one swarm, deploys
// deploy/swarm/paxos-stack.yml (engine 3 holds proposer3 and acceptor3
// only) and runs this test in its hub namespace with
//
//	SWARM_DRILL_ADDRS  name=host:port of every node (the published ports)
//	SWARM_DRILL_CTL    the script, called as "ctl stop-task NAME",
//	                   "ctl kill-engine N" and "ctl start-engine N"
//
// Under the drills' workload it (a) docker-stops acceptor1's container
// (Swarm starts a new one on the same engine with the same volume) and
// (b) makes proposer3 the leader and kills engine 3 whole, keeps it dead under traffic, and starts it
// again: acceptor3 must vote again and the history must check
// (linearizable, no acknowledged write lost). It prints the availability
// gap when the engine dies. Then (c) engine 3 dies again and comes back
// with acceptor3's volume emptied: the lost disk of SPEC §9 on Swarm.
func TestSwarmDrill(t *testing.T) {
	addrs, ctl := os.Getenv("SWARM_DRILL_ADDRS"), os.Getenv("SWARM_DRILL_CTL")
	if addrs == "" || ctl == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SWARM_DRILL_ADDRS and SWARM_DRILL_CTL are not set: run make swarm-drill")
		}
		t.Skip("run by make swarm-drill (scripts/swarm-drill.sh sets up the engines)")
	}
	nodeAddrs = map[string]string{}
	for _, kv := range strings.Split(addrs, ",") {
		name, addr, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("SWARM_DRILL_ADDRS: %q is not name=host:port", kv)
		}
		nodeAddrs[name] = addr
	}
	for _, n := range allNodes {
		if nodeAddrs[n.Name] == "" {
			t.Fatalf("SWARM_DRILL_ADDRS has no address for %s", n.Name)
		}
	}
	t.Cleanup(func() { nodeAddrs = nil })

	c := &cluster{t: t, scheme: "http", logf: t.Logf,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32}}}
	logf := func(format string, args ...any) {
		t.Logf("%s %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ctl, append([]string{"ctl"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s ctl %s: %v\n%s", ctl, strings.Join(args, " "), err, out)
		}
		logf("%s", strings.TrimSpace(string(out)))
	}
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		logf("FAIL: %s", problems[len(problems)-1])
	}
	waitUp := func(timeout time.Duration, nodes ...node) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			var down []string
			for _, n := range nodes {
				if !c.healthy(n) {
					down = append(down, n.Name)
				}
			}
			if len(down) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not healthy after %v: %s", timeout, strings.Join(down, ", "))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// votes waits until the acceptor accepts new values: its accepted
	// count grows under the traffic.
	votes := func(n node, timeout time.Duration) (time.Duration, bool) {
		start := time.Now()
		first, err := c.acceptorView(n)
		for time.Since(start) < timeout {
			time.Sleep(250 * time.Millisecond)
			v, err2 := c.acceptorView(n)
			switch {
			case err != nil:
				first, err = v, err2
			case err2 == nil && v.AcceptedCount > first.AcceptedCount:
				return time.Since(start), true
			}
		}
		return time.Since(start), false
	}

	began := time.Now()
	waitUp(3*time.Minute, allNodes...)
	if _, _, _, ok := c.waitLeader(60 * time.Second); !ok {
		t.Fatalf("no leader within 60s: %s", c.proposerSummary())
	}
	logf("all 10 nodes healthy on the 3 engines; %s", c.proposerSummary())

	id := make([]byte, 3)
	_, _ = rand.Read(id)
	w := newWorkload(c, hex.EncodeToString(id))
	from := time.Now()
	w.start()
	defer w.finish()
	time.Sleep(3 * time.Second)

	// (a) docker stop a task's container: Swarm starts a new one on the
	// same engine with the same volume; the acceptor remembers its promise.
	a1 := nodeNamed("acceptor1")
	before, err := c.acceptorView(a1)
	if err != nil {
		t.Fatal(err)
	}
	stopAt := time.Now()
	run("stop-task", a1.Name)
	waitUp(2*time.Minute, a1)
	after, err := c.acceptorView(a1)
	switch {
	case err != nil:
		fail("acceptor1 after its restart: %v", err)
	case after.Promised < before.Promised:
		fail("acceptor1 forgot its promise: %d before the stop, %d after", before.Promised, after.Promised)
	case after.AcceptedCount < before.AcceptedCount:
		fail("acceptor1 forgot accepted values: %d before, %d after", before.AcceptedCount, after.AcceptedCount)
	}
	if took, ok := votes(a1, 60*time.Second); !ok {
		fail("acceptor1 does not accept new values 60s after its restart")
	} else {
		logf("acceptor1 back %.1fs after docker stop, promised %d (was %d), votes again after %.1fs",
			time.Since(stopAt).Seconds(), after.Promised, before.Promised, took.Seconds())
	}
	stopStats := statsOf(w.ops(), stopAt, time.Now())
	time.Sleep(3 * time.Second)

	// (b) engine 3 (proposer3, acceptor3) dies whole; two acceptors remain.
	// proposer3 leads first: the engine takes the leader with it.
	a3, p3 := nodeNamed("acceptor3"), nodeNamed("proposer3")
	run("elect", p3.Name)
	if n, _, ok := c.waitSingleLeader(20 * time.Second); !ok || n.Name != p3.Name {
		t.Fatalf("proposer3 does not lead after paxosctl leader --elect proposer3: %s", c.proposerSummary())
	}
	leaderAt, _, _ := c.leader()
	killAt := time.Now()
	run("kill-engine", "3")
	deadline := time.Now().Add(60 * time.Second)
	var firstAck time.Time
	for firstAck.IsZero() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		firstAck = firstAckAfter(w.ops(), killAt)
	}
	if firstAck.IsZero() {
		fail("no write acknowledged within 60s after engine 3 died")
	}
	for _, n := range []node{a3, p3} {
		if c.healthy(n) {
			fail("%s still answers after engine 3 was killed", n.Name)
		}
	}
	logf("after the kill: %s", c.proposerSummary())
	time.Sleep(10 * time.Second)
	restartAt := time.Now()
	downStats := statsOf(w.ops(), killAt.Add(-time.Second), restartAt)
	gap := firstAck.Sub(killAt)
	logf("engine 3 dead for %.1fs (leader before: %s): first write acknowledged %.2fs after the kill, %d acknowledged while it was down, longest gap between acknowledgements %.2fs",
		restartAt.Sub(killAt).Seconds(), leaderAt.Name, gap.Seconds(), downStats.Acked, downStats.Unavailable.Seconds())
	run("start-engine", "3")
	waitUp(3*time.Minute, a3, p3)
	backAt := time.Now()
	if took, ok := votes(a3, 60*time.Second); !ok {
		fail("acceptor3 does not accept new values 60s after engine 3 came back")
	} else {
		logf("engine 3 back: acceptor3 and proposer3 healthy %.1fs after the engine started, acceptor3 votes again after %.1fs more",
			backAt.Sub(restartAt).Seconds(), took.Seconds())
	}
	time.Sleep(3 * time.Second)

	// (c) engine 3 dies again and comes back with acceptor3's volume empty
	// (a lost disk): acceptor3 must not vote until the rejoin rule of SPEC
	// §9 lets it, and the checks must find nothing lost.
	run("kill-engine", "3")
	run("wipe-volume", a3.Name)
	run("start-engine", "3")
	wipedAt := time.Now()
	waitUp(3*time.Minute, a3, p3)
	deadline = time.Now().Add(60 * time.Second)
	for {
		out, _ := exec.Command(ctl, "ctl", "logs", a3.Name).CombinedOutput()
		notVoting := strings.Contains(string(out), "not voting yet: rejoin rule")
		voting := strings.Contains(string(out), "voting again: the rejoin rule is satisfied")
		if notVoting && voting {
			logf("acceptor3 on an empty volume: started without voting, votes again %.1fs after engine 3 started (rejoin rule)", time.Since(wipedAt).Seconds())
			break
		}
		if time.Now().After(deadline) {
			fail("acceptor3 60s after a start on an empty volume: logged not-voting=%v, voting-again=%v", notVoting, voting)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, ok := votes(a3, 60*time.Second); !ok {
		fail("acceptor3 does not accept new values after its lost disk")
	}
	time.Sleep(3 * time.Second)

	w.finish()
	to := time.Now()
	if err := c.settle(settleTimeout); err != nil {
		fail("%v", err)
	}
	var logs [2][]entry
	for i, l := range learners {
		es, _, err := c.learnerLog(l)
		if err != nil {
			fail("reading %s's log: %v", l.Name, err)
		}
		logs[i] = es
	}
	v := check(w.ops(), logs, os.TempDir())
	st := statsOf(w.ops(), from, to)
	result := "PASS"
	if !v.ok() || len(problems) > 0 {
		result = "FAIL"
	}
	fmt.Printf("DRILL %-24s acked=%-5d failed=%-3d (failed attempts %-3d) unavailable=%5.2fs  log=%-5d linearizable=%-7s %5.1fs  %s\n",
		"swarm-3-engines", st.Acked, st.Failed, st.FailedAttempts, st.Unavailable.Seconds(), v.LogLen, v.Linearizable,
		time.Since(began).Seconds(), result)
	fmt.Printf("    docker stop acceptor1: longest gap between acknowledgements %.2fs\n", stopStats.Unavailable.Seconds())
	fmt.Printf("    engine 3 killed (proposer3, acceptor3; the leader was %s): availability gap %.2fs (the longest between acknowledgements from 1s before the kill to the restart), first acknowledgement %.2fs after the kill\n",
		leaderAt.Name, downStats.Unavailable.Seconds(), gap.Seconds())
	if len(problems) > 0 {
		t.Errorf("swarm drill:\n  %s", strings.Join(problems, "\n  "))
	}
	if !v.ok() {
		msg := v.summary()
		if v.Visual != "" {
			msg += "\n  porcupine visualization: " + v.Visual
		}
		t.Errorf("swarm drill: checks failed:\n  %s", msg)
	}
}
