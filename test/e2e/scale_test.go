package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var flagScale = flag.Int("scale", 0, "run TestE2EScale with a log of this many slots (also PAXOS_SCALE=SLOTS)")

// TestE2EScale measures the scale targets of the performance issue on real
// processes: write throughput with an empty log and again with the log at
// -scale slots (default 1,000,000 when PAXOS_SCALE=1), how fast a learner
// that missed the last 10% of those slots catches up, the acceptors'
// resident memory at that size, and how long a SIGKILLed acceptor takes to
// restart and answer. The log is filled through POST /propose-batch at the
// leader. It is a measurement, not an assertion: it logs the figures and
// writes them as JSON to $PAXOS_SCALE_OUT when set. Never in -short.
func TestE2EScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale measurement; skipped in -short")
	}
	slots := *flagScale
	if v := os.Getenv("PAXOS_SCALE"); slots == 0 && v != "" {
		if slots, _ = strconv.Atoi(v); slots <= 1 {
			slots = 1_000_000
		}
	}
	if slots == 0 {
		t.Skip("scale measurement; run with -scale SLOTS or PAXOS_SCALE=SLOTS")
	}
	c := NewCluster(t, Options{Env: []string{"GOMAXPROCS=1"}})
	leader := c.Node(c.Leader(20 * time.Second))
	type result struct {
		Slots              int     `json:"slots"`
		EmptyWritesPerS    float64 `json:"empty_log_writes_per_s"`
		FullWritesPerS     float64 `json:"full_log_writes_per_s"`
		FullOverEmpty      float64 `json:"full_over_empty"`
		LoadSlotsPerS      float64 `json:"load_slots_per_s"`
		LearnerStartMS     float64 `json:"learner_start_ms"`
		CatchupSlots       int     `json:"catchup_slots"`
		CatchupSlotsPerS   float64 `json:"catchup_slots_per_s"`
		AcceptorRSSMiB     float64 `json:"acceptor_rss_mib_max"`
		AcceptorRestartMS  float64 `json:"acceptor_restart_ms"`
		AcceptorDBBytesMax int64   `json:"acceptor_files_bytes_max"`
		AcceptorKeptMax    int64   `json:"acceptor_entries_kept_max"`
	}
	var r result
	r.Slots = slots
	r.EmptyWritesPerS = closedLoop(t, leader, 64, 5*time.Second)
	t.Logf("empty log: %.0f writes/s (64 clients, /propose at the leader)", r.EmptyWritesPerS)

	missed := slots / 10
	start := time.Now()
	fill(t, c, slots-missed)
	c.Stop("learner2")
	fill(t, c, missed)
	r.LoadSlotsPerS = float64(slots) / time.Since(start).Seconds()
	t.Logf("filled %d slots in %s (%.0f slots/s through /propose-batch)", slots, time.Since(start).Round(time.Second), r.LoadSlotsPerS)

	// Let learner1 finish the burst first, so learner2's catch-up is
	// measured alone.
	st, err := proposerStatus(context.Background(), leader)
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := func(names ...string) {
		eventually(t, 10*time.Minute, func() error {
			for _, name := range names {
				if got := chosenSlot(t, c.Node(name)); got < st.ChosenSlot {
					return fmt.Errorf("%s at %d of %d", name, got, st.ChosenSlot)
				}
			}
			return nil
		})
	}
	caughtUp("learner1")
	start = time.Now()
	c.Start("learner2")
	c.WaitHealthy(time.Minute, "learner2")
	r.LearnerStartMS = ms(time.Since(start))
	from := chosenSlot(t, c.Node("learner2"))
	start = time.Now()
	caughtUp("learner2")
	r.CatchupSlots = int(st.ChosenSlot - from)
	r.CatchupSlotsPerS = float64(r.CatchupSlots) / time.Since(start).Seconds()
	t.Logf("learner2 answered /health %.0f ms after its start, then caught up %d slots in %s: %.0f slots/s", r.LearnerStartMS,
		r.CatchupSlots, time.Since(start).Round(time.Millisecond), r.CatchupSlotsPerS)

	for _, a := range c.Role("acceptor") {
		r.AcceptorRSSMiB = max(r.AcceptorRSSMiB, metric(t, a, "process_resident_memory_bytes")/(1<<20))
		r.AcceptorDBBytesMax = max(r.AcceptorDBBytesMax, int64(metric(t, a, "paxos_db_size_bytes")))
		r.AcceptorKeptMax = max(r.AcceptorKeptMax, int64(metric(t, a, "paxos_accepted_slots")))
	}
	t.Logf("acceptors at %d slots: resident memory up to %.1f MiB, files up to %d bytes, up to %d accepted entries kept",
		slots, r.AcceptorRSSMiB, r.AcceptorDBBytesMax, r.AcceptorKeptMax)

	r.FullWritesPerS = closedLoop(t, leader, 64, 5*time.Second)
	r.FullOverEmpty = r.FullWritesPerS / r.EmptyWritesPerS
	t.Logf("log at %d slots: %.0f writes/s (%.0f%% of the empty log's)", slots, r.FullWritesPerS, 100*r.FullOverEmpty)

	c.Kill("acceptor1")
	start = time.Now()
	c.Start("acceptor1")
	eventually(t, 30*time.Second, func() error {
		_, err := acceptorState(context.Background(), c.Node("acceptor1"))
		return err
	})
	r.AcceptorRestartMS = ms(time.Since(start))
	t.Logf("acceptor1 SIGKILLed and started again: answers /view-logs after %.0f ms", r.AcceptorRestartMS)

	if out := os.Getenv("PAXOS_SCALE_OUT"); out != "" {
		b, _ := json.MarshalIndent(r, "", " ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// closedLoop runs workers that each POST /propose to n, one write after the
// other, for d, and returns the acknowledged writes per second.
func closedLoop(t *testing.T, n *Node, workers int, d time.Duration) float64 {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	var acked atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	value := strings.Repeat("s", 64)
	run := time.Now().UnixNano()
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"value":%q,"request_id":"scale-%d-%d-%d"}`, value, run, w, i)
				resp, err := hc.Post(n.URL()+"/propose", "application/json", strings.NewReader(body))
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && ctx.Err() == nil {
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(acked.Load()) / d.Seconds()
}

// fill appends count slots through POST /propose-batch at c's leader, from
// four posters of 1,000 commands each. A 409 (the leader changed: a
// follower's campaign won) sends the batch again, same request IDs, to the
// new leader, as a client would.
func fill(t *testing.T, c *Cluster, count int) {
	t.Helper()
	var leader atomic.Pointer[Node]
	leader.Store(c.Node(c.Leader(20 * time.Second)))
	const batch = 1000
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	value := strings.Repeat("f", 64)
	run := time.Now().UnixNano()
	hc := &http.Client{Timeout: 30 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				first := next.Add(batch) - batch
				if first >= int64(count) {
					return
				}
				var b bytes.Buffer
				b.WriteString(`{"commands":[`)
				for i := first; i < min(first+batch, int64(count)); i++ {
					if i > first {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"value":%q,"request_id":"fill-%d-%d"}`, value, run, i)
				}
				b.WriteString(`]}`)
				for attempt := 0; ; attempt++ {
					resp, err := hc.Post(leader.Load().URL()+"/propose-batch", "application/json", bytes.NewReader(b.Bytes()))
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
						err = fmt.Errorf("status %s", resp.Status)
						if resp.StatusCode == http.StatusConflict {
							if name, lerr := c.leaderNow(); lerr == nil {
								leader.Store(c.byName[name])
							}
						}
					}
					if attempt == 20 {
						failed.Store(err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("filling the log: %v", err)
	}
}

// chosenSlot is a learner's chosen_slot.
func chosenSlot(t *testing.T, n *Node) int64 {
	t.Helper()
	var st struct {
		ChosenSlot int64 `json:"chosen_slot"`
	}
	if err := call(context.Background(), http.MethodGet, n.URL()+"/view-logs", nil, &st); err != nil {
		return -1
	}
	return st.ChosenSlot
}

// metric reads one sample of name from n's /metrics: the first whose name
// is name, or, when name holds the first of its labels without the closing
// brace (paxos_alarm{alarm="NOSPACE"), the first with those labels.
func metric(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(n.Monitor) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok && rest != "" && strings.ContainsRune(" {,}", rune(rest[0])) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	t.Fatalf("%s: no metric %s", n.Name, name)
	return 0
}
