package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClaimDir: a data dir records its cluster and node ID at first use
// (durably: the dir is synced after the file is in place); the same
// identity opens it again, another cluster or node is refused naming both,
// a damaged file is ErrCorrupt.
func TestClaimDir(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	syncDirHook = func(d string) { synced = append(synced, d) }
	t.Cleanup(func() { syncDirHook = nil })

	me := Identity{ClusterID: "prod", NodeID: 4}
	if err := ClaimDir(dir, me); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Errorf("synced dirs %v, want [%s]", synced, dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil || string(data) != `{"cluster_id":"prod","node_id":4}`+"\n" {
		t.Fatalf("identity file: %q, %v", data, err)
	}
	if err := ClaimDir(dir, me); err != nil {
		t.Fatalf("the same identity again: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only %s (no temporary files left)", len(entries), IdentityFile)
	}

	for _, tc := range []struct {
		other Identity
		want  []string
	}{
		{Identity{ClusterID: "staging", NodeID: 4}, []string{`cluster "prod" node 4`, `cluster "staging" node 4`}},
		{Identity{ClusterID: "prod", NodeID: 5}, []string{`cluster "prod" node 4`, `cluster "prod" node 5`}},
	} {
		err := ClaimDir(dir, tc.other)
		if !errors.Is(err, ErrWrongDir) {
			t.Fatalf("claim as %s: %v, want ErrWrongDir", tc.other, err)
		}
		for _, w := range append(tc.want, dir) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("claim as %s: %q does not name %s", tc.other, err, w)
			}
		}
	}

	for _, bad := range []string{"", "{", `{"cluster_id":"prod"}`, `{"cluster_id":"prod","node_id":4,"x":1}`} {
		if err := os.WriteFile(filepath.Join(dir, IdentityFile), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ClaimDir(dir, me); !errors.Is(err, ErrCorrupt) {
			t.Errorf("identity file %q: %v, want ErrCorrupt", bad, err)
		}
	}
}
