package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/paxos-go/paxos/replog"

	"github.com/paxos-go/paxos/api"
)

// Protocol trace. Every node keeps the most recent protocol events in a
// ring of fixed-size records (traceRec): the messages it sent and received
// (type, peers, ballot, slot range, size), the persist that precedes every
// send, what it learned was chosen, the answers to clients. The driver
// records what it sees of every Ready; deliver records what arrives. The
// ring is on by default: recording is a mutex and a copy of a few words per
// message, no allocation.
//
// Times are monotonic: nanoseconds since this process started
// (time.Since(processStart)), never the wall clock, so the events of one
// node are ordered exactly; the clocks of two processes are aligned later,
// from pairs of a send and its receipt (MergeTraces).
//
// GET /trace (monitor port; on the API port too, internal) answers the
// events that match a query, oldest first, bounded by traceAnswerEvents and
// traceAnswerBytes:
//
//	?slot=N     events whose slot range holds slot N
//	?since=SEQ  events after sequence number SEQ (to page or to tail)
//	?ballot=B   events at ballot B
//	?type=NAME  messages of one type (prepare, promise, accept, ...)
//	?latest=K   the K latest matching events instead of the oldest
//	?limit=K    at most K events
//
// with the node's clock reading (now_ns) taken as the answer is built.

// The bounds of the ring and of one answer (SPEC §9: in bytes and items).
const (
	// traceRingEvents bounds the events a node keeps.
	traceRingEvents = 16384
	// traceRingBytes bounds the memory the ring takes.
	traceRingBytes = 2 << 20
	// traceAnswerEvents bounds the events of one /trace answer.
	traceAnswerEvents = 4096
	// traceAnswerBytes bounds the JSON events of one /trace answer.
	traceAnswerBytes = 1 << 20
)

// processStart is when this process started: the origin of trace times.
// time.Now carries a monotonic reading, so time.Since(processStart) never
// goes back, whatever the wall clock does.
var processStart = time.Now()

// traceNow is the trace clock: nanoseconds since processStart.
func traceNow() int64 { return int64(time.Since(processStart)) }

// TraceKind is what a trace event records.
type TraceKind uint8

// The kinds of trace events.
const (
	// TraceSend: the node handed a message to the transport.
	TraceSend TraceKind = iota + 1
	// TraceRecv: a message arrived (before the role's core sees it).
	TraceRecv
	// TracePersistStart and TracePersistEnd bracket the save of a Ready
	// (what must be durable before its messages leave).
	TracePersistStart
	TracePersistEnd
	// TraceChosen: a proposer applied chosen slots (it saw a quorum of
	// accepts, or was told).
	TraceChosen
	// TraceLearned: a learner appended chosen slots to its log.
	TraceLearned
	// TraceAck: a proposer answered a client's proposal with its slot.
	TraceAck
)

var traceKindNames = [...]string{"", "send", "recv", "persist-start", "persist-end", "chosen", "learned", "ack"}

