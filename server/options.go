package server

import "fmt"

// An Option gives New something it would otherwise make itself: the role's
// store or the transport. What New is given, the node closes when it stops.
type Option func(*options)

// options is what the Options of one New gave; nil fields are made from the
// Config (bbolt files in DataDir, message streams over HTTP).
type options struct {
	proposer  ProposerStore
	acceptor  AcceptorStore
	learner   LearnerStore
	transport Transport
}

// WithProposerStore runs a proposer on st instead of a bbolt file in
// Config.DataDir (which the node still claims).
func WithProposerStore(st ProposerStore) Option { return func(o *options) { o.proposer = st } }

// WithAcceptorStore runs an acceptor on st instead of the write-ahead and
// bbolt files in Config.DataDir (which the node still claims and watches
// for free space).
func WithAcceptorStore(st AcceptorStore) Option { return func(o *options) { o.acceptor = st } }

// WithLearnerStore runs a learner on st instead of a buffered bbolt file in
// Config.DataDir (which the node still claims).
func WithLearnerStore(st LearnerStore) Option { return func(o *options) { o.learner = st } }

// WithTransport sends the node's protocol messages over t instead of
// message streams over HTTP (transport.go, stream.go). A t that also
// brings messages to this node (a Connector) is connected to it by New.
func WithTransport(t Transport) Option { return func(o *options) { o.transport = t } }

// check refuses a store given for another role than the node's.
func (o *options) check(role Role) error {
	for _, g := range []struct {
		given bool
		role  Role
	}{{o.proposer != nil, RoleProposer}, {o.acceptor != nil, RoleAcceptor}, {o.learner != nil, RoleLearner}} {
		if g.given && g.role != role {
			return fmt.Errorf("a %s store given to a %s", g.role, role)
		}
	}
	return nil
}
