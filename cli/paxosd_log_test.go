package cli

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestPaxosdJSONLogs runs paxosd (a proposer whose peers are all at an
// address nothing answers on) for about a second with LOG_FORMAT=json at
// debug level: every line it writes is one JSON object naming the node and
// its role, the proposer's state changes carry its ballot, and the cluster
// secret shows nowhere.
func TestPaxosdJSONLogs(t *testing.T) {
	clearPaxosdEnv(t)
	const secret = "json-log-test-secret-5f1d"
	nowhere := "127.0.0.1:1" // a port nothing listens on: nothing leaves the test
	env := map[string]string{"LOG_FORMAT": "json", "LOG_LEVEL": "debug", "CLUSTER_SECRET": secret,
		"PROPOSERS": "1@" + nowhere + ",2@" + nowhere + ",3@" + nowhere, "ACCEPTORS": "4@" + nowhere + ",5@" + nowhere + ",6@" + nowhere,
		"LEARNERS": "7@" + nowhere + ",8@" + nowhere, "CLIENTS": "9@" + nowhere + ",10@" + nowhere}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out syncBuffer
	app := PaxosdApp()
	app.Writer, app.ErrWriter = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := app.RunContext(ctx, []string{"paxosd", "--id", "1", "--listen", "127.0.0.1:0", "--monitor-port", "0",
		"--gossip-bind", "127.0.0.1", "--gossip-port", freePort(t), "--data-dir", t.TempDir(), "--tick", "10ms"})
	if err != nil {
		t.Fatalf("paxosd: %v\n%s", err, out.String())
	}

	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	var ballots, msgs []string
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not a JSON object (%v): %s", i+1, err, line)
		}
		if rec["node"] != "proposer1" || rec["role"] != "proposer" {
			t.Errorf("line %d lacks node=proposer1 role=proposer: %s", i+1, line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, k, line)
			}
		}
		if rec["msg"] == "proposer state" {
			if b, ok := rec["ballot"].(float64); ok && b > 0 {
				ballots = append(ballots, strconv.FormatFloat(b, 'f', -1, 64))
			}
		}
		msgs = append(msgs, rec["msg"].(string))
	}
	// The node started, campaigned (ticks of 10 ms: an election timeout is
	// well under a second) and stopped on the cancelled context.
	for _, want := range []string{"starting paxosd", "node started", "proposer state", "stopped"} {
		found := false
		for _, m := range msgs {
			found = found || m == want
		}
		if !found {
			t.Errorf("no %q line in %d lines: %q", want, len(lines), msgs)
		}
	}
	if len(ballots) == 0 {
		t.Errorf("no proposer state line with a ballot:\n%s", out.String())
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("the log shows the cluster secret:\n%s", out.String())
	}
	t.Logf("%d JSON lines, ballots %v", len(lines), ballots)
}
