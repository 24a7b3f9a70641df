package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	flagBigValues = flag.Int("big-restart-values", 600,
		"values of 64 KiB TestE2EFullRestartBigValues writes before the full restart (issue 11 asks for 10000)")
	flagRestartLoop = flag.Int("restart-loop", 20,
		"SIGKILL-and-restart cycles of TestE2ELearnerRestartLoop (issue 11 asks for 200)")
)

// writeLoad sends values through the client nodes from workers goroutines
// until stop is closed, and counts the acknowledged ones.
func writeLoad(c *Cluster, workers int, value func(i int) string, limit int, stop <-chan struct{}) (wait func() int64) {
	var acked, next atomic.Int64
	var wg sync.WaitGroup
	clients := c.Role("client")
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if limit > 0 && i >= limit {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := send(ctx, clients[w%len(clients)], value(i), fmt.Sprintf("load-%d", i))
				cancel()
				if err == nil {
					acked.Add(1)
				} else if limit > 0 {
					// A write of the fixed set must land: retry it with its request ID.
					for try := 0; try < 20 && err != nil; try++ {
						time.Sleep(100 * time.Millisecond)
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err = send(ctx, clients[(w+try)%len(clients)], value(i), fmt.Sprintf("load-%d", i))
						cancel()
					}
					if err == nil {
						acked.Add(1)
					}
				}
			}
		}()
	}
	return func() int64 { wg.Wait(); return acked.Load() }
}

// TestE2EFullRestartBigValues is issue 11's first finding as a user meets
// it: many big values accepted, every node stopped, every node started.
// Before paged promises and the persisted acceptor commit point, a restarted
// proposer asked for every accepted entry in one promise, bigger than any
// frame a node takes, and no leader was ever elected again. It reports how
// long after the nodes were up the first write was acknowledged.
func TestE2EFullRestartBigValues(t *testing.T) {
	if testing.Short() {
		t.Skip("writes tens of MiB; not in -short")
	}
	c := NewCluster(t, Options{})
	big := strings.Repeat("x", 64<<10)
	n := *flagBigValues
	start := time.Now()
	acked := writeLoad(c, 8, func(i int) string { return fmt.Sprintf("%d-%s", i, big) }, n, nil)()
	t.Logf("%d values of 64 KiB written in %v (%d acknowledged)", n, time.Since(start).Round(time.Millisecond), acked)
	if acked != int64(n) {
		t.Fatalf("%d of %d writes acknowledged before the restart", acked, n)
	}

	// Every node stops; all but the learners start again. Without the
	// learners a restarted proposer cannot replay the log: its Phase 1
	// starts at slot 0 and only the acceptors can tell it what is chosen.
	all := names(c.Nodes)
	c.StopAll(all...)
	learners := names(c.Role("learner"))
	var others []string
	for _, name := range all {
		if !strings.HasPrefix(name, "learner") {
			others = append(others, name)
			c.Start(name)
		}
	}
	c.WaitHealthy(30*time.Second, others...)
	up := time.Now()
	leader := c.Leader(30 * time.Second)
	elected := time.Since(up)
	t.Logf("with the learners down, %s was elected %v after the nodes were up", leader, elected.Round(time.Millisecond))
	if elected > 5*time.Second {
		t.Errorf("electing a leader took %v; the goal is 5s", elected)
	}
	// The learners come back: the leader replays the log from them (it
	// answers a write with the slot of the request's first copy, so it must
	// know the log below), and a write is acknowledged.
	for _, name := range learners {
		c.Start(name)
	}
	c.WaitHealthy(30*time.Second, learners...)
	up = time.Now()
	var res SendResult
	eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		res, err = send(ctx, c.Role("client")[0], "after-full-restart", "after-full-restart")
		return err
	})
	took := time.Since(up)
	t.Logf("first write after the full restart acknowledged %v after every node was up (slot %d)", took.Round(time.Millisecond), res.Slot)
	if res.Slot < uint64(n) {
		t.Errorf("the write after the restart got slot %d, inside the %d slots written before", res.Slot, n)
	}
	if took > 5*time.Second {
		t.Errorf("the first write took %v after the nodes were up; the goal is 5s", took)
	}
	eventually(t, 60*time.Second, func() error {
		for _, l := range c.Role("learner") {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var p Page // only the tail: the whole log is hundreds of MiB
			err := call(ctx, http.MethodGet, fmt.Sprintf("%s/get-values?from=%d&limit=1", l.URL(), res.Slot), nil, &p)
			cancel()
			if err != nil {
				return err
			}
			if p.TotalCount != uint64(n)+1 || len(p.Entries) != 1 || p.Entries[0].Value != "after-full-restart" {
				return fmt.Errorf("%s: %d values, from slot %d: %+v; want the %d values and after-full-restart",
					l.Name, p.TotalCount, res.Slot, p.Entries, n)
			}
		}
		return nil
	})
}

