// Command paxosctl controls and inspects a running paxos cluster; see
// paxosctl --help and the cli package.
package main

import (
	"os"

	"github.com/paxos-go/paxos/cli"
)

func main() { os.Exit(cli.Main("paxosctl")) }
