package replog

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Config configures one role. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// ID is this node's ID (1..99 for proposers, so it fits in a ballot).
	ID ID
	// Proposers, Acceptors and Learners are the static membership. Quorum is a
	// majority of Acceptors, counted by distinct acceptor; nothing else (not
	// gossip) changes it.
	Proposers []ID
	Acceptors []ID
	Learners  []ID
	// Notify are the nodes a learner sends MsgChosen to as its log grows
	// (proposers and client nodes).
	Notify []ID

	// HeartbeatTicks: a leader heartbeats the other proposers every this many ticks.
	HeartbeatTicks int
	// ElectionTicks: a follower that hears no leader for a random number of
	// ticks in [ElectionTicks, 2*ElectionTicks) campaigns.
	ElectionTicks int
	// RetryTicks: unanswered prepares, accepts and catch-up requests are resent
	// after this many ticks.
	RetryTicks int
	// Window is the most slots a leader keeps in flight (pipelining).
	Window int
	// MaxQueue is the most proposals a leader queues when the window is full;
	// more are answered ErrDropped.
	MaxQueue int
	// MaxBatch is the most entries in one accept message (batching).
	MaxBatch int
	// CatchupLimit is the most entries in one catch-up answer.
	CatchupLimit int
	// MaxMsgBytes bounds the values in one accept, notification or catch-up
	// message (one entry always fits, whatever its size).
	MaxMsgBytes int
	// PollTicks: an idle learner asks its peers for news every this many ticks.
	PollTicks int
	// CompactEvery: an acceptor compacts its storage when the point every
	// learner persisted moved this many slots past the last compaction.
	CompactEvery int

	// LazySync (learners) says the caller persists Ready.Chosen without an
	// fsync and reports what is durable with Learner.Synced; only durable
	// slots count toward the compaction point acceptors are told.
	LazySync bool

	// Rand is the seeded source of every random choice (election timeouts).
	// Nil means a source seeded from ID.
	Rand *rand.Rand

	// quorum overrides the quorum size; tests use it to prove the simulation
	// catches a broken quorum rule. Zero means a majority.
	quorum int
}

// DefaultConfig returns the production defaults for one node (one tick is
// meant to be 50 ms: heartbeat 100 ms, election timeout 0.5-1 s).
func DefaultConfig() Config {
	return Config{
		HeartbeatTicks: 2,
		ElectionTicks:  10,
		RetryTicks:     4,
		Window:         4096,
		MaxQueue:       65536,
		MaxBatch:       1024,
		CatchupLimit:   2048,
		MaxMsgBytes:    4 << 20,
		PollTicks:      20,
		CompactEvery:   4096,
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.HeartbeatTicks, &d.HeartbeatTicks}, {&c.ElectionTicks, &d.ElectionTicks},
		{&c.RetryTicks, &d.RetryTicks}, {&c.Window, &d.Window}, {&c.MaxQueue, &d.MaxQueue},
		{&c.MaxBatch, &d.MaxBatch}, {&c.CatchupLimit, &d.CatchupLimit}, {&c.PollTicks, &d.PollTicks},
		{&c.CompactEvery, &d.CompactEvery}, {&c.MaxMsgBytes, &d.MaxMsgBytes},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(uint64(c.ID), 0x9e3779b97f4a7c15))
	}
}

// Validate reports a configuration the protocol cannot run with.
func (c *Config) Validate() error {
	if c.ID == None {
		return errors.New("replog: config: ID must be set")
	}
	if len(c.Acceptors) == 0 {
		return errors.New("replog: config: no acceptors")
	}
	seen := map[ID]bool{}
	for _, id := range c.Acceptors {
		if id == None || seen[id] {
			return fmt.Errorf("replog: config: acceptor ID %d is zero or repeated", id)
		}
		seen[id] = true
	}
	for _, id := range c.Proposers {
		if id == None || id >= ballotRadix {
			return fmt.Errorf("replog: config: proposer ID %d must be in 1..%d", id, ballotRadix-1)
		}
	}
	if c.HeartbeatTicks >= c.ElectionTicks && c.ElectionTicks > 0 {
		return errors.New("replog: config: HeartbeatTicks must be below ElectionTicks")
	}
	return nil
}

// fit returns how many of entries, from the first, fit in one message: at
// most limit entries and MaxMsgBytes of values, and always at least one.
func (c *Config) fit(entries []Entry, limit int) int {
	return Fit(len(entries), limit, c.MaxMsgBytes, func(i int) int { return entries[i].Command.Size() })
}

// Fit returns how many of the first count items go in one batch: at most
// limit of them (no bound when limit <= 0), and no more than maxBytes by
// size(i), item i's size; the first item always goes, whatever its size.
func Fit(count, limit, maxBytes int, size func(i int) int) int {
	n, bytes := 0, 0
	for n < count && (limit <= 0 || n < limit) {
		bytes += size(n)
		if n > 0 && bytes > maxBytes {
			break
		}
		n++
	}
	return n
}

// Quorum is the number of distinct acceptors that make a majority.
func (c *Config) Quorum() int {
	if c.quorum > 0 {
		return c.quorum
	}
	return len(c.Acceptors)/2 + 1
}

// Node is what every role offers its driver (see the package doc for the loop).
type Node interface {
	// Step handles one message. It returns an error only when reading storage
	// fails; protocol rejections are messages.
	Step(m Message) error
	// Tick advances the role's logical clock by one tick.
	Tick()
	// HasReady reports whether Ready would return effects.
	HasReady() bool
	// Ready returns the pending effects. The caller must persist, send and apply
	// them in that order and then call Advance before the next Ready.
	Ready() Ready
	// Advance tells the role the last Ready was handled.
	Advance()
}
