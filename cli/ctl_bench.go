package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/client"
)

// Bounds of bench's flags: a benchmark always ends, and stays a client's
// load, not an attack.
const (
	benchMaxClients   = 1024
	benchMaxTotal     = 10_000_000
	benchMaxDuration  = 24 * time.Hour
	benchMaxValueSize = 16 << 20
	benchDefaultTotal = 1000
	// benchAttempts is how many times one operation is tried (same request
	// ID) before it counts as failed.
	benchAttempts = 5
	// benchClientIDBase is the client_id of bench's first worker.
	benchClientIDBase = 1000
)

const benchDescription = `bench measures the cluster: --clients workers each send values in a
closed loop (the next value when the last one is chosen), every value with
its own request ID, until --total operations are done or --duration has
passed. It prints throughput and latency percentiles of the chosen values.

--target proposer sends POST /propose to the leader proposer (found through
GET /status, and followed when the leader changes); --target client sends
POST /send to the client nodes, round-robin. A failed attempt is retried
with the same request ID (on the next client node, or the new leader), at
most 5 times; the operation then counts as failed.

--protocol stream sends the same writes over client streams instead (Go
package client: POST /client/stream upgraded, many writes in flight on one
connection per node, no HTTP request per write); the package retries with
the same request ID for up to 5 request timeouts. --protocol auto (the
default) uses streams when the nodes serve them, HTTP otherwise; --protocol
http always HTTP. The report's "via" says which. --rate caps the total
rate (operations per second) across all workers.

A progress bar runs on stderr when stderr is a terminal. The report is a
table of metrics; -w json prints one object: clients, total, ok, failed,
duration_s, throughput (ops/s), latency_ms {min,p50,p90,p99,p999,max}
(min and max exact; a percentile at most 0.4% above the exact one, from a
histogram, so a run of any length measures in a few MB),
errors {kind: count} (kinds: timeout, connection, 409, 503, 504, ...: every
failed attempt), target, value_size, and timeline: the run cut into at most
300 slices of timeline_slice_s seconds (0.1 s, doubled as often as a longer
run needs), each {t_s, ops,
p50_ms, p99_ms, max_ms} of the operations chosen in it, so stalls show.
Ctrl-C stops early and reports what was measured.

Bounds: --clients up to 1024, --total up to 10,000,000, --duration up to
24h, --value-size up to 16 MiB (the nodes refuse values above their own
limit, 1 MiB by default). Run it against clusters you own.

Examples:
   paxosctl bench --clients 16 --total 2000 --target proposer
   paxosctl bench --clients 16 --total 2000 --target client
   paxosctl bench --clients 4 --duration 30s --rate 200 --value-size 1024
   paxosctl -w json bench --total 500 | jq .throughput`

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:        "bench",
		Usage:       "load the cluster and report throughput and latency percentiles",
		UsageText:   "paxosctl bench [--clients N] (--total N | --duration D) [--value-size B] [--target proposer|client] [--rate R] [--protocol stream|http|auto]",
		Description: benchDescription,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "clients", Aliases: []string{"c"}, Value: 8, Usage: "`N` concurrent workers"},
			&cli.IntFlag{Name: "total", Aliases: []string{"n"}, Usage: "stop after `N` operations", DefaultText: fmt.Sprint(benchDefaultTotal, " unless --duration")},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `DURATION`"},
			&cli.IntFlag{Name: "value-size", Value: 64, Usage: "size of each value in `BYTES`"},
			&cli.StringFlag{Name: "target", Value: "client", Usage: "`TARGET`: proposer (POST /propose at the leader) or client (POST /send at the client nodes)"},
			&cli.Float64Flag{Name: "rate", Usage: "at most `R` operations per second in total (0: as fast as possible)"},
			&cli.StringFlag{Name: "protocol", Value: "auto", Usage: "`PROTOCOL`: stream (client streams), http (one request per write), or auto (stream when the nodes serve it)"},
		},
		Action: runBench,
	}
}

// benchConfig is bench's flags, checked.
type benchConfig struct {
	Clients   int
	Total     int64 // 0 with Duration
	Duration  time.Duration
	ValueSize int
	Target    string
	Rate      float64
	Protocol  string
}

