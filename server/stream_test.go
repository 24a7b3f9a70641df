package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// TestStreamRefusesWhatItCannotTake: a plain POST to the stream endpoint is a
// 400 with a JSON error that says how to use it, and a stream that carries
// a frame that does not decode, is too big, or holds a message the node
// must not take is closed by the node (the sender reconnects; the protocol
// retransmits). A good stream keeps working after another one was closed.
func TestStreamRefusesWhatItCannotTake(t *testing.T) {
	c := newTestCluster(t)
	acceptor := strings.TrimPrefix(c.addr(4), "http://")

	code, body := httpDo(http.MethodPost, c.addr(4)+streamPath, `[]`)
	var e struct {
		Error string `json:"error"`
	}
	if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "Upgrade") {
		t.Errorf("POST %s without Upgrade: %d %s, want 400 naming the Upgrade header", streamPath, code, body)
	}

	frame := func(batch []byte) []byte { return append(make([]byte, 4, 4+len(batch)), batch...) }
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, maxFrameBytes+1)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"garbage", frame([]byte{0xff, 0xff, 0xff})},
		{"too big", huge},
		{"from a node not in the topology", frame(encodeBatch(nil, []replog.Message{{Type: replog.MsgPrepare, From: 99, To: 4, Ballot: 101}}))},
		{"for another node", frame(encodeBatch(nil, []replog.Message{{Type: replog.MsgPrepare, From: 1, To: 5, Ballot: 101}}))},
	} {
		sc, err := dialStream(acceptor, "", 1, 0, nil)
		if err != nil {
			t.Fatalf("%s: dial: %v", tc.name, err)
		}
		if tc.name == "too big" {
			_, err = sc.conn.Write(tc.frame)
		} else {
			err = sc.write(tc.frame)
		}
		if err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		select {
		case <-sc.dead:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the node kept the stream open", tc.name)
		}
		sc.close()
	}

	// The cluster still works over its own streams.
	if _, err := c.send(9, "after-bad-streams", "sb-1"); err != nil {
		t.Fatalf("send after bad streams: %v", err)
	}
}

// TestStreamOversizedFrameLogged: a frame over the limit closes the stream
// with a warning that names the peer, the frame's size and the limit, once
// per warnEvery however often the peer retries.
func TestStreamOversizedFrameLogged(t *testing.T) {
	_, addr, logs := loneNode(t, RoleAcceptor, nil)
	for range 2 {
		sc, err := dialStream(addr, "", 1, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.conn.Write(binary.BigEndian.AppendUint32(nil, maxFrameBytes+1)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sc.dead:
		case <-time.After(5 * time.Second):
			t.Fatal("the node kept the stream open")
		}
		sc.close()
	}
	const what = "a frame over the size limit"
	line := lineWith(logs.String(), what)
	for _, want := range []string{"level=WARN", "peer=1", fmt.Sprintf("size=%d", maxFrameBytes+1), fmt.Sprintf("limit=%d", maxFrameBytes)} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q; the log:\n%s", line, want, logs)
		}
	}
	if n := strings.Count(logs.String(), what); n != 1 {
		t.Errorf("%d lines for two refused frames within %s, want 1", n, warnEvery)
	}
}
