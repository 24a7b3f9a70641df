package replog

import (
	"fmt"
	"math"
	"slices"
)

// Learner builds the chosen log. A slot is chosen when a quorum of distinct
// acceptors accepted it at the same ballot (SPEC §8.4); chosen entries join the
// log only as a contiguous prefix (Ready.Chosen, persisted in slot order), and
// a learner that sees a hole asks the other learners and the acceptors for it.
// Duplicates of a request (retries) are marked in the log: the first copy in
// slot order wins, so every learner agrees (SPEC §8.6), within the dedup
// window (Config.DedupWindow).
type Learner struct {
	cfg     Config
	storage LearnerStorage

	// commit is the first slot not in the log (persisted or in this Ready).
	commit uint64
	// durable is the first slot not durably stored (fsynced): the log
	// length this learner reports for compaction.
	durable, toldDurable uint64
	// votes tallies acceptances for slots >= commit, by slot; each slot has
	// one tally per ballot (almost always just one).
	votes map[uint64][]tally
	// chosen holds chosen entries above a hole, waiting to join the log.
	chosen map[uint64]Command
	// hint is the highest chosen watermark anyone told us about: every slot
	// below it is chosen (it comes only from Commit fields, which are facts).
	hint uint64
	// heard: an acceptor or another learner has told this learner about
	// the chosen log since it started (Heard).
	heard bool
	// notify holds the entries that joined the log since the last tick.
	notify []Entry
	// quietBelow: the slots below it came from another learner, which
	// counted their quorums and told Notify then; this learner does not
	// tell again what it catches up (the proposers fetch what they miss
	// themselves).
	quietBelow uint64
	// firstInReady indexes the requests of rd.Chosen (not yet in storage).
	firstInReady map[string]uint64

	idle     int // ticks since the log last grew
	sinceAsk int // ticks since the last catch-up request

	// Recovery of slots known chosen that no single ballot shows as chosen
	// (all learners missed the notifications, and later leaders overwrote
	// part of the quorum). askSeq numbers the catch-up rounds sent to the
	// acceptors; only answers to the current round count, because they were
	// read after the learner knew the slots below askHint were chosen. It
	// starts at a random number (Config.Rand): rounds of earlier lives of
	// this learner must not be taken for this one's.
	askSeq  uint64
	askHint uint64
	answers map[ID]acceptorState

	rd Ready
}

// acceptorState is one acceptor's answer to a catch-up round: its accepted
// entries for the slots in [from, through).
type acceptorState struct {
	entries       map[uint64]Entry
	from, through uint64
}

type tally struct {
	ballot Ballot
	cmd    Command
	from   []ID
}

var _ Node = (*Learner)(nil)

// NewLearner restores a learner from its storage.
func NewLearner(cfg Config, s LearnerStorage) (*Learner, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := s.Commit()
	if err != nil {
		return nil, err
	}
	l := &Learner{cfg: cfg, storage: s, commit: c, hint: c, durable: c,
		votes: map[uint64][]tally{}, chosen: map[uint64]Command{}, firstInReady: map[string]uint64{},
		// Catch-up rounds are numbered from a random start, so an answer
		// to an earlier life of this learner (still queued at an acceptor)
		// does not count in this one's round of the same number.
		askSeq: cfg.Rand.Uint64()}
	// A restarted learner asks for news at its first tick.
	l.sinceAsk = cfg.PollTicks
	return l, nil
}

// Commit returns the first slot not in the log: slots below it are chosen and
// stored (or in the current Ready).
func (l *Learner) Commit() uint64 { return l.commit }

// Gaps returns how many slots are known to be missing below the highest slot
// this learner heard of.
func (l *Learner) Gaps() uint64 {
	if l.hint > l.commit {
		return l.hint - l.commit
	}
	return 0
}

// Heard reports whether an acceptor or another learner has told this
// learner about the chosen log since it started. Until then Gaps cannot
// know what it misses: a learner that restarted knows only its own log.
func (l *Learner) Heard() bool { return l.heard }

// Step handles MsgLearn (from acceptors), MsgChosen (from learners) and
// MsgCatchup (from learners and proposers).
func (l *Learner) Step(m Message) error {
	switch m.Type {
	case MsgLearn:
		if !l.cfg.isAcceptor(m.From) {
			return nil // only the configured acceptors vote (SPEC §9)
		}
		l.hint, l.heard = max(l.hint, m.Commit), true
		for _, e := range m.Entries {
			l.vote(m.From, e)
		}
		if m.Probe != 0 && m.Probe == l.askSeq {
			l.recoverFrom(m)
		}
		return l.advance()
	case MsgChosen:
		if m.From == l.cfg.ID || !l.cfg.isLearner(m.From) {
			return nil // chosen entries come from learners, who counted the quorums
		}
		l.hint, l.heard = max(l.hint, m.Commit), true
		for _, e := range m.Entries {
			l.choose(e.Slot, e.Command)
			l.quietBelow = max(l.quietBelow, e.Slot+1)
		}
		if err := l.advance(); err != nil {
			return err
		}
		if m.Truncated && l.commit < m.Commit {
			// A full catch-up answer: ask the same peer for the next batch now.
			l.send(Message{Type: MsgCatchup, To: m.From, Slot: l.commit})
			l.sinceAsk = 0
		}
		return nil
	case MsgCatchup:
		return l.answerCatchup(m)
	}
	return nil
}