func benchFlags(c *cli.Context) (benchConfig, error) {
	cfg := benchConfig{Clients: c.Int("clients"), Total: c.Int64("total"), Duration: c.Duration("duration"),
		ValueSize: c.Int("value-size"), Target: c.String("target"), Rate: c.Float64("rate"),
		Protocol: c.String("protocol")}
	if c.NArg() > 0 {
		return cfg, badInput("bench", "unexpected argument %q (bench takes only flags)", c.Args().First())
	}
	switch {
	case cfg.Clients < 1 || cfg.Clients > benchMaxClients:
		return cfg, badInput("bench", "--clients %d: want 1 to %d", cfg.Clients, benchMaxClients)
	case c.IsSet("total") && c.IsSet("duration"):
		return cfg, badInput("bench", "--total and --duration: give one of them")
	case c.IsSet("total") && (cfg.Total < 1 || cfg.Total > benchMaxTotal):
		return cfg, badInput("bench", "--total %d: want 1 to %d", cfg.Total, benchMaxTotal)
	case c.IsSet("duration") && (cfg.Duration <= 0 || cfg.Duration > benchMaxDuration):
		return cfg, badInput("bench", "--duration %v: want more than 0 and at most %v", cfg.Duration, benchMaxDuration)
	case cfg.ValueSize < 1 || cfg.ValueSize > benchMaxValueSize:
		return cfg, badInput("bench", "--value-size %d: want 1 to %d bytes", cfg.ValueSize, benchMaxValueSize)
	case cfg.Target != "proposer" && cfg.Target != "client":
		return cfg, badInput("bench", "--target %q: want proposer or client", cfg.Target)
	case cfg.Protocol != "auto" && cfg.Protocol != "stream" && cfg.Protocol != "http":
		return cfg, badInput("bench", "--protocol %q: want stream, http or auto", cfg.Protocol)
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return cfg, badInput("bench", "--rate %v: want 0 or a positive rate", cfg.Rate)
	}
	if !c.IsSet("total") && !c.IsSet("duration") {
		cfg.Total = benchDefaultTotal
	}
	return cfg, nil
}

