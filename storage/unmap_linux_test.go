package storage

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// mappedRSS returns how many bytes of the file at path are resident in this
// process's mappings (the Rss lines of /proc/self/smaps for that file).
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasSuffix(line, " "+path)
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Rss:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			rss += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rss
}

// TestStoreUnmapsIdlePages: a store that read its whole file keeps only the
// pages of the last unmapEvery mapped: once it has passed, the next read or
// commit drops the rest from the resident set (#13: a learner's 2 GiB file
// counted in its RSS), and every value still reads back.
func TestStoreUnmapsIdlePages(t *testing.T) {
	path := tempPath(t, "learner.db")
	l := mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	defer l.Close()
	const n, size = 8000, 4 << 10
	value := strings.Repeat("v", size)
	var all []replog.ChosenEntry
	for s := uint64(0); s < n; s++ {
		c := chosen(s, "r"+strconv.FormatUint(s, 10), -1)
		c.Command.Value = value
		all = append(all, c)
	}
	for i := 0; i < n; i += 500 {
		if err := l.Append(all[i : i+500]); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func() {
		t.Helper()
		got, err := l.Chosen(0, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("read back %d entries, want %d", len(got), n)
		}
		for i := range got {
			if got[i].Slot != uint64(i) || got[i].Command.Value != value {
				t.Fatalf("entry %d: slot %d, value of %d bytes", i, got[i].Slot, len(got[i].Command.Value))
			}
		}
	}
	// resident reads the whole file with unmapping held off, and checks
	// that the test can see the pages.
	resident := func() int64 {
		t.Helper()
		l.s.unmapped.Store(time.Now().Add(time.Hour).UnixNano())
		readAll()
		rss := mappedRSS(t, path)
		if rss < n*size/2 {
			t.Fatalf("after reading %d values of %d bytes, %d bytes of the file are resident: the test cannot see the unmapping", n, size, rss)
		}
		l.s.unmapped.Store(time.Now().Add(-unmapEvery).UnixNano())
		return rss
	}
	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"a commit", func() error { return l.Append([]replog.ChosenEntry{chosen(n, "last", -1)}) }},
		{"a read", func() error { _, err := l.Chosen(0, 1); return err }},
	} {
		before := resident()
		if err := c.do(); err != nil {
			t.Fatal(err)
		}
		if after := mappedRSS(t, path); after > 1<<20 {
			t.Fatalf("after %s past unmapEvery: %d bytes of the file still resident (before: %d), want at most 1 MiB", c.name, after, before)
		}
		readAll()
	}
}

// Opening a store leaves none of its file's pages resident: bbolt walks
// the whole file at open (NoFreelistSync), and a learner reads its request
// index; a learner restarted behind 8 million slots started at 387 MiB of
// file pages (#13's soak).
func TestStoreOpenLeavesNoPagesMapped(t *testing.T) {
	path := tempPath(t, "learner.db")
	l := mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	value := strings.Repeat("v", 4<<10)
	for i := uint64(0); i < 8000; i += 500 {
		batch := run(i, i+500)
		for j := range batch {
			batch[j].Command.Value = value
		}
		if err := l.Append(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	defer l.Close()
	if rss := mappedRSS(t, path); rss > 1<<20 {
		t.Errorf("%d KiB of the file resident right after open, want at most 1 MiB", rss>>10)
	}
	if s, ok, err := l.FirstSlot("r7999"); err != nil || !ok || s != 7999 {
		t.Errorf("FirstSlot(r7999) = %d, %v, %v after open", s, ok, err)
	}
}

// TestStoreKeepsItsFreeList: every commit writes bbolt's free list, so an
// open reads it instead of walking every page of the file to rebuild it (a
// learner restarted behind 8 million slots had 385 MiB of its file
// resident before it served a byte, #13). bbolt says so in the meta page
// of the last commit: its free-list page ID is not "none" (all ones).
func TestStoreKeepsItsFreeList(t *testing.T) {
	path := tempPath(t, "learner.db")
	l := mustOpen(t, OpenLearner, path, &Options{NoSync: true})
	for i := uint64(0); i < 4; i++ {
		if err := l.Append(run(i*100, (i+1)*100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The two meta pages (0 and 1): a 16-byte page header, then magic,
	// version, page size, flags (4 bytes each), the root bucket (16), the
	// free-list page ID (8), the high-water mark (8) and the txid (8).
	pageSize := int(binary.LittleEndian.Uint32(data[16+8:]))
	var freelist, txid uint64
	for p := range 2 {
		m := data[p*pageSize+16:]
		if binary.LittleEndian.Uint32(m) != 0xED0CDAED {
			t.Fatalf("page %d is not a bbolt meta page", p)
		}
		if tx := binary.LittleEndian.Uint64(m[48:]); tx >= txid {
			txid, freelist = tx, binary.LittleEndian.Uint64(m[32:])
		}
	}
	if freelist == math.MaxUint64 {
		t.Errorf("the last commit (txid %d) wrote no free list: an open walks the whole file", txid)
	}
}
