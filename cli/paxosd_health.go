package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
)

// exitUnhealthy is the exit status of paxosd health for anything but a
// healthy answer: unhealthy, no answer, or a bad flag (Docker healthchecks
// know only 0 and 1).
const exitUnhealthy = 1

const healthDescription = `health asks a node for GET /health and exits 0 when it answers 200,
1 otherwise, with one line on stderr saying why. It is the healthcheck of
the Docker image, which has no curl: in docker-compose.yml

   healthcheck:
     test: ["CMD", "/paxosd", "health"]

With --ready it asks GET /ready instead: whether the node can serve its
role now (a leader known, caught up, voting), for readiness probes.

The node is http://127.0.0.1:PORT, PORT taken from --port, else $PORT,
else the API port of $NODE_ID in the standard topology (4 → 4001); --url
names any other node.

With TLS the node's own files say so: with --trusted-ca-file
(TRUSTED_CA_FILE, what the node itself runs with) or --tls-dir (TLS_DIR)
health speaks https, trusts that CA and presents the node's certificate,
so the healthcheck of a TLS node needs no setting of its own.

Examples:
   paxosd health                          # inside a container: PORT is set
   paxosd health --port 4001              # acceptor1 of the local cluster
   paxosd health --url http://acceptor1:4001 --timeout 500ms
   paxosd health --ready                  # a Kubernetes exec readiness probe`

// paxosdHealthCommand is "paxosd health": a one-shot probe of a node's
// /health endpoint, for container healthchecks.
func paxosdHealthCommand() *cli.Command {
	return &cli.Command{
		Name:        "health",
		Usage:       "check a node's GET /health (exit 0 when healthy): the container healthcheck",
		UsageText:   "paxosd health [--ready] [--port N | --url URL] [--timeout D] [--trusted-ca-file F [--cert-file F --key-file F]]",
		Description: healthDescription,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", EnvVars: []string{"PORT"},
				Usage: "API `PORT` of the node on 127.0.0.1", DefaultText: "$PORT, else the port of $NODE_ID"},
			&cli.StringFlag{Name: "url", Usage: "base `URL` of the node (http://host:port); overrides --port"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up after `DURATION`", Value: 2 * time.Second},
			&cli.BoolFlag{Name: "ready", Usage: "ask GET /ready (can the node serve its role now) instead of GET /health"},
			&cli.StringFlag{Name: "trusted-ca-file", EnvVars: []string{"TRUSTED_CA_FILE"},
				Usage: "speak https and trust the node's certificate when signed by the CA in `FILE` (the node's own setting)"},
			&cli.StringFlag{Name: "cert-file", EnvVars: []string{"CERT_FILE"}, Usage: "present the certificate in `FILE` (the node's own)"},
			&cli.StringFlag{Name: "key-file", EnvVars: []string{"KEY_FILE"}, Usage: "the key `FILE` of --cert-file"},
			&cli.StringFlag{Name: "tls-dir", EnvVars: []string{"TLS_DIR"}, Usage: "the node's TLS `DIR` (" + tlsDirCA + ", " + tlsDirCert + ", " + tlsDirKey + ")"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit(err.Error()+" (see paxosd health --help)", exitUnhealthy)
		},
		Action: runHealth,
	}
}

func runHealth(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("health: unexpected argument %q", c.Args().First()), exitUnhealthy)
	}
	tlsCfg, err := healthTLS(c)
	if err != nil {
		return cli.Exit("health: "+err.Error(), exitUnhealthy)
	}
	target, err := healthURL(c, tlsCfg != nil)
	if err != nil {
		return cli.Exit("health: "+err.Error(), exitUnhealthy)
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return cli.Exit(fmt.Sprintf("health: --timeout %v: must be positive", timeout), exitUnhealthy)
	}
	body, err := probeHealth(c.Context, target, timeout, tlsCfg)
	if err != nil {
		return cli.Exit("health: "+err.Error(), exitUnhealthy)
	}
	fmt.Fprintln(c.App.Writer, body)
	return nil
}

// healthTLS is the TLS configuration of the probe, nil without
// --trusted-ca-file (plain HTTP).
func healthTLS(c *cli.Context) (*tls.Config, error) {
	ca, cert, key := c.String("trusted-ca-file"), c.String("cert-file"), c.String("key-file")
	if dir := strings.TrimSpace(c.String("tls-dir")); dir != "" && ca == "" {
		cert, key, ca = tlsDirFiles(dir)
	}
	if ca == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		cert, key = "", ""
	}
	return clientTLS(ca, cert, key, "--trusted-ca-file/TRUSTED_CA_FILE", "--cert-file/--key-file")
}

// healthURL is the /health URL (/ready with --ready) of the node to probe:
// --url, else 127.0.0.1 with --port/$PORT, else with the standard port of
// $NODE_ID; https when secure.
func healthURL(c *cli.Context, secure bool) (string, error) {
	path := "/health"
	if c.Bool("ready") {
		path = "/ready"
	}
	if s := strings.TrimSpace(c.String("url")); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("--url %q: want http://HOST:PORT", s)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + path
		return u.String(), nil
	}
	port := c.Int("port")
	if !c.IsSet("port") {
		// Inside a container every node has PORT; fall back to the topology.
		id, _ := strconv.ParseUint(strings.TrimSpace(os.Getenv("NODE_ID")), 10, 64)
		p, ok := standardPort(replog.ID(id))
		if !ok {
			return "", fmt.Errorf("no port: set --port, PORT or NODE_ID")
		}
		port = p
	}
	if err := checkPort("--port/PORT", port); err != nil {
		return "", err
	}
	scheme := "http://"
	if secure {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path, nil
}

// standardPort is the API port of node id in the standard topology.
func standardPort(id replog.ID) (int, bool) {
	for _, n := range server.Topology() {
		if n.ID == id {
			return n.API, true
		}
	}
	return 0, false
}

// probeHealth GETs target and returns the body (one line) when the answer
// is 200; any other answer or no answer is an error of one line. tlsCfg,
// when not nil, is the configuration of https targets.
func probeHealth(ctx context.Context, target string, timeout time.Duration, tlsCfg *tls.Config) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: tlsCfg}}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: no answer within %v", target, timeout)
		}
		return "", fmt.Errorf("%s: %v", target, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	line := string(bytes.Join(bytes.Fields(data), []byte(" ")))
	if resp.StatusCode != http.StatusOK {
		if line == "" {
			line = http.StatusText(resp.StatusCode)
		}
		return "", fmt.Errorf("%s answered %d: %s", target, resp.StatusCode, line)
	}
	return line, nil
}

// unwrapURLError drops net/http's "Get \"url\": " prefix (the caller names
// the URL already).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
