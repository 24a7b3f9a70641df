package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"

	"github.com/paxos-go/paxos/api"
)

// readyProbeTimeout bounds each /health call a client node makes to find a
// reachable proposer and learner for GET /ready: readiness probes of
// orchestrators give up after a second or so.
const readyProbeTimeout = 500 * time.Millisecond

// handleReady is GET /ready (SPEC §9 Readiness): 200 {"status":"ready"}
// when the node can serve its role now, 503 {"status":"not ready",
// "error":...} saying why otherwise. /health answers whether the process is
// alive; /ready whether traffic and rollouts may count on it.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	id := s.identity()
	body := api.Ready{ID: id.ID, Name: id.Name, Role: id.Role, Status: "ready"}
	if err := s.readyErr(r.Context()); err != nil {
		body.Status, body.Error = "not ready", err.Error()
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// readyErr says why this node cannot serve its role now; nil when it can.
//   - proposer: it knows a leader (itself or another) and raises no alarm;
//   - acceptor: its storage is open and working, and it votes (an acceptor
//     rejoining after empty storage does not, replog.Acceptor.Voting);
//   - learner: an acceptor or learner told it about the chosen log since
//     it started, and its log reached the chosen slot it last heard of;
//   - client: a proposer and a learner answer /health.
//
// A node whose storage failed, or that is paused on a full disk or
// shutting down, is never ready.
func (s *Server) readyErr(ctx context.Context) error {
	if err := s.healthErr(); err != nil {
		return err
	}
	return s.role.readyErr(ctx)
}

func (p *proposerRole) readyErr(context.Context) error {
	if as := p.alarms(); len(as) > 0 {
		return fmt.Errorf("alarm %s: %s", as[0].Alarm, as[0].Reason)
	}
	if st := p.status(); st.Leader == replog.None {
		return errors.New("no leader known (an election is under way or no quorum of acceptors answers)")
	}
	return nil
}

func (a *acceptorRole) readyErr(context.Context) error {
	if !a.voting.Load() {
		return errors.New("rejoining after empty storage: not voting until the rejoin rule allows (a quorum of acceptors answered and the chosen log passed what they had accepted)")
	}
	return nil
}

func (l *learnerRole) readyErr(context.Context) error {
	if !l.heard.Load() {
		return errors.New("catching up: no acceptor or learner has answered since it started, so it cannot know the chosen slot")
	}
	if gaps := l.gaps.Load(); gaps > 0 {
		return fmt.Errorf("catching up: %d slots behind the chosen slot it last heard of", gaps)
	}
	return nil
}

func (c *clientRole) readyErr(ctx context.Context) error {
	var learners []string
	for _, p := range c.n.cfg.Learners {
		if a, ok := c.n.addressOf(p.ID); ok {
			learners = append(learners, a)
		}
	}
	for _, set := range []struct {
		role  Role
		addrs []string
	}{{RoleProposer, c.n.proposerOrder(c.knownLeader())}, {RoleLearner, learners}} {
		if err := c.n.anyAnswers(ctx, set.addrs); err != nil {
			return fmt.Errorf("no reachable %s: %w", set.role, err)
		}
	}
	return nil
}

// anyAnswers returns nil as soon as one of addrs answers GET /health with
// 200 (it asks them all at once, each for at most readyProbeTimeout);
// otherwise the errors, joined in one line.
func (n *node) anyAnswers(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("none configured")
	}
	ctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
	defer cancel()
	errc := make(chan error, len(addrs))
	for _, addr := range addrs {
		go func() {
			var out api.Health
			if err := n.getJSON(ctx, addr, "/health", &out); err != nil {
				errc <- fmt.Errorf("%s: %w", addr, err)
				return
			}
			errc <- nil
		}()
	}
	var errs []string
	for range addrs {
		err := <-errc
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
	}
	return errors.New(strings.Join(errs, "; "))
}
