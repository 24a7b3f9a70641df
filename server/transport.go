package server

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// Transport carries protocol messages between nodes. Send never blocks: a
// message that cannot be delivered is dropped, and the protocol's
// retransmissions cover it (Paxos tolerates loss).
type Transport interface {
	// Send queues msgs for delivery to their To nodes. The slice is the
	// caller's; Send copies what it keeps.
	Send(msgs []replog.Message)
	// Close stops delivery.
	Close()
}

// A Connector is a Transport that also brings messages to this node (an
// in-memory one): New connects it with the node's entry point. The HTTP
// transport is not one: messages reach a node at its /paxos/stream.
type Connector interface {
	Transport
	// Connect makes deliver where messages to node self go. deliver checks
	// the messages as a message stream's handler does (every one must be
	// from node from, of a type from's role sends) and queues them for
	// the node's loop; it does not block, and it returns an error for a
	// batch the node refuses or cannot queue.
	Connect(self replog.ID, deliver func(from replog.ID, msgs []replog.Message) error)
}

// messagesPath is the internal endpoint that takes a batch of messages.
const messagesPath = "/paxos/messages"

// maxPeerQueue bounds the messages queued for one peer, and
// maxPeerQueueBytes their encoded size: a peer that reads slower than this
// node writes to it (a learner catching up, asking again for what it has
// not read yet) loses messages, which the protocol sends again, instead of
// this node's memory (a 10 M soak once saw 2 GB of catch-up answers queued
// for one learner). The first message always goes in, however big: one
// message is bounded by the frame (maxFrameBytes). 4 MiB is one of the
// cores' largest messages (MaxMsgBytes): at 16 MiB a peer, 2,000 values of
// 64 KiB left 60 MB of encoded frames queued in learner1 (its heap at 245
// MB, 585 MiB resident; TestE2EBigValues; a learner then sent every value
// to each proposer and client node, which now get digests), where small
// values never fill 4 MiB (the A/B: 0.96-0.98, within the noise).
const (
	maxPeerQueue      = 65536
	maxPeerQueueBytes = 4 << 20
)

// httpTransport writes batches of messages to each peer over a message
// stream (stream.go), one sender goroutine per peer: whatever queued up while
// a frame was being written goes in the next frame (batching).
type httpTransport struct {
	self   replog.ID                      // the sender every stream declares (Paxos-From)
	book   func(replog.ID) (string, bool) // ID → API host:port
	secret string
	tls    *nodeTLS // nil: plain TCP
	log    *slog.Logger
	warns  *logLimiter

	mu    sync.Mutex
	peers map[replog.ID]*peerQueue
	done  chan struct{}
	wg    sync.WaitGroup
}

type peerQueue struct {
	mu    sync.Mutex
	msgs  []replog.Message
	bytes int           // encoded size of msgs
	ready chan struct{} // signalled when msgs becomes non-empty
}

// push queues m, of encoded size size, unless the queue is full in messages
// or in bytes; it reports whether m went in.
func (q *peerQueue) push(m replog.Message, size int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) >= maxPeerQueue || len(q.msgs) > 0 && q.bytes+size > maxPeerQueueBytes {
		return false
	}
	q.msgs = append(q.msgs, m)
	q.bytes += size
	return true
}

// take empties the queue and returns what it held.
func (q *peerQueue) take() []replog.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.msgs
	q.msgs, q.bytes = nil, 0
	return batch
}

func newHTTPTransport(self replog.ID, book func(replog.ID) (string, bool), secret string, tls *nodeTLS, log *slog.Logger, warns *logLimiter) *httpTransport {
	return &httpTransport{self: self, book: book, secret: secret, tls: tls, log: log, warns: warns,
		peers: map[replog.ID]*peerQueue{}, done: make(chan struct{})}
}

