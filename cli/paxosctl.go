package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/paxos-go/paxos/server"
)

// paxosctl's exit statuses (besides 0).
const (
	exitError       = 1 // the command failed
	exitUnreachable = 2 // no endpoint answered
	exitBadInput    = 3 // bad flags, arguments or values
)

// defaultEndpoints returns the local client and learner nodes of the
// standard topology (SPEC §3): 127.0.0.1:6001,...,127.0.0.1:5002.
func defaultEndpoints() string {
	var addrs []string
	for _, r := range []server.Role{server.RoleClient, server.RoleLearner} {
		for _, p := range server.StandardPeers(r, "127.0.0.1") {
			addrs = append(addrs, p.Addr)
		}
	}
	return strings.Join(addrs, ",")
}

const paxosctlDescription = `paxosctl talks to a running Multi-Paxos cluster over its HTTP API: it
sends values, reads the replicated log, shows and elects the leader, checks
the health of every node, watches the cluster and measures it.

--endpoints names the nodes paxosctl starts from (the client and learner
nodes of this machine by default). The rest of the cluster is found through
GET /gossip/nodes on them. Only with the default endpoints, when gossip says
nothing, does paxosctl also try the standard ports (proposers 3001-3003,
acceptors 4001-4003, learners 5001-5002, clients 6001-6002) of this machine;
endpoints named with --endpoints or PAXOSCTL_ENDPOINTS are honoured exactly:
when none of them answers, paxosctl exits 2 with the endpoints it tried.

TLS: with --cacert (PAXOSCTL_CACERT) paxosctl speaks https and trusts the
nodes signed by that CA; --cert and --key (PAXOSCTL_CERT, PAXOSCTL_KEY)
present a client certificate, which internal endpoints demand (paxosctl
certs makes ca.crt, paxosctl.crt and paxosctl.key). Without --cacert,
inside a node's container (TLS_DIR set), paxosctl uses the node's files.

Global flags (--endpoints, -w/--write-out, --timeout, --secret, --token,
--cacert, --cert, --key)
may go anywhere on the line, before or after the command, as in etcdctl:
paxosctl read -w json is paxosctl -w json read. After "--" every word is an
argument: paxosctl send -- -w sends the value "-w".

Output (-w): simple (lines for scripts and people), json (one compact JSON
object per line, for jq), table (a bordered table).

Exit status: 0 on success, 1 when the command failed, 2 when no endpoint
answered (the cluster is unreachable), 3 for bad input (flags, arguments,
empty values). Errors are one line on stderr: "paxosctl: what: why".

Examples:
   paxosctl send hello world            # prints the slot of each value
   printf 'a\nb\n' | paxosctl send -     # one value per line of stdin
   paxosctl read                        # the whole log: slot<TAB>value
   paxosctl -w table read --from 10 --limit 5
   paxosctl read --follow               # stream new entries until Ctrl-C
   paxosctl leader                      # who leads, with its ballot
   paxosctl leader --elect proposer2    # force an election on proposer2
   paxosctl status                      # one row per node, exit 1 if stuck
   paxosctl watch --role proposer       # live view of the proposers
   paxosctl trace 42                    # slot 42's life, as a sequence diagram
   paxosctl bench --clients 16 --total 2000 --target proposer

   # a cluster elsewhere, with a cluster secret and a client token
   PAXOSCTL_ENDPOINTS=10.0.0.9:6001 CLUSTER_SECRET=s3cret CLIENT_TOKEN=t0k \
   paxosctl status

Shell completion: source <(paxosctl completion bash)`

