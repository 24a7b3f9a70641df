package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// Identity (SPEC §9): a message's sender is the node its connection speaks
// for, and only the roles that send a message type may send it. These tests
// drive one learner directly, as forgers would.

// lockedBuffer is a log sink that many goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loneNode serves the first node of role in the standard topology on a
// loopback port, alone: every other node lives at an address nothing
// answers on, so what it learns comes only from the test. Its log, at
// debug level, is in the returned buffer.
func loneNode(t *testing.T, role Role, tune func(*Config)) (*Server, string, *lockedBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	self := StandardPeers(role, "127.0.0.1")[0]
	for _, ps := range [][]Peer{cfg.Proposers, cfg.Acceptors, cfg.Learners, cfg.Clients} {
		for i := range ps {
			ps[i].Addr = "127.0.0.1:1"
			if ps[i].ID == self.ID {
				ps[i].Addr = ln.Addr().String()
			}
		}
	}
	cfg.ID, cfg.Role, cfg.Listen, cfg.DataDir = self.ID, role, ln.Addr().String(), t.TempDir()
	cfg.GossipBind, cfg.Tick, cfg.NoSync = "127.0.0.1", 20*time.Millisecond, true
	if tune != nil {
		tune(&cfg)
	}
	logs := &lockedBuffer{}
	s, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s, ln.Addr().String(), logs
}

// vote is acceptor from's learn notice: it accepted value at slot and ballot.
func vote(from, to replog.ID, slot uint64, ballot replog.Ballot, value string) replog.Message {
	return replog.Message{Type: replog.MsgLearn, From: from, To: to, Ballot: ballot,
		Entries: []replog.Entry{{Slot: slot, Ballot: ballot, Command: replog.Command{RequestID: "r-" + value, Value: value}}}}
}

// postMessages posts msgs, in JSON, to addr's messages endpoint as node as.
func postMessages(addr string, as replog.ID, auth string, msgs ...replog.Message) (int, string) {
	body, _ := json.Marshal(msgs)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+messagesPath, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Paxos-From", fmt.Sprint(as))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	return reply(testHTTP.Do(req))
}

