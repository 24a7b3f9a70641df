//go:build !linux

package storage

// unmapPages does nothing where it is not written for: the mapped pages
// stay in the process's resident set until the kernel takes them.
func unmapPages(addr, size uintptr) error { return nil }
