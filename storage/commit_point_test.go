package storage

import (
	"testing"

	"github.com/paxos-go/paxos/replog"
)

// The acceptor's chosen watermark (replog.HardState.Commit) survives a
// crash once a Save carried it (in the write-ahead record) and a clean
// restart through a checkpoint, and a bbolt-only Acceptor keeps it too.
func TestAcceptorCommitPoint(t *testing.T) {
	path := tempPath(t, "acceptor.db")
	l := openLogged(t, path)
	save := func(commit uint64, slot uint64) {
		t.Helper()
		rd := replog.Ready{HardState: replog.HardState{Promised: 101, Commit: commit}, Accepted: []replog.Entry{entry(slot, 101)}}
		if err := l.Save(&rd); err != nil {
			t.Fatal(err)
		}
	}
	save(0, 0)
	save(7, 1)
	crash(t, l) // the commit is only in the write-ahead file
	l = openLogged(t, path)
	if c, err := l.Commit(); err != nil || c != 7 {
		t.Fatalf("after a crash: commit %d, %v; want 7", c, err)
	}
	save(9, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLogged(t, path)
	if c, err := l.Commit(); err != nil || c != 9 {
		t.Fatalf("after a clean restart: commit %d, %v; want 9", c, err)
	}
	// A lower commit never lowers it.
	save(3, 3)
	if c, _ := l.Commit(); c != 9 {
		t.Fatalf("commit went down to %d", c)
	}
	l.Close()

	a := mustOpen(t, OpenAcceptor, tempPath(t, "plain.db"), nil)
	rd := replog.Ready{HardState: replog.HardState{Promised: 101, Commit: 5}, Accepted: []replog.Entry{entry(0, 101)}}
	if err := a.Save(&rd); err != nil {
		t.Fatal(err)
	}
	if c, err := a.Commit(); err != nil || c != 5 {
		t.Fatalf("bbolt acceptor: commit %d, %v; want 5", c, err)
	}
}

// A new acceptor file records replog.RejoinPending in the transaction that
// makes it (a new data dir and a lost disk look the same); an existing file
// keeps the rule's outcome across a reopen.
func TestAcceptorRejoinValue(t *testing.T) {
	path := tempPath(t, "acceptor.db")
	l := openLogged(t, path)
	if v, err := l.Rejoin(); err != nil || v != replog.RejoinPending {
		t.Fatalf("new file: rejoin %d, %v; want RejoinPending", v, err)
	}
	if err := l.SetRejoin(11); err != nil {
		t.Fatal(err)
	}
	crash(t, l)
	l = openLogged(t, path)
	defer l.Close()
	if v, err := l.Rejoin(); err != nil || v != 11 {
		t.Fatalf("after a crash: rejoin %d, %v; want 11", v, err)
	}
}
