package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
)

// followInterval is how often read --follow asks for new entries.
const followInterval = 200 * time.Millisecond

const readDescription = `read prints the replicated log: the chosen client values in slot order,
without no-ops and retried duplicates (so slot numbers may skip). It asks a
client node (GET /read) or a learner (GET /get-values), failing over between
the endpoints.

--from is a slot number; --limit caps the number of entries printed (0: all).
--consistency linearizable first confirms the leader and the chosen index
with a quorum of acceptors, so the log holds every write acknowledged before
the read; serializable (the default) reads what the learner has.

--follow prints the log, then polls for new entries every 200ms and prints
them as they are chosen, until Ctrl-C (exit status 0) or until --limit
entries were printed. A node failing meanwhile is a warning, not an error.

Output: simple "slot<TAB>value" per entry; table a table with request IDs
(with --follow, aligned columns); json one object {"entries":[...],
"count","chosen_slot","next_from",...} (with --follow, one entry object per
line). Values with control characters are Go-escaped in simple and table.

Examples:
   paxosctl read
   paxosctl -w table read --from 100 --limit 20
   paxosctl read --consistency linearizable
   paxosctl read --follow --from 0
   paxosctl -w json read | jq -r '.entries[].value'`

func readCommand() *cli.Command {
	return &cli.Command{
		Name:        "read",
		Usage:       "print the replicated log (slot and value of each entry)",
		UsageText:   "paxosctl read [--from SLOT] [--limit N] [--follow] [--consistency linearizable|serializable]",
		Description: readDescription,
		Flags: []cli.Flag{
			&cli.Uint64Flag{Name: "from", Usage: "first `SLOT` to read"},
			&cli.Uint64Flag{Name: "limit", Usage: "print at most `N` entries (0: all)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new entries until Ctrl-C"},
			&cli.StringFlag{Name: "consistency", Value: "serializable", Usage: "`LEVEL`: linearizable or serializable"},
		},
		Action: runRead,
	}
}

// logEntry is one entry of the log as /get-values and /read return it.
type logEntry struct {
	Slot      uint64 `json:"slot"`
	Value     string `json:"value"`
	ClientID  uint64 `json:"client_id"`
	RequestID string `json:"request_id"`
}

// logPage is the answer of GET /get-values and GET /read.
type logPage struct {
	Entries     []logEntry `json:"entries"`
	ChosenSlot  *int64     `json:"chosen_slot"`
	NextFrom    *uint64    `json:"next_from"`
	TotalCount  uint64     `json:"total_count"`
	LearnerID   uint64     `json:"learner_id"`
	Consistency string     `json:"consistency"`
}

// readJSON is what read -w json prints.
type readJSON struct {
	Entries     []logEntry `json:"entries"`
	Count       int        `json:"count"`
	ChosenSlot  *int64     `json:"chosen_slot"`
	NextFrom    uint64     `json:"next_from"`
	LearnerID   uint64     `json:"learner_id,omitempty"`
	Consistency string     `json:"consistency"`
}

func runRead(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("read", "unexpected argument %q (read takes only flags)", c.Args().First())
	}
	cons := c.String("consistency")
	if cons != "linearizable" && cons != "serializable" {
		return badInput("read", "--consistency %q: want linearizable or serializable", cons)
	}
	env := newCtlEnv(c, 1)
	defer env.client.close()
	r := &logReader{env: env, consistency: cons}
	if c.Bool("follow") {
		return r.follow(c.Context, c.Uint64("from"), c.Uint64("limit"))
	}

	from, limit := c.Uint64("from"), c.Uint64("limit")
	var entries []logEntry
	var last logPage
	for {
		want := uint64(0)
		if limit > 0 {
			want = limit - uint64(len(entries))
		}
		p, err := r.page(c.Context, from, want)
		if err != nil {
			return err
		}
		last = p
		entries = append(entries, p.Entries...)
		next := nextFrom(p, from)
		if (limit > 0 && uint64(len(entries)) >= limit) || next <= from || !behind(p, next) {
			from = next
			break
		}
		from = next
	}
	if limit > 0 && uint64(len(entries)) > limit {
		entries = entries[:limit]
	}
	rows := make([][]string, len(entries))
	for i, e := range entries {
		rows[i] = []string{strconv.FormatUint(e.Slot, 10), e.Value, e.RequestID}
	}
	if entries == nil {
		entries = []logEntry{}
	}
	return env.out.print(result{
		Header: []string{"SLOT", "VALUE", "REQUEST-ID"},
		Rows:   rows,
		Plain:  2,
		JSON: readJSON{Entries: entries, Count: len(entries), ChosenSlot: last.ChosenSlot, NextFrom: from,
			LearnerID: last.LearnerID, Consistency: cons},
	})
}

