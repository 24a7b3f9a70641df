package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
)

// node is what a node's parts share: its configuration, logger, metrics,
// trace, TLS, the address book, the HTTP client to other nodes and the
// gossip agent. New builds it once and gives it to the role's constructor
// (newProposerRole, ...); a role reaches the rest of the node only through
// it, never through *Server.
type node struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	metrics *metrics
	trace   *traceRing  // recent protocol events (trace.go); nil with NoTrace
	tls     *nodeTLS    // nil: plain HTTP (tls.go)
	warns   *logLimiter // faults of peers, logged once per warnEvery

	// gossip is set by Serve before the API is served; nil until then
	// and in tests that run no gossip.
	gossip *gossip.Agent

	// httpClient is for node-to-node API calls (forwarding, reads).
	httpClient *http.Client

	addrMu sync.RWMutex
	addrs  map[replog.ID]string // API address book: static, refreshed by gossip
	// roles maps every node of the static topology to its role.
	roles map[replog.ID]Role

	// taps route replies addressed to a pseudo node ID back to the HTTP
	// handler that asked (the seed's synchronous /prepare and /accept).
	taps   sync.Map // replog.ID → chan replog.Message
	tapSeq atomic.Uint64
}

// scheme is the scheme of every node's API (and monitor port): https with
// TLS.
func (n *node) scheme() string {
	if n.tls != nil {
		return "https"
	}
	return "http"
}

// warnPeer logs a fault of node peer at Warn level, once per warnEvery for
// each peer and kind of fault.
func (n *node) warnPeer(peer replog.ID, kind, msg string, args ...any) {
	n.warns.warn(n.log, kind+" "+strconv.FormatUint(uint64(peer), 10), msg, append([]any{"peer", peer}, args...)...)
}

// addressOf returns the API address of node id.
func (n *node) addressOf(id replog.ID) (string, bool) {
	n.addrMu.RLock()
	defer n.addrMu.RUnlock()
	a, ok := n.addrs[id]
	return a, ok
}

// tapBase is the first pseudo node ID used for taps.
const tapBase = 1 << 20

// tapTransport delivers messages addressed to a tap to the waiting handler
// and everything else through the real transport.
type tapTransport struct {
	n    *node
	next Transport
}

func newTapTransport(n *node, next Transport) *tapTransport { return &tapTransport{n: n, next: next} }

func (t *tapTransport) Send(msgs []replog.Message) {
	var out []replog.Message
	for _, m := range msgs {
		if m.To >= tapBase {
			if ch, ok := t.n.taps.Load(m.To); ok {
				select {
				case ch.(chan replog.Message) <- m:
				default:
				}
			}
			continue
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		t.next.Send(out)
	}
}

func (t *tapTransport) Close() { t.next.Close() }

// tap returns a pseudo node ID whose replies arrive on the channel, and a
// function to release it.
func (n *node) tap() (replog.ID, chan replog.Message, func()) {
	id := replog.ID(tapBase + n.tapSeq.Add(1))
	ch := make(chan replog.Message, 4)
	n.taps.Store(id, ch)
	return id, ch, func() { n.taps.Delete(id) }
}

// authorized checks the bearer token against the allowed secrets (none set:
// open).
func authorized(r *http.Request, secrets ...string) bool {
	open := true
	got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for _, want := range secrets {
		if want == "" {
			continue
		}
		open = false
		if bearer && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			return true
		}
	}
	return open
}

// internal wraps an internal endpoint: it demands the cluster secret, when
// set, and with TLS a client certificate signed by the trusted CA (the
// handshake checked it). Endpoints where a node speaks for itself check
// which node the certificate names (peerIdentity).
func (n *node) internal(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if !authorized(r, n.cfg.Secret) {
			writeError(w, fmt.Errorf("%w: this endpoint needs the cluster secret (Authorization: Bearer ...)", ErrUnauthorized), nil)
			return
		}
		if n.tls != nil && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) {
			n.warns.warn(n.log, "tls-nocert", "refused an internal request without a TLS client certificate",
				"remote", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, fmt.Errorf("%w: %s needs a TLS client certificate signed by the cluster's CA", ErrUnauthorized, r.URL.Path), nil)
			return
		}
		h(w, r, ps)
	}
}

