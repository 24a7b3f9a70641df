package storage

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

// TestPowerLossKeepsAcknowledgedWrites cuts the power (powerLoss: only what
// was synced survives) after each of several lives of a node's stores, with
// write-ahead checkpoints and a compaction in between, and checks that every
// write a store acknowledged is there after each cut. A store that skips an
// fsync or fdatasync of a write it acknowledges fails it (make mutants:
// bbolt-no-sync, wal-no-fdatasync, dir-no-sync).
func TestPowerLossKeepsAcknowledgedWrites(t *testing.T) {
	old := checkpointEntries
	checkpointEntries = 5 // a checkpoint, and a rewind of the write-ahead file, every 5 saves
	t.Cleanup(func() { checkpointEntries = old })
	root := t.TempDir()
	p := watchSyncs(t)
	dir := filepath.Join(root, "volumes", "node")
	if err := MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var (
		slot      uint64
		ballot    = replog.Ballot(100)
		compacted uint64
	)
	check := func(life int, what string, a replog.AcceptorStorage) {
		t.Helper()
		if got, _ := a.Promised(); got != ballot {
			t.Errorf("life %d, %s: promised %d after the power loss, want %d", life, what, got, ballot)
		}
		es, err := a.AcceptedBytes(0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []replog.Entry
		for s := compacted; s < slot; s++ {
			want = append(want, entry(s, replog.Ballot(101+s)))
		}
		if !slices.Equal(es, want) {
			t.Errorf("life %d, %s: accepted %v after the power loss, want slots %d..%d", life, what, acceptedSlots(es), compacted, slot)
		}
	}
	for life := range 4 {
		logged, err := OpenLoggedAcceptor(filepath.Join(dir, "logged.db"), nil)
		if err != nil {
			t.Fatalf("life %d: %v", life, err)
		}
		plain := mustOpen(t, OpenAcceptor, filepath.Join(dir, "plain.db"), nil)
		l := mustOpen(t, OpenLearner, filepath.Join(dir, "learner.db"), nil)
		pr := mustOpen(t, OpenProposer, filepath.Join(dir, "proposer.db"), nil)
		if life > 0 {
			check(life, "write-ahead acceptor", logged)
			check(life, "bbolt acceptor", plain)
			if got, _ := l.Commit(); got != slot {
				t.Errorf("life %d: the learner's log has %d slots after the power loss, want %d", life, got, slot)
			}
			if got, _ := pr.Round(); got != uint64(ballot) {
				t.Errorf("life %d: the proposer's round is %d after the power loss, want %d", life, got, ballot)
			}
		}
		for range 7 {
			ballot = replog.Ballot(101 + slot)
			e := []replog.Entry{entry(slot, ballot)}
			for _, err := range []error{logged.Accept(ballot, e), plain.Accept(ballot, e),
				l.Append(run(slot, slot+1)), pr.SetRound(uint64(ballot))} {
				if err != nil {
					t.Fatal(err)
				}
			}
			slot++
		}
		if life == 2 {
			compacted = slot - 3
			if err := errors.Join(logged.Compact(compacted), plain.Compact(compacted)); err != nil {
				t.Fatal(err)
			}
		}
		crash(t, logged)
		if err := errors.Join(plain.Close(), l.Close(), pr.Close()); err != nil {
			t.Fatal(err)
		}
		if lost := p.cut(t, root); len(lost) > 0 {
			t.Fatalf("life %d: a power loss drops %q: their directories were not synced", life, lost)
		}
	}
}

// TestPowerLossModelDropsUnsynced: the model is not blind: a store that
// does not sync (NoSync) loses its writes at a power cut.
func TestPowerLossModelDropsUnsynced(t *testing.T) {
	root := t.TempDir()
	p := watchSyncs(t)
	path := filepath.Join(root, "a.db")
	a := mustOpen(t, OpenAcceptor, path, &Options{NoSync: true})
	if err := a.Accept(301, []replog.Entry{entry(0, 301)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	p.cut(t, root)
	a = mustOpen(t, OpenAcceptor, path, nil)
	if got, _ := a.Promised(); got != 0 {
		t.Errorf("an unsynced promise survived the power loss: promised %d", got)
	}
}
