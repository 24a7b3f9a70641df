package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/testenv"
	"github.com/paxos-go/paxos/server"
)

// Node is one paxosd process of a Cluster: its place in the topology, its
// ports, its data dir and its log file. The process behind it changes as the
// test kills and restarts it; the data dir and ports stay.
type Node struct {
	Name    string
	ID      int
	Role    string // proposer, acceptor, learner or client
	API     int    // API port on 127.0.0.1
	Monitor int    // monitor port
	Gossip  int    // memberlist port (TCP and UDP) on 127.0.0.1
	DataDir string
	LogPath string

	mu     sync.Mutex
	proc   *process // the last process started; nil before the first start
	starts int
}

// process is one run of a node.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's answer, set before done is closed
	paused bool          // guarded by Node.mu
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// URL is the base URL of the node's API.
func (n *Node) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.API) }

func (n *Node) addr() string { return "127.0.0.1:" + strconv.Itoa(n.API) }

// running returns the node's live process, or nil.
func (n *Node) running() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return nil
	}
	return n.proc
}

// Options tune a Cluster. Zero fields keep paxosd's defaults.
type Options struct {
	// Tick is TICK, the protocol clock (paxosd's default is 50ms).
	Tick time.Duration
	// RequestTimeout is REQUEST_TIMEOUT (paxosd's default is 5s).
	RequestTimeout time.Duration
	// Env holds more KEY=VALUE settings for every node.
	Env []string
}

// Cluster is the 10-node topology of SPEC §3 run as real paxosd processes on
// free loopback ports. Every method that fails calls t.Fatal, so it must be
// called from the test goroutine unless its doc says otherwise.
type Cluster struct {
	t     *testing.T
	bin   string
	Dir   string
	opts  Options
	Nodes []*Node // topology order: proposers, acceptors, learners, clients

	byName map[string]*Node
}

// NewCluster starts the 10 nodes and waits until they answer /health and a
// proposer leads. The processes are SIGKILLed when the test ends; the
// cluster's directory (data dirs and logs) is removed then, unless the test
// failed (or -keep is set): its path and the tail of every log are printed.
func NewCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c := newCluster(t, opts)
	c.startAll()
	return c
}

// startAll starts every node of a cluster laid out by newCluster and waits
// until they answer /health and a proposer leads.
func (c *Cluster) startAll() {
	c.t.Helper()
	for _, n := range c.Nodes {
		c.Start(n.Name)
	}
	c.WaitHealthy(20 * time.Second)
	c.Leader(20 * time.Second)
}

// newCluster lays the cluster out (ports, directories) without starting it.
func newCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "paxos-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: paxosd(t), Dir: dir, opts: opts, byName: map[string]*Node{}}
	// The nodes of server.Topology (SPEC §3), on free ports.
	topology := server.Topology()
	ports := freePorts(t, 3*len(topology))
	for _, tn := range topology {
		n := &Node{Name: tn.Name, ID: int(tn.ID), Role: string(tn.Role),
			API: ports[0], Monitor: ports[1], Gossip: ports[2],
			DataDir: filepath.Join(dir, tn.Name), LogPath: filepath.Join(dir, tn.Name+".log")}
		ports = ports[3:]
		c.Nodes = append(c.Nodes, n)
		c.byName[tn.Name] = n
	}
	t.Cleanup(func() {
		c.killAll()
		if t.Failed() {
			c.dumpLogs(40)
			t.Logf("cluster directory kept for inspection: %s", c.Dir)
			return
		}
		if *flagKeep {
			t.Logf("cluster directory kept (-keep): %s", c.Dir)
			return
		}
		os.RemoveAll(c.Dir)
	})
	return c
}

// Node returns the node called name (proposer1 ... client2).
func (c *Cluster) Node(name string) *Node {
	c.t.Helper()
	n, ok := c.byName[name]
	if !ok {
		c.t.Fatalf("no node %q in the cluster", name)
	}
	return n
}

// Role returns the nodes of a role, in topology order.
func (c *Cluster) Role(role string) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// peers is the PROPOSERS/ACCEPTORS/... value of role: ID@127.0.0.1:PORT,...
func (c *Cluster) peers(role string) string {
	var parts []string
	for _, n := range c.Role(role) {
		parts = append(parts, fmt.Sprintf("%d@%s", n.ID, n.addr()))
	}
	return strings.Join(parts, ",")
}

