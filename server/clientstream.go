package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/internal/clientwire"
	"github.com/paxos-go/paxos/replog"
)

// Client streams (the wire format is internal/clientwire's). A client that
// upgrades POST /client/stream keeps many writes in flight on one
// connection, with no HTTP request per write: proposers and client nodes
// serve it with the same checks as POST /propose and /send (the client
// token, value and request ID limits, alarms). A proposer proposes the
// requests that arrived together in one step, as /propose-batch does; a
// follower answers 409 with the leader's ID and address, and the client
// goes there. A client node sends each request on as /send does. A frame
// that does not decode closes the stream after a response with tag 0 that
// says why.

// clientStreamBytes bounds the bytes of the requests one stream has in
// flight (beside clientwire.MaxInFlight); a single request bigger than that
// is served alone.
const clientStreamBytes = 2 * maxBatchBytes

// handleClientStream upgrades the request to a client stream and serves it
// until the client closes it or the node stops.
func (s *Server) handleClientStream(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), clientwire.Protocol) {
		writeError(w, fmt.Errorf("%w: %s upgrades to a client stream: send Connection: Upgrade and Upgrade: %s (one write per request: POST /propose or /send)",
			ErrBadRequest, clientwire.Path, clientwire.Protocol), nil)
		return
	}
	conn, br, ok := s.upgrade(w, clientwire.Protocol)
	if !ok {
		return
	}
	defer s.streams.remove(conn)
	cs := &clientStream{s: s, conn: conn, out: make(chan answer, clientwire.MaxInFlight+1)}
	cs.room.cond.L = &cs.room.mu
	ctx, cancel := context.WithCancel(context.Background())
	written := make(chan struct{})
	go func() { cs.writeLoop(); close(written) }()
	err := cs.readLoop(ctx, br)
	cancel() // what is still in flight ends now (a proposal already made goes on)
	if bad := streamFault(err); bad != nil {
		s.warns.warn(s.log, "client-stream", "client stream closed: a bad frame", "remote", r.RemoteAddr, "err", bad)
		cs.out <- answer{r: clientwire.Response{Code: statusOf(bad), Error: bad.Error()}}
	}
	cs.wg.Wait()
	close(cs.out)
	<-written
}

// streamFault is the error a client is told before its stream closes:
// nil when the stream just ended.
func streamFault(err error) error {
	var big *clientwire.FrameSizeError
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		return nil
	case errors.As(err, &big):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, ErrBadRequest):
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: a frame took longer than %s", ErrBadRequest, clientwire.FrameTimeout)
	}
	return nil // the connection broke: nobody to tell
}

// clientStream is one client stream being served.
type clientStream struct {
	s    *Server
	conn net.Conn
	out  chan answer    // to writeLoop; room bounds what is in it
	wg   sync.WaitGroup // batches being served
	room streamRoom
}

// readLoop reads requests and hands them out in batches: those that
// arrived together, within the batch bounds of /propose-batch.
func (cs *clientStream) readLoop(ctx context.Context, br *bufio.Reader) error {
	limit := cs.s.valueBodyLimit()
	var buf []byte
	var batch []clientwire.Request
	size := 0
	flush := func() {
		if len(batch) > 0 {
			b := batch
			cs.wg.Go(func() { cs.serve(ctx, b) })
			batch, size = nil, 0
		}
	}
	defer flush()
	for {
		if br.Buffered() < 4 {
			flush() // nothing more has arrived: serve what did
		}
		_ = cs.conn.SetReadDeadline(time.Time{}) // idle between frames is fine
		body, err := clientwire.ReadFrame(br, limit, buf, func() {
			_ = cs.conn.SetReadDeadline(time.Now().Add(clientwire.FrameTimeout))
		})
		if err != nil {
			return err
		}
		req, err := clientwire.DecodeRequest(body)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if buf = body; cap(buf) > 1<<20 {
			buf = nil // do not pin a big buffer after a burst
		}
		n := requestBytes(req)
		if !cs.room.tryTake(n) {
			flush()
			cs.room.take(n)
		}
		batch = append(batch, req)
		if size += n; len(batch) >= maxBatchCommands || size >= maxBatchBytes {
			flush()
		}
	}
}

func requestBytes(r clientwire.Request) int { return len(r.Value) + len(r.RequestID) + 64 }

