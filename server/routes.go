package server

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

// maxJSONMessagesBody bounds one batch of internal messages in JSON, for
// curl: decoded JSON takes far more memory than its text. A binary batch
// may take maxFrameBytes.
const maxJSONMessagesBody = 1 << 20

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
		writeJSON(w, http.StatusMethodNotAllowed, api.Error{
			Error: fmt.Sprintf("method %s not allowed on %s", req.Method, req.URL.Path), Allow: w.Header().Get("Allow")})
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.log.Error("handler panic", "path", req.URL.Path, "panic", v)
		writeJSON(w, http.StatusInternalServerError, api.Error{Error: "internal error"})
	}

	r.GET("/health", s.handleHealth)
	r.GET("/ready", s.handleReady)
	r.GET("/view-logs", s.handleViewLogs)
	r.GET("/gossip/nodes", s.gossipNodes)
	r.POST("/gossip", s.internal(s.gossipPush))
	r.GET(gossipKeysPath, s.internal(s.handleGossipKeys))
	r.POST(gossipKeysPath, s.internal(s.changeGossipKey))
	r.POST(messagesPath, s.internal(s.handleMessages))
	r.POST(streamPath, s.internal(s.handleStream))
	// The trace on the API port too, for nodes that gather the cluster's
	// (GET /trace/cluster on the monitor port) and for paxosctl when a
	// monitor port is out of reach.
	r.GET("/trace", s.internal(func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { s.handleTrace(w, r) }))
	// The metrics history too, for GET /stats/cluster on the monitor port.
	r.GET("/stats/history", s.internal(func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { s.handleHistory(w, r) }))

	s.role.routes(r, nodeRoutes{
		view: func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
			writeJSON(w, http.StatusOK, s.view())
		},
		clientStream: s.handleClientStream,
	})
	// HEAD works wherever GET does (health checkers use it).
	for _, path := range []string{"/health", "/ready", "/view-logs", "/gossip/nodes", "/status", "/get-values", "/read", "/get-responses"} {
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

// identity is the part of every view that names the node, without its
// alarms.
func (s *Server) identity() api.Node {
	return api.Node{ID: uint64(s.cfg.ID), Name: s.cfg.Name, Role: string(s.cfg.Role)}
}

func (s *Server) healthErr() error {
	if s.drv != nil {
		return s.drv.err()
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	id := s.identity()
	body := api.Health{ID: id.ID, Name: id.Name, Role: id.Role, Status: "healthy",
		UptimeSeconds: int64(time.Since(s.started).Seconds()), Alarms: s.ownAlarms()}
	if err := s.healthErr(); err != nil {
		body.Status, body.Error = "unhealthy", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleViewLogs(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body := s.view()
	if body.Common().Logs = s.ring.Lines(); body.Common().Logs == nil {
		body.Common().Logs = []string{} // "logs":[], not omitted
	}
	writeJSON(w, http.StatusOK, body)
}

// view is a role's state (an *api.ProposerView, *api.AcceptorView,
// *api.LearnerView or *api.ClientView) with the part every view shares.
type view interface{ Common() *api.Node }

// view is this node's role state plus its identity: the body of /view-logs
// (without the log lines), /status and the status page.
func (s *Server) view() view {
	body := s.role.view()
	n := body.Common()
	*n = s.identity()
	if n.Alarms = s.alarms(); n.Alarms == nil {
		n.Alarms = []api.Alarm{}
	}
	return body
}

// handleMessages takes a batch of protocol messages from another node,
// which names itself (peerIdentity).
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	from, err := s.peerIdentity(r)
	if err != nil {
		s.warnPeer(replog.None, "identity", "refused a message batch", "remote", r.RemoteAddr, "err", err)
		writeError(w, err, nil)
		return
	}
	msgs, err := decodeMessages(w, r)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	if err := s.deliver(from, msgs); err != nil {
		if errors.Is(err, ErrBadRequest) {
			s.warnPeer(from, "messages", "refused a message batch", "remote", r.RemoteAddr, "err", err)
		}
		writeError(w, err, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fromHeader names the node that sends the messages of a request to
// /paxos/messages or /paxos/stream: its NODE_ID.
const fromHeader = "Paxos-From"

// peerIdentity returns the node that sent r, a request to a protocol
// endpoint (/paxos/messages, /paxos/stream); every message that comes with
// r must be from it (deliver). With TLS it is the node that the verified
// client certificate names (URI SAN paxos://node/ID; none is
// ErrUnauthorized), and a Paxos-From header, which may then be left out,
// must name that node too. Without TLS it is the Paxos-From header, a claim
// that only the cluster secret (when set) stands behind. A missing,
// repeated or malformed header, or a node not in the topology, is
// ErrBadRequest.
func (n *node) peerIdentity(r *http.Request) (replog.ID, error) {
	vs := r.Header.Values(fromHeader)
	if n.tls != nil {
		id, err := tlsPeer(r)
		if err != nil {
			return replog.None, err
		}
		if _, ok := n.roles[id]; !ok {
			return replog.None, fmt.Errorf("%w: the TLS client certificate names node %d, which is not in the topology", ErrBadRequest, id)
		}
		if len(vs) > 1 || len(vs) == 1 && vs[0] != strconv.FormatUint(uint64(id), 10) {
			return replog.None, fmt.Errorf("%w: %s %.40q, but the TLS client certificate is node %d's", ErrBadRequest, fromHeader, vs, id)
		}
		return id, nil
	}
	if len(vs) != 1 {
		return replog.None, fmt.Errorf("%w: want one %s header naming the sending node (its NODE_ID), got %d", ErrBadRequest, fromHeader, len(vs))
	}
	v, err := strconv.ParseUint(vs[0], 10, 64)
	if err != nil || v == 0 {
		return replog.None, fmt.Errorf("%w: %s: %.40q is not a node ID", ErrBadRequest, fromHeader, vs[0])
	}
	id := replog.ID(v)
	if _, ok := n.roles[id]; !ok {
		return replog.None, fmt.Errorf("%w: %s: node %d is not in the topology", ErrBadRequest, fromHeader, id)
	}
	return id, nil
}

// callerIs checks, with TLS, that r comes from node id: the seed's JSON
// endpoints name the node they speak for in their body (field: proposer_id,
// acceptor_id), and only that node's certificate may say so. Without TLS
// nothing proves who calls, and it returns nil.
func (n *node) callerIs(r *http.Request, id replog.ID, field string) error {
	if n.tls == nil {
		return nil
	}
	from, err := n.peerIdentity(r)
	if err == nil && from != id {
		err = fmt.Errorf("%w: %s is %d, but the TLS client certificate is node %d's", ErrBadRequest, field, id, from)
	}
	if err != nil {
		n.warnPeer(from, "identity", "refused a request that speaks for another node", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
	}
	return err
}

// maxWireBallot bounds ballots between nodes. It sits far above maxBallot
// (what the seed endpoints take from users), so proposers pushed up to
// maxBallot still have 2^62/100 rounds left before they reach it.
const maxWireBallot = math.MaxUint64 - 1<<62

// senderRoles lists, per message type, the roles whose nodes send it (see
// replog/types.go and the sends in replog/*.go). A message from a node of
// another role is refused before a core sees it: only configured acceptors
// vote (promises, accepted replies, nacks, learn notices: SPEC §3), only
// proposers prepare, accept and heartbeat, only learners announce chosen
// entries.
var senderRoles = map[replog.MsgType][]Role{
	replog.MsgPrepare:   {RoleProposer},
	replog.MsgPromise:   {RoleAcceptor},
	replog.MsgAccept:    {RoleProposer},
	replog.MsgAccepted:  {RoleAcceptor},
	replog.MsgNack:      {RoleAcceptor},
	replog.MsgLearn:     {RoleAcceptor},
	replog.MsgChosen:    {RoleLearner},
	replog.MsgCatchup:   {RoleLearner, RoleProposer},
	replog.MsgHeartbeat: {RoleProposer},
	// The rejoin rule: an acceptor with empty storage asks the others.
	replog.MsgRejoin:      {RoleAcceptor},
	replog.MsgRejoinState: {RoleAcceptor, RoleProposer},
}

// validMessage checks what the handler can check of a message before the
// state machine sees it: a known type, for this node, from a node of the
// topology whose role sends that type (senderRoles), with a ballot far from
// wrapping (round*100+id must stay in a uint64, or one forged promise would
// stop every proposer for good), and request IDs within MaxRequestIDBytes.
func (s *Server) validMessage(m replog.Message) error {
	switch {
	case m.Type < replog.MsgPrepare || m.Type > replog.MaxMsgType:
		return fmt.Errorf("%w: unknown message type %d", ErrBadRequest, m.Type)
	case m.To != s.cfg.ID:
		return fmt.Errorf("%w: message for node %d delivered to node %d", ErrBadRequest, m.To, s.cfg.ID)
	case m.Ballot > maxWireBallot:
		return fmt.Errorf("%w: ballot %d is above the largest allowed (%d)", ErrBadRequest, m.Ballot, uint64(maxWireBallot))
	}
	role, ok := s.roles[m.From]
	if !ok {
		return fmt.Errorf("%w: message from node %d, which is not in the topology", ErrBadRequest, m.From)
	}
	if !slices.Contains(senderRoles[m.Type], role) {
		return fmt.Errorf("%w: a %s from node %d, a %s: only %v send it", ErrBadRequest, m.Type, m.From, role, senderRoles[m.Type])
	}
	for _, e := range m.Entries {
		if len(e.Command.RequestID) > MaxRequestIDBytes {
			return fmt.Errorf("%w: %s for slot %d has a request ID of %d bytes, the limit is %d",
				ErrBadRequest, m.Type, e.Slot, len(e.Command.RequestID), MaxRequestIDBytes)
		}
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
	if r.ContentLength > maxFrameBytes {
		return nil, fmt.Errorf("%w: body of %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, maxFrameBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFrameBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: body larger than %d bytes", ErrTooLarge, maxFrameBytes)
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
// pprof and the trace need the cluster secret from any address but
// loopback (debugOnly).
func (s *Server) monitorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/debug/pprof/", s.debugOnly(pprof.Index))
	// No /debug/pprof/cmdline: the command line may hold --secret.
	mux.HandleFunc("/debug/pprof/profile", s.debugOnly(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", s.debugOnly(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", s.debugOnly(pprof.Trace))
	mux.HandleFunc("/status.json", s.statusJSON)
	mux.HandleFunc("/trace", s.traceOnly(s.handleTrace))
	mux.HandleFunc("/trace/cluster", s.traceOnly(s.handleClusterTrace))
	mux.HandleFunc("/stats/history", s.handleHistory)
	mux.HandleFunc("/stats/cluster", s.handleClusterHistory)
	mux.HandleFunc("/", s.handleStatusPage)
	return mux
}

// debugOnly guards what tells more than the status page (profiles, the
// protocol's recent messages): from a loopback address anyone may ask;
// from any other the cluster secret, when set, is the bearer token.
func (s *Server) debugOnly(h http.HandlerFunc) http.HandlerFunc {
	return s.guardDebug(h, nil)
}

// traceOnly is debugOnly for the trace, which callers from the networks of
// TraceAllowFrom may also read without the secret: in Compose the status
// page opened on the host asks through the bridge's gateway, not loopback.
func (s *Server) traceOnly(h http.HandlerFunc) http.HandlerFunc {
	return s.guardDebug(h, s.cfg.TraceAllowFrom)
}

func (s *Server) guardDebug(h http.HandlerFunc, allow []netip.Prefix) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !isLoopback(r.RemoteAddr) && !inPrefixes(r.RemoteAddr, allow) && !authorized(r, s.cfg.Secret) {
			s.warns.warn(s.log, "debug-noauth", "refused a debug request from a non-loopback address without the cluster secret",
				"remote", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, fmt.Errorf("%w: %s from %s needs the cluster secret (Authorization: Bearer ...); from 127.0.0.1 it does not; paxosctl trace sends it",
				ErrUnauthorized, r.URL.Path, hostOf(r.RemoteAddr)), nil)
			return
		}
		h(w, r)
	}
}

// inPrefixes reports whether a request's remote host:port is in one of
// the networks.
func inPrefixes(remote string, nets []netip.Prefix) bool {
	ip, err := netip.ParseAddr(hostOf(remote))
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// isLoopback reports whether a request's remote host:port is a loopback
// address.
func isLoopback(remote string) bool {
	ip := net.ParseIP(hostOf(remote))
	return ip != nil && ip.IsLoopback()
}
