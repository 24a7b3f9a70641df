package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/api"
)

// sendRounds is how many times send goes through the client nodes for one
// value before giving up.
const sendRounds = 3

// maxStdinLine bounds one value read from stdin (the server's default value
// limit is 1 MiB).
const maxStdinLine = 16 << 20

const sendDescription = `send proposes each value through a client node (POST /send), which
answers once the value is chosen, and prints the value's slot.

Every value gets a request ID (or --request-id for a single value). When a
client node fails or times out, send retries the SAME request ID on the next
client node, so a retried value appears at most once in the log. When every
attempt fails, the error says the request ID: running send again with
--request-id is safe.

Output: simple "slot<TAB>value" per value, as each is chosen; json one object
{"slot","value","request_id"} per line; table a table at the end.

Examples:
   paxosctl send hello world
   paxosctl send --request-id order-42 'pay 10'   # safe to run twice
   printf 'a\nb\nc\n' | paxosctl send -            # one value per line
   paxosctl -w json send x | jq .slot`

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:        "send",
		Usage:       "append values to the log and print their slots",
		UsageText:   "paxosctl send [--request-id ID] VALUE...\npaxosctl send -   (one value per line of stdin)",
		Description: sendDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "request-id", Usage: "request `ID` of a single value (idempotency key; default: a new unique ID)"},
		},
		Action: runSend,
	}
}

// sent is one value the cluster chose.
type sent struct {
	Slot      uint64 `json:"slot"`
	Value     string `json:"value"`
	RequestID string `json:"request_id"`
}

func runSend(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return badInput("send", "no value given (paxosctl send VALUE... or paxosctl send -)")
	}
	fromStdin := len(args) == 1 && args[0] == "-"
	reqID := c.String("request-id")
	if c.IsSet("request-id") {
		if reqID == "" || len(reqID) > 256 {
			return badInput("send", "--request-id must be 1 to 256 bytes")
		}
		if fromStdin || len(args) > 1 {
			return badInput("send", "--request-id takes a single VALUE argument")
		}
	}
	if !fromStdin {
		for i, v := range args {
			if err := checkValue(v); err != nil {
				return badInput("send", "value %d: %v", i+1, err)
			}
		}
	}

	env := newCtlEnv(c, 1)
	defer env.client.close()
	s := &sender{env: env, prefix: newIDPrefix()}
	st := env.out.stream([]string{"SLOT", "VALUE"}, 8)
	var table [][]string
	var tableJSON []sent
	emit := func(r sent) error {
		if env.out.format == formatTable {
			table = append(table, []string{strconv.FormatUint(r.Slot, 10), r.Value, r.RequestID})
			tableJSON = append(tableJSON, r)
			return nil
		}
		return st.write([]string{strconv.FormatUint(r.Slot, 10), r.Value}, r)
	}
	flush := func() error {
		if env.out.format != formatTable || len(table) == 0 {
			return nil
		}
		return env.out.print(result{Header: []string{"SLOT", "VALUE", "REQUEST-ID"}, Rows: table, JSON: tableJSON})
	}
	one := func(v, id string) error {
		r, err := s.send(c.Context, v, id)
		if err != nil {
			return err
		}
		return emit(r)
	}

	var err error
	if fromStdin {
		sc := bufio.NewScanner(env.stdin)
		sc.Buffer(make([]byte, 64<<10), maxStdinLine)
		line := 0
		for err == nil && sc.Scan() {
			line++
			v := strings.TrimSuffix(sc.Text(), "\r")
			if cerr := checkValue(v); cerr != nil {
				err = badInput("send", "stdin line %d: %v", line, cerr)
				break
			}
			err = one(v, "")
		}
		if err == nil && sc.Err() != nil {
			err = badInput("send", "reading stdin: %v", sc.Err())
		}
	} else {
		for _, v := range args {
			if err = one(v, reqID); err != nil {
				break
			}
		}
	}
	if ferr := flush(); err == nil {
		err = ferr
	}
	return err
}

// checkValue rejects values the cluster would refuse (SPEC §4).
func checkValue(v string) error {
	switch {
	case v == "":
		return errors.New("empty value (values are non-empty strings)")
	case !utf8.ValidString(v):
		return errors.New("not valid UTF-8")
	}
	return nil
}

