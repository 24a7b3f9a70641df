package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/server/servertest"
)

// bench over client streams against a real cluster, both targets: every
// operation succeeds and the report says it went over streams.
func TestBenchStream(t *testing.T) {
	c := servertest.Start(t, nil)
	eps := strings.Join(servertest.Addrs(c.Config.Peers()), ",")
	for _, target := range []string{"proposer", "client"} {
		out, errOut, code := ctlRun(t, "", "--endpoints", eps, "-w", "json",
			"bench", "--clients", "8", "--total", "200", "--target", target, "--protocol", "stream")
		var r benchReport
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("bench --target %s --protocol stream: code %d, stdout %q, stderr %q", target, code, out, errOut)
		}
		if r.OK != 200 || r.Failed != 0 || len(r.Errors) != 0 || !strings.HasSuffix(r.Via, " over client streams") || r.Latency.P50 <= 0 {
			t.Fatalf("bench --target %s --protocol stream: %+v", target, r)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := len(c.Log(0))
		if n == 400 {
			break
		}
		if n > 400 || time.Now().After(deadline) {
			t.Fatalf("%d entries in the log, want the 400 of both runs", n)
		}
	}
}
