package server

import (
	"maps"
	"slices"
	"sync"

	"github.com/paxos-go/paxos/replog"
)

// InmemNetwork connects the nodes of one process without sockets, for
// tests: each node gets its transport from Transport (WithTransport), and a
// message sent on it is handed to the node it is for as if it came on a
// message stream. A message for a node not connected is dropped, as the
// HTTP transport drops what it cannot deliver.
type InmemNetwork struct {
	mu    sync.RWMutex
	nodes map[replog.ID]func(from replog.ID, msgs []replog.Message) error
}

// NewInmemNetwork returns a network with no node on it.
func NewInmemNetwork() *InmemNetwork {
	return &InmemNetwork{nodes: map[replog.ID]func(replog.ID, []replog.Message) error{}}
}

// Transport returns the transport of node self on the network.
func (n *InmemNetwork) Transport(self replog.ID) *InmemTransport {
	return &InmemTransport{net: n, self: self}
}

// InmemTransport is one node's transport on an InmemNetwork.
type InmemTransport struct {
	net  *InmemNetwork
	self replog.ID
}

var _ Connector = (*InmemTransport)(nil)

// Connect implements Connector.
func (t *InmemTransport) Connect(self replog.ID, deliver func(replog.ID, []replog.Message) error) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.net.nodes[self] = deliver
}

// Send hands each node its messages, in the order sent, through the binary
// encoding of the message streams (codec.go): no two nodes share a
// message's slices. It does not block; what a node refuses is dropped.
func (t *InmemTransport) Send(msgs []replog.Message) {
	byNode := map[replog.ID][]replog.Message{}
	for _, m := range msgs {
		byNode[m.To] = append(byNode[m.To], m)
	}
	for _, to := range slices.Sorted(maps.Keys(byNode)) {
		t.net.mu.RLock()
		deliver := t.net.nodes[to]
		t.net.mu.RUnlock()
		if deliver == nil {
			continue
		}
		batch, err := decodeBatch(encodeBatch(nil, byNode[to]))
		if err != nil {
			continue // dropped, as a stream's receiver drops a frame that does not decode
		}
		_ = deliver(t.self, batch)
	}
}

// Close takes the node off the network: nothing reaches it any more.
func (t *InmemTransport) Close() {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	delete(t.net.nodes, t.self)
}
