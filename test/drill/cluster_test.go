//go:build drill

package drill

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/server"
)

// project is the Compose project of the drills, distinct from the user's
// (the folder name), so "down" never removes the user's cluster.
const project = "paxosdrill"

// network is the Compose network (a fixed name in docker-compose.yml).
const network = "paxos-network"

// node is one container of SPEC §3.
type node struct {
	Name string
	ID   int
	Role string
	Port int // API port, the same on the host
}

// Addr is the node's API on the host, or where nodeAddrs says it is.
func (n node) Addr() string {
	if a, ok := nodeAddrs[n.Name]; ok {
		return a
	}
	return fmt.Sprintf("127.0.0.1:%d", n.Port)
}

// nodeAddrs overrides Addr per node name: the swarm drill's nodes publish
// their ports on the addresses of three engines, not on 127.0.0.1.
var nodeAddrs map[string]string

// The nodes of server.Topology (SPEC §3), per role and all of them.
var (
	proposers = topologyNodes(server.RoleProposer)
	acceptors = topologyNodes(server.RoleAcceptor)
	learners  = topologyNodes(server.RoleLearner)
	clients   = topologyNodes(server.RoleClient)
	allNodes  = topologyNodes("")
)

// topologyNodes returns the nodes of role r of server.Topology, or all of
// them when r is "".
func topologyNodes(r server.Role) []node {
	var out []node
	for _, n := range server.Topology() {
		if r == "" || n.Role == r {
			out = append(out, node{Name: n.Name, ID: int(n.ID), Role: string(n.Role), Port: n.API})
		}
	}
	return out
}

func nodeNamed(name string) node {
	for _, n := range allNodes {
		if n.Name == name {
			return n
		}
	}
	panic("unknown node " + name)
}

// cluster drives the Compose project of the drills.
type cluster struct {
	t       testing.TB
	root    string // repository root (docker-compose.yml)
	volumes string // PAXOS_VOLUMES: the nodes' data, one folder per node
	env     []string
	http    *http.Client
	logf    func(format string, args ...any)
	// scheme is https with DRILL_TLS=1: every node speaks TLS with its
	// certificate from certs (scripts/secure.sh certs), and the drills
	// speak to them with the CA and paxosctl's client certificate.
	scheme string
	certs  string
}

// repoRoot finds the folder of go.mod above the test's folder.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("drill: docker-compose.yml and go.mod not found above the test folder")
		}
		dir = parent
	}
}

// newCluster checks the prerequisites and prepares (but does not start) the
// drill cluster. It fails the test with a clear message when Docker does
// not answer, the image is missing, or another paxos cluster holds the
// container names or the ports.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	root := repoRoot(t)
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Fatalf("drill: the Docker engine does not answer (docker info: %v)", err)
	}
	image := os.Getenv("PAXOS_IMAGE")
	if image == "" {
		image = "paxos:local"
	}
	if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", image).CombinedOutput(); err != nil {
		t.Fatalf("drill: image %s not found: run 'make image' (or 'make drill', which builds it): %s", image, strings.TrimSpace(string(out)))
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	vol, err := os.MkdirTemp("", "paxosdrill-volumes-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, root: root, volumes: vol,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32}},
		logf: t.Logf}
	c.env = append(os.Environ(),
		"PAXOS_IMAGE="+image,
		"PAXOS_VOLUMES="+vol,
		"PAXOS_HOST_IP=127.0.0.1",
		"CLUSTER_SECRET=drill-"+hex.EncodeToString(secret),
		"CLIENT_TOKEN=",
		"LOG_FORMAT=text",
		"LOG_LEVEL="+envOr("DRILL_LOG_LEVEL", "info"),
		"COMPOSE_PROJECT_NAME="+project,
		// Set even when empty: the environment wins over a .env that
		// TLS=1 make up left in the repository.
		"PAXOS_TLS_DIR=",
	)
	c.scheme = "http"
	if os.Getenv("DRILL_TLS") == "1" {
		c.useTLS()
	}
	c.checkNoOtherCluster()
	return c
}

