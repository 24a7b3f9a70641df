package server

import (
	"cmp"
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

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/client"
	"github.com/paxos-go/paxos/internal/clientwire"
	"github.com/paxos-go/paxos/replog"
)

// clientRole is a client node: it sends values to the leader (following it
// across leader changes, retrying with the same request ID), reads the log
// from the learners with failover, and keeps the responses it got.
type clientRole struct {
	n      *node
	leader atomic.Uint64 // the proposer that last answered a write
	batch  batcher       // gathers /send requests into batches (batch.go), with TLS

	streamOnce sync.Once
	stream     *client.Client // to the proposers (leaderStream)

	mu        sync.Mutex
	responses []clientResponse
	// responseBytes is the size of the values in responses.
	responseBytes int
	slots         map[string]uint64 // request ID → slot, for requests sent here
	notified      atomic.Uint64

	sent, failed atomic.Uint64
}

type clientResponse = api.ClientResponse

// maxResponses and maxResponseBytes bound the responses a client node
// keeps and lists (GET /get-responses): the newest maxResponses, within
// maxResponseBytes of values (the newest one always). Values go up to
// MAX_VALUE_BYTES: 1,000 responses of 1 MiB each were a GiB, and 2,000
// values of 64 KiB took a client node to 110-150 MiB (TestE2EBigValues).
const (
	maxResponses     = 1000
	maxResponseBytes = 4 << 20
)

// newestResponses returns where the responses to keep or list start in
// rs: the newest maxResponses within maxResponseBytes of values, and at
// least the newest one.
func newestResponses(rs []clientResponse) int {
	start, size := len(rs), 0
	for start > 0 && len(rs)-start < maxResponses {
		size += len(rs[start-1].Value)
		if size > maxResponseBytes && start < len(rs) {
			break
		}
		start--
	}
	return start
}

func newClientRole(n *node) *clientRole {
	c := &clientRole{n: n, slots: map[string]uint64{}}
	c.batch.c = c
	return c
}

// knownLeader is the proposer that last answered a write here (replog.None
// before the first).
func (c *clientRole) knownLeader() replog.ID { return replog.ID(c.leader.Load()) }

func (c *clientRole) routes(r *httprouter.Router, shared nodeRoutes) {
	r.POST("/send", c.n.writes(c.handleSend))
	r.POST(clientwire.Path, c.n.writes(shared.clientStream))
	r.GET("/read", c.handleRead)
	r.POST("/notify", c.n.internal(c.handleNotify))
	r.GET("/get-responses", c.handleResponses)
}

func (c *clientRole) handleSend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.Proposal // is_leader_election means nothing here
	if err := decodeJSON(w, r, c.n.valueBodyLimit(), &req); err != nil {
		writeError(w, err, nil)
		return
	}
	cmd, err := c.n.command(req.Value, req.ClientID, req.RequestID)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.n.cfg.RequestTimeout)
	defer cancel()
	res, err := c.sendRecorded(ctx, cmd)
	if err != nil {
		writeError(w, err, &api.Error{RequestID: cmd.RequestID})
		return
	}
	writeJSON(w, http.StatusOK, api.SendResponse{Status: "value sent", Slot: res.Slot, ProposerID: res.ProposerID,
		RequestID: cmd.RequestID, ProposalNumber: res.ProposalNumber})
}

// sendRecorded sends cmd and records the outcome among the responses.
func (c *clientRole) sendRecorded(ctx context.Context, cmd replog.Command) (api.ProposeResponse, error) {
	res, err := c.send(ctx, cmd)
	if err != nil {
		c.failed.Add(1)
		c.record(clientResponse{RequestID: cmd.RequestID, Value: cmd.Value, Status: "failed", Error: err.Error()})
		return res, err
	}
	c.sent.Add(1)
	slot := res.Slot
	c.record(clientResponse{RequestID: cmd.RequestID, Value: cmd.Value, Status: "value sent", Slot: &slot, ProposerID: res.ProposerID})
	return res, nil
}

