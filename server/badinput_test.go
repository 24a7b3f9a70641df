package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// The bad-input suite (SPEC §4-§5): every endpoint of every role gets
// malformed, mistyped, oversized and misrouted requests. Every answer must be
// a 4xx with a JSON {"error": ...} body, or a 2xx where the input is valid;
// never a 5xx, never a panic; and the cluster must still take and serve a
// write afterwards.

// The nodes of the standard topology the table talks to.
const (
	bP replog.ID = 1 // proposer1
	bA replog.ID = 4 // acceptor1
	bL replog.ID = 7 // learner1
	bC replog.ID = 9 // client1
	// bLead is whichever proposer leads, resolved when the table runs
	// (a batch is proposed at the leader only; a follower answers 409).
	bLead replog.ID = 0
	// bFollow is a proposer that does not lead, resolved with bLead.
	bFollow replog.ID = 99
)

// badMaxValue is the value limit of the table's cluster: small, so that
// values at the limit are quick to replicate.
const badMaxValue = 64 << 10

// hugeBody is the size of the bodies that must be refused without being read.
const hugeBody = 70 << 20

// badCase is one request of the table.
type badCase struct {
	name   string
	node   replog.ID
	method string
	path   string
	body   string
	// huge, when set, replaces body with a streamed hugeBody-byte body that
	// is never held in memory; chunked sends it without a Content-Length.
	// Unless mayRead is set, a huge body with a Content-Length must be
	// refused before it is read.
	huge, chunked, mayRead bool
	header                 map[string]string
	want                   int
}

// badResult is what a badCase got.
type badResult struct {
	status int
	header http.Header
	body   []byte
	sent   int64 // body bytes the HTTP client pulled from a huge body
}

// hugeReader streams n bytes of `{"value":"aaaa...` and counts what was read.
type hugeReader struct {
	n    int64
	read atomic.Int64
}

var hugeFill = bytes.Repeat([]byte{'a'}, 64<<10)

func (h *hugeReader) Read(p []byte) (int, error) {
	const prefix = `{"value":"`
	done := h.read.Load()
	if done >= h.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), h.n-done)]
	k := 0
	if done < int64(len(prefix)) {
		k = copy(p, prefix[done:])
	}
	for k < len(p) {
		k += copy(p[k:], hugeFill)
	}
	h.read.Add(int64(k))
	return k, nil
}

