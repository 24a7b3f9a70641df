package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/paxos-go/paxos/replog"
)

func TestTraceRingBounds(t *testing.T) {
	size := int(unsafe.Sizeof(traceRec{}))
	if traceRingCap > traceRingEvents || traceRingCap*size > traceRingBytes {
		t.Fatalf("ring holds %d events of %d bytes: over %d events or %d bytes", traceRingCap, size, traceRingEvents, traceRingBytes)
	}
	r := newTraceRing(1)
	msg := func(slot uint64) replog.Message {
		return replog.Message{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 101,
			Entries: []replog.Entry{{Slot: slot, Command: replog.Command{RequestID: "r", Value: "v"}}}}
	}
	total := traceRingCap + 10
	for i := range total {
		r.messages(TraceSend, []replog.Message{msg(uint64(i))})
	}
	// Heartbeats are not recorded.
	r.messages(TraceSend, []replog.Message{{Type: replog.MsgHeartbeat, From: 1, To: 2}})

	events, first, last, more := r.collect(traceQuery{})
	if last != uint64(total) || first != uint64(total-traceRingCap+1) {
		t.Fatalf("first %d last %d, want %d and %d", first, last, total-traceRingCap+1, total)
	}
	if len(events) != min(traceAnswerEvents, traceRingCap) || !more || events[0].Seq != first {
		t.Fatalf("answer of %d events from seq %d (more %v), want %d from %d", len(events), events[0].Seq, more, traceAnswerEvents, first)
	}
	slot := uint64(total - 1)
	events, _, _, more = r.collect(traceQuery{slot: &slot})
	if len(events) != 1 || *events[0].Slot != slot || *events[0].SlotEnd != slot || more || events[0].Type != "MsgAccept" {
		t.Fatalf("slot %d: %+v (more %v)", slot, events, more)
	}
	events, _, _, _ = r.collect(traceQuery{since: last - 3})
	if len(events) != 3 || events[0].Seq != last-2 {
		t.Fatalf("since %d: %d events from %d", last-3, len(events), events[0].Seq)
	}
	events, _, _, more = r.collect(traceQuery{latest: 2})
	if len(events) != 2 || events[1].Seq != last || !more {
		t.Fatalf("latest 2: %+v (more %v)", events, more)
	}
	// An evicted slot is gone.
	old := uint64(0)
	if events, _, _, _ = r.collect(traceQuery{slot: &old}); len(events) != 0 {
		t.Fatalf("slot 0 was evicted, got %+v", events)
	}
}

func TestTraceAnswerBoundedInBytes(t *testing.T) {
	r := newTraceRing(1)
	for range traceRingCap {
		r.messages(TraceRecv, []replog.Message{{Type: replog.MsgAccepted, From: 4, To: 1, Ballot: 1<<62 + 1,
			Slots: []uint64{1 << 60, 1<<60 + 1}, Probe: 1}})
	}
	events, _, _, _ := r.collect(traceQuery{})
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > traceAnswerBytes+len(events)+2 {
		t.Fatalf("answer of %d bytes, the bound is %d", len(b), traceAnswerBytes)
	}
}