// env is the whole environment of n's process. It does not inherit the
// test's environment (CLUSTER_SECRET, COMPOSE, ... would change the nodes).
func (c *Cluster) env(n *Node) []string {
	join := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", c.Role("proposer")[0].Gossip, c.Role("acceptor")[0].Gossip)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"NODE_ID=" + strconv.Itoa(n.ID),
		"NODE_ROLE=" + n.Role,
		"NODE_NAME=" + n.Name,
		"LISTEN_ADDR=" + n.addr(),
		"MONITOR_PORT=" + strconv.Itoa(n.Monitor),
		"GOSSIP_PORT=" + strconv.Itoa(n.Gossip),
		"GOSSIP_BIND=127.0.0.1",
		"JOIN=" + join,
		"DATA_DIR=" + n.DataDir,
		"PROPOSERS=" + c.peers("proposer"),
		"ACCEPTORS=" + c.peers("acceptor"),
		"LEARNERS=" + c.peers("learner"),
		"CLIENTS=" + c.peers("client"),
		"LOG_LEVEL=info",
	}
	if c.opts.Tick > 0 {
		env = append(env, "TICK="+c.opts.Tick.String())
	}
	if c.opts.RequestTimeout > 0 {
		env = append(env, "REQUEST_TIMEOUT="+c.opts.RequestTimeout.String())
	}
	return append(env, c.opts.Env...)
}

// Start starts the node (again, with the same data dir and ports). It does not
// wait for it to be healthy (see WaitHealthy).
func (c *Cluster) Start(name string) {
	c.t.Helper()
	n := c.Node(name)
	p, err := c.spawn(n, c.env(n), n.LogPath)
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		p.cmd.Process.Kill()
		c.t.Fatalf("start %s: it is already running (pid %d)", name, n.proc.cmd.Process.Pid)
	}
	n.proc = p
	n.starts++
}

