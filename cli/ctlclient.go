package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/server"
)

// ctlClient is paxosctl's HTTP client of a cluster: one shared transport,
// a per-request timeout, the bearer tokens, and discovery of the nodes
// behind the endpoints. It is safe for concurrent use.
type ctlClient struct {
	endpoints []string // host:port, in the order given
	// named is set when the user named the endpoints (--endpoints or
	// PAXOSCTL_ENDPOINTS): then nothing but them and what their gossip
	// lists is ever asked, never the standard ports (SPEC §9).
	named   bool
	timeout time.Duration
	secret  string // cluster secret: bearer token of internal endpoints
	token   string // client token: bearer token of writes
	hc      *http.Client
	scheme  string // http, or https (useTLS)
}

// useTLS makes the client speak https with cfg.
func (c *ctlClient) useTLS(cfg *tls.Config) {
	c.scheme = "https"
	c.hc.Transport.(*http.Transport).TLSClientConfig = cfg
}

// newCtlClient returns a client of endpoints. conns is the number of
// requests the caller may run at once (bench's --clients); the transport
// keeps that many idle connections per node.
func newCtlClient(endpoints []string, timeout time.Duration, secret, token string, conns int) *ctlClient {
	dial := &net.Dialer{Timeout: min(timeout, 2*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		// Nodes are reached directly, never through a proxy of the environment.
		Proxy:               nil,
		DialContext:         dial.DialContext,
		MaxIdleConns:        0, // no global cap; MaxIdleConnsPerHost bounds it
		MaxIdleConnsPerHost: max(conns, 16),
		IdleConnTimeout:     90 * time.Second,
	}
	return &ctlClient{endpoints: endpoints, timeout: timeout, secret: secret, token: token,
		hc: &http.Client{Transport: tr}, scheme: "http"}
}

// tlsConfig is the TLS configuration of useTLS, or nil.
func (c *ctlClient) tlsConfig() *tls.Config {
	if c.scheme != "https" {
		return nil
	}
	return c.hc.Transport.(*http.Transport).TLSClientConfig
}

// close releases the idle connections.
func (c *ctlClient) close() { c.hc.CloseIdleConnections() }

// statusError is a node's answer with a status other than 200.
type statusError struct {
	Addr   string
	Path   string
	Status int
	Msg    string          // the "error" field of the answer
	Body   json.RawMessage // the whole answer, when it is JSON
}

func (e *statusError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s answered %d: %s", e.Addr, e.Status, msg)
}

// unreachableError is a request that got no answer: the connection failed
// (Dial: nothing listens there, or the host is unknown) or it timed out.
type unreachableError struct {
	Addr    string
	Dial    bool
	Timeout bool
	Err     error
}

func (e *unreachableError) Error() string {
	switch {
	case e.Timeout:
		return e.Addr + ": no answer (timed out)"
	case e.Dial:
		return e.Addr + ": " + dialReason(e.Err)
	}
	return e.Addr + ": " + e.Err.Error()
}

func (e *unreachableError) Unwrap() error { return e.Err }

// dialReason shortens a dial error to its cause ("connection refused").
func dialReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		msg := op.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return msg
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "unknown host " + dns.Name
	}
	return err.Error()
}

// errStatus returns the HTTP status of a node's error answer, 0 for any
// other error.
func errStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// isDialError reports whether err is a failed connection: nothing answered.
func isDialError(err error) bool {
	var ue *unreachableError
	return errors.As(err, &ue) && ue.Dial
}

