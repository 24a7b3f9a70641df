package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/paxos-go/paxos/internal/logmodel"
)

// lzRequestTimeout is REQUEST_TIMEOUT of the linearizability test's nodes: a
// write or read that cannot finish answers within it.
const lzRequestTimeout = 3 * time.Second

// TestE2ELinearizableUnderKills runs four clients that write unique values
// and read the log (linearizable reads) through both client nodes while the
// test SIGKILLs an acceptor and then the leader, and restarts both. Then:
//
//   - both learners hold the same log;
//   - every acknowledged write is in it exactly once, at the slot it was
//     acknowledged with, and nothing else is (each value once, under its own
//     request ID);
//   - porcupine finds the history linearizable against an append-only log
//     (see model_test.go for how writes of unknown outcome are modelled).
func TestE2ELinearizableUnderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test; skipped in -short")
	}
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond, RequestTimeout: lzRequestTimeout})
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	victim := c.Role("acceptor")[rng.IntN(3)].Name
	t.Logf("seed %d: the acceptor to kill is %s", seed, victim)

	h := newHistory()
	stopClients := startLogClients(c, h, 4, seed, lzRequestTimeout+2*time.Second)
	defer stopClients()

	// The faults. The times only shape the run; no check depends on them.
	phase := func(d time.Duration, what string) {
		time.Sleep(d)
		t.Logf("%6.2fs %s", time.Since(h.start).Seconds(), what)
	}
	phase(1500*time.Millisecond, "SIGKILL "+victim)
	c.Kill(victim)
	phase(2500*time.Millisecond, "looking for the leader")
	leader := c.Leader(10 * time.Second)
	t.Logf("%6.2fs SIGKILL %s (the leader)", time.Since(h.start).Seconds(), leader)
	c.Kill(leader)
	phase(2*time.Second, "restart "+victim)
	c.Start(victim)
	c.WaitHealthy(15*time.Second, victim)
	phase(2*time.Second, "restart "+leader)
	c.Start(leader)
	c.WaitHealthy(15*time.Second, leader)
	healed := h.now()
	phase(3*time.Second, "stopping the clients")
	stopClients()

	checkRun(t, c, h, healed)
}

// startLogClients starts n clients of the linearizability tests (see
// runLogClient) recording into h, each request bounded by timeout; the
// returned function stops them and waits.
func startLogClients(c *Cluster, h *history, n int, seed uint64, timeout time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for id := range n {
		r := rand.New(rand.NewPCG(seed, uint64(id)+1))
		wg.Go(func() { runLogClient(ctx, c, h, id, r, timeout) })
	}
	return func() { cancel(); wg.Wait() }
}

// startRun starts four log clients on c with a random seed (logged), each
// request bounded like TestE2ELinearizableUnderKills', and returns their
// history and the function that stops them.
func startRun(t *testing.T, c *Cluster) (*history, func()) {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	h := newHistory()
	return h, startLogClients(c, h, 4, seed, lzRequestTimeout+2*time.Second)
}

// checkRun settles the cluster after a run of log clients and checks it:
// some write was acknowledged after healed (ns on h's clock, when every node
// was back); both learners hold the same log; the log agrees with every
// acknowledged write (checkFinalLog); porcupine finds the history
// linearizable.
func checkRun(t *testing.T, c *Cluster, h *history, healed int64) {
	t.Helper()
	ops := h.all()
	var writes, acked, reads, readsOK, ackedAfterHeal int
	for _, o := range ops {
		switch {
		case o.write:
			writes++
			if o.acked {
				acked++
				if o.call > healed {
					ackedAfterHeal++
				}
			}
		default:
			reads++
			if o.acked {
				readsOK++
			}
		}
	}
	t.Logf("history: %d writes (%d acknowledged, %d open-ended), %d reads (%d answered); slowest acknowledged write %s; longest time without an acknowledged write %s",
		writes, acked, writes-acked, reads, readsOK, slowestWrite(ops), longestGap(ops, 0, h.now()))
	if ackedAfterHeal == 0 {
		t.Errorf("no write was acknowledged after every node was back (%d writes in all)", writes)
	}

	// Settle: a barrier write through the cluster, then both learners have
	// every slot up to it. Nothing proposed before the barrier can be chosen
	// after it: the leader that chose the barrier finished every earlier slot.
	c.WaitHealthy(15 * time.Second)
	var barrier SendResult
	eventually(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), lzRequestTimeout+2*time.Second)
		defer cancel()
		var err error
		barrier, err = send(ctx, c.Node("client1"), "barrier", "e2e-barrier")
		return err
	})
	var logs [2]Page
	eventually(t, 15*time.Second, func() error {
		for i, l := range c.Role("learner") {
			p, err := valuesByPage(l, 5*time.Second)
			if err != nil {
				return err
			}
			if p.ChosenSlot < int64(barrier.Slot) {
				return fmt.Errorf("%s: chosen_slot %d, the barrier is at %d", l.Name, p.ChosenSlot, barrier.Slot)
			}
			logs[i] = p
		}
		if !reflect.DeepEqual(logs[0].Entries, logs[1].Entries) {
			return fmt.Errorf("the learners' logs differ: %s", diffEntries(logs[0].Entries, logs[1].Entries))
		}
		return nil
	})
	final := checkFinalLog(t, ops, logs[0].Entries, barrier)

	// Linearizability.
	history, dropped := h.operations(final)
	t.Logf("porcupine: %d operations (%d open-ended writes never took effect and are left out)", len(history), dropped)
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(logmodel.Model, history, 2*time.Minute)
	t.Logf("porcupine: %s in %s", res, time.Since(start).Round(time.Millisecond))
	if res != porcupine.Ok {
		path := filepath.Join(c.Dir, "linearizability.html")
		if err := porcupine.VisualizePath(logmodel.Model, info, path); err != nil {
			t.Errorf("writing the visualization: %v", err)
		}
		t.Errorf("porcupine: the history is %s, not linearizable; visualization: %s", res, path)
	}
}

