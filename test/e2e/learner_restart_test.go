package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var flagLearnerRestarts = flag.Bool("learner-restarts", false,
	"TestE2ELearnerRestartReads in the issue's form: a restart every 2s for 60s (also PAXOS_LEARNER_RESTARTS=1)")

// TestE2ELearnerRestartReads SIGKILLs and restarts learner1 again and again
// while clients write, and reads /get-values of both learners all along:
// no learner may ever show a reader less than it showed before (SPEC §9,
// monotonic reads): its chosen_slot and total_count never go down, and an
// entry it showed keeps its value. Before learners served only their
// durable log, a read could see chosen_slot 2204 and, after a restart,
// 2199 (issue 11, finding 8). By default 10 restarts, one a second; with
// -learner-restarts one every 2s for 60s.
func TestE2ELearnerRestartReads(t *testing.T) {
	skipInShort(t)
	restarts, every := 10, time.Second
	if *flagLearnerRestarts || os.Getenv("PAXOS_LEARNER_RESTARTS") == "1" {
		restarts, every = 30, 2*time.Second
	}
	c := NewCluster(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	var acked atomic.Int64
	for w := range 4 {
		client := c.Role("client")[w%2]
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
				if _, err := send(sctx, client, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("lr-%d-%d", w, i)); err == nil {
					acked.Add(1)
				}
				scancel()
			}
		})
	}

	// One reader per learner. Each read asks for the last few entries it
	// knows of, so that the entries near the end are checked too.
	type shown struct {
		reads, slot, count int64
		values             map[uint64]string
	}
	readers := map[string]*shown{}
	var mu sync.Mutex
	var violations []string
	for _, l := range c.Role("learner") {
		s := &shown{slot: -1, values: map[uint64]string{}}
		readers[l.Name] = s
		wg.Go(func() {
			for ctx.Err() == nil {
				from := max(s.slot-5, 0)
				rctx, rcancel := context.WithTimeout(ctx, time.Second)
				var p Page
				err := call(rctx, "GET", fmt.Sprintf("%s/get-values?from=%d&limit=10", l.URL(), from), nil, &p)
				rcancel()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // down, or starting
					continue
				}
				var bad []string
				if p.ChosenSlot < s.slot {
					bad = append(bad, fmt.Sprintf("chosen_slot %d after %d", p.ChosenSlot, s.slot))
				}
				if int64(p.TotalCount) < s.count {
					bad = append(bad, fmt.Sprintf("total_count %d after %d", p.TotalCount, s.count))
				}
				for _, e := range p.Entries {
					if v, ok := s.values[e.Slot]; ok && v != e.Value {
						bad = append(bad, fmt.Sprintf("slot %d holds %q after %q", e.Slot, e.Value, v))
					}
					s.values[e.Slot] = e.Value
				}
				s.reads++
				s.slot, s.count = max(s.slot, p.ChosenSlot), max(s.count, int64(p.TotalCount))
				if len(bad) > 0 {
					mu.Lock()
					violations = append(violations, fmt.Sprintf("%s read %d: %v", l.Name, s.reads, bad))
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	done := 0
	for done < restarts {
		time.Sleep(every)
		c.Kill("learner1")
		c.Start("learner1")
		done++
		mu.Lock()
		failed := len(violations) > 0
		mu.Unlock()
		if failed {
			break
		}
	}
	c.WaitHealthy(10*time.Second, "learner1")
	time.Sleep(every) // reads of the last run
	cancel()
	wg.Wait()

	for _, v := range violations[:min(len(violations), 10)] {
		t.Errorf("a learner showed less than before: %s", v)
	}
	if len(violations) > 10 {
		t.Errorf("... %d such reads in all", len(violations))
	}
	l1, l2 := readers["learner1"], readers["learner2"]
	t.Logf("%d restarts of learner1 (every %s), %d acknowledged writes; reads checked: learner1 %d (up to slot %d), learner2 %d (up to slot %d)",
		done, every, acked.Load(), l1.reads, l1.slot, l2.reads, l2.slot)
	if l1.reads == 0 || l1.slot < 0 {
		t.Errorf("no read of learner1 showed a log: the test checked nothing")
	}
}