// send proposes cmd through the proposers, the likely leader first, until
// one answers or ctx ends. Every attempt carries the same request ID, so a
// value is chosen at most once whatever fails in between.
func (c *clientRole) send(ctx context.Context, cmd replog.Command) (api.ProposeResponse, error) {
	if st := c.leaderStream(); st != nil {
		// The stream gets half the time; what it could not place in it
		// goes the HTTP way below, with the same request ID.
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			sctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		}
		res, err := c.sendStream(sctx, st, cmd)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrUnavailable) || alarmOf(err) != "" {
			return res, err
		}
	}
	res, failed, err := c.batch.submit(ctx, cmd)
	if err == nil {
		c.leader.Store(res.ProposerID)
		return res, nil
	}
	if alarmOf(err) != "" {
		return api.ProposeResponse{}, err // writes are refused: every proposer would say so
	}
	// The batch could not place it: one by one, with the same request ID,
	// first at the proposers the batch did not fail at.
	body, _ := json.Marshal(api.ProposeRequest{Value: cmd.Value, ClientID: cmd.ClientID, RequestID: cmd.RequestID})
	var lastErr error
	for attempt := 0; ; attempt++ {
		order := c.n.proposerOrder(c.knownLeader())
		if attempt == 0 && failed != "" {
			if i := slices.Index(order, failed); i >= 0 {
				order = append(append(order[:i:i], order[i+1:]...), failed)
			}
		}
		for _, addr := range order {
			var res api.ProposeResponse
			actx, cancel := c.n.attempt(ctx)
			err := c.n.postJSON(actx, addr, "/propose", body, nil, &res)
			cancel()
			if err == nil {
				c.leader.Store(res.ProposerID)
				return res, nil
			}
			lastErr = err
			if errors.Is(err, ErrBadRequest) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnauthorized) || alarmOf(err) != "" {
				return api.ProposeResponse{}, err
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(lastErr, ErrUnavailable) {
				return api.ProposeResponse{}, fmt.Errorf("%w: no proposer reachable (request_id %s): %v", ErrUnavailable, cmd.RequestID, lastErr)
			}
			return api.ProposeResponse{}, fmt.Errorf("%w: value not confirmed within %s; retrying with request_id %s is safe: %v",
				ErrTimeout, c.n.cfg.RequestTimeout, cmd.RequestID, lastErr)
		case <-time.After(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond):
		}
	}
}

// leaderStream is the client stream to the proposers (package client),
// made at the first write; nil with TLS, where writes take /propose-batch
// (a node's TLS client configuration names the one peer it dials), as do
// writes the stream could not place in half their time (send).
func (c *clientRole) leaderStream() *client.Client {
	if c.n.tls != nil {
		return nil
	}
	c.streamOnce.Do(func() {
		cl, err := client.New(client.Config{Endpoints: c.n.proposerOrder(c.knownLeader()), Token: cmp.Or(c.n.cfg.Secret, c.n.cfg.ClientToken),
			DialTimeout: streamHandshake, AttemptTimeout: c.n.attemptTimeout()})
		if err != nil {
			c.n.log.Warn("no client stream to the proposers: writes take /propose-batch", "err", err)
			return
		}
		c.stream = cl
	})
	return c.stream
}

// closeStream closes the client stream to the proposers, if one was made;
// writes after it take /propose-batch.
func (c *clientRole) closeStream() {
	c.streamOnce.Do(func() {}) // none made from now on
	if c.stream != nil {
		c.stream.Close()
	}
}

