package storage

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// benchValue is a 64-byte value.
var benchValue = strings.Repeat("x", 64)

// benchEntry is an accepted entry with a 64-byte value.
func benchEntry(slot uint64) replog.Entry {
	return replog.Entry{Slot: slot, Ballot: 301,
		Command: replog.Command{ClientID: 9, RequestID: "9-bench", Value: benchValue}}
}

// commitCounter counts commits (fsyncs) through Options.OnCommit.
type commitCounter struct{ commits, slots atomic.Int64 }

func (c *commitCounter) options() *Options {
	return &Options{OnCommit: func(_ time.Duration, slots int) {
		c.commits.Add(1)
		c.slots.Add(int64(slots))
	}}
}

// report adds slots/s and slots/fsync to b's results.
func (c *commitCounter) report(b *testing.B, slots int, elapsed time.Duration) {
	b.ReportMetric(float64(slots)/elapsed.Seconds(), "slots/s")
	if n := c.commits.Load(); n > 0 {
		b.ReportMetric(float64(c.slots.Load())/float64(n), "slots/fsync")
	}
}

// benchSave runs b.N single-entry Saves on distinct slots from writers
// goroutines.
func benchSave(b *testing.B, writers int) { benchSaveTo(b, writers, false) }

// benchSaveTo is benchSave on a bbolt acceptor, or with logged on a
// LoggedAcceptor (write-ahead file).
func benchSaveTo(b *testing.B, writers int, logged bool) {
	var cc commitCounter
	var a interface {
		Accept(replog.Ballot, []replog.Entry) error
	}
	if logged {
		defer func(v int64) { walPrealloc = v }(walPrealloc)
		walPrealloc = 16 << 20 // as in production
		a = mustOpen(b, OpenLoggedAcceptor, tempPath(b, "a.db"), cc.options())
	} else {
		a = mustOpen(b, OpenAcceptor, tempPath(b, "a.db"), cc.options())
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for slot := next.Add(1) - 1; slot < uint64(b.N); slot = next.Add(1) - 1 {
				if err := a.Accept(0, []replog.Entry{benchEntry(slot)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cc.report(b, b.N, time.Since(start))
}

// BenchmarkAcceptorSave64: 64 concurrent writers, as under load from many
// clients; group commit should put many slots in each fsync.
func BenchmarkAcceptorSave64(b *testing.B) { benchSave(b, 64) }

// BenchmarkAcceptorSaveSerial: one writer; each Save is one commit, with no wait.
func BenchmarkAcceptorSaveSerial(b *testing.B) { benchSave(b, 1) }

// BenchmarkLoggedAcceptorSaveSerial: one writer on the write-ahead acceptor
// the node uses (one append and one fdatasync per Save; a checkpoint into
// bbolt every 8192 entries).
func BenchmarkLoggedAcceptorSaveSerial(b *testing.B) { benchSaveTo(b, 1, true) }

// BenchmarkLearnerAppend appends batches of 64 chosen entries.
func BenchmarkLearnerAppend(b *testing.B) {
	const batch = 64
	var cc commitCounter
	l := mustOpen(b, OpenLearner, tempPath(b, "l.db"), cc.options())
	es := make([]replog.ChosenEntry, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range uint64(b.N) {
		for j := range es {
			slot := i*batch + uint64(j)
			es[j] = replog.ChosenEntry{Entry: benchEntry(slot), FirstSlot: slot}
		}
		if err := l.Append(es); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cc.report(b, b.N*batch, time.Since(start))
}
