package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/gossip"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
	"github.com/paxos-go/paxos/storage"
)

// exitConfig is the exit status of paxosd when its configuration is wrong
// (bad flag or environment value, inconsistent topology).
const exitConfig = 3

const paxosdDescriptionFormat = `paxosd runs one node of the Multi-Paxos replicated log: a proposer, an
acceptor, a learner or a client node. Every flag has an environment variable
(shown in brackets); a flag wins over its variable.

With only --id, the node takes its role, name, API port and monitor port from
the standard topology (override any of them with its flag):

%s
The peer lists (--proposers, --acceptors, --learners, --clients) default to
that topology on 127.0.0.1; with --compose (COMPOSE=1) every peer is reached
at its node name instead (acceptor1:4001), the node advertises its name, and
gossip uses port 7946. The acceptor list is static: a quorum is a majority
of it, whatever gossip says.

SIGTERM or SIGINT stops the node cleanly (it leaves gossip, a leader hands
over, storage is closed); a second signal kills it at once.

Every data dir records its cluster ID (--cluster-id) and node ID in
identity.json at first start; a node started on a data dir of another
cluster or node refuses it and exits 3. Give each cluster its own
CLUSTER_ID so that a volume mounted on the wrong cluster is caught too.

Exit status: 0 after a clean stop, 3 for a configuration error (including a
data dir of another cluster or node), 1 otherwise.

Examples:
   # acceptor1 (node 4) on this machine, in the local cluster of scripts/local.sh
   paxosd --id 4 --join 127.0.0.1:7001,127.0.0.1:7004

   # the same node configured through the environment, with a cluster secret
   NODE_ID=4 NODE_ROLE=acceptor PORT=4001 DATA_DIR=./volumes/acceptor1 \
   CLUSTER_SECRET=s3cret JOIN=127.0.0.1:7001 paxosd

   # acceptor1 as a Docker Compose service (what docker-compose.yml sets)
   COMPOSE=1 NODE_ID=4 DATA_DIR=/data JOIN=proposer1:7946,acceptor1:7946 \
   CLUSTER_SECRET=s3cret LOG_FORMAT=json paxosd

   # a node of a custom topology: three acceptors on other hosts
   paxosd --id 1 --acceptors 4@10.0.0.4:4001,5@10.0.0.5:4001,6@10.0.0.6:4001

Scripts: scripts/local.sh up|down|status|stop|start NODE runs the whole
cluster as local processes; make up picks Docker Compose when it can.`

// topologyRanges is the standard topology (server.Topology) as one line a
// role, for paxosd --help: IDs, names and port ranges.
func topologyRanges() string {
	var b strings.Builder
	fmt.Fprintf(&b, "   %-6s %-21s %-9s %-11s %-11s %s\n", "ID", "name", "role", "API", "monitor", "gossip (local)")
	for _, r := range server.Roles {
		var ns []server.TopologyNode
		for _, n := range server.Topology() {
			if n.Role == r {
				ns = append(ns, n)
			}
		}
		if len(ns) == 0 {
			continue
		}
		first, last := ns[0], ns[len(ns)-1]
		span := func(a, b any) string { return fmt.Sprintf("%v-%v", a, b) }
		fmt.Fprintf(&b, "   %-6s %-21s %-9s %-11s %-11s %s\n", span(first.ID, last.ID), span(first.Name, last.Name), r,
			span(first.API, last.API), span(first.Monitor, last.Monitor), span(first.Gossip, last.Gossip))
	}
	return b.String()
}

// Flag categories, in the order --help shows them.
const (
	catNode     = "node"
	catNetwork  = "network"
	catTopology = "topology"
	catSecurity = "security"
	catTuning   = "tuning"
	catLogging  = "logging"
)

