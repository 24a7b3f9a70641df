package replog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unsafe"
)

// ID identifies a node of the cluster (NODE_ID in the deployment).
type ID uint64

// None is the ID of no node ("no leader known").
const None ID = 0

// Ballot is a proposal number: round*100 + proposer ID. Ballots are totally
// ordered and never reused, because a proposer persists the highest round it
// used before using it. The zero Ballot is lower than every real ballot.
type Ballot uint64

// ProposerIDLimit bounds proposer IDs, which are 1 to ProposerIDLimit-1: a
// ballot is round*ProposerIDLimit + proposer ID, so the ID is its remainder.
const ProposerIDLimit = 100

// MakeBallot returns the ballot of round for proposer id.
func MakeBallot(round uint64, id ID) Ballot { return Ballot(round*ProposerIDLimit + uint64(id)) }

// Round returns the round of b.
func (b Ballot) Round() uint64 { return uint64(b) / ProposerIDLimit }

// Proposer returns the proposer that owns b.
func (b Ballot) Proposer() ID { return ID(uint64(b) % ProposerIDLimit) }

// Command is a client command. RequestID is the idempotency key: two commands
// with the same RequestID are the same command, and only the first copy in
// slot order counts in the log. A Command with an empty RequestID and an empty
// Value is a no-op that a new leader uses to fill a hole.
type Command struct {
	ClientID  uint64 `json:"client_id"`
	RequestID string `json:"request_id"`
	Value     string `json:"value"`
}

// Size is roughly what c costs in a message or a record, for byte budgets.
func (c Command) Size() int { return len(c.RequestID) + len(c.Value) + 24 }

// DigestBytes is the length of a digested value (Command.Digest).
const DigestBytes = 12

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Digest returns c with its value replaced by a digest of it: its length and
// its CRC-32C, DigestBytes in all. A value shorter than that is its own
// digest, so a digest is never longer than its value, a no-op stays a
// no-op, and two digests differ when their values' lengths do. It is what
// a proposer keeps of a chosen command, and what a learner sends the nodes
// that need only request IDs and slots (Message.Digests), so a 1 MiB value
// crosses the network once per learner, not once per node.
func (c Command) Digest() Command {
	if len(c.Value) < DigestBytes {
		return c
	}
	var d [DigestBytes]byte
	binary.BigEndian.PutUint64(d[:8], uint64(len(c.Value)))
	// The checksum reads the string in place: copying a 1 MiB value to
	// hash it would cost more than the hash.
	binary.BigEndian.PutUint32(d[8:], crc32.Checksum(unsafe.Slice(unsafe.StringData(c.Value), len(c.Value)), castagnoli))
	c.Value = string(d[:])
	return c
}

// IsNoop reports whether c is the no-op command.
func (c Command) IsNoop() bool { return c.RequestID == "" && c.Value == "" }

// dedupKey is the key under which c counts as a copy of an earlier command:
// its RequestID. A command without one (a no-op, or a value written with
// no request ID through a seed endpoint) is never a copy, so whether it is
// one is a function of the log alone (SPEC §8.6).
func (c Command) dedupKey() (string, bool) { return c.RequestID, c.RequestID != "" }

// Entry is a command at a slot of the log. Ballot is the ballot the entry was
// accepted at (in promises and learn notifications); it is zero when unknown.
type Entry struct {
	Slot    uint64 `json:"slot"`
	Ballot  Ballot `json:"proposal_number"`
	Command Command
}

// ChosenEntry is an entry of the chosen log as a learner or a proposer applies
// it. Dup is true when an earlier slot already holds the same RequestID; then
// FirstSlot is that earlier slot (otherwise FirstSlot == Slot). Reads skip
// no-ops and duplicates.
type ChosenEntry struct {
	Entry
	Dup       bool   `json:"dup,omitempty"`
	FirstSlot uint64 `json:"first_slot"`
}

// IsValue reports whether c is a client value of the log: not a no-op and
// not a later copy of a request.
func (c ChosenEntry) IsValue() bool { return !c.Dup && !c.Command.IsNoop() }

