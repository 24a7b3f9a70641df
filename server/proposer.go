package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/internal/clientwire"
	"github.com/paxos-go/paxos/replog"
)

// proposerRole runs a replog.Proposer: it answers /propose once the value is
// chosen, forwards to the leader when it is not the leader, and serves read
// indexes for linearizable reads.
type proposerRole struct {
	n     *node
	core  *replog.Proposer
	store ProposerStore
	drv   *driver

	mu      sync.Mutex
	waiters map[string][]chan replog.Result
	reads   map[uint64]chan replog.ReadState
	readSeq uint64
	// lastForced is when the last forced election started here; the next
	// one may start forcedEvery (the longest election timeout) later.
	lastForced  time.Time
	forcedEvery time.Duration

	snap atomic.Pointer[replog.Status]

	proposed, chosen, failed atomic.Uint64
	leaderChanges            atomic.Uint64

	lagAlarm bool // LEARNER_LAG was raised at the last observe (loop only)
}

// newProposerRole runs a proposer's core on st, sending over send.
func newProposerRole(n *node, cfg replog.Config, st ProposerStore, send func([]replog.Message)) (*proposerRole, error) {
	core, err := replog.NewProposer(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	ticks := cfg.ElectionTicks
	if ticks <= 0 {
		ticks = replog.DefaultConfig().ElectionTicks
	}
	p := &proposerRole{n: n, core: core, store: st,
		waiters: map[string][]chan replog.Result{}, reads: map[uint64]chan replog.ReadState{},
		forcedEvery: 2 * time.Duration(ticks) * n.cfg.Tick}
	first := core.Status()
	p.snap.Store(&first)
	p.drv = newDriver(core, loopHooks{save: st.Save, send: send, apply: p.apply, observe: p.observe,
		// The applied index is synced beside the loop, once per tick: a
		// proposer that restarts behind it applies the rest again.
		onTick: syncBeside(st.Sync, func(err error) { p.drv.fail(err) }),
	}, n.cfg.Tick, n.log, n.trace)
	return p, nil
}

func (p *proposerRole) routes(r *httprouter.Router, shared nodeRoutes) {
	r.POST("/propose", p.n.writes(p.handlePropose))
	r.POST(clientwire.Path, p.n.writes(shared.clientStream))
	// Internal (client nodes send it with the cluster secret); a write too,
	// so it takes the client token when there is no secret, like /propose.
	r.POST(batchPath, p.n.internal(p.n.writes(p.handleProposeBatch)))
	r.GET("/status", shared.view)
	r.GET("/read-index", p.n.internal(p.handleReadIndex))
}

func (p *proposerRole) status() replog.Status { return *p.snap.Load() }

// observe refreshes the status snapshot; it runs on the driver loop.
func (p *proposerRole) observe() {
	prev := p.status()
	st := p.core.Status()
	p.snap.Store(&st)
	if lag, ok := p.learnerLag(); ok && (lag > p.n.cfg.MaxLearnerLag) != p.lagAlarm {
		p.lagAlarm = !p.lagAlarm
		if p.lagAlarm {
			p.n.log.Warn("alarm raised: writes are refused", "alarm", AlarmLearnerLag, "lag", lag, "max", p.n.cfg.MaxLearnerLag,
				"chosen_slot", int64(st.Commit)-1, "slowest_learner_has", st.Compact)
		} else {
			p.n.log.Info("alarm cleared", "alarm", AlarmLearnerLag, "lag", lag)
		}
		if p.n.gossip != nil {
			p.n.gossip.UpdateMeta()
		}
	}
	if st.State != prev.State || st.Leader != prev.Leader {
		if st.Leader != prev.Leader {
			p.leaderChanges.Add(1)
			p.n.metrics.leaderChanges.Inc()
		}
		p.n.log.Info("proposer state", "state", st.State.String(), "leader", st.Leader, "ballot", st.Ballot,
			"max_ballot", st.MaxSeen, "chosen_slot", int64(st.Commit)-1)
		if p.n.gossip != nil {
			p.n.gossip.UpdateMeta()
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
//
// "dead" is memberlist's suspicion, which a live leader earns when its
// gossip is slow or cut off while it still leads: the campaign is an
// ordinary one (CampaignUnforced), which acceptors that still hear the
// leader refuse, so a false alarm deposes no one (SPEC §8.10). "left" is the
// leader's own word, said after it stopped leading (Serve stops the protocol
// before it leaves gossip): that campaign is forced, so a handover does not
// wait for the acceptors to stop hearing the old leader.
func (p *proposerRole) peerGone(id replog.ID, left bool) {
	st := p.status()
	if st.State != replog.Follower || st.Leader != id {
		return
	}
	rank := 0
	for _, peer := range p.n.cfg.Proposers {
		if peer.ID != id && peer.ID < p.n.cfg.ID {
			rank++
		}
	}
	time.AfterFunc(time.Duration(rank)*4*p.n.cfg.Tick, func() {
		_ = p.drv.do(func() {
			now := p.core.Status()
			if now.State != replog.Follower || now.Leader != id {
				return
			}
			if left {
				p.n.log.Info("leader left gossip: campaigning", "leader", id, "ballot", now.Ballot, "max_ballot", now.MaxSeen)
				p.core.Campaign()
				return
			}
			p.n.log.Info("gossip says the leader is dead: campaigning early (acceptors that still hear it refuse)",
				"leader", id, "ballot", now.Ballot, "max_ballot", now.MaxSeen)
			p.core.CampaignUnforced()
		})
	})
}

// forwardedHeader marks a proposal a follower forwarded to the leader.
const forwardedHeader = "X-Paxos-Forwarded"

func (p *proposerRole) handlePropose(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.Proposal
	if err := decodeJSON(w, r, p.n.valueBodyLimit(), &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if req.IsLeaderElection || (req.Value != nil && *req.Value == "force_election") {
		p.forceElection(w, r)
		return
	}
	cmd, err := p.n.command(req.Value, req.ClientID, req.RequestID)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	if err := p.admitWrite(); err != nil {
		p.countProposal(time.Now(), err)
		p.failed.Add(1)
		writeError(w, err, &api.Error{RequestID: cmd.RequestID})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.n.cfg.RequestTimeout)
	defer cancel()
	res, err := p.propose(ctx, cmd, r.Header.Get(forwardedHeader) != "")
	if err != nil {
		extra := &api.Error{RequestID: cmd.RequestID}
		if errors.Is(err, ErrNotLeader) {
			extra.CurrentLeader, extra.RetrySuggested = leaderOrNull(p.status().Leader, p.n.cfg.ID), true
		}
		writeError(w, err, extra)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// forceElection answers an election request at /propose
// (is_leader_election, or the value force_election). A forced campaign
// deposes even a healthy leader, so it needs a credential whenever the
// cluster has one (the client token or the cluster secret, as a bearer
// token), and this proposer starts at most one per election timeout (429
// with Retry-After otherwise).
func (p *proposerRole) forceElection(w http.ResponseWriter, r *http.Request) {
	if !authorized(r, p.n.cfg.ClientToken, p.n.cfg.Secret) {
		writeError(w, fmt.Errorf("%w: force_election needs the client token or the cluster secret (Authorization: Bearer ...)", ErrUnauthorized), nil)
		return
	}
	if wait := p.forcedGate(time.Now()); wait > 0 {
		waitMS := wait.Milliseconds()
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		writeError(w, fmt.Errorf("%w: proposer %d started a forced election less than %s ago (at most one per election timeout); retry in %s",
			ErrRateLimited, p.n.cfg.ID, p.forcedEvery, wait.Round(time.Millisecond)),
			&api.Error{ProposerID: uint64(p.n.cfg.ID), RetryAfterMS: &waitMS})
		return
	}
	if err := p.drv.do(p.core.Campaign); err != nil {
		writeError(w, err, nil)
		return
	}
	p.n.log.Info("forced election requested: campaigning", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, api.ElectionStarted{Status: "election_started", ProposerID: uint64(p.n.cfg.ID)})
}

// forcedGate admits a forced election at now, or returns how long to wait
// for the next one.
func (p *proposerRole) forcedGate(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if since := now.Sub(p.lastForced); !p.lastForced.IsZero() && since < p.forcedEvery {
		return p.forcedEvery - since
	}
	p.lastForced = now
	return 0
}

// leaderOrNull is the current_leader of a 409: the leader, null when none
// is known or it is this node.
func leaderOrNull(leader, self replog.ID) *api.Leader {
	if leader == self {
		leader = replog.None
	}
	return &api.Leader{ID: uint64(leader)}
}

// propose gets cmd chosen: directly when leader, through the leader
// otherwise, retrying with the same request ID across leader changes until
// ctx ends. A forwarded proposal is not forwarded again.
func (p *proposerRole) propose(ctx context.Context, cmd replog.Command, forwarded bool) (res api.ProposeResponse, err error) {
	start := time.Now()
	defer func() { p.countProposal(start, err) }()
	lastErr := error(ErrNotLeader)
	for {
		st := p.status()
		switch {
		case st.State == replog.Leader:
			res, err := p.proposeLocal(ctx, cmd)
			if err == nil {
				p.chosen.Add(1)
				return api.ProposeResponse{Status: "chosen", Slot: res.Slot, ProposalNumber: uint64(st.Ballot),
					ProposerID: uint64(p.n.cfg.ID), RequestID: cmd.RequestID}, nil
			}
			lastErr = err
			if errors.Is(err, ErrShuttingDown) {
				p.failed.Add(1)
				return api.ProposeResponse{}, err
			}
			if errors.Is(err, ErrTimeout) {
				p.failed.Add(1)
				return api.ProposeResponse{}, fmt.Errorf("%w: value not chosen within %s (request_id %s; retrying with it is safe)", ErrTimeout, p.n.cfg.RequestTimeout, cmd.RequestID)
			}
		case forwarded:
			return api.ProposeResponse{}, ErrNotLeader
		case st.Leader != replog.None && st.Leader != p.n.cfg.ID:
			res, err := p.forward(ctx, st.Leader, cmd)
			if err == nil {
				p.chosen.Add(1)
				return res, nil
			}
			if alarmOf(err) != "" {
				p.failed.Add(1)
				return api.ProposeResponse{}, err // the leader refuses writes: no retry helps
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			p.failed.Add(1)
			if errors.Is(lastErr, ErrNotLeader) && p.status().Leader == replog.None {
				return api.ProposeResponse{}, ErrNotLeader
			}
			return api.ProposeResponse{}, fmt.Errorf("%w: no leader could choose the value within %s (request_id %s; retrying with it is safe): %v", ErrTimeout, p.n.cfg.RequestTimeout, cmd.RequestID, lastErr)
		case <-time.After(p.n.cfg.Tick / 2):
		}
	}
}

// countProposal counts a proposal that arrived at start and ended with err.
func (p *proposerRole) countProposal(start time.Time, err error) {
	p.proposed.Add(1)
	switch {
	case err == nil:
		p.n.metrics.committed(time.Since(start))
	case errors.Is(err, ErrTimeout):
		p.n.metrics.proposal("timeout")
	case errors.Is(err, ErrNotLeader):
		p.n.metrics.proposal("not_leader")
	default:
		p.n.metrics.proposal("failed")
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
	err := p.drv.call(ctx, func() {
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
func (p *proposerRole) forward(ctx context.Context, leader replog.ID, cmd replog.Command) (api.ProposeResponse, error) {
	addr, ok := p.n.addressOf(leader)
	if !ok {
		return api.ProposeResponse{}, fmt.Errorf("%w: no address for leader %d", ErrUnavailable, leader)
	}
	body, _ := json.Marshal(api.ProposeRequest{Value: cmd.Value, ClientID: cmd.ClientID, RequestID: cmd.RequestID})
	var res api.ProposeResponse
	actx, cancel := p.n.attempt(ctx)
	defer cancel()
	err := p.n.postJSON(actx, addr, "/propose", body, map[string]string{forwardedHeader: "1"}, &res)
	return res, err
}

func (p *proposerRole) view() view {
	st := p.status()
	p.mu.Lock()
	pending := len(p.waiters)
	p.mu.Unlock()
	return &api.ProposerView{
		State:           st.State.String(),
		IsLeader:        st.State == replog.Leader,
		CurrentLeader:   api.OptionalID(uint64(st.Leader)),
		InElection:      st.State == replog.Candidate,
		ProposalNumber:  uint64(st.Ballot),
		ProposalCounter: st.Round,
		HighestSeen:     uint64(st.MaxSeen),
		AcceptorsCount:  len(p.n.cfg.Acceptors),
		LearnersCount:   len(p.n.cfg.Learners),
		Quorum:          replog.Quorum(len(p.n.cfg.Acceptors)),
		NextSlot:        st.NextSlot,
		ChosenSlot:      int64(st.Commit) - 1,
		InFlight:        st.InFlight,
		Queued:          st.Queued,
		Pending:         pending,
		Metrics: api.ProposerMetrics{ProposalsTotal: p.proposed.Load(), ProposalsChosen: p.chosen.Load(),
			ProposalsFailed: p.failed.Load(), LeaderChanges: p.leaderChanges.Load()},
	}
}

// handleReadIndex answers GET /read-index: {"index": N, "leader_id": L} once
// a quorum of acceptors confirmed the leader's ballot; every write
// acknowledged before the request is below N.
func (p *proposerRole) handleReadIndex(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), p.n.cfg.RequestTimeout)
	defer cancel()
	idx, err := p.readIndex(ctx, r.URL.Query().Get("forwarded") != "")
	if err != nil {
		writeError(w, err, &api.Error{CurrentLeader: &api.Leader{ID: uint64(p.status().Leader)}})
		return
	}
	writeJSON(w, http.StatusOK, api.ReadIndex{Index: idx, LeaderID: uint64(p.status().Leader)})
}

func (p *proposerRole) readIndex(ctx context.Context, forwarded bool) (uint64, error) {
	for {
		st := p.status()
		switch {
		case st.State == replog.Leader:
			ch := make(chan replog.ReadState, 1)
			var id uint64
			err := p.drv.call(ctx, func() {
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
			if addr, ok := p.n.addressOf(st.Leader); ok {
				var res api.ReadIndex
				actx, cancel := p.n.attempt(ctx)
				err := p.n.getJSON(actx, addr, "/read-index?forwarded=1", &res)
				cancel()
				if err == nil {
					return res.Index, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: no leader confirmed a read index", ErrNoQuorum)
		case <-time.After(p.n.cfg.Tick / 2):
		}
	}
}
