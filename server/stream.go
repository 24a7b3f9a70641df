package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
)

// Message streams. A node sends protocol messages to a peer over one
// long-lived connection instead of one HTTP request per batch: the sender
// asks for an upgrade on the API port (so the cluster secret is checked as
// for any internal endpoint) naming itself (peerIdentity: the Paxos-From
// header), and once the peer answers 101 both sides drop HTTP and the
// sender writes frames:
//
//	frame = length:uint32 (big-endian) batch (the binary encoding of codec.go)
//
// The stream is one-way; the receiver never writes after the 101. Every
// message on it must be from the node that opened it. A frame that does not
// decode or validate (a message from another node, or of a type that node's
// role never sends) closes the stream and is logged, once per warnEvery per
// peer (the sender reconnects; the protocol retransmits what was lost).
// POST /paxos/messages still takes one batch per request, in JSON or
// binary, for tests and curl, with the same Paxos-From rule.
const (
	streamPath     = "/paxos/stream"
	streamProtocol = "paxos-stream/1"
	// streamHandshake bounds dialing and the upgrade; streamWrite one frame.
	streamHandshake = time.Second
	streamWrite     = 2 * time.Second
)

// handleStream upgrades the request to a message stream and delivers every
// frame that arrives on it until the sender closes it or the node stops.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), streamProtocol) {
		writeError(w, fmt.Errorf("%w: %s upgrades to a message stream: send Connection: Upgrade and Upgrade: %s (one batch per request: POST %s)",
			ErrBadRequest, streamPath, streamProtocol, messagesPath), nil)
		return
	}
	from, err := s.peerIdentity(r)
	if err != nil {
		// A node of another topology (or version) would retry for ever.
		s.warnPeer(replog.None, "identity", "refused a message stream", "remote", r.RemoteAddr, "err", err)
		writeError(w, err, nil)
		return
	}
	conn, br, ok := s.upgrade(w, streamProtocol)
	if !ok {
		return
	}
	defer s.streams.remove(conn)
	err = s.readStream(from, conn, br)
	var big *frameSizeError
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
	case errors.As(err, &big):
		// The sender cuts its frames to the same limit: this one comes
		// from a node that does not, and would come again at every retry.
		s.warnPeer(from, "frame-size", "message stream closed: a frame over the size limit",
			"remote", r.RemoteAddr, "size", big.size, "limit", big.limit)
	default:
		s.warnPeer(from, "stream", "message stream closed", "remote", r.RemoteAddr, "err", err)
	}
}

// upgrade takes over w's connection and answers 101 with protocol. Unless
// ok is false (the connection is gone, or the node is stopping) the caller
// owns conn, which shutdown closes, and releases it with
// s.streams.remove(conn); br holds what the client sent after its request.
func (s *Server) upgrade(w http.ResponseWriter, protocol string) (conn net.Conn, br *bufio.Reader, ok bool) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, fmt.Errorf("%w: upgrade: %v", ErrUnavailable, err), nil)
		return nil, nil, false
	}
	if !s.streams.add(conn) {
		conn.Close() // shutting down
		return nil, nil, false
	}
	_ = conn.SetDeadline(time.Time{}) // the server's read and write timeouts were for HTTP
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + protocol + "\r\n\r\n")
	if err := rw.Flush(); err != nil {
		s.streams.remove(conn)
		return nil, nil, false
	}
	return conn, rw.Reader, true
}

// frameSizeError is a frame over the limit (maxFrameBytes).
type frameSizeError struct{ size, limit int64 }

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("frame of %d bytes, the limit is %d", e.size, e.limit)
}

// streamFrameRead bounds the time from a frame's header to its last byte.
const streamFrameRead = 30 * time.Second