func (t *httpTransport) Send(msgs []replog.Message) {
	for _, m := range msgs {
		q := t.queue(m.To)
		if q == nil {
			continue
		}
		size := encodedSize(&m)
		if size+batchOverhead > maxFrameBytes {
			// It cannot go in a frame even alone: the peer would refuse the
			// frame and close the stream at every retry.
			t.warns.warn(t.log, fmt.Sprintf("oversized %d", m.To), "dropped a message larger than the frame limit",
				"peer", m.To, "type", m.Type, "entries", len(m.Entries), "size", size+batchOverhead, "limit", maxFrameBytes)
			continue
		}
		if !q.push(m, size) {
			t.warns.warn(t.log, fmt.Sprintf("queue-full %d", m.To), "dropped messages to a peer that reads slower than they come; the protocol sends them again",
				"peer", m.To, "type", m.Type, "limit_messages", maxPeerQueue, "limit_bytes", maxPeerQueueBytes)
			continue
		}
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
}

func (t *httpTransport) queue(to replog.ID) *peerQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q, ok := t.peers[to]; ok {
		return q
	}
	if _, ok := t.book(to); !ok {
		return nil // not a node we know: no queue, no goroutines
	}
	select {
	case <-t.done:
		return nil
	default:
	}
	q := &peerQueue{ready: make(chan struct{}, 1)}
	t.peers[to] = q
	t.wg.Add(1)
	go t.sender(to, q)
	return q
}

func (t *httpTransport) sender(to replog.ID, q *peerQueue) {
	defer t.wg.Done()
	var sc *streamConn
	defer func() {
		if sc != nil {
			sc.close()
		}
	}()
	backoff := 10 * time.Millisecond
	for {
		select {
		case <-t.done:
			return
		case <-q.ready:
		}
		// Let the goroutines that are ready run first (HTTP handlers
		// proposing, the driver stepping): what they queue meanwhile goes
		// in this frame. Under load frames grow; when idle this returns at
		// once.
		runtime.Gosched()
		batch := q.take()
		if len(batch) == 0 {
			continue
		}
		var err error
		sc, err = t.sendAll(to, sc, batch)
		if err != nil {
			// Drop the batch: the protocol retransmits. Back off so a dead
			// peer does not cost a dial per message.
			var refused *tlsDialError
			if errors.As(err, &refused) {
				t.warns.warn(t.log, fmt.Sprintf("tls-dial %d", to), "cannot open a message stream: TLS handshake failed",
					"peer", to, "err", err)
			} else {
				t.log.Debug("send failed", "to", to, "messages", len(batch), "err", err)
			}
			if sc != nil {
				sc.close()
				sc = nil
			}
			select {
			case <-t.done:
				return
			case <-time.After(backoff):
			}
			// Keep the backoff short: a peer that comes back must hear
			// heartbeats before its election timeout runs out.
			backoff = min(backoff*2, 200*time.Millisecond)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

// maxFrameBytes bounds one batch of messages in the binary encoding: a
// stream frame or a POST /paxos/messages body. Receivers refuse a bigger
// one (the stream is closed, the post is a 413) and senders never build
// one: a message that does not fit alone is logged and dropped, where it
// would be refused at every retry. It holds the largest message the cores
// build, replog.Config.MaxMsgBytes of values plus one value of
// Config.MaxValueBytes, with frameHeadroom for the rest (Config.Validate).
const maxFrameBytes = 32 << 20

// frameHeadroom is what a frame keeps beside a message's values: request
// IDs, the encoding of the other fields, the batch header.
const frameHeadroom = 1 << 20

// frameFill is where a sender stops adding messages to a frame: half the
// limit keeps a frame of many messages quick to write (streamWrite); one
// message alone may take up to the limit.
const frameFill = maxFrameBytes / 2

// sendAll writes batch to the peer's stream, (re)connecting when there is
// none or the peer's address changed, in as many frames as its size needs.
// It returns the stream to use next time.
func (t *httpTransport) sendAll(to replog.ID, sc *streamConn, batch []replog.Message) (*streamConn, error) {
	addr, ok := t.book(to)
	if !ok {
		return sc, fmt.Errorf("no address for node %d", to)
	}
	if sc != nil && sc.addr != addr {
		sc.close()
		sc = nil
	}
	if sc == nil {
		var err error
		if sc, err = dialStream(addr, t.secret, t.self, to, t.tls); err != nil {
			return nil, err
		}
	}
	for len(batch) > 0 {
		n := replog.Fit(len(batch), 0, frameFill-batchOverhead, func(i int) int { return encodedSize(&batch[i]) })
		sc.buf = encodeBatch(append(sc.buf[:0], 0, 0, 0, 0), batch[:n])
		if err := sc.write(sc.buf); err != nil {
			return sc, err
		}
		if cap(sc.buf) > 1<<20 {
			sc.buf = nil // do not pin a big buffer after a burst
		}
		batch = batch[n:]
	}
	return sc, nil
}

func (t *httpTransport) Close() {
	t.mu.Lock()
	select {
	case <-t.done:
	default:
		close(t.done)
	}
	t.mu.Unlock()
	t.wg.Wait()
}
