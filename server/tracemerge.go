package server

import (
	"container/heap"
	"math"
	"slices"

	"github.com/paxos-go/paxos/replog"
)

// Merging the traces of several nodes into one history.
//
// Each node's times are on its own monotonic clock: t_i = T + o_i, where T
// is a common reference time and o_i the node's unknown offset. A message
// sent by a at t_a and received by b at t_b says T_recv >= T_send, so
// o_b - o_a <= t_b - t_a: every send/receive pair bounds the offset from
// one side, pairs in both directions bound it from both. The gatherer adds
// bounds of its own: a node's clock reading (NodeTrace.Now) was taken
// between the moment it asked (Asked) and the moment the answer came
// (Answered), on the gatherer's clock. The tightest bounds are the
// shortest paths through these constraints; each node's offset is the
// middle of its interval, and half its width is the uncertainty shown.
//
// The merged order is causal whatever the estimates: each node's events
// in their order, and every receipt after its send; among the events free
// to go next, the earliest aligned time goes first.

// MergedNode is one node of a merged trace and its clock alignment.
type MergedNode struct {
	TraceNode
	// Offset is what is subtracted from the node's times to put them on
	// the reference node's clock.
	Offset int64 `json:"offset_ns"`
	// Uncertainty is how far the true offset may be from Offset, -1 when
	// it is unbounded on one side (the alignment is a guess).
	Uncertainty int64 `json:"uncertainty_ns"`
	// Events is how many of the node's events the merge holds.
	Events int `json:"events"`
	// Error says why the node's trace is missing (it did not answer).
	Error string `json:"error,omitempty"`
}

// MergedEvent is one event of a merged trace.
type MergedEvent struct {
	// Node is the node that recorded the event.
	Node replog.ID `json:"node"`
	TraceEvent
	// Time is the event's time on the reference clock, in nanoseconds
	// after the first event of the merge.
	Time int64 `json:"at_ns"`
	// Peer is the index of the other end of a message (the receipt of a
	// send, the send of a receipt), -1 when the trace does not hold it.
	Peer int `json:"peer"`
	// Quorum marks the receipt that completed a quorum: the promise, the
	// accepted reply or the learn notice from the quorum-th distinct
	// acceptor at one ballot (for the slot, when the merge is of one).
	Quorum bool `json:"quorum,omitempty"`
	// Duration is, for a persist-end, how long the save took.
	Duration int64 `json:"duration_ns,omitempty"`
}

// MergedTrace is the merged history of several nodes' traces.
type MergedTrace struct {
	// Slot is the slot the merge is about (nil: an election, or all).
	Slot *uint64 `json:"slot,omitempty"`
	// Ballot is the ballot of the election shown (0: none).
	Ballot replog.Ballot `json:"ballot,omitempty"`
	// Reference is the node whose clock the times are on.
	Reference replog.ID `json:"reference"`
	// Quorum is the number of acceptors that make a quorum.
	Quorum int           `json:"quorum"`
	Nodes  []MergedNode  `json:"nodes"`
	Events []MergedEvent `json:"events"`
}

// GatheredTrace is one node's trace as a gatherer got it: the answer, or
// why there is none, with the gatherer's clock around the request.
type GatheredTrace struct {
	NodeTrace
	// Asked and Answered bracket the request on the gatherer's monotonic
	// clock (0: unknown).
	Asked    int64 `json:"asked_ns,omitempty"`
	Answered int64 `json:"answered_ns,omitempty"`
	// Err says why the node did not answer.
	Err string `json:"error,omitempty"`
}

// msgKey identifies a message on both ends (the same fields are recorded
// by the sender and the receiver).
type msgKey struct {
	typ           string
	from, to      replog.ID
	ballot        replog.Ballot
	slot, slotEnd uint64
	hasSlot, open bool
	n, size       uint32
}

