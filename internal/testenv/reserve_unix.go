//go:build unix

package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// ReservePort takes an exclusive lock on a file named after port in a
// folder of the machine's temporary directory, held until t ends (or its
// process dies: the kernel drops the lock), and reports whether it got
// it: false means another test process holds the port. When the folder or
// file cannot be made (another user's folder), the port is used without
// a reservation, as before there were any.
func ReservePort(t testing.TB, port int) bool {
	dir := filepath.Join(os.TempDir(), "paxos-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	t.Cleanup(func() { f.Close() })
	return true
}
