package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// TestMonitorShowsMetricsAndStatus checks the monitor port of a leader: the
// metrics move under writes and the status page's JSON names the leader.
func TestMonitorShowsMetricsAndStatus(t *testing.T) {
	c := newTestCluster(t)
	leader := c.leader()
	c.mu.Lock()
	srv := c.nodes[leader].srv
	acc := c.nodes[4].srv
	c.mu.Unlock()
	mon := httptest.NewServer(srv.monitorHandler())
	defer mon.Close()
	accMon := httptest.NewServer(acc.monitorHandler())
	defer accMon.Close()

	for i := range 5 {
		if _, err := c.send(9, "m"+string(rune('a'+i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	_, metrics := httpDo(http.MethodGet, mon.URL+"/metrics", "")
	for _, want := range []string{"paxos_is_leader{", "paxos_ballot{", "paxos_chosen_slot{", "paxos_leader_changes_total{",
		"paxos_commit_latency_seconds_bucket{", `paxos_proposals_total{`, "go_goroutines", "paxos_peers{"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("leader /metrics lacks %s", want)
		}
	}
	c.eventually(5*time.Second, func() error {
		_, am := httpDo(http.MethodGet, accMon.URL+"/metrics", "")
		for _, want := range []string{"paxos_fsync_duration_seconds_count{", "paxos_accepted_slots{", "paxos_db_size_bytes{"} {
			if !strings.Contains(am, want) {
				return &testError{"acceptor /metrics lacks " + want}
			}
		}
		return nil
	})
	code, page := httpDo(http.MethodGet, mon.URL+"/", "")
	if code != 200 || !strings.Contains(page, "<title>paxos node</title>") {
		t.Fatalf("status page: %d", code)
	}
	code, js := httpDo(http.MethodGet, mon.URL+"/status.json", "")
	if code != 200 || !strings.Contains(js, `"leader_id":`+itoa(leader)) {
		t.Fatalf("status.json: %d %s", code, js)
	}
}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

func itoa(id replog.ID) string { return strconv.Itoa(int(id)) }
