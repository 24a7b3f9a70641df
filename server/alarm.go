package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
)

// Alarms (SPEC §9) are admission control: when a bound that protects the
// disk or memory is passed, new writes are refused with 503 and the alarm's
// name, reads keep working, and the alarm clears by itself when the cause
// is gone. They live here, in the server; replog's safety logic knows
// nothing of them.
//
//   - LEARNER_LAG: a proposer's chosen log is more than MaxLearnerLag slots
//     ahead of the compaction point (replog.Status: Commit - Compact): the
//     slowest durable log among the learners heard within
//     LearnerSilenceTicks. Acceptors keep every entry above it, so the lag
//     is what they cannot compact. A learner silent longer (dead) counts no
//     more: acceptors compact past it and it catches up from the other
//     learner when it returns. A learner this
//     proposer has not heard from since it started counts as at slot 0 once
//     learnerGrace has passed (the proposer asks it meanwhile). Raised and
//     enforced by each proposer on its own view; a follower forwards to the
//     leader, which checks again.
//   - NOSPACE: an acceptor's data (bbolt file and write-ahead file) is over
//     QuotaBytes, the data dir's filesystem has less than MinFreeBytes free,
//     or a write failed because the disk is full (then the acceptor also
//     stops taking part until a write succeeds again: driver.go). Each
//     acceptor raises it on itself and tells the others through gossip
//     metadata. Proposers refuse writes when the acceptors without NOSPACE
//     (as gossip reports them) are fewer than a quorum: one full acceptor
//     leaves the others to carry on, and the alarm is listed all the same.
const (
	AlarmLearnerLag = "LEARNER_LAG"
	AlarmNoSpace    = "NOSPACE"
)

// Alarms lists every alarm name, in the order they are reported.
var Alarms = []string{AlarmLearnerLag, AlarmNoSpace}

// AlarmError is a write refused because an alarm is active. It is
// ErrUnavailable (503); the answer names the alarm ("alarm": ...).
type AlarmError struct {
	Alarm  string // AlarmLearnerLag or AlarmNoSpace
	Reason string // what passed which bound
}

func (e *AlarmError) Error() string { return e.Reason }

// Unwrap makes an AlarmError an ErrUnavailable.
func (e *AlarmError) Unwrap() error { return ErrUnavailable }

// alarmOf returns the alarm that refused err, or "".
func alarmOf(err error) string {
	var ae *AlarmError
	if errors.As(err, &ae) {
		return ae.Alarm
	}
	return ""
}

// alarm is one active alarm as /status, /view-logs and /health list it.
type alarm = api.Alarm

// learnerGrace is how long a proposer that started lets a learner it has
// not heard from go unreported before it counts it at slot 0: a few of the
// rounds in which it asks the learners (replog's PollTicks).
func (n *node) learnerGrace() time.Duration {
	poll := n.cfg.Core.PollTicks
	if poll <= 0 {
		poll = replog.DefaultConfig().PollTicks
	}
	return 3 * time.Duration(poll) * n.cfg.Tick
}

// learnerLag returns how many slots this proposer's chosen log is ahead of
// the slowest learner's durable log; ok is false while that is not known
// yet (a learner unheard of within learnerGrace of the start).
func (p *proposerRole) learnerLag() (lag uint64, ok bool) {
	st := p.status()
	if st.LearnersHeard < len(p.n.cfg.Learners) && time.Since(p.n.started) < p.n.learnerGrace() {
		return 0, false
	}
	if st.Commit <= st.Compact {
		return 0, true
	}
	return st.Commit - st.Compact, true
}

// ownAlarms lists the alarms this node raises itself.
func (s *Server) ownAlarms() []alarm { return s.role.alarms() }

// alarms: a proposer raises LEARNER_LAG while the slowest learner heard
// lately (LearnerSilenceTicks) is too far behind.
func (p *proposerRole) alarms() []alarm {
	lag, ok := p.learnerLag()
	if !ok || lag <= p.n.cfg.MaxLearnerLag {
		return nil
	}
	st := p.status()
	return []alarm{{Alarm: AlarmLearnerLag, Node: p.n.cfg.Name, Reason: fmt.Sprintf(
		"the slowest learner heard lately has its durable log %d slots behind the chosen log (it has %d of %d; %d of %d learners reported), above MAX_LEARNER_LAG %d",
		lag, st.Compact, st.Commit, st.LearnersHeard, len(p.n.cfg.Learners), p.n.cfg.MaxLearnerLag)}}
}

// alarms: an acceptor raises NOSPACE while its disk is short of room.
func (a *acceptorRole) alarms() []alarm {
	if r := a.space.Load(); r != nil {
		return []alarm{{Alarm: AlarmNoSpace, Node: a.n.cfg.Name, Reason: *r}}
	}
	return nil
}

