package cli

// Version is the build's version, printed by --version. The Makefile sets it
// with -ldflags "-X github.com/paxos-go/paxos/cli.Version=...".
var Version = "dev"