// errKind names the kind of a failed request for bench and status: the
// HTTP status ("409", "503"), "timeout", "connection" or "other".
func errKind(err error) string {
	var ue *unreachableError
	switch {
	case errStatus(err) != 0:
		return strconv.Itoa(errStatus(err))
	case errors.As(err, &ue) && ue.Timeout:
		return "timeout"
	case errors.As(err, &ue):
		return "connection"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// get asks addr for path and decodes a 200 answer into out (nil: discard).
func (c *ctlClient) get(ctx context.Context, addr, path string, out any) error {
	return c.do(ctx, http.MethodGet, addr, path, nil, out)
}

// post sends body as JSON to addr's path and decodes a 200 answer into out.
func (c *ctlClient) post(ctx context.Context, addr, path string, body, out any) error {
	return c.do(ctx, http.MethodPost, addr, path, body, out)
}

// do runs one request bounded by the client's timeout. Writes carry the
// client token (or the cluster secret when no token is set); every other
// request carries the cluster secret, which internal endpoints demand.
func (c *ctlClient) do(ctx context.Context, method, addr, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.scheme+"://"+addr+path, rd)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	bearer := c.secret
	if method == http.MethodPost && c.token != "" {
		bearer = c.token
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return unreachable(ctx, addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return unreachable(ctx, addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &statusError{Addr: addr, Path: path, Status: resp.StatusCode}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil {
			se.Msg, se.Body = e.Error, data
		} else {
			se.Msg = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s%s: unexpected answer: %v", addr, path, err)
	}
	return nil
}

// unreachable classifies a failed round trip. The caller's cancellation
// (Ctrl-C) is returned as is.
func unreachable(ctx context.Context, addr string, err error) error {
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return context.Canceled
	}
	ue := &unreachableError{Addr: addr, Err: err}
	var ne net.Error
	var op *net.OpError
	// A connection that could not be made, even for lack of time, is a
	// node that did not answer; a request that timed out once connected
	// may still take effect.
	ue.Dial = errors.As(err, &op) && op.Op == "dial"
	ue.Timeout = !ue.Dial && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
	return ue
}

// ctlNode is one node of the cluster as paxosctl knows it.
type ctlNode struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"` // "" while unknown (an endpoint gossip did not list)
	Addr string `json:"address"`
	// Gossip is the node's memberlist state (alive, suspect, dead, left), ""
	// when the node did not come from gossip.
	Gossip string `json:"gossip,omitempty"`
}

// topology is the set of nodes found behind the endpoints.
type topology struct {
	Nodes []ctlNode
	// Source says where the list came from, for messages.
	Source string
	// Answered is false when no endpoint answered GET /gossip/nodes.
	Answered bool
	// Err is set when the endpoints were named and none answered at all
	// (a *noAnswerError listing each one's failure; the context's error
	// when cancelled): the command stops there rather than ask elsewhere.
	Err error
}

// role returns the nodes of role r, in ID order.
func (t topology) role(r string) []ctlNode {
	var out []ctlNode
	for _, n := range t.Nodes {
		if n.Role == r {
			out = append(out, n)
		}
	}
	return out
}

// byID returns the node with id.
func (t topology) byID(id uint64) (ctlNode, bool) {
	for _, n := range t.Nodes {
		if n.ID == id && id != 0 {
			return n, true
		}
	}
	return ctlNode{}, false
}

// gossipNodes is the part of GET /gossip/nodes paxosctl reads.
type gossipNodes struct {
	Nodes    map[string]gossip.Member `json:"nodes"`
	LeaderID *uint64                  `json:"leader_id"`
}

// discover finds the cluster's nodes: GET /gossip/nodes on the endpoints in
// turn (the first answer listing more than one node wins). When gossip is
// empty or no endpoint answers, and the endpoints are paxosctl's default,
// it falls back to the standard topology (SPEC §3) on the first endpoint's
// host; endpoints the user named are honoured exactly: no fallback, and
// when none of them answered, Err says so with each one's failure.
// Endpoints the list misses are added with an unknown role. Gossip
// addresses that do not resolve here (Compose names seen from the host) are
// replaced by the host of the endpoint that answered, keeping the port:
// Compose publishes the same ports.
func (c *ctlClient) discover(ctx context.Context) topology {
	var best gossipNodes
	var from string
	answered := false
	var errs []error
	for _, ep := range c.endpoints {
		var g gossipNodes
		if err := c.get(ctx, ep, "/gossip/nodes", &g); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		answered = true
		if len(g.Nodes) > len(best.Nodes) {
			best, from = g, ep
		}
		if len(g.Nodes) > 1 {
			break
		}
	}
	t := topology{Answered: answered}
	if len(best.Nodes) > 0 {
		epHost, _, _ := net.SplitHostPort(from)
		var hosts []string
		for _, n := range best.Nodes {
			hosts = append(hosts, n.Address)
		}
		resolves := hostsResolve(ctx, hosts)
		for _, n := range best.Nodes {
			if n.Port == 0 || n.Address == "" {
				continue
			}
			host := n.Address
			if !resolves[host] {
				host = epHost
			}
			t.Nodes = append(t.Nodes, ctlNode{ID: uint64(n.ID), Name: n.Name, Role: n.Role,
				Addr: net.JoinHostPort(host, strconv.Itoa(n.Port)), Gossip: n.State})
		}
		t.Source = "gossip of " + from
	}
	switch {
	case len(t.Nodes) > 0:
	case c.named:
		t.Source = "the endpoints given (their gossip lists no node)"
		if answered {
			break
		}
		t.Source = "the endpoints given (none answered)"
		t.Err = &noAnswerError{errs: dedupErrs(errs)}
		if err := ctx.Err(); err != nil {
			t.Err = err
		}
		for _, err := range errs {
			if errStatus(err) != 0 {
				t.Err = nil // one answered, with an error: the command finds out more
			}
		}
	default:
		host := "127.0.0.1"
		if len(c.endpoints) > 0 {
			if h, _, err := net.SplitHostPort(c.endpoints[0]); err == nil {
				host = h
			}
		}
		t.Nodes = standardNodes(host)
		t.Source = "standard topology on " + host
	}
	for _, ep := range c.endpoints {
		if !slices.ContainsFunc(t.Nodes, func(n ctlNode) bool { return n.Addr == ep }) {
			t.Nodes = append(t.Nodes, ctlNode{Name: ep, Addr: ep})
		}
	}
	roleRank := map[string]int{"proposer": 0, "acceptor": 1, "learner": 2, "client": 3, "": 4}
	slices.SortStableFunc(t.Nodes, func(a, b ctlNode) int {
		if d := roleRank[a.Role] - roleRank[b.Role]; d != 0 {
			return d
		}
		if a.ID != b.ID {
			if a.ID < b.ID {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	return t
}

// standardNodes returns the nodes of the standard topology (SPEC §3) on
// host. Tests replace it to keep away from the standard ports.
var standardNodes = func(host string) []ctlNode {
	var out []ctlNode
	for _, r := range server.Roles {
		for _, p := range server.StandardPeers(r, host) {
			out = append(out, ctlNode{ID: uint64(p.ID), Name: p.Name, Role: string(p.Role), Addr: p.Addr})
		}
	}
	return out
}

// hostsResolve reports which hosts are IP addresses or names this machine
// can resolve, looking the names up concurrently within a second.
func hostsResolve(ctx context.Context, hosts []string) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		// The lookups started below write out meanwhile: the loop reads
		// and writes it under mu too.
		mu.Lock()
		_, seen := out[h]
		ip := net.ParseIP(h) != nil
		if !seen && h != "" {
			out[h] = ip
		}
		mu.Unlock()
		if seen || h == "" || ip {
			continue
		}
		wg.Go(func() {
			addrs, err := net.DefaultResolver.LookupHost(ctx, h)
			mu.Lock()
			out[h] = err == nil && len(addrs) > 0
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// nodeView is a node's GET /view-logs (proposers also answer GET
// /status): the part every role shares, and the api view of the role it
// names; the views of the other roles stay nil.
type nodeView struct {
	api.Node
	Proposer *api.ProposerView
	Acceptor *api.AcceptorView
	Learner  *api.LearnerView
	Client   *api.ClientView
}

// UnmarshalJSON decodes the shared part, then the view of its role.
func (v *nodeView) UnmarshalJSON(b []byte) error {
	*v = nodeView{}
	if err := json.Unmarshal(b, &v.Node); err != nil {
		return err
	}
	var role any
	switch v.Role {
	case "proposer":
		v.Proposer = &api.ProposerView{}
		role = v.Proposer
	case "acceptor":
		v.Acceptor = &api.AcceptorView{}
		role = v.Acceptor
	case "learner":
		v.Learner = &api.LearnerView{}
		role = v.Learner
	case "client":
		v.Client = &api.ClientView{}
		role = v.Client
	default:
		return nil
	}
	return json.Unmarshal(b, role)
}

// chosenSlot is a proposer's or learner's chosen slot (-1: none yet); nil
// for the other roles.
func (v *nodeView) chosenSlot() *int64 {
	switch {
	case v.Proposer != nil:
		return &v.Proposer.ChosenSlot
	case v.Learner != nil:
		return &v.Learner.ChosenSlot
	}
	return nil
}

// currentLeader is the leader a proposer or client node knows of; nil when
// it knows none, or for the other roles.
func (v *nodeView) currentLeader() *uint64 {
	switch {
	case v.Proposer != nil:
		return v.Proposer.CurrentLeader
	case v.Client != nil:
		return v.Client.CurrentLeader
	}
	return nil
}

// proposerState is one proposer's GET /status, or why it did not answer.
type proposerState struct {
	Node ctlNode
	View api.ProposerView
	Err  error
}

// proposers asks every proposer of t for GET /status, concurrently.
func (c *ctlClient) proposers(ctx context.Context, t topology) []proposerState {
	ps := t.role("proposer")
	out := make([]proposerState, len(ps))
	var wg sync.WaitGroup
	for i, n := range ps {
		wg.Go(func() {
			out[i].Node = n
			out[i].Err = c.get(ctx, n.Addr, "/status", &out[i].View)
		})
	}
	wg.Wait()
	return out
}

// leaderOf returns the proposer that says it leads (the highest ballot if
// more than one does, as an old leader may still believe it leads).
func leaderOf(ps []proposerState) (proposerState, bool) {
	var best proposerState
	found := false
	for _, p := range ps {
		if p.Err == nil && p.View.IsLeader && (!found || p.View.ProposalNumber > best.View.ProposalNumber) {
			best, found = p, true
		}
	}
	return best, found
}
