package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// proposerRole runs a replog.Proposer: it answers /propose once the value is
// chosen, forwards to the leader when it is not the leader, and serves read
// indexes for linearizable reads.
type proposerRole struct {
	s     *Server
	core  *replog.Proposer
	store *storage.Proposer

	mu      sync.Mutex
	waiters map[string][]chan replog.Result
	reads   map[uint64]chan replog.ReadState
	readSeq uint64

	snap atomic.Pointer[replog.Status]

	proposed, chosen, failed atomic.Uint64
	leaderChanges            atomic.Uint64
}

func newProposerRole(s *Server, cfg replog.Config) (*proposerRole, error) {
	st, err := storage.OpenProposer(s.dbPath(), s.storageOptions())
	if err != nil {
		return nil, err
	}
	core, err := replog.NewProposer(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	p := &proposerRole{s: s, core: core, store: st,
		waiters: map[string][]chan replog.Result{}, reads: map[uint64]chan replog.ReadState{}}
	first := core.Status()
	p.snap.Store(&first)
	s.drv = newDriver(core, s.cfg.Tick, s.log)
	s.drv.save = func(rd *replog.Ready) error {
		if rd.HardState.Round > 0 {
			return st.SetRound(rd.HardState.Round)
		}
		return nil
	}
	s.drv.send = s.transport.Send
	s.drv.apply = p.apply
	s.drv.observe = p.observe
	return p, nil
}

func (p *proposerRole) routes(r *httprouter.Router) {
	r.POST("/propose", p.s.writes(p.handlePropose))
	// Internal (client nodes send it with the cluster secret); a write too,
	// so it takes the client token when there is no secret, like /propose.
	r.POST(batchPath, p.s.internal(p.s.writes(p.handleProposeBatch)))
	r.GET("/status", p.handleStatus)
	r.GET("/read-index", p.s.internal(p.handleReadIndex))
}

func (p *proposerRole) status() replog.Status { return *p.snap.Load() }

// observe refreshes the status snapshot; it runs on the driver loop.
func (p *proposerRole) observe() {
	prev := p.status()
	st := p.core.Status()
	p.snap.Store(&st)
	if st.Role != prev.Role || st.Leader != prev.Leader {
		if st.Leader != prev.Leader {
			p.leaderChanges.Add(1)
			p.s.metrics.leaderChanges.Inc()
		}
		p.s.log.Info("proposer state", "state", st.Role.String(), "leader", st.Leader, "ballot", st.Ballot,
			"max_ballot", st.MaxSeen, "chosen_slot", int64(st.Commit)-1)
		if p.s.gossip != nil {
			p.s.gossip.UpdateMeta()
		}
	}
}

// apply delivers Results and ReadStates; it runs on the driver loop after
// each persisted batch.
func (p *proposerRole) apply(rd *replog.Ready) {
	if len(rd.Results) == 0 && len(rd.ReadStates) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, res := range rd.Results {
		for _, ch := range p.waiters[res.RequestID] {
			ch <- res
		}
		delete(p.waiters, res.RequestID)
	}
	for _, rs := range rd.ReadStates {
		if ch, ok := p.reads[rs.Ctx]; ok {
			ch <- rs
			delete(p.reads, rs.Ctx)
		}
	}
}

// peerGone is gossip's fast trigger: when the leader we follow is dead or
// left, campaign after a short delay that depends on our rank, so the
// proposers do not all campaign at once.
func (p *proposerRole) peerGone(id replog.ID) {
	st := p.status()
	if st.Role != replog.Follower || st.Leader != id {
		return
	}
	rank := 0
	for _, peer := range p.s.cfg.Proposers {
		if peer.ID != id && peer.ID < p.s.cfg.ID {
			rank++
		}
	}
	time.AfterFunc(time.Duration(rank)*4*p.s.cfg.Tick, func() {
		_ = p.s.drv.do(func() {
			if now := p.core.Status(); now.Role == replog.Follower && now.Leader == id {
				p.s.log.Info("leader gone from gossip: campaigning", "leader", id, "ballot", now.Ballot, "max_ballot", now.MaxSeen)
				p.core.Campaign()
			}
		})
	})
}

// proposeRequest is the body of POST /propose.
type proposeRequest struct {
	Value            *string `json:"value"`
	ClientID         uint64  `json:"client_id"`
	RequestID        string  `json:"request_id"`
	IsLeaderElection bool    `json:"is_leader_election"`
}

// forwardedHeader marks a proposal a follower forwarded to the leader.
const forwardedHeader = "X-Paxos-Forwarded"

func (p *proposerRole) handlePropose(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req proposeRequest
	if err := decodeJSON(w, r, p.s.valueBodyLimit(), &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if req.IsLeaderElection || (req.Value != nil && *req.Value == "force_election") {
		if err := p.s.drv.do(p.core.Campaign); err != nil {
			writeError(w, err, nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "election_started", "proposer_id": p.s.cfg.ID})
		return
	}
	cmd, err := p.s.command(req.Value, req.ClientID, req.RequestID)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.s.cfg.RequestTimeout)
	defer cancel()
	res, err := p.propose(ctx, cmd, r.Header.Get(forwardedHeader) != "")
	if err != nil {
		extra := map[string]any{"request_id": cmd.RequestID}
		if errors.Is(err, ErrNotLeader) {
			extra["current_leader"] = leaderOrNull(p.status().Leader, p.s.cfg.ID)
			extra["retry_suggested"] = true
		}
		writeError(w, err, extra)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func leaderOrNull(leader, self replog.ID) any {
	if leader == replog.None || leader == self {
		return nil
	}
	return leader
}

// proposeResponse is the answer of POST /propose.
type proposeResponse struct {
	Status         string    `json:"status"`
	Slot           uint64    `json:"slot"`
	ProposalNumber uint64    `json:"proposal_number"`
	ProposerID     replog.ID `json:"proposer_id"`
	RequestID      string    `json:"request_id"`
}

// propose gets cmd chosen: directly when leader, through the leader
// otherwise, retrying with the same request ID across leader changes until
// ctx ends. A forwarded proposal is not forwarded again.
func (p *proposerRole) propose(ctx context.Context, cmd replog.Command, forwarded bool) (res proposeResponse, err error) {
	start := time.Now()
	defer func() { p.countProposal(start, err) }()
	lastErr := error(ErrNotLeader)
	for {
		st := p.status()
		switch {
		case st.Role == replog.Leader:
			res, err := p.proposeLocal(ctx, cmd)
			if err == nil {
				p.chosen.Add(1)
				return proposeResponse{Status: "chosen", Slot: res.Slot, ProposalNumber: uint64(st.Ballot),
					ProposerID: p.s.cfg.ID, RequestID: cmd.RequestID}, nil
			}
			lastErr = err
			if errors.Is(err, ErrShuttingDown) {
				p.failed.Add(1)
				return proposeResponse{}, err
			}
			if errors.Is(err, ErrTimeout) {
				p.failed.Add(1)
				return proposeResponse{}, fmt.Errorf("%w: value not chosen within %s (request_id %s; retrying with it is safe)", ErrTimeout, p.s.cfg.RequestTimeout, cmd.RequestID)
			}
		case forwarded:
			return proposeResponse{}, ErrNotLeader
		case st.Leader != replog.None && st.Leader != p.s.cfg.ID:
			res, err := p.forward(ctx, st.Leader, cmd)
			if err == nil {
				p.chosen.Add(1)
				return res, nil
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			p.failed.Add(1)
			if errors.Is(lastErr, ErrNotLeader) && p.status().Leader == replog.None {
				return proposeResponse{}, ErrNotLeader
			}
			return proposeResponse{}, fmt.Errorf("%w: no leader could choose the value within %s (request_id %s; retrying with it is safe): %v", ErrTimeout, p.s.cfg.RequestTimeout, cmd.RequestID, lastErr)
		case <-time.After(p.s.cfg.Tick / 2):
		}
	}
}

// countProposal counts a proposal that arrived at start and ended with err.
func (p *proposerRole) countProposal(start time.Time, err error) {
	p.proposed.Add(1)
	switch {
	case err == nil:
		p.s.metrics.proposal("chosen")
		p.s.metrics.commitLatency.Observe(time.Since(start).Seconds())
	case errors.Is(err, ErrTimeout):
		p.s.metrics.proposal("timeout")
	case errors.Is(err, ErrNotLeader):
		p.s.metrics.proposal("not_leader")
	default:
		p.s.metrics.proposal("failed")
	}
}

// proposeLocal hands cmd to the local leader and waits for its Result.
func (p *proposerRole) proposeLocal(ctx context.Context, cmd replog.Command) (replog.Result, error) {
	r := p.proposeLocalMany(ctx, []replog.Command{cmd})[0]
	return r.res, r.err
}

// localResult is the outcome of one command of proposeLocalMany.
type localResult struct {
	res replog.Result
	err error
}

// proposeLocalMany hands cmds to the local leader in one step and waits for
// each one's Result (or ctx).
func (p *proposerRole) proposeLocalMany(ctx context.Context, cmds []replog.Command) []localResult {
	out := make([]localResult, len(cmds))
	chs := make([]chan replog.Result, len(cmds))
	p.mu.Lock()
	for i, cmd := range cmds {
		chs[i] = make(chan replog.Result, 1)
		p.waiters[cmd.RequestID] = append(p.waiters[cmd.RequestID], chs[i])
	}
	p.mu.Unlock()
	// The closure runs on the driver loop, maybe after call gave up: it
	// reports through a channel, never through a shared variable.
	errc := make(chan []error, 1)
	err := p.s.drv.call(ctx, func() {
		errs := make([]error, len(cmds))
		for i, cmd := range cmds {
			errs[i] = p.core.Propose(cmd)
		}
		errc <- errs
	})
	var perrs []error
	if err == nil {
		perrs = <-errc
	}
	for i, cmd := range cmds {
		perr := err
		if perr == nil {
			perr = perrs[i]
		}
		if perr != nil {
			p.dropWaiter(cmd.RequestID, chs[i])
			if errors.Is(perr, replog.ErrNotLeader) {
				perr = ErrNotLeader
			}
			out[i].err = perr
			continue
		}
		select {
		case res := <-chs[i]:
			out[i] = localResult{res: res, err: res.Err}
		case <-ctx.Done():
			select {
			case res := <-chs[i]: // answered in time, seen late
				out[i] = localResult{res: res, err: res.Err}
			default:
				p.dropWaiter(cmd.RequestID, chs[i])
				out[i].err = ErrTimeout
			}
		}
	}
	return out
}

func (p *proposerRole) dropWaiter(req string, ch chan replog.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := p.waiters[req]
	for i, c := range ws {
		if c == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(p.waiters, req)
	} else {
		p.waiters[req] = ws
	}
}

// forward sends cmd to the leader's /propose.
func (p *proposerRole) forward(ctx context.Context, leader replog.ID, cmd replog.Command) (proposeResponse, error) {
	addr, ok := p.s.addressOf(leader)
	if !ok {
		return proposeResponse{}, fmt.Errorf("%w: no address for leader %d", ErrUnavailable, leader)
	}
	body, _ := json.Marshal(map[string]any{"value": cmd.Value, "client_id": cmd.ClientID, "request_id": cmd.RequestID})
	var res proposeResponse
	actx, cancel := p.s.attempt(ctx)
	defer cancel()
	err := p.s.postJSON(actx, addr, "/propose", body, map[string]string{forwardedHeader: "1"}, &res)
	return res, err
}

func (p *proposerRole) handleStatus(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, p.s.view())
}

func (p *proposerRole) view() map[string]any {
	st := p.status()
	p.mu.Lock()
	pending := len(p.waiters)
	p.mu.Unlock()
	return map[string]any{
		"state":            st.Role.String(),
		"is_leader":        st.Role == replog.Leader,
		"current_leader":   nullID(st.Leader),
		"in_election":      st.Role == replog.Candidate,
		"proposal_number":  uint64(st.Ballot),
		"proposal_counter": st.Round,
		"highest_seen":     uint64(st.MaxSeen),
		"acceptors_count":  len(p.s.cfg.Acceptors),
		"learners_count":   len(p.s.cfg.Learners),
		"quorum":           len(p.s.cfg.Acceptors)/2 + 1,
		"next_slot":        st.NextSlot,
		"chosen_slot":      int64(st.Commit) - 1,
		"in_flight":        st.InFlight,
		"queued":           st.Queued,
		"pending":          pending,
		"metrics": map[string]any{
			"proposals_total": p.proposed.Load(), "proposals_chosen": p.chosen.Load(),
			"proposals_failed": p.failed.Load(), "leader_changes": p.leaderChanges.Load(),
		},
	}
}

func nullID(id replog.ID) any {
	if id == replog.None {
		return nil
	}
	return id
}

// handleReadIndex answers GET /read-index: {"index": N, "leader_id": L} once
// a quorum of acceptors confirmed the leader's ballot; every write
// acknowledged before the request is below N.
func (p *proposerRole) handleReadIndex(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), p.s.cfg.RequestTimeout)
	defer cancel()
	idx, err := p.readIndex(ctx, r.URL.Query().Get("forwarded") != "")
	if err != nil {
		writeError(w, err, map[string]any{"current_leader": nullID(p.status().Leader)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"index": idx, "leader_id": p.status().Leader})
}

func (p *proposerRole) readIndex(ctx context.Context, forwarded bool) (uint64, error) {
	for {
		st := p.status()
		switch {
		case st.Role == replog.Leader:
			ch := make(chan replog.ReadState, 1)
			var id uint64
			err := p.s.drv.call(ctx, func() {
				p.mu.Lock()
				p.readSeq++
				id = p.readSeq
				p.reads[id] = ch
				p.mu.Unlock()
				p.core.ReadIndex(id)
			})
			if err != nil {
				return 0, err
			}
			select {
			case rs := <-ch:
				if rs.Err == nil {
					return rs.Index, nil
				}
			case <-ctx.Done():
				p.mu.Lock()
				delete(p.reads, id)
				p.mu.Unlock()
				return 0, fmt.Errorf("%w: the leader could not confirm its ballot with a quorum of acceptors", ErrTimeout)
			}
		case forwarded:
			return 0, ErrNotLeader
		case st.Leader != replog.None:
			if addr, ok := p.s.addressOf(st.Leader); ok {
				var res struct {
					Index uint64 `json:"index"`
				}
				actx, cancel := p.s.attempt(ctx)
				err := p.s.getJSON(actx, addr, "/read-index?forwarded=1", &res)
				cancel()
				if err == nil {
					return res.Index, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: no leader confirmed a read index", ErrNoQuorum)
		case <-time.After(p.s.cfg.Tick / 2):
		}
	}
}

// attempt bounds one try at one node within a request's deadline, so a
// node that hangs (paused, cut off) costs a fraction of the deadline and
// the next node still gets its turn.
func (s *Server) attempt(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, min(max(s.cfg.RequestTimeout/4, 250*time.Millisecond), 2*time.Second))
}

// postJSON posts body to http://addr+path and decodes a 200 answer into out.
// A non-200 answer becomes an error with the matching sentinel.
func (s *Server) postJSON(ctx context.Context, addr, path string, body []byte, headers map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return s.doJSON(req, out)
}

// getJSON gets http://addr+path and decodes a 200 answer into out.
func (s *Server) getJSON(ctx context.Context, addr, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	return s.doJSON(req, out)
}

func (s *Server) doJSON(req *http.Request, out any) error {
	if s.cfg.Secret != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Secret)
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s did not answer in time", ErrTimeout, req.URL.Host)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, req.URL.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%w: %s answered %d: %s", sentinelFor(resp.StatusCode), req.URL.Host, resp.StatusCode, e.Error)
	}
	return json.Unmarshal(data, out)
}

