package storage

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// crashEnv selects the child mode of TestCrash: it names the data folder.
const crashEnv = "STORAGE_CRASH_CHILD_DIR"

// TestCrash runs writers in a child process, SIGKILLs it in the middle, and
// checks that every write the child acknowledged is in the files, intact.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	// Read acks: "a SLOT" (accepted entry and promise), "l SLOT" (chosen),
	// "p ROUND". Kill the child once it has acknowledged enough.
	acked := map[string][]uint64{}
	sc := bufio.NewScanner(out)
	killed, target := false, 300+mrand.IntN(1500)
	for sc.Scan() {
		var kind string
		var n uint64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &kind, &n); err != nil {
			continue // not an ack line
		}
		acked[kind] = append(acked[kind], n)
		if !killed && len(acked["a"]) >= target && len(acked["w"]) >= target && len(acked["l"]) >= 30 && len(acked["p"]) >= 30 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped before the kill (%v); acks: %d a, %d l, %d p", err,
			len(acked["a"]), len(acked["l"]), len(acked["p"]))
	}
	t.Logf("killed after %d accepted (%d write-ahead), %d chosen, %d round acks", len(acked["a"]), len(acked["w"]), len(acked["l"]), len(acked["p"]))

	a := mustOpen(t, OpenAcceptor, filepath.Join(dir, "a.db"), nil)
	all, err := a.Accepted(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range acked["a"] {
		if got, err := a.Accepted(slot, 1); err != nil || len(got) != 1 || got[0] != entry(slot, 3) {
			t.Errorf("acknowledged slot %d: Accepted = %+v, %v", slot, got, err)
		}
	}
	if st := a.Stats(); st.AcceptedCount != uint64(len(all)) || st.Promised < replog.Ballot(slices.Max(acked["a"])+1) {
		t.Errorf("Stats = %+v; %d entries stored, highest acknowledged promise %d", st, len(all), slices.Max(acked["a"])+1)
	}
	w := mustOpen(t, OpenLoggedAcceptor, filepath.Join(dir, "w.db"), nil)
	for _, slot := range acked["w"] {
		if got, err := w.Accepted(slot, 1); err != nil || len(got) != 1 || got[0] != entry(slot, 3) {
			t.Errorf("write-ahead acceptor: acknowledged slot %d: Accepted = %+v, %v", slot, got, err)
		}
	}
	if st, err := w.Promised(); err != nil || st < replog.Ballot(slices.Max(acked["w"])+1) {
		t.Errorf("write-ahead acceptor: Promised = %d, %v; highest acknowledged %d", st, err, slices.Max(acked["w"])+1)
	}
	l := mustOpen(t, OpenLearner, filepath.Join(dir, "l.db"), nil)
	c, err := l.Commit()
	if err != nil || c <= slices.Max(acked["l"]) {
		t.Errorf("Commit = %d, %v; want > %d", c, err, slices.Max(acked["l"]))
	}
	if got, err := l.Chosen(0, 0); err != nil || !slices.Equal(got, run(0, c)) {
		t.Errorf("Chosen = %v, %v; want slots 0..%d", chosenSlots(got), err, c-1)
	}
	p := mustOpen(t, OpenProposer, filepath.Join(dir, "p.db"), nil)
	if r, err := p.Round(); err != nil || r < slices.Max(acked["p"]) {
		t.Errorf("Round = %d, %v; want >= %d", r, err, slices.Max(acked["p"]))
	}
}

// crashChild writes until it is killed (or for 30s), printing an ack line
// after each write returns.
func crashChild(dir string) {
	must := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
	}
	a, err := OpenAcceptor(filepath.Join(dir, "a.db"), nil)
	must(err)
	l, err := OpenLearner(filepath.Join(dir, "l.db"), nil)
	must(err)
	p, err := OpenProposer(filepath.Join(dir, "p.db"), nil)
	must(err)
	checkpointEntries = 64 // checkpoints and rewinds while the kill comes
	w, err := OpenLoggedAcceptor(filepath.Join(dir, "w.db"), nil)
	must(err)
	var outMu sync.Mutex
	ack := func(kind string, n uint64) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf("%s %d\n", kind, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	// writers saves slots 0, 1, ... from n goroutines into store, acking
	// each as kind.
	writers := func(n int, kind string, store interface {
		Accept(replog.Ballot, []replog.Entry) error
	}) {
		var next atomic.Uint64
		for range n {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					slot := next.Add(1) - 1
					must(store.Accept(replog.Ballot(slot+1), []replog.Entry{entry(slot, 3)}))
					ack(kind, slot)
				}
			})
		}
	}
	writers(8, "a", a)
	writers(4, "w", w)
	wg.Go(func() {
		for c := uint64(0); time.Now().Before(deadline); c++ {
			must(l.Append(run(c, c+1)))
			ack("l", c)
		}
	})
	wg.Go(func() {
		for r := uint64(1); time.Now().Before(deadline); r++ {
			must(p.SetRound(r))
			ack("p", r)
		}
	})
	wg.Wait()
	os.Exit(0)
}

// TestLocked opens a file that is already open.
func TestLocked(t *testing.T) {
	opens := []struct {
		name string
		open func(path string, o *Options) error
	}{
		{"proposer", func(p string, o *Options) error { _, err := OpenProposer(p, o); return err }},
		{"acceptor", func(p string, o *Options) error { _, err := OpenAcceptor(p, o); return err }},
		{"learner", func(p string, o *Options) error { _, err := OpenLearner(p, o); return err }},
	}
	for _, tt := range opens {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t, "store.db")
			mustOpen(t, OpenProposer, path, nil) // any store holds the lock
			start := time.Now()
			err := tt.open(path, &Options{Timeout: 200 * time.Millisecond})
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
				t.Errorf("second open = %v, want ErrLocked naming %s", err, path)
			}
			if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
				t.Errorf("second open gave up after %v, want about 200ms", d)
			}
		})
	}
}

// TestCorruptFile opens files that are not stores.
func TestCorruptFile(t *testing.T) {
	random := make([]byte, 16<<10)
	rand.Read(random)
	tests := []struct {
		name string
		data []byte
	}{
		{"text", []byte("this is not a database\n")},
		{"one page of zeros", make([]byte, 4096)},
		{"random", random},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t, "acceptor.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenAcceptor(path, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("open = %v, want ErrCorrupt naming %s", err, path)
			}
		})
	}
	if _, err := OpenLearner(filepath.Join(t.TempDir(), "missing", "l.db"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open in a missing folder = %v, want ErrNotExist", err)
	}
}

func TestCommitErrorMapping(t *testing.T) {
	tests := []struct {
		err      error
		diskFull bool
		errno    error
	}{
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true, syscall.ENOSPC},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, true, syscall.EDQUOT},
		{fmt.Errorf("file resize error: %s", syscall.ENOSPC), true, syscall.ENOSPC},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, false, syscall.EIO},
	}
	for _, tt := range tests {
		err := commitError("/data/a.db", tt.err)
		if errors.Is(err, ErrDiskFull) != tt.diskFull || !errors.Is(err, tt.errno) || !strings.Contains(err.Error(), "/data/a.db") {
			t.Errorf("commitError(%v) = %v; want disk full %v, wrapping %v", tt.err, err, tt.diskFull, tt.errno)
		}
	}
}
