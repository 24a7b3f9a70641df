// Package cli holds the command-line apps of the project, built on
// github.com/urfave/cli/v2: paxosd, which runs one node, and paxosctl, which
// talks to a running cluster. One file per command; commands return errors
// and never exit the process (cmd/ does).
package cli
