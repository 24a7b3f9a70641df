package server

import (
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

// messagesPath is the internal endpoint that takes a batch of messages.
const messagesPath = "/paxos/messages"

// maxPeerQueue bounds the messages queued for one peer.
const maxPeerQueue = 65536

// httpTransport writes batches of messages to each peer over a message
// stream (stream.go), one sender goroutine per peer: whatever queued up while
// a frame was being written goes in the next frame (batching).
type httpTransport struct {
	book   func(replog.ID) (string, bool) // ID → API host:port
	secret string
	log    *slog.Logger

	mu    sync.Mutex
	peers map[replog.ID]*peerQueue
	done  chan struct{}
	wg    sync.WaitGroup
}

type peerQueue struct {
	mu    sync.Mutex
	msgs  []replog.Message
	ready chan struct{} // signalled when msgs becomes non-empty
}

func newHTTPTransport(book func(replog.ID) (string, bool), secret string, log *slog.Logger) *httpTransport {
	return &httpTransport{book: book, secret: secret, log: log,
		peers: map[replog.ID]*peerQueue{}, done: make(chan struct{})}
}

func (t *httpTransport) Send(msgs []replog.Message) {
	for _, m := range msgs {
		q := t.queue(m.To)
		if q == nil {
			continue
		}
		q.mu.Lock()
		if len(q.msgs) < maxPeerQueue {
			q.msgs = append(q.msgs, m)
		}
		q.mu.Unlock()
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
		q.mu.Lock()
		batch := q.msgs
		q.msgs = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		var err error
		sc, err = t.sendAll(to, sc, batch)
		if err != nil {
			// Drop the batch: the protocol retransmits. Back off so a dead
			// peer does not cost a dial per message.
			t.log.Debug("send failed", "to", to, "messages", len(batch), "err", err)
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

// maxFrameBytes bounds one frame; a bigger batch goes in several.
const maxFrameBytes = 16 << 20

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
		if sc, err = dialStream(addr, t.secret); err != nil {
			return nil, err
		}
	}
	for len(batch) > 0 {
		n := replog.Fit(len(batch), 0, maxFrameBytes, func(i int) int {
			size := 0
			for _, e := range batch[i].Entries {
				size += e.Command.Size()
			}
			return size
		})
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
