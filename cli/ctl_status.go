package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

const statusDescription = `status asks every node (found through gossip, or at the standard ports)
for GET /health and its state (GET /status on proposers, GET /view-logs on
the others) and prints one row per node:

   NAME ROLE ADDRESS HEALTH   healthy, unhealthy (the node says why) or down
   LEADER                     the leader the node follows (proposers, clients)
   BALLOT                     proposers: their ballot; acceptors: promised
   CHOSEN                     proposers, learners: highest chosen slot;
                              acceptors: last accepted slot
   DB-SIZE                    acceptors, learners: size of the bbolt file
   ERRORS                     proposers: failed proposals; clients: failed
                              sends; a node that is not healthy: why

then a summary: the leader, whether a quorum of acceptors is up, whether the
learners are in sync (all up, at the same chosen slot as the leader), and
the active alarms: LEARNER_LAG (a learner's durable log is too far behind
the chosen log) and NOSPACE (an acceptor's data or disk passed its bound),
with the node that raised each and why.

Exit status 1 when the cluster cannot make progress (no quorum of acceptors
up, every learner down, or no proposer up) or an alarm is active (writes may
be refused); 2 when no node answered.

Examples:
   paxosctl status
   paxosctl -w table status
   paxosctl -w json status | jq '.nodes[] | select(.health != "healthy")'
   paxosctl status >/dev/null || echo "cluster stuck"`

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:        "status",
		Usage:       "show every node's health and state, and whether the cluster can make progress",
		UsageText:   "paxosctl status",
		Description: statusDescription,
		Action:      runStatus,
	}
}

// Health states of a node.
const (
	healthHealthy   = "healthy"
	healthUnhealthy = "unhealthy"
	healthDown      = "down"
)

// nodeState is one node's health and state, as status and watch show it.
type nodeState struct {
	Node   ctlNode
	Health string
	Err    error     // why the node is not healthy
	View   *nodeView // nil when the node did not say
}

// collect asks every node of t for its health and state, concurrently.
func collect(ctx context.Context, c *ctlClient, t topology) []nodeState {
	out := make([]nodeState, len(t.Nodes))
	var wg sync.WaitGroup
	for i, n := range t.Nodes {
		wg.Go(func() { out[i] = probe(ctx, c, n) })
	}
	wg.Wait()
	return out
}

