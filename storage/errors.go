package storage

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Sentinel errors. The stores wrap them with the path of the file and what
// failed; compare with errors.Is.
var (
	// ErrLocked: another process (or another open in this one) holds the file.
	ErrLocked = errors.New("file is locked by another process (is another paxosd running on this data dir?)")
	// ErrCorrupt: the file is not a valid database, or a record in it is malformed.
	ErrCorrupt = errors.New("corrupt data")
	// ErrDiskFull: a commit failed with ENOSPC or EDQUOT. The error also wraps
	// the syscall.Errno, and nothing of the failed commit is stored.
	ErrDiskFull = errors.New("disk full")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrNotContiguous: a learner append does not start at Commit or has a gap;
	// nothing was written.
	ErrNotContiguous = errors.New("entries are not contiguous with the log")
	// ErrMissingWAL: an acceptor's write-ahead file is gone although its
	// bbolt file records that it existed; opening without it would forget
	// promises and accepted values.
	ErrMissingWAL = errors.New("write-ahead file is missing")
)

// closedError is ErrClosed for the store named name.
func closedError(name string) error { return fmt.Errorf("storage: %s: %w", name, ErrClosed) }

// commitError wraps an error of a bbolt commit to the file at path, mapping a
// full disk to ErrDiskFull.
func commitError(path string, err error) error {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, errno) {
			return fmt.Errorf("storage: commit %s: %w: %w", path, ErrDiskFull, err)
		}
		// bbolt formats some I/O errors with %s, which loses the Errno.
		if strings.Contains(err.Error(), errno.Error()) {
			return fmt.Errorf("storage: commit %s: %w: %w (%v)", path, ErrDiskFull, errno, err)
		}
	}
	return fmt.Errorf("storage: commit %s: %w", path, err)
}

// rejected marks an error that a request found before writing anything: only
// its caller gets it, and the shared transaction goes on for the others.
type rejected struct{ error }

// reject returns err marked as a rejection.
func reject(err error) error { return rejected{err} }
