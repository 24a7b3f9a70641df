package storage

import (
	"errors"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// impl makes the stores of one implementation for the conformance suite.
// reopen, when set, closes a store and opens its file again.
type impl struct {
	name     string
	proposer func(t *testing.T) proposerStore
	acceptor func(t *testing.T) acceptorStore
	learner  func(t *testing.T) learnerStore
}

var impls = []impl{
	{
		name:     "bbolt",
		proposer: func(t *testing.T) proposerStore { return mustOpen(t, OpenProposer, tempPath(t, "p.db"), nil) },
		acceptor: func(t *testing.T) acceptorStore { return mustOpen(t, OpenAcceptor, tempPath(t, "a.db"), nil) },
		learner:  func(t *testing.T) learnerStore { return mustOpen(t, OpenLearner, tempPath(t, "l.db"), nil) },
	},
	{
		name:     "bbolt-logged",
		proposer: func(t *testing.T) proposerStore { return mustOpen(t, OpenProposer, tempPath(t, "p.db"), nil) },
		acceptor: func(t *testing.T) acceptorStore { return mustOpen(t, OpenLoggedAcceptor, tempPath(t, "a.db"), nil) },
		learner:  func(t *testing.T) learnerStore { return mustOpen(t, OpenLearner, tempPath(t, "l.db"), nil) },
	},
	{
		name:     "bbolt-buffered",
		proposer: func(t *testing.T) proposerStore { return mustOpen(t, OpenProposer, tempPath(t, "p.db"), nil) },
		acceptor: func(t *testing.T) acceptorStore { return mustOpen(t, OpenAcceptor, tempPath(t, "a.db"), nil) },
		learner:  func(t *testing.T) learnerStore { return buffered(t, false) },
	},
	{
		// Half the appends go to the file at once: reads merge the file
		// and the buffer.
		name:     "bbolt-buffered-half-synced",
		proposer: func(t *testing.T) proposerStore { return mustOpen(t, OpenProposer, tempPath(t, "p.db"), nil) },
		acceptor: func(t *testing.T) acceptorStore { return mustOpen(t, OpenAcceptor, tempPath(t, "a.db"), nil) },
		learner:  func(t *testing.T) learnerStore { return buffered(t, true) },
	},
	{
		name:     "mem",
		proposer: func(*testing.T) proposerStore { return NewMemProposer() },
		acceptor: func(*testing.T) acceptorStore { return NewMemAcceptor() },
		learner:  func(*testing.T) learnerStore { return NewMemLearner() },
	},
}

// TestConformance runs the same checks against every implementation.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*testing.T, impl)
	}{
		{"RoundOnlyGoesUp", testRoundOnlyGoesUp},
		{"PromisedOnlyGoesUp", testPromisedOnlyGoesUp},
		{"SaveOverwritesSlot", testSaveOverwritesSlot},
		{"Accepted", testAccepted},
		{"Compact", testCompact},
		{"AppendContiguity", testAppendContiguity},
		{"FirstSlot", testFirstSlot},
		{"Chosen", testChosen},
		{"ChosenBytes", testChosenBytes},
		{"ConcurrentSaves", testConcurrentSaves},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Closed", testClosed},
		{"SaveReady", testSaveReady},
	}
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, im) })
			}
		})
	}
}

