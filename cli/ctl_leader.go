package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/api"
)

// electPoll is how often leader --elect asks the proposers for the outcome.
const electPoll = 100 * time.Millisecond

const leaderDescription = `leader asks every proposer (found through gossip, or at the standard
ports) for GET /status and prints the one that leads: its name, ID, API
address and ballot. If two proposers both believe they lead (an old leader
that was cut off), the higher ballot wins.

--elect forces an election: it asks PROPOSER (a name like proposer2, an ID,
or an address; default: any proposer that answers, a follower first) to
campaign with a higher ballot, waits until a leader with a higher ballot than
before is known (at most --timeout), and prints it.

A forced election deposes even a healthy leader, so when the cluster has a
client token or a cluster secret the proposers want one of them: paxosctl
sends the client token (--token, CLIENT_TOKEN) or, without one, the cluster
secret (--secret, CLUSTER_SECRET). A proposer starts at most one forced
election per election timeout and answers 429 meanwhile; without a PROPOSER
argument --elect then asks the next one.

Exit status 1 when no leader is elected, 2 when no proposer answered.

Examples:
   paxosctl leader
   paxosctl -w json leader | jq -r .name
   paxosctl leader --elect              # a new election, any proposer
   paxosctl leader --elect proposer3    # proposer3 campaigns`

func leaderCommand() *cli.Command {
	return &cli.Command{
		Name:        "leader",
		Usage:       "show the leader and its ballot, or force an election",
		UsageText:   "paxosctl leader [--elect [PROPOSER]]",
		Description: leaderDescription,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "elect", Usage: "force an election (on the PROPOSER argument, or any proposer) and wait for its leader"},
		},
		Action: runLeader,
	}
}

// leaderJSON is what leader -w json prints.
type leaderJSON struct {
	Name       string `json:"name"`
	ID         uint64 `json:"id"`
	Address    string `json:"address"`
	Ballot     uint64 `json:"ballot"`
	ChosenSlot *int64 `json:"chosen_slot"`
	NextSlot   uint64 `json:"next_slot"`
	Proposers  int    `json:"proposers_answering"`
}

func runLeader(c *cli.Context) error {
	target := ""
	switch {
	case c.NArg() > 1:
		return badInput("leader", "too many arguments (paxosctl leader [--elect [PROPOSER]])")
	case c.NArg() == 1 && !c.Bool("elect"):
		return badInput("leader", "unexpected argument %q: a PROPOSER goes with --elect", c.Args().First())
	case c.NArg() == 1:
		target = c.Args().First()
	}
	env := newCtlEnv(c, 4)
	defer env.client.close()
	ctx := c.Context
	topo := env.client.discover(ctx)
	if topo.Err != nil {
		return failed("leader", topo.Err)
	}
	if len(topo.role("proposer")) == 0 {
		return failed("leader", fmt.Errorf("no proposer known (%s)", topo.Source))
	}
	ps := env.client.proposers(ctx, topo)
	if !c.Bool("elect") {
		l, err := currentLeader(ps)
		if err != nil {
			return failed("leader", err)
		}
		return printLeader(env, l, ps)
	}

	// --elect
	before := uint64(0)
	if l, ok := leaderOf(ps); ok {
		before = l.View.ProposalNumber
	}
	for _, p := range ps {
		before = max(before, p.View.ProposalNumber)
	}
	var chosen []ctlNode
	if target != "" {
		n, ok := findProposer(topo, target)
		if !ok {
			return badInput("leader", "--elect %q: no such proposer (want a name like proposer2, an ID or HOST:PORT; known: %s)",
				target, proposerNames(topo))
		}
		chosen = []ctlNode{n}
	} else {
		// Any proposer that answers: followers first, so the election
		// changes something.
		for _, leaders := range []bool{false, true} {
			for _, p := range ps {
				if p.Err == nil && p.View.IsLeader == leaders {
					chosen = append(chosen, p.Node)
				}
			}
		}
		for _, p := range ps {
			if p.Err != nil {
				chosen = append(chosen, p.Node)
			}
		}
	}
	var started ctlNode
	var errs []error
	for _, n := range chosen {
		err := env.client.post(ctx, n.Addr, "/propose", api.ElectionRequest{IsLeaderElection: true}, nil)
		if err == nil {
			started = n
			break
		}
		if errors.Is(err, context.Canceled) {
			return failed("leader --elect", err)
		}
		if s := errStatus(err); s == 401 || s == 403 {
			return failed("leader --elect", fmt.Errorf("%v (set --token or CLIENT_TOKEN, or --secret or CLUSTER_SECRET)", err))
		}
		errs = append(errs, err)
	}
	if started.Addr == "" {
		if allDial(errs) {
			return failed("leader --elect", &noAnswerError{errs: errs})
		}
		return failed("leader --elect", fmt.Errorf("no proposer started an election: %s", joinErrs(errs)))
	}

	deadline := time.Now().Add(env.client.timeout)
	for {
		ps = env.client.proposers(ctx, topo)
		if l, ok := leaderOf(ps); ok && l.View.ProposalNumber > before {
			return printLeader(env, l, ps)
		}
		if time.Now().After(deadline) {
			if l, ok := leaderOf(ps); ok {
				env.warnf("the election %s started did not raise the ballot within %s; the leader is unchanged", started.Name, env.client.timeout)
				return printLeader(env, l, ps)
			}
			return failed("leader --elect", fmt.Errorf("%s started an election, but no leader was elected within %s", started.Name, env.client.timeout))
		}
		select {
		case <-ctx.Done():
			return failed("leader --elect", ctx.Err())
		case <-time.After(electPoll):
		}
	}
}