func keyOf(e *TraceEvent) msgKey {
	k := msgKey{typ: e.Type, from: e.From, to: e.To, ballot: e.Ballot, n: e.N, size: e.Size}
	if e.Slot != nil {
		k.hasSlot, k.slot = true, *e.Slot
		if e.SlotEnd != nil {
			k.slotEnd = *e.SlotEnd
		} else {
			k.open = true
		}
	}
	return k
}

const unbounded = math.MaxInt64 / 4

// MergeTraces merges the traces of several nodes (traces with Err set only
// name the node). slot, when not nil, is the slot the traces were asked
// about: it picks the quorums to mark.
func MergeTraces(traces []GatheredTrace, slot *uint64) MergedTrace {
	out := MergedTrace{Slot: slot}
	type ev struct {
		MergedEvent
		node int // index in traces
		raw  int64
	}
	var evs []ev
	for i := range traces {
		tr := &traces[i]
		out.Quorum = max(out.Quorum, tr.Quorum)
		for _, e := range tr.Events {
			evs = append(evs, ev{MergedEvent: MergedEvent{Node: tr.Node.ID, TraceEvent: e, Peer: -1}, node: i, raw: e.At})
		}
	}
	// Each node's events in their order.
	slices.SortStableFunc(evs, func(a, b ev) int {
		if a.node != b.node {
			return a.node - b.node
		}
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})

	// Pair sends and receipts: in order per message key; when the counts
	// differ (a message lost, or evicted from one ring) the latest ones
	// are paired, and only keys whose counts agree bound the clocks.
	sends, recvs := map[msgKey][]int{}, map[msgKey][]int{}
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Kind == TraceSend && e.Node == e.From:
			k := keyOf(&e.TraceEvent)
			sends[k] = append(sends[k], i)
		case e.Kind == TraceRecv && e.Node == e.To:
			k := keyOf(&e.TraceEvent)
			recvs[k] = append(recvs[k], i)
		}
	}
	index := map[replog.ID]int{}
	for i := range traces {
		index[traces[i].Node.ID] = i
	}
	n := len(traces) + 1 // the gatherer is node n-1
	u := make([][]int64, n)
	for a := range u {
		u[a] = make([]int64, n)
		for b := range u[a] {
			if a != b {
				u[a][b] = unbounded
			}
		}
	}
	for k, ss := range sends {
		rs := recvs[k]
		m := min(len(ss), len(rs))
		ss, rs := ss[len(ss)-m:], rs[len(rs)-m:]
		for j := range m {
			s, r := &evs[ss[j]], &evs[rs[j]]
			s.Peer, r.Peer = rs[j], ss[j]
			if len(sends[k]) == len(recvs[k]) {
				a, b := s.node, r.node
				u[a][b] = min(u[a][b], r.raw-s.raw)
			}
		}
	}
	g := n - 1
	for i := range traces {
		tr := &traces[i]
		if tr.Err != "" || tr.Asked == 0 || tr.Answered == 0 {
			continue
		}
		// o_i - o_g <= Now - Asked and o_g - o_i <= Answered - Now.
		u[g][i] = min(u[g][i], tr.Now-tr.Asked)
		u[i][g] = min(u[i][g], tr.Answered-tr.Now)
	}
	for k := range n {
		for a := range n {
			for b := range n {
				if u[a][k] < unbounded && u[k][b] < unbounded && u[a][k]+u[k][b] < u[a][b] {
					u[a][b] = u[a][k] + u[k][b]
				}
			}
		}
	}
	// The reference: the leader (the node that sent the most accepts and
	// prepares), or the node with the most events.
	ref := 0
	count := make([]int, len(traces))
	leads := make([]int, len(traces))
	for i := range evs {
		count[evs[i].node]++
		if evs[i].Kind == TraceSend && (evs[i].Type == "MsgAccept" || evs[i].Type == "MsgPrepare") {
			leads[evs[i].node]++
		}
	}
	for i := range traces {
		if leads[i] > leads[ref] || leads[i] == leads[ref] && count[i] > count[ref] {
			ref = i
		}
	}
	offsets := make([]int64, len(traces))
	for i := range traces {
		node := MergedNode{TraceNode: traces[i].Node, Events: count[i], Error: traces[i].Err, Uncertainty: -1}
		if len(traces) > 0 {
			out.Reference = traces[ref].Node.ID
		}
		hi, lo := u[ref][i], -u[i][ref] // o_i - o_ref in [lo, hi]
		switch {
		case i == ref:
			node.Uncertainty = 0
		case hi < unbounded && lo > -unbounded && lo <= hi:
			node.Offset, node.Uncertainty = lo+(hi-lo)/2, (hi-lo)/2
		case hi < unbounded:
			node.Offset = hi
		case lo > -unbounded:
			node.Offset = lo
		}
		offsets[i] = node.Offset
		out.Nodes = append(out.Nodes, node)
	}
	for i := range evs {
		evs[i].Time = evs[i].raw - offsets[evs[i].node]
	}

	// Causal order: Kahn's algorithm, earliest aligned time first.
	indeg := make([]int, len(evs))
	next := make([][]int, len(evs))
	for i := range evs {
		if i+1 < len(evs) && evs[i+1].node == evs[i].node {
			next[i] = append(next[i], i+1)
			indeg[i+1]++
		}
		if evs[i].Kind == TraceSend && evs[i].Peer >= 0 {
			next[i] = append(next[i], evs[i].Peer)
			indeg[evs[i].Peer]++
		}
	}
	h := &evHeap{less: func(a, b int) bool {
		if evs[a].Time != evs[b].Time {
			return evs[a].Time < evs[b].Time
		}
		if evs[a].node != evs[b].node {
			return evs[a].node < evs[b].node
		}
		return evs[a].Seq < evs[b].Seq
	}}
	for i := range evs {
		if indeg[i] == 0 {
			heap.Push(h, i)
		}
	}
	order := make([]int, 0, len(evs))
	for h.Len() > 0 {
		i := heap.Pop(h).(int)
		order = append(order, i)
		for _, j := range next[i] {
			if indeg[j]--; indeg[j] == 0 {
				heap.Push(h, j)
			}
		}
	}
	// A cycle cannot happen (a receipt pairs with one send), but never
	// lose events: append what is left in node order.
	if len(order) < len(evs) {
		seen := make([]bool, len(evs))
		for _, i := range order {
			seen[i] = true
		}
		for i := range evs {
			if !seen[i] {
				order = append(order, i)
			}
		}
	}
	pos := make([]int, len(evs))
	for p, i := range order {
		pos[i] = p
	}
	var t0 int64
	if len(order) > 0 {
		t0 = evs[order[0]].Time
		for _, i := range order {
			t0 = min(t0, evs[i].Time)
		}
	}
	out.Events = make([]MergedEvent, len(order))
	for p, i := range order {
		e := evs[i].MergedEvent
		e.Time -= t0
		if e.Peer >= 0 {
			e.Peer = pos[e.Peer]
		}
		out.Events[p] = e
	}
	markPersists(out.Events)
	markQuorums(out.Events, out.Quorum, slot)
	return out
}