// PaxosctlApp returns the paxosctl command. Commands return errors
// (cli.ExitCoder with the exit status); the app never exits the process:
// RunPaxosctl prints the error and returns the status.
func PaxosctlApp() *cli.App {
	return &cli.App{
		Name:                 "paxosctl",
		Usage:                "control and inspect a Multi-Paxos replicated log cluster",
		UsageText:            "paxosctl [global flags] COMMAND [flags] [arguments] (global flags may also follow the command)",
		Description:          paxosctlDescription,
		Version:              Version,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Flags:                ctlGlobalFlags(),
		Before:               checkGlobals,
		Commands: []*cli.Command{
			ctlCommand(sendCommand()),
			ctlCommand(readCommand()),
			ctlCommand(leaderCommand()),
			ctlCommand(statusCommand()),
			ctlCommand(watchCommand()),
			ctlCommand(traceCommand()),
			ctlCommand(benchCommand()),
			ctlCommand(certsCommand()),
			ctlCommand(gossipCommand()),
			ctlCommand(topologyCommand()),
			ctlCommand(versionCommand()),
			ctlCommand(completionCommand()),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown command %q (see paxosctl --help)", c.Args().First()), exitBadInput)
			}
			return cli.ShowAppHelp(c)
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit(err.Error()+" (see paxosctl --help)", exitBadInput)
		},
		// RunPaxosctl prints errors and picks the exit status.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func ctlGlobalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "endpoints", EnvVars: []string{"PAXOSCTL_ENDPOINTS"}, Value: defaultEndpoints(),
			Usage: "the nodes to start from, `HOST:PORT,...` (client and learner nodes; gossip finds the rest)"},
		&cli.StringFlag{Name: "write-out", Aliases: []string{"w"}, Value: formatSimple,
			Usage: "output `FORMAT`: simple, json or table"},
		&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second,
			Usage: "the longest `DURATION` one request may take"},
		&cli.StringFlag{Name: "secret", EnvVars: []string{"CLUSTER_SECRET"},
			Usage: "the cluster `SECRET`, sent as a bearer token to internal endpoints"},
		&cli.StringFlag{Name: "secret-file", EnvVars: []string{"CLUSTER_SECRET_FILE"},
			Usage: "read the cluster secret from `FILE` (a Docker or Kubernetes secret; not with --secret)"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"CLIENT_TOKEN"},
			Usage: "the client `TOKEN`, sent as a bearer token on writes (send, bench, leader --elect)"},
		&cli.StringFlag{Name: "cacert", EnvVars: []string{"PAXOSCTL_CACERT"},
			Usage: "speak TLS (https) and trust the nodes' certificates signed by the CA in `FILE` (paxosctl certs: ca.crt)"},
		&cli.StringFlag{Name: "cert", EnvVars: []string{"PAXOSCTL_CERT"},
			Usage: "present the client certificate in `FILE` (paxosctl certs: paxosctl.crt); internal endpoints need one"},
		&cli.StringFlag{Name: "key", EnvVars: []string{"PAXOSCTL_KEY"},
			Usage: "the key of --cert, in `FILE`"},
	}
}

// ctlTLS returns the TLS configuration of the global flags, or nil when
// --cacert is not set (plain HTTP).
func ctlTLS(c *cli.Context) (*tls.Config, error) {
	ca, cert, key := c.String("cacert"), c.String("cert"), c.String("key")
	if dir := strings.TrimSpace(os.Getenv("TLS_DIR")); dir != "" && ca == "" && cert == "" {
		// Inside a node's container: the node's own folder.
		cert, key, ca = tlsDirFiles(dir)
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if ca == "" {
		if cert != "" {
			return nil, errors.New("--cert needs --cacert (the CA that signed the nodes' certificates)")
		}
		return nil, nil
	}
	return clientTLS(ca, cert, key, "--cacert", "--cert/--key")
}

// clientTLS is the configuration of a TLS client that trusts the CA in
// the file ca and, when cert is not empty, presents the certificate in
// cert with the key in key. caWhat and certWhat name the settings in
// errors.
func clientTLS(ca, cert, key, caWhat, certWhat string) (*tls.Config, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caWhat, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", caWhat, ca)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", certWhat, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// checkGlobals validates the global flags before any command runs.
func checkGlobals(c *cli.Context) error {
	if _, err := parseEndpoints(c.String("endpoints")); err != nil {
		return cli.Exit("--endpoints: "+err.Error(), exitBadInput)
	}
	switch c.String("write-out") {
	case formatSimple, formatJSON, formatTable:
	default:
		return cli.Exit(fmt.Sprintf("--write-out %q: want simple, json or table", c.String("write-out")), exitBadInput)
	}
	if _, err := ctlTLS(c); err != nil {
		return cli.Exit(err.Error(), exitBadInput)
	}
	if _, err := readSecret(c.String("secret"), c.String("secret-file")); err != nil {
		return cli.Exit(err.Error(), exitBadInput)
	}
	if c.Duration("timeout") <= 0 {
		return cli.Exit(fmt.Sprintf("--timeout %v: must be positive", c.Duration("timeout")), exitBadInput)
	}
	return nil
}

// parseEndpoints splits a comma-separated list of HOST:PORT (an http:// or
// https:// prefix and a trailing slash are allowed).
func parseEndpoints(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		e = strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
		e = strings.TrimSuffix(e, "/")
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%q: want HOST:PORT", e)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errors.New("no endpoint given")
	}
	return out, nil
}

// ctlCommand adds what every paxosctl command shares: flag errors are bad
// input (status 3, one line) rather than a page of help. (A global flag
// after the command never gets here: RunPaxosctl moves it before.)
func ctlCommand(cmd *cli.Command) *cli.Command {
	name := cmd.Name
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return cli.Exit(fmt.Sprintf("%s: %s (see paxosctl %s --help)", name, err.Error(), name), exitBadInput)
	}
	return cmd
}

