package storage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

// powerLoss models what a power loss does to directories and files: a name
// (of a file or directory) survives only if its directory was synced after
// the name was made, and a file keeps only what it held at its last sync
// (nothing, if it was never synced). It watches SyncDir and the file syncs
// of the stores (syncFileHook), and remembers each directory's names and
// each file's content as of its last sync.
type powerLoss struct {
	mu     sync.Mutex
	synced map[string][]string // directory → its names at its last sync
	files  map[string][]byte   // file → its content at its last sync
}

// watchSyncs makes SyncDir and the file syncs report to a new powerLoss
// until the test ends.
func watchSyncs(t *testing.T) *powerLoss {
	p := &powerLoss{synced: map[string][]string{}, files: map[string][]byte{}}
	syncFileHook = func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s after its sync: %v", path, err)
		}
		p.mu.Lock()
		p.files[filepath.Clean(path)] = data
		p.mu.Unlock()
	}
	syncDirHook = func(dir string) {
		names, err := dirNames(dir)
		if err != nil {
			t.Errorf("list %s after its sync: %v", dir, err)
		}
		p.mu.Lock()
		p.synced[filepath.Clean(dir)] = names
		p.mu.Unlock()
	}
	t.Cleanup(func() { syncDirHook, syncFileHook = nil, nil })
	return p
}

func dirNames(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names, err
}

// cut removes, in root and every directory under it, the names that a power
// loss now would drop, and returns their paths; the files that stay get the
// content of their last sync back. Close the stores first (without a sync:
// see crash), as a power loss stops the process.
func (p *powerLoss) cut(t *testing.T, root string) []string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var lost []string
	var walk func(dir string)
	walk = func(dir string) {
		names, err := dirNames(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			path := filepath.Join(dir, name)
			if !slices.Contains(p.synced[filepath.Clean(dir)], name) {
				lost = append(lost, path)
				if err := os.RemoveAll(path); err != nil {
					t.Fatal(err)
				}
				continue
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() {
				walk(path)
				continue
			}
			if err := os.WriteFile(path, p.files[filepath.Clean(path)], fi.Mode()); err != nil {
				t.Fatal(err)
			}
		}
	}
	walk(root)
	return lost
}

// TestPowerLossAfterFirstStart: a node's first start creates its data
// directory and store files and writes to them; a power loss right after
// must keep all of it. Before directory syncs, the data directory (and the
// files in it) could vanish and the acceptor come back without its promise.
func TestPowerLossAfterFirstStart(t *testing.T) {
	root := t.TempDir()
	p := watchSyncs(t)
	dir := filepath.Join(root, "volumes", "node")
	if err := MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := OpenLoggedAcceptor(filepath.Join(dir, "acceptor.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Accept(301, []replog.Entry{entry(0, 301)}); err != nil {
		t.Fatal(err)
	}
	crash(t, a) // the promise is in the write-ahead file only
	l, err := OpenLearner(filepath.Join(dir, "learner.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(run(0, 3)); err != nil {
		t.Fatal(err)
	}
	pr, err := OpenProposer(filepath.Join(dir, "proposer.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.SetRound(7); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(l.Close(), pr.Close()); err != nil {
		t.Fatal(err)
	}

	if lost := p.cut(t, root); len(lost) > 0 {
		t.Errorf("a power loss would drop %q: their directories were not synced after they were made", lost)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("after the power loss: %v", err)
	}
	a = mustOpen(t, OpenLoggedAcceptor, filepath.Join(dir, "acceptor.db"), nil)
	if got, _ := a.Promised(); got != 301 {
		t.Errorf("after the power loss the acceptor promised %d, want 301", got)
	}
	l = mustOpen(t, OpenLearner, filepath.Join(dir, "learner.db"), nil)
	if got, _ := l.Commit(); got != 3 {
		t.Errorf("after the power loss the learner's commit is %d, want 3", got)
	}
	pr = mustOpen(t, OpenProposer, filepath.Join(dir, "proposer.db"), nil)
	if got, _ := pr.Round(); got != 7 {
		t.Errorf("after the power loss the proposer's round is %d, want 7", got)
	}
}

// TestMkdirAll: it creates what is missing, leaves what exists, and refuses
// a path that is a file.
func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	p := watchSyncs(t)
	dir := filepath.Join(root, "a", "b")
	for range 2 {
		if err := MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{root, filepath.Join(root, "a")} {
		if _, ok := p.synced[d]; !ok {
			t.Errorf("%s was not synced after a directory was made in it", d)
		}
	}
	file := filepath.Join(root, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(file, 0o755); err == nil {
		t.Errorf("MkdirAll(%s), a file: no error", file)
	}
}