// sentinelFor maps an HTTP status back to the error it stands for.
func sentinelFor(status int) error {
	switch status {
	case http.StatusConflict:
		return ErrNotLeader
	case http.StatusGatewayTimeout:
		return ErrTimeout
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusUnauthorized:
		return ErrUnauthorized
	}
	return ErrUnavailable
}

// valueBodyLimit bounds a body that carries one value: a value at the limit
// with every byte JSON-escaped (\u00XX is 6 bytes, as Python's json.dumps
// writes control characters), plus room for the other fields.
func (s *Server) valueBodyLimit() int64 { return int64(s.cfg.MaxValueBytes)*6 + 64<<10 }

// command validates a client value and builds the command (SPEC §4: values
// are non-empty UTF-8 strings up to MaxValueBytes; decodeJSON refused
// invalid UTF-8). The exact value force_election cannot be stored: /propose
// takes it as an election request.
func (s *Server) command(value *string, clientID uint64, requestID string) (replog.Command, error) {
	if value == nil {
		return replog.Command{}, fmt.Errorf("%w: field \"value\" is required", ErrBadRequest)
	}
	v := *value
	switch {
	case v == "":
		return replog.Command{}, fmt.Errorf("%w: field \"value\" must not be empty", ErrBadRequest)
	case v == "force_election":
		return replog.Command{}, fmt.Errorf("%w: the value \"force_election\" is reserved: POST it to a proposer's /propose to start an election", ErrBadRequest)
	case len(v) > s.cfg.MaxValueBytes:
		return replog.Command{}, fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrTooLarge, len(v), s.cfg.MaxValueBytes)
	case len(requestID) > 256:
		return replog.Command{}, fmt.Errorf("%w: request_id longer than 256 bytes", ErrBadRequest)
	}
	if requestID == "" {
		requestID = s.newRequestID()
	}
	if clientID == 0 {
		clientID = uint64(s.cfg.ID)
	}
	return replog.Command{ClientID: clientID, RequestID: requestID, Value: v}, nil
}

// newRequestID makes a cluster-unique request ID: node, start time, counter.
func (s *Server) newRequestID() string {
	return strconv.FormatUint(uint64(s.cfg.ID), 10) + "-" + strconv.FormatInt(s.started.UnixNano(), 36) + "-" +
		strconv.FormatUint(s.tapSeq.Add(1), 10)
}