// testSaveReady: each store's Save writes what a Ready asks to persist, all
// of it: a proposer's round and applied entries; an acceptor's chosen
// watermark, rejoin slot, promise, accepted entries and compaction; a
// learner's chosen entries. An empty Ready writes nothing.
func testSaveReady(t *testing.T, im impl) {
	p, a, l := im.proposer(t), im.acceptor(t), im.learner(t)
	log := []replog.ChosenEntry{chosen(0, "9-0", -1), chosen(1, "9-1", -1)}
	for _, s := range []interface{ Save(*replog.Ready) error }{p, a, l} {
		if err := s.Save(&replog.Ready{}); err != nil {
			t.Fatalf("%T: empty Ready: %v", s, err)
		}
	}
	if err := p.Save(&replog.Ready{HardState: replog.HardState{Round: 7}, Applied: log}); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Round(); err != nil || r != 7 {
		t.Fatalf("proposer: Round() = %d, %v; want 7", r, err)
	}
	if n, err := p.Applied(); err != nil || n != 2 {
		t.Fatalf("proposer: Applied() = %d, %v; want 2", n, err)
	}
	rd := replog.Ready{HardState: replog.HardState{Promised: 301, Commit: 2, Rejoin: 5},
		Accepted: []replog.Entry{entry(0, 301), entry(1, 301), entry(2, 301)}, Compact: 1}
	if err := a.Save(&rd); err != nil {
		t.Fatal(err)
	}
	if b, err := a.Promised(); err != nil || b != 301 {
		t.Fatalf("acceptor: Promised() = %d, %v; want 301", b, err)
	}
	if c, err := a.Commit(); err != nil || c != 2 {
		t.Fatalf("acceptor: Commit() = %d, %v; want 2", c, err)
	}
	if r, err := a.Rejoin(); err != nil || r != 5 {
		t.Fatalf("acceptor: Rejoin() = %d, %v; want 5", r, err)
	}
	if c, err := a.Compacted(); err != nil || c != 1 {
		t.Fatalf("acceptor: Compacted() = %d, %v; want 1", c, err)
	}
	if es, err := a.Accepted(0, 0); err != nil || !slices.Equal(acceptedSlots(es), []uint64{1, 2}) {
		t.Fatalf("acceptor: Accepted(0, 0) = %v, %v; want slots 1 and 2", es, err)
	}
	if err := l.Save(&replog.Ready{Chosen: log}); err != nil {
		t.Fatal(err)
	}
	if c, err := l.Commit(); err != nil || c != 2 {
		t.Fatalf("learner: Commit() = %d, %v; want 2", c, err)
	}
}

func testRoundOnlyGoesUp(t *testing.T, im impl) {
	p := im.proposer(t)
	for _, step := range []struct{ set, want uint64 }{{0, 0}, {5, 5}, {3, 5}, {5, 5}, {9, 9}, {0, 9}} {
		if err := p.SetRound(step.set); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Round(); err != nil || got != step.want {
			t.Fatalf("SetRound(%d): Round() = %d, %v; want %d", step.set, got, err, step.want)
		}
	}
}

