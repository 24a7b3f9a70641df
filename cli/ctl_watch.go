package cli

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/api"
)

// watchRecent is how many of the last chosen slots watch shows.
const watchRecent = 8

// watchValueWidth is the widest value watch shows (longer ones are cut).
const watchValueWidth = 40

// ansiClear moves the cursor home and clears the screen.
const ansiClear = "\x1b[H\x1b[2J"

const watchDescription = `watch shows the cluster live: the leader, whether a quorum of acceptors
is up and the learners are in sync, each node's health and counters, and the
last chosen slots (from a learner's recent_learned_values). It refreshes
every --interval until Ctrl-C (exit status 0), or --count times.

On a terminal the view is redrawn in place; otherwise (a pipe, a file) each
refresh is a block of plain lines headed by a timestamp. -w json prints one
object per refresh.

COUNTERS per role: proposers proposed/chosen/failed proposals; acceptors
promises/accepts/rejections; learners slots learned, client values, gaps;
clients sent/failed values and notifications. A node that is not healthy
shows why instead.

Examples:
   paxosctl watch
   paxosctl watch --interval 500ms --role proposer --role acceptor
   paxosctl watch --count 3 > cluster.log
   paxosctl -w json watch --count 1 | jq .leader`

func watchCommand() *cli.Command {
	return &cli.Command{
		Name:        "watch",
		Usage:       "live view of the cluster: leader, health and counters of each node, last chosen slots",
		UsageText:   "paxosctl watch [--interval DURATION] [--role ROLE ...] [--count N]",
		Description: watchDescription,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Aliases: []string{"i"}, Value: time.Second, Usage: "time between refreshes (`DURATION`)"},
			&cli.StringSliceFlag{Name: "role", Aliases: []string{"r"}, Usage: "show only nodes of `ROLE` (proposer, acceptor, learner, client); repeatable"},
			&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Usage: "stop after `N` refreshes (0: until Ctrl-C)"},
		},
		Action: runWatch,
	}
}

// watchJSON is one refresh of watch -w json.
type watchJSON struct {
	Time  time.Time    `json:"time"`
	Nodes []statusNode `json:"nodes"`
	summary
	Recent []api.RecentEntry `json:"recent"`
}

func runWatch(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("watch", "unexpected argument %q (watch takes only flags)", c.Args().First())
	}
	interval, count := c.Duration("interval"), c.Int("count")
	if interval <= 0 {
		return badInput("watch", "--interval %v: must be positive", interval)
	}
	if count < 0 {
		return badInput("watch", "--count %d: must be 0 or more", count)
	}
	var roles []string
	for _, r := range c.StringSlice("role") {
		r = strings.ToLower(strings.TrimSpace(r))
		switch r {
		case "proposer", "acceptor", "learner", "client":
			roles = append(roles, r)
		case "proposers", "acceptors", "learners", "clients":
			roles = append(roles, strings.TrimSuffix(r, "s"))
		default:
			return badInput("watch", "--role %q: want proposer, acceptor, learner or client", r)
		}
	}
	env := newCtlEnv(c, 16)
	defer env.client.close()
	tty := isTerminal(env.stdout) && env.out.format != formatJSON
	ctx := c.Context
	answered := 0
	var unreached error // the last refresh's: the named endpoints did not answer
	for i := 0; count == 0 || i < count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(interval):
			}
		}
		topo := env.client.discover(ctx)
		unreached = topo.Err
		states := collect(ctx, env.client, topo)
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		sum := summarize(states)
		answered = sum.Answered
		var buf bytes.Buffer
		if err := renderWatch(&buf, env.out.format, now, interval, roles, states, sum); err != nil {
			return failed("watch", err)
		}
		switch {
		case env.out.format == formatJSON:
		case tty:
			io.WriteString(env.stdout, ansiClear)
		case i > 0:
			io.WriteString(env.stdout, "\n")
		}
		if _, err := env.stdout.Write(buf.Bytes()); err != nil {
			return failed("watch", err)
		}
	}
	if answered == 0 {
		if unreached != nil {
			return failed("watch", unreached)
		}
		return failed("watch", &noAnswerError{})
	}
	return nil
}

