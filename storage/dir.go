package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Directory entries. An fsync of a file makes its data durable, not its
// name: a power loss soon after a file is created (or renamed) can drop it
// from its directory until the directory itself is synced. So every open of
// a store file syncs the file's directory (it may have just created the
// file, or a crashed run may have created it without the sync), and the
// node's data directory is made with MkdirAll, which syncs the parent of
// each directory it creates.

// syncDirHook, when set, is called with each directory SyncDir has synced.
// For the tests only.
var syncDirHook func(dir string)

// syncFileHook, when set, is called with the path of a file just after its
// content was made durable: an fsync or fdatasync of a write-ahead file, a
// bbolt commit that bbolt synced. The power-loss tests keep the file as it
// is then, and put it back at a simulated crash. For the tests only.
var syncFileHook func(path string)

// fileSynced reports to syncFileHook that the file at path is durable.
func fileSynced(path string) {
	if syncFileHook != nil {
		syncFileHook(path)
	}
}

// SyncDir makes the entries of the directory dir durable (the names of the
// files created, renamed or removed in it) with an fsync of the directory.
// It blocks on the disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: sync directory %s: %w", dir, err)
	}
	if syncDirHook != nil {
		syncDirHook(dir)
	}
	return nil
}

// MkdirAll is os.MkdirAll that makes what it creates durable: it syncs the
// parent of each directory it creates, from the top one down, so that a power
// loss cannot drop the data directory of a store that was written. A dir that
// exists already is left as it is.
func MkdirAll(dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("storage: %s is not a directory", dir)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: %w", err)
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("storage: %w", err)
	}
	return SyncDir(filepath.Dir(dir))
}

// syncDirOf syncs the directory of the file at path unless noSync.
func syncDirOf(path string, noSync bool) error {
	if noSync {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}