func testPromisedOnlyGoesUp(t *testing.T, im impl) {
	a := im.acceptor(t)
	for _, step := range []struct{ save, want replog.Ballot }{{0, 0}, {301, 301}, {201, 301}, {0, 301}, {401, 401}} {
		if err := a.Accept(step.save, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Promised(); err != nil || got != step.want {
			t.Fatalf("Save(%d): Promised() = %d, %v; want %d", step.save, got, err, step.want)
		}
	}
	if got := a.Stats().Promised; got != 401 {
		t.Errorf("Stats().Promised = %d, want 401", got)
	}
}

func testSaveOverwritesSlot(t *testing.T, im impl) {
	a := im.acceptor(t)
	if err := a.Accept(201, []replog.Entry{entry(3, 201), entry(4, 201)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Accept(0, []replog.Entry{entry(3, 301)}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Accepted(0, 0)
	if want := []replog.Entry{entry(3, 301), entry(4, 201)}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Accepted = %v, %v; want %v", got, err, want)
	}
	st := a.Stats()
	if st.AcceptedCount != 2 || st.LastSlot != 3+1 || st.Promised != 201 {
		t.Errorf("Stats = %+v, want 2 accepted, last slot 4, promised 201", st)
	}
}

func testAccepted(t *testing.T, im impl) {
	a := im.acceptor(t)
	if st := a.Stats(); st.LastSlot != -1 || st.AcceptedCount != 0 {
		t.Errorf("empty store: Stats = %+v, want LastSlot -1", st)
	}
	// Two saves, out of slot order.
	if err := a.Accept(101, []replog.Entry{entry(8, 101), entry(2, 101), entry(6, 101)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Accept(101, []replog.Entry{entry(4, 101), entry(0, 101)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from  uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{0, 2, 4, 6, 8}},
		{0, -1, []uint64{0, 2, 4, 6, 8}},
		{0, 2, []uint64{0, 2}},
		{3, 0, []uint64{4, 6, 8}},
		{3, 2, []uint64{4, 6}},
		{4, 1, []uint64{4}},
		{8, 10, []uint64{8}},
		{9, 0, nil},
	}
	for _, tt := range tests {
		got, err := a.Accepted(tt.from, tt.limit)
		if err != nil || !slices.Equal(acceptedSlots(got), tt.want) {
			t.Errorf("Accepted(%d, %d) = %v, %v; want slots %v", tt.from, tt.limit, acceptedSlots(got), err, tt.want)
		}
		for _, e := range got {
			if e != entry(e.Slot, 101) {
				t.Errorf("Accepted(%d, %d): got %+v, want %+v", tt.from, tt.limit, e, entry(e.Slot, 101))
			}
		}
	}
	if st := a.Stats(); st.AcceptedCount != 5 || st.LastSlot != 8 {
		t.Errorf("Stats = %+v, want 5 accepted, last slot 8", st)
	}
}

func testCompact(t *testing.T, im impl) {
	a := im.acceptor(t)
	var es []replog.Entry
	for s := range uint64(10) {
		es = append(es, entry(s, 201))
	}
	if err := a.Accept(201, es); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		do        func() error
		wantSlots []uint64
		count     uint64
		last      int64
	}{
		{func() error { return a.Compact(5) }, []uint64{5, 6, 7, 8, 9}, 5, 9},
		{func() error { return a.Compact(3) }, []uint64{5, 6, 7, 8, 9}, 5, 9}, // no-op
		{func() error { return a.Accept(0, []replog.Entry{entry(2, 301)}) }, []uint64{5, 6, 7, 8, 9}, 5, 9},
		{func() error { return a.Accept(0, []replog.Entry{entry(12, 301)}) }, []uint64{5, 6, 7, 8, 9, 12}, 6, 12},
		{func() error { return a.Compact(7) }, []uint64{7, 8, 9, 12}, 4, 12},
		{func() error { return a.Compact(20) }, nil, 0, 12},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := a.Accepted(0, 0)
		if err != nil || !slices.Equal(acceptedSlots(got), s.wantSlots) {
			t.Errorf("step %d: Accepted(0, 0) = %v, %v; want %v", i, acceptedSlots(got), err, s.wantSlots)
		}
		if st := a.Stats(); st.AcceptedCount != s.count || st.LastSlot != s.last {
			t.Errorf("step %d: Stats = %+v, want count %d, last %d", i, st, s.count, s.last)
		}
	}
}

func testAppendContiguity(t *testing.T, im impl) {
	l := im.learner(t)
	steps := []struct {
		append     []replog.ChosenEntry
		wantErr    error
		wantCommit uint64
	}{
		{run(0, 2), nil, 2},
		{nil, nil, 2},
		{run(3, 4), ErrNotContiguous, 2},                             // gap
		{run(1, 3), ErrNotContiguous, 2},                             // overlaps
		{append(run(2, 3), run(4, 5)...), ErrNotContiguous, 2},       // gap inside
		{append(run(2, 4), chosen(3, "x", -1)), ErrNotContiguous, 2}, // repeat inside
		{run(2, 4), nil, 4},
	}
	for i, s := range steps {
		err := l.Append(s.append)
		if !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
			t.Fatalf("step %d: Append(%v) = %v, want %v", i, chosenSlots(s.append), err, s.wantErr)
		}
		if c, err := l.Commit(); err != nil || c != s.wantCommit {
			t.Fatalf("step %d: Commit() = %d, %v; want %d", i, c, err, s.wantCommit)
		}
		got, err := l.Chosen(0, 0)
		if want := run(0, s.wantCommit); err != nil || !slices.Equal(got, want) {
			t.Fatalf("step %d: Chosen(0, 0) = %v, %v; want %v", i, chosenSlots(got), err, chosenSlots(want))
		}
	}
	if st := l.Stats(); st.Commit != 4 {
		t.Errorf("Stats = %+v, want commit 4", st)
	}
}

func testFirstSlot(t *testing.T, im impl) {
	l := im.learner(t)
	log := []replog.ChosenEntry{
		chosen(0, "a", -1), chosen(1, "b", -1), chosen(2, "", -1), // no-op
		chosen(3, "a", 0), // retry of a
		chosen(4, "c", -1), chosen(5, "b", 1),
	}
	if err := l.Append(log[:3]); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(log[3:]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		req  string
		slot uint64
		ok   bool
	}{{"a", 0, true}, {"b", 1, true}, {"c", 4, true}, {"", 0, false}, {"zz", 0, false}}
	for _, tt := range tests {
		slot, ok, err := l.FirstSlot(tt.req)
		if err != nil || ok != tt.ok || slot != tt.slot {
			t.Errorf("FirstSlot(%q) = %d, %v, %v; want %d, %v", tt.req, slot, ok, err, tt.slot, tt.ok)
		}
	}
	if got, err := l.Chosen(0, 0); err != nil || !slices.Equal(got, log) {
		t.Errorf("Chosen(0, 0) = %+v, %v; want %+v", got, err, log)
	}
	if st := l.Stats(); st.Values != 3 { // a, b, c: no no-op, no retry
		t.Errorf("Stats().Values = %d, want 3", st.Values)
	}
}

func testChosen(t *testing.T, im impl) {
	l := im.learner(t)
	if err := l.Append(run(0, 6)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from  uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{0, 1, 2, 3, 4, 5}},
		{0, 2, []uint64{0, 1}},
		{4, 0, []uint64{4, 5}},
		{4, 1, []uint64{4}},
		{5, 9, []uint64{5}},
		{6, 0, nil},
		{100, 3, nil},
	}
	for _, tt := range tests {
		got, err := l.Chosen(tt.from, tt.limit)
		if err != nil || !slices.Equal(chosenSlots(got), tt.want) {
			t.Errorf("Chosen(%d, %d) = %v, %v; want %v", tt.from, tt.limit, chosenSlots(got), err, tt.want)
		}
	}
}

// testChosenBytes: a read bounded in bytes stops at the entry that reaches
// the bound (so it holds less than the bound plus one entry, and never
// nothing), and the count bound still holds.
func testChosenBytes(t *testing.T, im impl) {
	l := im.learner(t)
	if err := l.Append(run(0, 6)); err != nil {
		t.Fatal(err)
	}
	size := run(0, 1)[0].Command.Size() // every entry of run(0, 6) has this size
	tests := []struct {
		from            uint64
		limit, maxBytes int
		want            []uint64
	}{
		{0, 0, 0, []uint64{0, 1, 2, 3, 4, 5}},
		{0, 0, 1, []uint64{0}},
		{0, 0, size, []uint64{0}},
		{0, 0, size + 1, []uint64{0, 1}},
		{0, 0, 2 * size, []uint64{0, 1}},
		{2, 0, 3*size + 1, []uint64{2, 3, 4, 5}},
		{2, 2, 3*size + 1, []uint64{2, 3}},
		{5, 0, 1, []uint64{5}},
		{6, 0, 1, nil},
	}
	for _, tt := range tests {
		got, err := l.ChosenBytes(tt.from, tt.limit, tt.maxBytes)
		if err != nil || !slices.Equal(chosenSlots(got), tt.want) {
			t.Errorf("ChosenBytes(%d, %d, %d) = %v, %v; want %v", tt.from, tt.limit, tt.maxBytes, chosenSlots(got), err, tt.want)
		}
	}
}

func testConcurrentSaves(t *testing.T, im impl) {
	a := im.acceptor(t)
	const writers, each = 16, 20
	var wg sync.WaitGroup
	for w := range uint64(writers) {
		wg.Go(func() {
			for i := range uint64(each) {
				slot := w*each + i
				if err := a.Accept(replog.Ballot(slot+1), []replog.Entry{entry(slot, 7)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := a.Accepted(0, 0)
	if err != nil || len(got) != writers*each {
		t.Fatalf("Accepted = %d entries, %v; want %d", len(got), err, writers*each)
	}
	for i, e := range got {
		if e != entry(uint64(i), 7) {
			t.Fatalf("Accepted[%d] = %+v", i, e)
		}
	}
	if p, _ := a.Promised(); p != writers*each {
		t.Errorf("Promised = %d, want %d", p, writers*each)
	}
	if st := a.Stats(); st.AcceptedCount != writers*each || st.LastSlot != writers*each-1 {
		t.Errorf("Stats = %+v", st)
	}
}

// testConcurrentAppends races learners appending the same next slot: each
// slot goes in once and the losers get ErrNotContiguous.
func testConcurrentAppends(t *testing.T, im impl) {
	l := im.learner(t)
	const writers, slots = 8, 100
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				c, err := l.Commit()
				if err != nil || c >= slots {
					return
				}
				if err := l.Append(run(c, c+1)); err != nil && !errors.Is(err, ErrNotContiguous) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, err := l.Chosen(0, 0); err != nil || !slices.Equal(got, run(0, slots)) {
		t.Fatalf("Chosen = %v, %v; want slots 0..%d", chosenSlots(got), err, slots-1)
	}
}

func testClosed(t *testing.T, im impl) {
	p, a, l := im.proposer(t), im.acceptor(t), im.learner(t)
	for _, c := range []interface{ Close() error }{p, a, l} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	calls := map[string]func() error{
		"Round":       func() error { _, err := p.Round(); return err },
		"SetRound":    func() error { return p.SetRound(1) },
		"Promised":    func() error { _, err := a.Promised(); return err },
		"Accepted":    func() error { _, err := a.Accepted(0, 0); return err },
		"Accept":      func() error { return a.Accept(1, []replog.Entry{entry(0, 1)}) },
		"Compact":     func() error { return a.Compact(1) },
		"Commit":      func() error { _, err := l.Commit(); return err },
		"Chosen":      func() error { _, err := l.Chosen(0, 0); return err },
		"FirstSlot":   func() error { _, _, err := l.FirstSlot("a"); return err },
		"Append":      func() error { return l.Append(run(0, 1)) },
		"Append(nil)": func() error { return l.Append(nil) },
		"Close":       func() error { return errors.Join(p.Close(), a.Close(), l.Close()) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestReopen checks that a bbolt store opened again holds what it held.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	pp, ap, lp := dir+"/p.db", dir+"/a.db", dir+"/l.db"
	p := mustOpen(t, OpenProposer, pp, nil)
	a := mustOpen(t, OpenAcceptor, ap, nil)
	l := mustOpen(t, OpenLearner, lp, nil)
	var es []replog.Entry
	for s := range uint64(8) {
		es = append(es, entry(s, 501))
	}
	log := append(run(0, 3), chosen(3, "r1", 1), chosen(4, "", -1))
	for _, err := range []error{
		p.SetRound(42), a.Accept(501, es), a.Compact(2), l.Append(log),
		p.Close(), a.Close(), l.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	p, a, l = mustOpen(t, OpenProposer, pp, nil), mustOpen(t, OpenAcceptor, ap, nil), mustOpen(t, OpenLearner, lp, nil)
	if r, err := p.Round(); err != nil || r != 42 {
		t.Errorf("Round = %d, %v; want 42", r, err)
	}
	if b, err := a.Promised(); err != nil || b != 501 {
		t.Errorf("Promised = %d, %v; want 501", b, err)
	}
	if got, err := a.Accepted(0, 0); err != nil || !slices.Equal(got, es[2:]) {
		t.Errorf("Accepted = %v, %v; want %v", got, err, es[2:])
	}
	if st := a.Stats(); st.AcceptedCount != 6 || st.LastSlot != 7 || st.Compacted != 2 || st.Path != ap || st.SizeBytes <= 0 {
		t.Errorf("acceptor Stats = %+v", st)
	}
	if err := a.Accept(0, []replog.Entry{entry(1, 601)}); err != nil { // below the compaction point
		t.Fatal(err)
	}
	if got, _ := a.Accepted(0, 1); len(got) != 1 || got[0].Slot != 2 {
		t.Errorf("after a save below the compaction point: Accepted(0, 1) = %v", got)
	}
	if got, err := l.Chosen(0, 0); err != nil || !slices.Equal(got, log) {
		t.Errorf("Chosen = %v, %v; want %v", got, err, log)
	}
	if slot, ok, err := l.FirstSlot("r1"); err != nil || !ok || slot != 1 {
		t.Errorf("FirstSlot(r1) = %d, %v, %v; want 1", slot, ok, err)
	}
	// Values: slots 0-2 (3 is a later copy of r1, 4 a no-op).
	if st := l.Stats(); st.Commit != 5 || st.Values != 3 || st.Path != lp || st.SizeBytes <= 0 {
		t.Errorf("learner Stats = %+v, want commit 5, 3 values", st)
	}
	if err := l.Append(run(5, 6)); err != nil {
		t.Errorf("Append at the reopened commit: %v", err)
	}
	if st := l.Stats(); st.Values != 4 {
		t.Errorf("after one more value: Values = %d, want 4", st.Values)
	}

	// A file from before the count was kept is counted once at open.
	if err := l.s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyValues) }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, OpenLearner, lp, nil)
	if st := l.Stats(); st.Values != 4 {
		t.Errorf("a file without the count: Values = %d after open, want 4", st.Values)
	}
}

// TestBufferedLearnerReopen: what a BufferedLearner synced survives a reopen,
// what it only buffered does not (the replog learner reports only synced
// entries as durable, so acceptors keep the rest), and the reopened log
// takes appends at its synced commit.
func TestBufferedLearnerReopen(t *testing.T) {
	path := tempPath(t, "l.db")
	open := func() *BufferedLearner {
		b, err := NewBufferedLearner(mustOpen(t, OpenLearner, path, nil), LearnerBufferEntries)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	log := append(run(0, 3), chosen(3, "r1", 1), chosen(4, "", -1))
	if err := b.Append(log[:4]); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(log[4:]); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.Commit(); c != 5 {
		t.Fatalf("Commit = %d, want 5 (buffered entries count)", c)
	}
	if st := b.Synced(); st.Commit != 4 || st.Values != 3 {
		t.Fatalf("Synced = commit %d, values %d; want 4 and 3 (what the Sync wrote)", st.Commit, st.Values)
	}
	// A crash: the file is closed without the buffer being written.
	if err := b.l.Close(); err != nil {
		t.Fatal(err)
	}
	b = open()
	if got, err := b.Chosen(0, 0); err != nil || !slices.Equal(got, log[:4]) {
		t.Errorf("after a crash: Chosen = %v, %v; want the synced %v", got, err, log[:4])
	}
	if slot, ok, err := b.FirstSlot("r1"); err != nil || !ok || slot != 1 {
		t.Errorf("FirstSlot(r1) = %d, %v, %v; want 1", slot, ok, err)
	}
	if err := b.Append(log[4:]); err != nil {
		t.Fatalf("Append at the synced commit: %v", err)
	}
	// Close writes the buffer.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open()
	if got, err := b.Chosen(0, 0); err != nil || !slices.Equal(got, log) {
		t.Errorf("after Close and reopen: Chosen = %v, %v; want %v", got, err, log)
	}
}
