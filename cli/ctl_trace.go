package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
)

const traceDescription = `trace gathers the recent protocol events of every node (GET /trace on
its monitor port, 8000+ID as in the standard topology; the API port when the
monitor port does not answer, or always with --api) and prints the life of one slot as a sequence
diagram: one column per node, time going down, one row per step.

   ──Accept──▶     a message, drawn where it arrived, with its flight time
   ──✕             a message sent that no trace shows arriving
   ▮ persist       the save (fsync) before the node answered, with its length
   ◆ quorum        the answer that made a quorum of acceptors (at the leader:
                   accepted replies; at a learner: learn notices)
   ★ chosen        the leader applied the slot;  ✓ learned: a learner did
   ↩ ack           the leader answered the client

Times are on one node's clock (the reference, the node with the most
events). Each process has its own monotonic clock; the others are aligned on
pairs of a message's send and receipt (both directions bound the offset) and
on when each node answered paxosctl. The header shows each node's offset
uncertainty (±); an order the clocks cannot tell apart is kept causal: a
message is always received after it was sent.

Without SLOT, the latest slot any node sent an accept for. --election shows
the last Phase 1 instead: the prepares of the highest ballot, the promises
(with the accepted entries they carried; "more" when paged), the acceptors'
persists, and the new leader's first accepts (re-proposals and no-op fills).

The nodes keep a bounded ring of events (about 16k each): an old slot may
be gone. -w json prints the merged events (times in ns, "peer" is the index
of the other end of a message); -w table one row per event.

Examples:
   paxosctl send hello && paxosctl trace        # the slot just written
   paxosctl trace 42
   paxosctl trace --election
   paxosctl -w json trace 42 | jq '.events[] | select(.quorum)'`

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:        "trace",
		Usage:       "show the life of a slot (or the last election) as a sequence diagram",
		UsageText:   "paxosctl trace [SLOT] [--election]",
		Description: traceDescription,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "election", Usage: "show the last Phase 1 (prepares, promises, no-op fills) instead of a slot"},
			&cli.BoolFlag{Name: "api", Usage: "ask every node on its API port (an internal endpoint: needs the cluster secret when one is set), never on 8000+ID: for clusters whose monitor ports are not the standard ones"},
		},
		Action: runTrace,
	}
}