func (l *Learner) vote(from ID, e Entry) {
	if e.Slot < l.commit || e.Ballot == 0 {
		return
	}
	if _, done := l.chosen[e.Slot]; done {
		return
	}
	ts := l.votes[e.Slot]
	i := slices.IndexFunc(ts, func(t tally) bool { return t.ballot == e.Ballot })
	if i < 0 {
		i = len(ts)
		ts = append(ts, tally{ballot: e.Ballot, cmd: e.Command, from: make([]ID, 0, len(l.cfg.Acceptors))})
		l.votes[e.Slot] = ts
	}
	t := &ts[i]
	if slices.Contains(t.from, from) {
		return
	}
	t.from = append(t.from, from)
	if len(t.from) >= l.cfg.Quorum() {
		l.choose(e.Slot, t.cmd)
	}
}

// recoverFrom records an acceptor's answer to the current catch-up round and
// resolves the slots it can. For a slot known to be chosen, the accepted entry
// with the highest ballot among any quorum of acceptors holds the chosen
// value: the quorum meets the one that chose it, and every proposal at or
// above the choosing ballot carries the chosen value (Paxos Made Simple,
// P2c). Answers to this round were read after the slots below askHint were
// known chosen, so none of them predates the choice.
func (l *Learner) recoverFrom(m Message) {
	st := acceptorState{entries: make(map[uint64]Entry, len(m.Entries)), from: m.Slot, through: l.askHint}
	if m.Truncated && len(m.Entries) > 0 {
		st.through = min(st.through, m.Entries[len(m.Entries)-1].Slot+1)
	}
	for _, e := range m.Entries {
		st.entries[e.Slot] = e
	}
	l.answers[m.From] = st
	if len(l.answers) < l.cfg.Quorum() {
		return
	}
	for s := l.commit; s < min(l.askHint, l.commit+uint64(l.cfg.CatchupLimit)); s++ {
		if _, done := l.chosen[s]; done {
			continue
		}
		var best Entry
		n := 0
		for _, a := range l.answers {
			if s < a.from || s >= a.through {
				continue
			}
			n++
			if e, ok := a.entries[s]; ok && e.Ballot > best.Ballot {
				best = e
			}
		}
		if n < l.cfg.Quorum() || best.Ballot == 0 {
			continue
		}
		l.choose(s, best.Command)
	}
}

func (l *Learner) choose(slot uint64, cmd Command) {
	if slot < l.commit {
		return
	}
	if prev, ok := l.chosen[slot]; ok && prev != cmd {
		panic(fmt.Sprintf("replog: learner %d: slot %d chosen twice: %+v and %+v", l.cfg.ID, slot, prev, cmd))
	}
	l.chosen[slot] = cmd
	delete(l.votes, slot)
	// hint is not raised: a chosen slot does not make the slots below it chosen
	// (a leader may have died with them in flight).
}

// advance moves the contiguous chosen prefix into the log and tells Notify.
func (l *Learner) advance() error {
	start := len(l.rd.Chosen)
	for {
		cmd, ok := l.chosen[l.commit]
		if !ok {
			break
		}
		ce := ChosenEntry{Entry: Entry{Slot: l.commit, Command: cmd}, FirstSlot: l.commit}
		if r, ok := cmd.dedupKey(); ok {
			first, dup, err := l.firstSlot(r)
			if err != nil {
				return err
			}
			if dup && l.cfg.isCopy(first, l.commit) {
				ce.Dup, ce.FirstSlot = true, first
			} else {
				l.firstInReady[r] = l.commit
			}
		}
		l.rd.Chosen = append(l.rd.Chosen, ce)
		delete(l.chosen, l.commit)
		delete(l.votes, l.commit)
		l.commit++
	}
	if len(l.rd.Chosen) == start {
		return nil
	}
	l.rd.DedupFloor = l.cfg.dedupFloor(l.commit)
	l.idle = 0
	for _, ce := range l.rd.Chosen[start:] {
		if ce.Slot >= l.quietBelow {
			l.notify = append(l.notify, ce.Entry)
		}
	}
	return nil
}