// spawn starts paxosd with env, appending its output to logPath.
func (c *Cluster) spawn(n *Node, env []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "--- e2e: starting %s at %s ---\n", n.Name, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(c.bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a Ctrl-C of go test does not reach the nodes
	// directly; Pdeathsig kills them if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Paxosctl runs paxosctl with args against the cluster (its endpoints are
// the client and learner nodes) and returns its exit status and its output
// (stdout and stderr). A paxosctl that runs for a minute is killed.
func (c *Cluster) Paxosctl(args ...string) (code int, out string) {
	c.t.Helper()
	var endpoints []string
	for _, n := range append(c.Role("client"), c.Role("learner")...) {
		endpoints = append(endpoints, n.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, paxosctl(c.t), append([]string{"--timeout", "5s"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PAXOSCTL_ENDPOINTS=" + strings.Join(endpoints, ",")}
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		c.t.Fatalf("paxosctl %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return code, string(b)
}

// Kill SIGKILLs the node (a crash) and waits until it is gone.
func (c *Cluster) Kill(name string) {
	c.t.Helper()
	p := c.live(name)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s (pid %d) survived SIGKILL for 10s", name, p.cmd.Process.Pid)
	}
}

// Stop SIGTERMs the node (resuming it if paused) and waits until it exits;
// a node still running after 15s is SIGKILLed. It reports (t.Errorf) a node
// that does not exit, or exits with a non-zero status: paxosd documents exit
// status 0 after a clean stop. Stop may run on any goroutine.
func (c *Cluster) Stop(name string) {
	n := c.byName[name]
	p := n.running()
	if p == nil {
		c.t.Errorf("stop %s: it is not running", name)
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	n.mu.Lock()
	p.paused = false
	n.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		c.t.Errorf("%s did not exit within 15s of SIGTERM; killed it", name)
		return
	}
	if p.err != nil {
		c.t.Errorf("%s: after SIGTERM: %v (want exit status 0); see %s", name, p.err, n.LogPath)
	}
}

// StopAll stops the nodes concurrently (SIGTERM to all, then waits).
func (c *Cluster) StopAll(names ...string) {
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() { c.Stop(name) })
	}
	wg.Wait()
}

// Pause SIGSTOPs the node: it hangs with its sockets open.
func (c *Cluster) Pause(name string) {
	c.t.Helper()
	c.signalPaused(name, syscall.SIGSTOP, true)
}

// Resume SIGCONTs a paused node.
func (c *Cluster) Resume(name string) {
	c.t.Helper()
	c.signalPaused(name, syscall.SIGCONT, false)
}

func (c *Cluster) signalPaused(name string, sig syscall.Signal, paused bool) {
	c.t.Helper()
	n := c.Node(name)
	p := c.live(name)
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("%s %s: %v", sig, name, err)
	}
	n.mu.Lock()
	p.paused = paused
	n.mu.Unlock()
}

// Running reports whether the node's process is alive (paused or not).
func (c *Cluster) Running(name string) bool { return c.byName[name].running() != nil }

// Paused reports whether the node is alive and paused.
func (c *Cluster) Paused(name string) bool {
	n := c.byName[name]
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.proc.exited() && n.proc.paused
}

// live returns the node's live process or fails the test.
func (c *Cluster) live(name string) *process {
	c.t.Helper()
	p := c.Node(name).running()
	if p == nil {
		c.t.Fatalf("%s is not running", name)
	}
	return p
}

func (c *Cluster) killAll() {
	for _, n := range c.Nodes {
		if p := n.running(); p != nil {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

// WaitHealthy waits until the named nodes (all running ones when none are
// named) answer GET /health with 200. A node that exits meanwhile fails the
// test at once, with the tail of its log.
func (c *Cluster) WaitHealthy(timeout time.Duration, names ...string) {
	c.t.Helper()
	if len(names) == 0 {
		for _, n := range c.Nodes {
			if c.Running(n.Name) {
				names = append(names, n.Name)
			}
		}
	}
	eventually(c.t, timeout, func() error {
		for _, name := range names {
			n := c.Node(name)
			if n.running() == nil {
				c.t.Fatalf("%s exited while the test waited for it to be healthy:\n%s", name, tail(n.LogPath, 20))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			code, body, err := get(ctx, n.URL()+"/health")
			cancel()
			if err != nil || code != 200 {
				return fmt.Errorf("%s is not healthy: %d %s %v", name, code, body, err)
			}
		}
		return nil
	})
}

// Leader waits until a running, unpaused proposer says it leads (GET /status
// is_leader) and returns its name.
func (c *Cluster) Leader(timeout time.Duration) string {
	c.t.Helper()
	var leader string
	eventually(c.t, timeout, func() error {
		name, err := c.leaderNow()
		leader = name
		return err
	})
	return leader
}

// leaderNow asks the running proposers once. It may run on any goroutine.
func (c *Cluster) leaderNow() (string, error) {
	for _, n := range c.Role("proposer") {
		if !c.Running(n.Name) || c.Paused(n.Name) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := proposerStatus(ctx, n)
		cancel()
		if err == nil && st.IsLeader {
			return n.Name, nil
		}
	}
	return "", errors.New("no running proposer says it leads")
}

// dumpLogs prints the last lines of every node's log.
func (c *Cluster) dumpLogs(lines int) {
	for _, n := range c.Nodes {
		c.t.Logf("==== last %d lines of %s (%s) ====\n%s", lines, n.Name, n.LogPath, tail(n.LogPath, lines))
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	return strings.Join(ring, "\n")
}

// eventually polls f every 20ms until it returns nil, failing the test with
// f's last error after timeout.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, "e2e", f)
}

// portsMu and portsTaken keep the ports handed out in this test binary apart.
var (
	portsMu    sync.Mutex
	portsTaken = map[int]bool{}
)

// freePorts returns n ports that are free for TCP on every interface and for
// UDP on 127.0.0.1 (memberlist binds both). They are picked below the
// kernel's ephemeral range, so the outgoing connections of the nodes cannot
// take a port while its node is down between a kill and a restart, and
// reserved for the test (testenv.ReservePort) against the other test
// processes: go test runs the server package's in-process clusters beside
// this one, in the same range.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 20000, 32000
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil && first > 12000 {
				lo, hi = first-10000, first
			}
		}
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			t.Fatalf("found only %d free ports in [%d, %d)", len(out), lo, hi)
		}
		p := lo + rand.IntN(hi-lo)
		if portsTaken[p] || !portFree(p) || !testenv.ReservePort(t, p) {
			continue
		}
		portsTaken[p] = true
		out = append(out, p)
	}
	return out
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	pc.Close()
	return true
}
