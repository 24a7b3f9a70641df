package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paxos-go/paxos/gossip"
)

// keyNodes are httptest nodes that list each other in GET /gossip/nodes
// and keep a keyring behind /gossip/keys, recording what they were asked.
type keyNodes struct {
	mu    sync.Mutex
	srvs  []*httptest.Server
	keys  map[int][]string // node index: keys, primary first
	asked []string         // "index op key auth"
	fail  map[int]bool     // nodes that answer 503
}

func newKeyNodes(t *testing.T, n int) *keyNodes {
	t.Helper()
	k := &keyNodes{keys: map[int][]string{}, fail: map[int]bool{}}
	first := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for i := range n {
		k.keys[i] = []string{first}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { k.serve(i, w, r) }))
		t.Cleanup(srv.Close)
		k.srvs = append(k.srvs, srv)
	}
	return k
}

func (k *keyNodes) serve(i int, w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch r.URL.Path {
	case "/gossip/nodes":
		nodes := map[string]any{}
		for j, s := range k.srvs {
			host, port, _ := net.SplitHostPort(s.Listener.Addr().String())
			p, _ := strconv.Atoi(port)
			nodes[strconv.Itoa(j+1)] = map[string]any{"id": j + 1, "name": fmt.Sprintf("node%d", j+1), "role": "acceptor",
				"address": host, "port": p, "state": "alive"}
		}
		writeJSONTest(w, 200, map[string]any{"total": len(nodes), "nodes": nodes})
	case "/gossip/keys":
		var req struct{ Op, Key string }
		if r.Method == http.MethodPost {
			_ = json.NewDecoder(r.Body).Decode(&req)
		}
		k.asked = append(k.asked, fmt.Sprintf("%d %s %s %s", i, req.Op, req.Key, r.Header.Get("Authorization")))
		if k.fail[i] {
			writeJSONTest(w, 503, map[string]any{"error": "node down"})
			return
		}
		if req.Op == gossip.KeyInstall {
			k.keys[i] = append(k.keys[i], req.Key)
		}
		var fps []string
		for _, key := range k.keys[i] {
			b, _ := base64.StdEncoding.DecodeString(key)
			fps = append(fps, gossip.KeyFingerprint(b))
		}
		writeJSONTest(w, 200, map[string]any{"status": "ok", "primary": k.keys[i][0], "keys": k.keys[i], "fingerprints": fps})
	default:
		http.NotFound(w, r)
	}
}

// requests returns what the nodes were asked.
func (k *keyNodes) requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.asked...)
}

func (k *keyNodes) endpoint() string { return k.srvs[0].Listener.Addr().String() }

// TestGossipKeyCommand: paxosctl gossip key checks the key (16, 24 or 32
// bytes of base64) before asking anything, asks every node gossip lists
// with the cluster secret, prints one row per node with fingerprints (never
// the key), and exits 1 naming the nodes that did not take the change.
func TestGossipKeyCommand(t *testing.T) {
	nodes := newKeyNodes(t, 3)
	ep := "--endpoints=" + nodes.endpoint()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

	for _, bad := range []string{"abc", base64.StdEncoding.EncodeToString(make([]byte, 20)), "not base64!"} {
		_, stderr, code := ctlRun(t, "", ep, "gossip", "key", "install", bad)
		if code != exitBadInput || !strings.Contains(stderr, "16, 24 or 32 bytes") {
			t.Errorf("gossip key install %q: exit %d %q, want %d saying the sizes", bad, code, stderr, exitBadInput)
		}
	}
	if _, stderr, code := ctlRun(t, "", ep, "gossip", "key", "use"); code != exitBadInput || !strings.Contains(stderr, "want one KEY") {
		t.Errorf("gossip key use without a key: exit %d %q", code, stderr)
	}
	if asked := nodes.requests(); len(asked) != 0 {
		t.Fatalf("bad input reached the nodes: %q", asked)
	}

	var out, errw syncBuffer
	t.Setenv("CLUSTER_SECRET", "s3cret-gk") // as paxosctl finds it in the environment
	code := RunPaxosctl(t.Context(), []string{"paxosctl", ep, "gossip", "key", "install", key}, strings.NewReader(""), &out, &errw)
	if code != 0 {
		t.Fatalf("gossip key install: exit %d: %s %s", code, out.String(), errw.String())
	}
	asked := nodes.requests()
	if len(asked) != 3 {
		t.Fatalf("asked %d nodes, want 3: %q", len(asked), asked)
	}
	for _, a := range asked {
		if !strings.HasSuffix(a, "install "+key+" Bearer s3cret-gk") {
			t.Errorf("a node was asked %q, want install of the key with the secret", a)
		}
	}
	raw, _ := base64.StdEncoding.DecodeString(key)
	if s := out.String(); strings.Contains(s, key) || !strings.Contains(s, gossip.KeyFingerprint(raw)) || strings.Count(s, "ok") < 3 {
		t.Errorf("gossip key install printed:\n%s\nwant a row per node with fingerprints, not the key", s)
	}

	// One node down: the others change, paxosctl says which failed.
	nodes.mu.Lock()
	nodes.fail[1], nodes.asked = true, nil
	nodes.mu.Unlock()
	_, stderr, code := ctlRun(t, "", ep, "--secret", "s3cret-gk", "gossip", "key", "use", key)
	if code != exitError || !strings.Contains(stderr, "1 of 3 nodes failed: node2") {
		t.Errorf("gossip key use with node2 down: exit %d %q, want %d naming node2", code, stderr, exitError)
	}
	if asked := nodes.requests(); len(asked) != 3 {
		t.Errorf("asked %d nodes, want all 3: %q", len(asked), asked)
	}

	// list, in JSON: every node's keys.
	stdout, _, code := ctlRun(t, "", ep, "-w", "json", "gossip", "key", "list")
	var answers []gossipKeyAnswer
	if err := json.Unmarshal([]byte(stdout), &answers); err != nil || len(answers) != 3 || len(answers[0].Keys) != 2 {
		t.Errorf("gossip key list -w json: exit %d %v %s", code, err, stdout)
	}

	// generate: a new 32-byte key, different each time.
	a, _, _ := ctlRun(t, "", "gossip", "key", "generate")
	b, _, _ := ctlRun(t, "", "gossip", "key", "generate")
	if k, err := gossip.DecodeKey(strings.TrimSpace(a)); err != nil || len(k) != 32 || a == b {
		t.Errorf("gossip key generate: %q %q %v", a, b, err)
	}
}