func runTrace(c *cli.Context) error {
	if c.NArg() > 1 {
		return badInput("trace", "want at most one SLOT, got %d arguments", c.NArg())
	}
	var slot *uint64
	if c.NArg() == 1 {
		n, err := strconv.ParseUint(c.Args().First(), 10, 64)
		if err != nil {
			return badInput("trace", "SLOT %q: want a slot number", c.Args().First())
		}
		slot = &n
	}
	if slot != nil && c.Bool("election") {
		return badInput("trace", "give a SLOT or --election, not both")
	}
	env := newCtlEnv(c, 16)
	defer env.client.close()
	ctx := c.Context
	t := env.client.discover(ctx)
	if t.Err != nil {
		return failed("trace", t.Err)
	}
	var nodes []ctlNode
	for _, n := range t.Nodes {
		if n.ID != 0 {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return failed("trace", fmt.Errorf("no node with a known ID behind the endpoints (%s)", t.Source))
	}
	tc := &traceClient{c: env.client, start: time.Now()}
	if c.Bool("api") {
		tc.api = map[uint64]bool{}
		for _, n := range nodes {
			tc.api[n.ID] = true
		}
	}
	var merged server.MergedTrace
	if c.Bool("election") {
		traces := tc.gather(ctx, nodes, server.ElectionFind())
		if err := noTraces(traces); err != nil {
			return failed("trace", err)
		}
		b, ok := server.ElectionBallot(traces)
		if !ok {
			return failed("trace", fmt.Errorf("no promise in the nodes' traces: no election since they started, or it left their rings"))
		}
		traces = tc.gather(ctx, nodes, url.Values{"ballot": {strconv.FormatUint(uint64(b), 10)}, "limit": {"400"}})
		merged = server.MergeTraces(server.ElectionEvents(traces), nil)
		merged.Ballot = b
	} else {
		if slot == nil {
			traces := tc.gather(ctx, nodes, url.Values{"type": {"accept"}, "latest": {"1"}})
			if err := noTraces(traces); err != nil {
				return failed("trace", err)
			}
			for _, tr := range traces {
				for _, e := range tr.Events {
					if e.SlotEnd != nil && (slot == nil || *e.SlotEnd > *slot) {
						s := *e.SlotEnd
						slot = &s
					}
				}
			}
			if slot == nil {
				return failed("trace", fmt.Errorf("no accept in the nodes' traces: nothing written since they started"))
			}
		}
		traces := tc.gather(ctx, nodes, url.Values{"slot": {strconv.FormatUint(*slot, 10)}})
		if err := noTraces(traces); err != nil {
			return failed("trace", err)
		}
		merged = server.MergeTraces(traces, slot)
		if len(merged.Events) == 0 {
			return failed("trace", fmt.Errorf("no node has events of slot %d (not written yet, or gone from the rings)", *slot))
		}
	}
	return env.out.print(result{
		JSON:   merged,
		Header: []string{"AT", "NODE", "KIND", "TYPE", "FROM", "TO", "BALLOT", "SLOTS", "N", "SIZE", "NOTE"},
		Rows:   traceRows(merged),
		Text:   strings.TrimRight(renderTrace(merged), "\n"),
	})
}

// noTraces is an error when no node answered.
func noTraces(traces []server.GatheredTrace) error {
	var errs []error
	for _, tr := range traces {
		if tr.Err == "" {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %s", tr.Node.Name, tr.Err))
	}
	return &noAnswerError{errs: errs}
}

// traceClient fetches traces, timing each request on its own monotonic
// clock (for MergeTraces' alignment).
type traceClient struct {
	c     *ctlClient
	start time.Time
	// api remembers the nodes whose monitor port did not answer.
	mu  sync.Mutex
	api map[uint64]bool
}

func (tc *traceClient) now() int64 { return int64(time.Since(tc.start)) }

// gather asks every node for GET /trace?q, concurrently.
func (tc *traceClient) gather(ctx context.Context, nodes []ctlNode, q url.Values) []server.GatheredTrace {
	out := make([]server.GatheredTrace, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { out[i] = tc.fetch(ctx, n, "/trace?"+q.Encode()) })
	}
	wg.Wait()
	return out
}

// traceMonitorAddr is the monitor address of node n: its API host and
// server.MonitorPort (8000+ID, SPEC §3). Tests replace it to keep away from the standard
// ports.
var traceMonitorAddr = func(n ctlNode) string {
	host, _, _ := net.SplitHostPort(n.Addr)
	return net.JoinHostPort(host, strconv.Itoa(server.MonitorPort(replog.ID(n.ID))))
}

// fetch asks one node: on its monitor port, or on its API port when the
// monitor port does not answer as that node (nothing listens, or another
// node or program does).
func (tc *traceClient) fetch(ctx context.Context, n ctlNode, path string) server.GatheredTrace {
	g := server.GatheredTrace{}
	g.Node = server.TraceNode{ID: replog.ID(n.ID), Name: n.Name, Role: server.Role(n.Role)}
	tc.mu.Lock()
	viaAPI := tc.api[n.ID]
	tc.mu.Unlock()
	if !viaAPI {
		var nt server.NodeTrace
		g.Asked = tc.now()
		err := tc.c.get(ctx, traceMonitorAddr(n), path, &nt)
		g.Answered = tc.now()
		if err == nil && uint64(nt.Node.ID) == n.ID {
			g.NodeTrace = nt
			return g
		}
		if ctx.Err() != nil {
			g.Err = ctx.Err().Error()
			return g
		}
		tc.mu.Lock()
		if tc.api == nil {
			tc.api = map[uint64]bool{}
		}
		tc.api[n.ID] = true
		tc.mu.Unlock()
	}
	var nt server.NodeTrace
	g.Asked = tc.now()
	err := tc.c.get(ctx, n.Addr, path, &nt)
	g.Answered = tc.now()
	switch {
	case err != nil:
		g.Err = err.Error()
	case uint64(nt.Node.ID) != n.ID:
		g.Err = fmt.Sprintf("%s answered as node %d, not %d", n.Addr, nt.Node.ID, n.ID)
	default:
		g.NodeTrace = nt
	}
	return g
}

// traceRows is the merged trace as table rows.
func traceRows(m server.MergedTrace) [][]string {
	names := traceNames(m)
	rows := make([][]string, 0, len(m.Events))
	for _, e := range m.Events {
		typ, from, to := "", "", ""
		if e.Type != "" {
			typ, from, to = strings.TrimPrefix(e.Type, "Msg"), names.of(e.From), names.of(e.To)
		}
		ballot := ""
		if e.Ballot != 0 {
			ballot = strconv.FormatUint(uint64(e.Ballot), 10)
		}
		size := ""
		if e.Size != 0 {
			size = strconv.FormatUint(uint64(e.Size), 10)
		}
		n := ""
		if e.N != 0 {
			n = strconv.FormatUint(uint64(e.N), 10)
		}
		rows = append(rows, []string{fmtMs(e.Time), names.of(e.Node), e.Kind.String(), typ, from, to, ballot,
			slotRange(&e.TraceEvent), n, size, eventNote(&e, m.Quorum)})
	}
	return rows
}

// traceNameBook names nodes by ID.
type traceNameBook map[replog.ID]string

func (b traceNameBook) of(id replog.ID) string {
	if n, ok := b[id]; ok && n != "" {
		return n
	}
	return "node" + strconv.FormatUint(uint64(id), 10)
}

func traceNames(m server.MergedTrace) traceNameBook {
	b := traceNameBook{}
	for _, n := range m.Nodes {
		b[n.ID] = n.Name
	}
	return b
}

// fmtMs writes nanoseconds as milliseconds with three decimals.
func fmtMs(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64) + "ms"
}

