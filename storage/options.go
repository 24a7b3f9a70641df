package storage

import "time"

// DefaultTimeout is how long an open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Options tunes a bbolt store. A nil *Options, or a zero field, means the
// production default.
type Options struct {
	// Timeout is how long an open waits for another process to release the
	// file lock before it fails with ErrLocked (DefaultTimeout when zero).
	Timeout time.Duration
	// NoSync skips fsync on commit: faster, and a crash may lose acknowledged
	// writes. For tests only.
	NoSync bool
	// OnCommit, when set, is called after each successful commit (fsynced
	// unless NoSync) with how long it took and how many slots it wrote, for
	// metrics. It runs on a writer's goroutine and must not block.
	OnCommit func(d time.Duration, slots int)
}

// withDefaults returns a copy of o with the defaults filled in.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	return r
}
