// Package client is a Go client for a paxos cluster's replicated log, like
// etcd's clientv3 but small: it appends values to the log over one
// pipelined stream (POST /client/stream, upgraded: many writes in flight on
// one connection, no HTTP request per write), finds the leader, follows it
// when it changes, and retries a write with the same request ID, so that a
// value is chosen at most once whatever fails in between.
//
// Endpoints are the API addresses (host:port) of proposers, or of client
// nodes: a proposer that does not lead answers with the leader's address
// and the client goes there; a client node proposes at the leader itself.
//
//	c, err := client.New(client.Config{Endpoints: []string{"127.0.0.1:3001", "127.0.0.1:3002"}})
//	if err != nil { ... }
//	defer c.Close()
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	slot, requestID, err := c.Put(ctx, "hello")
//
// A Client is safe for concurrent use; concurrent Puts share its stream.
package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paxos-go/paxos/api"
)

// Config configures a Client. Only Endpoints is required.
type Config struct {
	// Endpoints are API addresses (host:port) of proposers or client nodes,
	// tried in order until one serves the stream.
	Endpoints []string
	// Token is the cluster's client token (CLIENT_TOKEN), sent as a bearer
	// token; empty when the cluster has none.
	Token string
	// TLS, when set, is used to dial the endpoints (a cluster with TLS).
	TLS *tls.Config
	// DialTimeout bounds connecting to one endpoint, TLS and upgrade
	// included (0: DefaultDialTimeout).
	DialTimeout time.Duration
	// AttemptTimeout bounds how long a write waits on a connection that
	// brings nothing at all: past it the client leaves that node (hung,
	// paused, cut off) and tries the next one with the same request ID
	// (0: DefaultAttemptTimeout). A node that answers other writes
	// meanwhile is slow, not gone, and is waited for.
	AttemptTimeout time.Duration
	// ClientID is the client_id of the writes (0: the node chooses).
	ClientID uint64
}

// Defaults of Config.
const (
	DefaultDialTimeout    = 2 * time.Second
	DefaultAttemptTimeout = 2 * time.Second
)

// Errors Put returns; compare them with errors.Is. A refusal by a node is a
// *StatusError, which matches the sentinel of its status, or an
// *AlarmError.
var (
	// ErrTimeout: the context ended before the write was confirmed. The
	// write may still be chosen; Put again with the same request ID
	// (WithRequestID) to find out without writing it twice.
	ErrTimeout = errors.New("client: write not confirmed in time")
	// ErrNotLeader: a proposer that does not lead refused the write (a
	// 409). Put handles it (it goes to the leader); it is seen only wrapped
	// in ErrTimeout, when no leader was found in time. It wraps
	// api.ErrNotLeader, the node's meaning of a 409, so errors.Is with
	// either works.
	ErrNotLeader    = fmt.Errorf("client: %w", api.ErrNotLeader)
	ErrBadRequest   = errors.New("client: bad request")
	ErrTooLarge     = errors.New("client: value too large")
	ErrUnauthorized = errors.New("client: unauthorized")
	ErrUnavailable  = errors.New("client: unavailable")
	ErrClosed       = errors.New("client: closed")
	// ErrNoStream: the endpoint serves no client stream (an acceptor or a
	// learner, or a node of a version from before client streams). Put
	// goes on to the next endpoint.
	ErrNoStream      = errors.New("client: the endpoint serves no client stream")
	errNoEndpoints   = errors.New("client: Config.Endpoints is empty")
	statusSentinels  = map[int]error{400: ErrBadRequest, 401: ErrUnauthorized, 409: ErrNotLeader, 413: ErrTooLarge, 503: ErrUnavailable, 504: ErrTimeout}
	retryableByCode  = map[int]bool{409: true, 503: true, 504: true, 500: true}
	requestIDCounter atomic.Uint64
)

// StatusError is a write a node refused: Code is the HTTP status the same
// write gets over HTTP (400, 401, 413, ...).
type StatusError struct {
	Endpoint string
	Code     int
	Message  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.Endpoint, e.Code, e.Message)
}