// PaxosdApp returns the paxosd command: it runs one node until SIGTERM or
// SIGINT. Errors come back from Run; configuration errors are cli.ExitCoder
// with status 3. The app never exits the process itself.
func PaxosdApp() *cli.App {
	return &cli.App{
		Name:        "paxosd",
		Usage:       "run one node of the Multi-Paxos replicated log",
		UsageText:   "paxosd --id N [flags]",
		Description: fmt.Sprintf(paxosdDescriptionFormat, topologyRanges()),
		Version:     Version,
		Flags:       paxosdFlags(),
		Action:      runPaxosd,
		Commands:    []*cli.Command{paxosdHealthCommand()},
		// Flag and environment parse errors are configuration errors: one
		// line and status 3, not the whole help text.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit(err.Error()+" (see paxosd --help)", exitConfig)
		},
		// main prints errors and picks the exit status.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
	}
}

func paxosdFlags() []cli.Flag {
	def := server.DefaultConfig()
	return []cli.Flag{
		// node
		&cli.Uint64Flag{Name: "id", EnvVars: []string{"NODE_ID"}, Category: catNode,
			Usage: "node `ID` in the topology (required)", DefaultText: "none"},
		&cli.StringFlag{Name: "role", EnvVars: []string{"NODE_ROLE"}, Category: catNode,
			Usage: "`ROLE`: proposer, acceptor, learner or client", DefaultText: "the ID's role in the topology"},
		&cli.StringFlag{Name: "name", EnvVars: []string{"NODE_NAME"}, Category: catNode,
			Usage: "node `NAME` in logs and status", DefaultText: "the ID's name in the topology"},
		&cli.StringFlag{Name: "data-dir", EnvVars: []string{"DATA_DIR"}, Category: catNode,
			Usage: "`DIR` holding the node's bbolt file", DefaultText: "./volumes/<name>"},
		&cli.StringFlag{Name: "cluster-id", EnvVars: []string{"CLUSTER_ID"}, Category: catNode,
			Usage: "`NAME` of the cluster: the data dir records it with the node ID at first start, and a data dir of another cluster or node is refused (exit 3)",
			Value: def.ClusterID},
		&cli.BoolFlag{Name: "compose", EnvVars: []string{"COMPOSE"}, Category: catNode,
			Usage: "Docker Compose defaults: peers at their node names, advertise the name, gossip on 7946"},

		// network
		&cli.IntFlag{Name: "port", EnvVars: []string{"PORT"}, Category: catNetwork,
			Usage: "API `PORT` (listen on :PORT)", DefaultText: "the ID's port in the topology"},
		&cli.StringFlag{Name: "listen", EnvVars: []string{"LISTEN_ADDR"}, Category: catNetwork,
			Usage: "API listen `ADDRESS` (host:port); overrides --port"},
		&cli.IntFlag{Name: "monitor-port", EnvVars: []string{"MONITOR_PORT"}, Category: catNetwork,
			Usage: "`PORT` of /metrics, /debug/pprof, /trace and the status page (https with TLS; pprof and /trace need the cluster secret except from loopback); 0 disables it", DefaultText: "8000+ID"},
		&cli.StringFlag{Name: "advertise", EnvVars: []string{"ADVERTISE_HOST"}, Category: catNetwork,
			Usage: "`HOST` other nodes reach this node at: gossip advertises it (a name is resolved at start)", DefaultText: "the host of the node's topology address"},
		&cli.StringFlag{Name: "gossip-advertise", EnvVars: []string{"GOSSIP_ADVERTISE"}, Category: catNetwork,
			Usage: "`HOST[:PORT]` memberlist tells its peers to reach it at (a name is resolved at start; in a Swarm task the service name, or memberlist picks the unreachable docker_gwbridge address)", DefaultText: "--advertise at --gossip-port"},
		&cli.IntFlag{Name: "gossip-port", EnvVars: []string{"GOSSIP_PORT"}, Category: catNetwork,
			Usage: "memberlist `PORT`", DefaultText: "7000+ID, or 7946 with --compose"},
		&cli.StringFlag{Name: "gossip-bind", EnvVars: []string{"GOSSIP_BIND"}, Category: catNetwork,
			Usage: "memberlist bind `ADDRESS`", Value: "0.0.0.0"},
		&cli.StringFlag{Name: "join", EnvVars: []string{"JOIN"}, Category: catNetwork,
			Usage: "gossip peers to join at start, comma-separated `HOST:PORT,...`"},

		// topology
		&cli.StringFlag{Name: "proposers", EnvVars: []string{"PROPOSERS"}, Category: catTopology,
			Usage: "proposer nodes `[ID@]HOST:PORT,...`", DefaultText: "proposer1-3 on ports 3001-3003"},
		&cli.StringFlag{Name: "acceptors", EnvVars: []string{"ACCEPTORS"}, Category: catTopology,
			Usage: "acceptor nodes `[ID@]HOST:PORT,...` (a quorum is a majority of them)", DefaultText: "acceptor1-3 on ports 4001-4003"},
		&cli.StringFlag{Name: "learners", EnvVars: []string{"LEARNERS"}, Category: catTopology,
			Usage: "learner nodes `[ID@]HOST:PORT,...`", DefaultText: "learner1-2 on ports 5001-5002"},
		&cli.StringFlag{Name: "clients", EnvVars: []string{"CLIENTS"}, Category: catTopology,
			Usage: "client nodes `[ID@]HOST:PORT,...`", DefaultText: "client1-2 on ports 6001-6002"},

		// security
		&cli.StringFlag{Name: "secret", EnvVars: []string{"CLUSTER_SECRET"}, Category: catSecurity,
			Usage: "cluster `SECRET`: bearer token of internal endpoints and gossip encryption key; empty leaves them open"},
		&cli.StringFlag{Name: "secret-file", EnvVars: []string{"CLUSTER_SECRET_FILE"}, Category: catSecurity,
			Usage: "read the cluster secret from `FILE` (a Docker or Kubernetes secret; surrounding whitespace is dropped) instead of --secret"},
		&cli.StringFlag{Name: "trace-allow-from", EnvVars: []string{"TRACE_ALLOW_FROM"}, Category: catSecurity,
			Usage: "networks `CIDR,...` that may read the protocol trace (/trace, the status page's diagram) on the monitor port without the cluster secret; loopback always may, pprof always needs the secret elsewhere (Compose sets the private ranges: its ports are published on 127.0.0.1)"},
		&cli.StringFlag{Name: "client-token", EnvVars: []string{"CLIENT_TOKEN"}, Category: catSecurity,
			Usage: "bearer `TOKEN` required on writes (/send, /propose); empty allows anyone"},
		&cli.StringFlag{Name: "cert-file", EnvVars: []string{"CERT_FILE"}, Category: catSecurity,
			Usage: "this node's TLS certificate `FILE` (paxosctl certs: NAME.crt); with --key-file and --trusted-ca-file the API speaks only TLS and nodes prove who they are"},
		&cli.StringFlag{Name: "key-file", EnvVars: []string{"KEY_FILE"}, Category: catSecurity,
			Usage: "the key `FILE` of --cert-file"},
		&cli.StringFlag{Name: "trusted-ca-file", EnvVars: []string{"TRUSTED_CA_FILE"}, Category: catSecurity,
			Usage: "the CA `FILE` every node's and client's certificate must be signed by (files are re-read at every handshake)"},
		&cli.StringFlag{Name: "tls-dir", EnvVars: []string{"TLS_DIR"}, Category: catSecurity,
			Usage: "a `DIR` holding " + tlsDirCA + ", " + tlsDirCert + " and " + tlsDirKey + ": the three files above at once (scripts/secure.sh makes one per node)"},

		// tuning
		&cli.DurationFlag{Name: "tick", EnvVars: []string{"TICK"}, Category: catTuning,
			Usage: "protocol clock `INTERVAL` (heartbeat every 2 ticks, election after 10-20)", Value: def.Tick},
		&cli.DurationFlag{Name: "request-timeout", EnvVars: []string{"REQUEST_TIMEOUT"}, Category: catTuning,
			Usage: "longest a write or read may take (`DURATION`)", Value: def.RequestTimeout},
		&cli.IntFlag{Name: "max-value-bytes", EnvVars: []string{"MAX_VALUE_BYTES"}, Category: catTuning,
			Usage: "largest value in `BYTES` (larger ones get 413)", Value: def.MaxValueBytes},
		&cli.Uint64Flag{Name: "max-learner-lag", EnvVars: []string{"MAX_LEARNER_LAG"}, Category: catTuning,
			Usage: "proposers: raise LEARNER_LAG (writes get 503) when the chosen log is more than `SLOTS` ahead of the slowest learner's durable log",
			Value: def.MaxLearnerLag},
		&cli.Int64Flag{Name: "quota-bytes", EnvVars: []string{"QUOTA_BYTES"}, Category: catTuning,
			Usage: "acceptors: raise NOSPACE when the data is larger than `BYTES`", Value: def.QuotaBytes},
		&cli.Int64Flag{Name: "min-free-bytes", EnvVars: []string{"MIN_FREE_BYTES"}, Category: catTuning,
			Usage: "acceptors: raise NOSPACE when the data dir's filesystem has less than `BYTES` free", Value: def.MinFreeBytes},
		&cli.IntFlag{Name: "dedup-window", EnvVars: []string{"DEDUP_WINDOW"}, Category: catTuning,
			Usage: "a retry with the same request_id within `SLOTS` of its first copy gets the first copy's slot; further on it is a new value (README: Guarantees). Must be the same on every node; at most 1073741824",
			Value: replog.DefaultConfig().DedupWindow},
		&cli.IntFlag{Name: "learner-silence-ticks", EnvVars: []string{"LEARNER_SILENCE_TICKS"}, Category: catTuning,
			Usage: "proposers: a learner not heard for `TICKS` holds compaction back no more (it catches up from the other learner when it returns)",
			Value: replog.DefaultConfig().LearnerSilenceTicks},
		&cli.IntFlag{Name: "compact-every", EnvVars: []string{"COMPACT_EVERY"}, Category: catTuning,
			Usage: "acceptors compact when the point the learners hold durably moved `SLOTS` past the last compaction",
			Value: replog.DefaultConfig().CompactEvery},
		&cli.BoolFlag{Name: "no-sync", EnvVars: []string{"NO_SYNC"}, Category: catTuning,
			Usage: "turn fsync off: UNSAFE, a crash can break promises; protocol benchmarks only"},
		&cli.BoolFlag{Name: "trace", EnvVars: []string{"TRACE"}, Category: catTuning, Value: true,
			Usage: "keep the ring of recent protocol events (GET /trace, paxosctl trace, the status page's diagram); --trace=false or TRACE=false turns it off, to measure its cost"},

		// logging
		&cli.StringFlag{Name: "log-format", EnvVars: []string{"LOG_FORMAT"}, Category: catLogging,
			Usage: "log `FORMAT`: text or json", Value: "text"},
		&cli.StringFlag{Name: "log-level", EnvVars: []string{"LOG_LEVEL"}, Category: catLogging,
			Usage: "log `LEVEL`: debug, info, warn or error", Value: "info"},
	}
}