// useTLS makes the CA and the certificates (scripts/secure.sh certs, with
// bin/paxosctl) in a folder of the run, starts the nodes with TLS
// (PAXOS_TLS_DIR=/tls: each node's folder mounted read-only) and speaks
// https with the CA and paxosctl's certificate.
func (c *cluster) useTLS() {
	certs, err := os.MkdirTemp("", "paxosdrill-certs-")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = os.RemoveAll(certs) })
	c.certs, c.scheme = certs, "https"
	c.env = append(c.env, "PAXOS_TLS_DIR=/tls", "PAXOS_CERTS="+certs)
	c.tlsFiles()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(certs, "ca.crt"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		c.t.Fatalf("drill: the CA of %s: %v", certs, err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(certs, "paxosctl.crt"), filepath.Join(certs, "paxosctl.key"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}
	c.logf("drill: TLS on (certificates in %s)", certs)
}

// tlsFiles gives every node its TLS folder in the data folder, making the
// certificates on the first call.
func (c *cluster) tlsFiles() {
	if c.certs == "" {
		return
	}
	cmd := exec.Command(filepath.Join(c.root, "scripts", "secure.sh"), "certs")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("drill: scripts/secure.sh certs: %v\n%s", err, out)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// checkNoOtherCluster fails when containers with our fixed names belong to
// another Compose project, or something else holds the API ports.
func (c *cluster) checkNoOtherCluster() {
	c.t.Helper()
	var foreign []string
	for _, n := range allNodes {
		out, err := exec.Command("docker", "inspect", "--format",
			`{{index .Config.Labels "com.docker.compose.project"}} {{.State.Status}}`, n.Name).Output()
		if err != nil {
			continue // no such container
		}
		f := strings.Fields(string(out))
		if len(f) == 0 || f[0] != project {
			foreign = append(foreign, fmt.Sprintf("%s (%s)", n.Name, strings.TrimSpace(string(out))))
		}
	}
	if len(foreign) > 0 {
		c.t.Fatalf("drill: containers with the cluster's fixed names belong to another Compose project: %s.\n"+
			"The drills need them: stop that cluster first ('make down'); its data in ./volumes is kept.",
			strings.Join(foreign, ", "))
	}
	// Leftovers of an earlier drill run are ours to remove.
	c.composeQuiet("down", "-v", "--remove-orphans")
	for _, n := range allNodes {
		conn, err := net.DialTimeout("tcp", n.Addr(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			c.t.Fatalf("drill: port %d (%s) is in use by a process outside Docker (the local cluster? 'scripts/local.sh down')", n.Port, n.Name)
		}
	}
}

// compose runs scripts/compose.sh -p paxosdrill ARGS and fails the test on
// error.
func (c *cluster) compose(args ...string) string {
	c.t.Helper()
	out, err := c.composeErr(args...)
	if err != nil {
		c.t.Fatalf("drill: compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) composeErr(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.root, "scripts", "compose.sh"), append([]string{"-p", project}, args...)...)
	cmd.Dir = c.root
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// composeWhich names the Compose command scripts/compose.sh runs.
func (c *cluster) composeWhich() string {
	cmd := exec.Command(filepath.Join(c.root, "scripts", "compose.sh"), "--which")
	cmd.Env = c.env
	out, err := cmd.Output()
	if err != nil {
		return "compose"
	}
	return strings.TrimSpace(string(out))
}

func (c *cluster) composeQuiet(args ...string) {
	_, _ = c.composeErr(args...)
}

// docker runs docker ARGS and fails the test on error.
func (c *cluster) docker(args ...string) {
	c.t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		c.t.Fatalf("drill: docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// up starts a fresh cluster: no containers, empty data folders.
func (c *cluster) up() {
	c.t.Helper()
	c.composeQuiet("down", "-v", "--remove-orphans")
	c.wipeAll()
	for _, n := range allNodes {
		if err := os.MkdirAll(filepath.Join(c.volumes, n.Name), 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	c.tlsFiles()
	c.compose("up", "-d", "--no-build")
	c.waitHealthy(60*time.Second, allNodes...)
}

// down removes the containers and the network, and the data folder unless
// keep is set (a failed run keeps it for inspection).
func (c *cluster) down(keep bool) {
	c.composeQuiet("down", "-v", "--remove-orphans")
	if keep {
		c.logf("drill: node data kept in %s", c.volumes)
		return
	}
	if err := os.RemoveAll(c.volumes); err != nil {
		c.logf("drill: could not remove %s: %v", c.volumes, err)
	}
}

func (c *cluster) wipeAll() {
	entries, _ := os.ReadDir(c.volumes)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.volumes, e.Name())); err != nil {
			c.t.Fatalf("drill: wiping %s: %v", e.Name(), err)
		}
	}
}

// wipe deletes a stopped node's data (what an acceptor that forgets its
// state on restart would see).
func (c *cluster) wipe(name string) {
	c.t.Helper()
	dir := filepath.Join(c.volumes, name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "tls" {
			continue // the certificates are mounted on their own: not the disk that was lost
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			c.t.Fatalf("drill: wiping %s: %v", dir, err)
		}
	}
}

func (c *cluster) stop(names ...string) {
	c.t.Helper()
	c.docker(append([]string{"stop", "-t", "10"}, names...)...)
}

func (c *cluster) start(names ...string) {
	c.t.Helper()
	c.docker(append([]string{"start"}, names...)...)
}

func (c *cluster) kill(name string)    { c.t.Helper(); c.docker("kill", name) }
func (c *cluster) pause(name string)   { c.t.Helper(); c.docker("pause", name) }
func (c *cluster) unpause(name string) { c.t.Helper(); c.docker("unpause", name) }

func (c *cluster) disconnect(name string) {
	c.t.Helper()
	c.docker("network", "disconnect", network, name)
}

func (c *cluster) connect(name string) {
	c.t.Helper()
	c.docker("network", "connect", "--alias", name, network, name)
}

// restore undoes whatever an earlier drill may have left behind after a
// failure: it unpauses, starts and reconnects every node.
func (c *cluster) restore() {
	for _, n := range allNodes {
		out, err := exec.Command("docker", "inspect", "--format",
			`{{.State.Paused}} {{.State.Running}} {{if index .NetworkSettings.Networks "`+network+`"}}connected{{else}}cut{{end}}`, n.Name).Output()
		if err != nil {
			continue
		}
		f := strings.Fields(string(out))
		if len(f) != 3 {
			continue
		}
		if f[0] == "true" {
			c.logf("drill: restoring %s: unpause", n.Name)
			_ = exec.Command("docker", "unpause", n.Name).Run()
		}
		if f[2] == "cut" {
			c.logf("drill: restoring %s: network connect", n.Name)
			_ = exec.Command("docker", "network", "connect", "--alias", n.Name, network, n.Name).Run()
		}
		if f[1] != "true" {
			c.logf("drill: restoring %s: start", n.Name)
			_ = exec.Command("docker", "start", n.Name).Run()
		}
	}
}

// healthy reports whether the node answers GET /health with 200.
func (c *cluster) healthy(n node) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+n.Addr()+"/health", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// waitHealthy waits until every node answers /health with 200.
func (c *cluster) waitHealthy(timeout time.Duration, nodes ...node) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var bad []string
		for _, n := range nodes {
			if !c.healthy(n) {
				bad = append(bad, n.Name)
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, name := range bad {
				out, _ := exec.Command("docker", "logs", "--tail", "20", name).CombinedOutput()
				c.logf("docker logs %s:\n%s", name, out)
			}
			c.t.Fatalf("drill: not healthy after %v: %s", timeout, strings.Join(bad, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// getJSON GETs http://n/path into out (nil: discard) and returns the status.
func (c *cluster) getJSON(ctx context.Context, n node, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+n.Addr()+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s%s: %d %s", n.Name, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s%s: %w", n.Name, path, err)
		}
	}
	return resp.StatusCode, nil
}

// proposerStatus is the part of a proposer's GET /status the drills use.
type proposerStatus struct {
	Name           string `json:"name"`
	ID             int    `json:"id"`
	State          string `json:"state"`
	IsLeader       bool   `json:"is_leader"`
	CurrentLeader  *int   `json:"current_leader"`
	ProposalNumber uint64 `json:"proposal_number"`
	ChosenSlot     int64  `json:"chosen_slot"`
	NextSlot       uint64 `json:"next_slot"`
	InFlight       int    `json:"in_flight"`
	Queued         int    `json:"queued"`
}

func (c *cluster) status(n node) (proposerStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var st proposerStatus
	_, err := c.getJSON(ctx, n, "/status", &st)
	return st, err
}

// leader returns the proposer that says it leads with the highest ballot,
// among the proposers that answer and are not in skip.
func (c *cluster) leader(skip ...string) (node, proposerStatus, bool) {
	var best node
	var bestSt proposerStatus
	found := false
outer:
	for _, p := range proposers {
		for _, s := range skip {
			if p.Name == s {
				continue outer
			}
		}
		st, err := c.status(p)
		if err != nil || !st.IsLeader {
			continue
		}
		if !found || st.ProposalNumber > bestSt.ProposalNumber {
			best, bestSt, found = p, st, true
		}
	}
	return best, bestSt, found
}

// waitLeader waits for a leader other than the nodes in skip.
func (c *cluster) waitLeader(timeout time.Duration, skip ...string) (node, proposerStatus, time.Duration, bool) {
	start := time.Now()
	for {
		if n, st, ok := c.leader(skip...); ok {
			return n, st, time.Since(start), true
		}
		if time.Since(start) > timeout {
			return node{}, proposerStatus{}, time.Since(start), false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFollower waits until proposer n answers and says it follows another
// leader.
func (c *cluster) waitFollower(n node, timeout time.Duration) (proposerStatus, bool) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := c.status(n)
		if err == nil && !st.IsLeader && st.CurrentLeader != nil && *st.CurrentLeader != n.ID {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSingleLeader waits until every proposer answers, exactly one leads,
// and the others name it as their leader.
func (c *cluster) waitSingleLeader(timeout time.Duration) (node, proposerStatus, bool) {
	deadline := time.Now().Add(timeout)
	for {
		var sts []proposerStatus
		for _, p := range proposers {
			st, err := c.status(p)
			if err != nil {
				break
			}
			sts = append(sts, st)
		}
		if len(sts) == len(proposers) {
			leaders := 0
			var l proposerStatus
			var ln node
			for i, st := range sts {
				if st.IsLeader {
					leaders++
					l, ln = st, proposers[i]
				}
			}
			agree := leaders == 1
			for _, st := range sts {
				if agree && !st.IsLeader && (st.CurrentLeader == nil || *st.CurrentLeader != l.ID) {
					agree = false
				}
			}
			if agree {
				return ln, l, true
			}
		}
		if time.Now().After(deadline) {
			return node{}, proposerStatus{}, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proposerSummary is one line per proposer's state (for failure messages).
func (c *cluster) proposerSummary() string {
	var parts []string
	for _, p := range proposers {
		st, err := c.status(p)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		leader := "none"
		if st.CurrentLeader != nil {
			leader = fmt.Sprint(*st.CurrentLeader)
		}
		parts = append(parts, fmt.Sprintf("%s: %s leader=%s ballot=%d", p.Name, st.State, leader, st.ProposalNumber))
	}
	return strings.Join(parts, "; ")
}

// acceptorView is the durable part of an acceptor's GET /view-logs.
type acceptorView struct {
	Promised         uint64          `json:"promised"`
	AcceptedCount    uint64          `json:"accepted_count"`
	LastAcceptedSlot *int64          `json:"last_accepted_slot"`
	AcceptedProposal json.RawMessage `json:"accepted_proposal"`
}

// acceptedProposal is the last accepted entry of an acceptor's /view-logs.
type acceptedProposal struct {
	Number uint64 `json:"number"`
	Value  string `json:"value"`
	Slot   *int64 `json:"slot"`
}

func (v acceptorView) proposal() acceptedProposal {
	var p acceptedProposal
	_ = json.Unmarshal(v.AcceptedProposal, &p)
	return p
}

func (v acceptorView) String() string {
	last := "null"
	if v.LastAcceptedSlot != nil {
		last = fmt.Sprint(*v.LastAcceptedSlot)
	}
	return fmt.Sprintf("promised=%d accepted_count=%d last_accepted_slot=%s accepted_proposal=%s",
		v.Promised, v.AcceptedCount, last, v.AcceptedProposal)
}

func (c *cluster) acceptorView(n node) (acceptorView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var v acceptorView
	_, err := c.getJSON(ctx, n, "/view-logs", &v)
	return v, err
}

// quietAcceptor waits until the leader has nothing in flight and the
// acceptor's /view-logs is the same twice in a row, half a second apart.
func (c *cluster) quietAcceptor(n node, timeout time.Duration) (acceptorView, error) {
	deadline := time.Now().Add(timeout)
	var prev acceptorView
	var err error
	for first := true; ; first = false {
		var v acceptorView
		v, err = c.acceptorView(n)
		_, st, ok := c.leader()
		if err == nil && !first && v.String() == prev.String() && ok && st.InFlight == 0 && st.Queued == 0 {
			return v, nil
		}
		prev = v
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s's state still changing after %v (last %v)", n.Name, timeout, v)
			}
			return v, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// entry is one client value of a learner's log.
type entry struct {
	Slot      uint64 `json:"slot"`
	Value     string `json:"value"`
	RequestID string `json:"request_id"`
}

// valuesPage is a page of GET /get-values (learner) or /read (client).
type valuesPage struct {
	Entries    []entry `json:"entries"`
	ChosenSlot int64   `json:"chosen_slot"`
	NextFrom   uint64  `json:"next_from"`
}

// learnerLog reads a learner's whole log, page by page.
func (c *cluster) learnerLog(n node) ([]entry, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []entry
	var chosen int64 = -1
	from := uint64(0)
	for {
		var p valuesPage
		if _, err := c.getJSON(ctx, n, fmt.Sprintf("/get-values?from=%d&limit=20000", from), &p); err != nil {
			return nil, 0, err
		}
		if from == 0 {
			chosen = p.ChosenSlot
		}
		out = append(out, p.Entries...)
		if len(p.Entries) == 0 || p.NextFrom <= from || int64(p.NextFrom) > chosen {
			return out, chosen, nil
		}
		from = p.NextFrom
	}
}

// chosenSlot is a learner's chosen_slot (-1: nothing chosen).
func (c *cluster) chosenSlot(n node) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var p valuesPage
	_, err := c.getJSON(ctx, n, "/get-values?limit=0", &p)
	return p.ChosenSlot, err
}

// settle waits until both learners report the same chosen slot twice in a
// row, half a second apart: the writes are over and the learners caught up.
func (c *cluster) settle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var prev [2]int64 = [2]int64{-2, -2}
	var last error
	for time.Now().Before(deadline) {
		var cur [2]int64
		ok := true
		for i, l := range learners {
			s, err := c.chosenSlot(l)
			if err != nil {
				ok, last = false, err
				break
			}
			cur[i] = s
		}
		if ok && cur[0] == cur[1] && cur == prev {
			return nil
		}
		if ok {
			last = fmt.Errorf("learner1 at %d, learner2 at %d", cur[0], cur[1])
		}
		prev = cur
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("learners did not settle within %v: %v", timeout, last)
}

// dockerLogs returns the last lines of a container's log (evidence for a
// report).
func dockerLogs(name string, lines int) string {
	out, err := exec.Command("docker", "logs", "--timestamps", "--tail", fmt.Sprint(lines), name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v)", name, err)
	}
	return string(out)
}
