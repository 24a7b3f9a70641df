package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

// crash closes a LoggedAcceptor's files without a checkpoint, as a SIGKILL
// would leave them (every Save that returned is in the write-ahead file).
func crash(t *testing.T, l *LoggedAcceptor) {
	t.Helper()
	if err := l.closeFiles(); err != nil {
		t.Fatal(err)
	}
}

func openLogged(t *testing.T, path string) *LoggedAcceptor {
	t.Helper()
	l, err := OpenLoggedAcceptor(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sameAcceptor fails unless got reads like the model want.
func sameAcceptor(t *testing.T, step string, got *LoggedAcceptor, want *MemAcceptor) {
	t.Helper()
	gp, err1 := got.Promised()
	wp, _ := want.Promised()
	ga, err2 := got.Accepted(0, 0)
	wa, _ := want.Accepted(0, 0)
	gc, err3 := got.Compacted()
	wc, _ := want.Compacted()
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	gs, ws := got.Stats(), want.Stats()
	if gp != wp || gc != wc || !slices.Equal(ga, wa) || gs.AcceptedCount != ws.AcceptedCount || gs.LastSlot != ws.LastSlot {
		t.Fatalf("%s: promised %d/%d compacted %d/%d count %d/%d last %d/%d accepted\n got %v\nwant %v",
			step, gp, wp, gc, wc, gs.AcceptedCount, ws.AcceptedCount, gs.LastSlot, ws.LastSlot, ga, wa)
	}
	for _, q := range [][2]int{{0, 1}, {3, 2}, {5, 7}, {int(wc) + 1, 3}, {40, 0}} {
		g, err := got.Accepted(uint64(q[0]), q[1])
		w, _ := want.Accepted(uint64(q[0]), q[1])
		if err != nil || !slices.Equal(g, w) {
			t.Fatalf("%s: Accepted(%d, %d) = %v, %v; want %v", step, q[0], q[1], g, err, w)
		}
	}
}

// TestLoggedAcceptorModel runs random Saves, Compacts, checkpoints, crashes
// and clean reopens against a LoggedAcceptor and the memory acceptor, and
// checks after every step that they read the same. A crash keeps every Save
// that returned.
func TestLoggedAcceptorModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		path := tempPath(t, "a.db")
		l, m := openLogged(t, path), NewMemAcceptor()
		for i := range 300 {
			var step string
			switch k := rng.IntN(20); {
			case k < 12:
				var es []replog.Entry
				for range rng.IntN(5) {
					es = append(es, entry(uint64(rng.IntN(40)), replog.Ballot(rng.IntN(9)*100+1)))
				}
				p := replog.Ballot(0)
				if rng.IntN(3) == 0 {
					p = replog.Ballot(rng.IntN(20) * 100)
				}
				step = "save"
				for _, err := range []error{l.Accept(p, es), m.Accept(p, es)} {
					if err != nil {
						t.Fatalf("seed %d step %d: save: %v", seed, i, err)
					}
				}
			case k < 14:
				below := uint64(rng.IntN(30))
				step = "compact"
				if err := errors.Join(l.Compact(below), m.Compact(below)); err != nil {
					t.Fatalf("seed %d step %d: compact: %v", seed, i, err)
				}
			case k < 16:
				step = "checkpoint"
				l.wmu.Lock()
				err := l.checkpoint()
				l.wmu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
			case k < 18:
				step = "crash"
				crash(t, l)
				l = openLogged(t, path)
			default:
				step = "close"
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openLogged(t, path)
			}
			sameAcceptor(t, "seed "+string(rune('0'+seed%10))+" step "+step, l, m)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoggedAcceptorTornTail: a record cut short at the end (a crash during
// the write, never acknowledged) is dropped; damage before a good record is
// ErrCorrupt, not a silent loss.
func TestLoggedAcceptorTornTail(t *testing.T) {
	path := tempPath(t, "a.db")
	l := openLogged(t, path)
	for s := range uint64(3) {
		if err := l.Accept(0, []replog.Entry{entry(s, 101)}); err != nil {
			t.Fatal(err)
		}
	}
	end := l.w.off
	crash(t, l)
	data, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < walPrealloc {
		t.Fatalf("write-ahead file of %d bytes, want it preallocated to %d", len(data), walPrealloc)
	}
	clear(data[end-5 : end]) // the last record's end never reached the disk
	if err := os.WriteFile(path+".wal", data, 0o600); err != nil {
		t.Fatal(err)
	}
	l = openLogged(t, path)
	if got, _ := l.Accepted(0, 0); !slices.Equal(got, []replog.Entry{entry(0, 101), entry(1, 101)}) {
		t.Errorf("after a torn last record: %v, want slots 0 and 1", got)
	}
	// Two more records after the checkpoint of the open, then a damaged
	// first one.
	for s := uint64(5); s < 7; s++ {
		if err := l.Accept(0, []replog.Entry{entry(s, 101)}); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, l)
	data, _ = os.ReadFile(path + ".wal")
	data[walHeader+2] ^= 0xff
	if err := os.WriteFile(path+".wal", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLoggedAcceptor(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("open with a damaged record before a good one: %v, want ErrCorrupt", err)
	}
}

// TestLoggedAcceptorRewind: after a checkpoint the write-ahead file is
// written from its start again; the older records behind the new ones are
// not replayed.
func TestLoggedAcceptorRewind(t *testing.T) {
	path := tempPath(t, "a.db")
	l := openLogged(t, path)
	big := entry(1, 101)
	big.Command.Value = string(make([]byte, 4096))
	for range 5 {
		if err := l.Accept(0, []replog.Entry{big}); err != nil {
			t.Fatal(err)
		}
	}
	l.wmu.Lock()
	if err := l.checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.wmu.Unlock()
	if err := l.Accept(0, []replog.Entry{entry(1, 201)}); err != nil {
		t.Fatal(err)
	}
	crash(t, l)
	l = openLogged(t, path)
	defer l.Close()
	if got, _ := l.Accepted(0, 0); !slices.Equal(got, []replog.Entry{entry(1, 201)}) {
		t.Errorf("after rewind and crash: %v, want slot 1 at ballot 201 only", got)
	}
}

// TestLoggedAcceptorBigSave: a Save bigger than one write-ahead record is
// written as several and reads back whole, before and after a crash.
func TestLoggedAcceptorBigSave(t *testing.T) {
	path := tempPath(t, "a.db")
	l := openLogged(t, path)
	var es []replog.Entry
	for s := range uint64(5) {
		e := entry(s, 301)
		e.Command.Value = string(make([]byte, walMaxRecord/4)) // 5 x a quarter record: more than one
		es = append(es, e)
	}
	if err := l.Accept(301, es); err != nil {
		t.Fatal(err)
	}
	crash(t, l)
	l = openLogged(t, path)
	defer l.Close()
	got, err := l.Accepted(0, 0)
	if err != nil || !slices.Equal(got, es) {
		t.Fatalf("after a crash: %d entries, %v; want the 5 saved", len(got), err)
	}
	if p, _ := l.Promised(); p != 301 {
		t.Errorf("Promised = %d, want 301", p)
	}
}

// TestLoggedAcceptorDamagedLength: a damaged length field in the middle of
// the file is corruption, not a torn tail, even though the record's length
// cannot be read.
func TestLoggedAcceptorDamagedLength(t *testing.T) {
	path := tempPath(t, "a.db")
	l := openLogged(t, path)
	for s := range uint64(3) {
		if err := l.Accept(0, []replog.Entry{entry(s, 101)}); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, l)
	data, _ := os.ReadFile(path + ".wal")
	binary.LittleEndian.PutUint32(data, 3) // below the smallest record
	if err := os.WriteFile(path+".wal", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLoggedAcceptor(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("open with a damaged length before good records: %v, want ErrCorrupt", err)
	}
}

// TestLoggedAcceptorCompactFirst: a Compact before any Save checkpoints an
// empty write-ahead file; the Saves after it survive a crash (the salt of
// their records is the one the checkpoint recorded).
func TestLoggedAcceptorCompactFirst(t *testing.T) {
	path := tempPath(t, "a.db")
	l := openLogged(t, path)
	if err := l.Compact(5); err != nil {
		t.Fatal(err)
	}
	if err := l.Accept(201, []replog.Entry{entry(6, 201), entry(7, 201)}); err != nil {
		t.Fatal(err)
	}
	crash(t, l)
	l = openLogged(t, path)
	defer l.Close()
	if got, _ := l.Accepted(0, 0); !slices.Equal(got, []replog.Entry{entry(6, 201), entry(7, 201)}) {
		t.Errorf("after compact, save, crash: %v, want slots 6 and 7", got)
	}
	if p, _ := l.Promised(); p != 201 {
		t.Errorf("Promised = %d, want 201", p)
	}
}

// TestLoggedAcceptorMissingWAL: once the write-ahead file exists, its loss
// is ErrMissingWAL, naming the file, and not an acceptor that opens empty
// (it was created again, silently, and the promises in it were forgotten).
func TestLoggedAcceptorMissingWAL(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  func(t *testing.T, l *LoggedAcceptor)
	}{
		{"saved, crashed before a checkpoint", func(t *testing.T, l *LoggedAcceptor) {
			if err := l.Accept(301, []replog.Entry{entry(0, 301)}); err != nil {
				t.Fatal(err)
			}
			crash(t, l)
		}},
		{"saved, closed (checkpointed)", func(t *testing.T, l *LoggedAcceptor) {
			if err := l.Accept(301, []replog.Entry{entry(0, 301)}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"opened, closed", func(t *testing.T, l *LoggedAcceptor) {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t, "a.db")
			tc.use(t, openLogged(t, path))
			if err := os.Remove(path + ".wal"); err != nil {
				t.Fatal(err)
			}
			l, err := OpenLoggedAcceptor(path, nil)
			if err == nil {
				p, _ := l.Promised()
				l.Close()
				t.Fatalf("open without the write-ahead file: no error (promised %d)", p)
			}
			if !errors.Is(err, ErrMissingWAL) || !strings.Contains(err.Error(), path+".wal") ||
				!strings.Contains(err.Error(), path+" records") {
				t.Errorf("open without the write-ahead file: %v; want ErrMissingWAL naming %s and what %s records",
					err, path+".wal", path)
			}
			if _, serr := os.Stat(path + ".wal"); serr == nil {
				t.Errorf("the failed open created %s again", path+".wal")
			}
			// The acceptor file is not left locked.
			a := mustOpen(t, OpenAcceptor, path, nil)
			a.Close()
		})
	}
}

// A read bounded in bytes merges what waits in memory only over the slots
// the file's read covered: an entry in memory past them would leave the
// slots between out, and a promise page with a hole lets a new leader
// overwrite a value that may be chosen.
func TestLoggedAcceptorBytePageHasNoHole(t *testing.T) {
	path := tempPath(t, "a.db")
	a := mustOpen(t, OpenLoggedAcceptor, path, nil)
	var big []replog.Entry
	for s := range uint64(10) {
		big = append(big, replog.Entry{Slot: s, Ballot: 101, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprint("r", s), Value: strings.Repeat("v", 1000)}})
	}
	if err := a.Accept(101, big); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // a checkpoint: the entries go to the file
		t.Fatal(err)
	}
	a = mustOpen(t, OpenLoggedAcceptor, path, nil)
	small := func(s uint64) replog.Entry {
		return replog.Entry{Slot: s, Ballot: 202, Command: replog.Command{ClientID: 9, RequestID: fmt.Sprint("s", s), Value: "x"}}
	}
	if err := a.Accept(202, []replog.Entry{small(1), small(20)}); err != nil { // in memory until the next checkpoint
		t.Fatal(err)
	}
	es, err := a.AcceptedBytes(0, 0, 2500)
	if err != nil {
		t.Fatal(err)
	}
	if got := acceptedSlots(es); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Errorf("AcceptedBytes(0, 0, 2500) = slots %v, want [0 1 2]: the file's read stopped at slot 2", got)
	}
	if es[1].Ballot != 202 {
		t.Errorf("slot 1 at ballot %d, want the newer 202", es[1].Ballot)
	}
	all, err := a.Accepted(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := acceptedSlots(all); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20}) {
		t.Errorf("Accepted(0, 0) = slots %v", got)
	}
}
