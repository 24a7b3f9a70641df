package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// IdentityFile is the name of the file in a node's data dir that records
// which cluster and node the data belongs to (SPEC §9 Lost disk).
const IdentityFile = "identity.json"

// Identity names the cluster and the node a data dir belongs to.
type Identity struct {
	ClusterID string `json:"cluster_id"`
	NodeID    uint64 `json:"node_id"`
}

func (id Identity) String() string {
	return fmt.Sprintf("cluster %q node %d", id.ClusterID, id.NodeID)
}

// ErrWrongDir: the data dir belongs to another cluster or another node.
var ErrWrongDir = errors.New("data dir belongs to another cluster or node")

// ClaimDir checks that the data dir dir belongs to id, and records id in it
// on first use. A dir with no identity file (new, or written before the file
// existed) gets one: written to a temporary file, synced, renamed into place
// and the dir synced, so a crash leaves either no file or a whole one. A dir
// whose file names another cluster or node is ErrWrongDir, naming both; an
// unreadable file is ErrCorrupt. It blocks on the disk.
func ClaimDir(dir string, id Identity) error {
	path := filepath.Join(dir, IdentityFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var got Identity
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil || got.ClusterID == "" || got.NodeID == 0 {
			return fmt.Errorf("storage: %s: %w: want {\"cluster_id\":...,\"node_id\":...} (%v)", path, ErrCorrupt, err)
		}
		if got != id {
			return fmt.Errorf("storage: %s: %w: it holds the data of %s, this node is %s (wrong volume, NODE_ID or CLUSTER_ID?)",
				dir, ErrWrongDir, got, id)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("storage: read %s: %w", path, err)
	}
	data, err = json.Marshal(id)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, IdentityFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	return SyncDir(dir)
}