// markPersists sets the duration of every persist-end from the
// persist-start before it on the same node.
func markPersists(es []MergedEvent) {
	start := map[replog.ID]int64{}
	for i := range es {
		e := &es[i]
		switch e.Kind {
		case TracePersistStart:
			start[e.Node] = e.At
		case TracePersistEnd:
			if t, ok := start[e.Node]; ok {
				e.Duration = e.At - t
				delete(start, e.Node)
			}
		}
	}
}

// markQuorums marks, at every node, the receipt that brought the distinct
// acceptors that answered one ballot to a quorum: promises (an election),
// and, for a slot, accepted replies (the leader) and learn notices
// (learners).
func markQuorums(es []MergedEvent, quorum int, slot *uint64) {
	if quorum <= 0 {
		return
	}
	type key struct {
		node   replog.ID
		typ    string
		ballot replog.Ballot
	}
	votes := map[key][]replog.ID{}
	for i := range es {
		e := &es[i]
		if e.Kind != TraceRecv {
			continue
		}
		switch e.Type {
		case "MsgPromise":
		case "MsgAccepted", "MsgLearn":
			if slot == nil || !e.Covers(*slot) {
				continue
			}
		default:
			continue
		}
		k := key{e.Node, e.Type, e.Ballot}
		if slices.Contains(votes[k], e.From) {
			continue
		}
		votes[k] = append(votes[k], e.From)
		if len(votes[k]) == quorum {
			e.Quorum = true
		}
	}
}