// Is makes a StatusError match the sentinel of its status (and what that
// sentinel wraps: api.ErrNotLeader for a 409).
func (e *StatusError) Is(target error) bool {
	s, ok := statusSentinels[e.Code]
	return ok && errors.Is(s, target)
}

// AlarmError is a write refused because an alarm is active in the cluster
// (LEARNER_LAG, NOSPACE): no node takes writes until it clears. It matches
// ErrUnavailable.
type AlarmError struct {
	Alarm  string
	Reason string
}

func (e *AlarmError) Error() string { return "alarm " + e.Alarm + ": " + e.Reason }

// Unwrap makes an AlarmError an ErrUnavailable.
func (e *AlarmError) Unwrap() error { return ErrUnavailable }

// Client appends values to the log. Create it with New.
type Client struct {
	cfg    Config
	prefix string // of the request IDs it makes

	dialMu sync.Mutex // one dial at a time
	mu     sync.Mutex
	cur    *conn
	next   int    // the endpoint to dial next
	hint   string // the leader's address, from a proposer that does not lead
	// hung is the endpoint that last left a write unanswered: not dialed
	// again (hinted or in turn) before hungUntil.
	hung      string
	hungUntil time.Time
	closed    bool
}

// New checks cfg and returns a Client. It connects at the first Put.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errNoEndpoints
	}
	for _, e := range cfg.Endpoints {
		if e == "" {
			return nil, fmt.Errorf("client: an empty endpoint in %q", cfg.Endpoints)
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	cfg.Endpoints = append([]string(nil), cfg.Endpoints...)
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Client{cfg: cfg, prefix: "c" + hex.EncodeToString(b[:]) + "-"}, nil
}

// Connect connects now, to the first endpoint that serves the stream (Put
// connects when it needs to): it returns the last endpoint's error when
// none does.
func (c *Client) Connect(ctx context.Context) error {
	var err error
	for range c.cfg.Endpoints {
		if _, err = c.conn(ctx); err == nil || errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// Close closes the stream; Puts still waiting return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cur != nil {
		cur.close(ErrClosed)
	}
	return nil
}

// PutOption changes one Put.
type PutOption func(*putOptions)

type putOptions struct {
	requestID string
	clientID  uint64
}

// WithRequestID sets the write's request ID (at most 256 bytes). A write
// with the ID of a write already chosen is not chosen again: Put returns
// the slot of the first one. Without it, Put makes an ID unique to this
// Client.
func WithRequestID(id string) PutOption { return func(o *putOptions) { o.requestID = id } }

// WithClientID sets the write's client_id (instead of Config.ClientID).
func WithClientID(id uint64) PutOption { return func(o *putOptions) { o.clientID = id } }

// Put appends value to the log and returns the slot where it was chosen and
// its request ID. It retries (same request ID) across broken connections
// and leader changes until ctx ends, then returns an error matching
// ErrTimeout. Refusals that no retry changes come back at once: a
// *StatusError (ErrBadRequest, ErrTooLarge, ErrUnauthorized) or an
// *AlarmError.
func (c *Client) Put(ctx context.Context, value string, opts ...PutOption) (slot uint64, requestID string, err error) {
	r, err := c.Propose(ctx, value, opts...)
	return r.Slot, r.RequestID, err
}

// Result is the answer to a write that was chosen.
type Result struct {
	Slot           uint64
	RequestID      string
	ProposerID     uint64 // the leader that chose it
	ProposalNumber uint64 // its ballot
}

// Propose is Put with the whole answer; on an error, Result holds the
// request ID only.
func (c *Client) Propose(ctx context.Context, value string, opts ...PutOption) (Result, error) {
	o := putOptions{clientID: c.cfg.ClientID}
	for _, f := range opts {
		f(&o)
	}
	if o.requestID == "" {
		o.requestID = c.prefix + strconv.FormatUint(requestIDCounter.Add(1), 10)
	}
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleep(ctx, backoff(attempt)) {
			return Result{RequestID: o.requestID}, timeoutError(ctx, o.requestID, last)
		}
		cn, err := c.conn(ctx)
		if err != nil {
			if errors.Is(err, ErrClosed) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrBadRequest) {
				return Result{RequestID: o.requestID}, err
			}
			if last = err; ctx.Err() != nil {
				return Result{RequestID: o.requestID}, timeoutError(ctx, o.requestID, last)
			}
			continue
		}
		resp, err := cn.do(ctx, c.cfg.AttemptTimeout, value, o.clientID, o.requestID)
		if ctx.Err() != nil {
			return Result{RequestID: o.requestID}, timeoutError(ctx, o.requestID, cmpOr(err, last))
		}
		if errors.Is(err, errSilent) {
			last = fmt.Errorf("%w: %s answered nothing for %s", ErrUnavailable, cn.addr, c.cfg.AttemptTimeout)
			c.retire(cn)
			continue
		}
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return Result{RequestID: o.requestID}, err
			}
			last = err
			c.drop(cn, "")
			continue
		}
		switch {
		case resp.Code == 200:
			return Result{Slot: resp.Slot, RequestID: resp.RequestID, ProposerID: resp.ProposerID, ProposalNumber: resp.ProposalNumber}, nil
		case resp.Alarm != "":
			return Result{RequestID: o.requestID}, &AlarmError{Alarm: resp.Alarm, Reason: resp.Error}
		}
		last = &StatusError{Endpoint: cn.addr, Code: resp.Code, Message: resp.Error}
		if !retryableByCode[resp.Code] {
			return Result{RequestID: o.requestID}, last
		}
		if resp.Code == 409 || resp.Code == 503 {
			// Not the leader, or shutting down: go elsewhere (to the
			// leader, when the answer names it).
			c.drop(cn, resp.LeaderAddr)
		}
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// timeoutError is ErrTimeout for request id, with ctx's error and the last
// failure.
func timeoutError(ctx context.Context, id string, last error) error {
	if last == nil {
		return fmt.Errorf("%w (request_id %s): %w", ErrTimeout, id, ctx.Err())
	}
	return fmt.Errorf("%w (request_id %s): %w; last: %w", ErrTimeout, id, ctx.Err(), last)
}