// latencyMS are latency statistics in milliseconds.
type latencyMS struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// benchReport is bench's result; -w json prints it.
type benchReport struct {
	Target      string         `json:"target"`
	Clients     int            `json:"clients"`
	Total       int64          `json:"total"`
	OK          int64          `json:"ok"`
	Failed      int64          `json:"failed"`
	DurationS   float64        `json:"duration_s"`
	Throughput  float64        `json:"throughput"`
	Latency     latencyMS      `json:"latency_ms"`
	Errors      map[string]int `json:"errors"`
	ValueSize   int            `json:"value_size"`
	Rate        float64        `json:"rate,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
	// Via says where the operations went (the leader, the client nodes).
	Via string `json:"via"`
	// Timeline is the run slice by slice (benchRecorder.timeline).
	SliceS   float64      `json:"timeline_slice_s"`
	Timeline []benchSlice `json:"timeline"`
}

// benchSlice is one slice of a run's timeline: the operations chosen in it.
type benchSlice struct {
	T   float64 `json:"t_s"` // when the slice begins, in seconds since the run began
	Ops int     `json:"ops"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// A timeline has at most benchMaxSlices slices of at least benchMinSlice.
const (
	benchMaxSlices = 300
	benchMinSlice  = 100 * time.Millisecond
)

// pacer spaces operations to a total rate; a nil pacer does not wait.
type pacer struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's turn, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.every)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bencher runs the operations of one benchmark.
type bencher struct {
	env  *ctlEnv
	cfg  benchConfig
	topo topology

	// --target client: the client nodes, used round-robin.
	clients []string
	rr      atomic.Uint64

	// --protocol stream: the clients of the streams (openStreams).
	streams []*client.Client

	// --target proposer: the leader's address, found and refreshed by
	// findLeader.
	leader     atomic.Pointer[string]
	leaderMu   sync.Mutex
	lastLookup time.Time

	errMu  sync.Mutex
	errors map[string]int
}

func runBench(c *cli.Context) error {
	cfg, err := benchFlags(c)
	if err != nil {
		return err
	}
	env := newCtlEnv(c, cfg.Clients)
	defer env.client.close()
	ctx := c.Context
	b := &bencher{env: env, cfg: cfg, errors: map[string]int{}}
	b.topo = env.client.discover(ctx)
	if b.topo.Err != nil {
		return failed("bench", b.topo.Err)
	}

	var via string
	if cfg.Target == "client" {
		for _, n := range b.topo.role("client") {
			if n.Gossip != "dead" && n.Gossip != "left" {
				b.clients = append(b.clients, n.Addr)
			}
		}
		if len(b.clients) == 0 {
			for _, n := range b.topo.role("client") {
				b.clients = append(b.clients, n.Addr)
			}
		}
		if len(b.clients) == 0 {
			return failed("bench", fmt.Errorf("no client node known (%s); try --target proposer", b.topo.Source))
		}
		via = strings.Join(b.clients, ", ")
	} else {
		addr, err := b.awaitLeader(ctx)
		if err != nil {
			return failed("bench", err)
		}
		via = "leader " + addr
	}
	if cfg.Protocol != "http" {
		addrs := b.clients
		if cfg.Target == "proposer" {
			addrs = []string{*b.leader.Load()}
			for _, n := range b.topo.role("proposer") {
				if n.Addr != addrs[0] {
					addrs = append(addrs, n.Addr)
				}
			}
		}
		ok, err := b.openStreams(ctx, addrs)
		if err != nil {
			return failed("bench", err)
		}
		defer b.closeStreams()
		if ok {
			via += " over client streams"
		}
	}

	rep := b.run(ctx)
	rep.Via = via
	if err := env.out.print(benchResult(rep)); err != nil {
		return failed("bench", err)
	}
	if rep.OK == 0 && rep.Total > 0 && !rep.Interrupted {
		return failed("bench", fmt.Errorf("no operation succeeded (%s)", formatErrors(rep.Errors)))
	}
	return nil
}

// run drives the workers and measures them.
func (b *bencher) run(ctx context.Context) benchReport {
	cfg := b.cfg
	pace := newPacer(cfg.Rate)
	runID := newIDPrefix()
	var issued, done, failedOps atomic.Int64
	rec := newBenchRecorder()

	stop := make(chan struct{})
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { close(stop) })
		defer t.Stop()
	}
	bar := b.progress()
	barDone := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-barDone:
				return
			case <-t.C:
				_ = bar.Set64(done.Load())
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Go(func() {
			value := benchValue(w, cfg.ValueSize)
			for seq := 1; ; seq++ {
				if cfg.Total > 0 && issued.Add(1) > cfg.Total {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				if pace.wait(ctx) != nil {
					return
				}
				id := runID + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(seq)
				t0 := time.Now()
				err := b.op(ctx, uint64(benchClientIDBase+w), id, value)
				lat := time.Since(t0)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					rec.add(time.Since(start), lat)
				} else {
					failedOps.Add(1)
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(barDone)
	_ = bar.Set64(done.Load())
	_ = bar.Finish()

	width, timeline := rec.timeline(elapsed)
	rep := benchReport{SliceS: width.Seconds(), Timeline: timeline, Target: cfg.Target, Clients: cfg.Clients, Total: done.Load(), OK: int64(rec.all.n),
		Failed: failedOps.Load(), DurationS: math.Round(elapsed.Seconds()*1000) / 1000,
		Latency: rec.all.stats(), Errors: b.errors, ValueSize: cfg.ValueSize, Rate: cfg.Rate,
		Interrupted: ctx.Err() != nil}
	if elapsed > 0 {
		rep.Throughput = math.Round(float64(rep.OK)/elapsed.Seconds()*10) / 10
	}
	return rep
}

// progress returns the progress bar on stderr, hidden unless stderr is a
// terminal.
func (b *bencher) progress() *progressbar.ProgressBar {
	max := b.cfg.Total
	desc := "bench " + b.cfg.Target
	if b.cfg.Duration > 0 {
		max = -1
		desc += " for " + b.cfg.Duration.String()
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(b.env.stderr),
		progressbar.OptionSetVisibility(isTerminal(b.env.stderr)),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("ops"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// benchValue is worker w's value: size printable bytes.
func benchValue(w, size int) string {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte('a' + (w+i)%26)
	}
	return string(buf)
}

// countErr records one failed attempt of kind.
func (b *bencher) countErr(kind string) {
	b.errMu.Lock()
	b.errors[kind]++
	b.errMu.Unlock()
}

// op runs one operation: up to benchAttempts tries with the same request ID.
func (b *bencher) op(ctx context.Context, clientID uint64, id, value string) error {
	if b.streams != nil {
		return b.streamOp(ctx, clientID, id, value)
	}
	body := api.ProposeRequest{Value: value, ClientID: clientID, RequestID: id}
	var last error
	for attempt := range benchAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
			}
		}
		var addr, path string
		if b.cfg.Target == "client" {
			addr, path = b.clients[int(b.rr.Add(1)%uint64(len(b.clients)))], "/send"
		} else {
			a, err := b.findLeader(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.countErr("no-leader")
				last = err
				continue
			}
			addr, path = a, "/propose"
		}
		err := b.env.client.post(ctx, addr, path, body, nil)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		b.countErr(errKind(err))
		switch errStatus(err) {
		case 400, 401, 403, 404, 413:
			return err // retrying cannot help
		case 409:
			b.followLeader(addr, err)
		default:
			if b.cfg.Target == "proposer" {
				b.forgetLeader(addr)
			}
		}
	}
	return last
}

// findLeader returns the leader's address: the known one, or the one the
// proposers report (asking them at most every 50ms).
func (b *bencher) findLeader(ctx context.Context) (string, error) {
	if p := b.leader.Load(); p != nil {
		return *p, nil
	}
	b.leaderMu.Lock()
	defer b.leaderMu.Unlock()
	if p := b.leader.Load(); p != nil {
		return *p, nil
	}
	if wait := 50*time.Millisecond - time.Since(b.lastLookup); wait > 0 {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
	b.lastLookup = time.Now()
	ps := b.env.client.proposers(ctx, b.topo)
	l, err := currentLeader(ps)
	if err != nil {
		return "", err
	}
	addr := l.Node.Addr
	b.leader.Store(&addr)
	return addr, nil
}

// awaitLeader is findLeader for the start of a run: a cluster that was
// just started elects its leader within seconds, so bench waits for one
// (up to the request timeout, --timeout) instead of failing at once.
func (b *bencher) awaitLeader(ctx context.Context) (string, error) {
	deadline := time.Now().Add(b.env.client.timeout)
	for {
		addr, err := b.findLeader(ctx)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return addr, err
		}
	}
}

// forgetLeader drops addr as the leader, so the next operation looks again.
func (b *bencher) forgetLeader(addr string) {
	if p := b.leader.Load(); p != nil && *p == addr {
		b.leader.CompareAndSwap(p, nil)
	}
}

// followLeader takes the current_leader hint of a 409 answer from addr.
func (b *bencher) followLeader(addr string, err error) {
	if b.cfg.Target != "proposer" {
		return
	}
	var se *statusError
	var hint struct {
		CurrentLeader *uint64 `json:"current_leader"`
	}
	if errors.As(err, &se) && json.Unmarshal(se.Body, &hint) == nil && hint.CurrentLeader != nil {
		if n, ok := b.topo.byID(*hint.CurrentLeader); ok && n.Addr != addr {
			a := n.Addr
			b.leader.Store(&a)
			return
		}
	}
	b.forgetLeader(addr)
}

// formatErrors renders error counts as "409=3 timeout=1", "none" when empty.
func formatErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, errs[k])
	}
	return strings.Join(parts, " ")
}

