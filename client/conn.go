package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/internal/clientwire"
)

// conn is one client stream to one node: requests go out through a
// buffer that the writer goroutine sends as it fills (so concurrent Puts
// share writes), responses come back to the Put waiting on their tag.
type conn struct {
	addr  string
	nc    net.Conn
	slots chan struct{} // clientwire.MaxInFlight requests in flight at most
	wake  chan struct{} // the writer has something to send
	done  chan struct{} // closed by close

	lastRead atomic.Int64 // when the last frame came (unix ns; the upgrade's time at first)

	mu      sync.Mutex
	tag     uint64
	pending map[uint64]chan result
	wbuf    []byte
	err     error // why it closed; nil while open
}

type result struct {
	resp clientwire.Response
	err  error
}

// dial connects to addr and upgrades to a client stream, within
// cfg.DialTimeout and ctx.
func dial(ctx context.Context, addr string, cfg Config) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("%w: %s: TLS: %v", ErrUnavailable, addr, err)
		}
		nc = tlsConn
	}
	req := "POST " + clientwire.Path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: " +
		clientwire.Protocol + "\r\nContent-Length: 0\r\n"
	if cfg.Token != "" {
		req += "Authorization: Bearer " + cfg.Token + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, addr, err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %s: upgrade: %v", ErrUnavailable, addr, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer nc.Close()
		return nil, refusal(addr, resp)
	}
	_ = nc.SetDeadline(time.Time{})
	cn := &conn{addr: addr, nc: nc, slots: make(chan struct{}, clientwire.MaxInFlight), wake: make(chan struct{}, 1), done: make(chan struct{}),
		pending: map[uint64]chan result{}}
	cn.lastRead.Store(time.Now().UnixNano())
	go cn.readLoop(br)
	go cn.writeLoop()
	return cn, nil
}

// refusal is the error of an upgrade a node answered with resp.
func refusal(addr string, resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	var body api.Error
	if json.Unmarshal(data, &body) != nil || body.Error == "" {
		body.Error = strings.TrimSpace(string(data))
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		// An acceptor or learner, or a node from before client streams.
		return fmt.Errorf("%w: %s (%d: %s)", ErrNoStream, addr, resp.StatusCode, body.Error)
	}
	return &StatusError{Endpoint: addr, Code: resp.StatusCode, Message: "upgrade refused: " + body.Error}
}

func (cn *conn) alive() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err == nil
}

// do sends one write and waits for its response, or ctx. An error means
// the connection failed (or closed) before the response came.
//
// attempt bounds the wait while the node answers nothing at all: past it,
// with no frame read for as long, do returns errSilent. A node that keeps
// answering other writes is slow, not gone: do waits on.
func (cn *conn) do(ctx context.Context, attempt time.Duration, value string, clientID uint64, requestID string) (clientwire.Response, error) {
	select {
	case cn.slots <- struct{}{}:
	case <-ctx.Done():
		return clientwire.Response{}, ctx.Err()
	}
	defer func() { <-cn.slots }()
	ch := make(chan result, 1)
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return clientwire.Response{}, err
	}
	cn.tag++
	tag := cn.tag
	cn.pending[tag] = ch
	cn.wbuf = clientwire.AppendRequest(cn.wbuf, clientwire.Request{Tag: tag, ClientID: clientID, RequestID: requestID, Value: value})
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	timer := time.NewTimer(attempt)
	defer timer.Stop()
	for {
		select {
		case r := <-ch:
			return r.resp, r.err
		case <-timer.C:
			if quiet := time.Since(time.Unix(0, cn.lastRead.Load())); quiet < attempt {
				timer.Reset(attempt - quiet)
				continue
			}
			cn.forget(tag)
			return clientwire.Response{}, errSilent
		case <-ctx.Done():
			cn.forget(tag)
			return clientwire.Response{}, ctx.Err()
		}
	}
}

// errSilent: the node read nothing for an attempt's time.
var errSilent = errors.New("client: the node answers nothing")

func (cn *conn) forget(tag uint64) {
	cn.mu.Lock()
	delete(cn.pending, tag)
	cn.mu.Unlock()
}

// writeLoop sends what do buffered, until the connection closes.
func (cn *conn) writeLoop() {
	var out []byte
	for {
		select {
		case <-cn.wake:
		case <-cn.done:
			return
		}
		// Let the Puts that are ready buffer their writes first: under
		// load the frames grow, when idle this returns at once.
		runtime.Gosched()
		cn.mu.Lock()
		if cn.err != nil {
			cn.mu.Unlock()
			return
		}
		out, cn.wbuf = cn.wbuf, out[:0]
		cn.mu.Unlock()
		if len(out) == 0 {
			continue
		}
		_ = cn.nc.SetWriteDeadline(time.Now().Add(clientwire.FrameTimeout))
		if _, err := cn.nc.Write(out); err != nil {
			cn.close(fmt.Errorf("%w: %s: %v", ErrUnavailable, cn.addr, err))
			return
		}
		if cap(out) > 1<<20 {
			out = nil
		}
	}
}

// readLoop delivers responses until the connection fails.
func (cn *conn) readLoop(br *bufio.Reader) {
	var buf []byte
	for {
		_ = cn.nc.SetReadDeadline(time.Time{})
		body, err := clientwire.ReadFrame(br, clientwire.MaxResponseBytes, buf, func() {
			_ = cn.nc.SetReadDeadline(time.Now().Add(clientwire.FrameTimeout))
		})
		var r clientwire.Response
		if err == nil {
			r, err = clientwire.DecodeResponse(body)
		}
		if err != nil {
			cn.close(fmt.Errorf("%w: %s: stream broken: %v", ErrUnavailable, cn.addr, err))
			return
		}
		buf = body
		cn.lastRead.Store(time.Now().UnixNano())
		if r.Tag == 0 {
			// The node closes the stream after saying why.
			cn.close(&StatusError{Endpoint: cn.addr, Code: r.Code, Message: "stream closed by the node: " + r.Error})
			return
		}
		cn.mu.Lock()
		ch := cn.pending[r.Tag]
		delete(cn.pending, r.Tag)
		cn.mu.Unlock()
		if ch != nil {
			ch <- result{resp: r}
		}
	}
}

// close ends the connection once; every write waiting gets err.
func (cn *conn) close(err error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = err
	pending := cn.pending
	cn.pending = nil
	cn.mu.Unlock()
	cn.nc.Close()
	close(cn.done)
	for _, ch := range pending {
		ch <- result{err: err}
	}
}
