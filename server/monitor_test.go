package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
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
		for _, want := range []string{"paxos_fsync_duration_seconds_count{", "paxos_accepted_slots{", "paxos_compacted_slot{", "paxos_db_size_bytes{"} {
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

// TestMonitorDebugNeedsSecretOffLoopback: pprof and the trace answer anyone
// on loopback, and from any other address only with the cluster secret;
// the metrics and the status page stay open.
func TestMonitorDebugNeedsSecretOffLoopback(t *testing.T) {
	const secret = "s3cret-monitor"
	srv, addr, logs := loneNode(t, RoleAcceptor, func(c *Config) { c.Secret = secret })
	// Serving (gossip started) before the handler runs, as on a node.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, _ := reply(http.Get("http://" + addr + "/health")); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node does not answer GET /health")
		}
	}
	h := srv.monitorHandler()
	ask := func(path, remote, bearer string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/symbol", "/trace", "/trace?slot=0"} {
		if got := ask(path, "127.0.0.1:4000", ""); got != http.StatusOK {
			t.Errorf("GET %s from loopback: %d, want 200", path, got)
		}
		if got := ask(path, "[::1]:4000", ""); got != http.StatusOK {
			t.Errorf("GET %s from ::1: %d, want 200", path, got)
		}
		for _, bearer := range []string{"", "wrong"} {
			if got := ask(path, "172.18.0.1:4000", bearer); got != http.StatusUnauthorized {
				t.Errorf("GET %s from 172.18.0.1 with bearer %q: %d, want 401", path, bearer, got)
			}
		}
		if got := ask(path, "172.18.0.1:4000", secret); got != http.StatusOK {
			t.Errorf("GET %s from 172.18.0.1 with the secret: %d, want 200", path, got)
		}
	}
	for _, path := range []string{"/metrics", "/", "/status.json"} {
		if got := ask(path, "172.18.0.1:4000", ""); got != http.StatusOK {
			t.Errorf("GET %s from 172.18.0.1: %d, want 200 (open)", path, got)
		}
	}
	waitLog(t, logs, "refused a debug request", "172.18.0.1")
	if strings.Contains(logs.String(), "wrong") {
		t.Errorf("a refused bearer token is in the log:\n%s", logs)
	}

	// TraceAllowFrom (Compose: the status page opened on the host asks
	// through the bridge's gateway) opens the trace to those networks only,
	// and never pprof.
	srv.cfg.TraceAllowFrom = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}
	h = srv.monitorHandler()
	for _, path := range []string{"/trace", "/trace?slot=0"} {
		if got := ask(path, "172.18.0.1:4000", ""); got != http.StatusOK {
			t.Errorf("GET %s from 172.18.0.1 in TraceAllowFrom: %d, want 200", path, got)
		}
		if got := ask(path, "10.0.0.7:4000", ""); got != http.StatusUnauthorized {
			t.Errorf("GET %s from 10.0.0.7, not in TraceAllowFrom: %d, want 401", path, got)
		}
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/symbol"} {
		if got := ask(path, "172.18.0.1:4000", ""); got != http.StatusUnauthorized {
			t.Errorf("GET %s from 172.18.0.1 in TraceAllowFrom: %d, want 401 (pprof always needs the secret)", path, got)
		}
	}
}