// slotRange writes an event's slots: "12", "12-15", "12-" (from 12 on).
func slotRange(e *server.TraceEvent) string {
	switch {
	case e.Slot == nil:
		return ""
	case e.SlotEnd == nil:
		return strconv.FormatUint(*e.Slot, 10) + "-"
	case *e.SlotEnd == *e.Slot:
		return strconv.FormatUint(*e.Slot, 10)
	}
	return strconv.FormatUint(*e.Slot, 10) + "-" + strconv.FormatUint(*e.SlotEnd, 10)
}

// eventNote says what is special about an event: a quorum, a persist's
// length, paging, no-ops.
func eventNote(e *server.MergedEvent, quorum int) string {
	var parts []string
	if e.Quorum {
		parts = append(parts, fmt.Sprintf("quorum %d", quorum))
	}
	if e.Kind == server.TracePersistEnd && e.Duration > 0 {
		parts = append(parts, "took "+fmtMs(e.Duration))
	}
	if e.Noops > 0 {
		parts = append(parts, fmt.Sprintf("%d no-op", e.Noops))
	}
	if e.Truncated {
		parts = append(parts, "more")
	}
	if e.Force {
		parts = append(parts, "forced")
	}
	if e.Probe {
		parts = append(parts, "probe")
	}
	if e.Kind == server.TraceRecv && e.Peer < 0 {
		parts = append(parts, "send not in trace")
	}
	if e.Kind == server.TraceSend && e.Peer < 0 {
		parts = append(parts, "not received")
	}
	return strings.Join(parts, ", ")
}