// probe asks one node for GET /health, then its state.
func probe(ctx context.Context, c *ctlClient, n ctlNode) nodeState {
	s := nodeState{Node: n}
	var h struct {
		ID     uint64 `json:"id"`
		Name   string `json:"name"`
		Role   string `json:"role"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	err := c.get(ctx, n.Addr, "/health", &h)
	switch {
	case err == nil:
		s.Health = healthHealthy
	case errStatus(err) == 503:
		s.Health, s.Err = healthUnhealthy, err
		var se *statusError
		if errors.As(err, &se) && len(se.Body) > 0 && json.Unmarshal(se.Body, &h) == nil && h.Error != "" {
			s.Err = errors.New(h.Error)
		}
	default:
		s.Health, s.Err = healthDown, err
		return s
	}
	if s.Node.Role == "" {
		s.Node.Role = h.Role
	}
	if s.Node.ID == 0 {
		s.Node.ID = h.ID
	}
	if h.Name != "" && s.Node.Name == s.Node.Addr {
		s.Node.Name = h.Name
	}
	path := "/view-logs"
	if s.Node.Role == "proposer" {
		path = "/status"
	}
	var v nodeView
	if err := c.get(ctx, n.Addr, path, &v); err == nil {
		s.View = &v
	} else if s.Err == nil {
		s.Health, s.Err = healthUnhealthy, fmt.Errorf("%s: %v", path, err)
	}
	return s
}

// summary is what status concludes about the whole cluster.
type summary struct {
	Leader         *leaderJSON `json:"leader"`
	ProposersUp    int         `json:"proposers_up"`
	AcceptorsUp    int         `json:"acceptors_up"`
	AcceptorsTotal int         `json:"acceptors_total"`
	Quorum         int         `json:"quorum"`
	QuorumOK       bool        `json:"quorum_ok"`
	LearnersUp     int         `json:"learners_up"`
	LearnersTotal  int         `json:"learners_total"`
	LearnersInSync bool        `json:"learners_in_sync"`
	CanProgress    bool        `json:"can_progress"`
	// Problems says why the cluster cannot make progress.
	Problems []string `json:"problems"`
	// Answered is how many nodes answered at all.
	Answered int `json:"nodes_answering"`
	// Alarms are the active alarms the nodes list, one per alarm and node.
	Alarms []api.Alarm `json:"alarms"`
	// syncNote explains learners_in_sync in the summary line.
	syncNote string
}

// summarize reads the cluster's state out of the nodes' answers.
func summarize(states []nodeState) summary {
	sum := summary{Problems: []string{}, Alarms: alarmsOf(states)}
	var leader *nodeState
	for i := range states {
		s := &states[i]
		if s.Health != healthDown {
			sum.Answered++
		}
		up := s.Health == healthHealthy
		switch s.Node.Role {
		case "proposer":
			if up {
				sum.ProposersUp++
			}
			if s.View != nil && s.View.Proposer != nil {
				v := s.View.Proposer
				if v.AcceptorsCount > sum.AcceptorsTotal {
					sum.AcceptorsTotal = v.AcceptorsCount
				}
				if v.IsLeader && (leader == nil || v.ProposalNumber > leader.View.Proposer.ProposalNumber) {
					leader = s
				}
			}
		case "acceptor":
			if up {
				sum.AcceptorsUp++
			}
		case "learner":
			sum.LearnersTotal++
			if up {
				sum.LearnersUp++
			}
		}
	}
	// The acceptor set is static configuration, which the proposers report;
	// without them, count the acceptors gossip or the topology knows.
	if n := len(byRole(states, "acceptor")); n > sum.AcceptorsTotal {
		sum.AcceptorsTotal = n
	}
	sum.Quorum = replog.Quorum(sum.AcceptorsTotal)
	sum.QuorumOK = sum.AcceptorsTotal > 0 && sum.AcceptorsUp >= sum.Quorum

	if leader != nil {
		sum.Leader = &leaderJSON{Name: nameOf(*leader), ID: leader.Node.ID, Address: leader.Node.Addr,
			Ballot: leader.View.Proposer.ProposalNumber, ChosenSlot: leader.View.chosenSlot(), NextSlot: leader.View.Proposer.NextSlot,
			Proposers: sum.ProposersUp}
	}

	// Learners are in sync when all are up at the same chosen slot, and that
	// slot is the leader's.
	sum.LearnersInSync = sum.LearnersTotal > 0 && sum.LearnersUp == sum.LearnersTotal
	var slots []string
	var first *int64
	for _, s := range byRole(states, "learner") {
		if s.View == nil || s.View.chosenSlot() == nil {
			sum.LearnersInSync = false
			slots = append(slots, nameOf(s)+" "+s.Health)
			continue
		}
		slot := s.View.chosenSlot()
		slots = append(slots, fmt.Sprintf("%s at %d", nameOf(s), *slot))
		if first == nil {
			first = slot
		} else if *first != *slot {
			sum.LearnersInSync = false
		}
	}
	if sum.LearnersInSync && first != nil && leader != nil && leader.View.Proposer.ChosenSlot != *first {
		sum.LearnersInSync = false
		slots = append(slots, fmt.Sprintf("leader at %d", leader.View.Proposer.ChosenSlot))
	}
	if sum.LearnersInSync && first != nil {
		sum.syncNote = fmt.Sprintf("chosen slot %d", *first)
	} else {
		sum.syncNote = strings.Join(slots, ", ")
	}

	if !sum.QuorumOK {
		sum.Problems = append(sum.Problems, fmt.Sprintf("no quorum of acceptors (%d of %d up, need %d)",
			sum.AcceptorsUp, sum.AcceptorsTotal, sum.Quorum))
	}
	if sum.LearnersUp == 0 {
		sum.Problems = append(sum.Problems, "every learner is down")
	}
	if sum.ProposersUp == 0 {
		sum.Problems = append(sum.Problems, "no proposer is up")
	}
	sum.CanProgress = len(sum.Problems) == 0
	return sum
}

// alarmsOf gathers the alarms the nodes list, one per alarm and node that
// raised it, with the reason the node itself gives when it answered (the
// others only heard of it through gossip).
func alarmsOf(states []nodeState) []api.Alarm {
	out := []api.Alarm{}
	seen := map[[2]string]int{}
	for _, s := range states {
		if s.View == nil {
			continue
		}
		for _, a := range s.View.Alarms {
			k := [2]string{a.Alarm, a.Node}
			i, ok := seen[k]
			switch {
			case !ok:
				seen[k] = len(out)
				out = append(out, a)
			case a.Node == nameOf(s):
				out[i] = a
			}
		}
	}
	slices.SortFunc(out, func(a, b api.Alarm) int {
		return cmp.Or(cmp.Compare(a.Alarm, b.Alarm), cmp.Compare(a.Node, b.Node))
	})
	return out
}

// alarmLine names the active alarms and their nodes.
func (s summary) alarmLine() string {
	var parts []string
	for _, a := range s.Alarms {
		parts = append(parts, a.Alarm+" ("+a.Node+")")
	}
	return strings.Join(parts, ", ")
}

// line is the summary line under the table.
func (s summary) line() string {
	leader := "none"
	if s.Leader != nil {
		leader = fmt.Sprintf("%s (id %d, ballot %d)", s.Leader.Name, s.Leader.ID, s.Leader.Ballot)
	}
	sync := yesNo(s.LearnersInSync)
	if s.syncNote != "" {
		sync += " (" + s.syncNote + ")"
	}
	line := fmt.Sprintf("leader: %s; quorum of acceptors up: %s (%d/%d, need %d); learners in sync: %s",
		leader, yesNo(s.QuorumOK), s.AcceptorsUp, s.AcceptorsTotal, s.Quorum, sync)
	if len(s.Alarms) > 0 {
		line += "; alarms: " + s.alarmLine()
	}
	return line
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func byRole(states []nodeState, role string) []nodeState {
	var out []nodeState
	for _, s := range states {
		if s.Node.Role == role {
			out = append(out, s)
		}
	}
	return out
}

// nameOf is the node's own name, or the one gossip or the topology gave.
func nameOf(s nodeState) string {
	if s.View != nil && s.View.Name != "" {
		return s.View.Name
	}
	return s.Node.Name
}

// statusNode is one row of status -w json.
type statusNode struct {
	Name        string `json:"name"`
	ID          uint64 `json:"id"`
	Role        string `json:"role"`
	Address     string `json:"address"`
	Health      string `json:"health"`
	Error       string `json:"error,omitempty"`
	Gossip      string `json:"gossip,omitempty"`
	Leader      string `json:"leader,omitempty"`
	Ballot      *int64 `json:"ballot"`
	Chosen      *int64 `json:"chosen"`
	DBSizeBytes *int64 `json:"db_size_bytes"`
	Errors      *int64 `json:"errors"`
}

// statusJSON is what status -w json prints.
type statusJSON struct {
	Nodes []statusNode `json:"nodes"`
	summary
	Source string `json:"source"`
}

// describe renders one node for the table and for JSON.
func describe(s nodeState, names map[uint64]string) statusNode {
	n := statusNode{Name: nameOf(s), ID: s.Node.ID, Role: s.Node.Role, Address: s.Node.Addr,
		Health: s.Health, Gossip: s.Node.Gossip}
	if n.Role == "" {
		n.Role = "?"
	}
	if s.Err != nil {
		n.Error = shortErr(s.Err)
	}
	v := s.View
	if v == nil {
		return n
	}
	i64 := func(u uint64) *int64 { x := int64(u); return &x }
	if cur := v.currentLeader(); cur != nil {
		if name, ok := names[*cur]; ok {
			n.Leader = name
		} else {
			n.Leader = "id " + strconv.FormatUint(*cur, 10)
		}
	}
	switch {
	case v.Proposer != nil:
		n.Ballot, n.Chosen, n.Errors = i64(v.Proposer.ProposalNumber), v.chosenSlot(), i64(v.Proposer.Metrics.ProposalsFailed)
	case v.Acceptor != nil:
		n.Ballot, n.Chosen, n.DBSizeBytes = i64(v.Acceptor.Promised), v.Acceptor.LastAcceptedSlot, &v.Acceptor.DBSizeBytes
	case v.Learner != nil:
		n.Chosen, n.DBSizeBytes = v.chosenSlot(), &v.Learner.DBSizeBytes
	case v.Client != nil:
		n.Errors = i64(v.Client.Metrics.Failed)
	}
	return n
}

// cells renders a described node as the status columns.
func (n statusNode) cells() []string {
	opt := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	leader, size, errs := "-", "-", opt(n.Errors)
	if n.Leader != "" {
		leader = n.Leader
	}
	if n.DBSizeBytes != nil {
		size = humanBytes(*n.DBSizeBytes)
	}
	if n.Error != "" {
		errs = n.Error
	}
	return []string{n.Name, n.Role, n.Address, n.Health, leader, opt(n.Ballot), opt(n.Chosen), size, errs}
}

var statusHeader = []string{"NAME", "ROLE", "ADDRESS", "HEALTH", "LEADER", "BALLOT", "CHOSEN", "DB-SIZE", "ERRORS"}

// shortErr cuts an error to what fits in a table cell.
func shortErr(err error) string {
	msg := err.Error()
	var ue *unreachableError
	if errors.As(err, &ue) {
		msg = strings.TrimPrefix(msg, ue.Addr+": ")
	}
	if len(msg) > 48 {
		msg = msg[:45] + "..."
	}
	return msg
}

// nodeNames maps node IDs to names, for the LEADER column.
func nodeNames(states []nodeState) map[uint64]string {
	names := map[uint64]string{}
	for _, s := range states {
		if s.Node.ID != 0 {
			names[s.Node.ID] = nameOf(s)
		}
	}
	return names
}

func runStatus(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("status", "unexpected argument %q (status takes no arguments)", c.Args().First())
	}
	env := newCtlEnv(c, 16)
	defer env.client.close()
	topo := env.client.discover(c.Context)
	if topo.Err != nil {
		return failed("status", topo.Err)
	}
	states := collect(c.Context, env.client, topo)
	if c.Context.Err() != nil {
		return failed("status", c.Context.Err())
	}
	sum := summarize(states)
	if sum.Answered == 0 {
		var errs []error
		for _, s := range states {
			errs = append(errs, s.Err)
		}
		return failed("status", &noAnswerError{errs: dedupErrs(errs)})
	}
	names := nodeNames(states)
	out := statusJSON{summary: sum, Source: topo.Source}
	var rows [][]string
	for _, s := range states {
		n := describe(s, names)
		out.Nodes = append(out.Nodes, n)
		rows = append(rows, n.cells())
	}
	if err := env.out.print(result{Header: statusHeader, Rows: rows, JSON: out, Notes: []string{"", sum.line()}}); err != nil {
		return failed("status", err)
	}
	var why []string
	if !sum.CanProgress {
		why = append(why, "the cluster cannot make progress: "+strings.Join(sum.Problems, "; "))
	}
	for _, a := range sum.Alarms {
		why = append(why, fmt.Sprintf("alarm %s on %s: %s", a.Alarm, a.Node, a.Reason))
	}
	if len(why) > 0 {
		return cli.Exit("status: "+strings.Join(why, "; "), exitError)
	}
	return nil
}
