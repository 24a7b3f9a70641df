package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var flagPagedBigValues = flag.Bool("big-values", false, "run TestE2EBigValues (also PAXOS_BIG_VALUES=1)")

// TestE2EBigValues is the paging check of issue 13 on real processes:
// 2,000 values of 64 KiB (128 MiB) are written; then one GET
// /get-values?limit=100000 on learner1 answers a page of at most 4 MiB of
// values (plus the one that reaches it) with next_from, and following
// next_from gives every value exactly once, intact. While it writes and
// while it reads, the learner's anonymous resident memory (RssAnon, sampled
// every 10ms) stays under 150 MiB. Its peak RSS (VmHWM) is reported, not
// asserted: it also counts the pages of the learner's bbolt file, which is
// mapped, that the reads touched (clean page cache the kernel reclaims
// under pressure, about the size of the log once every page was read). It
// reports the peaks of every role. Opt-in (-big-values or
// PAXOS_BIG_VALUES=1; make test runs it): about 30s alone.
func TestE2EBigValues(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test; skipped in -short")
	}
	if !*flagPagedBigValues && os.Getenv("PAXOS_BIG_VALUES") == "" {
		t.Skip("writes 128 MiB; run with -big-values or PAXOS_BIG_VALUES=1")
	}
	const (
		count       = 2000
		valueBytes  = 64 << 10
		pageBytes   = 4 << 20 // the learner's maxPageBytes
		maxRSSBytes = 150 << 20
	)
	value := func(i int) string {
		head := fmt.Sprintf("big-%06d-", i)
		return head + strings.Repeat(string(rune('a'+i%26)), valueBytes-len(head))
	}
	c := NewCluster(t, Options{})
	learner := c.Node("learner1")
	writesAnon := watchAnon(learner)
	start := time.Now()
	if acked := writeLoad(c, 8, value, count, nil)(); acked != count {
		t.Fatalf("%d of %d values acknowledged", acked, count)
	}
	st, err := proposerStatus(context.Background(), c.Node(c.Leader(20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() error {
		if got := chosenSlot(t, learner); got < st.ChosenSlot {
			return fmt.Errorf("%s at %d of %d", learner.Name, got, st.ChosenSlot)
		}
		return nil
	})
	t.Logf("%d values of %d KiB written and learned in %s", count, valueBytes>>10, time.Since(start).Round(time.Millisecond))
	writesPeak := writesAnon()
	t.Logf("%s: anonymous memory up to %.1f MiB during the writes", learner.Name, float64(writesPeak)/(1<<20))
	if writesPeak >= maxRSSBytes {
		t.Errorf("%s's anonymous memory peaked at %.1f MiB during the writes, want under %d MiB", learner.Name, float64(writesPeak)/(1<<20), maxRSSBytes>>20)
	}
	beforeGET := peakRSS(t, learner)
	peakAnon := watchAnon(learner)

	// One GET asking for everything gets a bounded page.
	url := learner.URL() + "/get-values?limit=100000"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	code, body, err := get(ctx, url)
	cancel()
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, code, err)
	}
	var first Page
	if err := json.Unmarshal(body, &first); err != nil {
		t.Fatal(err)
	}
	t.Logf("GET /get-values?limit=100000: %d values in %d bytes of JSON, next_from %d", first.ReturnedCount, len(body), first.NextFrom)
	if first.ReturnedCount == 0 || first.ReturnedCount*valueBytes > pageBytes+valueBytes || first.NextFrom == 0 || first.NextFrom > uint64(st.ChosenSlot) {
		t.Errorf("GET /get-values?limit=100000 answered %d values of %d bytes with next_from %d; want a page of at most %d bytes of values plus one, and next_from inside the log (chosen slot %d)",
			first.ReturnedCount, valueBytes, first.NextFrom, pageBytes, st.ChosenSlot)
	}

	// Following next_from gives every value once, intact.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
	log, pages, err := pagedValues(ctx, learner)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, count)
	for _, e := range log.Entries {
		var i int
		if _, err := fmt.Sscanf(e.Value, "big-%06d-", &i); err != nil || i < 0 || i >= count || e.Value != value(i) {
			t.Fatalf("slot %d holds %.20q... (%d bytes), not a value the test wrote", e.Slot, e.Value, len(e.Value))
		}
		seen[i]++
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("value %d is in the log %d times, want once", i, n)
		}
	}
	after, anon := peakRSS(t, learner), peakAnon()
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("following next_from: %d pages, %d values; %s peak RSS (VmHWM) %.1f MiB after the writes, %.1f MiB after the reads; peak anonymous memory during the reads %.1f MiB; now RssAnon %.1f + RssFile %.1f MiB",
		pages, len(log.Entries), learner.Name, mib(beforeGET), mib(after), mib(anon), mib(procStatus(t, learner, "RssAnon")), mib(procStatus(t, learner, "RssFile")))
	if anon >= maxRSSBytes {
		t.Errorf("%s's anonymous memory peaked at %.1f MiB during the reads, want under %d MiB", learner.Name, mib(anon), maxRSSBytes>>20)
	}
	for _, role := range []string{"proposer", "acceptor", "learner", "client"} {
		var peak int64
		for _, n := range c.Role(role) {
			peak = max(peak, peakRSS(t, n))
		}
		t.Logf("%s peak RSS (VmHWM): up to %.1f MiB", role, float64(peak)/(1<<20))
	}
}

// watchAnon samples the anonymous resident memory (RssAnon) of n's running
// process every 10ms until the returned function is called, which returns
// the peak seen.
func watchAnon(n *Node) (peak func() int64) {
	pid := n.running().cmd.Process.Pid
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		var max int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, ok := readProcStatus(pid, "RssAnon"); ok && v > max {
				max = v
			}
			select {
			case <-done:
				result <- max
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// peakRSS is the peak resident memory of n's running process (VmHWM of
// /proc/PID/status), in bytes.
func peakRSS(t *testing.T, n *Node) int64 { return procStatus(t, n, "VmHWM") }

// procStatus reads a field in kB of /proc/PID/status of n's running
// process (VmHWM, VmRSS, RssAnon, RssFile ...), in bytes.
func procStatus(t *testing.T, n *Node, field string) int64 {
	t.Helper()
	p := n.running()
	if p == nil {
		t.Fatalf("%s is not running", n.Name)
	}
	v, ok := readProcStatus(p.cmd.Process.Pid, field)
	if !ok {
		t.Fatalf("%s: no %s in /proc/%d/status", n.Name, field, p.cmd.Process.Pid)
	}
	return v
}

// readProcStatus reads a field in kB of /proc/pid/status, in bytes.
func readProcStatus(pid int, field string) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