// runPaxosd is the action of paxosd: build the config, then run the server
// until a signal cancels its context.
func runPaxosd(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("unexpected argument %q: paxosd takes only flags (see paxosd --help)", c.Args().First()), exitConfig)
	}
	cfg, err := paxosdConfig(c)
	if err != nil {
		return cli.Exit(err.Error(), exitConfig)
	}
	log, err := paxosdLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return cli.Exit(err.Error(), exitConfig)
	}
	log = log.With("node", cfg.Name, "role", string(cfg.Role))
	logStart(log, cfg)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling so that a second
	// one kills the process at once.
	signalled := make(chan struct{})
	unwatch := context.AfterFunc(ctx, func() {
		defer close(signalled)
		stop()
		log.Info("stopping on signal; a second signal kills at once", "cause", context.Cause(ctx).Error())
	})
	defer unwatch()

	srv, err := server.New(cfg, log)
	if errors.Is(err, storage.ErrWrongDir) {
		return configError{fmt.Errorf("%s: %w", cfg.Name, err)}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Name, err)
	}
	err = srv.Run(ctx)
	if !unwatch() {
		<-signalled
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("exiting on error", "err", err)
		return fmt.Errorf("%s: %w", cfg.Name, err)
	}
	log.Info("stopped")
	return nil
}

