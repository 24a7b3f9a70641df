package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// learnerReads is the longest log that the reads of a learner showed.
type learnerReads struct {
	slot   int64  // highest slot shown (-1: none)
	values uint64 // highest count of client values shown
}

// readLearner reads the learner node s the ways a user or another node can
// (/get-values, /view-logs, the status page, metrics, gossip metadata, a
// wait for the log to reach a slot) and adds what they showed to shown.
func readLearner(t *testing.T, s *Server, shown *learnerReads) {
	t.Helper()
	get := func(h http.Handler, path string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if s, ok := v.(*string); ok {
			*s = rec.Body.String()
		} else if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	see := func(slot int64, values uint64) {
		shown.slot, shown.values = max(shown.slot, slot), max(shown.values, values)
	}
	var page api.ValuesPage
	get(s.Handler(), "/get-values", &page)
	see(page.ChosenSlot, page.TotalCount)
	see(int64(page.NextFrom)-1, uint64(len(page.Values)))
	for _, e := range page.Entries {
		see(int64(e.Slot), 0)
	}
	type view struct {
		ChosenSlot int64  `json:"chosen_slot"`
		Values     uint64 `json:"learned_values_count"`
		Recent     []struct {
			Slot int64 `json:"slot"`
		} `json:"recent_learned_values"`
	}
	var logs view
	var status struct{ Node view }
	get(s.Handler(), "/view-logs", &logs)
	get(s.monitorHandler(), "/status.json", &status)
	for _, v := range []view{logs, status.Node} {
		see(v.ChosenSlot, v.Values)
		for _, e := range v.Recent {
			see(e.Slot, 0)
		}
	}
	var metrics string
	get(s.monitorHandler(), "/metrics", &metrics)
	for _, line := range strings.Split(metrics, "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "paxos_chosen_slot") {
			slot, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			see(int64(slot), 0)
		}
	}
	see(s.gossipMeta().Chosen, 0)
	// A linearizable read waits for the log to reach the read index: the
	// log it then serves holds that slot.
	next := uint64(shown.slot + 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.role.(*learnerRole).waitCommit(ctx, next); err == nil {
		see(int64(next)-1, 0)
	} else if !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
}

// crashedLearner returns what the learner node s would come back with if it
// were killed now: its bbolt file as it is (a SIGKILL keeps what was
// written, and the buffer of the store is gone), opened as a copy.
func crashedLearner(t *testing.T, s *Server) (commit, values uint64) {
	t.Helper()
	data, err := os.ReadFile(s.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "learner.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := storage.OpenLearner(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := l.Stats()
	return st.Commit, st.Values
}

// TestLearnerServesOnlyDurable: a learner takes chosen entries into its
// store's memory buffer at once and writes them at the Sync of its next
// tick. No read may show them before: a crash would take them back, and a
// reader who saw chosen_slot 4 would then see -1 (issue 11, finding 8: seen
// as chosen_slot 2204, then 2199 after a SIGKILL and restart). After the
// Sync the reads show them.
func TestLearnerServesOnlyDurable(t *testing.T) {
	// No ticks unless the test runs one: nothing is synced until then.
	s := offlineNode(t, RoleLearner, func(c *Config) { c.Tick = time.Hour })
	const n = 5
	var msgs []replog.Message
	for _, a := range s.cfg.Acceptors[:2] { // a quorum of the three
		for slot := range uint64(n) {
			msgs = append(msgs, replog.Message{Type: replog.MsgLearn, From: a.ID, To: s.cfg.ID,
				Entries: []replog.Entry{{Slot: slot, Ballot: 101, Command: replog.Command{
					ClientID: 9, RequestID: fmt.Sprintf("9-%d", slot), Value: fmt.Sprintf("v%d", slot)}}}})
		}
	}
	if err := s.drv.step(msgs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var c uint64
		if err := s.drv.call(context.Background(), func() { c = s.role.(*learnerRole).core.Commit() }); err != nil {
			t.Fatal(err)
		}
		if c == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner chose %d slots, want %d", c, n)
		}
		time.Sleep(time.Millisecond)
	}

	shown := learnerReads{slot: -1}
	readLearner(t, s, &shown)
	commit, values := crashedLearner(t, s)
	if shown.slot >= int64(commit) || shown.values > values {
		t.Errorf("before the sync the reads showed slot %d and %d values; a crash keeps %d slots and %d values",
			shown.slot, shown.values, commit, values)
	}

	// The tick's Sync makes them durable, and then they are served.
	if err := s.drv.do(s.drv.onTick); err != nil {
		t.Fatal(err)
	}
	// One readLearner call reads several endpoints one after the other, and
	// the sync can land between two of them: wait until the reads have
	// shown both the slot and the values. The wait gets a deadline of its
	// own: the first one also paid for the steps and the copy of the store.
	deadline = time.Now().Add(5 * time.Second)
	for shown.slot < n-1 || shown.values < n {
		if time.Now().After(deadline) {
			t.Fatalf("after the sync the reads show slot %d and %d values, want %d and %d", shown.slot, shown.values, n-1, n)
		}
		time.Sleep(time.Millisecond)
		readLearner(t, s, &shown)
	}
	commit, values = crashedLearner(t, s)
	if shown.slot >= int64(commit) || shown.values > values || shown.values != n {
		t.Errorf("after the sync the reads showed slot %d and %d values; a crash keeps %d slots and %d values (want %d)",
			shown.slot, shown.values, commit, values, n)
	}
}
