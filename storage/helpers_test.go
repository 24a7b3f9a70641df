package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// The write side of each role, as a caller (the server) sees it; both the
// bbolt and the memory stores implement them. Save writes a whole Ready.
type (
	proposerStore interface {
		replog.ProposerStorage
		Save(rd *replog.Ready) error
		SetRound(r uint64) error
		Close() error
	}
	acceptorStore interface {
		replog.AcceptorStorage
		Accepted(from uint64, limit int) ([]replog.Entry, error)
		Save(rd *replog.Ready) error
		Accept(promised replog.Ballot, entries []replog.Entry) error
		Compact(below uint64) error
		Stats() AcceptorStats
		Close() error
	}
	learnerStore interface {
		replog.LearnerStorage
		Chosen(from uint64, limit int) ([]replog.ChosenEntry, error)
		Save(rd *replog.Ready) error
		Append(entries []replog.ChosenEntry) error
		Stats() LearnerStats
		Close() error
	}
)

// The tests open many write-ahead files: 64 KiB of zeros each is enough
// to exercise the preallocation.
// A smaller record bound makes the tests of big Saves cheap.
func init() { walPrealloc, walMaxRecord = 64<<10, 1<<20 }

// tempPath returns the path of a new file name in a fresh temporary folder.
func tempPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }

// checked registers a cleanup that checks the consistency of the bbolt file
// of s (if still open) and closes it.
func checked[S any](t testing.TB, s *store[S]) {
	t.Cleanup(func() {
		err := s.view(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("consistency check of %s: %v", s.path, err)
		}
		if err := s.close(); err != nil {
			t.Errorf("close %s: %v", s.path, err)
		}
	})
}

// mustOpen opens a bbolt store with open and registers its check and close.
func mustOpen[T any](t testing.TB, open func(string, *Options) (T, error), path string, o *Options) T {
	t.Helper()
	v, err := open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	switch s := any(v).(type) {
	case *Proposer:
		checked(t, s.s)
	case *Acceptor:
		checked(t, s.s)
	case *Learner:
		checked(t, s.s)
	case *LoggedAcceptor:
		checked(t, s.a.s)
	}
	return v
}

// entry returns the entry of slot at ballot b with a value naming both.
func entry(slot uint64, b replog.Ballot) replog.Entry {
	return replog.Entry{Slot: slot, Ballot: b, Command: replog.Command{
		ClientID: 9, RequestID: fmt.Sprintf("9-%d", slot), Value: fmt.Sprintf("v%d@%d", slot, b)}}
}

// chosen returns the chosen entry of slot for request reqID; firstSlot < 0
// means a first copy.
func chosen(slot uint64, reqID string, firstSlot int) replog.ChosenEntry {
	c := replog.ChosenEntry{Entry: replog.Entry{Slot: slot, Ballot: 301,
		Command: replog.Command{ClientID: 9, RequestID: reqID, Value: "x" + reqID}}, FirstSlot: slot}
	if reqID == "" {
		c.Command.Value = ""
	}
	if firstSlot >= 0 {
		c.Dup, c.FirstSlot = true, uint64(firstSlot)
	}
	return c
}

// run returns the chosen entries of slots from..to-1, each a first copy.
func run(from, to uint64) []replog.ChosenEntry {
	var out []replog.ChosenEntry
	for s := from; s < to; s++ {
		out = append(out, chosen(s, fmt.Sprintf("r%d", s), -1))
	}
	return out
}

// acceptedSlots returns the slots of es.
func acceptedSlots(es []replog.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Slot)
	}
	return out
}

// chosenSlots returns the slots of cs.
func chosenSlots(cs []replog.ChosenEntry) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.Slot)
	}
	return out
}

// buffered opens a BufferedLearner on a fresh file; with half, every other
// Append is synced at once.
func buffered(t testing.TB, half bool) learnerStore {
	t.Helper()
	b, err := NewBufferedLearner(mustOpen(t, OpenLearner, tempPath(t, "l.db"), nil), LearnerBufferEntries)
	if err != nil {
		t.Fatal(err)
	}
	if half {
		return &halfSynced{BufferedLearner: b}
	}
	return b
}

type halfSynced struct {
	*BufferedLearner
	mu sync.Mutex
	n  int
}

func (h *halfSynced) Append(entries []replog.ChosenEntry) error {
	if err := h.BufferedLearner.Append(entries); err != nil {
		return err
	}
	h.mu.Lock()
	h.n++
	doSync := h.n%2 == 0
	h.mu.Unlock()
	if doSync {
		return h.Sync()
	}
	return nil
}
