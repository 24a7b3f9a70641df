package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Main runs the program prog, "paxosd" or "paxosctl", with os.Args and the
// standard streams, and returns its exit status: each main is one line,
// os.Exit(cli.Main("paxosd")). paxosd stops on SIGINT or SIGTERM (a second
// one kills it at once); for paxosctl they cancel the command.
func Main(prog string) int {
	switch prog {
	case "paxosd":
		return RunPaxosd(os.Args, os.Stderr)
	case "paxosctl":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		context.AfterFunc(ctx, stop)
		return RunPaxosctl(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "cli.Main: unknown program %q\n", prog)
	return 2
}

// RunPaxosd runs paxosd with args until it stops, and returns the exit
// status: 0 after a clean stop, 3 for a configuration error, 1 otherwise.
// An error is one line "paxosd: ..." on stderr.
func RunPaxosd(args []string, stderr io.Writer) int {
	app := PaxosdApp()
	app.ErrWriter = stderr // its log and its help's errors
	err := app.Run(args)
	if err == nil {
		return 0
	}
	code := 1
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := strings.TrimSpace(err.Error()); msg != "" {
		fmt.Fprintln(stderr, "paxosd: "+strings.ReplaceAll(msg, "\n", "; "))
	}
	return code
}
