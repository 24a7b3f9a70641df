package server

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/replog/replogtest"
)

// The loop's inbox is bounded in bytes, not only in batches: 8,192
// batches of 64 KiB values are half a GiB (issue 13). Past maxInboxBytes a
// batch is refused until the loop takes what is queued; the first batch
// always goes in, however big.
func TestInboxBoundedInBytes(t *testing.T) {
	cfg := replog.Config{ID: 7, Proposers: []replog.ID{1}, Acceptors: []replog.ID{4, 5, 6}, Learners: []replog.ID{7}}
	core, err := replog.NewLearner(cfg, replogtest.NewLearnerStore())
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(core, loopHooks{}, time.Hour, slog.New(slog.DiscardHandler), nil)
	batch := func(slot uint64, valueBytes int) []replog.Message {
		return []replog.Message{{Type: replog.MsgLearn, From: 4, To: 7, Ballot: 101, Entries: []replog.Entry{
			{Slot: slot, Ballot: 101, Command: replog.Command{RequestID: "r", Value: strings.Repeat("v", valueBytes)}}}}}
	}
	// The first batch goes in even when it is larger than the bound.
	if err := d.step(batch(0, maxInboxBytes+1)); err != nil {
		t.Fatalf("the first batch, larger than the bound: %v, want it queued", err)
	}
	if err := d.step(batch(1, 1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a batch past %d queued bytes: %v, want ErrUnavailable", maxInboxBytes, err)
	}
	(<-d.inbox)() // the loop takes the first batch
	if got := d.inboxBytes.Load(); got != 0 {
		t.Fatalf("%d bytes counted queued after the loop took every batch, want 0", got)
	}
	// Batches go in up to the bound, then are refused.
	const value = 64 << 10
	queued := 0
	for slot := uint64(2); ; slot++ {
		if err := d.step(batch(slot, value)); err != nil {
			if !errors.Is(err, ErrUnavailable) {
				t.Fatal(err)
			}
			break
		}
		queued++
	}
	if want := maxInboxBytes / value; queued < want-1 || queued > want {
		t.Fatalf("%d batches of %d KiB queued before a refusal, want about %d", queued, value>>10, want)
	}
	if got := d.inboxBytes.Load(); got > maxInboxBytes {
		t.Fatalf("%d bytes queued, over maxInboxBytes %d", got, maxInboxBytes)
	}
}
