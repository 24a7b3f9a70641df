package replogtest

import (
	"fmt"
	"strings"

	"github.com/paxos-go/paxos/replog"
)

// The Describe helpers print what replog does as short stable text, one
// fact per line, for golden files and failure messages. Zero fields are
// left out. A command prints as requestID=value (noop for the no-op), or
// requestID=# when its value is a digest (Command.Digest); an entry as
// slot:command, followed by @ballot when it carries one.

// DescribeCommand prints c as requestID=value, or noop.
func DescribeCommand(c replog.Command) string {
	if c.IsNoop() {
		return "noop"
	}
	return c.RequestID + "=" + c.Value
}

// describeDigest prints c, whose value is a digest, as requestID=#, or noop.
func describeDigest(c replog.Command) string {
	if c.IsNoop() {
		return "noop"
	}
	return c.RequestID + "=#"
}

// DescribeEntry prints e as slot:command[@ballot].
func DescribeEntry(e replog.Entry) string { return describeEntry(e, DescribeCommand) }

func describeEntry(e replog.Entry, command func(replog.Command) string) string {
	s := fmt.Sprintf("%d:%s", e.Slot, command(e.Command))
	if e.Ballot != 0 {
		s += fmt.Sprintf("@%d", e.Ballot)
	}
	return s
}

// DescribeEntries prints entries as [e1 e2 ...].
func DescribeEntries(entries []replog.Entry) string { return describeEntries(entries, DescribeCommand) }

func describeEntries(entries []replog.Entry, command func(replog.Command) string) string {
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = describeEntry(e, command)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// DescribeChosen prints chosen entries as [e1 e2 ...]; a later copy of a
// request says the slot of its first copy (dup-of=N).
func DescribeChosen(entries []replog.ChosenEntry) string {
	return describeChosen(entries, DescribeCommand)
}

func describeChosen(entries []replog.ChosenEntry, command func(replog.Command) string) string {
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = describeEntry(e.Entry, command)
		if e.Dup {
			parts[i] += fmt.Sprintf("(dup-of=%d)", e.FirstSlot)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// DescribeMessage prints m as "from->to Type field=value ...".
func DescribeMessage(m replog.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d->%d %v", m.From, m.To, m.Type)
	for _, f := range []struct {
		name string
		v    uint64
	}{{"b", uint64(m.Ballot)}, {"slot", m.Slot}, {"commit", m.Commit}, {"probe", m.Probe}, {"compact", m.Compact}} {
		if f.v != 0 {
			fmt.Fprintf(&b, " %s=%d", f.name, f.v)
		}
	}
	if m.Force {
		b.WriteString(" force")
	}
	if len(m.Slots) > 0 {
		fmt.Fprintf(&b, " slots=%v", m.Slots)
	}
	switch {
	case len(m.Entries) > 0 && m.Digests:
		b.WriteString(" entries=" + describeEntries(m.Entries, describeDigest))
	case len(m.Entries) > 0:
		b.WriteString(" entries=" + DescribeEntries(m.Entries))
	}
	if m.Truncated {
		b.WriteString(" truncated")
	}
	return b.String()
}

// DescribeReady prints what rd asks of node id, one line each, in the
// order the caller handles it: what to save, what to send, what to apply.
func DescribeReady(id replog.ID, rd *replog.Ready) string {
	var lines []string
	add := func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf("%d: ", id)+fmt.Sprintf(format, args...))
	}
	if save := describeSave(rd); save != "" {
		add("save%s", save)
	}
	for _, m := range rd.Messages {
		add("send %s", DescribeMessage(m))
	}
	for _, r := range rd.Results {
		if r.Err != nil {
			add("result %s err=%v", r.RequestID, r.Err)
		} else {
			add("result %s slot=%d", r.RequestID, r.Slot)
		}
	}
	for _, rs := range rd.ReadStates {
		if rs.Err != nil {
			add("read ctx=%d err=%v", rs.Ctx, rs.Err)
		} else {
			add("read ctx=%d index=%d", rs.Ctx, rs.Index)
		}
	}
	if len(rd.Applied) > 0 {
		add("applied %s", describeChosen(rd.Applied, describeDigest))
	}
	return strings.Join(lines, "\n")
}

// describeSave prints what rd asks to persist (" field=value ...").
func describeSave(rd *replog.Ready) string {
	var b strings.Builder
	hs := rd.HardState
	for _, f := range []struct {
		name string
		v    uint64
	}{{"round", hs.Round}, {"promised", uint64(hs.Promised)}, {"commit", hs.Commit}, {"rejoin", hs.Rejoin}} {
		if f.v != 0 {
			fmt.Fprintf(&b, " %s=%d", f.name, f.v)
		}
	}
	if len(rd.Accepted) > 0 {
		b.WriteString(" accepted=" + DescribeEntries(rd.Accepted))
	}
	if len(rd.Chosen) > 0 {
		b.WriteString(" chosen=" + DescribeChosen(rd.Chosen))
	}
	if rd.Compact > 0 {
		fmt.Fprintf(&b, " compact=%d", rd.Compact)
	}
	return b.String()
}

// DescribeNode prints a node's state: the role's view and what its store
// holds.
func DescribeNode(n *Node) string {
	id := n.Config.ID
	switch {
	case n.Proposer != nil:
		st := n.Proposer.Status()
		s := fmt.Sprintf("%d: %v leader=%d b=%d round=%d next=%d commit=%d", id, st.State, st.Leader, st.Ballot,
			st.Round, st.NextSlot, st.Commit)
		if st.InFlight > 0 || st.Queued > 0 {
			s += fmt.Sprintf(" inflight=%d queued=%d", st.InFlight, st.Queued)
		}
		return s
	case n.Acceptor != nil:
		a, store := n.Acceptor, n.Store.(replog.AcceptorStorage)
		accepted, _ := store.AcceptedBytes(0, 0, 0)
		s := fmt.Sprintf("%d: promised=%d commit=%d accepted=%s", id, a.Promised(), a.Commit(), DescribeEntries(accepted))
		if compacted, _ := store.Compacted(); compacted > 0 {
			s += fmt.Sprintf(" compacted=%d", compacted)
		}
		if !a.Voting() {
			s += fmt.Sprintf(" not-voting rejoin-slot=%d", a.RejoinSlot())
		}
		return s
	default:
		log, _ := n.Store.(replog.LearnerStorage).ChosenBytes(0, 0, 0)
		return fmt.Sprintf("%d: commit=%d log=%s", id, n.Learner.Commit(), DescribeChosen(log))
	}
}
