package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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

// httpTransport posts batches of messages to each peer's messagesPath over
// keep-alive connections, one sender goroutine per peer: whatever queued up
// while a post was in flight goes in the next post (batching).
type httpTransport struct {
	book   func(replog.ID) (string, bool) // ID → API host:port
	client *http.Client
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
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httpTransport{book: book, secret: secret, log: log,
		client: &http.Client{Transport: tr, Timeout: 2 * time.Second},
		peers:  map[replog.ID]*peerQueue{}, done: make(chan struct{})}
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
	for range 2 { // two posts in flight per peer: one can fill while the other travels
		t.wg.Add(1)
		go t.sender(to, q)
	}
	return q
}

func (t *httpTransport) sender(to replog.ID, q *peerQueue) {
	defer t.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		select {
		case <-t.done:
			return
		case <-q.ready:
		}
		q.mu.Lock()
		batch := q.msgs
		q.msgs = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if err := t.postAll(to, batch); err != nil {
			// Drop the batch: the protocol retransmits. Back off so a dead
			// peer does not cost a dial per message.
			t.log.Debug("send failed", "to", to, "messages", len(batch), "err", err)
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

// maxPostBytes bounds one post; a bigger batch goes in several.
const maxPostBytes = 16 << 20

// postAll posts batch in as many posts as its size needs.
func (t *httpTransport) postAll(to replog.ID, batch []replog.Message) error {
	for len(batch) > 0 {
		n, size := 0, 0
		for n < len(batch) {
			for _, e := range batch[n].Entries {
				size += len(e.Command.Value) + len(e.Command.RequestID) + 16
			}
			if n > 0 && size > maxPostBytes {
				break
			}
			n++
		}
		if err := t.post(to, batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

func (t *httpTransport) post(to replog.ID, batch []replog.Message) error {
	addr, ok := t.book(to)
	if !ok {
		return fmt.Errorf("no address for node %d", to)
	}
	body := encodeBatch(make([]byte, 0, 256), batch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+messagesPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", binaryContentType)
	if t.secret != "" {
		req.Header.Set("Authorization", "Bearer "+t.secret)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", addr, resp.Status)
	}
	return nil
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
	t.client.CloseIdleConnections()
}