// newIDPrefix returns a random prefix that makes this run's request IDs
// unique across the cluster.
func newIDPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ctl-" + hex.EncodeToString(b)
}

// sender sends values through the client nodes with failover.
type sender struct {
	env    *ctlEnv
	prefix string
	seq    int
	// notClient marks endpoints that answered 404: not client nodes.
	notClient map[string]bool
	// extra are the client nodes found through gossip, once the endpoints
	// held none that worked.
	extra      []string
	discovered bool
}

// sendAnswer is the part of POST /send's answer send reads.
type sendAnswer struct {
	Slot      *uint64 `json:"slot"`
	RequestID string  `json:"request_id"`
}

// send gets one value chosen. id "" means a new request ID. It tries the
// client nodes in turn, up to sendRounds times each, always with the same
// request ID.
func (s *sender) send(ctx context.Context, value, id string) (sent, error) {
	if id == "" {
		s.seq++
		id = s.prefix + "-" + strconv.Itoa(s.seq)
	}
	what := fmt.Sprintf("send %s", quoteShort(value))
	body := api.ProposeRequest{Value: value, RequestID: id}
	var errs []error
	answered := false
	for round := 0; round < sendRounds; round++ {
		tried := 0
		for _, addr := range s.candidates(ctx, round) {
			tried++
			var a sendAnswer
			err := s.env.client.post(ctx, addr, "/send", body, &a)
			if err == nil && a.Slot != nil {
				return sent{Slot: *a.Slot, Value: value, RequestID: id}, nil
			}
			if err == nil {
				err = fmt.Errorf("%s answered without a slot", addr)
			}
			if errors.Is(err, context.Canceled) {
				return sent{}, failed(what, fmt.Errorf("interrupted; retrying with --request-id %s is safe", id))
			}
			if !isDialError(err) {
				answered = true
			}
			switch errStatus(err) {
			case 404: // not a client node: never ask it again
				if s.notClient == nil {
					s.notClient = map[string]bool{}
				}
				s.notClient[addr] = true
				tried--
				continue
			case 400, 413:
				return sent{}, badInput(what, "%v", err)
			case 401, 403:
				return sent{}, failed(what, fmt.Errorf("%v (set --token or CLIENT_TOKEN)", err))
			}
			errs = append(errs, err)
		}
		if tried == 0 && s.discovered {
			break
		}
		if round < sendRounds-1 && tried > 0 {
			select {
			case <-ctx.Done():
				return sent{}, failed(what, fmt.Errorf("interrupted; retrying with --request-id %s is safe", id))
			case <-time.After(time.Duration(round+1) * 200 * time.Millisecond):
			}
		}
	}
	switch {
	case len(errs) == 0:
		return sent{}, failed(what, errors.New("no client node among the endpoints or in gossip (see paxosctl status)"))
	case !answered:
		return sent{}, failed(what, &noAnswerError{errs: dedupErrs(errs)})
	case allDial(errs):
		return sent{}, failed(what, fmt.Errorf("no client node answered (%v)", joinErrs(dedupErrs(errs))))
	}
	return sent{}, failed(what, fmt.Errorf("not confirmed after %d attempts (last: %v); retrying with --request-id %s is safe",
		len(errs), errs[len(errs)-1], id))
}

// candidates lists the client nodes to try: the endpoints that are not
// known to be something else, then, from the second round on (or when no
// endpoint is left), the client nodes gossip knows.
func (s *sender) candidates(ctx context.Context, round int) []string {
	var out []string
	for _, ep := range s.env.client.endpoints {
		if !s.notClient[ep] {
			out = append(out, ep)
		}
	}
	if !s.discovered && (round > 0 || len(out) == 0) {
		s.discovered = true
		for _, n := range s.env.client.discover(ctx).role("client") {
			s.extra = append(s.extra, n.Addr)
		}
	}
	for _, a := range s.extra {
		if !s.notClient[a] && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// dedupErrs keeps the first error of each distinct message.
func dedupErrs(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

func allDial(errs []error) bool {
	for _, e := range errs {
		if !isDialError(e) {
			return false
		}
	}
	return true
}

func joinErrs(errs []error) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// quoteShort quotes a value for an error message, cut to 40 characters.
func quoteShort(v string) string {
	if utf8.RuneCountInString(v) > 40 {
		r := []rune(v)
		v = string(r[:37]) + "..."
	}
	return strconv.Quote(v)
}
