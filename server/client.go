package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// clientRole is a client node: it sends values to the leader (following it
// across leader changes, retrying with the same request ID), reads the log
// from the learners with failover, and keeps the responses it got.
type clientRole struct {
	s      *Server
	leader atomic.Uint64 // the proposer that last answered a write
	batch  batcher       // gathers /send requests into batches (batch.go)

	mu        sync.Mutex
	responses []clientResponse
	slots     map[string]uint64 // request ID → slot, for requests sent here
	notified  atomic.Uint64

	sent, failed atomic.Uint64
}

type clientResponse struct {
	RequestID  string    `json:"request_id"`
	Value      string    `json:"value"`
	Status     string    `json:"status"`
	Slot       *uint64   `json:"slot"`
	ProposerID replog.ID `json:"proposer_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	Learned    bool      `json:"learned"`
	At         time.Time `json:"at"`
}

// maxResponses bounds the responses a client node keeps.
const maxResponses = 1000

func newClientRole(s *Server) *clientRole {
	c := &clientRole{s: s, slots: map[string]uint64{}}
	c.batch.c = c
	return c
}

func (c *clientRole) routes(r *httprouter.Router) {
	r.POST("/send", c.s.writes(c.handleSend))
	r.GET("/read", c.handleRead)
	r.POST("/notify", c.s.internal(c.handleNotify))
	r.GET("/get-responses", c.handleResponses)
}

func (c *clientRole) handleSend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		Value     *string `json:"value"`
		RequestID string  `json:"request_id"`
		ClientID  uint64  `json:"client_id"`
	}
	if err := decodeJSON(w, r, c.s.valueBodyLimit(), &req); err != nil {
		writeError(w, err, nil)
		return
	}
	cmd, err := c.s.command(req.Value, req.ClientID, req.RequestID)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.s.cfg.RequestTimeout)
	defer cancel()
	res, err := c.send(ctx, cmd)
	if err != nil {
		c.failed.Add(1)
		c.record(clientResponse{RequestID: cmd.RequestID, Value: cmd.Value, Status: "failed", Error: err.Error()})
		writeError(w, err, map[string]any{"request_id": cmd.RequestID})
		return
	}
	c.sent.Add(1)
	slot := res.Slot
	c.record(clientResponse{RequestID: cmd.RequestID, Value: cmd.Value, Status: "value sent", Slot: &slot, ProposerID: res.ProposerID})
	writeJSON(w, http.StatusOK, map[string]any{"status": "value sent", "slot": res.Slot, "proposer_id": res.ProposerID,
		"request_id": cmd.RequestID, "proposal_number": res.ProposalNumber})
}

// send proposes cmd through the proposers, the likely leader first, until
// one answers or ctx ends. Every attempt carries the same request ID, so a
// value is chosen at most once whatever fails in between.
func (c *clientRole) send(ctx context.Context, cmd replog.Command) (proposeResponse, error) {
	res, failed, err := c.batch.submit(ctx, cmd)
	if err == nil {
		c.leader.Store(uint64(res.ProposerID))
		return res, nil
	}
	// The batch could not place it: one by one, with the same request ID,
	// first at the proposers the batch did not fail at.
	body, _ := json.Marshal(map[string]any{"value": cmd.Value, "client_id": cmd.ClientID, "request_id": cmd.RequestID})
	var lastErr error
	for attempt := 0; ; attempt++ {
		order := c.s.proposerOrder()
		if attempt == 0 && failed != "" {
			if i := slices.Index(order, failed); i >= 0 {
				order = append(append(order[:i:i], order[i+1:]...), failed)
			}
		}
		for _, addr := range order {
			var res proposeResponse
			actx, cancel := c.s.attempt(ctx)
			err := c.s.postJSON(actx, addr, "/propose", body, nil, &res)
			cancel()
			if err == nil {
				c.leader.Store(uint64(res.ProposerID))
				return res, nil
			}
			lastErr = err
			if errors.Is(err, ErrBadRequest) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnauthorized) {
				return proposeResponse{}, err
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(lastErr, ErrUnavailable) {
				return proposeResponse{}, fmt.Errorf("%w: no proposer reachable (request_id %s): %v", ErrUnavailable, cmd.RequestID, lastErr)
			}
			return proposeResponse{}, fmt.Errorf("%w: value not confirmed within %s; retrying with request_id %s is safe: %v",
				ErrTimeout, c.s.cfg.RequestTimeout, cmd.RequestID, lastErr)
		case <-time.After(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond):
		}
	}
}

func (c *clientRole) record(r clientResponse) {
	r.At = time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responses = append(c.responses, r)
	if len(c.responses) >= 2*maxResponses {
		// Keep the newest maxResponses, in place: one copy per
		// maxResponses records (a copy per record was a fifth of a client
		// node's CPU under load).
		n := copy(c.responses, c.responses[len(c.responses)-maxResponses:])
		clear(c.responses[n:])
		c.responses = c.responses[:n]
	}
	if r.Slot != nil {
		c.slots[r.RequestID] = *r.Slot
		if len(c.slots) > 4*maxResponses {
			clear(c.slots)
		}
	}
}

// handleRead serves the log from a learner, failing over between learners.
func (c *clientRole) handleRead(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	for _, name := range []string{"from", "limit"} {
		if _, err := queryUint(r, name, 0); err != nil {
			writeError(w, err, nil)
			return
		}
	}
	if _, err := consistencyOf(r); err != nil {
		writeError(w, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.s.cfg.RequestTimeout)
	defer cancel()
	var addrs []string
	for _, l := range c.s.cfg.Learners {
		if addr, ok := c.s.addressOf(l.ID); ok {
			addrs = append(addrs, addr)
		}
	}
	page, err := hedged(ctx, addrs, hedgeDelay, func(ctx context.Context, addr string) (json.RawMessage, error) {
		var page json.RawMessage
		err := c.s.getJSON(ctx, addr, "/get-values?"+r.URL.RawQuery, &page)
		return page, err
	})
	if err != nil {
		if !errors.Is(err, ErrBadRequest) {
			err = fmt.Errorf("%w: no learner answered: %v", ErrUnavailable, err)
		}
		writeError(w, err, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(page, '\n'))
}

// hedgeDelay is how long a read waits for one learner before it also asks
// the next one.
const hedgeDelay = 200 * time.Millisecond

// hedged calls f on the first address, and on the next one each time delay
// passes (or the last call failed) without an answer; the first success
// wins and cancels the others. So a hung node costs delay, not the whole
// deadline, and a slow but working one still gets to finish. A bad request
// ends it at once: the next node would say the same.
func hedged[T any](ctx context.Context, addrs []string, delay time.Duration, f func(context.Context, string) (T, error)) (T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	results := make(chan result, len(addrs))
	var zero T
	lastErr := error(ErrUnavailable)
	next, running := 0, 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			if next < len(addrs) {
				addr := addrs[next]
				next++
				running++
				go func() { v, err := f(ctx, addr); results <- result{v, err} }()
				timer.Reset(delay)
			}
		case r := <-results:
			running--
			if r.err == nil {
				return r.v, nil
			}
			lastErr = r.err
			if errors.Is(r.err, ErrBadRequest) {
				return zero, r.err
			}
			if next < len(addrs) {
				timer.Reset(0)
			} else if running == 0 {
				return zero, lastErr
			}
		case <-ctx.Done():
			return zero, fmt.Errorf("%w: %v", ErrTimeout, lastErr)
		}
	}
}

// handleNotify takes learned values pushed by a learner (seed endpoint):
// {"entries":[{"slot":12,"value":"x","request_id":"9-17"}]}.
func (c *clientRole) handleNotify(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		Entries []seedEntry `json:"entries"`
	}
	if err := decodeJSON(w, r, int64(c.s.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	for _, e := range req.Entries {
		c.learned(e.RequestID, e.Slot)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "received": len(req.Entries)})
}

// onMessages takes MsgChosen from learners (the internal form of /notify).
func (c *clientRole) onMessages(msgs []replog.Message) error {
	for _, m := range msgs {
		if m.Type != replog.MsgChosen {
			continue
		}
		for _, e := range m.Entries {
			c.learned(e.Command.RequestID, e.Slot)
		}
	}
	return nil
}

func (c *clientRole) learned(req string, slot uint64) {
	c.notified.Add(1)
	if req == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.slots[req]; !ok || s != slot {
		return
	}
	for i := len(c.responses) - 1; i >= 0; i-- {
		if c.responses[i].RequestID == req {
			c.responses[i].Learned = true
			break
		}
	}
}

func (c *clientRole) handleResponses(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	c.mu.Lock()
	out := append([]clientResponse{}, c.responses[max(0, len(c.responses)-maxResponses):]...)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"responses": out, "count": len(out)})
}

func (c *clientRole) view() map[string]any {
	c.mu.Lock()
	n := min(len(c.responses), maxResponses)
	c.mu.Unlock()
	return map[string]any{
		"current_leader": nullID(replog.ID(c.leader.Load())),
		"responses":      n,
		"metrics": map[string]any{"sent": c.sent.Load(), "failed": c.failed.Load(),
			"notifications": c.notified.Load()},
	}
}