// logStart logs the configuration the node starts with. It never logs the
// secret or the client token, only whether they are set.
func logStart(log *slog.Logger, cfg server.Config) {
	monitor := cfg.MonitorListen
	if monitor == "" {
		monitor = "off"
	}
	log.Info("starting paxosd",
		"version", Version,
		"id", uint64(cfg.ID),
		"listen", cfg.Listen,
		"monitor", monitor,
		"advertise", cfg.Advertise,
		"gossip_advertise", cfg.GossipAdvertise,
		"gossip", net.JoinHostPort(cfg.GossipBind, strconv.Itoa(cfg.GossipPort)),
		"join", strings.Join(cfg.Join, ","),
		"data_dir", cfg.DataDir,
		"cluster_id", cfg.ClusterID,
		"acceptors", server.FormatPeers(cfg.Acceptors),
		"quorum", replog.Quorum(len(cfg.Acceptors)),
		"tick", cfg.Tick,
		"secret_set", cfg.Secret != "",
		"client_token_set", cfg.ClientToken != "")
	if cfg.Secret == "" {
		log.Warn("internal endpoints are open: set CLUSTER_SECRET")
	}
	if cfg.NoSync {
		log.Warn("fsync is off (NO_SYNC): a crash can lose promises and accepted values")
	}
	if cfg.NoTrace {
		log.Info("protocol trace is off (TRACE=false): GET /trace answers 404")
	}
}

