package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestHoistGlobals: global flags after the command move before it, with
// their values, in every form; nothing else moves.
func TestHoistGlobals(t *testing.T) {
	globals := ctlGlobalFlags()
	cmds := []*cli.Command{{Name: "cmd", Aliases: []string{"c"}, Flags: []cli.Flag{
		&cli.DurationFlag{Name: "timeout"}, // the command's own, same name as a global
		&cli.StringFlag{Name: "own", Aliases: []string{"o"}},
		&cli.BoolFlag{Name: "yes"},
	}}}
	for _, tc := range []struct{ in, want string }{
		{"p cmd -w json x", "p -w json cmd x"},
		{"p cmd x -w json", "p -w json cmd x"},
		{"p cmd x --write-out json", "p --write-out json cmd x"},
		{"p cmd x --write-out=json", "p --write-out=json cmd x"},
		{"p cmd x -w=json", "p -w=json cmd x"},
		{"p cmd x -write-out json", "p -write-out json cmd x"},
		{"p cmd x --w json", "p --w json cmd x"},
		{"p c x --endpoints a:1,b:2", "p --endpoints a:1,b:2 c x"},
		{"p cmd x --secret s --token t -w table", "p --secret s --token t -w table cmd x"},
		{"p --timeout 2s cmd x --endpoints a:1", "p --timeout 2s --endpoints a:1 cmd x"},
		{"p -w table cmd -w json", "p -w table -w json cmd"},
		{"p cmd - -w json", "p -w json cmd -"},
		// The command's own flags stay, with their values; so do arguments.
		{"p cmd --timeout 3s x", "p cmd --timeout 3s x"},
		{"p cmd --timeout 3s --timeout", "p cmd --timeout 3s --timeout"},
		{"p cmd --timeout=3s -w json", "p -w json cmd --timeout=3s"},
		{"p cmd --own -w x", "p cmd --own -w x"},
		{"p cmd -o --endpoints x -w json", "p -w json cmd -o --endpoints x"},
		{"p cmd --yes -w json x", "p -w json cmd --yes x"},
		{"p cmd -5 -w json", "p -w json cmd -5"},
		{"p cmd --bogus -w json", "p -w json cmd --bogus"},
		// Nothing moves after "--", nor without a known command.
		{"p cmd -- -w json", "p cmd -- -w json"},
		{"p cmd x -w json -- --endpoints a:1", "p -w json cmd x -- --endpoints a:1"},
		{"p -- cmd -w json", "p -- cmd -w json"},
		{"p nosuch -w json", "p nosuch -w json"},
		{"p -w json", "p -w json"},
		{"p", "p"},
		{"p cmd ---w json", "p cmd ---w json"},
		// Shell completion asks with the line as typed.
		{"p cmd -w " + completionFlag, "p cmd -w " + completionFlag},
	} {
		in := strings.Fields(tc.in)
		keep := slices.Clone(in)
		out, err := hoistGlobals(in, globals, cmds)
		if got := strings.Join(out, " "); err != nil || got != tc.want {
			t.Errorf("%q: got %q (%v), want %q", tc.in, got, err, tc.want)
		}
		if !slices.Equal(in, keep) {
			t.Errorf("%q: the input changed to %q", tc.in, in)
		}
	}
	// A global at the end without its value would take the command for it.
	for _, tc := range []struct{ in, flag string }{{"p cmd -w", "-w"}, {"p cmd x --endpoints", "--endpoints"}} {
		out, err := hoistGlobals(strings.Fields(tc.in), globals, cmds)
		if err == nil || err.Error() != "flag needs an argument: "+tc.flag {
			t.Errorf("%q: got %q (%v), want flag needs an argument: %s", tc.in, out, err, tc.flag)
		}
	}
}

// TestGlobalFlagsAnywhere: paxosctl takes its global flags after the
// command too, as etcdctl users type them (issue 17), with the same
// meaning, checks and errors as before the command.
func TestGlobalFlagsAnywhere(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() {
		f.add("a", "r0")
		f.add("b", "r1")
	})
	eps := f.endpoints()
	wantJSON := func(what, out string) {
		t.Helper()
		var page readJSON
		if err := json.Unmarshal([]byte(out), &page); err != nil || page.Count != 2 {
			t.Errorf("%s: stdout %q, want the log as JSON", what, out)
		}
	}
	for _, args := range [][]string{
		{"--endpoints", eps, "read", "-w", "json"},
		{"read", "-w", "json", "--endpoints", eps},
		{"read", "--write-out=json", "--endpoints=" + eps},
		{"read", "-w=json", "--timeout", "3s", "--endpoints", eps},
		{"-w", "table", "read", "--endpoints", eps, "-w", "json"}, // the later one wins
	} {
		out, errOut, code := ctlRun(t, "", args...)
		if code != 0 {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
			continue
		}
		wantJSON(strings.Join(args, " "), out)
	}

	// A command's own flags and the arguments keep their places.
	out, errOut, code := ctlRun(t, "", "read", "--from", "1", "-w", "table", "--limit", "1", "--endpoints", eps)
	if code != 0 || !strings.Contains(out, "|    1 | b     | r1         |") || strings.Contains(out, "| a ") {
		t.Fatalf("read --from 1 -w table --limit 1 --endpoints: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	// send: values, "-" and "--" stay arguments. The environment names a
	// closed endpoint, so a flag taken for a value would go nowhere.
	clearCtlEnv(t)
	t.Setenv("PAXOSCTL_ENDPOINTS", closedAddr(t))
	run := func(stdin string, args ...string) (string, string, int) {
		var out, errw syncBuffer
		code := RunPaxosctl(context.Background(), append([]string{"paxosctl"}, args...), strings.NewReader(stdin), &out, &errw)
		return out.String(), errw.String(), code
	}
	out, errOut, code = run("", "send", "x", "--endpoints", eps, "-w", "json", "--token", "tk")
	var s sent
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.Value != "x" || s.Slot != 2 {
		t.Fatalf("send x --endpoints -w json --token: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = run("c\nd\n", "send", "-", "--endpoints="+eps)
	if code != 0 || out != "3\tc\n4\td\n" {
		t.Fatalf("send - --endpoints=: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = run("", "send", "--endpoints", eps, "--", "-w", "--endpoints")
	if code != 0 || out != "5\t-w\n6\t--endpoints\n" {
		t.Fatalf("send -- -w --endpoints: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = run("", "send", "--request-id", "r-9", "y", "--endpoints", eps)
	if code != 0 || out != "7\ty\n" {
		t.Fatalf("send --request-id r-9 y --endpoints: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	var log []logEntry
	var auth []string
	f.do(func() { log, auth = slices.Clone(f.log), slices.Clone(f.auth) })
	var values []string
	for _, e := range log {
		values = append(values, e.Value)
	}
	if want := []string{"a", "b", "x", "c", "d", "-w", "--endpoints", "y"}; !slices.Equal(values, want) {
		t.Errorf("log %q, want %q", values, want)
	}
	if !slices.Contains(auth, "Bearer tk") {
		t.Errorf("send ... --token tk did not send the token: %q", auth)
	}

	// leader --elect PROPOSER, then globals.
	f.do(func() { f.electTo = 3 })
	out, errOut, code = run("", "leader", "--elect", "proposer3", "-w", "json", "--timeout", "5s", "--endpoints", eps)
	var l leaderJSON
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Name != "proposer3" {
		t.Fatalf("leader --elect proposer3 -w json --endpoints: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}