// reply returns the status and body of an answer, or 0 and the error.
func reply(resp *http.Response, err error) (int, string) {
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// learnerLog returns the values of the learner's log.
func learnerLog(t *testing.T, addr string) ([]string, int64) {
	t.Helper()
	return learnerLogVia(t, testHTTP, "http://"+addr)
}

// learnerLogVia is learnerLog through hc, for the learner at base (its
// scheme://host:port).
func learnerLogVia(t *testing.T, hc *http.Client, base string) ([]string, int64) {
	t.Helper()
	code, body := reply(hc.Get(base + "/get-values"))
	var page struct {
		Values     []string `json:"values"`
		ChosenSlot int64    `json:"chosen_slot"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
		t.Fatalf("get-values: %d %s", code, body)
	}
	return page.Values, page.ChosenSlot
}

// waitFirstChosen waits until the learner at addr chose slot 0 and checks
// that its log is then exactly [want].
func waitFirstChosen(t *testing.T, addr, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		values, slot := learnerLog(t, addr)
		if slot >= 0 {
			if len(values) != 1 || values[0] != want {
				t.Fatalf("the learner chose %q, want [%s]", values, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner chose nothing within 10s, want [%s]", want)
		}
	}
}

// waitChosenOrClosed waits until the stream is closed by the learner (what
// a refused frame does) or the learner chose something; it fails the test
// in the second case.
func waitChosenOrClosed(t *testing.T, sc *streamConn, addr, what string) {
	t.Helper()
	waitChosenOrClosedVia(t, sc, testHTTP, "http://"+addr, what)
}

// waitChosenOrClosedVia is waitChosenOrClosed reading the learner at base
// through hc.
func waitChosenOrClosedVia(t *testing.T, sc *streamConn, hc *http.Client, base, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-sc.dead:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if values, slot := learnerLogVia(t, hc, base); slot >= 0 {
			t.Fatalf("%s: the learner chose %q", what, values)
		}
	}
	t.Fatalf("%s: the stream stayed open and nothing was chosen within 10s", what)
}

// sendFrame writes msgs as one frame on sc.
func sendFrame(t *testing.T, sc *streamConn, msgs ...replog.Message) {
	t.Helper()
	if err := sc.write(encodeBatch(make([]byte, 4), msgs)); err != nil {
		t.Fatal(err)
	}
}

// TestForgedVotesRefused: votes "from" proposers and client nodes, on a
// stream they opened or posted to /paxos/messages, do not count: with one
// genuine vote from acceptor 4, a forged second vote would make a quorum of
// the three acceptors. The learner refuses each (the stream is closed, the
// post is a 400) and chooses only what two acceptors accepted.
func TestForgedVotesRefused(t *testing.T) {
	_, addr, _ := loneNode(t, RoleLearner, nil)
	const learner = replog.ID(7)
	if code, body := postMessages(addr, 4, "", vote(4, learner, 0, 101, "forged")); code != http.StatusNoContent {
		t.Fatalf("genuine vote of acceptor 4: %d %s", code, body)
	}
	for _, forger := range []replog.ID{1, 10} { // proposer1, client2
		sc, err := dialStream(addr, "", forger, 0, nil)
		if err != nil {
			t.Fatalf("stream as node %d: %v", forger, err)
		}
		sendFrame(t, sc, vote(forger, learner, 0, 101, "forged"))
		waitChosenOrClosed(t, sc, addr, fmt.Sprintf("a vote from node %d on its stream", forger))
		sc.close()
	}
	for _, forger := range []replog.ID{2, 9} { // proposer2, client1
		if code, body := postMessages(addr, forger, "", vote(forger, learner, 0, 101, "forged")); code != http.StatusBadRequest {
			t.Errorf("a vote from node %d posted as node %d: %d %s, want 400", forger, forger, code, body)
		}
	}
	// Acceptors 5 and 6 accept another value at a higher ballot: that is a
	// quorum, and the only value the learner may choose for slot 0.
	for _, a := range []replog.ID{5, 6} {
		if code, body := postMessages(addr, a, "", vote(a, learner, 0, 201, "real")); code != http.StatusNoContent {
			t.Fatalf("genuine vote of acceptor %d: %d %s", a, code, body)
		}
	}
	waitFirstChosen(t, addr, "real")
}

// TestStreamFromMustMatchSender: a frame whose message says it is from
// acceptor 5, on a stream acceptor 4 opened, is dropped with its stream and
// logged; with acceptor 4's own vote it would have been a quorum.
func TestStreamFromMustMatchSender(t *testing.T) {
	_, addr, logs := loneNode(t, RoleLearner, nil)
	const learner = replog.ID(7)
	sc, err := dialStream(addr, "", 4, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.close()
	sendFrame(t, sc, vote(4, learner, 0, 101, "forged"), vote(5, learner, 0, 101, "forged"))
	waitChosenOrClosed(t, sc, addr, "a vote from node 5 on node 4's stream")
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "message stream closed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the refused frame; the log:\n%s", logs)
		}
	}
	if line := lineWith(logs.String(), "message stream closed"); !strings.Contains(line, "peer=4") || !strings.Contains(line, "level=WARN") {
		t.Errorf("log line %q, want a warning naming peer 4", line)
	}
	// A stream that declares no node, or one outside the topology, is
	// refused at the upgrade, and that is logged too.
	for _, from := range []replog.ID{0, 99} {
		if sc, err := dialStream(addr, "", from, 0, nil); err == nil || !strings.Contains(err.Error(), "400") {
			if sc != nil {
				sc.close()
			}
			t.Errorf("stream upgrade as node %d: %v, want a 400 refusal", from, err)
		}
	}
	if line := lineWith(logs.String(), "refused a message stream"); !strings.Contains(line, "Paxos-From") {
		t.Errorf("refused upgrade logged as %q, want a line naming the Paxos-From header", line)
	}
}

// lineWith returns the first line of logs that contains s.
func lineWith(logs, s string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestLearnNotificationsCountOnlyWithoutSecret: the seed's POST /learn
// cannot prove its caller is the acceptor_id it names, so with
// CLUSTER_SECRET set two notifications "from" acceptors 4 and 5 are
// acknowledged and not counted (even with the secret); without a secret
// they count, as in the seed.
func TestLearnNotificationsCountOnlyWithoutSecret(t *testing.T) {
	const forged = `{"notifications":[{"acceptor_id":4,"proposal_number":101,"slot":0,"value":"forged","request_id":"f-1"},` +
		`{"acceptor_id":5,"proposal_number":101,"slot":0,"value":"forged","request_id":"f-1"}]}`
	type answer struct {
		Status    string `json:"status"`
		Processed int    `json:"processed"`
		Learned   int    `json:"learned"`
		Counted   *bool  `json:"counted"`
	}
	learn := func(addr, auth string) answer {
		t.Helper()
		code, body := httpAuth(http.MethodPost, "http://"+addr+"/learn", auth, forged)
		var a answer
		if code != http.StatusOK || json.Unmarshal([]byte(body), &a) != nil || a.Status != "acknowledged" || a.Processed != 2 {
			t.Fatalf("POST /learn: %d %s, want 200 acknowledged, processed 2", code, body)
		}
		return a
	}

	secret := "cs-" + randomHex(t, 8)
	_, addr, _ := loneNode(t, RoleLearner, func(c *Config) { c.Secret = secret })
	for i := range 2 { // twice: a retry does not count either
		if a := learn(addr, "Bearer "+secret); a.Learned != 0 || a.Counted == nil || *a.Counted {
			t.Fatalf("POST /learn #%d with the secret: learned %d, counted %v; want 0 and false", i+1, a.Learned, a.Counted)
		}
	}
	// Acceptors 5 and 6, over their own connections, choose another value
	// at a higher ballot: the only value the learner may hold at slot 0.
	for _, a := range []replog.ID{5, 6} {
		if code, body := postMessages(addr, a, secret, vote(a, 7, 0, 201, "real")); code != http.StatusNoContent {
			t.Fatalf("genuine vote of acceptor %d: %d %s", a, code, body)
		}
	}
	waitFirstChosen(t, addr, "real")

	// An open cluster keeps the seed's behaviour.
	_, open, _ := loneNode(t, RoleLearner, nil)
	if a := learn(open, ""); a.Learned != 1 || a.Counted == nil || !*a.Counted {
		t.Fatalf("POST /learn without a secret: learned %d, counted %v; want 1 and true", a.Learned, a.Counted)
	}
	waitFirstChosen(t, open, "forged")
}
