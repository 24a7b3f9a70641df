package replogtest

import (
	"fmt"

	"github.com/paxos-go/paxos/replog"
)

// Node is one role and its store. Exactly one of Proposer, Acceptor and
// Learner is set; replog.Node is that role.
type Node struct {
	replog.Node
	Config   replog.Config
	Proposer *replog.Proposer
	Acceptor *replog.Acceptor
	Learner  *replog.Learner
	Store    Store
}

// NewNode starts the role whose storage store is (a
// replog.ProposerStorage, AcceptorStorage or LearnerStorage, such as
// *ProposerStore, *AcceptorStore or *LearnerStore) with cfg, from what
// store holds.
func NewNode(cfg replog.Config, store Store) (*Node, error) {
	n := &Node{Config: cfg, Store: store}
	return n, n.Restart()
}

// Restart replaces the role with a new one read from the store: all
// volatile state is lost, as in a crash.
func (n *Node) Restart() error {
	var err error
	n.Proposer, n.Acceptor, n.Learner = nil, nil, nil
	switch s := n.Store.(type) {
	case replog.ProposerStorage:
		n.Proposer, err = replog.NewProposer(n.Config, s)
		n.Node = n.Proposer
	case replog.AcceptorStorage:
		n.Acceptor, err = replog.NewAcceptor(n.Config, s)
		n.Node = n.Acceptor
	case replog.LearnerStorage:
		n.Learner, err = replog.NewLearner(n.Config, s)
		n.Node = n.Learner
	default:
		return fmt.Errorf("replogtest: no role keeps its state in a %T", n.Store)
	}
	return err
}

// Process handles the role's Ready, if it has one: it saves it to the
// store and advances, and returns it for the caller to send its messages
// and apply the rest (nil when there was none).
func (n *Node) Process() (*replog.Ready, error) {
	if !n.HasReady() {
		return nil, nil
	}
	rd := n.Ready()
	if err := n.Store.Save(&rd); err != nil {
		return nil, fmt.Errorf("replogtest: node %d: save: %w", n.Config.ID, err)
	}
	n.Advance()
	return &rd, nil
}
