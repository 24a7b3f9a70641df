// Command paxosd runs one node of the Multi-Paxos replicated log; see
// paxosd --help and the cli package.
package main

import (
	"os"

	"github.com/paxos-go/paxos/cli"
)

func main() { os.Exit(cli.Main("paxosd")) }
