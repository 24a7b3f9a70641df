package server

import (
	"context"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
)

// role is what a node's role gives the node: New makes one
// (newProposerRole, newAcceptorRole, newLearnerRole, newClientRole), and
// the rest of the node asks it instead of asking which role it is.
type role interface {
	// routes adds the role's endpoints to r; shared are the node's
	// handlers a role may serve at a path of its own.
	routes(r *httprouter.Router, shared nodeRoutes)
	// view is the role's state: its part of /view-logs, /status and the
	// status page (an api view, Server.view fills the shared part).
	view() view
	// readyErr says why the role cannot serve now (GET /ready); nil when
	// it can (ready.go).
	readyErr(ctx context.Context) error
	// gauges are the role's state for /metrics (metrics.go).
	gauges() []gauge
	// alarms are the alarms the role raises itself (alarm.go).
	alarms() []alarm
	// meta adds the role's state to the node's gossip metadata.
	meta(m *gossip.Meta)
	// deliver takes protocol messages from other nodes, already checked
	// (Server.deliver). It does not block.
	deliver(msgs []replog.Message) error
	// loop is the role's driver; nil on a client node, which runs no core.
	loop() *driver
	// fail answers every request waiting on the role with err (the node
	// is stopping).
	fail(err error)
	// close releases what the role holds (its store, its streams), once
	// the node has stopped.
	close() error
}

var (
	_ role = (*proposerRole)(nil)
	_ role = (*acceptorRole)(nil)
	_ role = (*learnerRole)(nil)
	_ role = (*clientRole)(nil)
)

// nodeRoutes are the node's handlers that some roles serve: the node's
// view (a proposer's /status) and client streams (clientstream.go).
type nodeRoutes struct {
	view         httprouter.Handle
	clientStream httprouter.Handle
}

// peerWatcher is a role that acts when gossip finds a node dead or left (a
// proposer campaigns when its leader goes).
type peerWatcher interface {
	peerGone(id replog.ID, left bool)
}

// How each role plugs into the node.

func (p *proposerRole) loop() *driver                       { return p.drv }
func (a *acceptorRole) loop() *driver                       { return a.drv }
func (l *learnerRole) loop() *driver                        { return l.drv }
func (c *clientRole) loop() *driver                         { return nil }
func (p *proposerRole) deliver(msgs []replog.Message) error { return p.drv.step(msgs) }
func (a *acceptorRole) deliver(msgs []replog.Message) error { return a.drv.step(msgs) }
func (l *learnerRole) deliver(msgs []replog.Message) error  { return l.drv.step(msgs) }
func (c *clientRole) deliver(msgs []replog.Message) error   { return c.onMessages(msgs) }
func (p *proposerRole) close() error                        { return p.store.Close() }
func (a *acceptorRole) close() error                        { return a.store.Close() }
func (l *learnerRole) close() error                         { return l.store.Close() }

// close closes the client stream to the proposers.
func (c *clientRole) close() error {
	c.closeStream()
	return nil
}

// meta: a proposer gossips the leader it knows, its ballot and the chosen
// slot.
func (p *proposerRole) meta(m *gossip.Meta) {
	st := p.status()
	m.Leader, m.Ballot, m.Chosen = st.Leader, uint64(st.Ballot), int64(st.Commit)-1
}

// meta: a learner gossips the last slot of its durable log.
func (l *learnerRole) meta(m *gossip.Meta) { m.Chosen = int64(l.commit.Load()) - 1 }

func (a *acceptorRole) meta(*gossip.Meta) {}
func (c *clientRole) meta(*gossip.Meta)   {}

// fail answers every proposal and read waiting on the proposer with err.
func (p *proposerRole) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for req, ws := range p.waiters {
		for _, ch := range ws {
			ch <- replog.Result{RequestID: req, Err: err}
		}
		delete(p.waiters, req)
	}
	for id, ch := range p.reads {
		ch <- replog.ReadState{Ctx: id, Err: err}
		delete(p.reads, id)
	}
}

func (a *acceptorRole) fail(error) {}
func (l *learnerRole) fail(error)  {}
func (c *clientRole) fail(error)   {}
