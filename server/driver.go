package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// driver runs one replog role: it owns the state machine on a single
// goroutine and turns its Ready batches into effects in the documented order:
// persist (fsync), then send, then apply. Everything that touches the state
// machine goes through do, so inputs that arrive while a batch is being
// persisted are handled together in the next batch (group commit).
type driver struct {
	core replog.Node
	loopHooks
	tick time.Duration
	log  *slog.Logger
	// trace records what every Ready does (nil: nothing).
	trace *traceRing

	inbox chan func()
	// inboxBytes is the encoded size of the messages queued in inbox
	// (step): at most maxInboxBytes.
	inboxBytes atomic.Int64

	// saving is how long the saves of the current loop iteration took;
	// slowLogged is when a slow iteration was last logged (slowLoop).
	saving     time.Duration
	slowLogged time.Time

	mu     sync.Mutex
	failed error // set when persisting failed: the node stops taking part
	paused error // set while a full disk keeps the node out (diskFull)
}

// inboxSize bounds the work queued for the loop; callers that find it full
// get ErrUnavailable (backpressure) instead of unbounded latency.
const inboxSize = 8192

// maxInboxBytes bounds the messages queued for the loop in bytes (encoded),
// besides inboxSize in items: 8,192 batches of values could be gigabytes.
// Past it a batch is refused (ErrUnavailable: the stream drops it, and the
// protocol sends it again); the first batch always goes in. 16 MiB holds
// the largest batch of each of four peers (maxPeerQueueBytes): a learner
// hears three acceptors and the other learner.
const maxInboxBytes = 16 << 20

// loopHooks are what a role does with each Ready of its core, and around
// it; the role gives them to newDriver.
type loopHooks struct {
	save  func(rd *replog.Ready) error
	send  func(msgs []replog.Message)
	apply func(rd *replog.Ready)
	// observe, when set, runs after every loop iteration (state snapshots:
	// a step may change state without producing a Ready).
	observe func()
	// onTick, when set, runs on the loop at every tick, after Tick.
	onTick func()
	// diskFull, when set, is told of a save that failed because the disk
	// is full (storage.ErrDiskFull); if it returns true the node pauses
	// instead of failing for good: it refuses work and sends nothing until
	// resume (the caller rebuilds the core from storage first, since the
	// core believes the failed batch persisted).
	diskFull func(err error) bool
}

// newDriver returns the loop of core, which ticks every tick and handles
// each Ready with h; trace, when set, records what every Ready does.
func newDriver(core replog.Node, h loopHooks, tick time.Duration, log *slog.Logger, trace *traceRing) *driver {
	return &driver{core: core, loopHooks: h, tick: tick, log: log, trace: trace, inbox: make(chan func(), inboxSize)}
}

// do queues f to run on the loop with the state machine. It does not wait.
func (d *driver) do(f func()) error {
	if err := d.err(); err != nil {
		return err
	}
	select {
	case d.inbox <- f:
		return nil
	default:
		return ErrUnavailable
	}
}

// call runs f on the loop and waits for it (or ctx).
func (d *driver) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	if err := d.do(func() { f(); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ErrTimeout
	}
}

// step queues messages for the state machine, within maxInboxBytes.
func (d *driver) step(msgs []replog.Message) error {
	size := int64(0)
	for i := range msgs {
		size += int64(encodedSize(&msgs[i]))
	}
	if queued := d.inboxBytes.Add(size); queued > maxInboxBytes && queued != size {
		d.inboxBytes.Add(-size)
		return ErrUnavailable
	}
	err := d.do(func() {
		d.inboxBytes.Add(-size)
		for _, m := range msgs {
			if err := d.core.Step(m); err != nil {
				d.fail(err)
				return
			}
		}
	})
	if err != nil {
		d.inboxBytes.Add(-size)
	}
	return err
}

func (d *driver) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed != nil {
		return d.failed
	}
	return d.paused
}

// pause keeps the node out of the protocol until resume (a full disk).
func (d *driver) pause(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused == nil {
		d.log.Error("disk full: this node stops taking part until a write succeeds again", "err", err)
		d.paused = fmt.Errorf("%w (not taking part until a write succeeds again)", err)
	}
}