type evHeap struct {
	items []int
	less  func(a, b int) bool
}

func (h *evHeap) Len() int           { return len(h.items) }
func (h *evHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *evHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *evHeap) Push(x any)         { h.items = append(h.items, x.(int)) }
func (h *evHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// ElectionBallot returns the ballot of the last election that was won: the
// highest ballot at which its proposer received promises from a quorum of
// distinct acceptors. A campaign the acceptors refused (a proposer whose
// timer fired while the leader was alive gets nacks) is not an election,
// even when its ballot is higher. When no ballot has a quorum in the
// traces (the promises left the rings), the highest promised ballot is
// returned; false when there is no promise at all.
func ElectionBallot(traces []GatheredTrace) (replog.Ballot, bool) {
	quorum := 0
	from := map[replog.Ballot]map[replog.ID]bool{}
	var highest, won replog.Ballot
	for i := range traces {
		quorum = max(quorum, traces[i].Quorum)
		for _, e := range traces[i].Events {
			if e.Type != "MsgPromise" {
				continue
			}
			highest = max(highest, e.Ballot)
			if e.Kind != TraceRecv || e.To != e.Ballot.Proposer() || traces[i].Node.ID != e.To {
				continue
			}
			if from[e.Ballot] == nil {
				from[e.Ballot] = map[replog.ID]bool{}
			}
			from[e.Ballot][e.From] = true
			if len(from[e.Ballot]) >= max(quorum, 1) {
				won = max(won, e.Ballot)
			}
		}
	}
	if won != 0 {
		return won, true
	}
	return highest, highest != 0
}

// ElectionEvents keeps, of events at the ballot of an election, Phase 1
// (prepares, promises and their persists) and the first accept the new
// leader sent each acceptor (re-proposals and no-op fills) with what
// answered it.
func ElectionEvents(traces []GatheredTrace) []GatheredTrace {
	type first struct {
		to            replog.ID
		slot, slotEnd uint64
	}
	firsts := map[replog.ID]first{}
	for i := range traces {
		for _, e := range traces[i].Events {
			if e.Kind == TraceSend && e.Type == "MsgAccept" && e.From == traces[i].Node.ID && e.Slot != nil && e.SlotEnd != nil {
				if _, ok := firsts[e.To]; !ok {
					firsts[e.To] = first{e.To, *e.Slot, *e.SlotEnd}
				}
			}
		}
	}
	inFirst := func(acceptor replog.ID, e *TraceEvent) bool {
		f, ok := firsts[acceptor]
		return ok && e.Slot != nil && e.SlotEnd != nil && *e.Slot == f.slot && *e.SlotEnd == f.slotEnd
	}
	out := make([]GatheredTrace, len(traces))
	for i := range traces {
		out[i] = traces[i]
		out[i].Events = nil
		self := traces[i].Node.ID
		for _, e := range traces[i].Events {
			keep := false
			switch {
			case e.Type == "MsgPrepare" || e.Type == "MsgPromise":
				keep = true
			case e.Kind == TracePersistStart || e.Kind == TracePersistEnd:
				keep = e.N == 0 || inFirst(self, &e)
			case e.Type == "MsgAccept":
				keep = inFirst(e.To, &e)
			case e.Type == "MsgAccepted":
				keep = inFirst(e.From, &e)
			}
			if keep {
				out[i].Events = append(out[i].Events, e)
			}
		}
	}
	return out
}