// nextFrom is the slot to read from after page p, read from slot from.
func nextFrom(p logPage, from uint64) uint64 {
	if p.NextFrom != nil && *p.NextFrom >= from {
		return *p.NextFrom
	}
	if n := len(p.Entries); n > 0 {
		return p.Entries[n-1].Slot + 1
	}
	return from
}

// behind reports whether the log holds chosen slots at or after next.
func behind(p logPage, next uint64) bool {
	return p.ChosenSlot != nil && *p.ChosenSlot >= 0 && uint64(*p.ChosenSlot) >= next
}

// logReader reads the log from the endpoints with failover.
type logReader struct {
	env         *ctlEnv
	consistency string
	// paths remembers which path an endpoint serves: /read (client node)
	// or /get-values (learner); "" means neither.
	paths map[string]string
	// good is the endpoint that answered last; it is asked first.
	good string
}

// page reads up to limit entries (0: the server's maximum) from slot from,
// trying the endpoint that answered last first, then the others in order.
func (r *logReader) page(ctx context.Context, from, limit uint64) (logPage, error) {
	q := url.Values{}
	q.Set("from", strconv.FormatUint(from, 10))
	if limit > 0 {
		q.Set("limit", strconv.FormatUint(limit, 10))
	}
	q.Set("consistency", r.consistency)
	if r.paths == nil {
		r.paths = map[string]string{}
	}
	order := r.env.client.endpoints
	if r.good != "" {
		order = append([]string{r.good}, without(order, r.good)...)
	}
	var errs []error
	answered := false
	for _, addr := range order {
		paths := []string{"/read", "/get-values"}
		if p, known := r.paths[addr]; known {
			if p == "" {
				continue
			}
			paths = []string{p}
		}
		for _, path := range paths {
			var p logPage
			err := r.env.client.get(ctx, addr, path+"?"+q.Encode(), &p)
			if err == nil {
				r.paths[addr], r.good = path, addr
				return p, nil
			}
			if errors.Is(err, context.Canceled) {
				return logPage{}, err
			}
			if !isDialError(err) {
				answered = true
			}
			switch errStatus(err) {
			case 404:
				r.paths[addr] = "" // neither, unless the other path answers
				continue
			case 400:
				return logPage{}, badInput("read", "%v", err)
			}
			errs = append(errs, err)
			break
		}
	}
	switch {
	case !answered:
		return logPage{}, failed("read", &noAnswerError{errs: dedupErrs(errs)})
	case len(errs) == 0:
		return logPage{}, failed("read", errors.New("no client node or learner among the endpoints (set --endpoints)"))
	}
	return logPage{}, failed("read", fmt.Errorf("no node could serve the log (%d tried; last: %v)", len(errs), errs[len(errs)-1]))
}

func without(xs []string, x string) []string {
	var out []string
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// follow prints the log from slot from, then new entries as they are
// chosen, until ctx ends (status 0) or limit entries were printed.
func (r *logReader) follow(ctx context.Context, from, limit uint64) error {
	st := r.env.out.stream([]string{"SLOT", "VALUE", "REQUEST-ID"}, 8, 24)
	printed := uint64(0)
	failing := false
	for {
		want := uint64(0)
		if limit > 0 {
			want = limit - printed
		}
		p, err := r.page(ctx, from, want)
		switch {
		case errors.Is(err, context.Canceled) || ctx.Err() != nil:
			return nil
		case err != nil:
			var ec cli.ExitCoder
			if errors.As(err, &ec) && ec.ExitCode() == exitBadInput {
				return err
			}
			if !failing {
				r.env.warnf("read --follow: %v (still trying)", err)
			}
			failing = true
		default:
			if failing {
				r.env.warnf("read --follow: reading again from %s", r.good)
			}
			failing = false
			for _, e := range p.Entries {
				row := []string{strconv.FormatUint(e.Slot, 10), e.Value, e.RequestID}
				if r.env.out.format == formatSimple {
					row = row[:2]
				}
				if err := st.write(row, e); err != nil {
					return failed("read", err)
				}
				printed++
				if limit > 0 && printed >= limit {
					return nil
				}
			}
			next := nextFrom(p, from)
			if next > from && behind(p, next) {
				from = next
				continue // more is chosen already: no pause
			}
			from = next
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followInterval):
		}
	}
}
