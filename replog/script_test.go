package replog_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog/replogtest"
	"github.com/paxos-go/paxos/storage"
)

var flagRewrite = flag.Bool("rewrite", false, "write the outputs of the scripts in testdata/*.txt instead of checking them")

// TestScripts runs the golden-file scripts in testdata/*.txt, each on a
// fresh replogtest.Env (see Env.Handle for the commands): once on
// replogtest's memory stores, and once on the storage package's, which
// save each Ready with storage's own writers and must print the same.
// After a change that is meant to change an output:
// go test ./replog -run TestScripts -rewrite, then read the diff.
func TestScripts(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no script in testdata/")
	}
	for _, run := range []struct {
		name   string
		stores replogtest.Stores
	}{{"mem", replogtest.MemStores}, {"storage", storageStores}} {
		t.Run(run.name, func(t *testing.T) {
			if *flagRewrite && run.name != "mem" {
				t.Skip("-rewrite writes the outputs of the memory stores")
			}
			for _, path := range paths {
				t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
					replogtest.RunScript(t, path, *flagRewrite, replogtest.NewEnv(run.stores).Handle)
				})
			}
		})
	}
}

// storageStores are the storage package's memory stores, which share
// their rules with its bbolt stores and save a Ready with the same Save.
var storageStores = replogtest.Stores{
	Proposer: func() replogtest.Store { return storage.NewMemProposer() },
	Acceptor: func() replogtest.Store { return storage.NewMemAcceptor() },
	Learner:  func() replogtest.Store { return storage.NewMemLearner() },
}