// benchResult renders the report as a METRIC/VALUE table.
func benchResult(r benchReport) result {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	ops := fmt.Sprintf("%d (%d ok, %d failed)", r.Total, r.OK, r.Failed)
	if r.Interrupted {
		ops += ", interrupted"
	}
	rows := [][]string{
		{"target", r.Target + " (" + r.Via + ")"},
		{"clients", strconv.Itoa(r.Clients)},
		{"value size", humanBytes(int64(r.ValueSize))},
		{"operations", ops},
		{"duration", strconv.FormatFloat(r.DurationS, 'f', 3, 64) + " s"},
		{"throughput", strconv.FormatFloat(r.Throughput, 'f', 1, 64) + " ops/s"},
		{"latency min", f(r.Latency.Min) + " ms"},
		{"latency p50", f(r.Latency.P50) + " ms"},
		{"latency p90", f(r.Latency.P90) + " ms"},
		{"latency p99", f(r.Latency.P99) + " ms"},
		{"latency p99.9", f(r.Latency.P999) + " ms"},
		{"latency max", f(r.Latency.Max) + " ms"},
		{"errors", formatErrors(r.Errors)},
	}
	if r.Rate > 0 {
		rows = slices.Insert(rows, 3, []string{"rate limit", strconv.FormatFloat(r.Rate, 'f', -1, 64) + " ops/s"})
	}
	return result{Header: []string{"METRIC", "VALUE"}, Rows: rows, JSON: r}
}
