package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/internal/pki"
	"github.com/paxos-go/paxos/server"
)

// certsClientName names the client certificate certs makes (for paxosctl
// and curl): paxosctl.crt and paxosctl.key, CN paxosctl, no node identity.
const certsClientName = "paxosctl"

func certsCommand() *cli.Command {
	return &cli.Command{
		Name:      "certs",
		Usage:     "create a CA and the TLS certificates of the standard topology",
		UsageText: "paxosctl certs [--dir DIR] [--force] [--days N] [--namespace NS] [--san NAME,...]",
		Description: `certs writes into --dir (./certs by default) a CA (ca.crt, ca.key), a key
and certificate for each node of the standard topology (proposer1.crt,
proposer1.key, ... client2.key) and one for paxosctl (paxosctl.crt,
paxosctl.key). Every file is mode 0600; an existing file is never replaced
without --force, and then nothing is written at all.

A node's certificate names the node: the URI SAN paxos://node/ID is the
identity it speaks with between nodes (CN is its name), and its DNS names
are those every deployment reaches it at: the Compose service name
(acceptor1), the Kubernetes headless names (acceptor-0.acceptor, the
StatefulSet ordinal, and acceptor-4.acceptor, the node ID, with their
.NAMESPACE.svc and .NAMESPACE.svc.cluster.local forms), localhost,
127.0.0.1 and ::1, plus every --san. paxosctl's certificate names no node:
it may read and write through the client API but never speaks as a node.

Keys are ECDSA P-256; everything is made with Go's standard library.

Examples:
   paxosctl certs                           # ./certs, valid 825 days
   paxosctl certs --dir /etc/paxos/tls --san paxos.example.com
   paxosctl certs --force --days 90         # new CA and certificates`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "certs", Usage: "write the files into `DIR` (created 0700 if missing)"},
			&cli.BoolFlag{Name: "force", Usage: "replace files that exist"},
			&cli.IntFlag{Name: "days", Value: 825, Usage: "the certificates are valid for `N` days"},
			&cli.StringFlag{Name: "namespace", Value: "default", Usage: "the Kubernetes `NAMESPACE` of the headless names"},
			&cli.StringFlag{Name: "san", Usage: "more DNS names or IPs for every node, `NAME,...`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badInput("certs", "unexpected argument %q", c.Args().First())
			}
			if c.Int("days") <= 0 {
				return badInput("certs", "--days %d: must be positive", c.Int("days"))
			}
			files, err := makeCerts(certsOptions{
				Dir: c.String("dir"), Force: c.Bool("force"), Days: c.Int("days"),
				Namespace: c.String("namespace"), SANs: splitList(c.String("san")),
			})
			if err != nil {
				return failed("certs", err)
			}
			p := &printer{format: c.String("write-out"), w: c.App.Writer}
			rows := make([][]string, len(files))
			for i, f := range files {
				rows[i] = []string{f.Path, f.Subject}
			}
			return p.print(result{Header: []string{"FILE", "FOR"}, Rows: rows, JSON: files, Plain: 1})
		},
	}
}

// certsOptions are certs' flags.
type certsOptions struct {
	Dir       string
	Force     bool
	Days      int
	Namespace string
	SANs      []string
}

// certFile is one file certs wrote.
type certFile struct {
	Path    string `json:"path"`
	Subject string `json:"for"`
}

// makeCerts creates the CA and the certificates of the standard topology
// in o.Dir and returns the files written. With o.Force unset it writes
// nothing when any of them exists (pki.ErrExists).
func makeCerts(o certsOptions) ([]certFile, error) {
	now := time.Now()
	notBefore, notAfter := now.Add(-time.Hour), now.AddDate(0, 0, o.Days)
	type output struct {
		name string
		spec pki.Spec
	}
	var outs []output
	for _, r := range server.Roles {
		for i, p := range server.StandardPeers(r, "") {
			outs = append(outs, output{p.Name, pki.Spec{CommonName: p.Name, NodeID: uint64(p.ID),
				DNSNames: nodeDNSNames(p, i, o.Namespace, o.SANs), IPs: nodeIPs(o.SANs)}})
		}
	}
	outs = append(outs, output{certsClientName, pki.Spec{CommonName: certsClientName}})

	paths := []string{filepath.Join(o.Dir, "ca.crt"), filepath.Join(o.Dir, "ca.key")}
	for _, out := range outs {
		paths = append(paths, filepath.Join(o.Dir, out.name+".crt"), filepath.Join(o.Dir, out.name+".key"))
	}
	if !o.Force {
		var exist []string
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("%s: %w", strings.Join(exist, ", "), pki.ErrExists)
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA("paxos CA", notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	data := [][]byte{ca.CertPEM, ca.KeyPEM}
	subjects := []string{"CA", "CA"}
	for _, out := range outs {
		out.spec.NotBefore, out.spec.NotAfter = notBefore, notAfter
		crt, key, err := ca.Issue(out.spec)
		if err != nil {
			return nil, err
		}
		subject := out.name
		if out.spec.NodeID != 0 {
			subject = fmt.Sprintf("%s (%s)", out.name, pki.NodeURI(out.spec.NodeID))
		}
		data = append(data, crt, key)
		subjects = append(subjects, subject, subject)
	}
	files := make([]certFile, len(paths))
	for i, p := range paths {
		if err := pki.WriteFile(p, data[i], o.Force); err != nil {
			return nil, err
		}
		files[i] = certFile{Path: p, Subject: subjects[i]}
	}
	return files, nil
}

// nodeDNSNames lists the DNS names node p (the i-th of its role) is
// reached at in every deployment, and the extra names of --san.
func nodeDNSNames(p server.Peer, i int, ns string, extra []string) []string {
	role := string(p.Role)
	names := []string{p.Name, "localhost"}
	for _, pod := range []string{role + "-" + strconv.Itoa(i), role + "-" + strconv.FormatUint(uint64(p.ID), 10)} {
		names = append(names, pod+"."+role, pod+"."+role+"."+ns+".svc", pod+"."+role+"."+ns+".svc.cluster.local")
	}
	for _, s := range extra {
		if net.ParseIP(s) == nil {
			names = append(names, s)
		}
	}
	return names
}

// nodeIPs lists the loopback addresses and the IPs of --san.
func nodeIPs(extra []string) []net.IP {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, s := range extra {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
