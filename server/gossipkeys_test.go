package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
)

// postKey asks node for a keyring change.
func (c *testCluster) postKey(id replog.ID, op, key string) (int, string) {
	body, _ := json.Marshal(gossipKeyChange{Op: op, Key: key})
	return httpAuth(http.MethodPost, c.addr(id)+gossipKeysPath, "Bearer "+c.secret, string(body))
}

// TestGossipKeyRotatesUnderLoad rotates the gossip key of a running
// cluster as paxosctl gossip key does (install the new key on every node,
// use it on every node, remove the old one from every node) while writes
// flow: no write fails (retried with its request ID, as clients do), no
// node stays dead in any node's gossip, and at the end every node holds
// the new key only, in its keyring file too, so that a restarted node
// rejoins. No key is logged.
func TestGossipKeyRotatesUnderLoad(t *testing.T) {
	secret := "gk-" + randomHex(t, 16)
	logs := &lockedBuffer{}
	// Slower failure detection than a node's (500 ms probes, 250 ms
	// timeouts), which a starved machine (three test binaries with -race
	// on two cores) misses with the right key; a wrong key fails every
	// probe however slow, and its deaths last.
	tune := func(s *Server) {
		s.gossipTune = func(gc *gossip.Config) { gc.ProbeInterval, gc.ProbeTimeout = 2*time.Second, 1500*time.Millisecond }
	}
	c := newTestClusterGossipPrepare(t, func(cfg *Config) {
		cfg.Secret = secret
		cfg.RequestTimeout = 10 * time.Second
	}, logs, tune)
	// A leader and a first write, patiently: the machine may be loaded.
	c.eventually(60*time.Second, func() error {
		_, err := c.send(9, "gk-first", "gk-first")
		return err
	})
	ids := make([]replog.ID, 0, 10)
	for _, p := range c.cfg.Peers() {
		ids = append(ids, p.ID)
	}
	// deadSeen polls every node's gossip: who is dead, or not yet alive.
	gossipFaults := func() (dead, notAlive []string) {
		for _, id := range ids {
			code, body := httpDo(http.MethodGet, c.addr(id)+"/gossip/nodes", "")
			var g gossipNodesReply
			if code != http.StatusOK || json.Unmarshal([]byte(body), &g) != nil {
				notAlive = append(notAlive, fmt.Sprintf("node %d: GET /gossip/nodes %d", id, code))
				continue
			}
			if g.Total != len(ids) {
				notAlive = append(notAlive, fmt.Sprintf("node %d sees %d nodes", id, g.Total))
			}
			for _, n := range g.Nodes {
				switch n.State {
				case gossip.Dead:
					dead = append(dead, fmt.Sprintf("node %d sees %s dead", id, n.Name))
				case gossip.Alive:
				default:
					notAlive = append(notAlive, fmt.Sprintf("node %d sees %s %s", id, n.Name, n.State))
				}
			}
		}
		return dead, notAlive
	}
	c.eventually(60*time.Second, func() error {
		if dead, notAlive := gossipFaults(); len(dead)+len(notAlive) > 0 {
			return fmt.Errorf("gossip not settled: %v %v", dead, notAlive)
		}
		return nil
	})

	// Load and a gossip watcher until the rotation is over (bounded).
	var sent atomic.Int64
	var mu sync.Mutex
	var failures, deaths []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// As a client does: a write that timed out is retried with
			// its request ID; it fails if it is never acknowledged.
			var err error
			for began := time.Now(); time.Since(began) < 30*time.Second; {
				if _, err = c.send(replog.ID(9+i%2), fmt.Sprintf("gk-%d", i), fmt.Sprintf("gk-%d", i)); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				continue
			}
			sent.Add(1)
		}
	})
	// A node another one sees dead for 3 s or more is a failure: a
	// wrong key is such a death (the node can never refute it). Shorter
	// ones are counted and logged: memberlist's probes time out after
	// 250 ms, which a starved machine (three test binaries with -race on
	// two cores) misses now and then with the right key.
	var blips int
	wg.Go(func() {
		since := map[string]time.Time{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			dead, _ := gossipFaults()
			now := map[string]time.Time{}
			for _, d := range dead {
				first, ok := since[d]
				if !ok {
					first = time.Now()
					blips++
				}
				now[d] = first
				if time.Since(first) >= 3*time.Second {
					mu.Lock()
					deaths = append(deaths, d)
					mu.Unlock()
				}
			}
			since = now
		}
	})
	// Each phase waits for writes to flow under it (a few: the machine
	// may be loaded).
	flow := func(what string) {
		t.Helper()
		from := sent.Load()
		c.eventually(60*time.Second, func() error {
			if n := sent.Load() - from; n < 5 {
				return fmt.Errorf("%s: %d writes since, want 5", what, n)
			}
			return nil
		})
	}

	sum := sha256.Sum256([]byte(secret))
	oldKey := base64.StdEncoding.EncodeToString(sum[:])
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	newKey := base64.StdEncoding.EncodeToString(raw)
	flow("before the rotation")
	for _, step := range []struct{ op, key string }{{gossip.KeyInstall, newKey}, {gossip.KeyUse, newKey}, {gossip.KeyRemove, oldKey}} {
		for _, id := range ids {
			if code, body := c.postKey(id, step.op, step.key); code != http.StatusOK {
				t.Fatalf("%s on node %d: %d %s", step.op, id, code, body)
			}
		}
		flow("after " + step.op)
	}
	// Memberlist's probes run every 500 ms: give a wrong key time to show.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		flow("after the rotation")
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d writes failed during the rotation, first: %s", len(failures), int(sent.Load())+len(failures), failures[0])
	}
	if len(deaths) > 0 {
		t.Errorf("nodes were marked dead for 3 s or more during the rotation: %v", deaths[:min(len(deaths), 5)])
	}
	if blips > 0 {
		t.Logf("%d shorter deaths seen during the rotation (a loaded machine)", blips)
	}
	c.eventually(60*time.Second, func() error {
		if dead, notAlive := gossipFaults(); len(dead)+len(notAlive) > 0 {
			return fmt.Errorf("after the rotation: %v %v", dead, notAlive)
		}
		return nil
	})
	for _, id := range ids {
		code, body := httpAuth(http.MethodGet, c.addr(id)+gossipKeysPath, "Bearer "+secret, "")
		var got gossip.Keys
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Primary != newKey || len(got.Keys) != 1 {
			t.Errorf("node %d keys after the rotation: %d %s, want only the new key", id, code, body)
		}
	}
	p, _ := c.cfg.Peer(4)
	data, err := os.ReadFile(filepath.Join(c.dir, p.Name, gossip.KeyringFile))
	if err != nil || !strings.Contains(string(data), newKey) || strings.Contains(string(data), oldKey) {
		t.Errorf("%s keyring file: %v %s, want the new key only", p.Name, err, data)
	}
	if fi, err := os.Stat(filepath.Join(c.dir, p.Name, gossip.KeyringFile)); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("keyring file mode %v, want 0600", fi.Mode().Perm())
	}
	// A restarted acceptor starts from its file: it speaks the new key.
	c.stop(4)
	c.start(4)
	c.eventually(60*time.Second, func() error {
		if dead, notAlive := gossipFaults(); len(dead)+len(notAlive) > 0 {
			return fmt.Errorf("after restarting acceptor1: %v %v", dead, notAlive)
		}
		return nil
	})
	for _, k := range []string{newKey, oldKey} {
		if strings.Contains(logs.String(), k) {
			t.Errorf("a gossip key is in the log")
		}
	}
	t.Logf("%d writes during the rotation", sent.Load())
}