// renderTrace draws the merged trace as a sequence diagram.
func renderTrace(m server.MergedTrace) string {
	var b strings.Builder
	names := traceNames(m)
	switch {
	case m.Slot != nil:
		fmt.Fprintf(&b, "slot %d", *m.Slot)
	case m.Ballot != 0:
		fmt.Fprintf(&b, "election at ballot %d (round %d of proposer%d)", m.Ballot, m.Ballot.Round(), m.Ballot.Proposer())
	default:
		b.WriteString("trace")
	}
	fmt.Fprintf(&b, " · quorum %d · times on %s's clock\n", m.Quorum, names.of(m.Reference))

	// Columns: the nodes with events, in the order of the topology.
	var cols []server.MergedNode
	var silent, absent []string
	for _, n := range m.Nodes {
		switch {
		case n.Error != "":
			absent = append(absent, n.Name)
		case n.Events == 0:
			silent = append(silent, n.Name)
		default:
			cols = append(cols, n)
		}
	}
	var clocks []string
	for _, n := range cols {
		switch {
		case n.ID == m.Reference:
		case n.Uncertainty < 0:
			clocks = append(clocks, n.Name+" unbounded")
		default:
			clocks = append(clocks, n.Name+" ±"+fmtUs(n.Uncertainty))
		}
	}
	if len(clocks) > 0 {
		b.WriteString("clock uncertainty: " + strings.Join(clocks, ", ") + "\n")
	}
	if len(silent) > 0 {
		b.WriteString("no events: " + strings.Join(silent, ", ") + "\n")
	}
	if len(absent) > 0 {
		b.WriteString("did not answer: " + strings.Join(absent, ", ") + "\n")
	}
	width := 11
	for _, n := range cols {
		width = max(width, len([]rune(n.Name))+2)
	}
	roles := map[replog.ID]server.Role{}
	for _, n := range m.Nodes {
		roles[n.ID] = n.Role
	}
	col := map[replog.ID]int{}
	for i, n := range cols {
		col[n.ID] = i
	}
	center := func(i int) int { return i*width + width/2 }
	lanes := func() []rune {
		r := []rune(strings.Repeat(" ", len(cols)*width))
		for i := range cols {
			r[center(i)] = '│'
		}
		return r
	}
	head := []rune(strings.Repeat(" ", len(cols)*width))
	for i, n := range cols {
		name := []rune(n.Name)
		at := max(0, center(i)-len(name)/2)
		copy(head[at:], name)
	}
	const timeCol = "%10s %9s "
	fmt.Fprintf(&b, timeCol+"%s\n", "at", "+step", strings.TrimRight(string(head), " "))

	var prev int64
	first := true
	for _, e := range m.Events {
		self, ok := col[e.Node]
		if !ok {
			continue
		}
		line := lanes()
		var label string
		switch e.Kind {
		case server.TraceSend:
			if e.Peer >= 0 {
				continue // drawn where it arrived
			}
			to, ok := col[e.To]
			if !ok {
				line[min(center(self)+1, len(line)-1)] = '─'
				line[min(center(self)+2, len(line)-1)] = '✕'
			} else {
				arrow(line, center(self), center(to), '✕')
			}
			label = msgLabel(&e) + " to " + names.of(e.To)
		case server.TraceRecv:
			from, ok := col[e.From]
			if !ok {
				line[max(center(self)-1, 0)] = '▶'
				label = msgLabel(&e) + " from " + names.of(e.From)
			} else {
				h := '▶'
				if from > self {
					h = '◀'
				}
				if e.Quorum {
					h = '◆'
				}
				arrow(line, center(from), center(self), h)
				label = msgLabel(&e)
			}
			if e.Peer >= 0 {
				label += " · flight " + fmtMs(e.Time-m.Events[e.Peer].Time)
			}
			if e.Quorum {
				label += fmt.Sprintf(" · ◆ quorum (%d of the acceptors)", m.Quorum)
			}
		case server.TracePersistStart:
			continue
		case server.TracePersistEnd:
			line[center(self)] = '▮'
			label = "persist"
			if e.Log {
				label = fmt.Sprintf("append %d chosen [%s] to the log (synced at the next tick)", e.N, slotRange(&e.TraceEvent))
			} else if e.N > 0 {
				label += fmt.Sprintf(" %d accepted [%s]", e.N, slotRange(&e.TraceEvent))
			} else if e.Ballot != 0 && roles[e.Node] == server.RoleProposer {
				label += fmt.Sprintf(" round for b%d", e.Ballot)
			} else if e.Ballot != 0 {
				label += fmt.Sprintf(" promise b%d", e.Ballot)
			}
			if e.Duration > 0 {
				label += " · " + fmtMs(e.Duration)
			}
		case server.TraceChosen:
			line[center(self)] = '★'
			label = "chosen [" + slotRange(&e.TraceEvent) + "]"
		case server.TraceLearned:
			line[center(self)] = '✓'
			label = "learned [" + slotRange(&e.TraceEvent) + "]"
		case server.TraceAck:
			line[center(self)] = '↩'
			label = "ack to the client [" + slotRange(&e.TraceEvent) + "]"
		}
		step := ""
		if !first {
			step = "+" + fmtMs(e.Time-prev)
		}
		first, prev = false, e.Time
		fmt.Fprintf(&b, timeCol+"%s  %s\n", fmtMs(e.Time), step, string(line), label)
	}
	return b.String()
}

// arrow draws a message from column position a to b, with head at b's end.
func arrow(line []rune, a, b int, head rune) {
	if a == b {
		line[a] = head
		return
	}
	lo, hi := min(a, b), max(a, b)
	for i := lo + 1; i < hi; i++ {
		line[i] = '─'
	}
	line[a] = '•'
	if b > a {
		line[b-1] = head
	} else {
		line[b+1] = head
	}
}

// msgLabel names a message: type, ballot, slots, entries, size.
func msgLabel(e *server.MergedEvent) string {
	s := strings.TrimPrefix(e.Type, "Msg")
	if e.Ballot != 0 {
		s += " b" + strconv.FormatUint(uint64(e.Ballot), 10)
	}
	if r := slotRange(&e.TraceEvent); r != "" {
		s += " [" + r + "]"
	}
	if e.N > 1 || e.Type == "MsgPromise" {
		s += fmt.Sprintf(" %d entries", e.N)
	}
	if e.Noops > 0 {
		s += fmt.Sprintf(" (%d no-op)", e.Noops)
	}
	if e.Truncated {
		s += " more"
	}
	if e.Force {
		s += " forced"
	}
	if e.Size > 0 {
		s += " " + strconv.FormatUint(uint64(e.Size), 10) + "B"
	}
	return s
}

// fmtUs writes nanoseconds as microseconds or milliseconds.
func fmtUs(ns int64) string {
	if ns < 1e6 {
		return strconv.FormatInt(ns/1000, 10) + "µs"
	}
	return fmtMs(ns)
}