// currentLeader returns the leader among the proposers' answers, or why
// there is none.
func currentLeader(ps []proposerState) (proposerState, error) {
	if l, ok := leaderOf(ps); ok {
		return l, nil
	}
	var errs []error
	up, electing := 0, 0
	for _, p := range ps {
		if p.Err != nil {
			errs = append(errs, p.Err)
			continue
		}
		up++
		if p.View.InElection {
			electing++
		}
	}
	if up == 0 {
		if allDial(errs) {
			return proposerState{}, &noAnswerError{errs: errs}
		}
		return proposerState{}, fmt.Errorf("no proposer answered: %s", joinErrs(errs))
	}
	msg := fmt.Sprintf("no leader elected (%d of %d proposers answered", up, len(ps))
	if electing > 0 {
		msg += fmt.Sprintf(", %d campaigning", electing)
	}
	return proposerState{}, errors.New(msg + ")")
}

func printLeader(env *ctlEnv, l proposerState, ps []proposerState) error {
	up := 0
	for _, p := range ps {
		if p.Err == nil {
			up++
		}
	}
	name := l.View.Name
	if name == "" {
		name = l.Node.Name
	}
	id := l.View.ID
	if id == 0 {
		id = l.Node.ID
	}
	chosen := strconv.FormatInt(l.View.ChosenSlot, 10)
	return env.out.print(result{
		Header: []string{"NAME", "ID", "ADDRESS", "BALLOT", "CHOSEN"},
		Rows: [][]string{{name, strconv.FormatUint(id, 10), l.Node.Addr,
			strconv.FormatUint(l.View.ProposalNumber, 10), chosen}},
		JSON: leaderJSON{Name: name, ID: id, Address: l.Node.Addr, Ballot: l.View.ProposalNumber,
			ChosenSlot: &l.View.ChosenSlot, NextSlot: l.View.NextSlot, Proposers: up},
	})
}

// findProposer finds the proposer s names: its name, ID or address.
func findProposer(t topology, s string) (ctlNode, bool) {
	for _, n := range t.role("proposer") {
		if n.Name == s || n.Addr == s || strconv.FormatUint(n.ID, 10) == s {
			return n, true
		}
	}
	return ctlNode{}, false
}

func proposerNames(t topology) string {
	var names []string
	for _, n := range t.role("proposer") {
		names = append(names, n.Name)
	}
	return strings.Join(names, ", ")
}