// MsgType is the kind of a Message.
type MsgType uint8

// The messages of the protocol, named as in Paxos Made Simple.
const (
	// MsgPrepare (proposer → acceptor): phase 1a for every slot >= Slot at Ballot.
	MsgPrepare MsgType = iota + 1
	// MsgPromise (acceptor → proposer): phase 1b. Ballot is the promised ballot,
	// Commit the acceptor's chosen watermark, Entries its accepted entries
	// from Slot on. A promise is paged: Truncated says the acceptor has more
	// after the last entry, and the candidate asks for them with another
	// MsgPrepare at the same ballot from the slot after it.
	MsgPromise
	// MsgAccept (proposer → acceptor): phase 2a for Entries at Ballot. Commit is
	// the leader's chosen watermark. An Accept with no entries and Probe != 0
	// confirms leadership for linearizable reads.
	MsgAccept
	// MsgAccepted (acceptor → proposer): phase 2b for Slots at Ballot.
	MsgAccepted
	// MsgNack (acceptor → proposer): a rejection. Ballot is the higher ballot the
	// acceptor promised.
	MsgNack
	// MsgLearn (acceptor → learner): the acceptor accepted Entries (each with its
	// ballot). Commit is the chosen watermark the acceptor knows.
	MsgLearn
	// MsgChosen (learner → proposer, client, learner): Entries are chosen;
	// Commit is the sender's contiguous chosen prefix (first unchosen slot).
	// To a proposer or a client node the values are digests (Digests).
	MsgChosen
	// MsgCatchup (learner or proposer → learner or acceptor): send me what you
	// know from Slot on. A learner answers MsgChosen, an acceptor MsgLearn.
	MsgCatchup
	// MsgHeartbeat (leader → proposers): the leader at Ballot is alive; Commit is
	// its chosen watermark.
	MsgHeartbeat
	// MsgRejoin (acceptor → proposers and acceptors): an acceptor that
	// started with empty storage asks for their state (see Acceptor).
	MsgRejoin
	// MsgRejoinState (acceptor or proposer → acceptor): the answer to
	// MsgRejoin. Ballot is the acceptor's promised ballot or the proposer's
	// own ballot, Slot one past the highest slot the acceptor accepted,
	// Commit the chosen watermark.
	MsgRejoinState
)

var msgNames = [...]string{"MsgNone", "MsgPrepare", "MsgPromise", "MsgAccept", "MsgAccepted",
	"MsgNack", "MsgLearn", "MsgChosen", "MsgCatchup", "MsgHeartbeat", "MsgRejoin", "MsgRejoinState"}

// MaxMsgType is the highest message type (for validating decoded messages).
const MaxMsgType = MsgRejoinState

