package server

import (
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// The stores a node's role runs on. The core reads them (replog's
// ProposerStorage, AcceptorStorage, LearnerStorage); the driver writes each
// Ready to them with Save before anything of that Ready is sent. storage's
// bbolt stores (the default, in Config.DataDir) and its memory stores
// implement them. Their methods may be called from any goroutine.
type (
	// ProposerStore is a proposer's round and applied index.
	ProposerStore interface {
		replog.ProposerStorage
		// Save writes a Ready's round, durable on return, and its applied
		// entries, durable after the next Sync.
		Save(rd *replog.Ready) error
		// Sync makes the applied entries saved so far durable.
		Sync() error
		Close() error
	}

	// AcceptorStore is an acceptor's promise, accepted entries, chosen
	// watermark, rejoin slot and compaction point.
	AcceptorStore interface {
		replog.AcceptorStorage
		// Save writes what a Ready asks to persist; it is durable on
		// return.
		Save(rd *replog.Ready) error
		Stats() storage.AcceptorStats
		Close() error
	}

	// LearnerStore is a learner's chosen log.
	LearnerStore interface {
		replog.LearnerStorage
		// Save takes a Ready's chosen entries; they are durable after the
		// next Sync.
		Save(rd *replog.Ready) error
		// Sync makes every entry saved so far durable.
		Sync() error
		// Synced returns the counters of the durable log.
		Synced() storage.LearnerStats
		ChosenBytes(from uint64, limit, maxBytes int) ([]replog.ChosenEntry, error)
		Stats() storage.LearnerStats
		Close() error
	}
)

var (
	_ ProposerStore = (*storage.Proposer)(nil)
	_ ProposerStore = (*storage.MemProposer)(nil)
	_ AcceptorStore = (*storage.LoggedAcceptor)(nil)
	_ AcceptorStore = (*storage.MemAcceptor)(nil)
	_ LearnerStore  = (*storage.BufferedLearner)(nil)
	_ LearnerStore  = (*storage.MemLearner)(nil)
)

// proposerStore returns the proposer store given, or opens the bbolt file
// at path.
func (o *options) proposerStore(path string, so *storage.Options) (ProposerStore, error) {
	if o.proposer != nil {
		return o.proposer, nil
	}
	return storage.OpenProposer(path, so)
}

// acceptorStore returns the acceptor store given, or opens the write-ahead
// and bbolt files at path.
func (o *options) acceptorStore(path string, so *storage.Options) (AcceptorStore, error) {
	if o.acceptor != nil {
		return o.acceptor, nil
	}
	return storage.OpenLoggedAcceptor(path, so)
}

// learnerStore returns the learner store given, or opens the bbolt file at
// path behind a memory buffer that one Sync per tick writes: acceptors hold
// every chosen value durably until each learner reports it durable
// (replog.Config.LazySync), so a learner loses nothing that it cannot
// catch up, and the disk is left to the acceptors, whose fsync is on the
// write path.
func (o *options) learnerStore(path string, so *storage.Options) (LearnerStore, error) {
	if o.learner != nil {
		return o.learner, nil
	}
	file, err := storage.OpenLearner(path, so)
	if err != nil {
		return nil, err
	}
	st, err := storage.NewBufferedLearner(file, storage.LearnerBufferEntries)
	if err != nil {
		file.Close()
		return nil, err
	}
	return st, nil
}