// serve answers a batch of requests.
func (cs *clientStream) serve(ctx context.Context, reqs []clientwire.Request) {
	s := cs.s
	cmds := make([]replog.Command, 0, len(reqs))
	tags := make([]clientwire.Request, 0, len(reqs))
	for _, rq := range reqs {
		cmd, err := s.command(&rq.Value, rq.ClientID, rq.RequestID)
		if err != nil {
			cs.reply(rq, s.failure(err, rq.RequestID))
			continue
		}
		cmds = append(cmds, cmd)
		tags = append(tags, rq)
	}
	if len(cmds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if p, ok := s.role.(*proposerRole); ok {
		results, st, err := p.proposeAll(ctx, cmds)
		for i, cmd := range cmds {
			switch {
			case err != nil:
				cs.reply(tags[i], s.failure(err, cmd.RequestID))
			case results[i].err != nil:
				cs.reply(tags[i], s.failure(results[i].err, cmd.RequestID))
			default:
				cs.reply(tags[i], clientwire.Response{Code: http.StatusOK, Slot: results[i].res.Slot,
					ProposalNumber: uint64(st.Ballot), ProposerID: uint64(s.cfg.ID), RequestID: cmd.RequestID})
			}
		}
		return
	}
	c, ok := s.role.(*clientRole)
	if !ok {
		return // only proposers and client nodes serve client streams
	}
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() {
			res, err := c.sendRecorded(ctx, cmd)
			if err != nil {
				cs.reply(tags[i], s.failure(err, cmd.RequestID))
				return
			}
			cs.reply(tags[i], clientwire.Response{Code: http.StatusOK, Slot: res.Slot, ProposalNumber: res.ProposalNumber,
				ProposerID: res.ProposerID, RequestID: cmd.RequestID})
		})
	}
	wg.Wait()
}

// failure is the response to a request that failed with err: the status
// and alarm the HTTP path answers, and on a follower the leader to go to.
func (s *Server) failure(err error, requestID string) clientwire.Response {
	r := clientwire.Response{Code: statusOf(err), RequestID: requestID, Alarm: alarmOf(err), Error: err.Error()}
	if p, ok := s.role.(*proposerRole); ok && errors.Is(err, ErrNotLeader) {
		if l := p.status().Leader; l != replog.None && l != s.cfg.ID {
			r.Leader = uint64(l)
			r.LeaderAddr, _ = s.addressOf(l)
		}
	}
	return r
}

// answer is a response to write, and the room its request took (0 for
// the stream's own error).
type answer struct {
	r    clientwire.Response
	size int
}

// reply queues the response to rq; writeLoop gives its room back.
func (cs *clientStream) reply(rq clientwire.Request, r clientwire.Response) {
	r.Tag = rq.Tag
	cs.out <- answer{r: r, size: requestBytes(rq)}
}

// writeLoop writes the responses, as many per write as are ready, until
// out is closed. After a failed write it only drains out.
func (cs *clientStream) writeLoop() {
	var buf []byte
	var werr error
	for a := range cs.out {
		// Let the batches that are being answered queue theirs first.
		runtime.Gosched()
		buf = clientwire.AppendResponse(buf[:0], a.r)
		cs.room.give(a.size)
	more:
		for len(buf) < 64<<10 {
			select {
			case a, ok := <-cs.out:
				if !ok {
					break more
				}
				buf = clientwire.AppendResponse(buf, a.r)
				cs.room.give(a.size)
			default:
				break more
			}
		}
		if werr == nil {
			_ = cs.conn.SetWriteDeadline(time.Now().Add(clientwire.FrameTimeout))
			if _, werr = cs.conn.Write(buf); werr != nil {
				cs.conn.Close() // the reader stops too
			}
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
}

// streamRoom bounds what one stream has in flight: clientwire.MaxInFlight
// requests and clientStreamBytes bytes (a bigger request alone).
type streamRoom struct {
	mu    sync.Mutex
	cond  sync.Cond
	n     int
	bytes int
}

func (sr *streamRoom) fits(n int) bool {
	return sr.n == 0 || sr.n < clientwire.MaxInFlight && sr.bytes+n <= clientStreamBytes
}

func (sr *streamRoom) tryTake(n int) bool {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if !sr.fits(n) {
		return false
	}
	sr.n, sr.bytes = sr.n+1, sr.bytes+n
	return true
}

// take waits until n bytes fit. It needs responses to go out: the caller
// holds no request back.
func (sr *streamRoom) take(n int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for !sr.fits(n) {
		sr.cond.Wait()
	}
	sr.n, sr.bytes = sr.n+1, sr.bytes+n
}

// give returns the room of a request of n bytes (none for n = 0).
func (sr *streamRoom) give(n int) {
	if n == 0 {
		return
	}
	sr.mu.Lock()
	sr.n, sr.bytes = sr.n-1, sr.bytes-n
	sr.mu.Unlock()
	sr.cond.Broadcast()
}