// sendStream proposes cmd over the client stream st, which follows the
// leader and retries with the same request ID until ctx ends.
func (c *clientRole) sendStream(ctx context.Context, st *client.Client, cmd replog.Command) (api.ProposeResponse, error) {
	r, err := st.Propose(ctx, cmd.Value, client.WithRequestID(cmd.RequestID), client.WithClientID(cmd.ClientID))
	if err == nil {
		c.leader.Store(r.ProposerID)
		return api.ProposeResponse{Status: "chosen", Slot: r.Slot, ProposalNumber: r.ProposalNumber,
			ProposerID: r.ProposerID, RequestID: cmd.RequestID}, nil
	}
	var alarm *client.AlarmError
	var refused *client.StatusError
	switch {
	case errors.As(err, &alarm):
		return api.ProposeResponse{}, &AlarmError{Alarm: alarm.Alarm, Reason: alarm.Reason}
	case errors.Is(err, client.ErrTimeout):
		return api.ProposeResponse{}, fmt.Errorf("%w: value not confirmed within %s; retrying with request_id %s is safe: %v",
			ErrTimeout, c.n.cfg.RequestTimeout, cmd.RequestID, err)
	case errors.As(err, &refused):
		return api.ProposeResponse{}, fmt.Errorf("%w: %s", sentinelFor(refused.Code), refused.Message)
	}
	return api.ProposeResponse{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (c *clientRole) record(r clientResponse) {
	r.At = time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responses = append(c.responses, r)
	c.responseBytes += len(r.Value)
	if len(c.responses) >= 2*maxResponses || c.responseBytes > 2*maxResponseBytes {
		// Keep the newest (newestResponses), in place: one copy per
		// maxResponses records or maxResponseBytes of values (a copy per
		// record was a fifth of a client node's CPU under load).
		n := copy(c.responses, c.responses[newestResponses(c.responses):])
		clear(c.responses[n:])
		c.responses = c.responses[:n]
		c.responseBytes = 0
		for _, kept := range c.responses {
			c.responseBytes += len(kept.Value)
		}
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
	ctx, cancel := context.WithTimeout(r.Context(), c.n.cfg.RequestTimeout)
	defer cancel()
	var addrs []string
	for _, l := range c.n.cfg.Learners {
		if addr, ok := c.n.addressOf(l.ID); ok {
			addrs = append(addrs, addr)
		}
	}
	page, err := hedged(ctx, addrs, hedgeDelay, func(ctx context.Context, addr string) (json.RawMessage, error) {
		var page json.RawMessage
		err := c.n.getJSON(ctx, addr, "/get-values?"+r.URL.RawQuery, &page)
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
	var req api.NotifyRequest
	if err := decodeJSON(w, r, int64(c.n.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if c.n.tls != nil {
		// Chosen notices come from learners only (senderRoles).
		from, err := c.n.peerIdentity(r)
		if err == nil && c.n.roles[from] != RoleLearner {
			err = fmt.Errorf("%w: /notify takes chosen notices from learners; the TLS client certificate is node %d's, a %s", ErrBadRequest, from, c.n.roles[from])
		}
		if err != nil {
			writeError(w, err, nil)
			return
		}
	}
	for _, e := range req.Entries {
		if err := c.n.checkSeedEntry(e); err != nil {
			writeError(w, err, nil)
			return
		}
	}
	for _, e := range req.Entries {
		c.learned(e.RequestID, e.Slot)
	}
	writeJSON(w, http.StatusOK, api.NotifyResponse{Status: "ok", Received: len(req.Entries)})
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
	out := append([]clientResponse{}, c.responses[newestResponses(c.responses):]...)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, api.Responses{Responses: out, Count: len(out)})
}

func (c *clientRole) view() view {
	c.mu.Lock()
	n := len(c.responses) - newestResponses(c.responses)
	c.mu.Unlock()
	return &api.ClientView{
		CurrentLeader: api.OptionalID(c.leader.Load()),
		Responses:     n,
		Metrics:       api.ClientMetrics{Sent: c.sent.Load(), Failed: c.failed.Load(), Notifications: c.notified.Load()},
	}
}