// flushNotify tells Notify what joined the log since the last tick: one
// message per node per tick, however many slots were chosen.
func (l *Learner) flushNotify() {
	if len(l.notify) == 0 {
		if l.durable > l.toldDurable {
			// Nothing new, but more is durable: tell the proposers, who
			// compute the compaction point from it.
			for _, id := range l.cfg.Proposers {
				l.send(Message{Type: MsgChosen, To: id, Commit: l.commit, Compact: l.durable})
			}
			l.toldDurable = l.durable
		}
		return
	}
	l.toldDurable = l.durable
	notes := digests(l.notify)
	for len(notes) > 0 {
		n := l.cfg.fit(notes, l.cfg.CatchupLimit)
		for _, id := range l.cfg.Notify {
			l.send(Message{Type: MsgChosen, To: id, Commit: l.commit, Compact: l.durable, Entries: notes[:n:n], Digests: true})
		}
		notes = notes[n:]
	}
	l.notify = nil
}

// digests returns entries with their values digested (Command.Digest), in
// place.
func digests(entries []Entry) []Entry {
	for i := range entries {
		entries[i].Command = entries[i].Command.Digest()
	}
	return entries
}

func (l *Learner) firstSlot(req string) (uint64, bool, error) {
	if s, ok := l.firstInReady[req]; ok {
		return s, true, nil
	}
	return l.storage.FirstSlot(req)
}

// answerCatchup sends the chosen entries from m.Slot on, as MsgChosen.
func (l *Learner) answerCatchup(m Message) error {
	// One entry past both bounds, so fit sees where the answer ends; what
	// the Ready has not persisted yet follows the log only when the read
	// reached the log's end.
	limit, maxBytes := l.cfg.CatchupLimit+1, l.cfg.MaxMsgBytes+1
	stored, err := l.storage.ChosenBytes(m.Slot, limit, maxBytes)
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, len(stored))
	next, size := m.Slot, 0
	for _, ce := range stored {
		entries = append(entries, ce.Entry)
		next, size = ce.Slot+1, size+ce.Command.Size()
	}
	if cutShort(len(stored), size, limit, maxBytes) {
		next = math.MaxUint64 // the read stopped before the log's end: nothing of the Ready follows
	}
	for _, ce := range l.rd.Chosen {
		if len(entries) > l.cfg.CatchupLimit {
			break
		}
		if ce.Slot >= next {
			entries = append(entries, ce.Entry)
		}
	}
	n := l.cfg.fit(entries, l.cfg.CatchupLimit)
	answer := Message{Type: MsgChosen, To: m.From, Commit: l.commit, Compact: l.durable, Entries: entries[:n], Truncated: n < len(entries)}
	if !l.cfg.isLearner(m.From) {
		// A proposer asked: it needs request IDs and slots. The answer
		// keeps the pages of values (the same Truncated), in fewer bytes.
		answer.Entries, answer.Digests = digests(answer.Entries), true
	}
	l.send(answer)
	return nil
}

// Tick sends the notifications batched since the last tick, and asks for
// missing slots: from everyone when a hole is known and the log
// has not grown for RetryTicks, and from the other learners every PollTicks
// when idle (a learner that was down may not know what it missed).
func (l *Learner) Tick() {
	l.flushNotify()
	l.idle++
	l.sinceAsk++
	stuck := l.hint > l.commit || len(l.chosen) > 0
	if (stuck && l.idle >= l.cfg.RetryTicks && l.sinceAsk >= l.cfg.RetryTicks) || l.sinceAsk >= l.cfg.PollTicks {
		l.askAll()
	}
}

// askAll asks the other learners and the acceptors for what this learner is
// missing; the acceptors' answers also carry the chosen watermark.
func (l *Learner) askAll() {
	l.sinceAsk = 0
	for _, id := range l.cfg.Learners {
		if id != l.cfg.ID {
			l.send(Message{Type: MsgCatchup, To: id, Slot: l.commit})
		}
	}
	l.askSeq++
	if l.askSeq == 0 {
		l.askSeq++ // 0 means "no round" in a message
	}
	l.askHint = l.hint
	l.answers = map[ID]acceptorState{}
	for _, id := range l.cfg.Acceptors {
		l.send(Message{Type: MsgCatchup, To: id, Slot: l.commit, Probe: l.askSeq})
	}
}

func (l *Learner) send(m Message) {
	m.From = l.cfg.ID
	l.rd.Messages = append(l.rd.Messages, m)
}

// HasReady reports whether there are effects to handle.
func (l *Learner) HasReady() bool { return !l.rd.IsEmpty() }

// Ready returns the pending effects; see Node.
func (l *Learner) Ready() Ready { return l.rd }

// Synced tells the learner that the log up to (not including) slot commit
// is durable; with LazySync the caller calls it after each fsync.
func (l *Learner) Synced(commit uint64) { l.durable = max(l.durable, min(commit, l.commit)) }

// Advance clears the effects returned by the last Ready.
func (l *Learner) Advance() {
	if !l.cfg.LazySync {
		l.durable = l.commit // the caller fsynced the Ready
	}
	l.rd = Ready{}
	clear(l.firstInReady)
}
