package cli

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/server"
)

// topologyFile is where the scripts read the standard topology: the output
// of "paxosctl topology", checked against it by TestTopologyFile.
const topologyFile = "scripts/topology.tsv"

func topologyCommand() *cli.Command {
	return &cli.Command{
		Name:      "topology",
		Usage:     "print the standard topology: every node's name, ID, role and ports",
		UsageText: "paxosctl topology",
		Description: `topology prints the standard 10-node topology of local mode (SPEC §3), the
one table paxosd's defaults, the tests and the scripts use: per node its
name, NODE_ID, role, API port, monitor port and gossip port (in Compose
every node gossips on 7946 instead). It asks no node. -w simple prints
tab-separated lines without a header (` + topologyFile + ` is that output).

Examples:
   paxosctl topology
   paxosctl -w table topology
   paxosctl -w json topology`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badInput("topology", "unexpected argument %q", c.Args().First())
			}
			p := &printer{format: c.String("write-out"), w: c.App.Writer}
			nodes := server.Topology()
			r := result{Header: []string{"NAME", "ID", "ROLE", "API", "MONITOR", "GOSSIP"}, JSON: nodes, Plain: 6}
			for _, n := range nodes {
				r.Rows = append(r.Rows, []string{n.Name, strconv.FormatUint(uint64(n.ID), 10), string(n.Role),
					strconv.Itoa(n.API), strconv.Itoa(n.Monitor), strconv.Itoa(n.Gossip)})
			}
			return p.print(r)
		},
	}
}