func TestTraceQueryErrors(t *testing.T) {
	for _, q := range []string{"slot=x", "since=-1", "ballot=1.5", "type=promiss", "limit=a", "latest=-2"} {
		r := httptest.NewRequest(http.MethodGet, "/trace?"+q, nil)
		if _, err := parseTraceQuery(r.URL.Query()); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/trace?type=Accepted&slot=3&ballot=101&since=9&latest=5", nil)
	q, err := parseTraceQuery(r.URL.Query())
	if err != nil || q.typ != replog.MsgAccepted || *q.slot != 3 || *q.ballot != 101 || q.since != 9 || q.latest != 5 {
		t.Fatalf("%+v %v", q, err)
	}
}

// TestTraceOfALiveSlot writes a value through the in-process cluster and
// checks that the merged trace of its slot, gathered by a node the way
// the status page asks for it, shows the slot's life in causal order: the
// leader's accept reaches an acceptor, which persists, then answers
// accepted to the leader and learn to a learner; the leader sees a quorum
// and applies the slot; the learner learns it and tells the client node.
// With PAXOS_TRACE_RECORD=path it keeps the gathered traces there (the
// golden test's input, cli/testdata).
func TestTraceOfALiveSlot(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.Tick = 50 * time.Millisecond })
	var slot uint64
	for _, v := range []string{"one", "two", "three"} {
		s, err := c.send(9, v, "")
		if err != nil {
			t.Fatal(err)
		}
		slot = s
	}
	leader := c.leader()
	c.mu.Lock()
	srv := c.nodes[leader].srv
	c.mu.Unlock()

	var m MergedTrace
	var gathered []GatheredTrace
	c.eventually(10*time.Second, func() error {
		q := url.Values{"slot": {fmt.Sprint(slot)}}
		gathered = srv.gatherTraces(context.Background(), q)
		m = MergeTraces(gathered, &slot)
		return checkSlotStory(m, leader)
	})
	for _, n := range m.Nodes {
		if n.Error != "" {
			t.Errorf("%s did not answer: %s", n.Name, n.Error)
		}
		if n.Uncertainty < 0 {
			t.Errorf("%s: clock not aligned from both sides", n.Name)
		}
	}
	if path := os.Getenv("PAXOS_TRACE_RECORD"); path != "" {
		b, _ := json.MarshalIndent(struct {
			Slot   uint64          `json:"slot"`
			Traces []GatheredTrace `json:"traces"`
		}{slot, gathered}, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The monitor endpoint answers the same, as JSON.
	mon := httptest.NewServer(srv.monitorHandler())
	defer mon.Close()
	// Each gathering aligns the clocks anew (from the send/receive pairs it
	// sees), so it is polled like the first one.
	c.eventually(10*time.Second, func() error {
		code, body := httpDo(http.MethodGet, fmt.Sprintf("%s/trace/cluster?slot=%d", mon.URL, slot), "")
		var got MergedTrace
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
			return fmt.Errorf("/trace/cluster: %d %s", code, truncate([]byte(body), 300))
		}
		if err := checkSlotStory(got, leader); err != nil {
			return fmt.Errorf("/trace/cluster: %v", err)
		}
		return nil
	})
	code, body := httpDo(http.MethodGet, fmt.Sprintf("%s/trace?slot=%d", mon.URL, slot), "")
	if code != 200 || !strings.Contains(body, `"kind":"send","type":"MsgAccept"`) || !strings.Contains(body, `"now_ns":`) {
		t.Fatalf("/trace: %d %s", code, truncate([]byte(body), 300))
	}
}

