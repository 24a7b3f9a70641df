package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// TestTransportDropsOversizedMessage: a message that does not fit in a
// frame even alone is dropped and logged by the sender (with its size and
// the limit), instead of being sent in a frame the receiver refuses at every
// retry; the messages queued with it still go.
func TestTransportDropsOversizedMessage(t *testing.T) {
	s, addr, logs := loneNode(t, RoleAcceptor, nil)
	// Its peers never answer: tell it, as the proposers and the other acceptors
	// would, that the cluster is new
	// (the acceptors' rejoin rule), so it votes.
	var answers []replog.Message
	for _, from := range []replog.ID{1, 2, 3, 5, 6} {
		answers = append(answers, replog.Message{Type: replog.MsgRejoinState, From: from, To: 4})
	}
	if err := s.drv.step(answers); err != nil {
		t.Fatal(err)
	}
	var sent lockedBuffer
	tr := newHTTPTransport(1, func(id replog.ID) (string, bool) { return addr, id == 4 }, "", nil,
		slog.New(slog.NewTextHandler(&sent, nil)), newLogLimiter(warnEvery))
	defer tr.Close()
	big := replog.Message{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 101,
		Entries: []replog.Entry{{Slot: 0, Command: replog.Command{RequestID: "big", Value: strings.Repeat("v", maxFrameBytes)}}}}
	tr.Send([]replog.Message{big, {Type: replog.MsgPrepare, From: 1, To: 4, Ballot: 101}})
	for deadline := time.Now().Add(10 * time.Second); s.role.(*acceptorRole).promised.Load() != 101; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the prepare sent with the oversized accept did not arrive; sender log:\n%s\nreceiver log:\n%s", &sent, logs)
		}
	}
	line := lineWith(sent.String(), "larger than the frame limit")
	for _, want := range []string{"level=WARN", "peer=4", "type=MsgAccept", fmt.Sprintf("size=%d", encodedSize(&big)+batchOverhead),
		fmt.Sprintf("limit=%d", maxFrameBytes)} {
		if !strings.Contains(line, want) {
			t.Errorf("sender's log line %q lacks %q", line, want)
		}
	}
	if line := lineWith(logs.String(), "message stream closed"); line != "" {
		t.Errorf("the receiver refused a frame: %s", line)
	}
}

// TestConfigFrameFitsLargestMessage: a node does not start with a value
// limit that makes the cores' largest message too big for a frame.
func TestConfigFrameFitsLargestMessage(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.Role, cfg.Listen, cfg.DataDir = 4, RoleAcceptor, "127.0.0.1:0", t.TempDir()
	cfg.fillDefaults()
	fits := maxFrameBytes - replog.DefaultConfig().MaxMsgBytes - frameHeadroom
	for _, tc := range []struct {
		value, msg int
		ok         bool
	}{
		{1 << 20, 0, true},
		{fits, 0, true},
		{fits + 1, 0, false},
		{1 << 20, maxFrameBytes - frameHeadroom - 1<<20, true},
		{1 << 20, maxFrameBytes - frameHeadroom - 1<<20 + 1, false},
	} {
		c := cfg
		c.MaxValueBytes, c.Core.MaxMsgBytes = tc.value, tc.msg
		if err := c.Validate(); (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "MAX_VALUE_BYTES")) {
			t.Errorf("MaxValueBytes %d, Core.MaxMsgBytes %d: %v, want ok=%v", tc.value, tc.msg, err, tc.ok)
		}
	}
}

// A peer's queue is bounded in bytes as well as in messages: catch-up
// answers for a learner that reads slower than they come are dropped past
// maxPeerQueueBytes (the protocol asks again), where they once filled 2 GB
// of a learner's memory. The first message goes in whatever its size, and
// take empties the queue for the next ones.
func TestPeerQueueBoundedInBytes(t *testing.T) {
	q := &peerQueue{ready: make(chan struct{}, 1)}
	value := strings.Repeat("v", 1<<20)
	big := replog.Message{Type: replog.MsgChosen, To: 8, Entries: []replog.Entry{{Slot: 1, Command: replog.Command{Value: value}}}}
	size := encodedSize(&big)
	in := 0
	for range 100 {
		if q.push(big, size) {
			in++
		}
	}
	if want := maxPeerQueueBytes / size; in != want {
		t.Errorf("%d messages of %d bytes went in, want %d (maxPeerQueueBytes %d)", in, size, want, maxPeerQueueBytes)
	}
	if q.bytes > maxPeerQueueBytes {
		t.Errorf("the queue holds %d bytes, over its bound of %d", q.bytes, maxPeerQueueBytes)
	}
	if got := len(q.take()); got != in || q.bytes != 0 || len(q.msgs) != 0 {
		t.Errorf("take returned %d messages and left %d bytes, %d messages; want %d, 0, 0", got, q.bytes, len(q.msgs), in)
	}
	huge := replog.Message{Type: replog.MsgChosen, To: 8, Entries: []replog.Entry{{Slot: 1, Command: replog.Command{Value: strings.Repeat("h", maxPeerQueueBytes+1)}}}}
	if !q.push(huge, encodedSize(&huge)) {
		t.Errorf("an empty queue refused a message bigger than its byte bound: it could never be sent")
	}
	small := replog.Message{Type: replog.MsgHeartbeat, To: 8}
	if q.push(small, encodedSize(&small)) {
		t.Errorf("a queue over its byte bound took one more message")
	}
}