// resume lets a paused node take part again with core, rebuilt from
// storage. It runs on the loop.
func (d *driver) resume(core replog.Node) {
	d.core = core
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paused = nil
	d.log.Info("disk has room again: this node takes part again")
}

func (d *driver) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed == nil {
		d.log.Error("storage failed: this node stops taking part in the protocol", "err", err)
		d.failed = err
	}
}

// ErrShuttingDown is what a node answers while it stops.
var ErrShuttingDown = fmt.Errorf("%w: node shutting down", ErrUnavailable)

// stop refuses new work from now on (the node is shutting down).
func (d *driver) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed == nil {
		d.failed = ErrShuttingDown
	}
}

// run is the loop; it returns when ctx is done.
func (d *driver) run(ctx context.Context) {
	t := time.NewTicker(d.tick)
	defer t.Stop()
	for {
		var start time.Time
		select {
		case <-ctx.Done():
			return
		case f := <-d.inbox:
			start = time.Now()
			d.safely(f)
			// Take everything already queued into this batch.
			for drained := 0; drained < inboxSize; drained++ {
				select {
				case f := <-d.inbox:
					d.safely(f)
					continue
				default:
				}
				break
			}
		case <-t.C:
			start = time.Now()
			d.safely(d.core.Tick)
			if d.onTick != nil {
				d.safely(d.onTick)
			}
		}
		d.saving = 0
		d.safely(d.flush)
		if d.observe != nil {
			d.observe()
		}
		d.slow(start)
	}
}

// slowLoopTicks: a loop iteration that takes this many ticks is logged
// (at most once per slowLoopLogEvery). Nothing else runs on the loop
// meanwhile: a leader sends no heartbeat and no accept, and one busy for
// half an election timeout (replog.Config.ElectionTicks) loses its
// acceptors' support, so a follower's campaign can depose it.
const (
	slowLoopTicks    = 4
	slowLoopLogEvery = 5 * time.Second
)

// slow logs the loop iteration that started at start when it took
// slowLoopTicks ticks or more, with how much of it went to saving.
func (d *driver) slow(start time.Time) {
	now := time.Now()
	took := now.Sub(start)
	if took < slowLoopTicks*d.tick || now.Sub(d.slowLogged) < slowLoopLogEvery {
		return
	}
	d.slowLogged = now
	d.log.Warn("the node's loop was busy: it sent and received nothing meanwhile",
		"took", took.Round(time.Millisecond), "saving", d.saving.Round(time.Millisecond),
		"ticks", int(took/d.tick))
}

// safely runs f; a panic (the state machine found a broken safety
// invariant, e.g. two values chosen for one slot) stops this node's part in
// the protocol and is reported by /health, instead of killing the process
// and losing the evidence.
func (d *driver) safely(f func()) {
	defer func() {
		if r := recover(); r != nil {
			d.fail(fmt.Errorf("safety invariant broken: %v", r))
		}
	}()
	f()
}

// flush handles the Ready batches: persist, send, apply, advance.
func (d *driver) flush() {
	for d.core.HasReady() {
		rd := d.core.Ready()
		if d.err() != nil {
			d.core.Advance() // a failed node sends nothing it cannot back
			continue
		}
		d.trace.persist(TracePersistStart, &rd)
		saveStart := time.Now()
		err := d.save(&rd)
		d.saving += time.Since(saveStart)
		if err != nil {
			if errors.Is(err, storage.ErrDiskFull) && d.diskFull != nil && d.diskFull(err) {
				d.pause(err)
			} else {
				d.fail(err)
			}
			d.core.Advance()
			continue
		}
		d.trace.persist(TracePersistEnd, &rd)
		d.trace.messages(TraceSend, rd.Messages)
		d.send(rd.Messages)
		d.trace.applied(&rd)
		d.apply(&rd)
		d.core.Advance()
	}
}

// syncBeside returns an onTick that runs sync on its own goroutine, at most
// one at a time, so the loop goes on while the disk works; a failed sync
// is given to fail.
func syncBeside(sync func() error, fail func(error)) func() {
	var running atomic.Bool
	return func() {
		if !running.CompareAndSwap(false, true) {
			return
		}
		go func() {
			defer running.Store(false)
			if err := sync(); err != nil {
				fail(err)
			}
		}()
	}
}