// badHTTP has room for the slow answers (70 MiB bodies under -race).
var badHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *testCluster) do(bc badCase) (badResult, error) {
	var body io.Reader = strings.NewReader(bc.body)
	var hr *hugeReader
	if bc.huge {
		hr = &hugeReader{n: hugeBody}
		body = hr
	}
	req, err := http.NewRequest(bc.method, c.addr(bc.node)+bc.path, body)
	if err != nil {
		return badResult{}, err
	}
	switch {
	case bc.huge && bc.chunked:
		req.ContentLength = -1
	case bc.huge:
		req.ContentLength = hugeBody
	case bc.body == "":
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if bc.body != "" || bc.huge {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range bc.header {
		req.Header.Set(k, v)
	}
	resp, err := badHTTP.Do(req)
	if err != nil {
		return badResult{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return badResult{}, err
	}
	res := badResult{status: resp.StatusCode, header: resp.Header, body: data}
	if hr != nil {
		res.sent = hr.read.Load()
	}
	return res, nil
}

// checkAnswer reports what is wrong with an answer: a 5xx, a 4xx without a
// JSON error body, a 405 without Allow, a 2xx body that is not JSON.
func checkAnswer(method string, res badResult) error {
	ct := res.header.Get("Content-Type")
	switch {
	case res.status >= 500:
		return fmt.Errorf("server error %d: %s", res.status, res.body)
	case res.status >= 400:
		if !strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("%d with Content-Type %q, want application/json", res.status, ct)
		}
		if method == http.MethodHead {
			break // no body to check
		}
		var e map[string]any
		if err := json.Unmarshal(res.body, &e); err != nil {
			return fmt.Errorf("%d body is not JSON: %v: %q", res.status, err, res.body)
		}
		if s, ok := e["error"].(string); !ok || s == "" {
			return fmt.Errorf("%d body has no \"error\" string: %s", res.status, res.body)
		}
		if res.status == http.StatusMethodNotAllowed && e["allow"] != res.header.Get("Allow") {
			return fmt.Errorf("405 body allow %v, header Allow %q", e["allow"], res.header.Get("Allow"))
		}
	case res.status >= 200 && res.status < 300 && len(res.body) > 0:
		if !json.Valid(res.body) {
			return fmt.Errorf("%d body is not JSON: %q", res.status, res.body)
		}
	}
	if res.status == http.StatusMethodNotAllowed && res.header.Get("Allow") == "" {
		return fmt.Errorf("405 without an Allow header")
	}
	return nil
}

// postEndpoints are the JSON endpoints, each with a valid body (answered
// 2xx) and the 2xx status it gets.
var postEndpoints = []struct {
	node  replog.ID
	path  string
	valid string
	ok    int
}{
	{bP, "/propose", `{"value":"valid-propose","client_id":9,"bogus":{"x":[1,2]}}`, 200},
	{bLead, batchPath, `{"commands":[{"value":"valid-batch","client_id":9,"bogus":1}],"bogus":{}}`, 200},
	{bA, "/prepare", `{"proposer_id":1,"proposal_number":1,"from_slot":0,"bogus":true}`, 200},
	{bA, "/accept", `{"proposer_id":1,"proposal_number":1,"entries":[],"chosen_slot":-1,"bogus":[]}`, 200},
	{bL, "/learn", `{"notifications":[],"bogus":"x"}`, 200},
	{bC, "/send", `{"value":"valid-send","bogus":null}`, 200},
	{bC, "/notify", `{"entries":[],"bogus":1}`, 200},
	{bP, "/gossip", `{"sender_id":1,"nodes":{},"bogus":1}`, 200},
	{bA, "/gossip", `{"sender_id":1,"nodes":{}}`, 200},
	{bL, "/gossip", `{"nodes":{}}`, 200},
	{bC, "/gossip", `{}`, 200},
	{bP, messagesPath, `[]`, 204},
	{bA, messagesPath, `[]`, 204},
	{bL, messagesPath, `[]`, 204},
	{bC, messagesPath, `[]`, 204},
}

// genericBodyCases are the bad bodies every JSON endpoint must refuse.
func genericBodyCases() []badCase {
	var out []badCase
	for _, ep := range postEndpoints {
		var hdr map[string]string
		if ep.path == messagesPath {
			hdr = map[string]string{fromHeader: "1"} // the sender, proposer1
		}
		add := func(name, body string, want int) {
			out = append(out, badCase{name: name, node: ep.node, method: http.MethodPost, path: ep.path, body: body, header: hdr, want: want})
		}
		notObject := http.StatusBadRequest
		if ep.path == messagesPath {
			add("json object instead of array", `{}`, 400)
			notObject = ep.ok // [] is the valid batch
		}
		add("valid, unknown fields ignored", ep.valid, ep.ok)
		add("malformed JSON", `{"value":`, 400)
		add("malformed JSON (bare key)", `{value:"x"}`, 400)
		add("empty body", ``, 400)
		add("whitespace body", " \n\t ", 400)
		add("JSON array", `[]`, notObject)
		add("JSON array of objects", `[{}]`, 400)
		add("JSON string", `"hello"`, 400)
		add("JSON number", `5`, 400)
		add("JSON bool", `true`, 400)
		add("JSON null", `null`, 400)
		add("trailing object", ep.valid+` {}`, 400)
		add("trailing ]", ep.valid+`]`, 400)
		add("trailing }", ep.valid+`}`, 400)
		add("trailing garbage", ep.valid+`x`, 400)
		add("UTF-8 BOM", "\xef\xbb\xbf"+ep.valid, 400)
		add("invalid UTF-8 in a string", `{"bogus":"`+"\xff\xfe"+`","value":"x`+"\xc3"+`"}`, 400)
		add("nesting deeper than the decoder allows", `{"bogus":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`, 400)
		out = append(out,
			badCase{name: "70 MiB body with Content-Length", node: ep.node, method: http.MethodPost, path: ep.path, huge: true, header: hdr, want: 413})
		// A chunked body is read up to the limit, 64 MiB for messages: once
		// is enough for the handler every role shares.
		if ep.path != messagesPath || ep.node == bA {
			out = append(out, badCase{name: "70 MiB body, chunked", node: ep.node, method: http.MethodPost, path: ep.path,
				huge: true, chunked: true, header: hdr, want: 413})
		}
	}
	return out
}

// valueCases are the value rules of SPEC §4 on /propose and /send.
func valueCases() []badCase {
	exact := strings.Repeat("v", badMaxValue)
	// A value of exactly the limit as Python's json.dumps (ensure_ascii)
	// writes it: 2-byte characters escaped as \u00e9 (3x the value).
	escaped := strings.Repeat(`\u00e9`, badMaxValue/2)
	// The worst case: 1-byte control characters escaped as \u0001 (6x).
	control := strings.Repeat(`\u0001`, badMaxValue)
	var out []badCase
	for _, ep := range []struct {
		node replog.ID
		path string
	}{{bP, "/propose"}, {bC, "/send"}} {
		add := func(name, body string, want int) {
			out = append(out, badCase{name: name, node: ep.node, method: http.MethodPost, path: ep.path, body: body, want: want})
		}
		add("no value", `{}`, 400)
		add("only client_id", `{"client_id":9}`, 400)
		add("value: 5", `{"value":5}`, 400)
		add("value: null", `{"value":null}`, 400)
		add("value: {}", `{"value":{}}`, 400)
		add("value: []", `{"value":["a"]}`, 400)
		add("value: true", `{"value":true}`, 400)
		add(`value: ""`, `{"value":""}`, 400)
		add(`client_id: "x"`, `{"value":"v","client_id":"x"}`, 400)
		add("client_id: -1", `{"value":"v","client_id":-1}`, 400)
		add("client_id: 1.5", `{"value":"v","client_id":1.5}`, 400)
		add("client_id: 1e400", `{"value":"v","client_id":1e400}`, 400)
		add("client_id: 2^64", `{"value":"v","client_id":18446744073709551616}`, 400)
		add("request_id: 5", `{"value":"v","request_id":5}`, 400)
		add("request_id of 257 bytes", `{"value":"v","request_id":"`+strings.Repeat("r", 257)+`"}`, 400)
		add("duplicate key, second mistyped", `{"value":"v","value":5}`, 400)
		add("invalid UTF-8 in value", `{"value":"abc`+"\xff"+`"}`, 400)
		add("truncated UTF-8 sequence in value", `{"value":"`+"\xe2\x82"+`"}`, 400)
		add("value of exactly MaxValueBytes", `{"value":"`+exact+`"}`, 200)
		add("value of MaxValueBytes+1", `{"value":"`+exact+`v"}`, 413)
		add("value of MaxValueBytes, \\u00e9-escaped (3x)", `{"value":"`+escaped+`"}`, 200)
		add("value of MaxValueBytes, \\u0001-escaped (6x)", `{"value":"`+control+`"}`, 200)
		add("value of MaxValueBytes+1, escaped", `{"value":"`+escaped+`v"}`, 413)
		add("client_id: null (default)", `{"value":"null-client-id","client_id":null}`, 200)
		add("text/plain Content-Type", `{"value":"text-plain"}`, 200)
		out[len(out)-1].header = map[string]string{"Content-Type": "text/plain"}
	}
	out = append(out,
		badCase{name: `is_leader_election: "yes"`, node: bP, method: http.MethodPost, path: "/propose",
			body: `{"is_leader_election":"yes"}`, want: 400})
	return out
}

// roleBodyCases are the type errors of the internal endpoints' fields.
func roleBodyCases() []badCase {
	var out []badCase
	add := func(node replog.ID, path, name, body string, want int) {
		out = append(out, badCase{name: name, node: node, method: http.MethodPost, path: path, body: body, want: want})
	}
	// msgs posts a JSON batch to the messages endpoint as node from.
	msgs := func(node, from replog.ID, name, body string, want int) {
		out = append(out, badCase{name: name, node: node, method: http.MethodPost, path: messagesPath, body: body,
			header: map[string]string{fromHeader: fmt.Sprint(from)}, want: want})
	}
	many := `{"commands":[` + strings.Repeat(`{"value":"x"},`, maxBatchCommands) + `{"value":"x"}]}`
	for _, c := range []struct {
		name, body string
		want       int
	}{
		{"no commands", `{}`, 400},
		{"commands: []", `{"commands":[]}`, 400},
		{"commands: {}", `{"commands":{}}`, 400},
		{"commands: [5]", `{"commands":[5]}`, 400},
		{"a command without a value", `{"commands":[{"value":"ok"},{"client_id":3}]}`, 400},
		{"a command with an empty value", `{"commands":[{"value":""}]}`, 400},
		{"a command with value: 5", `{"commands":[{"value":5}]}`, 400},
		{"an election in a batch", `{"commands":[{"value":"x","is_leader_election":true}]}`, 400},
		{"force_election in a batch", `{"commands":[{"value":"force_election"}]}`, 400},
		{"maxBatchCommands+1 commands", many, 400},
		{"a request_id of MaxRequestIDBytes+1", `{"commands":[{"value":"x","request_id":"` + strings.Repeat("r", MaxRequestIDBytes+1) + `"}]}`, 400},
		{"a value of MaxValueBytes+1", `{"commands":[{"value":"` + strings.Repeat("v", badMaxValue+1) + `"}]}`, 413},
	} {
		add(bLead, batchPath, c.name, c.body, c.want)
	}
	for _, c := range []struct {
		name, body string
		want       int
	}{
		{"no proposal_number", `{"proposer_id":1}`, 400},
		{`proposal_number: "x"`, `{"proposal_number":"x"}`, 400},
		{"proposal_number: -1", `{"proposal_number":-1}`, 400},
		{"proposal_number: 1.5", `{"proposal_number":1.5}`, 400},
		{"proposal_number: 0", `{"proposal_number":0}`, 400},
		{"proposal_number: 2^64", `{"proposal_number":18446744073709551616}`, 400},
		{"proposal_number: 2^64-15 (round overflows)", `{"proposal_number":18446744073709551601}`, 400},
		{"proposal_number: 2^63 (out of range)", `{"proposal_number":9223372036854775808}`, 400},
		{`proposer_id: "x"`, `{"proposer_id":"x","proposal_number":1}`, 400},
	} {
		add(bA, "/prepare", c.name, c.body, c.want)
		add(bA, "/accept", c.name, c.body, c.want)
	}
	// A ballot is round*100 + proposer ID: it must belong to proposer_id,
	// a configured proposer.
	for _, path := range []string{"/prepare", "/accept"} {
		add(bA, path, "proposal_number 301, proposer_id 2", `{"proposer_id":2,"proposal_number":301,"entries":[]}`, 400)
		add(bA, path, "proposal_number 301, no proposer_id", `{"proposal_number":301,"entries":[]}`, 400)
		add(bA, path, "proposal_number 104, proposer_id 4 (an acceptor)", `{"proposer_id":4,"proposal_number":104,"entries":[]}`, 400)
		add(bA, path, "proposal_number 199, proposer_id 99 (not configured)", `{"proposer_id":99,"proposal_number":199,"entries":[]}`, 400)
		add(bA, path, "proposal_number: 2^63-1 (proposer 7: not a proposer)", `{"proposer_id":7,"proposal_number":9223372036854775807}`, 400)
	}
	// The highest ballot taken: the leader steps down and campaigns above it.
	add(bA, "/prepare", "proposal_number: 2^63-7, proposer 1's highest (promised)", `{"proposer_id":1,"proposal_number":9223372036854775801}`, 200)
	add(bA, "/prepare", `from_slot: "x"`, `{"proposal_number":1,"from_slot":"x"}`, 400)
	add(bA, "/prepare", "from_slot: -1", `{"proposal_number":1,"from_slot":-1}`, 400)
	add(bA, "/prepare", "huge from_slot, low ballot (rejected)", `{"proposer_id":1,"proposal_number":1,"from_slot":18446744073709551615}`, 200)
	add(bA, "/accept", `entries: "x"`, `{"proposal_number":1,"entries":"x"}`, 400)
	add(bA, "/accept", `entries: {}`, `{"proposal_number":1,"entries":{}}`, 400)
	add(bA, "/accept", `entry slot: "x"`, `{"proposal_number":1,"entries":[{"slot":"x","value":"v"}]}`, 400)
	add(bA, "/accept", "entry slot: -1", `{"proposal_number":1,"entries":[{"slot":-1,"value":"v"}]}`, 400)
	add(bA, "/accept", "entry value: 5", `{"proposal_number":1,"entries":[{"slot":1,"value":5}]}`, 400)
	add(bA, "/accept", "entry with request_id, no value", `{"proposal_number":1,"entries":[{"slot":1,"request_id":"r"}]}`, 400)
	add(bA, "/accept", "entry value invalid UTF-8", `{"proposal_number":1,"entries":[{"slot":1,"value":"`+"\xff"+`"}]}`, 400)
	add(bA, "/accept", `chosen_slot: "x"`, `{"proposal_number":1,"chosen_slot":"x"}`, 400)
	add(bA, "/accept", "low ballot, entries (rejected)", `{"proposer_id":1,"proposal_number":1,"entries":[{"slot":0,"value":"v"}]}`, 200)
	// Request IDs and values within the limits of a client command: a
	// learner cannot store a request ID over 32 KiB, and stops if one is
	// chosen.
	longID, maxID := strings.Repeat("r", MaxRequestIDBytes+1), strings.Repeat("r", MaxRequestIDBytes)
	hugeID := strings.Repeat("r", 32<<10+1)
	add(bA, "/accept", "request_id of MaxRequestIDBytes+1", `{"proposer_id":1,"proposal_number":1,"entries":[{"slot":1,"value":"v","request_id":"`+longID+`"}]}`, 400)
	add(bA, "/accept", "request_id over 32 KiB", `{"proposer_id":1,"proposal_number":1,"entries":[{"slot":1,"value":"v","request_id":"`+hugeID+`"}]}`, 400)
	add(bA, "/accept", "request_id of MaxRequestIDBytes (rejected)", `{"proposer_id":1,"proposal_number":1,"entries":[{"slot":1,"value":"v","request_id":"`+maxID+`"}]}`, 200)
	add(bA, "/accept", "value of MaxValueBytes+1", `{"proposer_id":1,"proposal_number":1,"entries":[{"slot":1,"value":"`+strings.Repeat("v", badMaxValue+1)+`"}]}`, 413)
	add(bL, "/learn", "request_id of MaxRequestIDBytes+1", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":1000000,"value":"v","request_id":"`+longID+`"}]}`, 400)
	add(bL, "/learn", "request_id over 32 KiB", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":1000000,"value":"v","request_id":"`+hugeID+`"}]}`, 400)
	add(bL, "/learn", "value of MaxValueBytes+1", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":1000000,"value":"`+strings.Repeat("v", badMaxValue+1)+`"}]}`, 413)
	add(bC, "/notify", "request_id of MaxRequestIDBytes+1", `{"entries":[{"slot":3,"value":"v","request_id":"`+longID+`"}]}`, 400)
	add(bP, "/propose", "request_id over 32 KiB", `{"value":"v","request_id":"`+hugeID+`"}`, 400)
	add(bC, "/send", "request_id over 32 KiB", `{"value":"v","request_id":"`+hugeID+`"}`, 400)

	add(bL, "/learn", `notifications: "x"`, `{"notifications":"x"}`, 400)
	add(bL, "/learn", `notifications: {}`, `{"notifications":{}}`, 400)
	add(bL, "/learn", `acceptor_id: "x"`, `{"notifications":[{"acceptor_id":"x","proposal_number":1,"slot":1,"value":"v"}]}`, 400)
	add(bL, "/learn", "acceptor_id: -1", `{"notifications":[{"acceptor_id":-1,"proposal_number":1,"slot":1,"value":"v"}]}`, 400)
	add(bL, "/learn", "acceptor_id not an acceptor", `{"notifications":[{"acceptor_id":1,"proposal_number":1,"slot":1,"value":"v"}]}`, 400)
	add(bL, "/learn", "proposal_number: 0", `{"notifications":[{"acceptor_id":4,"proposal_number":0,"slot":1,"value":"v"}]}`, 400)
	add(bL, "/learn", `proposal_number: "x"`, `{"notifications":[{"acceptor_id":4,"proposal_number":"x"}]}`, 400)
	add(bL, "/learn", `slot: "x"`, `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":"x"}]}`, 400)
	add(bL, "/learn", "value: null (no-op)", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":1000000,"value":null}]}`, 200)
	add(bL, "/learn", "value invalid UTF-8", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":1,"value":"`+"\xff"+`"}]}`, 400)
	add(bL, "/learn", "no notifications", `{}`, 200)

	add(bC, "/notify", `entries: "x"`, `{"entries":"x"}`, 400)
	add(bC, "/notify", `entry slot: "x"`, `{"entries":[{"slot":"x"}]}`, 400)
	add(bC, "/notify", "entry slot: -1", `{"entries":[{"slot":-1}]}`, 400)
	add(bC, "/notify", "unknown request", `{"entries":[{"slot":3,"value":"v","request_id":"nobody"}]}`, 200)

	for _, n := range []replog.ID{bP, bA, bL, bC} {
		add(n, "/gossip", `sender_id: "x"`, `{"sender_id":"x","nodes":{}}`, 400)
		add(n, "/gossip", "sender_id: -1", `{"sender_id":-1}`, 400)
		add(n, "/gossip", "nodes: []", `{"nodes":[]}`, 400)
		add(n, "/gossip", "nodes: 5", `{"nodes":5}`, 400)
		add(n, "/gossip", `node: "x"`, `{"nodes":{"1":"x"}}`, 400)
		add(n, "/gossip", `node id: "x"`, `{"nodes":{"1":{"id":"x"}}}`, 400)
		add(n, "/gossip", "dead and left nodes are skipped", `{"nodes":{"1":{"address":"127.0.0.1","state":"dead"},"2":{"state":"left","gossip":"127.0.0.1:1"}}}`, 200)
		add(n, "/gossip", "unreachable gossip address", `{"nodes":{"99":{"gossip":"127.0.0.1:1"}}}`, 200)

		self := fmt.Sprint(n)
		msgs(n, 1, "message: 5", `[5]`, 400)
		msgs(n, 1, `type: "x"`, `[{"type":"x","to":`+self+`}]`, 400)
		msgs(n, 1, "type: 0", `[{"type":0,"from":1,"to":`+self+`}]`, 400)
		msgs(n, 1, "type: 99", `[{"type":99,"from":1,"to":`+self+`}]`, 400)
		msgs(n, 1, "type: 256 (overflows uint8)", `[{"type":256,"from":1,"to":`+self+`}]`, 400)
		msgs(n, 1, "type: -1", `[{"type":-1,"from":1,"to":`+self+`}]`, 400)
		msgs(n, 1, "for another node", `[{"type":1,"from":1,"to":999,"ballot":1}]`, 400)
		msgs(n, 1, `ballot: "x"`, `[{"type":1,"from":1,"to":`+self+`,"ballot":"x"}]`, 400)
		msgs(n, 1, "entries: {}", `[{"type":1,"from":1,"to":`+self+`,"entries":{}}]`, 400)

		// The sender is the node the request names (Paxos-From), one of
		// the topology, and every message must be from it.
		add(n, messagesPath, "no Paxos-From", `[]`, 400)
		for _, from := range []string{"", "x", "0", "-1", "1.5", "99", "18446744073709551616"} {
			out = append(out, badCase{name: fmt.Sprintf("Paxos-From: %q", from), node: n, method: http.MethodPost, path: messagesPath,
				body: `[]`, header: map[string]string{fromHeader: from}, want: 400})
		}
		msgs(n, 2, "Paxos-From 2, a message from 1", `[{"type":9,"from":1,"to":`+self+`,"ballot":1}]`, 400)
	}
	// Each message type only from the role that sends it: votes only from
	// acceptors, chosen entries only from learners.
	msgs(bP, 2, "a promise from a proposer", `[{"type":2,"from":2,"to":1,"ballot":1}]`, 400)
	msgs(bP, 7, "an accepted from a learner", `[{"type":4,"from":7,"to":1,"ballot":1,"slots":[0]}]`, 400)
	msgs(bP, 9, "a nack from a client", `[{"type":5,"from":9,"to":1,"ballot":1}]`, 400)
	msgs(bP, 4, "a heartbeat from an acceptor", `[{"type":9,"from":4,"to":1,"ballot":1}]`, 400)
	msgs(bP, 4, "a chosen from an acceptor", `[{"type":7,"from":4,"to":1}]`, 400)
	msgs(bA, 7, "a prepare from a learner", `[{"type":1,"from":7,"to":4,"ballot":1}]`, 400)
	msgs(bA, 5, "an accept from an acceptor", `[{"type":3,"from":5,"to":4,"ballot":1}]`, 400)
	msgs(bA, 9, "a catch-up from a client", `[{"type":8,"from":9,"to":4,"slot":0}]`, 400)
	msgs(bL, 1, "a learn vote from a proposer", `[{"type":6,"from":1,"to":7,"entries":[{"slot":1000000,"proposal_number":1,"Command":{"value":"f"}}]}]`, 400)
	msgs(bL, 9, "a learn vote from a client", `[{"type":6,"from":9,"to":7,"entries":[{"slot":1000000,"proposal_number":1,"Command":{"value":"f"}}]}]`, 400)
	msgs(bL, 1, "a chosen from a proposer", `[{"type":7,"from":1,"to":7,"entries":[{"slot":1000000,"Command":{"value":"f"}}]}]`, 400)
	msgs(bC, 4, "a chosen from an acceptor", `[{"type":7,"from":4,"to":9}]`, 400)
	msgs(bC, 7, "a chosen from a learner", `[{"type":7,"from":7,"to":9}]`, 204)
	msgs(bA, 8, "a catch-up from a learner", `[{"type":8,"from":8,"to":4,"slot":1099511627776}]`, 204)
	// The binary encoding the nodes use between them (codec.go).
	ver := string([]byte{codecVersion})
	bin := map[string]string{"Content-Type": binaryContentType, fromHeader: "1"}
	for _, n := range []replog.ID{bP, bA, bL, bC} {
		for _, c := range []struct {
			name, body string
			want       int
		}{
			{"binary: empty", "", 400},
			{"binary: JSON body", `[]`, 400},
			{"binary: unknown version", "\x09\x00", 400},
			{"binary: huge count", ver + "\xff\xff\xff\xff\x0f", 400},
			{"binary: truncated", ver + "\x01\x01", 400},
			{"binary: type 0", ver + "\x01\x00" + strings.Repeat("\x00", 10), 400},
			{"binary: for another node", ver + "\x01\x01\x01\x63" + strings.Repeat("\x00", 8), 400},
			{"binary: no messages", ver + "\x00", 204},
		} {
			out = append(out, badCase{name: c.name, node: n, method: http.MethodPost, path: messagesPath, body: c.body, header: bin, want: c.want})
		}
		out = append(out, badCase{name: "binary: 70 MiB body with Content-Length", node: n, method: http.MethodPost,
			path: messagesPath, huge: true, mayRead: true, header: bin, want: 413})
	}
	longAccept := []replog.Message{{Type: replog.MsgAccept, From: 1, To: bA, Ballot: 101,
		Entries: []replog.Entry{{Slot: 1, Command: replog.Command{RequestID: longID, Value: "v"}}}}}
	js, _ := json.Marshal(longAccept)
	msgs(bA, 1, "request_id of MaxRequestIDBytes+1", string(js), 400)
	out = append(out, badCase{name: "binary: request_id of MaxRequestIDBytes+1", node: bA, method: http.MethodPost, path: messagesPath,
		body: string(encodeBatch(nil, longAccept)), header: bin, want: 400})
	msgs(bC, 7, "invalid UTF-8 in a chosen value",
		`[{"type":7,"from":7,"to":9,"entries":[{"slot":1,"Command":{"value":"`+"\xff"+`"}}]}]`, 400)
	return out
}

// queryCases are the query parameters of the reads.
func queryCases() []badCase {
	var out []badCase
	for _, ep := range []struct {
		node replog.ID
		path string
	}{{bL, "/get-values"}, {bC, "/read"}} {
		for _, c := range []struct {
			query string
			want  int
		}{
			{"?from=-1", 400}, {"?limit=abc", 400}, {"?consistency=weird", 400}, {"?from=1.5", 400},
			{"?from=0x10", 400}, {"?limit=-5", 400}, {"?from=18446744073709551616", 400},
			{"?consistency=LINEARIZABLE", 400}, {"?from=1&limit=2&consistency=weird", 400},
			{"", 200}, {"?from=", 200}, {"?from=%zz", 200}, {"?limit=0", 200}, {"?limit=99999999999", 200},
			{"?from=18446744073709551615", 200}, {"?consistency=linearizable", 200},
			{"?consistency=serializable", 200}, {"?bogus=1&from=0", 200},
		} {
			out = append(out, badCase{name: "query " + c.query, node: ep.node, method: http.MethodGet, path: ep.path + c.query, want: c.want})
		}
	}
	return out
}

// routeCases are the GET endpoints, unknown paths, wrong methods and roles.
func routeCases() []badCase {
	var out []badCase
	nodes := map[Role]replog.ID{RoleProposer: bP, RoleAcceptor: bA, RoleLearner: bL, RoleClient: bC}
	get := func(n replog.ID, path string, want int) {
		out = append(out, badCase{name: "GET", node: n, method: http.MethodGet, path: path, want: want})
	}
	for _, role := range Roles {
		n := nodes[role]
		get(n, "/health", 200)
		get(n, "/health?x=%zz", 200)
		get(n, "/view-logs", 200)
		get(n, "/gossip/nodes", 200)
		for _, p := range []string{"/nope", "/", "/health/", "/HEALTH", "/view-logs/x", "/gossip/nodes/1",
			"/paxos", messagesPath + "/", "/%00", "/health%2F", "/" + strings.Repeat("x", 16<<10)} {
			out = append(out, badCase{name: "unknown path", node: n, method: http.MethodGet, path: p, want: 404})
		}
		out = append(out,
			badCase{name: "unknown path, POST", node: n, method: http.MethodPost, path: "/nope", body: `{}`, want: 404},
			badCase{name: "OPTIONS unknown path", node: n, method: http.MethodOptions, path: "/nope", want: 404},
			badCase{name: "OPTIONS", node: n, method: http.MethodOptions, path: "/health", want: 200},
			badCase{name: "HEAD", node: n, method: http.MethodHead, path: "/health", want: 200},
			badCase{name: "POST on a GET", node: n, method: http.MethodPost, path: "/health", body: `{}`, want: 405},
			badCase{name: "PUT", node: n, method: http.MethodPut, path: "/view-logs", want: 405},
			badCase{name: "DELETE", node: n, method: http.MethodDelete, path: "/gossip/nodes", want: 405},
			badCase{name: "GET on a POST", node: n, method: http.MethodGet, path: "/gossip", want: 405},
			badCase{name: "GET on a POST", node: n, method: http.MethodGet, path: messagesPath, want: 405},
			badCase{name: "PATCH", node: n, method: http.MethodPatch, path: messagesPath, body: `[]`, want: 405},
			badCase{name: "unknown method", node: n, method: "BREW", path: "/health", want: 405},
		)
		for _, other := range Roles {
			for _, rt := range roleRoutes[other] {
				wrong := http.MethodGet
				if rt[0] == http.MethodGet {
					wrong = http.MethodPost
				}
				if other == role {
					out = append(out,
						badCase{name: "wrong method", node: n, method: wrong, path: rt[1], body: `{}`, want: 405},
						badCase{name: "DELETE", node: n, method: http.MethodDelete, path: rt[1], want: 405},
						badCase{name: "OPTIONS", node: n, method: http.MethodOptions, path: rt[1], want: 200})
					if rt[0] == http.MethodGet {
						head := 200 // HEAD works wherever GET does, but on the internal /read-index
						if rt[1] == "/read-index" {
							head = 405
						}
						out = append(out, badCase{name: "HEAD", node: n, method: http.MethodHead, path: rt[1], want: head})
					}
					continue
				}
				out = append(out,
					badCase{name: "wrong role", node: n, method: rt[0], path: rt[1], body: `{"value":"wrong-role"}`, want: 404},
					badCase{name: "wrong role, wrong method", node: n, method: wrong, path: rt[1], want: 405})
			}
		}
	}
	get(bP, "/status", 200)
	get(bP, "/status?verbose=%zz", 200)
	get(bLead, "/read-index", 200)
	get(bLead, "/read-index?forwarded=1", 200)
	get(bFollow, "/read-index", 200)             // forwarded to the leader
	get(bFollow, "/read-index?forwarded=1", 409) // a forwarded read does not travel on
	get(bC, "/get-responses", 200)
	get(bC, "/get-responses?limit=abc", 200)
	return out
}

// TestBadInput runs the table against a cluster with a 64 KiB value limit,
// then checks that the cluster still takes and serves a write.
func TestBadInput(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) {
		cfg.MaxValueBytes = badMaxValue
		cfg.RequestTimeout, cfg.NoSync = 10*time.Second, true
	})
	leader := c.leader()
	if _, err := c.send(bC, "before-bad-input", ""); err != nil {
		t.Fatal(err)
	}

	var cases []badCase
	for _, g := range [][]badCase{routeCases(), queryCases(), genericBodyCases(), valueCases(), roleBodyCases()} {
		cases = append(cases, g...)
	}
	follower := bP
	if leader == bP {
		follower = bP + 1
	}
	for i := range cases {
		switch cases[i].node {
		case bLead:
			cases[i].node = leader
		case bFollow:
			cases[i].node = follower
		}
	}
	var rows []string
	failed := 0
	for _, bc := range cases {
		if bc.huge && testing.Short() {
			continue
		}
		start := time.Now()
		var before, after runtime.MemStats
		if bc.huge {
			runtime.ReadMemStats(&before)
		}
		res, err := c.do(bc)
		var allocated uint64 // by the whole process, cluster and client
		if bc.huge {
			runtime.ReadMemStats(&after)
			allocated = after.TotalAlloc - before.TotalAlloc
		}
		got := fmt.Sprint(res.status)
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case bc.huge:
			got += fmt.Sprintf(" (client sent %d MiB, process allocated %d MiB)", res.sent>>20, allocated>>20)
		}
		if err == nil {
			err = checkAnswer(bc.method, res)
		}
		if err == nil && res.status != bc.want {
			err = fmt.Errorf("status %d, want %d: %s", res.status, bc.want, truncate(res.body, 200))
		}
		if err == nil && bc.huge && !bc.chunked && !bc.mayRead && (res.sent >= hugeBody || allocated > 16<<20) {
			err = fmt.Errorf("the body was read: the client sent %d bytes and %d were allocated before the 413", res.sent, allocated)
		}
		mark := "ok"
		if err != nil {
			failed++
			mark = "FAIL"
			t.Errorf("%s %s on node %d (%s): %v", bc.method, truncate([]byte(bc.path), 60), bc.node, bc.name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Logf("slow: %s %s on node %d (%s): %s", bc.method, truncate([]byte(bc.path), 40), bc.node, bc.name, d)
		}
		want := fmt.Sprint(bc.want)
		rows = append(rows, fmt.Sprintf("| %d | %s %s | %s | %s | %s | %s |", bc.node, bc.method,
			truncate([]byte(bc.path), 40), bc.name, want, got, mark))
	}
	t.Logf("%d cases, %d failed", len(cases), failed)
	if path := os.Getenv("BADINPUT_TABLE"); path != "" {
		table := "| node | request | case | want | got | result |\n|---|---|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}

	// Nothing the table sent got into the log, and the cluster still works.
	slot, err := c.send(bC, "after-bad-input", "")
	if err != nil {
		t.Fatal(err)
	}
	c.eventually(5*time.Second, func() error {
		for _, l := range []replog.ID{bL, 8} {
			entries, _ := c.values(l, "?consistency=linearizable")
			var got []string
			for _, e := range entries {
				if strings.ContainsRune(e.Value, '\uFFFD') {
					t.Fatalf("learner %d stored a mangled value %q at slot %d", l, truncate([]byte(e.Value), 40), e.Slot)
				}
				if len(e.Value) > badMaxValue {
					t.Fatalf("learner %d stored a %d-byte value", l, len(e.Value))
				}
				got = append(got, truncate([]byte(e.Value), 20))
			}
			if !slices.Contains(got, "after-bad-input") || entries[len(entries)-1].Slot != slot {
				return fmt.Errorf("learner %d: %v, want after-bad-input at slot %d", l, got, slot)
			}
		}
		return nil
	})
	code, body := httpDo(http.MethodGet, c.addr(bC)+"/read", "")
	if code != 200 || !strings.Contains(body, `"after-bad-input"`) {
		t.Fatalf("client read: %d %s", code, truncate([]byte(body), 200))
	}
}

// TestBadInputForceElection: a value that merely contains force_election is
// a value like any other; the exact value force_election (or
// is_leader_election) at /propose starts an election and is not stored; at
// /send it is refused rather than acknowledged as a value that was never
// chosen.
func TestBadInputForceElection(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.RequestTimeout, cfg.NoSync = 10*time.Second, true })
	c.leader()
	stored := []string{"please force_election now", " force_election", "FORCE_ELECTION", "force_election\n"}
	for i, v := range stored {
		node, path := bP, "/propose"
		if i%2 == 1 {
			node, path = bC, "/send"
		}
		body, _ := json.Marshal(map[string]string{"value": v})
		code, resp := httpDo(http.MethodPost, c.addr(node)+path, string(body))
		if code != 200 || strings.Contains(resp, "election_started") {
			t.Fatalf("%s %q: %d %s, want the value stored", path, v, code, resp)
		}
	}
	for _, body := range []string{`{"value":"force_election","client_id":9}`, `{"is_leader_election":true}`,
		`{"is_leader_election":true,"value":"ignored"}`} {
		// A proposer starts at most one forced election per election
		// timeout: a request within it is a 429, and waits its turn here.
		code, resp := httpDo(http.MethodPost, c.addr(2)+"/propose", body)
		for deadline := time.Now().Add(10 * time.Second); code == http.StatusTooManyRequests && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			code, resp = httpDo(http.MethodPost, c.addr(2)+"/propose", body)
		}
		var r struct {
			Status     string    `json:"status"`
			ProposerID replog.ID `json:"proposer_id"`
		}
		if code != 200 || json.Unmarshal([]byte(resp), &r) != nil || r.Status != "election_started" || r.ProposerID != 2 {
			t.Fatalf("/propose %s: %d %s, want election_started by proposer 2", body, code, resp)
		}
	}
	code, resp := httpDo(http.MethodPost, c.addr(bC)+"/send", `{"value":"force_election"}`)
	if err := checkAnswer(http.MethodPost, badResult{status: code, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(resp)}); err != nil || code != 400 {
		t.Fatalf(`/send "force_election": %d %s, want a 400 (it is not a value that can be stored)`, code, resp)
	}
	if _, err := c.send(bC, "after-elections", ""); err != nil {
		t.Fatal(err)
	}
	c.eventually(5*time.Second, func() error {
		entries, _ := c.values(bL, "")
		var got []string
		for _, e := range entries {
			got = append(got, e.Value)
		}
		want := append(slices.Clone(stored), "after-elections")
		if !slices.Equal(got, want) {
			return fmt.Errorf("log %q, want %q", got, want)
		}
		return nil
	})
}

// TestBadInputDefaultValueLimit checks the 1 MiB default boundary end to end.
func TestBadInputDefaultValueLimit(t *testing.T) {
	// 1 MiB values are slow to replicate under -race on a busy machine.
	c := newTestClusterWith(t, func(cfg *Config) { cfg.RequestTimeout, cfg.NoSync = 30*time.Second, true })
	const max = 1 << 20
	exact := strings.Repeat("m", max)
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"exactly 1 MiB", `{"value":"` + exact + `"}`, 200},
		{"1 MiB + 1", `{"value":"` + exact + `m"}`, 413},
		{"1 MiB of é, \\u00e9-escaped as Python writes it", `{"value":"` + strings.Repeat(`\u00e9`, max/2) + `"}`, 200},
	} {
		res, err := c.do(badCase{node: bC, method: http.MethodPost, path: "/send", body: tc.body})
		if err == nil {
			err = checkAnswer(http.MethodPost, res)
		}
		if err != nil || res.status != tc.want {
			t.Fatalf("%s: %d %s (%v), want %d", tc.name, res.status, truncate(res.body, 200), err, tc.want)
		}
	}
	// As slow to reach the learner as to be chosen: up to RequestTimeout.
	c.eventually(30*time.Second, func() error {
		entries, _ := c.values(bL, "")
		if len(entries) != 2 || entries[0].Value != exact || entries[1].Value != strings.Repeat("é", max/2) {
			return fmt.Errorf("learner has %d entries, want the two 1 MiB values", len(entries))
		}
		return nil
	})
}

// TestBadInputAuth: with a cluster secret and a client token, the internal
// endpoints and the writes answer 401 JSON without them.
func TestBadInputAuth(t *testing.T) {
	dir := t.TempDir()
	for _, role := range Roles {
		cfg := DefaultConfig()
		p := StandardPeers(role, "127.0.0.1")[0]
		cfg.ID, cfg.Role, cfg.Listen, cfg.DataDir = p.ID, role, "127.0.0.1:0", dir+"/"+string(role)
		cfg.Secret, cfg.ClientToken = "s3cret", "t0ken"
		s, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.closeRole)
		var paths [][2]string
		paths = append(paths, [2]string{"POST", "/gossip"}, [2]string{"POST", messagesPath})
		for _, rt := range roleRoutes[role] {
			// The reads are open (and /read would ask the learners).
			if rt[1] != "/status" && rt[1] != "/get-values" && rt[1] != "/read" && rt[1] != "/get-responses" {
				paths = append(paths, rt)
			}
		}
		for _, rt := range paths {
			for _, auth := range []string{"", "Bearer wrong", "Basic s3cret"} {
				req := httptest.NewRequest(rt[0], rt[1], strings.NewReader(`{}`))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				res := badResult{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
				if err := checkAnswer(rt[0], res); err != nil {
					t.Errorf("%s %s %s on %s: %v", rt[0], rt[1], auth, role, err)
				}
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s %s %q on %s: %d %s, want 401", rt[0], rt[1], auth, role, rec.Code, rec.Body)
				}
			}
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + fmt.Sprintf("...(%d bytes)", len(b))
}
