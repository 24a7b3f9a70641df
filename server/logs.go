package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogRing keeps the most recent log lines for /view-logs.
type LogRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// NewLogRing returns a ring of n lines.
func NewLogRing(n int) *LogRing { return &LogRing{lines: make([]string, n)} }

// Lines returns the lines, oldest first.
func (r *LogRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

func (r *LogRing) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// Handler returns a slog handler that writes to next and also keeps each
// record, formatted as text, in the ring.
func (r *LogRing) Handler(next slog.Handler, level slog.Leveler) slog.Handler {
	return &ringHandler{next: next, ring: r, level: level}
}

type ringHandler struct {
	next  slog.Handler
	ring  *LogRing
	level slog.Leveler
	attrs []slog.Attr
	group string
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() || h.next.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.level.Level() {
		var buf bytes.Buffer
		th := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
		var hh slog.Handler = th
		if len(h.attrs) > 0 {
			hh = hh.WithAttrs(h.attrs)
		}
		if h.group != "" {
			hh = hh.WithGroup(h.group)
		}
		_ = hh.Handle(ctx, rec)
		h.ring.add(strings.TrimRight(buf.String(), "\n"))
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = name
	c.next = h.next.WithGroup(name)
	return &c
}

// warnEvery is how often a node logs one kind of fault of one peer (a
// refused frame, a forged sender): once, then at most once per warnEvery.
const warnEvery = 10 * time.Second

// logLimiter lets one line per key through every interval, so a peer that
// keeps sending what a node refuses cannot flood its log. Keys name a peer
// of the topology and a kind of fault, so there are few of them.
type logLimiter struct {
	every time.Duration

	mu   sync.Mutex
	keys map[string]*limitedKey
}

type limitedKey struct {
	last time.Time
	held int // lines held back since last
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, keys: map[string]*limitedKey{}}
}

// warn logs msg and args at Warn level on log, unless a line with key went
// out less than l.every ago; the line that goes out says how many were held
// back before it ("suppressed").
func (l *logLimiter) warn(log *slog.Logger, key, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		k = &limitedKey{}
		l.keys[key] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.every {
		k.held++
		l.mu.Unlock()
		return
	}
	held := k.held
	k.last, k.held = now, 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Warn(msg, args...)
}
