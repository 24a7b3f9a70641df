package storage

import (
	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

var (
	_ replog.ProposerStorage = (*Proposer)(nil)
	_ replog.ProposerStorage = (*MemProposer)(nil)
)

// Proposer is a proposer's durable state in a bbolt file: the highest round
// it used. It is safe for concurrent use.
type Proposer struct {
	s *store[proposerState]
}

// proposerState is the cached meta of a Proposer file.
type proposerState struct {
	round uint64
}

// OpenProposer opens (creating if needed) the proposer file at path. It
// fails with ErrLocked when another process has it open and with ErrCorrupt
// when it is not a valid store.
func OpenProposer(path string, o *Options) (*Proposer, error) {
	s, err := open(path, o, [][]byte{bucketMeta}, func(st *proposerState, tx *bolt.Tx) (err error) {
		st.round, err = getUint64(tx.Bucket(bucketMeta), keyRound)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Proposer{s: s}, nil
}

// Round returns the highest round persisted (0 when none). It does not touch
// the disk.
func (p *Proposer) Round() (uint64, error) {
	st, err := p.s.cached()
	return st.round, err
}

// SetRound persists r as the highest round used and returns once it is
// durable. A round not above the stored one is ignored: the round only goes
// up.
func (p *Proposer) SetRound(r uint64) error {
	if st, err := p.s.cached(); err != nil || r <= st.round {
		return err
	}
	return p.s.commit(0, func(tx *bolt.Tx, st *proposerState) error {
		if r <= st.round {
			return nil
		}
		st.round = r
		return putUint64(tx.Bucket(bucketMeta), keyRound, r)
	})
}

// Close closes the file. Later calls return ErrClosed.
func (p *Proposer) Close() error { return p.s.close() }