// renderWatch writes one refresh of the view.
func renderWatch(w io.Writer, format string, now time.Time, interval time.Duration, roles []string,
	states []nodeState, sum summary) error {
	names := nodeNames(states)
	var shown []nodeState
	for _, s := range states {
		if len(roles) == 0 || slices.Contains(roles, s.Node.Role) {
			shown = append(shown, s)
		}
	}
	recent, from := recentChosen(states)

	p := &printer{format: format, w: w}
	if format == formatJSON {
		out := watchJSON{Time: now.UTC(), summary: sum, Recent: recent}
		for _, s := range shown {
			out.Nodes = append(out.Nodes, describe(s, names))
		}
		if out.Recent == nil {
			out.Recent = []api.RecentEntry{}
		}
		return p.json(out)
	}

	fmt.Fprintf(w, "paxosctl watch  %s  every %s", now.Format("2006-01-02 15:04:05"), interval)
	if len(roles) > 0 {
		fmt.Fprintf(w, "  roles: %s", strings.Join(roles, ","))
	}
	fmt.Fprintf(w, "\n%s\n", sum.line())
	if !sum.CanProgress {
		fmt.Fprintf(w, "CANNOT MAKE PROGRESS: %s\n", strings.Join(sum.Problems, "; "))
	}
	fmt.Fprintln(w)
	var rows [][]string
	for _, s := range shown {
		n := describe(s, names)
		cells := n.cells()
		counters := counters(s)
		if n.Error != "" {
			counters = n.Error
		}
		// NAME ROLE ADDRESS HEALTH LEADER BALLOT CHOSEN DB-SIZE COUNTERS
		rows = append(rows, append(cells[:8:8], counters))
	}
	header := append(statusHeader[:8:8], "COUNTERS")
	if err := p.print(result{Header: header, Rows: rows}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if from == "" {
		fmt.Fprintln(w, "last chosen: no learner answered")
		return nil
	}
	if len(recent) == 0 {
		fmt.Fprintf(w, "last chosen (%s): nothing chosen since it started\n", from)
		return nil
	}
	fmt.Fprintf(w, "last chosen (%s):\n", from)
	rows = rows[:0]
	for _, e := range recent {
		v := e.Value
		if r := []rune(v); len(r) > watchValueWidth {
			v = string(r[:watchValueWidth-3]) + "..."
		}
		switch {
		case e.Noop:
			v = "(no-op)"
		case e.Duplicate:
			v += " (duplicate)"
		}
		rows = append(rows, []string{strconv.FormatUint(e.Slot, 10), v, e.RequestID})
	}
	return p.print(result{Header: []string{"SLOT", "VALUE", "REQUEST-ID"}, Rows: rows})
}

// recentChosen returns the last chosen entries a healthy learner reports,
// and the learner's name.
func recentChosen(states []nodeState) ([]api.RecentEntry, string) {
	for _, s := range byRole(states, "learner") {
		if s.Health != healthHealthy || s.View == nil || s.View.Learner == nil {
			continue
		}
		r := s.View.Learner.RecentLearnedValues
		if len(r) > watchRecent {
			r = r[len(r)-watchRecent:]
		}
		return r, nameOf(s)
	}
	return nil, ""
}

// counters renders a node's counters for watch.
func counters(s nodeState) string {
	v := s.View
	if v == nil {
		return "-"
	}
	switch {
	case v.Proposer != nil:
		m := v.Proposer.Metrics
		return fmt.Sprintf("proposed=%d chosen=%d failed=%d leader-changes=%d", m.ProposalsTotal, m.ProposalsChosen, m.ProposalsFailed, m.LeaderChanges)
	case v.Acceptor != nil:
		m := v.Acceptor.Metrics
		return fmt.Sprintf("promises=%d accepts=%d rejected=%d accepted=%d", m.Promises, m.Accepts, m.Rejections, v.Acceptor.AcceptedCount)
	case v.Learner != nil:
		return fmt.Sprintf("learned=%d values=%d gaps=%d", v.Learner.Metrics.SlotsLearned, v.Learner.LearnedValuesCount, v.Learner.Gaps)
	case v.Client != nil:
		m := v.Client.Metrics
		return fmt.Sprintf("sent=%d failed=%d notified=%d", m.Sent, m.Failed, m.Notifications)
	}
	return "-"
}
