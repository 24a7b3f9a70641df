// Command paxosd runs one node of the Multi-Paxos replicated log; see
// paxosd --help and the cli package.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/paxos-go/paxos/cli"
)

func main() {
	err := cli.PaxosdApp().Run(os.Args)
	if err == nil {
		return
	}
	code := 1
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := strings.TrimSpace(err.Error()); msg != "" {
		fmt.Fprintln(os.Stderr, "paxosd: "+strings.ReplaceAll(msg, "\n", "; "))
	}
	os.Exit(code)
}