// ctlEnv is what a command works with: the client, the printer, and the
// process's streams.
type ctlEnv struct {
	client *ctlClient
	out    *printer
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// newCtlEnv builds a command's environment from the global flags; conns is
// the number of concurrent requests the command makes.
func newCtlEnv(c *cli.Context, conns int) *ctlEnv {
	eps, _ := parseEndpoints(c.String("endpoints"))                      // checked by checkGlobals
	secret, _ := readSecret(c.String("secret"), c.String("secret-file")) // checked by checkGlobals
	client := newCtlClient(eps, c.Duration("timeout"), secret, c.String("token"), conns)
	client.named = c.IsSet("endpoints")  // the flag or PAXOSCTL_ENDPOINTS
	if cfg, _ := ctlTLS(c); cfg != nil { // checked by checkGlobals
		client.useTLS(cfg)
	}
	return &ctlEnv{
		client: client,
		out:    &printer{format: c.String("write-out"), w: c.App.Writer},
		stdin:  c.App.Reader,
		stdout: c.App.Writer,
		stderr: c.App.ErrWriter,
	}
}

// warnf prints a warning line on stderr.
func (e *ctlEnv) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "paxosctl: warning: "+format+"\n", args...)
}

// badInput is a status 3 error: "what: why".
func badInput(what, format string, args ...any) error {
	return cli.Exit(what+": "+fmt.Sprintf(format, args...), exitBadInput)
}

// failed is a status 1 error, or status 2 when err says that nothing
// answered.
func failed(what string, err error) error {
	code := exitError
	var na *noAnswerError
	if errors.As(err, &na) {
		code = exitUnreachable
	}
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	return cli.Exit(what+": "+err.Error(), code)
}

// noAnswerError is the error of a command that reached no node at all.
type noAnswerError struct {
	errs []error
}

func (e *noAnswerError) Error() string {
	if len(e.errs) == 0 {
		return "no endpoint answered"
	}
	parts := make([]string, 0, len(e.errs))
	for _, err := range e.errs {
		parts = append(parts, err.Error())
	}
	if len(parts) > 4 {
		parts = append(parts[:4], fmt.Sprintf("%d more", len(parts)-4))
	}
	return "no endpoint answered (" + strings.Join(parts, "; ") + ")"
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// RunPaxosctl runs paxosctl with args (args[0] is the program name) and
// returns its exit status. Global flags may come before or after the
// command (hoistGlobals). Errors are printed on stderr as one line,
// "paxosctl: what: why". Cancelling ctx (Ctrl-C) stops a streaming command
// (read --follow, watch, bench) with status 0 and interrupts any other.
func RunPaxosctl(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := PaxosctlApp()
	app.Reader, app.Writer, app.ErrWriter = stdin, stdout, stderr
	args, err := hoistGlobals(args, app.Flags, app.Commands)
	if err != nil {
		err = cli.Exit(err.Error()+" (see paxosctl --help)", exitBadInput)
	} else {
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return 0
	}
	code := exitError
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	msg := strings.TrimSpace(err.Error())
	if msg == "" {
		msg = "failed"
	}
	fmt.Fprintln(stderr, "paxosctl: "+strings.ReplaceAll(msg, "\n", "; "))
	if code == 0 {
		code = exitError
	}
	return code
}