// backoff is the wait before attempt (1, 2, ...): 20 ms more each time, up
// to 200 ms; none before the first retry, which a broken connection or a
// redirect asks for.
func backoff(attempt int) time.Duration {
	return time.Duration(min(attempt-1, 10)) * 20 * time.Millisecond
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// conn returns the open stream, or dials the next endpoint.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	c.mu.Lock()
	addr := c.hint
	avoid := ""
	if time.Now().Before(c.hungUntil) {
		avoid = c.hung
	}
	if addr == "" || addr == avoid {
		addr = c.cfg.Endpoints[c.next%len(c.cfg.Endpoints)]
		if addr == avoid && len(c.cfg.Endpoints) > 1 {
			c.next++
			addr = c.cfg.Endpoints[c.next%len(c.cfg.Endpoints)]
		}
	}
	c.hint = ""
	c.mu.Unlock()
	cn, err := dial(ctx, addr, c.cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.next++
		return nil, err
	}
	if c.closed {
		cn.close(ErrClosed)
		return nil, ErrClosed
	}
	c.cur = cn
	return cn, nil
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur != nil && c.cur.alive() {
		return c.cur, nil
	}
	return nil, nil
}

// retire stops sending on cn, which left a write unanswered for an
// AttemptTimeout: the next writes go to the next endpoint, and cn's own
// endpoint is avoided for an AttemptTimeout. The writes still waiting on cn
// have their own attempts to finish; cn closes after that.
func (c *Client) retire(cn *conn) {
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
		c.next++
		c.hung, c.hungUntil = cn.addr, time.Now().Add(c.cfg.AttemptTimeout)
	}
	c.mu.Unlock()
	time.AfterFunc(c.cfg.AttemptTimeout, func() {
		cn.close(fmt.Errorf("%w: %s: left after a write went unanswered", ErrUnavailable, cn.addr))
	})
}

// drop stops using cn: the next Put dials leader when given, else the
// next endpoint.
func (c *Client) drop(cn *conn, leader string) {
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
		c.hint = leader
		if leader == "" {
			c.next++
		}
	}
	c.mu.Unlock()
	cn.close(fmt.Errorf("%w: %s: left for another endpoint", ErrUnavailable, cn.addr))
}
