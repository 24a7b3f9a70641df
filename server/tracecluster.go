package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/paxos-go/paxos/replog"

	"github.com/paxos-go/paxos/api"
)

// traceGatherTimeout bounds how long a node waits for the others' traces.
const traceGatherTimeout = time.Second

// gatherTraces asks every node of the topology for GET /trace with query
// q (this node answers from its own ring, reading q as GET /trace would),
// concurrently. A node that does not answer is listed with the error.
func (s *Server) gatherTraces(ctx context.Context, q url.Values) []GatheredTrace {
	local, localErr := parseTraceQuery(q)
	ctx, cancel := context.WithTimeout(ctx, traceGatherTimeout)
	defer cancel()
	peers := s.cfg.Peers()
	out := make([]GatheredTrace, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		out[i].Node = TraceNode{ID: p.ID, Name: p.Name, Role: p.Role}
		if p.ID == s.cfg.ID {
			switch {
			case s.trace == nil:
				out[i].Err = errTraceOff.Error()
			case localErr != nil:
				out[i].Err = localErr.Error()
			default:
				out[i].Asked = traceNow()
				out[i].NodeTrace = s.localTrace(local)
				out[i].Answered = traceNow()
			}
			continue
		}
		addr, ok := s.addressOf(p.ID)
		if !ok {
			out[i].Err = "no address"
			continue
		}
		wg.Go(func() {
			var nt NodeTrace
			asked := traceNow()
			err := s.getJSON(ctx, addr, "/trace?"+q.Encode(), &nt)
			answered := traceNow()
			if err != nil {
				out[i].Err = err.Error()
				return
			}
			out[i] = GatheredTrace{NodeTrace: nt, Asked: asked, Answered: answered}
		})
	}
	wg.Wait()
	return out
}

// handleClusterTrace serves GET /trace/cluster on the monitor port: the
// merged trace of every node (MergedTrace) for ?slot=N (default: the
// latest slot this node saw), or for the last election with
// ?election=true. The status page draws it.
func (s *Server) handleClusterTrace(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, api.Error{Error: "method " + r.Method + " not allowed on /trace/cluster", Allow: "GET, HEAD"})
		return
	}
	merged, err := s.clusterTrace(r.Context(), r.URL.Query())
	if err != nil {
		writeError(w, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, merged)
}

// clusterTrace gathers and merges the trace the query asks for.
func (s *Server) clusterTrace(ctx context.Context, v url.Values) (MergedTrace, error) {
	if election, _ := strconv.ParseBool(v.Get("election")); election {
		traces, b, err := s.electionTraces(ctx)
		if err != nil {
			return MergedTrace{}, err
		}
		m := MergeTraces(ElectionEvents(traces), nil)
		m.Ballot = b
		return m, nil
	}
	var slot uint64
	if sv := v.Get("slot"); sv != "" {
		n, err := strconv.ParseUint(sv, 10, 64)
		if err != nil {
			return MergedTrace{}, fmt.Errorf("%w: slot=%.40q: want a slot number", ErrBadRequest, sv)
		}
		slot = n
	} else if n, ok := s.trace.latestSlot(); ok {
		slot = n
	} else {
		return MergedTrace{}, fmt.Errorf("%w: this node saw no slot yet", ErrNotFound)
	}
	traces := s.gatherTraces(ctx, url.Values{"slot": {strconv.FormatUint(slot, 10)}})
	return MergeTraces(traces, &slot), nil
}

// ElectionFind is the GET /trace query that finds the last election:
// each node's 32 latest promises, sent or received. ElectionBallot reads
// the answers.
func ElectionFind() url.Values {
	return url.Values{"type": {"promise"}, "latest": {"32"}}
}

// electionTraces gathers the events of the last election (ElectionBallot),
// then every node's events at its ballot.
func (s *Server) electionTraces(ctx context.Context) ([]GatheredTrace, replog.Ballot, error) {
	traces := s.gatherTraces(ctx, ElectionFind())
	b, ok := ElectionBallot(traces)
	if !ok {
		return nil, 0, fmt.Errorf("%w: no promise in the traces (no election since the nodes started, or it left the rings)", ErrNotFound)
	}
	traces = s.gatherTraces(ctx, url.Values{"ballot": {strconv.FormatUint(uint64(b), 10)}, "limit": {"400"}})
	return traces, b, nil
}
