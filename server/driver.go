package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// driver runs one replog role: it owns the state machine on a single
// goroutine and turns its Ready batches into effects in the documented order:
// persist (fsync), then send, then apply. Everything that touches the state
// machine goes through do, so inputs that arrive while a batch is being
// persisted are handled together in the next batch (group commit).
type driver struct {
	core  replog.Node
	save  func(rd *replog.Ready) error
	send  func(msgs []replog.Message)
	apply func(rd *replog.Ready)
	// observe, when set, runs after every loop iteration (state snapshots:
	// a step may change state without producing a Ready).
	observe func()
	// onTick, when set, runs on the loop at every tick, after Tick.
	onTick func()
	tick   time.Duration
	log    *slog.Logger

	inbox chan func()

	mu     sync.Mutex
	failed error // set when persisting failed: the node stops taking part
}

// inboxSize bounds the work queued for the loop; callers that find it full
// get ErrUnavailable (backpressure) instead of unbounded latency.
const inboxSize = 8192

func newDriver(core replog.Node, tick time.Duration, log *slog.Logger) *driver {
	return &driver{core: core, tick: tick, log: log, inbox: make(chan func(), inboxSize)}
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

// step queues messages for the state machine.
func (d *driver) step(msgs []replog.Message) error {
	return d.do(func() {
		for _, m := range msgs {
			if err := d.core.Step(m); err != nil {
				d.fail(err)
				return
			}
		}
	})
}

func (d *driver) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
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
		select {
		case <-ctx.Done():
			return
		case f := <-d.inbox:
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
			d.safely(d.core.Tick)
			if d.onTick != nil {
				d.safely(d.onTick)
			}
		}
		d.safely(d.flush)
		if d.observe != nil {
			d.observe()
		}
	}
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
		if err := d.save(&rd); err != nil {
			d.fail(err)
			d.core.Advance()
			continue
		}
		d.send(rd.Messages)
		d.apply(&rd)
		d.core.Advance()
	}
}
