package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestSecretCluster runs the whole cluster with CLUSTER_SECRET and
// CLIENT_TOKEN set: it works end to end (writes with the token, a
// linearizable read; gossip is encrypted, see TestGossipSecret), internal endpoints answer 401 JSON
// without the secret, writes 401 without the token, and neither the secret
// nor the token shows in any node's log, /view-logs or other public answer,
// whatever the requests carried.
func TestSecretCluster(t *testing.T) {
	secret, token := "cs-"+randomHex(t, 16), "ct-"+randomHex(t, 16)
	// Every node logs at debug level into one file (appends from many
	// goroutines are safe on an *os.File).
	logPath := filepath.Join(t.TempDir(), "nodes.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	c := newTestClusterLog(t, func(cfg *Config) {
		cfg.Secret, cfg.ClientToken = secret, token
		cfg.RequestTimeout = 10 * time.Second
	}, logFile)
	leader := c.leader()
	bearer := "Bearer " + token

	// Writes with the client token, through both client nodes and straight
	// to the leader; the cluster secret is good for writes too.
	var want []string
	for i := range 6 {
		v := fmt.Sprintf("secret-test-%d", i)
		node, path, auth := replog.ID(9+i%2), "/send", bearer
		switch i {
		case 4:
			node, path = leader, "/propose"
		case 5:
			auth = "Bearer " + secret
		}
		code, body := httpAuth(http.MethodPost, c.addr(node)+path, auth, fmt.Sprintf(`{"value":%q,"request_id":"st-%d"}`, v, i))
		if code != http.StatusOK {
			t.Fatalf("POST %s on node %d with the token: %d %s", path, node, code, body)
		}
		want = append(want, v)
	}

	// Refused: writes without the token, internal endpoints without the
	// secret (or with the token, or with a near miss that starts with the
	// secret), each with a 401 and a JSON error.
	refused := []struct {
		node         replog.ID
		method, path string
		auth, body   string
	}{
		{9, "POST", "/send", "", `{"value":"no-token"}`},
		{9, "POST", "/send", "Bearer " + token + "x", `{"value":"near-miss"}`},
		{leader, "POST", "/propose", "Bearer wrong", `{"value":"wrong-token"}`},
		{4, "POST", "/prepare", "", `{"proposer_id":1,"proposal_number":99901,"from_slot":0}`},
		{4, "POST", "/accept", bearer, `{"proposer_id":1,"proposal_number":99901,"entries":[{"slot":0,"value":"forged"}]}`},
		{5, "POST", "/prepare", "Bearer " + secret + "x", `{"proposer_id":1,"proposal_number":99901}`},
		{7, "POST", "/learn", "", `{"notifications":[{"acceptor_id":4,"proposal_number":1,"slot":0,"value":"forged"}]}`},
		{7, "POST", messagesPath, "Basic " + secret, `[]`},
		{7, "POST", streamPath, "", ""},
		{leader, "GET", "/read-index", "", ""},
		{9, "POST", "/notify", bearer, `{}`},
		{6, "POST", "/gossip", "", `{"sender_id":6,"nodes":{}}`},
	}
	for _, r := range refused {
		code, body := httpAuth(r.method, c.addr(r.node)+r.path, r.auth, r.body)
		var e struct {
			Error string `json:"error"`
		}
		if code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s %s on node %d with %q: %d %s, want 401 with a JSON error", r.method, r.path, r.node, r.auth, code, body)
		}
	}
	// A message stream needs the secret too.
	if _, err := dialStream(strings.TrimPrefix(c.addr(4), "http://"), "wrong", 1, 0, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("stream upgrade with a wrong secret: %v, want a 401 refusal", err)
	}
	if sc, err := dialStream(strings.TrimPrefix(c.addr(4), "http://"), secret, 1, 0, nil); err != nil {
		t.Errorf("stream upgrade with the secret: %v", err)
	} else {
		sc.close()
	}
	// Bad requests, some carrying the secret in the places a careless log
	// line would copy: the value, the request ID, the path, the query.
	for _, r := range []struct {
		node         replog.ID
		method, path string
		auth, body   string
		want         int
	}{
		{9, "POST", "/send", bearer, `{"value":`, http.StatusBadRequest},
		{9, "POST", "/send", bearer, `{"value":5}`, http.StatusBadRequest},
		{9, "POST", "/send", bearer, `{"value":"x","request_id":"` + strings.Repeat(secret, 10) + `"}`, http.StatusBadRequest},
		{leader, "POST", "/propose", "Bearer " + secret, `{"value":"` + secret + `",`, http.StatusBadRequest},
		{4, "POST", "/prepare", "Bearer " + secret, `{"proposal_number":"` + secret + `"}`, http.StatusBadRequest},
		{7, "GET", "/get-values?from=" + secret, "", "", http.StatusBadRequest},
		{8, "GET", "/" + secret, "Bearer " + secret, "", http.StatusNotFound},
	} {
		if code, body := httpAuth(r.method, c.addr(r.node)+r.path, r.auth, r.body); code != r.want {
			t.Errorf("%s %s on node %d: %d %s, want %d", r.method, r.path, r.node, code, body, r.want)
		}
	}

	// A linearizable read sees every acknowledged write, through a client
	// node (which asks a learner, which asks the leader's read index with
	// the secret).
	code, body := httpDo(http.MethodGet, c.addr(10)+"/read?consistency=linearizable", "")
	if code != http.StatusOK {
		t.Fatalf("linearizable read: %d %s", code, body)
	}
	var read struct {
		Values []string `json:"values"`
	}
	if err := json.Unmarshal([]byte(body), &read); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(read.Values) != fmt.Sprint(want) {
		t.Fatalf("linearizable read: %v, want %v", read.Values, want)
	}
	// Nothing public shows the secret or the token.
	leaks := func(what, s string) {
		t.Helper()
		for name, v := range map[string]string{"cluster secret": secret, "client token": token} {
			if i := strings.Index(s, v); i >= 0 {
				t.Errorf("%s shows the %s: ...%s...", what, name, s[max(0, i-200):min(len(s), i+len(v)+50)])
			}
		}
	}
	sawLogs := 0
	for _, p := range c.cfg.Peers() {
		for _, path := range []string{"/view-logs", "/health", "/gossip/nodes", "/status"} {
			code, body := httpDo(http.MethodGet, c.addr(p.ID)+path, "")
			leaks(fmt.Sprintf("%s of %s (%d)", path, p.Name, code), body)
			if path == "/view-logs" {
				var v struct {
					Logs []string `json:"logs"`
				}
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Fatalf("/view-logs of %s: %v", p.Name, err)
				}
				if len(v.Logs) > 0 {
					sawLogs++
				}
			}
		}
		c.mu.Lock()
		srv := c.nodes[p.ID].srv
		c.mu.Unlock()
		mon := httptest.NewServer(srv.monitorHandler())
		for _, path := range []string{"/status.json", "/metrics", "/", "/debug/pprof/"} {
			code, body := httpDo(http.MethodGet, mon.URL+path, "")
			leaks(fmt.Sprintf("monitor %s of %s (%d)", path, p.Name, code), body)
		}
		mon.Close()
	}
	if sawLogs < len(c.cfg.Peers()) {
		t.Errorf("only %d nodes have lines in /view-logs", sawLogs)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	if n := strings.Count(out, "encrypted=true"); n != len(c.cfg.Peers()) {
		t.Errorf("%d nodes logged encrypted gossip, want all %d", n, len(c.cfg.Peers()))
	}
	leaks("the log", out)
	t.Logf("checked %d bytes of debug log and the public answers of %d nodes", len(out), len(c.cfg.Peers()))
}
