package replog

// The read side of each role's durable state. The caller owns the storage: it
// writes what each Ready says (HardState, Accepted, Chosen) before calling
// Advance, and the core only reads. Reads see every Ready the caller has
// advanced past; the core itself overlays what it has not handed out yet.

// ProposerStorage is a proposer's durable state: the highest round it used,
// and its applied index: the request IDs of the chosen log it applied
// (Ready.Applied), so that a restarted proposer answers a retry with the
// slot of its first copy without replaying the log from slot 0.
type ProposerStorage interface {
	// Round returns the highest round persisted (0 when none). It does not block
	// on anything but the disk.
	Round() (uint64, error)
	// Applied returns the first slot not in the applied index. The caller
	// may persist Ready.Applied lazily: a proposer that restarts behind
	// applies the rest again, in slot order.
	Applied() (uint64, error)
	// FirstSlot returns the slot of the first copy of requestID in the
	// applied index (ok is false when it holds none).
	FirstSlot(requestID string) (slot uint64, ok bool, err error)
}

// AcceptorStorage is an acceptor's durable state.
type AcceptorStorage interface {
	// Promised returns the highest ballot promised (0 when none).
	Promised() (Ballot, error)
	// AcceptedBytes returns accepted entries with Slot >= from, in slot
	// order, each with the ballot it was accepted at: at most limit of them
	// (no bound when limit <= 0), and none after the one that brings their
	// commands to maxBytes (by Command.Size; no bound when maxBytes <= 0).
	// The slice is the caller's.
	AcceptedBytes(from uint64, limit, maxBytes int) ([]Entry, error)
	// Compacted returns the compaction point: the entries below it were
	// deleted because a learner holds them durably (they are chosen).
	Compacted() (uint64, error)
	// Commit returns the highest chosen watermark persisted
	// (Ready.HardState.Commit; 0 when none).
	Commit() (uint64, error)
	// Top returns one past the highest slot ever accepted (0 when none).
	Top() (uint64, error)
	// Rejoin returns the rejoin value: RejoinPending for new storage until
	// Ready.HardState.Rejoin records the rule's outcome; 0 for storage made
	// before the rule existed.
	Rejoin() (uint64, error)
}

// LearnerStorage is a learner's durable chosen log.
type LearnerStorage interface {
	// Commit returns the number of contiguous chosen slots stored: the first
	// slot not yet in the log.
	Commit() (uint64, error)
	// ChosenBytes returns chosen entries with Slot >= from, in slot order:
	// at most limit of them (no bound when limit <= 0), and none after the
	// one that brings their commands to maxBytes (by Command.Size; no bound
	// when maxBytes <= 0). The slice is the caller's.
	ChosenBytes(from uint64, limit, maxBytes int) ([]ChosenEntry, error)
	// FirstSlot returns the slot of the first copy of requestID in the log
	// (ok is false for "", which no-ops carry).
	FirstSlot(requestID string) (slot uint64, ok bool, err error)
}