// paxosdLogger returns the slog logger of format (text or json) at level,
// writing to w.
func paxosdLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if level == "" {
		level = "info"
	}
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level/LOG_LEVEL %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format/LOG_FORMAT %q: want text or json", format)
	}
}

// paxosdConfig builds the node's configuration from flags and environment
// variables (both already merged by urfave/cli) and the standard topology.
// Its only I/O is reading --secret-file; it returns an error for any value
// a node cannot start with.
func paxosdConfig(c *cli.Context) (server.Config, error) {
	cfg := server.DefaultConfig()
	compose := c.Bool("compose")
	host := "127.0.0.1" // StandardPeers host: "" means each node's name
	if compose {
		host = ""
	}

	cfg.ID = replog.ID(c.Uint64("id"))
	if cfg.ID == replog.None {
		return cfg, errors.New("node ID must be set (--id or NODE_ID)")
	}

	// The topology first: this node's defaults come from its entry.
	for _, t := range []struct {
		flag, env string
		role      server.Role
		dst       *[]server.Peer
	}{
		{"proposers", "PROPOSERS", server.RoleProposer, &cfg.Proposers},
		{"acceptors", "ACCEPTORS", server.RoleAcceptor, &cfg.Acceptors},
		{"learners", "LEARNERS", server.RoleLearner, &cfg.Learners},
		{"clients", "CLIENTS", server.RoleClient, &cfg.Clients},
	} {
		s := strings.TrimSpace(c.String(t.flag))
		if s == "" {
			*t.dst = server.StandardPeers(t.role, host)
			continue
		}
		ps, err := server.ParsePeers(t.role, s)
		if err != nil {
			return cfg, fmt.Errorf("--%s/%s: %w", t.flag, t.env, err)
		}
		*t.dst = ps
	}
	self, ok := cfg.Peer(cfg.ID)
	if !ok {
		return cfg, fmt.Errorf("node ID %d is not in the topology: add it to PROPOSERS, ACCEPTORS, LEARNERS or CLIENTS", cfg.ID)
	}

	cfg.Role = self.Role
	if s := strings.TrimSpace(c.String("role")); s != "" {
		r, err := server.ParseRole(s)
		if err != nil {
			return cfg, fmt.Errorf("--role/NODE_ROLE: %w", err)
		}
		if r != self.Role {
			return cfg, fmt.Errorf("--role/NODE_ROLE is %s, but node %d (%s) is a %s in the topology (%sS)",
				r, cfg.ID, self.Addr, self.Role, strings.ToUpper(string(self.Role)))
		}
	}
	cfg.Name = self.Name
	if s := strings.TrimSpace(c.String("name")); s != "" {
		cfg.Name = s
	}

	// API address: --listen, else :--port, else the port of the topology.
	if s := strings.TrimSpace(c.String("listen")); s != "" {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return cfg, fmt.Errorf("--listen/LISTEN_ADDR %q: want HOST:PORT or :PORT", s)
		}
		cfg.Listen = s
	} else {
		port := c.Int("port")
		if !c.IsSet("port") {
			_, p, err := net.SplitHostPort(self.Addr)
			if err == nil {
				port, err = strconv.Atoi(p)
			}
			if err != nil {
				return cfg, fmt.Errorf("node %d: no port in topology address %q; set --port/PORT", cfg.ID, self.Addr)
			}
		}
		if err := checkPort("--port/PORT", port); err != nil {
			return cfg, err
		}
		cfg.Listen = ":" + strconv.Itoa(port)
	}

	monitor := server.MonitorPort(cfg.ID)
	if c.IsSet("monitor-port") {
		monitor = c.Int("monitor-port")
	}
	if monitor != 0 {
		if err := checkPort("--monitor-port/MONITOR_PORT", monitor); err != nil {
			return cfg, err
		}
		cfg.MonitorListen = ":" + strconv.Itoa(monitor)
	}

	cfg.Advertise = strings.TrimSpace(c.String("advertise"))
	if cfg.Advertise == "" {
		// The host others reach this node's API at: 127.0.0.1 in local
		// mode, the node name with --compose.
		cfg.Advertise, _, _ = net.SplitHostPort(self.Addr)
	}
	cfg.GossipAdvertise = strings.TrimSpace(c.String("gossip-advertise"))
	if h, p, err := net.SplitHostPort(cfg.GossipAdvertise); err == nil {
		n, err := strconv.Atoi(p)
		if h == "" || err != nil || checkPort("", n) != nil {
			return cfg, fmt.Errorf("--gossip-advertise/GOSSIP_ADVERTISE %q: want HOST or HOST:PORT", cfg.GossipAdvertise)
		}
	}

	cfg.GossipBind = strings.TrimSpace(c.String("gossip-bind"))
	if cfg.GossipBind == "" {
		cfg.GossipBind = "0.0.0.0"
	}
	cfg.GossipPort = server.GossipPort(cfg.ID)
	if compose {
		cfg.GossipPort = gossip.DefaultPort
	}
	if c.IsSet("gossip-port") {
		cfg.GossipPort = c.Int("gossip-port")
	}
	if err := checkPort("--gossip-port/GOSSIP_PORT", cfg.GossipPort); err != nil {
		return cfg, err
	}
	for _, j := range strings.Split(c.String("join"), ",") {
		if j = strings.TrimSpace(j); j != "" {
			cfg.Join = append(cfg.Join, j)
		}
	}

	cfg.DataDir = strings.TrimSpace(c.String("data-dir"))
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join("volumes", cfg.Name)
	}
	cfg.ClusterID = strings.TrimSpace(c.String("cluster-id"))
	if cfg.ClusterID == "" {
		return cfg, errors.New("--cluster-id/CLUSTER_ID: must not be empty")
	}
	cfg.Secret = c.String("secret")
	for _, v := range strings.Split(c.String("trace-allow-from"), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := netip.ParsePrefix(v)
		if err != nil {
			return cfg, fmt.Errorf("--trace-allow-from/TRACE_ALLOW_FROM: %q is not a network like 172.16.0.0/12: %w", v, err)
		}
		cfg.TraceAllowFrom = append(cfg.TraceAllowFrom, n.Masked())
	}
	secret, err := readSecret(cfg.Secret, c.String("secret-file"))
	if err != nil {
		return cfg, err
	}
	cfg.Secret = secret
	cfg.ClientToken = c.String("client-token")
	cfg.CertFile, cfg.KeyFile, cfg.TrustedCAFile = c.String("cert-file"), c.String("key-file"), c.String("trusted-ca-file")
	if dir := strings.TrimSpace(c.String("tls-dir")); dir != "" {
		if cfg.CertFile != "" || cfg.KeyFile != "" || cfg.TrustedCAFile != "" {
			return cfg, errors.New("--tls-dir/TLS_DIR and --cert-file, --key-file or --trusted-ca-file are both set: set one")
		}
		cfg.CertFile, cfg.KeyFile, cfg.TrustedCAFile = tlsDirFiles(dir)
	}

	cfg.Tick = c.Duration("tick")
	if cfg.Tick <= 0 {
		return cfg, fmt.Errorf("--tick/TICK %v: must be positive", cfg.Tick)
	}
	cfg.RequestTimeout = c.Duration("request-timeout")
	if cfg.RequestTimeout <= 0 {
		return cfg, fmt.Errorf("--request-timeout/REQUEST_TIMEOUT %v: must be positive", cfg.RequestTimeout)
	}
	cfg.MaxValueBytes = c.Int("max-value-bytes")
	if cfg.MaxValueBytes <= 0 {
		return cfg, fmt.Errorf("--max-value-bytes/MAX_VALUE_BYTES %d: must be positive", cfg.MaxValueBytes)
	}
	cfg.MaxLearnerLag = c.Uint64("max-learner-lag")
	cfg.QuotaBytes = c.Int64("quota-bytes")
	cfg.MinFreeBytes = c.Int64("min-free-bytes")
	cfg.Core.DedupWindow = c.Int("dedup-window")
	cfg.Core.CompactEvery = c.Int("compact-every")
	cfg.Core.LearnerSilenceTicks = c.Int("learner-silence-ticks")
	for _, f := range []struct {
		name string
		ok   bool
	}{{"--max-learner-lag/MAX_LEARNER_LAG", cfg.MaxLearnerLag > 0}, {"--quota-bytes/QUOTA_BYTES", cfg.QuotaBytes > 0},
		{"--min-free-bytes/MIN_FREE_BYTES", cfg.MinFreeBytes > 0},
		{"--dedup-window/DEDUP_WINDOW", cfg.Core.DedupWindow > 0}, {"--compact-every/COMPACT_EVERY", cfg.Core.CompactEvery > 0},
		{"--learner-silence-ticks/LEARNER_SILENCE_TICKS", cfg.Core.LearnerSilenceTicks > 0}} {
		if !f.ok {
			return cfg, fmt.Errorf("%s: must be positive", f.name)
		}
	}
	cfg.NoSync = c.Bool("no-sync")
	cfg.NoTrace = !c.Bool("trace")

	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// The files of a node's --tls-dir.
const (
	tlsDirCA   = "ca.crt"
	tlsDirCert = "node.crt"
	tlsDirKey  = "node.key"
)

// tlsDirFiles returns the certificate, key and CA files of a --tls-dir.
func tlsDirFiles(dir string) (cert, key, ca string) {
	return filepath.Join(dir, tlsDirCert), filepath.Join(dir, tlsDirKey), filepath.Join(dir, tlsDirCA)
}

// configError is a configuration error found after the flags were read (a
// data dir of another cluster or node): exit status 3, and errors.Is sees
// what it wraps.
type configError struct{ error }

// ExitCode is exitConfig (cli.ExitCoder).
func (configError) ExitCode() int { return exitConfig }

func (e configError) Unwrap() error { return e.error }

func checkPort(what string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s %d: want a port between 1 and 65535", what, port)
	}
	return nil
}