func (l *learnerRole) alarms() []alarm { return nil }

func (c *clientRole) alarms() []alarm { return nil }

// alarms lists the alarms this node knows: its own, then those that the
// other live nodes report in gossip metadata.
func (s *Server) alarms() []alarm {
	out := s.ownAlarms()
	if s.gossip == nil {
		return out
	}
	for _, n := range s.gossip.Nodes() {
		if n.ID == s.cfg.ID || n.State != gossip.Alive {
			continue
		}
		for _, a := range metaAlarms(n.Meta) {
			out = append(out, alarm{Alarm: a, Node: n.Name, Reason: "reported by " + n.Name + " (gossip)"})
		}
	}
	return out
}

// ownAlarmNames are the names of ownAlarms, comma-separated, for gossip
// metadata.
func (s *Server) ownAlarmNames() string {
	var out []string
	for _, a := range s.ownAlarms() {
		out = append(out, a.Alarm)
	}
	return strings.Join(out, ",")
}

// metaAlarms returns the alarms a node's gossip metadata names.
func metaAlarms(m gossip.Meta) []string {
	if m.Alarms == "" {
		return nil
	}
	return strings.Split(m.Alarms, ",")
}

// admitWrite returns an AlarmError when an alarm refuses new writes at this
// proposer, nil otherwise.
func (p *proposerRole) admitWrite() error {
	for _, a := range p.alarms() {
		if a.Alarm == AlarmLearnerLag {
			return &AlarmError{Alarm: a.Alarm, Reason: "alarm " + a.Alarm + ": writes are refused until the learners catch up (reads still work): " + a.Reason}
		}
	}
	if p.n.gossip == nil {
		return nil
	}
	var full []string
	for _, n := range p.n.gossip.Nodes() {
		if Role(n.Role) == RoleAcceptor && n.State == gossip.Alive && slices.Contains(metaAlarms(n.Meta), AlarmNoSpace) {
			full = append(full, n.Name)
		}
	}
	if quorum := replog.Quorum(len(p.n.cfg.Acceptors)); len(full) > 0 && len(p.n.cfg.Acceptors)-len(full) < quorum {
		return &AlarmError{Alarm: AlarmNoSpace, Reason: fmt.Sprintf(
			"alarm %s: writes are refused (reads still work): acceptors %v are out of space, fewer than a quorum (%d of %d) have room; free space or raise QUOTA_BYTES",
			AlarmNoSpace, full, quorum, len(p.n.cfg.Acceptors))}
	}
	return nil
}

// spaceCheckEvery is how often an acceptor checks its data size and free
// space.
const spaceCheckEvery = time.Second

// spaceMonitor raises and clears an acceptor's NOSPACE alarm.
type spaceMonitor struct {
	n      *node
	size   func() int64 // the acceptor's data in bytes
	statfs func(path string, st *syscall.Statfs_t) error
	last   time.Time
	// diskFull is set while a write failed with a full disk and no write
	// has succeeded since (driver.go).
	diskFull atomic.Pointer[string]
}

// check updates the alarm (held in reason) from the data size, the free
// space, and the last write; it tells gossip when the alarm changes. It
// runs on the acceptor's loop, at most once per spaceCheckEvery.
func (m *spaceMonitor) check(reason *atomic.Pointer[string], now time.Time) {
	if now.Sub(m.last) < spaceCheckEvery {
		return
	}
	m.last = now
	var why string
	cfg := &m.n.cfg // not a copy: tests change other fields of a running node's Config
	if r := m.diskFull.Load(); r != nil {
		why = *r
	} else if size := m.size(); size > cfg.QuotaBytes {
		why = fmt.Sprintf("data is %d bytes, above QUOTA_BYTES %d", size, cfg.QuotaBytes)
	} else {
		var st syscall.Statfs_t
		if err := m.statfs(cfg.DataDir, &st); err == nil {
			if free := int64(st.Bavail) * int64(st.Bsize); free < cfg.MinFreeBytes {
				why = fmt.Sprintf("data dir %s has %d bytes free, below MIN_FREE_BYTES %d", cfg.DataDir, free, cfg.MinFreeBytes)
			}
		}
	}
	prev := reason.Load()
	switch {
	case why == "" && prev == nil:
		return
	case why == "":
		reason.Store(nil)
		m.n.log.Info("alarm cleared", "alarm", AlarmNoSpace)
	case prev == nil:
		reason.Store(&why)
		m.n.log.Warn("alarm raised", "alarm", AlarmNoSpace, "reason", why)
	default:
		reason.Store(&why) // the numbers moved: no news for gossip
		return
	}
	if m.n.gossip != nil {
		m.n.gossip.UpdateMeta()
	}
}