// checkSlotStory says what is missing or out of order in the merged trace
// of one slot, led by leader.
func checkSlotStory(m MergedTrace, leader replog.ID) error {
	find := func(from int, what string, ok func(e *MergedEvent) bool) (int, error) {
		for i := from; i < len(m.Events); i++ {
			if ok(&m.Events[i]) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no %s after event %d of %d", what, from, len(m.Events))
	}
	accept, err := find(0, "accept sent by the leader", func(e *MergedEvent) bool {
		return e.Node == leader && e.Kind == TraceSend && e.Type == "MsgAccept"
	})
	if err != nil {
		return err
	}
	acc := m.Events[accept].To
	recv, err := find(accept, "accept received", func(e *MergedEvent) bool {
		return e.Node == acc && e.Kind == TraceRecv && e.Type == "MsgAccept" && e.Peer == accept
	})
	if err != nil {
		return err
	}
	persisted, err := find(recv, "persist by the acceptor", func(e *MergedEvent) bool { return e.Node == acc && e.Kind == TracePersistEnd })
	if err != nil {
		return err
	}
	accepted, err := find(persisted, "accepted sent", func(e *MergedEvent) bool {
		return e.Node == acc && e.Kind == TraceSend && e.Type == "MsgAccepted" && e.To == leader
	})
	if err != nil {
		return err
	}
	if _, err := find(accepted, "accepted received by the leader", func(e *MergedEvent) bool {
		return e.Node == leader && e.Kind == TraceRecv && e.Type == "MsgAccepted" && e.Peer == accepted
	}); err != nil {
		return err
	}
	quorum, err := find(accept, "quorum at the leader", func(e *MergedEvent) bool {
		return e.Node == leader && e.Quorum && e.Type == "MsgAccepted"
	})
	if err != nil {
		return err
	}
	// On a starved machine a learner's chosen notice for the slot may reach
	// the leader before its own quorum of answers: it chooses the slot then.
	if told, err := find(accept, "chosen notice at the leader", func(e *MergedEvent) bool {
		return e.Node == leader && e.Kind == TraceRecv && e.Type == "MsgChosen" && m.Slot != nil && e.Covers(*m.Slot)
	}); err == nil {
		quorum = min(quorum, told)
	}
	if _, err := find(quorum, "chosen at the leader", func(e *MergedEvent) bool { return e.Node == leader && e.Kind == TraceChosen }); err != nil {
		return err
	}
	// A learner learns the slot once a quorum of learn notices came, each
	// sent after its acceptor persisted the slot.
	quorumAt, err := find(0, "learn notice completing a quorum at a learner", func(e *MergedEvent) bool {
		return e.Kind == TraceRecv && e.Type == "MsgLearn" && e.Quorum
	})
	if err != nil {
		return err
	}
	learner := m.Events[quorumAt].Node
	for i := 0; i <= quorumAt; i++ {
		e := &m.Events[i]
		if e.Node != learner || e.Kind != TraceRecv || e.Type != "MsgLearn" {
			continue
		}
		if e.Peer < 0 || e.Peer > i {
			return fmt.Errorf("learn notice %d at %d: its send is %d", i, learner, e.Peer)
		}
		sender := m.Events[e.Peer].Node
		for j := e.Peer; j >= 0; j-- {
			if m.Events[j].Node == sender && m.Events[j].Kind == TracePersistEnd {
				break
			}
			if j == 0 {
				return fmt.Errorf("acceptor %d sent learn %d before persisting", sender, e.Peer)
			}
		}
	}
	learned, err := find(quorumAt, "learned at the learner", func(e *MergedEvent) bool { return e.Node == learner && e.Kind == TraceLearned })
	if err != nil {
		return err
	}
	chosen, err := find(learned, "chosen sent by the learner", func(e *MergedEvent) bool {
		return e.Node == learner && e.Kind == TraceSend && e.Type == "MsgChosen" && e.To == 9
	})
	if err != nil {
		return err
	}
	if _, err := find(chosen, "chosen received by client1", func(e *MergedEvent) bool {
		return e.Node == 9 && e.Kind == TraceRecv && e.Type == "MsgChosen" && e.Peer == chosen
	}); err != nil {
		return err
	}
	for i, e := range m.Events {
		if e.Kind == TraceRecv && e.Peer >= i {
			return fmt.Errorf("event %d (a %s received) comes before its send (%d)", i, e.Type, e.Peer)
		}
	}
	return nil
}

// TestTraceOfAnElection stops the leader and checks the merged trace of
// the election that follows: the new leader's prepares reach the
// acceptors, which persist their promise before they answer; the leader
// marks the quorum of promises, then sends its first accepts. With
// PAXOS_TRACE_RECORD_ELECTION=path it keeps the gathered traces there.
func TestTraceOfAnElection(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.Tick = 50 * time.Millisecond })
	if _, err := c.send(9, "before", ""); err != nil {
		t.Fatal(err)
	}
	c.stop(c.leader())
	if _, err := c.send(9, "after", ""); err != nil {
		t.Fatal(err)
	}
	var traces []GatheredTrace
	var m MergedTrace
	c.eventually(10*time.Second, func() error {
		// The leader is read again on each try: on a starved machine
		// another election may follow, and its story is then the one told.
		leader := c.leader()
		c.mu.Lock()
		srv := c.nodes[leader].srv
		c.mu.Unlock()
		var b replog.Ballot
		var err error
		if traces, b, err = srv.electionTraces(context.Background()); err != nil {
			return err
		}
		if b.Proposer() != leader {
			return fmt.Errorf("the last election won is of ballot %d, not of the leader %d", b, leader)
		}
		m = MergeTraces(ElectionEvents(traces), nil)
		return checkElectionStory(m, leader, b)
	})
	if path := os.Getenv("PAXOS_TRACE_RECORD_ELECTION"); path != "" {
		b, _ := json.MarshalIndent(struct {
			Election bool            `json:"election"`
			Traces   []GatheredTrace `json:"traces"`
		}{true, traces}, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestElectionBallotSkipsRefusedCampaign: the last election is the highest
// ballot that won a quorum of promises, not the highest ballot prepared.
// Proposer 1 won ballot 101 with promises from acceptors 4, 5 and 6; then
// proposer 2's timer fired on a starved machine and it prepared 202:
// acceptor 4 (its leader silent for a moment) promised, acceptors 5 and 6
// answered with nacks. Proposer 1 is still the leader, and paxosctl trace
// --election must tell the story of 101. (The flaky TestTraceOfAnElection
// in CI saw this: "the last prepare is of ballot 202, not of the leader 1".)
func TestElectionBallotSkipsRefusedCampaign(t *testing.T) {
	won, refused := replog.MakeBallot(1, 1), replog.MakeBallot(2, 2)
	ev := func(kind TraceKind, typ string, from, to replog.ID, b replog.Ballot) TraceEvent {
		return TraceEvent{Kind: kind, Type: typ, From: from, To: to, Ballot: b}
	}
	node := func(id replog.ID, role Role, evs ...TraceEvent) GatheredTrace {
		return GatheredTrace{NodeTrace: NodeTrace{Node: TraceNode{ID: id, Role: role}, Quorum: 3, Events: evs}}
	}
	traces := []GatheredTrace{
		node(1, RoleProposer, ev(TraceSend, "MsgPrepare", 1, 4, won),
			ev(TraceRecv, "MsgPromise", 4, 1, won), ev(TraceRecv, "MsgPromise", 5, 1, won), ev(TraceRecv, "MsgPromise", 6, 1, won)),
		node(2, RoleProposer, ev(TraceSend, "MsgPrepare", 2, 4, refused), ev(TraceRecv, "MsgPromise", 4, 2, refused),
			ev(TraceRecv, "MsgNack", 5, 2, won), ev(TraceRecv, "MsgNack", 6, 2, won)),
		node(4, RoleAcceptor, ev(TraceSend, "MsgPromise", 4, 1, won), ev(TraceSend, "MsgPromise", 4, 2, refused)),
		node(5, RoleAcceptor, ev(TraceSend, "MsgPromise", 5, 1, won)),
		node(6, RoleAcceptor, ev(TraceSend, "MsgPromise", 6, 1, won)),
	}
	if b, ok := ElectionBallot(traces); !ok || b != won {
		t.Fatalf("ElectionBallot = %d, %v; want %d (the election that won), not the refused campaign %d", b, ok, won, refused)
	}
	// With the winner's promises gone from the rings, the highest promised
	// ballot is the best guess; with no promise at all there is no election.
	if b, ok := ElectionBallot(traces[1:]); !ok || b != refused {
		t.Fatalf("without the winner's receipts: ElectionBallot = %d, %v; want %d", b, ok, refused)
	}
	if b, ok := ElectionBallot([]GatheredTrace{node(1, RoleProposer)}); ok {
		t.Fatalf("no promise: ElectionBallot = %d, true; want false", b)
	}
}

// checkElectionStory says what is missing or out of order in the merged
// trace of the election of leader at ballot b.
func checkElectionStory(m MergedTrace, leader replog.ID, b replog.Ballot) error {
	promises := 0
	quorum := -1
	for i, e := range m.Events {
		if e.Ballot != b && e.Type != "" {
			return fmt.Errorf("event %d is a %s at ballot %d, not %d", i, e.Type, e.Ballot, b)
		}
		if e.Node != leader || e.Kind != TraceRecv || e.Type != "MsgPromise" {
			continue
		}
		promises++
		if e.Quorum {
			quorum = i
		}
		send := e.Peer
		if send < 0 || send > i {
			return fmt.Errorf("promise %d: its send is %d", i, send)
		}
		acc := m.Events[send].Node
		persisted, got := -1, -1
		for j := send; j >= 0; j-- {
			p := &m.Events[j]
			if p.Node == acc && p.Kind == TracePersistEnd && persisted < 0 {
				persisted = j
			}
			if p.Node == acc && p.Kind == TraceRecv && p.Type == "MsgPrepare" && p.Peer >= 0 && m.Events[p.Peer].Node == leader {
				got = j
				break
			}
		}
		if got < 0 || persisted < got {
			return fmt.Errorf("acceptor %d promised (event %d) without a prepare received (%d) then a persist (%d) before", acc, send, got, persisted)
		}
	}
	if quorum < 0 || promises < m.Quorum {
		return fmt.Errorf("the leader got %d promises, no quorum of %d marked", promises, m.Quorum)
	}
	for i := quorum; i < len(m.Events); i++ {
		if e := m.Events[i]; e.Node == leader && e.Kind == TraceSend && e.Type == "MsgAccept" {
			return nil
		}
	}
	return fmt.Errorf("no accept from the leader after its quorum of promises (event %d)", quorum)
}

// TestTraceOff runs a cluster with Config.NoTrace (paxosd --trace=false):
// writes work, no node keeps a ring, GET /trace answers 404 saying the
// trace is off, and a gathered trace lists every node with that error and
// no event.
func TestTraceOff(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.NoTrace = true })
	c.leader()
	slot, err := c.send(9, "untraced", "")
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	srv := c.nodes[c.cfg.Proposers[0].ID].srv
	c.mu.Unlock()
	if srv.trace != nil {
		t.Fatal("NoTrace: the node keeps a trace ring")
	}
	rec := httptest.NewRecorder()
	srv.monitorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/trace?slot="+strconv.FormatUint(slot, 10), nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "tracing is off") {
		t.Errorf("GET /trace with the trace off: %d %s, want 404 saying tracing is off", rec.Code, rec.Body)
	}
	m, err := srv.clusterTrace(context.Background(), url.Values{"slot": {strconv.FormatUint(slot, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Events) != 0 || len(m.Nodes) != len(c.cfg.Peers()) {
		t.Errorf("merged trace with the trace off: %d events, %d nodes", len(m.Events), len(m.Nodes))
	}
	for _, n := range m.Nodes {
		if !strings.Contains(n.Error, "tracing is off") {
			t.Errorf("%s: error %q, want tracing is off", n.Name, n.Error)
		}
	}
}
