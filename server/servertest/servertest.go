// Package servertest runs a whole cluster in the test's process, for tests
// of other packages that talk to real nodes (the Go client, paxosctl): the
// 10 nodes of the standard topology on 127.0.0.1 listeners of port 0, each
// with its data in the test's temporary folder, stopped at its cleanup.
package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/testenv"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
)

// Cluster is a running cluster. Its listeners are made before any node
// starts, so no other process takes a port in between.
type Cluster struct {
	// Config is the configuration every node shares: the topology, with
	// each node's address.
	Config server.Config
	t      testing.TB
	mu     sync.Mutex
	stops  map[replog.ID]func()
}

// Start starts a cluster whose shared configuration tune may change (nil:
// the defaults, with a 20 ms tick and a 3 s request timeout), and waits for
// a leader.
func Start(t testing.TB, tune func(*server.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, stops: map[replog.ID]func(){}}
	lns := map[replog.ID]net.Listener{}
	peers := func(r server.Role) []server.Peer {
		ps := server.StandardPeers(r, "127.0.0.1")
		for i := range ps {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lns[ps[i].ID], ps[i].Addr = ln, ln.Addr().String()
		}
		return ps
	}
	c.Config = server.Config{Proposers: peers(server.RoleProposer), Acceptors: peers(server.RoleAcceptor),
		Learners: peers(server.RoleLearner), Clients: peers(server.RoleClient),
		Tick: 20 * time.Millisecond, RequestTimeout: 3 * time.Second}
	if tune != nil {
		tune(&c.Config)
	}
	// Gossip: every node joins the first one, so each lists them all (as
	// paxosctl's discovery wants).
	ports, used := map[replog.ID]int{}, map[int]bool{}
	for _, p := range c.Config.Peers() {
		ports[p.ID] = testenv.FreePort(t, "127.0.0.1", used)
	}
	join := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[c.Config.Proposers[0].ID]))}
	dir := t.TempDir()
	for _, p := range c.Config.Peers() {
		cfg := c.Config
		cfg.ID, cfg.Name, cfg.Role, cfg.Listen = p.ID, p.Name, p.Role, p.Addr
		cfg.DataDir = filepath.Join(dir, p.Name)
		cfg.GossipBind, cfg.GossipPort, cfg.Join = "127.0.0.1", ports[p.ID], join
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		s, err := server.New(cfg, log)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = s.Serve(ctx, lns[p.ID]); close(done) }()
		c.stops[p.ID] = func() { cancel(); <-done }
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, p := range c.Config.Peers() {
			wg.Go(func() { c.Stop(p.ID) }) // each waits up to 500 ms to leave gossip
		}
		wg.Wait()
	})
	c.Leader()
	return c
}

// Stop shuts node id down (as SIGTERM does) and waits until it stopped.
func (c *Cluster) Stop(id replog.ID) {
	c.mu.Lock()
	stop := c.stops[id]
	delete(c.stops, id)
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Addr is node id's API address (host:port).
func (c *Cluster) Addr(id replog.ID) string {
	p, _ := c.Config.Peer(id)
	return p.Addr
}

// Addrs are the API addresses of nodes ps.
func Addrs(ps []server.Peer) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Addr)
	}
	return out
}

func (c *Cluster) get(id replog.ID, path string, out any) error {
	resp, err := http.Get("http://" + c.Addr(id) + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// Leader waits for a proposer that says it leads, and returns it.
func (c *Cluster) Leader() replog.ID {
	c.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, p := range c.Config.Proposers {
			var st struct {
				IsLeader bool `json:"is_leader"`
			}
			if c.get(p.ID, "/status", &st) == nil && st.IsLeader {
				return p.ID
			}
		}
	}
	c.t.Fatal("no leader after 20s")
	return 0
}

// Entry is a value of the log.
type Entry struct {
	Slot      uint64 `json:"slot"`
	Value     string `json:"value"`
	RequestID string `json:"request_id"`
}

// Log reads learner1's whole log once it holds slot want.
func (c *Cluster) Log(want uint64) []Entry {
	c.t.Helper()
	var all []Entry
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		all = all[:0]
		var from uint64
		for {
			var page struct {
				Entries  []Entry `json:"entries"`
				NextFrom uint64  `json:"next_from"`
			}
			if err := c.get(c.Config.Learners[0].ID, fmt.Sprintf("/get-values?from=%d", from), &page); err != nil {
				c.t.Fatal(err)
			}
			all = append(all, page.Entries...)
			if page.NextFrom <= from {
				break
			}
			from = page.NextFrom
		}
		if len(all) > 0 && all[len(all)-1].Slot >= want {
			return all
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("learner1 has not learned slot %d after 20s (%d entries)", want, len(all))
		}
	}
}