// runLogClient is one client of the linearizability test: until ctx ends it
// writes unique values (70%) and reads the log with consistency=linearizable
// (30%), through its client node. A write that fails is retried with the
// same request ID, through the other client node too, three attempts in all;
// then it stays open-ended. A read that fails is not retried. Each request
// gives up after timeout.
func runLogClient(ctx context.Context, c *Cluster, h *history, id int, rng *rand.Rand, timeout time.Duration) {
	nodes := c.Role("client")
	for n := 0; ctx.Err() == nil; n++ {
		home := nodes[(id+n)%len(nodes)]
		if rng.IntN(10) < 3 {
			o := &op{client: id, call: h.now()}
			rctx, cancel := context.WithTimeout(context.Background(), timeout)
			p, err := read(rctx, home, true)
			cancel()
			o.attempts = 1
			if err == nil {
				o.ret, o.acked, o.entries = h.now(), true, p.Entries
			} else {
				o.errs = append(o.errs, err.Error())
			}
			h.add(o)
		} else {
			o := &op{client: id, write: true, value: fmt.Sprintf("c%d-%d", id, n),
				requestID: fmt.Sprintf("e2e-c%d-%d", id, n), call: h.now()}
			for attempt := range 3 {
				node := nodes[(id+n+attempt)%len(nodes)]
				wctx, cancel := context.WithTimeout(context.Background(), timeout)
				res, err := send(wctx, node, o.value, o.requestID)
				cancel()
				o.attempts++
				if err == nil {
					o.ret, o.acked, o.slot = h.now(), true, res.Slot
					break
				}
				o.errs = append(o.errs, fmt.Sprintf("%s: %v", node.Name, err))
				time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
			}
			h.add(o)
		}
		time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
	}
}

// checkFinalLog checks the settled log against the history: every value in
// it was written by the test (under its own request ID) and appears once;
// every acknowledged write is in it at its acknowledged slot. It returns the
// log as value → slot.
func checkFinalLog(t *testing.T, ops []*op, log []Entry, barrier SendResult) map[string]uint64 {
	t.Helper()
	writes := map[string]*op{}
	for _, o := range ops {
		if o.write {
			writes[o.value] = o
		}
	}
	final := map[string]uint64{}
	for _, e := range log {
		if prev, dup := final[e.Value]; dup {
			t.Errorf("value %q (request %s) is in the log twice: slots %d and %d", e.Value, e.RequestID, prev, e.Slot)
			continue
		}
		final[e.Value] = e.Slot
		if e.Value == "barrier" {
			if e.Slot != barrier.Slot || e.RequestID != "e2e-barrier" {
				t.Errorf("barrier: acknowledged at slot %d, in the log %+v", barrier.Slot, e)
			}
			continue
		}
		o, ok := writes[e.Value]
		switch {
		case !ok:
			t.Errorf("slot %d holds %q (request %s), which no client wrote", e.Slot, e.Value, e.RequestID)
		case e.RequestID != o.requestID:
			t.Errorf("slot %d holds %q under request %s; it was written as %s", e.Slot, e.Value, e.RequestID, o.requestID)
		}
	}
	var lost, moved, applied, open int
	for _, o := range ops {
		if !o.write {
			continue
		}
		slot, in := final[o.value]
		switch {
		case !o.acked:
			open++
			if in {
				applied++
			}
		case !in:
			lost++
			t.Errorf("write %q (request %s) was acknowledged at slot %d but is not in the log", o.value, o.requestID, o.slot)
		case slot != o.slot:
			moved++
			t.Errorf("write %q (request %s) was acknowledged at slot %d but is at slot %d in the log", o.value, o.requestID, o.slot, slot)
		}
	}
	t.Logf("final log: %d values up to slot %d; %d of %d open-ended writes took effect; %d acknowledged writes lost, %d at another slot",
		len(log), barrier.Slot, applied, open, lost, moved)
	return final
}

// diffEntries describes the first difference between two logs.
func diffEntries(a, b []Entry) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("entry %d: %+v and %+v", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("%d and %d entries", len(a), len(b))
}

// slowestWrite is the longest time an acknowledged write took.
func slowestWrite(ops []*op) time.Duration {
	var worst int64
	for _, o := range ops {
		if o.write && o.acked {
			worst = max(worst, o.ret-o.call)
		}
	}
	return time.Duration(worst).Round(time.Millisecond)
}

// longestGap is the longest time between from and to (ns on the history's
// clock) in which no write was acknowledged.
func longestGap(ops []*op, from, to int64) time.Duration {
	var rets []int64
	for _, o := range ops {
		if o.write && o.acked && o.ret > from && o.ret < to {
			rets = append(rets, o.ret)
		}
	}
	slices.Sort(rets)
	gap, prev := int64(0), from
	for _, r := range append(rets, to) {
		gap = max(gap, r-prev)
		prev = r
	}
	return time.Duration(gap).Round(time.Millisecond)
}
