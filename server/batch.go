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

type batchRequest struct {
	Commands []proposeRequest `json:"commands"`
}

// batchResult is the outcome of one command: its slot, or an error.
type batchResult struct {
	Slot           uint64    `json:"slot"`
	ProposalNumber uint64    `json:"proposal_number"`
	ProposerID     replog.ID `json:"proposer_id"`
	Error          string    `json:"error,omitempty"`
}

type batchResponse struct {
	Results []batchResult `json:"results"`
}

// batchBodyLimit bounds the body of a batch: room for maxBatchBytes of
// commands, or one command of the largest size.
func (s *Server) batchBodyLimit() int64 { return max(2*maxBatchBytes, s.valueBodyLimit()) }

// handleProposeBatch proposes every command of a batch at this leader and
// answers with one result per command, in order. A follower answers 409 for
// the whole batch.
func (p *proposerRole) handleProposeBatch(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req batchRequest
	if err := decodeJSON(w, r, p.s.batchBodyLimit(), &req); err != nil {
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
		cmd, err := p.s.command(c.Value, c.ClientID, c.RequestID)
		if err != nil {
			writeError(w, fmt.Errorf("command %d: %w", i, err), nil)
			return
		}
		cmds[i] = cmd
	}
	st := p.status()
	if st.Role != replog.Leader {
		writeError(w, ErrNotLeader, map[string]any{"current_leader": leaderOrNull(st.Leader, p.s.cfg.ID), "retry_suggested": true})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.s.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	out := batchResponse{Results: make([]batchResult, len(cmds))}
	for i, lr := range p.proposeLocalMany(ctx, cmds) {
		p.countProposal(start, lr.err)
		if lr.err != nil {
			p.failed.Add(1)
			out.Results[i].Error = lr.err.Error()
			continue
		}
		p.chosen.Add(1)
		out.Results[i] = batchResult{Slot: lr.res.Slot, ProposalNumber: uint64(st.Ballot), ProposerID: p.s.cfg.ID}
	}
	writeJSON(w, http.StatusOK, out)
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
	res    proposeResponse
	err    error
	failed string // when the whole batch failed: the proposer it was sent to
}

// submit proposes cmd in the next batch and waits for its outcome (or ctx).
// An error means the batch could not place it: try the one-by-one way, and
// if failed is set, at the other proposers first.
func (b *batcher) submit(ctx context.Context, cmd replog.Command) (res proposeResponse, failed string, err error) {
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
		return proposeResponse{}, "", ctx.Err()
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
	var resp batchResponse
	var to string
	err := errors.New("no proposer address known")
	if order := b.c.s.proposerOrder(); len(order) > 0 {
		to = order[0]
		req := batchRequest{Commands: make([]proposeRequest, len(batch))}
		for i, it := range batch {
			req.Commands[i] = proposeRequest{Value: &it.cmd.Value, ClientID: it.cmd.ClientID, RequestID: it.cmd.RequestID}
		}
		body, _ := json.Marshal(req)
		// One attempt's time, as for one command: a leader that does not
		// answer is left to the one-by-one way, which tries the others.
		ctx, cancel := b.c.s.attempt(context.Background())
		err = b.c.s.postJSON(ctx, order[0], batchPath, body, nil, &resp)
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
			it.done <- batchOutcome{res: proposeResponse{Status: "chosen", Slot: r.Slot, ProposalNumber: r.ProposalNumber,
				ProposerID: r.ProposerID, RequestID: it.cmd.RequestID}}
		}
	}
}
