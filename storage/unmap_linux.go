package storage

import "syscall"

// unmapPages tells the kernel this process no longer needs its mapping of
// the size bytes at addr (madvise MADV_DONTNEED). For bbolt's read-only
// shared file mapping nothing is lost: the pages stay in the page cache,
// and the next read maps them again (a minor fault). The caller must keep
// the mapping alive meanwhile (an open bbolt read transaction).
func unmapPages(addr, size uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
