package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/server"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files of the trace tests (testdata/*.golden)")

// TestTraceGolden merges a recorded trace (testdata/trace-*.json: what
// every node of an in-process cluster answered to GET /trace, recorded by
// server's TestTraceOfALiveSlot with PAXOS_TRACE_RECORD) and checks the
// merged order and the diagram against testdata/trace-*.golden. After a
// change meant to alter them: go test ./cli -run TestTraceGolden -rewrite,
// then read the diff.
func TestTraceGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/trace-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded trace in testdata (%v)", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Slot     *uint64                `json:"slot"`
				Election bool                   `json:"election"`
				Traces   []server.GatheredTrace `json:"traces"`
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			var m server.MergedTrace
			if rec.Election {
				b, ok := server.ElectionBallot(rec.Traces)
				if !ok {
					t.Fatal("no prepare in the recorded election")
				}
				m = server.MergeTraces(server.ElectionEvents(rec.Traces), nil)
				m.Ballot = b
			} else {
				m = server.MergeTraces(rec.Traces, rec.Slot)
			}
			var got bytes.Buffer
			got.WriteString(renderTrace(m))
			got.WriteString("\n")
			p := &printer{format: formatSimple, w: &got}
			if err := p.print(result{Header: []string{"AT", "NODE", "KIND", "TYPE", "FROM", "TO", "BALLOT", "SLOTS", "N", "SIZE", "NOTE"},
				Rows: traceRows(m)}); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (make it with -rewrite)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s (rerun with -rewrite if the change is meant):\n%s", in, golden, lineDiff(string(want), got.String()))
			}
		})
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "-"+a, "+"+b)
		}
	}
	return strings.Join(out, "\n")
}

// TestTraceCommand runs paxosctl trace against nodes that serve the
// recorded traces (on their API port: the monitor port of each is closed,
// so the command falls back) and checks the diagram and the JSON.
func TestTraceCommand(t *testing.T) {
	data, err := os.ReadFile("testdata/trace-slot.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Slot   uint64                 `json:"slot"`
		Traces []server.GatheredTrace `json:"traces"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	type node struct {
		tr  server.NodeTrace
		srv *httptest.Server
	}
	nodes := make([]*node, len(rec.Traces))
	gossip := map[string]any{}
	total := 0
	for i, tr := range rec.Traces {
		n := &node{tr: tr.NodeTrace}
		total += len(tr.Events)
		n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/gossip/nodes":
				writeJSONTest(w, 200, map[string]any{"nodes": gossip})
			case "/trace":
				if got := r.URL.Query().Get("slot"); got != strconv.FormatUint(rec.Slot, 10) {
					writeJSONTest(w, 400, map[string]any{"error": "unexpected slot " + got})
					return
				}
				writeJSONTest(w, 200, n.tr)
			default:
				writeJSONTest(w, 404, map[string]any{"error": "no " + r.URL.Path})
			}
		}))
		t.Cleanup(n.srv.Close)
		host, port, _ := net.SplitHostPort(n.srv.Listener.Addr().String())
		p, _ := strconv.Atoi(port)
		gossip[fmt.Sprint(tr.Node.ID)] = map[string]any{"id": tr.Node.ID, "name": tr.Node.Name, "role": tr.Node.Role,
			"address": host, "port": p, "state": "alive"}
		nodes[i] = n
	}
	closed := closedAddr(t)
	old := traceMonitorAddr
	traceMonitorAddr = func(ctlNode) string { return closed }
	t.Cleanup(func() { traceMonitorAddr = old })
	ep := nodes[len(nodes)-1].srv.Listener.Addr().String()

	out, errOut, code := ctlRun(t, "", "--endpoints", ep, "trace", strconv.FormatUint(rec.Slot, 10))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{fmt.Sprintf("slot %d ·", rec.Slot), "Accept b", "Accepted b", "Learn b", "Chosen", "◆ quorum", "✓", "★", "persist 1 accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagram has no %q:\n%s", want, out)
		}
	}
	out, errOut, code = ctlRun(t, "", "--endpoints", ep, "-w", "json", "trace", strconv.FormatUint(rec.Slot, 10))
	if code != 0 {
		t.Fatalf("-w json: exit %d: %s", code, errOut)
	}
	var m server.MergedTrace
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("-w json: %v\n%s", err, out)
	}
	if len(m.Events) != total || len(m.Nodes) != len(rec.Traces) {
		t.Fatalf("-w json: %d events of %d nodes, want %d of %d", len(m.Events), len(m.Nodes), total, len(rec.Traces))
	}
	for i, e := range m.Events {
		if e.Kind == server.TraceRecv && (e.Peer < 0 || e.Peer > i) {
			t.Errorf("event %d (%s received by %d) has its send at %d", i, e.Type, e.Node, e.Peer)
		}
	}
	// Bad input is status 3.
	if _, _, code := ctlRun(t, "", "--endpoints", ep, "trace", "x"); code != exitBadInput {
		t.Errorf("trace x: exit %d, want %d", code, exitBadInput)
	}
	if _, _, code := ctlRun(t, "", "--endpoints", ep, "trace", "1", "--election"); code != exitBadInput {
		t.Errorf("trace 1 --election: exit %d, want %d", code, exitBadInput)
	}
}
