package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

// Batched proposals from client nodes. A client node answers each /send
// with one HTTP request of its own to the leader; under load those
// requests, not the protocol, are most of the leader's work. So a client
// node gathers the /send requests that arrive while its last batch is in
// flight and proposes them together with one POST /propose-batch (an
// internal endpoint: cluster secret). The leader proposes every command of
// a batch in one step and answers when each is chosen or failed. A command
// the batch could not place goes the one-by-one way (/propose with the same
// request ID, so it is chosen at most once).
const (
	batchPath = "/propose-batch"
	// maxBatchCommands and maxBatchBytes bound one batch (the client node
	// sends less; a single command bigger than that goes alone).
	maxBatchCommands = 4096
	maxBatchBytes    = 8 << 20
	// batchesInFlight is how many batches a client node keeps in flight.
	batchesInFlight = 2
)

// batchBodyLimit bounds the body of a batch: room for maxBatchBytes of
// commands, or one command of the largest size.
func (n *node) batchBodyLimit() int64 { return max(2*maxBatchBytes, n.valueBodyLimit()) }

// handleProposeBatch proposes every command of a batch at this leader and
// answers with one result per command, in order. A follower answers 409 for
// the whole batch.
func (p *proposerRole) handleProposeBatch(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.BatchRequest
	if err := decodeJSON(w, r, p.n.batchBodyLimit(), &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if n := len(req.Commands); n == 0 || n > maxBatchCommands {
		writeError(w, fmt.Errorf("%w: a batch holds 1 to %d commands, not %d", ErrBadRequest, maxBatchCommands, n), nil)
		return
	}
	cmds := make([]replog.Command, len(req.Commands))
	for i, c := range req.Commands {
		if c.IsLeaderElection {
			writeError(w, fmt.Errorf("%w: command %d: no elections in a batch (POST /propose)", ErrBadRequest, i), nil)
			return
		}
		cmd, err := p.n.command(c.Value, c.ClientID, c.RequestID)
		if err != nil {
			writeError(w, fmt.Errorf("command %d: %w", i, err), nil)
			return
		}
		cmds[i] = cmd
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.n.cfg.RequestTimeout)
	defer cancel()
	results, st, err := p.proposeAll(ctx, cmds)
	if errors.Is(err, ErrNotLeader) {
		writeError(w, err, &api.Error{CurrentLeader: leaderOrNull(st.Leader, p.n.cfg.ID), RetrySuggested: true})
		return
	}
	if err != nil {
		writeError(w, err, nil)
		return
	}
	out := api.BatchResponse{Results: make([]api.BatchResult, len(cmds))}
	for i, lr := range results {
		if lr.err != nil {
			out.Results[i].Error = lr.err.Error()
			continue
		}
		out.Results[i] = api.BatchResult{Slot: lr.res.Slot, ProposalNumber: uint64(st.Ballot), ProposerID: uint64(p.n.cfg.ID)}
	}
	writeJSON(w, http.StatusOK, out)
}

// proposeAll proposes cmds at this leader in one step and waits for each
// one's outcome (or ctx), counting them as proposals. On a follower, or
// when an alarm refuses writes, it proposes none and returns the error
// (ErrNotLeader, an *AlarmError); st is the status it saw.
func (p *proposerRole) proposeAll(ctx context.Context, cmds []replog.Command) (results []localResult, st replog.Status, err error) {
	st = p.status()
	if st.State != replog.Leader {
		return nil, st, ErrNotLeader
	}
	if err := p.admitWrite(); err != nil {
		return nil, st, err
	}
	start := time.Now()
	results = p.proposeLocalMany(ctx, cmds)
	for _, lr := range results {
		p.countProposal(start, lr.err)
		if lr.err != nil {
			p.failed.Add(1)
		} else {
			p.chosen.Add(1)
		}
	}
	return results, st, nil
}

// batcher gathers a client node's proposals into batches.
type batcher struct {
	c *clientRole

	mu      sync.Mutex
	queue   []*batchItem
	running int // goroutines posting batches
}

type batchItem struct {
	cmd  replog.Command
	done chan batchOutcome
}

type batchOutcome struct {
	res    api.ProposeResponse
	err    error
	failed string // when the whole batch failed: the proposer it was sent to
}

// submit proposes cmd in the next batch and waits for its outcome (or ctx).
// An error means the batch could not place it: try the one-by-one way, and
// if failed is set, at the other proposers first.
func (b *batcher) submit(ctx context.Context, cmd replog.Command) (res api.ProposeResponse, failed string, err error) {
	it := &batchItem{cmd: cmd, done: make(chan batchOutcome, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, it)
	start := b.running < batchesInFlight
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case o := <-it.done:
		return o.res, o.failed, o.err
	case <-ctx.Done():
		return api.ProposeResponse{}, "", ctx.Err()
	}
}

// run posts batches until the queue is empty.
func (b *batcher) run() {
	for {
		// Let the handlers that are ready queue their commands first.
		runtime.Gosched()
		b.mu.Lock()
		n := replog.Fit(len(b.queue), maxBatchCommands, maxBatchBytes, func(i int) int { return b.queue[i].cmd.Size() })
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		b.post(batch)
	}
}

// post proposes batch at the likely leader and delivers every outcome.
func (b *batcher) post(batch []*batchItem) {
	var resp api.BatchResponse
	var to string
	err := errors.New("no proposer address known")
	if order := b.c.n.proposerOrder(b.c.knownLeader()); len(order) > 0 {
		to = order[0]
		req := api.BatchRequest{Commands: make([]api.Proposal, len(batch))}
		for i, it := range batch {
			req.Commands[i] = api.Proposal{Value: &it.cmd.Value, ClientID: it.cmd.ClientID, RequestID: it.cmd.RequestID}
		}
		body, _ := json.Marshal(req)
		// One attempt's time, as for one command: a leader that does not
		// answer is left to the one-by-one way, which tries the others.
		ctx, cancel := b.c.n.attempt(context.Background())
		err = b.c.n.postJSON(ctx, order[0], batchPath, body, nil, &resp)
		cancel()
		if err == nil && len(resp.Results) != len(batch) {
			err = fmt.Errorf("%s%s: %d results for %d commands", order[0], batchPath, len(resp.Results), len(batch))
		}
	}
	for i, it := range batch {
		switch {
		case err != nil:
			it.done <- batchOutcome{err: err, failed: to}
		case resp.Results[i].Error != "":
			it.done <- batchOutcome{err: errors.New(resp.Results[i].Error)}
		default:
			r := resp.Results[i]
			it.done <- batchOutcome{res: api.ProposeResponse{Status: "chosen", Slot: r.Slot, ProposalNumber: r.ProposalNumber,
				ProposerID: r.ProposerID, RequestID: it.cmd.RequestID}}
		}
	}
}
