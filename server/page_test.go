package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// bigLog writes a learner store in dir holding n client values of size
// bytes each (value i is a run of one letter, so pages can be checked), with
// a no-op and a retried duplicate among them, and returns the values in
// log order.
func bigLog(t *testing.T, dir string, n, size int) []string {
	t.Helper()
	l, err := storage.OpenLearner(filepath.Join(dir, string(RoleLearner)+".db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var log []replog.ChosenEntry
	var want []string
	for i := range n {
		v := strings.Repeat(string(rune('a'+i%26)), size-3) + fmt.Sprintf("%03d", i)
		log = append(log, replog.ChosenEntry{Entry: replog.Entry{Slot: uint64(len(log)),
			Command: replog.Command{ClientID: 9, RequestID: fmt.Sprintf("9-%d", i), Value: v}}, FirstSlot: uint64(len(log))})
		want = append(want, v)
		switch i {
		case n / 3: // a no-op
			log = append(log, replog.ChosenEntry{Entry: replog.Entry{Slot: uint64(len(log))}, FirstSlot: uint64(len(log))})
		case n / 2: // a retried copy of the value before: not served
			first := log[len(log)-1]
			log = append(log, replog.ChosenEntry{Entry: replog.Entry{Slot: uint64(len(log)), Command: first.Command},
				Dup: true, FirstSlot: first.Slot})
		}
	}
	if err := l.Append(log); err != nil {
		t.Fatal(err)
	}
	return want
}

// readPages follows next_from through GET path (/get-values or /read) on h
// from slot 0 to the end of the log, checks that every page holds at most
// maxPageBytes of values plus one value, and returns the values and the
// number of pages.
func readPages(t *testing.T, h http.Handler, path string, valueSize int) ([]string, int) {
	t.Helper()
	var got []string
	from, pages := uint64(0), 0
	for {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("%s?from=%d", path, from), nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s?from=%d: %d %.200s", path, from, rec.Code, rec.Body)
		}
		var p api.ValuesPage
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pages++
		bytes := 0
		for _, v := range p.Values {
			bytes += len(v)
		}
		if bytes > maxPageBytes+valueSize {
			t.Fatalf("GET %s?from=%d: a page of %d values, %d bytes: more than the limit %d plus one value (%d)",
				path, from, len(p.Values), bytes, maxPageBytes, valueSize)
		}
		if len(p.Entries) != len(p.Values) || p.ReturnedCount != len(p.Values) {
			t.Fatalf("GET %s?from=%d: %d values, %d entries, returned_count %d", path, from, len(p.Values), len(p.Entries), p.ReturnedCount)
		}
		got = append(got, p.Values...)
		if p.NextFrom <= from {
			if int64(p.NextFrom) <= p.ChosenSlot {
				t.Fatalf("GET %s?from=%d: next_from %d does not move, chosen_slot %d", path, from, p.NextFrom, p.ChosenSlot)
			}
			return got, pages
		}
		from = p.NextFrom
		if pages > 1000 {
			t.Fatal("more than 1000 pages")
		}
	}
}

// TestGetValuesPagesByBytes: a log of big values is served in pages bounded
// in bytes (maxPageBytes plus at most one value), not one answer of the
// whole log (issue 13: 150 values of 512 KiB made a 157 MB answer and a
// learner of 718 MiB), and following next_from gives every value in
// order. The client node's /read serves the same pages.
func TestGetValuesPagesByBytes(t *testing.T) {
	const n, size = 40, 512 << 10
	var want []string
	learner := offlineNode(t, RoleLearner, func(c *Config) { want = bigLog(t, c.DataDir, n, size) })

	rec := httptest.NewRecorder()
	learner.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/get-values?limit=100000", nil))
	var first api.ValuesPage
	if err := json.Unmarshal(rec.Body.Bytes(), &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Values) >= n || first.NextFrom == 0 || int64(first.NextFrom) > first.ChosenSlot {
		t.Fatalf("/get-values?limit=100000 on %d values of %d KiB: %d values, next_from %d, chosen_slot %d; want a page bounded in bytes with next_from inside the log",
			n, size>>10, len(first.Values), first.NextFrom, first.ChosenSlot)
	}

	check := func(path string, h http.Handler) {
		got, pages := readPages(t, h, path, size)
		if len(got) != len(want) {
			t.Fatalf("%s: %d values in %d pages, want %d", path, len(got), pages, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: value %d is %q..., want %q...", path, i, got[i][len(got[i])-3:], want[i][len(want[i])-3:])
			}
		}
		t.Logf("%s: %d values of %d KiB in %d pages", path, n, size>>10, pages)
	}
	check("/get-values", learner.Handler())

	srv := httptest.NewServer(learner.Handler())
	defer srv.Close()
	client := offlineNode(t, RoleClient, func(c *Config) {
		c.RequestTimeout = time.Minute // pages of 4 MiB under -race on a busy machine
		for i := range c.Learners {
			c.Learners[i].Addr = srv.Listener.Addr().String()
		}
	})
	check("/read", client.Handler())
}