// TestE2ELearnerRestartLoop SIGKILLs and restarts learner1 in a loop under
// load. After every restart, learner1's log must be a prefix of learner2's
// and learner2's of learner1's up to the shorter one (two learners never
// disagree), and once the load stops the two logs are identical.
func TestE2ELearnerRestartLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a learner in a loop; not in -short")
	}
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond})
	stop := make(chan struct{})
	wait := writeLoad(c, 4, func(i int) string { return fmt.Sprintf("v%d", i) }, 0, stop)
	cycles := *flagRestartLoop
	compared := 0
	for i := range cycles {
		time.Sleep(time.Duration(100+(i%5)*100) * time.Millisecond)
		c.Kill("learner1")
		c.Start("learner1")
		c.WaitHealthy(20*time.Second, "learner1")
		if err := sameLogs(c); err != nil {
			t.Fatalf("after restart %d: %v", i+1, err)
		}
		compared++
	}
	close(stop)
	acked := wait()
	eventually(t, 30*time.Second, func() error {
		a, b, err := twoLogs(c)
		if err != nil {
			return err
		}
		if len(a) != len(b) {
			return fmt.Errorf("learner1 has %d entries, learner2 %d", len(a), len(b))
		}
		return sameLogs(c)
	})
	t.Logf("%d restarts of learner1 under load, %d writes acknowledged, logs compared %d times: identical", cycles, acked, compared+1)
}

func twoLogs(c *Cluster) ([]Entry, []Entry, error) {
	var logs [2][]Entry
	for i, l := range c.Role("learner") {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := values(ctx, l) // the default limit (100,000) holds a short run's log
		cancel()
		if err != nil {
			return nil, nil, err
		}
		logs[i] = p.Entries
	}
	return logs[0], logs[1], nil
}

// sameLogs checks that the learners' logs agree on every slot both hold.
func sameLogs(c *Cluster) error {
	a, b, err := twoLogs(c)
	if err != nil {
		return err
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Errorf("the learners disagree at entry %d: %+v and %+v", i, a[i], b[i])
		}
	}
	return nil
}

var flagHog = flag.Duration("hog", 0,
	"run TestE2ELeaderSurvivesHog, loading the CPU and the disk this long (issue 11 asks for 60s)")

// TestE2ELeaderSurvivesHog loads the machine's CPU (8 busy loops) and disk
// (2 loops writing and fsyncing 1 MiB) while writes go on, and counts the
// times the highest ballot the proposers report changes: a starved machine
// must slow the cluster down, not depose its leader (issue 11, finding 5).
func TestE2ELeaderSurvivesHog(t *testing.T) {
	if testing.Short() || *flagHog <= 0 {
		// It starves every other test running beside it: a measurement
		// run on its own (go test ./test/e2e -run Hog -args -hog 60s).
		t.Skip("loads the whole machine; run with -hog DURATION")
	}
	c := NewCluster(t, Options{})
	leader := c.Leader(20 * time.Second)
	ballot := func() uint64 {
		var top uint64
		for _, p := range c.Role("proposer") {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := proposerStatus(ctx, p)
			cancel()
			if err == nil {
				top = max(top, st.ProposalNumber)
			}
		}
		return top
	}
	before := ballot()
	stop := make(chan struct{})
	var hogs sync.WaitGroup
	for range 8 {
		hogs.Add(1)
		go func() {
			defer hogs.Done()
			for x := 0; ; x++ {
				if x%1_000_000 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}()
	}
	for i := range 2 {
		hogs.Add(1)
		go func() {
			defer hogs.Done()
			f, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("hog-%d", i)))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			buf := make([]byte, 1<<20)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%64 == 0 {
					_, _ = f.Seek(0, 0)
				}
				_, _ = f.Write(buf)
				_ = f.Sync()
			}
		}()
	}
	wait := writeLoad(c, 4, func(i int) string { return fmt.Sprintf("hog-%d", i) }, 0, stop)
	changes, last := 0, before
	deadline := time.Now().Add(*flagHog)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		if b := ballot(); b != last && b != 0 {
			changes++
			t.Logf("the highest ballot went from %d to %d", last, b)
			last = b
		}
	}
	close(stop)
	hogs.Wait()
	acked := wait()
	now, err := c.leaderNow()
	t.Logf("under the hog for %v: %d writes acknowledged, %d ballot changes (leader %s before, %s after)", *flagHog, acked, changes, leader, now)
	if err != nil {
		t.Fatal(err)
	}
	if changes > 0 || now != leader {
		t.Errorf("%d elections under the hog (goal 0); leader %s, then %s", changes, leader, now)
	}
}