// writes wraps a write endpoint: it demands the client token (or the cluster
// secret, for forwarded writes) when a client token is set.
func (n *node) writes(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if n.cfg.ClientToken != "" && !authorized(r, n.cfg.ClientToken, n.cfg.Secret) {
			writeError(w, fmt.Errorf("%w: writes need the client token (Authorization: Bearer ...)", ErrUnauthorized), nil)
			return
		}
		h(w, r, ps)
	}
}

// attempt bounds one try at one node within a request's deadline, so a
// node that hangs (paused, cut off) costs a fraction of the deadline and
// the next node still gets its turn.
func (n *node) attempt(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.attemptTimeout())
}

// attemptTimeout is how long one try at one node may take (attempt).
func (n *node) attemptTimeout() time.Duration {
	return min(max(n.cfg.RequestTimeout/4, 250*time.Millisecond), 2*time.Second)
}

// postJSON posts body to addr+path (s.scheme) and decodes a 200 answer into out.
// A non-200 answer becomes an error with the matching sentinel.
func (n *node) postJSON(ctx context.Context, addr, path string, body []byte, headers map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.scheme()+"://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return n.doJSON(req, out)
}

// getJSON gets addr+path and decodes a 200 answer into out.
func (n *node) getJSON(ctx context.Context, addr, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.scheme()+"://"+addr+path, nil)
	if err != nil {
		return err
	}
	return n.doJSON(req, out)
}

func (n *node) doJSON(req *http.Request, out any) error {
	if n.cfg.Secret != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+n.cfg.Secret)
	}
	resp, err := n.httpClient.Do(req)
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
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if e.Alarm != "" && resp.StatusCode == http.StatusServiceUnavailable {
			return &AlarmError{Alarm: e.Alarm, Reason: e.Error}
		}
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
func (n *node) valueBodyLimit() int64 { return int64(n.cfg.MaxValueBytes)*6 + 64<<10 }

// command validates a client value and builds the command (SPEC §4: values
// are non-empty UTF-8 strings up to MaxValueBytes; decodeJSON refused
// invalid UTF-8). The exact value force_election cannot be stored: /propose
// takes it as an election request.
func (n *node) command(value *string, clientID uint64, requestID string) (replog.Command, error) {
	if value == nil {
		return replog.Command{}, fmt.Errorf("%w: field \"value\" is required", ErrBadRequest)
	}
	v := *value
	switch {
	case v == "":
		return replog.Command{}, fmt.Errorf("%w: field \"value\" must not be empty", ErrBadRequest)
	case v == "force_election":
		return replog.Command{}, fmt.Errorf("%w: the value \"force_election\" is reserved: POST it to a proposer's /propose to start an election", ErrBadRequest)
	case len(v) > n.cfg.MaxValueBytes:
		return replog.Command{}, fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrTooLarge, len(v), n.cfg.MaxValueBytes)
	}
	if err := checkRequestID(requestID); err != nil {
		return replog.Command{}, err
	}
	if requestID == "" {
		requestID = n.newRequestID()
	}
	if clientID == 0 {
		clientID = uint64(n.cfg.ID)
	}
	return replog.Command{ClientID: clientID, RequestID: requestID, Value: v}, nil
}

// newRequestID makes a cluster-unique request ID: node, start time, counter.
func (n *node) newRequestID() string {
	return strconv.FormatUint(uint64(n.cfg.ID), 10) + "-" + strconv.FormatInt(n.started.UnixNano(), 36) + "-" +
		strconv.FormatUint(n.tapSeq.Add(1), 10)
}
