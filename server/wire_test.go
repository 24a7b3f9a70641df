package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// jsonShape lists the paths of every field of a JSON document, sorted:
// "a", "a.b" for an object in a, "a[].c" for the fields of a's elements,
// each with the JSON type of its value ("a:number", "a:null").
func jsonShape(t *testing.T, body string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v in %q", err, body)
	}
	seen := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		kind := "null"
		switch x := v.(type) {
		case map[string]any:
			kind = "object"
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, e)
			}
		case []any:
			kind = "array"
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			kind = "string"
		case float64:
			kind = "number"
		case bool:
			kind = "bool"
		}
		if path != "" {
			seen[path+":"+kind] = true
		}
	}
	walk("", v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestWireShapes pins the JSON shape (field names and types, nulls) of
// what each role answers, through real nodes: the bodies are built from the
// api types, and this checks they say what they said when they were maps.
func TestWireShapes(t *testing.T) {
	t.Parallel()
	type call struct {
		node               replog.ID // 0: a lone proposer that knows no leader
		method, path, body string
		status             int
		want               string // jsonShape, in any order
	}
	common := "alarms:array id:number name:string role:string"
	proposer := "acceptors_count:number chosen_slot:number highest_seen:number in_election:bool in_flight:number is_leader:bool learners_count:number " +
		"metrics.leader_changes:number metrics.proposals_chosen:number metrics.proposals_failed:number metrics.proposals_total:number " +
		"metrics:object next_slot:number pending:number proposal_counter:number proposal_number:number queued:number quorum:number state:string " + common
	acceptor := "accepted_count:number db_path:string db_size_bytes:number highest_promised_number:number logs:array logs[]:string metrics.accepts:number " +
		"metrics.promises:number metrics.rejections:number metrics:object promised:number state.max_accepted:number state.max_promised:number state:object voting:bool " + common
	// A ballot above any the cluster's proposers reach in the test, of
	// proposer 1, and one below it.
	high, low := replog.MakeBallot(1_000_000, 1), replog.MakeBallot(2, 1)
	const stopProposers = replog.ID(999) // a step of the table: stop the proposers
	calls := []call{
		{0, "GET", "/status", "", 200, proposer + " current_leader:null"},
		{0, "GET", "/view-logs", "", 200, proposer + " current_leader:null logs:array logs[]:string"},
		{0, "POST", "/propose", `{"value":"x","request_id":"r-1"}`, 409, "current_leader:null error:string request_id:string retry_suggested:bool"},
		{0, "PUT", "/health", "", 405, "allow:string error:string"},
		{0, "GET", "/nope", "", 404, "error:string"},
		{0, "GET", "/ready", "", 503, "error:string id:number name:string role:string status:string"},
		{bC, "GET", "/ready", "", 200, "id:number name:string role:string status:string"},
		{bP, "GET", "/health", "", 200, "id:number name:string role:string status:string uptime_seconds:number"},
		{bP, "GET", "/status", "", 200, proposer + " current_leader:number"},
		{bA, "GET", "/view-logs", "", 200, acceptor + " accepted_proposal.number:number accepted_proposal.slot:number accepted_proposal.value:string " +
			"accepted_proposal:object last_accepted_slot:number state.accepted_value:string"},
		{bL, "GET", "/view-logs", "", 200, common + " chosen_slot:number db_path:string db_size_bytes:number gaps:number learned_values_count:number logs:array " +
			"logs[]:string metrics.slots_learned:number metrics:object recent_learned_values:array recent_learned_values[].duplicate:bool " +
			"recent_learned_values[].noop:bool recent_learned_values[].proposal_number:null recent_learned_values[].request_id:string " +
			"recent_learned_values[].slot:number recent_learned_values[].value:string recent_learned_values[]:object"},
		{bL, "POST", "/learn", `{"notifications":[{"acceptor_id":4,"proposal_number":301,"slot":200000,"value":"x","client_id":9,"request_id":"9-1"}]}`, 200,
			"counted:bool learned:number processed:number status:string"},
		{bC, "GET", "/view-logs", "", 200, common + " current_leader:number logs:array logs[]:string metrics.failed:number metrics.notifications:number metrics.sent:number metrics:object responses:number"},
		{bC, "POST", "/notify", `{"entries":[{"slot":0,"value":"x","request_id":"9-1"}]}`, 200, "received:number status:string"},
		{bC, "GET", "/get-responses", "", 200, "count:number responses:array responses[].at:string responses[].learned:bool responses[].proposer_id:number " +
			"responses[].request_id:string responses[].slot:number responses[].status:string responses[].value:string responses[]:object"},
		{bC, "POST", "/send", `{"value":"z","request_id":"shape-2"}`, 200, "proposal_number:number proposer_id:number request_id:string slot:number status:string"},
		// The acceptor, with no proposer up: a promise needs an acceptor
		// that hears no leader (replog's leader lease).
		{stopProposers, "", "", "", 0, ""},
		{bA, "POST", "/prepare", fmt.Sprintf(`{"proposer_id":1,"proposal_number":%d,"from_slot":0}`, high), 200,
			"acceptor_id:number accepted:array chosen_watermark:number promised:number status:string"},
		{bA, "POST", "/prepare", fmt.Sprintf(`{"proposer_id":1,"proposal_number":%d,"from_slot":0}`, low), 200, "acceptor_id:number promised:number status:string"},
		{bA, "POST", "/accept", fmt.Sprintf(`{"proposer_id":1,"proposal_number":%d,"entries":[{"slot":100000,"value":"x","client_id":9,"request_id":"9-1"}]}`, high), 200,
			"acceptor_id:number promised:number proposal_number:number slots:array slots[]:number status:string"},
		{bA, "POST", "/accept", fmt.Sprintf(`{"proposer_id":1,"proposal_number":%d,"entries":[{"slot":100001,"value":"y"}]}`, low), 200, "acceptor_id:number promised:number status:string"},
	}
	_, lone, _ := loneNode(t, RoleProposer, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	c := newTestCluster(t)
	c.waitHealthy()
	c.leader()
	if _, err := c.send(bC, "first", "shape-1"); err != nil {
		t.Fatal(err)
	}
	c.eventually(10*time.Second, func() error {
		if es, _ := c.values(bL, ""); len(es) == 0 {
			return fmt.Errorf("learner1 has not learned the first value")
		}
		return nil
	})
	for _, cl := range calls {
		if cl.node == stopProposers {
			for _, p := range c.cfg.Proposers {
				c.stop(p.ID)
			}
			first := fmt.Sprintf(`{"proposer_id":1,"proposal_number":%d,"from_slot":0}`, high-100)
			c.eventually(10*time.Second, func() error {
				if _, body := httpDo("POST", c.addr(bA)+"/prepare", first); !strings.Contains(body, `"promise"`) {
					return fmt.Errorf("acceptor1 does not promise yet: %s", body)
				}
				return nil
			})
			continue
		}
		url := "http://" + lone + cl.path
		if cl.node != 0 {
			url = c.addr(cl.node) + cl.path
		}
		status, body := httpDo(cl.method, url, cl.body)
		if status != cl.status {
			t.Errorf("%s %s on %d: status %d, want %d: %s", cl.method, cl.path, cl.node, status, cl.status, body)
			continue
		}
		want := strings.Fields(cl.want)
		slices.Sort(want)
		shape := jsonShape(t, body)
		if cl.path == "/prepare" {
			// Whether a promise lists entries depends on what the acceptor
			// knew was chosen; Entry's own shape is api's golden test's.
			shape = slices.DeleteFunc(shape, func(f string) bool { return strings.HasPrefix(f, "accepted[]") })
		}
		if got := strings.Join(shape, " "); got != strings.Join(want, " ") {
			t.Errorf("%s %s on %d %s: shape\n got %s\nwant %s\nbody %s", cl.method, cl.path, cl.node, cl.body, got, strings.Join(want, " "), body)
		}
	}
}