func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && k != 0 {
		return traceKindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's name.
func (k TraceKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *TraceKind) UnmarshalText(b []byte) error {
	for i, n := range traceKindNames {
		if i > 0 && n == string(b) {
			*k = TraceKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown trace kind %q", b)
}

// Flags of a trace event.
const (
	traceTruncated = 1 << iota // a paged message: the sender has more
	traceForce                 // a forced prepare
	traceProbe                 // an accept or accepted that confirms leadership
	traceOpen                  // the slot range has no end (a prepare or catch-up from Slot on)
	traceHasSlot               // Slot..SlotEnd is set
	traceLog                   // a persist of chosen entries to a learner's log
)

// traceRec is one event in the ring: fixed size, no pointers.
type traceRec struct {
	seq     uint64
	at      int64
	from    replog.ID
	to      replog.ID
	ballot  replog.Ballot
	slot    uint64
	slotEnd uint64
	n       uint32 // entries or slots carried
	noops   uint32 // no-op entries carried
	size    uint32 // encoded bytes
	kind    TraceKind
	typ     replog.MsgType
	flags   uint8
}

// traceRing is a node's ring of trace events. The zero value is not
// usable; newTraceRing makes one. Safe for concurrent use.
type traceRing struct {
	self replog.ID
	mu   sync.Mutex
	buf  []traceRec
	next uint64 // the sequence number of the next event (the first is 1)
}

// traceRingCap is how many events the ring holds: the lower of the two
// bounds.
var traceRingCap = min(traceRingEvents, traceRingBytes/int(unsafe.Sizeof(traceRec{})))

func newTraceRing(self replog.ID) *traceRing {
	return &traceRing{self: self, buf: make([]traceRec, traceRingCap), next: 1}
}

// addLocked stores r with the next sequence number.
func (t *traceRing) addLocked(r traceRec) {
	r.seq = t.next
	t.buf[t.next%uint64(len(t.buf))] = r
	t.next++
}

// messages records msgs as sent (kind TraceSend) or received (TraceRecv).
// Heartbeats are left out: they would push the protocol out of the ring.
func (t *traceRing) messages(kind TraceKind, msgs []replog.Message) {
	if t == nil || len(msgs) == 0 {
		return
	}
	at := traceNow()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range msgs {
		m := &msgs[i]
		if m.Type == replog.MsgHeartbeat || m.To >= tapBase {
			continue
		}
		t.addLocked(msgRec(kind, at, m))
	}
}

// msgRec is the record of message m.
func msgRec(kind TraceKind, at int64, m *replog.Message) traceRec {
	r := traceRec{at: at, kind: kind, typ: m.Type, from: m.From, to: m.To, ballot: m.Ballot,
		size: uint32(min(encodedSize(m), math.MaxUint32))}
	if m.Truncated {
		r.flags |= traceTruncated
	}
	if m.Force {
		r.flags |= traceForce
	}
	if m.Probe != 0 {
		r.flags |= traceProbe
	}
	switch {
	case len(m.Entries) > 0:
		r.n = uint32(len(m.Entries))
		r.slot, r.slotEnd = m.Entries[0].Slot, m.Entries[0].Slot
		for j := range m.Entries {
			e := &m.Entries[j]
			r.slot, r.slotEnd = min(r.slot, e.Slot), max(r.slotEnd, e.Slot)
			if e.Command.IsNoop() {
				r.noops++
			}
		}
		r.flags |= traceHasSlot
	case len(m.Slots) > 0:
		r.n = uint32(len(m.Slots))
		r.slot, r.slotEnd = m.Slots[0], m.Slots[0]
		for _, s := range m.Slots {
			r.slot, r.slotEnd = min(r.slot, s), max(r.slotEnd, s)
		}
		r.flags |= traceHasSlot
	case m.Type == replog.MsgPrepare || m.Type == replog.MsgCatchup || m.Type == replog.MsgPromise:
		r.slot, r.slotEnd = m.Slot, math.MaxUint64
		r.flags |= traceHasSlot | traceOpen
	}
	return r
}

// persist records the start or the end (kind) of the save of rd, when rd
// has something the trace shows (tracePersists).
func (t *traceRing) persist(kind TraceKind, rd *replog.Ready) {
	if t == nil || !tracePersists(rd) {
		return
	}
	r := traceRec{at: traceNow(), kind: kind, from: t.self, to: t.self}
	switch {
	case len(rd.Accepted) > 0:
		r.n = uint32(len(rd.Accepted))
		r.ballot = rd.Accepted[0].Ballot
		r.slot, r.slotEnd = rd.Accepted[0].Slot, rd.Accepted[0].Slot
		for i := range rd.Accepted {
			e := &rd.Accepted[i]
			r.slot, r.slotEnd, r.ballot = min(r.slot, e.Slot), max(r.slotEnd, e.Slot), max(r.ballot, e.Ballot)
			if e.Command.IsNoop() {
				r.noops++
			}
		}
		r.flags |= traceHasSlot
	case len(rd.Chosen) > 0:
		r.n = uint32(len(rd.Chosen))
		r.slot, r.slotEnd = rd.Chosen[0].Slot, rd.Chosen[len(rd.Chosen)-1].Slot
		r.flags |= traceHasSlot | traceLog
	}
	r.ballot = max(r.ballot, rd.HardState.Promised)
	if rd.HardState.Round != 0 {
		r.ballot = max(r.ballot, replog.MakeBallot(rd.HardState.Round, t.self))
	}
	t.mu.Lock()
	t.addLocked(r)
	t.mu.Unlock()
}

// tracePersists reports whether rd has something to make durable that the
// trace shows: a promise, a round, accepted or chosen entries (a chosen
// watermark alone rides on other writes).
func tracePersists(rd *replog.Ready) bool {
	return rd.HardState.Promised != 0 || rd.HardState.Round != 0 || len(rd.Accepted) > 0 || len(rd.Chosen) > 0
}

// applied records the chosen entries a learner appended (learned), those a
// proposer applied (chosen) and the answers to clients (ack) of rd.
func (t *traceRing) applied(rd *replog.Ready) {
	if t == nil || len(rd.Chosen) == 0 && len(rd.Applied) == 0 && len(rd.Results) == 0 {
		return
	}
	at := traceNow()
	t.mu.Lock()
	defer t.mu.Unlock()
	span := func(kind TraceKind, es []replog.ChosenEntry) {
		if len(es) == 0 {
			return
		}
		r := traceRec{at: at, kind: kind, from: t.self, to: t.self, n: uint32(len(es)),
			slot: es[0].Slot, slotEnd: es[len(es)-1].Slot, flags: traceHasSlot}
		for i := range es {
			if es[i].Command.IsNoop() {
				r.noops++
			}
		}
		t.addLocked(r)
	}
	span(TraceLearned, rd.Chosen)
	span(TraceChosen, rd.Applied)
	for _, res := range rd.Results {
		if res.Err == nil {
			t.addLocked(traceRec{at: at, kind: TraceAck, from: t.self, to: t.self, n: 1,
				slot: res.Slot, slotEnd: res.Slot, flags: traceHasSlot})
		}
	}
}

// latestSlot returns the slot of the latest event about one slot range
// (the end of the range): the slot the cluster worked on last.
func (t *traceRing) latestSlot() (uint64, bool) {
	if t == nil {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq, n := t.next-1, 0; seq > 0 && n < len(t.buf); seq, n = seq-1, n+1 {
		r := &t.buf[seq%uint64(len(t.buf))]
		if r.flags&traceHasSlot != 0 && r.flags&traceOpen == 0 && r.typ != replog.MsgCatchup {
			return r.slotEnd, true
		}
	}
	return 0, false
}

// traceQuery selects events; a nil field does not filter.
type traceQuery struct {
	since  uint64
	slot   *uint64
	ballot *replog.Ballot
	typ    replog.MsgType
	limit  int
	// latest, when above 0, asks for the latest matching events (at most
	// that many) rather than the oldest.
	latest int
}

func (q *traceQuery) match(r *traceRec) bool {
	if r.seq <= q.since {
		return false
	}
	if q.slot != nil && (r.flags&traceHasSlot == 0 || r.flags&traceOpen != 0 || *q.slot < r.slot || *q.slot > r.slotEnd) {
		return false
	}
	if q.ballot != nil && r.ballot != *q.ballot {
		return false
	}
	return q.typ == 0 || r.typ == q.typ
}

// TraceEvent is one protocol event as /trace answers it.
type TraceEvent struct {
	// Seq numbers the node's events from 1, in the order they happened.
	Seq uint64 `json:"seq"`
	// At is when, in nanoseconds of the node's monotonic clock (since its
	// process started).
	At   int64     `json:"t_ns"`
	Kind TraceKind `json:"kind"`
	// Type is the message type (send, recv): "MsgAccept", ...
	Type string `json:"type,omitempty"`
	// From and To are the sender and addressee of a message; both are the
	// node itself for the other kinds.
	From replog.ID `json:"from"`
	To   replog.ID `json:"to"`
	// Ballot is the message's ballot (a persist: the highest ballot saved).
	Ballot replog.Ballot `json:"ballot,omitempty"`
	// Slot and SlotEnd are the range of slots the event concerns, both
	// included; nil when it concerns none. SlotEnd is nil for a range with
	// no end (a prepare or a catch-up from Slot on).
	Slot    *uint64 `json:"slot,omitempty"`
	SlotEnd *uint64 `json:"slot_end,omitempty"`
	// N is how many entries (or slots) the event carried, Noops how many of
	// them were no-ops.
	N     uint32 `json:"n,omitempty"`
	Noops uint32 `json:"noops,omitempty"`
	// Size is the message's encoded size in bytes.
	Size uint32 `json:"size,omitempty"`
	// Truncated: a page of a paged answer (the sender has more). Force: a
	// forced prepare. Probe: a leadership check for a linearizable read.
	Truncated bool `json:"truncated,omitempty"`
	Force     bool `json:"force,omitempty"`
	Probe     bool `json:"probe,omitempty"`
	// Log: a persist of chosen entries to a learner's log (a buffered
	// append; the learner syncs once per tick and serves what is synced).
	Log bool `json:"log,omitempty"`
}

// Covers reports whether slot is in the event's closed range Slot..SlotEnd
// (a message that carried it: an accept, a vote, a chosen notice).
func (e *TraceEvent) Covers(slot uint64) bool {
	return e.Slot != nil && e.SlotEnd != nil && *e.Slot <= slot && slot <= *e.SlotEnd
}

// event is r as /trace shows it.
func (r *traceRec) event() TraceEvent {
	e := TraceEvent{Seq: r.seq, At: r.at, Kind: r.kind, From: r.from, To: r.to, Ballot: r.ballot,
		N: r.n, Noops: r.noops, Size: r.size, Truncated: r.flags&traceTruncated != 0,
		Force: r.flags&traceForce != 0, Probe: r.flags&traceProbe != 0, Log: r.flags&traceLog != 0}
	if r.typ != 0 {
		e.Type = r.typ.String()
	}
	if r.flags&traceHasSlot != 0 {
		lo, hi := r.slot, r.slotEnd
		e.Slot = &lo
		if r.flags&traceOpen == 0 {
			e.SlotEnd = &hi
		}
	}
	return e
}

// TraceNode names the node a trace comes from.
type TraceNode struct {
	ID   replog.ID `json:"id"`
	Name string    `json:"name"`
	Role Role      `json:"role"`
}

// NodeTrace is the answer of GET /trace: some of one node's events and a
// reading of its clock.
type NodeTrace struct {
	Node TraceNode `json:"node"`
	// Quorum is the number of acceptors that make a quorum.
	Quorum int `json:"quorum"`
	// Boot is the wall-clock time the process started, in Unix
	// nanoseconds: it tells two runs of a node apart (times are not
	// comparable across them). It is never used to align clocks.
	Boot int64 `json:"boot_unix_ns"`
	// Now is the node's monotonic clock when the answer was built.
	Now int64 `json:"now_ns"`
	// First is the oldest sequence number still in the ring, Last the
	// newest.
	First uint64 `json:"first_seq"`
	Last  uint64 `json:"last_seq"`
	// Events match the query, oldest first.
	Events []TraceEvent `json:"events"`
	// More says that more events matched than the answer holds: ask
	// again with since set to the last event's Seq.
	More bool `json:"more"`
}

// collect returns the events that match q, oldest first, within the
// answer's bounds (count, and bytes as JSON).
func (t *traceRing) collect(q traceQuery) (events []TraceEvent, first, last uint64, more bool) {
	limit := traceAnswerEvents
	if q.limit > 0 {
		limit = min(limit, q.limit)
	}
	t.mu.Lock()
	last = t.next - 1
	first = 1
	if t.next > uint64(len(t.buf)) {
		first = t.next - uint64(len(t.buf))
	}
	var recs []traceRec
	if q.latest > 0 {
		limit = min(limit, q.latest)
		for seq := last; seq >= max(first, q.since+1) && seq > 0; seq-- {
			r := &t.buf[seq%uint64(len(t.buf))]
			if q.match(r) {
				if len(recs) == limit {
					more = true
					break
				}
				recs = append(recs, *r)
			}
		}
		slices.Reverse(recs)
	} else {
		for seq := max(first, q.since+1); seq <= last; seq++ {
			r := &t.buf[seq%uint64(len(t.buf))]
			if !q.match(r) {
				continue
			}
			if len(recs) == limit {
				more = true
				break
			}
			recs = append(recs, *r)
		}
	}
	t.mu.Unlock()
	bytes := 0
	events = make([]TraceEvent, 0, len(recs))
	for i := range recs {
		e := recs[i].event()
		b, _ := json.Marshal(e)
		if bytes += len(b) + 1; bytes > traceAnswerBytes {
			more = true
			break
		}
		events = append(events, e)
	}
	return events, first, last, more
}

// parseTraceQuery reads the query of GET /trace (and, for the node that
// gathers, the query it sends the others: gatherTraces).
func parseTraceQuery(v url.Values) (traceQuery, error) {
	var q traceQuery
	num := func(name string) (uint64, bool, error) {
		s := v.Get(name)
		if s == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%w: %s=%.40q: want a non-negative integer", ErrBadRequest, name, s)
		}
		return n, true, nil
	}
	var err error
	var ok bool
	if q.since, _, err = num("since"); err != nil {
		return q, err
	}
	var n uint64
	if n, ok, err = num("slot"); err != nil {
		return q, err
	} else if ok {
		q.slot = &n
	}
	var b uint64
	if b, ok, err = num("ballot"); err != nil {
		return q, err
	} else if ok {
		bal := replog.Ballot(b)
		q.ballot = &bal
	}
	var lim uint64
	if lim, _, err = num("limit"); err != nil {
		return q, err
	}
	q.limit = int(min(lim, traceAnswerEvents))
	if lim, _, err = num("latest"); err != nil {
		return q, err
	}
	q.latest = int(min(lim, traceAnswerEvents))
	if name := v.Get("type"); name != "" {
		if q.typ = parseMsgType(name); q.typ == 0 {
			return q, fmt.Errorf("%w: type=%.40q: want prepare, promise, accept, accepted, nack, learn, chosen or catchup", ErrBadRequest, name)
		}
	}
	return q, nil
}

// parseMsgType reads a message type by name ("accept" or "MsgAccept",
// any case); 0 when it names none.
func parseMsgType(name string) replog.MsgType {
	for t := replog.MsgPrepare; t <= replog.MsgHeartbeat; t++ {
		full := t.String()
		if strings.EqualFold(name, full) || strings.EqualFold(name, strings.TrimPrefix(full, "Msg")) {
			return t
		}
	}
	return 0
}

// errTraceOff is the answer of a node whose trace ring is off.
var errTraceOff = fmt.Errorf("%w: tracing is off on this node (paxosd --trace=false, TRACE=false)", ErrNotFound)

// localTrace is this node's answer to q.
func (s *Server) localTrace(q traceQuery) NodeTrace {
	events, first, last, more := s.trace.collect(q)
	return NodeTrace{Node: TraceNode{ID: s.cfg.ID, Name: s.cfg.Name, Role: s.cfg.Role},
		Quorum: replog.Quorum(len(s.cfg.Acceptors)), Boot: processStart.UnixNano(), Now: traceNow(),
		First: first, Last: last, Events: events, More: more}
}

// handleTrace serves GET /trace.
func (s *Server) handleTrace(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, api.Error{Error: "method " + r.Method + " not allowed on /trace", Allow: "GET, HEAD"})
		return
	}
	q, err := parseTraceQuery(r.URL.Query())
	if err == nil && s.trace == nil {
		err = errTraceOff
	}
	if err != nil {
		writeError(w, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, s.localTrace(q))
}