// readStream delivers frames from br (reading conn, a stream opened by node
// from) until an error. A frame's body is read as it arrives, never
// allocated from its header alone, and within streamFrameRead.
func (s *Server) readStream(from replog.ID, conn net.Conn, br *bufio.Reader) error {
	var head [4]byte
	var buf []byte
	for {
		_ = conn.SetReadDeadline(time.Time{}) // idle between frames is fine
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(head[:]))
		if n > maxFrameBytes {
			return &frameSizeError{size: n, limit: maxFrameBytes}
		}
		_ = conn.SetReadDeadline(time.Now().Add(streamFrameRead))
		b := bytes.NewBuffer(buf[:0])
		if _, err := io.CopyN(b, br, n); err != nil {
			return err
		}
		msgs, err := decodeBatch(b.Bytes()) // copies what it keeps: the buffer is reused
		if err != nil {
			return err
		}
		if buf = b.Bytes(); cap(buf) > 1<<20 {
			buf = nil // do not pin a big buffer after a burst
		}
		err = s.deliver(from, msgs)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return err // a bad message: drop the stream
		}
		if err != nil {
			// ErrUnavailable (the loop's inbox is full, or the node is
			// stopping): the batch is dropped, as a lossy network would;
			// the protocol retransmits.
			s.warnPeer(from, "inbox-full", "dropped a batch from a peer: this node's loop has not taken what is queued; the protocol sends it again",
				"messages", len(msgs), "limit_batches", inboxSize, "limit_bytes", maxInboxBytes)
		}
	}
}

// deliver validates msgs, which came on a connection of node from
// (peerIdentity), and hands them to the role. A message whose From is not
// that node is refused with the whole batch: a sender is the identity of
// its connection, never only a field it wrote (SPEC §9).
func (s *Server) deliver(from replog.ID, msgs []replog.Message) error {
	for _, m := range msgs {
		if m.From != from {
			return fmt.Errorf("%w: a %s from node %d on a connection of node %d", ErrBadRequest, m.Type, m.From, from)
		}
		if err := s.validMessage(m); err != nil {
			return err
		}
	}
	s.trace.messages(TraceRecv, msgs)
	return s.role.deliver(msgs)
}

// connSet tracks hijacked connections, which http.Server.Shutdown does not
// close.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (c *connSet) add(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.conns == nil {
		c.conns = map[net.Conn]struct{}{}
	}
	c.conns[conn] = struct{}{}
	return true
}

func (c *connSet) remove(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.conns, conn)
	conn.Close()
}

// closeAll closes every connection and refuses new ones.
func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for conn := range c.conns {
		conn.Close()
	}
}

// streamConn is the sending end of a stream to one peer.
type streamConn struct {
	addr string
	conn net.Conn
	dead chan struct{} // closed when the peer closed the stream
	buf  []byte
}

// tlsDialError is a TLS handshake with a peer that failed: a certificate
// refused on either side.
type tlsDialError struct{ err error }

func (e *tlsDialError) Error() string { return e.err.Error() }
func (e *tlsDialError) Unwrap() error { return e.err }

// dialStream connects to addr, node to, and upgrades to a message stream
// that carries messages from node from. With tlsc it speaks TLS, presents
// the node's certificate and demands one that names node to.
func dialStream(addr, secret string, from, to replog.ID, tlsc *nodeTLS) (*streamConn, error) {
	conn, err := net.DialTimeout("tcp", addr, streamHandshake)
	if err != nil {
		return nil, err
	}
	if tlsc != nil {
		cfg, err := tlsc.clientConfig(addr, to)
		if err != nil {
			conn.Close()
			return nil, err
		}
		tc := tls.Client(conn, cfg)
		_ = tc.SetDeadline(time.Now().Add(streamHandshake))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, &tlsDialError{fmt.Errorf("%s: %w", addr, err)}
		}
		conn = tc
	}
	_ = conn.SetDeadline(time.Now().Add(streamHandshake))
	req := "POST " + streamPath + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: " + streamProtocol +
		"\r\nContent-Length: 0\r\n" + fromHeader + ": " + strconv.FormatUint(uint64(from), 10) + "\r\n"
	if secret != "" {
		req += "Authorization: Bearer " + secret + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		conn.Close()
		return nil, fmt.Errorf("%s: upgrade refused: %s %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	_ = conn.SetDeadline(time.Time{})
	sc := &streamConn{addr: addr, conn: conn, dead: make(chan struct{})}
	go func() {
		// The peer never writes: a read returns only when the stream ends.
		_, _ = br.ReadByte()
		conn.Close()
		close(sc.dead)
	}()
	return sc, nil
}

// write sends batch (already encoded after 4 reserved bytes) as one frame.
func (sc *streamConn) write(frame []byte) error {
	select {
	case <-sc.dead:
		return fmt.Errorf("%s: stream closed by the peer", sc.addr)
	default:
	}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	_ = sc.conn.SetWriteDeadline(time.Now().Add(streamWrite))
	_, err := sc.conn.Write(frame)
	return err
}

func (sc *streamConn) close() { sc.conn.Close() }