// TestGossipKeyErrors: a key of the wrong length, an unknown op, using a
// key not installed, removing the primary key and a node without
// encryption are refused with a clear 400; the endpoint needs the secret.
func TestGossipKeyErrors(t *testing.T) {
	_, addr, _ := loneNode(t, RoleAcceptor, func(c *Config) { c.Secret = "s3cret-keys" })
	base := "http://" + addr + gossipKeysPath
	key32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	primary := sha256.Sum256([]byte("s3cret-keys"))
	for _, tt := range []struct {
		auth, body string
		want       int
		msg        string
	}{
		{"", `{"op":"install","key":"` + key32 + `"}`, http.StatusUnauthorized, "cluster secret"},
		{"s3cret-keys", `{"op":"install","key":"` + base64.StdEncoding.EncodeToString(make([]byte, 20)) + `"}`, http.StatusBadRequest, "16, 24 or 32 bytes"},
		{"s3cret-keys", `{"op":"install","key":"***"}`, http.StatusBadRequest, "base64"},
		{"s3cret-keys", `{"op":"rotate","key":"` + key32 + `"}`, http.StatusBadRequest, "want install, use or remove"},
		{"s3cret-keys", `{"op":"use","key":"` + key32 + `"}`, http.StatusBadRequest, "install it first"},
		{"s3cret-keys", `{"op":"remove","key":"` + base64.StdEncoding.EncodeToString(primary[:]) + `"}`, http.StatusBadRequest, "primary key"},
	} {
		auth := ""
		if tt.auth != "" {
			auth = "Bearer " + tt.auth
		}
		var code int
		var body string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if code, body = httpAuth(http.MethodPost, base, auth, tt.body); code != http.StatusServiceUnavailable && code != 0 || time.Now().After(deadline) {
				break
			}
		}
		if code != tt.want || !strings.Contains(body, tt.msg) {
			t.Errorf("POST %s: %d %s, want %d saying %q", tt.body, code, body, tt.want, tt.msg)
		}
	}
	_, open, _ := loneNode(t, RoleAcceptor, nil)
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, body = httpDo(http.MethodGet, "http://"+open+gossipKeysPath, ""); code != 0 || time.Now().After(deadline) {
			break
		}
	}
	if code != http.StatusBadRequest || !strings.Contains(body, "encryption is off") {
		t.Errorf("GET %s on a node without a secret: %d %s, want 400 saying encryption is off", gossipKeysPath, code, body)
	}
}
