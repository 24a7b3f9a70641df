package replog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// MaxDedupWindow is the largest Config.DedupWindow, 2^30 slots: a store's
// request index may keep only the low 32 bits of the slots it holds (one
// window), and an index of that many IDs is gigabytes already.
const MaxDedupWindow = 1 << 30

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
	// (proposers and client nodes), with digests for values (Digests).
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
	// MaxInflightBytes bounds the window in bytes (by Command.Size): a
	// command waits when it would take the slots in flight past it (one
	// command always fits).
	MaxInflightBytes int
	// MaxQueue is the most proposals a leader queues when the window is full;
	// more are answered ErrDropped.
	MaxQueue int
	// MaxQueueBytes bounds the queue in bytes as MaxQueue does in commands.
	MaxQueueBytes int
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
	// LearnerSilenceTicks: a learner a proposer has not heard from for this
	// many ticks no longer holds compaction back (see Proposer's
	// compactPoint): acceptors compact below what the learners heard lately
	// hold durably, as long as at least one of them does, and a learner
	// that comes back below that point catches up from another learner.
	LearnerSilenceTicks int
	// DedupWindow is the request-ID deduplication window, in slots: a
	// command is a copy of an earlier one with the same RequestID when that
	// first copy is fewer than DedupWindow slots before it (see
	// Config.isCopy). Proposers and learners keep request IDs of the last
	// DedupWindow slots only (Ready.DedupFloor), so what they keep is bounded
	// however long the log grows. Every node of a cluster must use the same
	// window, or learners disagree about which copies count. At most
	// MaxDedupWindow.
	DedupWindow int

	// LazySync (learners) says the caller persists Ready.Chosen without an
	// fsync and reports what is durable with Learner.Synced; only durable
	// slots count toward the compaction point acceptors are told. A
	// restarted learner takes every slot its storage holds as durable, so
	// its storage must hold no unsynced slot at the start (a
	// storage.BufferedLearner's buffer dies with the process).
	LazySync bool

	// Rand is the seeded source of every random choice (election timeouts,
	// the first catch-up round of a learner). In production it must be
	// seeded anew at each start of a process: a learner's catch-up rounds
	// must not repeat those of its earlier lives.
	// Nil means a source seeded from ID.
	Rand *rand.Rand

	// quorum overrides the quorum size; tests use it to prove the simulation
	// catches a broken quorum rule. Zero means a majority.
	quorum int
	// noRejoin turns the acceptors' rejoin rule off; tests use it to prove
	// the simulation catches an acceptor that forgot its state.
	noRejoin bool
	// compactChosen makes a proposer tell acceptors to compact at the
	// chosen watermark, held durably by a learner or not; tests use it to
	// prove the simulation catches compaction of the last durable copy.
	compactChosen bool
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
		// A window or queue of this many bytes takes a Phase 1 about
		// MaxInflightBytes/MaxMsgBytes pages to recover.
		MaxInflightBytes: 64 << 20,
		MaxQueueBytes:    64 << 20,
		MaxBatch:         1024,
		CatchupLimit:     2048,
		MaxMsgBytes:      4 << 20,
		PollTicks:        20,
		CompactEvery:     4096,
		// About 30 s of writes at 30,000 slots/s, and an index of about
		// 40 MiB (a request ID and a slot per entry) on each proposer and
		// learner.
		DedupWindow: 1 << 20,
		// 5 minutes at 50 ms a tick: a learner's restart or a short
		// partition does not move compaction past it.
		LearnerSilenceTicks: 6000,
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.HeartbeatTicks, &d.HeartbeatTicks}, {&c.ElectionTicks, &d.ElectionTicks},
		{&c.RetryTicks, &d.RetryTicks}, {&c.Window, &d.Window}, {&c.MaxQueue, &d.MaxQueue},
		{&c.MaxBatch, &d.MaxBatch}, {&c.CatchupLimit, &d.CatchupLimit}, {&c.PollTicks, &d.PollTicks},
		{&c.CompactEvery, &d.CompactEvery}, {&c.MaxMsgBytes, &d.MaxMsgBytes},
		{&c.MaxInflightBytes, &d.MaxInflightBytes}, {&c.MaxQueueBytes, &d.MaxQueueBytes},
		{&c.DedupWindow, &d.DedupWindow}, {&c.LearnerSilenceTicks, &d.LearnerSilenceTicks},
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
		if id == None || id >= ProposerIDLimit {
			return fmt.Errorf("replog: config: proposer ID %d must be in 1..%d", id, ProposerIDLimit-1)
		}
	}
	if c.DedupWindow > MaxDedupWindow {
		return fmt.Errorf("replog: config: DedupWindow %d is above %d", c.DedupWindow, MaxDedupWindow)
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

// cutShort reports whether a read of count entries of size bytes, asked
// for at most limit entries and maxBytes (no bound when <= 0), may have
// stopped before the data did: at one of its bounds.
func cutShort(count, size, limit, maxBytes int) bool {
	return count > 0 && (limit > 0 && count >= limit || maxBytes > 0 && size >= maxBytes)
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

// isCopy reports whether a command at slot is a copy (a retry) of the
// command with the same request ID whose first copy is at first: first is
// below slot and fewer than DedupWindow slots before it. The rule reads the
// log alone (SPEC §8.6), so every learner and proposer agrees; a copy
// further from its first copy is a first copy itself.
func (c *Config) isCopy(first, slot uint64) bool {
	return first < slot && slot-first < uint64(c.DedupWindow)
}

// dedupFloor is the lowest slot whose first copies still matter once the
// log is commit slots long: a command at commit or later is never a copy
// of a first copy below it.
func (c *Config) dedupFloor(commit uint64) uint64 {
	if w := uint64(c.DedupWindow); commit >= w {
		return commit - w + 1
	}
	return 0
}

// without returns ids without id (a new slice).
func without(ids []ID, id ID) []ID {
	out := make([]ID, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// isAcceptor reports whether id is a configured acceptor: only their
// promises, acceptances and votes count (SPEC §3, §9).
func (c *Config) isAcceptor(id ID) bool { return slices.Contains(c.Acceptors, id) }

// isLearner reports whether id is a configured learner: only their
// chosen entries count, and only they get values rather than digests.
func (c *Config) isLearner(id ID) bool { return slices.Contains(c.Learners, id) }

// Quorum is the number of distinct acceptors that make a majority.
func (c *Config) Quorum() int {
	if c.quorum > 0 {
		return c.quorum
	}
	return Quorum(len(c.Acceptors))
}

// Quorum is the size of a majority of n acceptors: the number of distinct
// acceptors whose promises elect a leader and whose acceptances choose a
// value.
func Quorum(n int) int { return n/2 + 1 }

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
