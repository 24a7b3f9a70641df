package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestE2ECompactionPastDeadLearner (issue 13): with learner2 SIGKILLed, the
// acceptors compact past the slots it holds once it has been silent for
// LEARNER_SILENCE_TICKS, instead of keeping every entry until it returns.
// Restarted, learner2 finds the slots it missed gone from the acceptors and
// copies them from learner1; then the two logs are identical.
func TestE2ECompactionPastDeadLearner(t *testing.T) {
	skipInShort(t)
	const silenceTicks, compactEvery = 50, 100 // 1 s at a 20 ms tick
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond,
		Env: []string{fmt.Sprintf("LEARNER_SILENCE_TICKS=%d", silenceTicks), fmt.Sprintf("COMPACT_EVERY=%d", compactEvery)}})
	fill(t, c, 2000)
	var held int64
	eventually(t, 30*time.Second, func() error {
		l1, l2 := chosenSlot(t, c.Node("learner1")), chosenSlot(t, c.Node("learner2"))
		if l1 < 1999 || l2 != l1 {
			return fmt.Errorf("learner1 at %d, learner2 at %d; want both at slot 1999 or beyond", l1, l2)
		}
		held = l2
		return nil
	})
	c.Kill("learner2")
	t.Logf("SIGKILL learner2, which served slots up to %d", held)

	fill(t, c, 5000)
	eventually(t, 60*time.Second, func() error {
		for _, a := range c.Role("acceptor") {
			if got := int64(metric(t, a, "paxos_compacted_slot")); got <= held+1 {
				return fmt.Errorf("%s compacted below slot %d; want past learner2's %d slots", a.Name, got, held+1)
			}
		}
		return nil
	})
	for _, a := range c.Role("acceptor") {
		t.Logf("%s compacted below slot %d, keeps %.0f accepted entries", a.Name,
			int64(metric(t, a, "paxos_compacted_slot")), metric(t, a, "paxos_accepted_slots"))
	}

	start := time.Now()
	c.Start("learner2")
	want := chosenSlot(t, c.Node("learner1"))
	eventually(t, 60*time.Second, func() error {
		if got := chosenSlot(t, c.Node("learner2")); got < want {
			return fmt.Errorf("learner2 at slot %d, learner1 at %d", got, want)
		}
		return nil
	})
	t.Logf("learner2 caught up %d slots in %s", want-held, time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs [2]Page
	for i, name := range []string{"learner1", "learner2"} {
		p, _, err := pagedValues(ctx, c.Node(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		logs[i] = p
	}
	if len(logs[0].Entries) < 7000 {
		t.Fatalf("learner1 serves %d values, want the 7,000 written", len(logs[0].Entries))
	}
	if logs[0].ChosenSlot != logs[1].ChosenSlot || !slices.Equal(logs[0].Entries, logs[1].Entries) {
		t.Fatalf("the logs differ: learner1 %d values up to slot %d, learner2 %d up to %d; first difference: %s",
			len(logs[0].Entries), logs[0].ChosenSlot, len(logs[1].Entries), logs[1].ChosenSlot, diffEntries(logs[0].Entries, logs[1].Entries))
	}
}

// TestE2EDedupWindow (issue 13): with DEDUP_WINDOW=8 on every node, a retry
// of a request_id within 8 slots of its first copy is answered with that
// slot and adds nothing to the log; one further on is a new value, which
// both learners serve twice (README, Guarantees: retries).
func TestE2EDedupWindow(t *testing.T) {
	skipInShort(t)
	const window = 8
	c := NewCluster(t, Options{Env: []string{fmt.Sprintf("DEDUP_WINDOW=%d", window)}})
	client := c.Node("client1")
	write := func(value, requestID string) uint64 {
		t.Helper()
		return mustSendID(t, client, value, requestID).Slot
	}
	first := write("a", "dedup-a")
	for i := range window / 2 {
		write(fmt.Sprint("x", i), fmt.Sprint("dedup-x", i))
	}
	if s := write("a", "dedup-a"); s != first {
		t.Fatalf("a retry %d slots after the first copy answered slot %d, want %d", window/2, s, first)
	}
	for i := range window {
		write(fmt.Sprint("y", i), fmt.Sprint("dedup-y", i))
	}
	again := write("a", "dedup-a")
	if again <= first+window {
		t.Fatalf("a retry more than %d slots after the first copy (slot %d) answered slot %d, want a new slot", window, first, again)
	}
	eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, l := range c.Role("learner") {
			p, err := values(ctx, l)
			if err != nil {
				return err
			}
			var slots []uint64
			for _, e := range p.Entries {
				if e.RequestID == "dedup-a" {
					slots = append(slots, e.Slot)
				}
			}
			if !slices.Equal(slots, []uint64{first, again}) {
				return fmt.Errorf("%s serves dedup-a at slots %v, want %d and %d", l.Name, slots, first, again)
			}
		}
		return nil
	})
}
