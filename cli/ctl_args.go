package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is the flag urfave/cli's shell completion ends a line with.
const completionFlag = "--generate-bash-completion"

// hoistGlobals lets the global flags go anywhere on the line, as in etcdctl
// and kubectl: it moves each global flag given after the command (with its
// value, as "--flag value" or "--flag=value") to just before the command,
// where urfave/cli reads global flags. "paxosctl read -w json" becomes
// "paxosctl -w json read"; a global given on both sides takes the later
// value, as a flag given twice does.
//
// It stops at "--" (what follows are arguments), and leaves in place "-"
// (stdin), an argument, a flag the command defines itself (with its value:
// the command's flag wins over a global of the same name) and a flag it
// does not know. args[0] is the program name; args it cannot place (no
// command, shell completion) come back unchanged. It never changes args.
// The error is a global flag at the end of the line without its value.
func hoistGlobals(args []string, globals []cli.Flag, cmds []*cli.Command) ([]string, error) {
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args, nil
	}
	global := valueFlags(globals)
	// The command is the first argument that is not a global flag or its value.
	i := 1
	for i < len(args) {
		name, inline, ok := flagName(args[i])
		if !ok {
			break
		}
		i++
		if takes := global[name]; takes && !inline && i < len(args) {
			i++
		}
	}
	if i >= len(args) || args[i] == "--" {
		return args, nil
	}
	var cmd *cli.Command
	for _, c := range cmds {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args, nil
	}
	own := valueFlags(cmd.Flags)
	var moved, rest []string
	for j := i + 1; j < len(args); j++ {
		tok := args[j]
		if tok == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		name, inline, ok := flagName(tok)
		takesOwn, isOwn := own[name]
		takesGlobal, isGlobal := global[name]
		switch {
		case !ok, !isOwn && !isGlobal:
			rest = append(rest, tok)
		case isOwn:
			rest = append(rest, tok)
			if takesOwn && !inline && j+1 < len(args) {
				j++
				rest = append(rest, args[j])
			}
		case takesGlobal && !inline && j+1 == len(args):
			// Moved, it would take the command for its value.
			return nil, fmt.Errorf("flag needs an argument: %s", tok)
		default:
			moved = append(moved, tok)
			if takesGlobal && !inline {
				j++
				moved = append(moved, args[j])
			}
		}
	}
	out := make([]string, 0, len(args))
	out = append(out, args[:i]...)
	out = append(out, moved...)
	out = append(out, args[i])
	return append(out, rest...), nil
}

// valueFlags maps every name and alias of flags to whether the flag takes a
// value (a bool flag does not).
func valueFlags(flags []cli.Flag) map[string]bool {
	out := map[string]bool{}
	for _, f := range flags {
		takes := true
		if v, ok := f.(interface{ TakesValue() bool }); ok {
			takes = v.TakesValue()
		}
		for _, n := range f.Names() {
			out[n] = takes
		}
	}
	return out
}

// flagName parses a flag as Go's flag package reads it ("-w", "--w",
// "-write-out=json", "--write-out=json"): its name, and whether its value is
// inline. ok is false for an argument: "-", "--", or no leading dash.
func flagName(tok string) (name string, inline, ok bool) {
	if len(tok) < 2 || tok[0] != '-' || tok == "--" {
		return "", false, false
	}
	name = strings.TrimPrefix(tok[1:], "-")
	if name == "" || name[0] == '-' || name[0] == '=' {
		return "", false, false
	}
	name, _, inline = strings.Cut(name, "=")
	return name, inline, true
}
