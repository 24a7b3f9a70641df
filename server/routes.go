package server

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// maxMessagesBody bounds one batch of internal messages in the binary
// encoding (the transport posts at most 16 MiB plus one message); JSON
// batches, for curl, get maxJSONMessagesBody: decoded JSON takes far more
// memory than its text.
const (
	maxMessagesBody     = 32 << 20
	maxJSONMessagesBody = 1 << 20
)

// roleRoutes lists, per role, the endpoints only that role serves, so a
// request to the wrong role gets a 404 that says where to go.
var roleRoutes = map[Role][][2]string{
	RoleProposer: {{"POST", "/propose"}, {"POST", batchPath}, {"GET", "/status"}, {"GET", "/read-index"}},
	RoleAcceptor: {{"POST", "/prepare"}, {"POST", "/accept"}},
	RoleLearner:  {{"POST", "/learn"}, {"GET", "/get-values"}},
	RoleClient:   {{"POST", "/send"}, {"GET", "/read"}, {"POST", "/notify"}, {"GET", "/get-responses"}},
}

func (s *Server) routes() *httprouter.Router {
	r := httprouter.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, fmt.Errorf("%w: no endpoint %s on this %s", ErrNotFound, req.URL.Path, s.cfg.Role), nil)
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
			"error": fmt.Sprintf("method %s not allowed on %s", req.Method, req.URL.Path), "allow": w.Header().Get("Allow")})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.log.Error("handler panic", "path", req.URL.Path, "panic", v)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
	}

	r.GET("/health", s.handleHealth)
	r.GET("/view-logs", s.handleViewLogs)
	r.GET("/gossip/nodes", s.gossipNodes)
	r.POST("/gossip", s.internal(s.gossipPush))
	r.POST(messagesPath, s.internal(s.handleMessages))
	r.POST(streamPath, s.internal(s.handleStream))

	switch {
	case s.proposer != nil:
		s.proposer.routes(r)
	case s.acceptor != nil:
		s.acceptor.routes(r)
	case s.learner != nil:
		s.learner.routes(r)
	case s.client != nil:
		s.client.routes(r)
	}
	// HEAD works wherever GET does (health checkers use it).
	for _, path := range []string{"/health", "/view-logs", "/gossip/nodes", "/status", "/get-values", "/read", "/get-responses"} {
		if h, _, _ := r.Lookup(http.MethodGet, path); h != nil {
			r.Handle(http.MethodHead, path, h)
		}
	}
	for role, routes := range roleRoutes {
		if role == s.cfg.Role {
			continue
		}
		for _, rt := range routes {
			if h, _, _ := r.Lookup(rt[0], rt[1]); h != nil {
				continue
			}
			role, path := role, rt[1]
			r.Handle(rt[0], path, func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
				writeError(w, fmt.Errorf("%w: %s is served by %ss; this node is a %s", ErrWrongRole, path, role, s.cfg.Role), nil)
			})
		}
	}
	return r
}

func (s *Server) gossipNodes(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if s.gossip == nil {
		writeError(w, fmt.Errorf("%w: gossip not started", ErrUnavailable), nil)
		return
	}
	GossipNodesHandler(s.gossip)(w, r, ps)
}

func (s *Server) gossipPush(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if s.gossip == nil {
		writeError(w, fmt.Errorf("%w: gossip not started", ErrUnavailable), nil)
		return
	}
	GossipPushHandler(s.gossip)(w, r, ps)
}

// identity is the part of every status answer that names the node.
func (s *Server) identity() map[string]any {
	return map[string]any{"id": s.cfg.ID, "name": s.cfg.Name, "role": s.cfg.Role}
}

func (s *Server) healthErr() error {
	if s.drv != nil {
		return s.drv.err()
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	body := s.identity()
	body["uptime_seconds"] = int64(time.Since(s.started).Seconds())
	if err := s.healthErr(); err != nil {
		body["status"], body["error"] = "unhealthy", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "healthy"
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleViewLogs(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body := s.view()
	body["logs"] = s.ring.Lines()
	writeJSON(w, http.StatusOK, body)
}

// view is this node's role state plus its identity: the body of /view-logs
// (without the log lines), /status and the status page.
func (s *Server) view() map[string]any {
	var body map[string]any
	switch {
	case s.proposer != nil:
		body = s.proposer.view()
	case s.acceptor != nil:
		body = s.acceptor.view()
	case s.learner != nil:
		body = s.learner.view()
	default:
		body = s.client.view()
	}
	for k, v := range s.identity() {
		body[k] = v
	}
	return body
}

// handleMessages takes a batch of protocol messages from another node.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	msgs, err := decodeMessages(w, r)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	if err := s.deliver(msgs); err != nil {
		writeError(w, err, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxWireBallot bounds ballots between nodes. It sits far above maxBallot
// (what the seed endpoints take from users), so proposers pushed up to
// maxBallot still have 2^62/100 rounds left before they reach it.
const maxWireBallot = math.MaxUint64 - 1<<62

// validMessage checks what the handler can check of a message before the
// state machine sees it: a known type, for this node, from a node of the
// topology, with a ballot far from wrapping (round*100+id must stay in a
// uint64, or one forged promise would stop every proposer for good).
func (s *Server) validMessage(m replog.Message) error {
	switch {
	case m.Type < replog.MsgPrepare || m.Type > replog.MsgHeartbeat:
		return fmt.Errorf("%w: unknown message type %d", ErrBadRequest, m.Type)
	case m.To != s.cfg.ID:
		return fmt.Errorf("%w: message for node %d delivered to node %d", ErrBadRequest, m.To, s.cfg.ID)
	case m.Ballot > maxWireBallot:
		return fmt.Errorf("%w: ballot %d is above the largest allowed (%d)", ErrBadRequest, m.Ballot, uint64(maxWireBallot))
	}
	if _, ok := s.cfg.Peer(m.From); !ok {
		return fmt.Errorf("%w: message from node %d, which is not in the topology", ErrBadRequest, m.From)
	}
	return nil
}

// decodeMessages reads a batch in the binary encoding (between nodes) or
// as a JSON array (for curl).
func decodeMessages(w http.ResponseWriter, r *http.Request) ([]replog.Message, error) {
	if r.Header.Get("Content-Type") != binaryContentType {
		var msgs []replog.Message
		err := decodeJSON(w, r, maxJSONMessagesBody, &msgs)
		return msgs, err
	}
	if r.ContentLength > maxMessagesBody {
		return nil, fmt.Errorf("%w: body of %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, maxMessagesBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessagesBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: body larger than %d bytes", ErrTooLarge, maxMessagesBody)
		}
		return nil, fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
	}
	msgs, err := decodeBatch(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return msgs, nil
}

// monitorHandler serves the monitor port: metrics, pprof, the status page.
func (s *Server) monitorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// No /debug/pprof/cmdline: the command line may hold --secret.
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/status.json", s.statusJSON)
	mux.HandleFunc("/", s.handleStatusPage)
	return mux
}
