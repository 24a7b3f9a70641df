package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

var flagChaos = flag.Duration("chaos", 0, "run TestE2EChaos for this long (also PAXOS_CHAOS=DURATION)")

// TestE2EChaos is the linearizability test with random faults for a longer
// time: every round SIGKILLs, SIGTERMs or SIGSTOPs one or two random nodes
// (the leader more often than the others), holds the faults for a random
// time, and heals them. The clients give up on a request after 1s, so the
// writes that stall (two acceptors down, a paused leader) become open-ended
// and exercise that part of the model. The checks are those of
// TestE2ELinearizableUnderKills. It runs only with -chaos DURATION or
// PAXOS_CHAOS=DURATION, never in -short; PAXOS_CHAOS_SEED replays the fault
// schedule (the timing of the processes does not replay).
func TestE2EChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run; skipped in -short")
	}
	d := *flagChaos
	if s := os.Getenv("PAXOS_CHAOS"); d == 0 && s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("PAXOS_CHAOS=%q: %v", s, err)
		}
	}
	if d <= 0 {
		t.Skip("chaos run; run with -chaos DURATION or PAXOS_CHAOS=DURATION")
	}
	seed := rand.Uint64()
	if s := os.Getenv("PAXOS_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("PAXOS_CHAOS_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond, RequestTimeout: lzRequestTimeout})
	h := newHistory()
	// Clients give up on a request after 1s, before the nodes do (3s): their
	// writes that stall become open-ended, and may still take effect.
	stopClients := startLogClients(c, h, 4, seed, time.Second)
	defer stopClients()

	type fault struct{ node, kind string }
	for end := time.Now().Add(d); time.Now().Before(end); {
		var faults []fault
		for range 1 + rng.IntN(2) {
			var node string
			if rng.IntN(3) == 0 {
				if l, err := c.leaderNow(); err == nil {
					node = l
				}
			}
			if node == "" {
				node = c.Nodes[rng.IntN(len(c.Nodes))].Name
			}
			if len(faults) == 1 && faults[0].node == node {
				continue
			}
			kind := []string{"kill", "stop", "pause"}[rng.IntN(3)]
			faults = append(faults, fault{node, kind})
		}
		var what []string
		for _, f := range faults {
			switch f.kind {
			case "kill":
				c.Kill(f.node)
			case "stop":
				c.Stop(f.node)
			case "pause":
				c.Pause(f.node)
			}
			what = append(what, f.kind+" "+f.node)
		}
		hold := time.Duration(300+rng.IntN(2200)) * time.Millisecond
		t.Logf("%6.2fs %s for %s", time.Since(h.start).Seconds(), strings.Join(what, ", "), hold)
		time.Sleep(hold)
		for _, f := range faults {
			if f.kind == "pause" {
				c.Resume(f.node)
			} else {
				c.Start(f.node)
			}
		}
		for _, f := range faults {
			c.WaitHealthy(20*time.Second, f.node)
		}
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	}
	healed := h.now()
	time.Sleep(2 * time.Second) // let the clients write on a healed cluster
	stopClients()
	checkRun(t, c, h, healed)
}