func (t MsgType) String() string {
	if int(t) < len(msgNames) {
		return msgNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Message is one protocol message. The meaning of each field depends on Type
// (see the MsgType constants).
type Message struct {
	Type   MsgType `json:"type"`
	From   ID      `json:"from"`
	To     ID      `json:"to"`
	Ballot Ballot  `json:"ballot"`
	Slot   uint64  `json:"slot,omitempty"`
	Commit uint64  `json:"commit,omitempty"`
	Probe  uint64  `json:"probe,omitempty"`
	// Compact (on accepts) is the compaction point: the lowest chosen-log
	// length that the learners the leader heard lately (LearnerSilenceTicks)
	// have persisted; acceptors may forget accepted entries below it. On a
	// learner's MsgChosen it is that learner's durable log length.
	Compact uint64 `json:"compact,omitempty"`
	// Truncated (on catch-up answers) says the answer stops at its last
	// entry: the sender has more. Without it the answer covers every slot
	// from Slot on.
	Truncated bool `json:"truncated,omitempty"`
	// Force (on prepares) asks acceptors to promise even while they hear a
	// live leader: an election someone asked for (force_election).
	Force bool `json:"force,omitempty"`
	// Digests (on MsgChosen) says the entries' values are digests
	// (Command.Digest), not values: a learner sends proposers and client
	// nodes only what they use, request IDs and slots.
	Digests bool     `json:"digests,omitempty"`
	Slots   []uint64 `json:"slots,omitempty"`
	Entries []Entry  `json:"entries,omitempty"`
}

// HardState is the state a role must persist before the messages of the same
// Ready are sent. A zero field means "unchanged".
type HardState struct {
	// Round is the highest round a proposer used (proposer).
	Round uint64
	// Promised is the highest ballot an acceptor promised (acceptor).
	Promised Ballot
	// Commit is the chosen watermark an acceptor was told (acceptor): every
	// slot below it is chosen. Persisting it is optional for safety (a
	// restart with an older one only makes the next promises longer), so it
	// rides on writes the acceptor makes anyway.
	Commit uint64
	// Rejoin is the outcome of an acceptor's rejoin rule, set once when its
	// storage was new (see Acceptor): the rejoin slot plus one (1 for a new
	// cluster). Zero means unchanged.
	Rejoin uint64
}

// RejoinPending is what new acceptor storage holds as its rejoin value
// (AcceptorStorage.Rejoin) until the rejoin rule has decided: a new data
// dir and a lost disk look the same, so both follow the rule.
const RejoinPending = ^uint64(0)

// IsEmpty reports whether hs holds nothing to persist.
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// Result answers a proposal: the slot of the first copy of RequestID in the
// chosen log, or an error (ErrNotLeader, ErrDropped) when this proposer can no
// longer see it through. An error does not mean the command was not chosen.
type Result struct {
	RequestID string
	Slot      uint64
	Err       error
}

// ReadState answers Proposer.ReadIndex: a linearizable read that started
// before this leadership was confirmed must see every slot < Index.
type ReadState struct {
	Ctx   uint64
	Index uint64
	Err   error
}

// Ready is one batch of effects. The caller must, in this order: persist
// HardState, Accepted and Chosen durably; then send Messages; then deliver
// Results, ReadStates and Applied; then call Advance.
type Ready struct {
	HardState HardState
	// Accepted are entries an acceptor accepted (persist, overwriting the slot).
	Accepted []Entry
	// Chosen are entries a learner appends to its contiguous chosen log, in slot
	// order (persist).
	Chosen []ChosenEntry
	// Compact, when non-zero, lets an acceptor delete its accepted entries
	// below this slot: a learner has persisted them (after persisting
	// the rest of this Ready; it is safe to do at any later time too).
	Compact uint64
	// DedupFloor, when non-zero, lets a proposer or learner forget the
	// request IDs of first copies below this slot: they are outside the
	// dedup window of every later slot (Config.DedupWindow). A proposer may
	// delete its applied index's records below it too. Forgetting is safe
	// at any later time, and keeping them longer changes nothing.
	DedupFloor uint64

	Messages []Message

	Results    []Result
	ReadStates []ReadState
	// Applied are chosen entries a proposer applied, in slot order, with
	// their values digested (Command.Digest): the caller adds them to its
	// applied index (ProposerStorage), lazily if it likes; reads of the
	// index must see them once Advance is called.
	Applied []ChosenEntry
}

// IsEmpty reports whether rd holds no effect.
func (rd *Ready) IsEmpty() bool {
	return rd.HardState.IsEmpty() && len(rd.Accepted) == 0 && len(rd.Chosen) == 0 && rd.Compact == 0 && rd.DedupFloor == 0 &&
		len(rd.Messages) == 0 && len(rd.Results) == 0 && len(rd.ReadStates) == 0 && len(rd.Applied) == 0
}

// Errors reported in Results, ReadStates and by Propose.
var (
	// ErrNotLeader: this proposer is not the leader (it may know who is).
	ErrNotLeader = errors.New("replog: not the leader")
	// ErrDropped: the proposal was dropped (queue full or leadership lost).
	ErrDropped = errors.New("replog: proposal dropped")
	// ErrInvalid: the command is not a valid client command.
	ErrInvalid = errors.New("replog: invalid command")
)
