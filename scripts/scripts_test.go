// Package scripts_test checks the operator scripts of scripts/ without a
// cluster: client.sh's interactive menu driven through tmux (send-keys,
// capture-pane), the same menu fed from a pipe, its commands, monitor.sh's
// flags, and shellcheck over every script.
//
// The scripts talk to a fake: paxosctl is this test binary (TestMain turns
// into a fake paxosctl that records its arguments when
// PAXOS_FAKE_PAXOSCTL_LOG is set), and the nodes client.sh calls with curl
// (/get-responses, /view-logs, /propose) are httptest servers named through
// PAXOS_ADDR_<node>. So the tests see exactly what the scripts send: the
// arguments of paxosctl and the JSON bodies, byte for byte.
package scripts_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paxos-go/paxos/internal/testenv"
)

// fakeLogEnv names the file where the fake paxosctl appends its calls.
const fakeLogEnv = "PAXOS_FAKE_PAXOSCTL_LOG"

// tricky is a value that breaks naive quoting: quotes, a backslash, shell
// metacharacters, a leading dash, and multi-byte UTF-8.
const tricky = `-x He said "hi" & 'bye' \ back\\slash $HOME ` + "`id`" + ` ünïcødé 日本語 🚀`

func TestMain(m *testing.M) {
	if path := os.Getenv(fakeLogEnv); path != "" {
		os.Exit(fakePaxosctl(path, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeCall is one run of the fake paxosctl.
type fakeCall struct {
	Args  []string `json:"args"`
	Stdin []string `json:"stdin,omitempty"`
}

// fakePaxosctl records its arguments (and stdin lines for "send -") and
// prints a plausible answer.
func fakePaxosctl(logPath string, args []string) int {
	call := fakeCall{Args: args}
	cmd, rest, format := "", []string(nil), "simple"
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--endpoints", "-w", "--write-out", "--timeout":
			if a == "-w" || a == "--write-out" {
				format = args[i+1]
			}
			i++
		default:
			if cmd == "" {
				cmd, rest = a, args[i+1:]
			}
		}
		if cmd != "" {
			break
		}
	}
	var values []string
	if cmd == "send" {
		for i, a := range rest {
			if a == "--" {
				values = rest[i+1:]
				break
			}
			if a == "-" {
				sc := bufio.NewScanner(os.Stdin)
				for sc.Scan() {
					values = append(values, sc.Text())
				}
				call.Stdin = values
				break
			}
		}
	}
	b, _ := json.Marshal(call)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake paxosctl:", err)
		return 1
	}
	fmt.Fprintf(f, "%s\n", b)
	f.Close()

	switch cmd {
	case "send":
		for i, v := range values {
			fmt.Printf("SENT slot=%d value=%s\n", 40+i, v)
		}
	case "read":
		fmt.Println("0\tfirst\n1\tsecond")
	case "leader":
		if format == "json" {
			fmt.Println(`{"name":"proposer2","id":2,"address":"127.0.0.1:3002","ballot":202,"chosen_slot":7}`)
		} else {
			fmt.Println("LEADER proposer2 ballot 202")
		}
	case "status":
		fmt.Println("STATUS all 10 healthy")
	case "watch":
		fmt.Println("WATCH view")
	default:
		fmt.Fprintf(os.Stderr, "paxosctl: fake: unknown command %q\n", cmd)
		return 3
	}
	return 0
}

// fakeCalls reads the calls the fake paxosctl recorded.
func fakeCalls(t *testing.T, path string) []fakeCall {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls []fakeCall
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var c fakeCall
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("fake paxosctl log: %v: %s", err, line)
		}
		calls = append(calls, c)
	}
	return calls
}

// sentValues returns the values of every "send" call, and the endpoints
// each went to.
func sentValues(calls []fakeCall) (values, endpoints []string) {
	for _, c := range calls {
		i := slices.Index(c.Args, "send")
		if i < 0 {
			continue
		}
		ep := ""
		if j := slices.Index(c.Args, "--endpoints"); j >= 0 && j+1 < len(c.Args) {
			ep = c.Args[j+1]
		}
		var vs []string
		if k := slices.Index(c.Args[i:], "--"); k >= 0 {
			vs = c.Args[i+k+1:]
		} else {
			vs = c.Stdin
		}
		for _, v := range vs {
			values = append(values, v)
			endpoints = append(endpoints, ep)
		}
	}
	return values, endpoints
}

// request is one request a fake node got.
type request struct {
	Node, Method, Path string
	Body               []byte
}

// fakeCluster is the nodes client.sh reaches with curl.
type fakeCluster struct {
	mu   sync.Mutex
	reqs []request
	env  []string // PAXOS_ADDR_<node>=host:port
}

func newFakeCluster(t *testing.T) *fakeCluster {
	fc := &fakeCluster{}
	for _, node := range []string{"client1", "client2", "proposer1", "proposer2", "proposer3"} {
		srv := httptest.NewServer(fc.handler(node))
		t.Cleanup(srv.Close)
		fc.env = append(fc.env, "PAXOS_ADDR_"+node+"="+strings.TrimPrefix(srv.URL, "http://"))
	}
	return fc
}

func (fc *fakeCluster) handler(node string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fc.mu.Lock()
		fc.reqs = append(fc.reqs, request{node, r.Method, r.URL.Path, body})
		fc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id := map[string]int{"client1": 9, "client2": 10, "proposer1": 1, "proposer2": 2, "proposer3": 3}[node]
		switch {
		case r.URL.Path == "/health":
			fmt.Fprintf(w, `{"id":%d,"name":%q,"role":"client","status":"healthy","uptime_seconds":12}`, id, node)
		case r.URL.Path == "/view-logs":
			fmt.Fprintf(w, `{"id":%d,"name":%q,"role":"client","current_leader":2,"responses":1,
				"metrics":{"sent":5,"failed":1,"notifications":9},"logs":["line one","line two"]}`, id, node)
		case r.URL.Path == "/get-responses":
			resp := map[string]any{"count": 1, "responses": []map[string]any{{
				"request_id": "r-1", "value": "from " + node + " 日本語 \"q\"", "status": "value sent",
				"slot": 3, "proposer_id": 2, "learned": true, "at": "2026-01-02T03:04:05.678Z"}}}
			_ = json.NewEncoder(w).Encode(resp)
		case r.URL.Path == "/propose" && r.Method == http.MethodPost:
			fmt.Fprintf(w, `{"status":"chosen","slot":42,"proposal_number":202,"proposer_id":2}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not found"}`)
		}
	})
}

// requests returns the requests of path, in order.
func (fc *fakeCluster) requests(path string) []request {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var out []request
	for _, r := range fc.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// setup checks the tools the scripts need and returns the fake cluster,
// the fake paxosctl's log, and the environment of the scripts.
func setup(t *testing.T) (*fakeCluster, string, []string) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", tool)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCluster(t)
	logPath := filepath.Join(t.TempDir(), "paxosctl.log")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"PAXOSCTL=" + self,
		fakeLogEnv + "=" + logPath,
		"PAXOS_MODE=local",
		"PAXOS_HOST=127.0.0.1",
	}
	env = append(env, fc.env...)
	return fc, logPath, env
}

// runScript runs a script with stdin and returns its combined output and
// exit status.
func runScript(t *testing.T, env []string, stdin string, script string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s %v did not finish within 15s (blocked on a prompt?); output:\n%s", script, args, out.String())
		return "", -1
	}
}

// proposeValue decodes the JSON body of a /propose request.
func proposeValue(t *testing.T, r request) (value string, clientID int, requestID string) {
	t.Helper()
	var body struct {
		Value     string `json:"value"`
		ClientID  int    `json:"client_id"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("/propose body is not JSON: %v: %q", err, r.Body)
	}
	return body.Value, body.ClientID, body.RequestID
}

// tmux drives one tmux session on a private server.
type tmux struct {
	t      *testing.T
	socket string
	env    []string
}

func (x *tmux) run(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...)
	cmd.Env = x.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (x *tmux) send(keys ...string) {
	x.t.Helper()
	if out, err := x.run(append([]string{"send-keys", "-t", "menu"}, keys...)...); err != nil {
		x.t.Fatalf("tmux send-keys %q: %v: %s", keys, err, out)
	}
}

// typeLine types text literally, then Enter.
func (x *tmux) typeLine(text string) {
	x.t.Helper()
	if text != "" {
		x.send("-l", "--", text)
	}
	x.send("Enter")
}

func (x *tmux) screen() string {
	out, err := x.run("capture-pane", "-p", "-J", "-t", "menu")
	if err != nil {
		return ""
	}
	return out
}

// back presses Enter on a "Press Enter" screen and waits until the menu
// has replaced it: the old screen still shows the menu's prompt, and keys
// typed before the redraw could be taken by the wrong read.
func (x *tmux) back() {
	x.t.Helper()
	shown := strings.Contains(x.screen(), "Press Enter")
	x.typeLine("")
	if !shown {
		return
	}
	deadline := time.Now().Add(waitLimit)
	for strings.Contains(x.screen(), "Press Enter") {
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen still says Press Enter %s after Enter:\n%s", waitLimit, x.screen())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// waitLimit bounds every wait for the screen (generous: CI machines are busy).
const waitLimit = 20 * time.Second

// waitFor waits until the screen shows want, and returns the screen.
func (x *tmux) waitFor(want string) string {
	x.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := x.screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen does not show %q within %s; it shows:\n%s", want, waitLimit, s)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// TestClientMenuTmux runs client.sh on a terminal (tmux) and goes through
// the menu as a person would: send a value, switch client, send straight to
// a proposer, view the responses, quit.
func TestClientMenuTmux(t *testing.T) {
	t.Parallel()
	testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", "tmux")
	fc, logPath, env := setup(t)
	script, _ := filepath.Abs("client.sh")
	x := &tmux{t: t, socket: fmt.Sprintf("paxos-scripts-test-%d", os.Getpid()), env: env}
	t.Cleanup(func() { _, _ = x.run("kill-server") })
	if out, err := x.run("new-session", "-d", "-s", "menu", "-x", "200", "-y", "50", "bash "+script); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}

	// 2: send a value through client1.
	x.waitFor("Choice [1-8, q]:")
	x.waitFor("Selected client: client1")
	x.typeLine("2")
	x.waitFor("Value to send:")
	x.typeLine(tricky)
	screen := x.waitFor("Press Enter")
	if !strings.Contains(screen, "SENT slot=40 value="+tricky) {
		t.Errorf("the screen after sending does not show paxosctl's answer:\n%s", screen)
	}
	values, eps := sentValues(fakeCalls(t, logPath))
	if len(values) != 1 || values[0] != tricky {
		t.Fatalf("paxosctl got the values %q, want exactly [%q]", values, tricky)
	}
	if want := envValue(env, "PAXOS_ADDR_client1"); eps[0] != want {
		t.Errorf("send went to --endpoints %q, want client1 at %q", eps[0], want)
	}
	x.back()

	// 1: select client2.
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("1")
	x.waitFor("Client (1 = client1, 2 = client2):")
	x.typeLine("2")
	x.waitFor("selected client2")
	x.back()
	x.waitFor("Selected client: client2")

	// 7: straight to proposer3.
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("7")
	x.waitFor("Proposer (1-3, Enter = the leader):")
	x.typeLine("3")
	x.waitFor("Value to send:")
	x.typeLine(tricky + " #7")
	x.waitFor("chosen: slot 42, ballot 202, by proposer 2")
	props := fc.requests("/propose")
	if len(props) != 1 || props[0].Node != "proposer3" {
		t.Fatalf("want one POST /propose on proposer3, got %+v", props)
	}
	if v, cid, rid := proposeValue(t, props[0]); v != tricky+" #7" || cid != 10 || rid == "" {
		t.Errorf("/propose got value %q client_id %d request_id %q; want %q, 10 (client2), a request id", v, cid, rid, tricky+" #7")
	}
	x.back()

	// 4: the responses of client2, unicode and quotes intact.
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("4")
	screen = x.waitFor("Press Enter")
	if !strings.Contains(screen, `from client2 日本語 "q"`) || !strings.Contains(screen, "client2: 1 response(s)") {
		t.Errorf("option 4 does not show client2's responses:\n%s", screen)
	}
	if r := fc.requests("/get-responses"); len(r) != 1 || r[0].Node != "client2" {
		t.Errorf("want one GET /get-responses on client2, got %+v", r)
	}
	x.back()

	// 6 and 8 call paxosctl leader and status.
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("6")
	x.waitFor("LEADER proposer2 ballot 202")
	x.back()
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("8")
	x.waitFor("STATUS all 10 healthy")
	x.back()

	// q quits: the session ends with the script.
	x.waitFor("Choice [1-8, q]:")
	x.typeLine("q")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := x.run("has-session", "-t", "menu"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client.sh did not exit after q; the screen:\n%s", x.screen())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func envValue(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestClientMenuPipe feeds the menu from a pipe: no prompt may wait for a
// key, values keep their bytes (a tab too), and the script stops at the end
// of its input.
func TestClientMenuPipe(t *testing.T) {
	t.Parallel()
	fc, logPath, env := setup(t)
	withTab := tricky + "\tafter a tab "
	input := strings.Join([]string{"2", withTab, "1", "client2", "2", "-", "7", "", "plain value", "5", "4"}, "\n") + "\n"
	out, code := runScript(t, env, input, "client.sh")
	if code != 0 {
		t.Fatalf("client.sh exited %d; output:\n%s", code, out)
	}
	values, eps := sentValues(fakeCalls(t, logPath))
	if want := []string{withTab, "-"}; !slices.Equal(values, want) {
		t.Errorf("paxosctl got the values %q, want %q", values, want)
	}
	if len(eps) == 2 && (eps[0] != envValue(env, "PAXOS_ADDR_client1") || eps[1] != envValue(env, "PAXOS_ADDR_client2")) {
		t.Errorf("the sends went to %q, want client1 then client2", eps)
	}
	// Enter at "Proposer": the leader, which the fake paxosctl says is proposer2.
	props := fc.requests("/propose")
	if len(props) != 1 || props[0].Node != "proposer2" {
		t.Fatalf("want one POST /propose on the leader proposer2, got %+v", props)
	}
	if v, _, _ := proposeValue(t, props[0]); v != "plain value" {
		t.Errorf("/propose got %q, want %q", v, "plain value")
	}
	for _, want := range []string{"health:          healthy", "values sent:     5", "from client2 日本語"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}

	// A wrong choice is an error: the script goes on, then exits 1.
	out, code = runScript(t, env, "9\n6\nq\n", "client.sh")
	if code != 1 || !strings.Contains(out, "unknown choice '9'") || !strings.Contains(out, "LEADER proposer2") {
		t.Errorf("a wrong choice: exit %d (want 1), output:\n%s", code, out)
	}
	// An empty value is refused before paxosctl runs.
	before := len(fakeCalls(t, logPath))
	if out, code = runScript(t, env, "2\n\nq\n", "client.sh"); code != 1 || !strings.Contains(out, "empty value") {
		t.Errorf("an empty value: exit %d (want 1), output:\n%s", code, out)
	}
	if len(fakeCalls(t, logPath)) != before {
		t.Error("paxosctl ran for an empty value")
	}
}

// TestClientCommands checks the non-interactive commands of client.sh.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	fc, logPath, env := setup(t)
	if out, code := runScript(t, env, "", "client.sh", "send", "--", "--help", tricky); code != 0 {
		t.Fatalf("client.sh send: exit %d:\n%s", code, out)
	}
	if values, _ := sentValues(fakeCalls(t, logPath)); !slices.Equal(values, []string{"--help", tricky}) {
		t.Errorf("client.sh send -- --help TRICKY: paxosctl got %q", values)
	}
	if out, code := runScript(t, env, "", "client.sh", "-c", "client2", "propose", "--proposer", "proposer1", tricky); code != 0 {
		t.Fatalf("client.sh propose: exit %d:\n%s", code, out)
	}
	props := fc.requests("/propose")
	if len(props) != 1 || props[0].Node != "proposer1" {
		t.Fatalf("want one POST /propose on proposer1, got %+v", props)
	}
	if v, cid, _ := proposeValue(t, props[0]); v != tricky || cid != 10 {
		t.Errorf("/propose got %q from client %d, want %q from 10", v, cid, tricky)
	}
	out, code := runScript(t, env, "", "client.sh", "read", "--limit", "5")
	if code != 0 || !strings.Contains(out, "second") {
		t.Errorf("client.sh read: exit %d:\n%s", code, out)
	}
	calls := fakeCalls(t, logPath)
	last := calls[len(calls)-1].Args
	if !slices.Contains(last, "linearizable") || !slices.Contains(last, "--limit") {
		t.Errorf("client.sh read --limit 5 ran paxosctl %q; want a linearizable read with --limit", last)
	}
	if out, code := runScript(t, env, "", "client.sh", "-c", "client3", "status"); code == 0 {
		t.Errorf("client.sh -c client3: exit 0, want an error:\n%s", out)
	}
	if out, code := runScript(t, env, "", "client.sh", "help"); code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("client.sh help: exit %d:\n%s", code, out)
	}
}

// TestMonitorFlags checks that monitor.sh turns the seed's flags into the
// right paxosctl watch call: a live view by default and with --no-follow
// (the seed's "do not follow the logs"), one refresh with --once.
func TestMonitorFlags(t *testing.T) {
	t.Parallel()
	_, logPath, env := setup(t)
	cases := []struct {
		args []string
		want []string
	}{
		{nil, []string{"watch", "--interval", "2s"}},
		{[]string{"-n"}, []string{"watch", "--interval", "2s"}},
		{[]string{"--acceptors", "--learners", "--no-follow"}, []string{"watch", "--interval", "2s", "--role", "acceptor", "--role", "learner"}},
		{[]string{"--once"}, []string{"watch", "--interval", "2s", "--count", "1"}},
		{[]string{"-pa", "--once", "-i", "5"}, []string{"watch", "--interval", "5s", "--role", "proposer", "--role", "acceptor", "--count", "1"}},
		{[]string{"--learners", "--clients", "--no-follow", "--once", "--interval=0.5"}, []string{"watch", "--interval", "0.5s", "--role", "learner", "--role", "client", "--count", "1"}},
	}
	for _, c := range cases {
		out, code := runScript(t, env, "", "monitor.sh", c.args...)
		if code != 0 || !strings.Contains(out, "WATCH view") {
			t.Errorf("monitor.sh %q: exit %d:\n%s", c.args, code, out)
			continue
		}
		calls := fakeCalls(t, logPath)
		if got := calls[len(calls)-1].Args; !slices.Equal(got, c.want) {
			t.Errorf("monitor.sh %q ran paxosctl %q, want %q", c.args, got, c.want)
		}
	}
	for _, bad := range [][]string{{"-x"}, {"-i", "0"}, {"-i", "soon"}, {"-i"}, {"--once=1"}} {
		if out, code := runScript(t, env, "", "monitor.sh", bad...); code == 0 {
			t.Errorf("monitor.sh %q: exit 0, want an error:\n%s", bad, out)
		}
	}
}

// TestMonitorNoFollowRefreshes checks the seed's meaning of --no-follow
// with log lines on screen (-v, -d): the view is redrawn every interval
// until Ctrl-C, the logs are printed, not followed, and the script does
// not exit by itself.
func TestMonitorNoFollowRefreshes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-p", "-v", "--no-follow", "-i", "0.2"},
		{"-p", "-d", "-n", "-i", "0.2"},
	} {
		_, logPath, env := setup(t)
		cmd := exec.Command("bash", append([]string{"monitor.sh"}, args...)...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the script's group: bash, sleep
		}
		// Four runs of paxosctl: the loop has printed the first three views
		// (it records a run before it prints it).
		views := 0
		deadline := time.Now().Add(30 * time.Second)
	poll:
		for views < 4 {
			select {
			case err := <-done:
				t.Fatalf("monitor.sh %q exited (%v) after %d refreshes; want it to keep refreshing:\n%s", args, err, views, out.String())
			case <-time.After(100 * time.Millisecond):
			}
			views = 0
			for _, c := range fakeCalls(t, logPath) {
				if slices.Equal(c.Args, []string{"watch", "--interval", "0.2s", "--role", "proposer", "--count", "1"}) {
					views++
				}
			}
			if time.Now().After(deadline) {
				break poll
			}
		}
		stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if views < 4 {
			t.Errorf("monitor.sh %q: %d refreshes in 30s, want at least 4:\n%s", args, views, out.String())
		}
		if n := strings.Count(out.String(), "WATCH view"); n < 3 {
			t.Errorf("monitor.sh %q printed the view %d times, want at least 3:\n%s", args, n, out.String())
		}
		if args[1] == "-v" && !strings.Contains(out.String(), "line two") {
			t.Errorf("monitor.sh %q: no /view-logs lines in the output:\n%s", args, out.String())
		}
		if args[1] == "-d" && !strings.Contains(out.String(), "log lines per node") {
			t.Errorf("monitor.sh %q: no log lines heading in the output:\n%s", args, out.String())
		}
	}
}

// TestShellcheck runs shellcheck over every script.
func TestShellcheck(t *testing.T) {
	t.Parallel()
	testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", "shellcheck")
	// From the repository root, where "# shellcheck source=scripts/lib.sh"
	// resolves.
	scripts, _ := filepath.Glob("../scripts/*.sh")
	tests, _ := filepath.Glob("../scripts/test/*.sh")
	scripts = append(scripts, tests...)
	if len(scripts) == 0 {
		t.Fatal("no scripts found")
	}
	for i, s := range scripts {
		scripts[i] = strings.TrimPrefix(s, "../")
	}
	cmd := exec.Command("shellcheck", append([]string{"-x"}, scripts...)...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// dotenvFile is a .env with every kind of line Compose reads.
const dotenvFile = `# settings for docker compose (and local mode)
export CLUSTER_SECRET="s3cret from .env"
CLIENT_TOKEN='token from .env'
LOG_FORMAT=json   # an inline comment
 LOG_LEVEL = debug
LOG_LEVEL=warn
PAXOS_VOLUMES=./data
PAXOS_HOST_IP=0.0.0.0
TICK=10ms
not an assignment
`

// TestLocalModeReadsDotenv checks that local mode reads .env as Compose
// does (issue 17): the variables docker-compose.yml passes to the nodes,
// the environment (even an empty value) over .env, the last assignment
// winning, quotes and comments as Compose reads them; and nothing else
// (TICK is not in the Compose file's environment, PAXOS_HOST_IP only
// publishes ports).
func TestLocalModeReadsDotenv(t *testing.T) {
	t.Parallel()
	testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", "bash")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"local.sh", "dotenv.sh", "secure.sh", "topology.sh", "topology.tsv"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "scripts", f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(dotenvFile), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}

	// local.sh env, run from another folder: what the nodes would get.
	env := slices.Concat(base, []string{"CLIENT_TOKEN=tok-env", "LOG_FORMAT="})
	out, code := runScript(t, env, "", filepath.Join(root, "scripts", "local.sh"), "env")
	if code != 0 {
		t.Fatalf("local.sh env: exit %d:\n%s", code, out)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = f[1:]
		}
	}
	for name, want := range map[string]string{
		"CLUSTER_SECRET": "(set, 16 chars) .env",
		"CLIENT_TOKEN":   "(set, 7 chars) environment",
		"LOG_FORMAT":     "(empty) environment",
		"LOG_LEVEL":      "warn .env",
		"GOMAXPROCS":     "1 default",
		"PAXOS_VOLUMES":  filepath.Join(root, "data") + " .env",
	} {
		if got := strings.Join(rows[name], " "); got != want {
			t.Errorf("local.sh env: %s is %q, want %q:\n%s", name, got, want, out)
		}
	}
	if !strings.Contains(out, ".env:10: not NAME=VALUE, skipped") {
		t.Errorf("local.sh env: no warning about line 10 of .env:\n%s", out)
	}

	// load_dotenv exports what it sets: a child process (a node) sees it.
	script := `. scripts/dotenv.sh
load_dotenv .env CLUSTER_SECRET CLIENT_TOKEN LOG_FORMAT LOG_LEVEL GOMAXPROCS PAXOS_VOLUMES
env`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = root
	cmd.Env = slices.Concat(base, []string{"LOG_LEVEL=error"})
	data, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("load_dotenv: %v\n%s", err, data)
	}
	child := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			child[k] = v
		}
	}
	for name, want := range map[string]string{
		"CLUSTER_SECRET": "s3cret from .env",
		"CLIENT_TOKEN":   "token from .env",
		"LOG_FORMAT":     "json",
		"LOG_LEVEL":      "error",
		"PAXOS_VOLUMES":  "./data",
	} {
		if got, ok := child[name]; !ok || got != want {
			t.Errorf("a child of load_dotenv sees %s=%q (set: %v), want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"TICK", "PAXOS_HOST_IP", "GOMAXPROCS"} {
		if v, ok := child[name]; ok {
			t.Errorf("a child of load_dotenv sees %s=%q; want it unset (not a setting local mode takes from .env)", name, v)
		}
	}
}

// runIn runs a script by its absolute path from dir (not a terminal on
// stdin) and returns its combined output and exit status.
func runIn(t *testing.T, dir string, env []string, script string, args ...string) (string, int) {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{abs}, args...)...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, strings.NewReader("")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %q did not finish within 60s (blocked on a prompt?):\n%s", script, args, out)
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return string(out), 0
}

// TestSetupDockerCheck runs setup-docker.sh --check on this machine, from
// another folder, stdin not a terminal: it reports the engine and Compose
// it finds and exits 0 when both answer (as here), 1 when something is
// missing; and it never installs or starts anything (a fake docker whose
// engine does not answer is reported, not started).
func TestSetupDockerCheck(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	out, code := runIn(t, t.TempDir(), env, "setup-docker.sh", "--check")
	server, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").Output()
	composeOK := exec.Command("docker", "compose", "version").Run() == nil || exec.Command("docker-compose", "version").Run() == nil
	if err == nil && composeOK {
		for _, want := range []string{
			"docker    ok (Docker version ",
			"engine    ok (server " + strings.TrimSpace(string(server)) + ",",
			"compose   ok (docker",
			"Docker and Compose are ready",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("setup-docker.sh --check does not say %q:\n%s", want, out)
			}
		}
		if code != 0 {
			t.Errorf("setup-docker.sh --check: exit %d with the engine and Compose answering, want 0:\n%s", code, out)
		}
	} else {
		if testenv.InCI() {
			t.Errorf("CI=true and this machine has no answering Docker engine and Compose (docker info: %v)", err)
		}
		if code != 1 || !strings.Contains(out, "missing: ") {
			t.Errorf("setup-docker.sh --check without a working Docker: exit %d, want 1 naming what is missing:\n%s", code, out)
		}
	}

	// A docker whose engine does not answer: reported, exit 1, nothing run
	// but the fake's version and info.
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := `#!/bin/sh
echo "$*" >>` + calls + `
case $1 in
--version) echo "Docker version 0.0.0-fake, build fake" ;;
*) echo "Cannot connect to the Docker daemon at unix:///fake.sock. Is the docker daemon running?" >&2; exit 1 ;;
esac
`
	for _, name := range []string{"docker", "sudo", "systemctl", "service", "apt-get"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env[0] = "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")
	out, code = runIn(t, t.TempDir(), env, "setup-docker.sh", "--check")
	if code != 1 || !strings.Contains(out, "engine    not answering") || !strings.Contains(out, "missing: engine") {
		t.Errorf("setup-docker.sh --check with an engine that does not answer: exit %d, want 1 naming the engine:\n%s", code, out)
	}
	data, _ := os.ReadFile(calls)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line != "--version" && !strings.HasPrefix(line, "info") && !strings.HasPrefix(line, "compose version") {
			t.Errorf("setup-docker.sh --check ran %q; want only version and info queries", line)
		}
	}

	if out, code := runIn(t, t.TempDir(), env, "setup-docker.sh", "--bogus"); code == 0 {
		t.Errorf("setup-docker.sh --bogus: exit 0, want an error:\n%s", out)
	}
}

// TestComposeFlavours parses docker-compose.yml with each Compose found here
// (the "docker compose" v2 plugin that scripts/ci-deps.sh builds, and
// docker-compose v1), through scripts/compose.sh with DOCKER_COMPOSE set:
// both must see the ten services, their fixed container names and the
// paxos-network network. Without DOCKER_COMPOSE, compose.sh must pick v2
// when it answers. "make drill" runs the cluster with whichever compose.sh
// picks; this test keeps the other one from rotting unseen.
func TestComposeFlavours(t *testing.T) {
	t.Parallel()
	nodes := []string{"acceptor1", "acceptor2", "acceptor3", "client1", "client2",
		"learner1", "learner2", "proposer1", "proposer2", "proposer3"}
	v2 := exec.Command("docker", "compose", "version").Run() == nil
	_, err := exec.LookPath("docker-compose")
	v1 := err == nil
	if !v1 && !v2 {
		testenv.Missing(t, "neither 'docker compose' nor 'docker-compose' is installed (scripts/setup-docker.sh, scripts/ci-deps.sh)")
	}
	for _, f := range []struct {
		name    string
		command string
		here    bool
	}{{"v2", "docker compose", v2}, {"v1", "docker-compose", v1}} {
		t.Run(f.name, func(t *testing.T) {
			if !f.here {
				t.Skipf("%q is not installed here", f.command)
			}
			env := append(os.Environ(), "DOCKER_COMPOSE="+f.command)
			out, code := runIn(t, t.TempDir(), env, "compose.sh", "--which")
			if code != 0 || strings.TrimSpace(out) != f.command {
				t.Fatalf("DOCKER_COMPOSE=%q compose.sh --which: exit %d, %q", f.command, code, out)
			}
			out, code = runIn(t, t.TempDir(), env, "compose.sh", "config", "--services")
			if code != 0 {
				t.Fatalf("%s config --services: exit %d\n%s", f.command, code, out)
			}
			services := strings.Fields(out)
			slices.Sort(services)
			if !slices.Equal(services, nodes) {
				t.Errorf("%s config --services = %v, want %v", f.command, services, nodes)
			}
			out, code = runIn(t, t.TempDir(), env, "compose.sh", "config")
			if code != 0 {
				t.Fatalf("%s config: exit %d\n%s", f.command, code, out)
			}
			for _, want := range []string{"container_name: proposer1", "container_name: client2", "name: paxos-network", "image: paxos:local"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s config does not say %q", f.command, want)
				}
			}
		})
	}
	if v2 {
		env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DOCKER_COMPOSE=") })
		if out, code := runIn(t, t.TempDir(), env, "compose.sh", "--which"); code != 0 || strings.TrimSpace(out) != "docker compose" {
			t.Errorf("compose.sh --which with the v2 plugin answering: exit %d, %q, want \"docker compose\"", code, out)
		}
	}
}

// TestCiDepsComposeV2 runs ci-deps.sh's Compose v2 step against a fake
// docker (its "compose version" answers once the plugin file is in
// $HOME/.docker/cli-plugins) and a fake go, in a temporary HOME: with the
// plugin cached it only copies it (no go runs, the cache is what keeps CI
// fast); when go fails it warns and exits 0; with v2 answering it does
// nothing; and a second run is a no-op.
func TestCiDepsComposeV2(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho \""+name+" $*\" >>"+calls+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("docker", `if [ "$1 $2" = "compose version" ]; then
	[ -x "$HOME/.docker/cli-plugins/docker-compose" ] || { echo "docker: unknown command: docker compose" >&2; exit 1; }
	echo 5.6.0-fake
fi
`)
	write("go", "exit 1\n")
	// Nothing is installed from Debian here whatever this machine misses.
	write("apt-get", "exit 1\n")
	write("sudo", "exit 1\n")
	read := func() string {
		b, _ := os.ReadFile(calls)
		_ = os.Remove(calls)
		return string(b)
	}

	home := t.TempDir()
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8", "TMPDIR=" + t.TempDir()}
	plugin := filepath.Join(home, ".docker", "cli-plugins", "docker-compose")

	// No cache, and go fails: a warning, exit 0, nothing installed.
	out, code := runIn(t, t.TempDir(), env, "ci-deps.sh")
	if code != 0 || !strings.Contains(out, "warning:") || !strings.Contains(out, "docker-compose v1") {
		t.Errorf("ci-deps.sh with a failing go: exit %d, want 0 and a warning:\n%s", code, out)
	}
	if _, err := os.Stat(plugin); err == nil {
		t.Errorf("ci-deps.sh installed %s although the build failed", plugin)
	}
	if c := read(); !strings.Contains(c, "go mod download") {
		t.Errorf("ci-deps.sh did not try go mod download; calls:\n%s", c)
	}

	// --check only reports.
	out, code = runIn(t, t.TempDir(), env, "ci-deps.sh", "--check")
	if code != 0 || !strings.Contains(out, "missing: Compose v2 plugin (would build github.com/docker/compose/v5@v5.6.0)") {
		t.Errorf("ci-deps.sh --check: exit %d:\n%s", code, out)
	}
	if c := read(); strings.Contains(c, "go ") {
		t.Errorf("ci-deps.sh --check ran go:\n%s", c)
	}

	// Cached: copied, executable, go not run.
	cache := filepath.Join(home, ".cache", "paxos", "docker-compose-v5.6.0")
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cache, []byte("#!/bin/sh\necho cached plugin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = runIn(t, t.TempDir(), env, "ci-deps.sh")
	if code != 0 || !strings.Contains(out, "installed "+plugin) {
		t.Errorf("ci-deps.sh with a cached plugin: exit %d, want it installed:\n%s", code, out)
	}
	if st, err := os.Stat(plugin); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("%s not installed executable: %v", plugin, err)
	}
	if c := read(); strings.Contains(c, "go ") {
		t.Errorf("ci-deps.sh ran go although the plugin was cached:\n%s", c)
	}

	// Present: nothing to do.
	out, code = runIn(t, t.TempDir(), env, "ci-deps.sh")
	if code != 0 || !strings.Contains(out, "Compose v2 present") {
		t.Errorf("ci-deps.sh with v2 answering: exit %d:\n%s", code, out)
	}
	if c := read(); strings.Contains(c, "go ") {
		t.Errorf("ci-deps.sh ran go with v2 present:\n%s", c)
	}

	// COMPOSE_V2=0 skips the step.
	if err := os.Remove(plugin); err != nil {
		t.Fatal(err)
	}
	out, code = runIn(t, t.TempDir(), append(env, "COMPOSE_V2=0"), "ci-deps.sh")
	if code != 0 || strings.Contains(out, "Compose v2") {
		t.Errorf("COMPOSE_V2=0 ci-deps.sh: exit %d, want the step skipped:\n%s", code, out)
	}
}

// bench-report.py draws a bench result as one HTML page: a throughput
// chart, a latency chart per target, the medians, and a strip per run
// whose bars follow its timeline (a stall shows as slices with no writes).
func TestBenchReport(t *testing.T) {
	py := testenv.LookPath(t, "python3 comes with the machine (scripts/ci-deps.sh)", "python3")
	run := func(target string, clients int, tput float64, stall bool) map[string]any {
		var tl []map[string]any
		for i := range 50 {
			ops, p99, mx := 40, 8.0, 12.0
			if stall && i >= 20 && i < 25 {
				ops, p99, mx = 0, 0, 0
			}
			if stall && i == 25 {
				p99, mx = 480, 510
			}
			tl = append(tl, map[string]any{"t_s": float64(i) / 10, "ops": ops, "p50_ms": 3.0, "p99_ms": p99, "max_ms": mx})
		}
		return map[string]any{"target": target, "clients": clients, "throughput": tput, "failed": 0,
			"latency_ms":       map[string]float64{"min": 1, "p50": 3, "p90": 6, "p99": 9, "p999": 12, "max": 510},
			"timeline_slice_s": 0.1, "timeline": tl}
	}
	raw := []map[string]any{run("proposer", 1, 500, false), run("proposer", 64, 9000, true),
		run("client", 1, 450, false), run("client", 64, 6000, false)}
	data, _ := json.Marshal(map[string]any{"meta": map[string]any{"cpus": 2, "runs": 1}, "raw": raw})
	dir := t.TempDir()
	src := filepath.Join(dir, "bench-20261207T000000Z.json")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "bench-report.py", src).CombinedOutput()
	if err != nil {
		t.Fatalf("bench-report.py: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "bench-20261207T000000Z.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	// 1 throughput chart, 2 latency charts, 4 strips.
	if n := strings.Count(html, "<svg"); n != 7 {
		t.Errorf("%d SVG drawings, want 7 (throughput, latency per target, a strip per run)", n)
	}
	for _, want := range []string{"at the leader, 64 clients, run 1: 9,000 writes/s", "through client nodes", "<td>6,000</td>",
		"2.0 s: 0 writes/s", "2.5 s: 400 writes/s, p50 3.00 ms, p99 480 ms, max 510 ms"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && !strings.Contains(html, "xmlns=\"http://www.w3.org/2000/svg\"") {
		t.Errorf("the page is not self-contained")
	}
	// A file that is not a bench result is refused, with the reason.
	bad := filepath.Join(dir, "x.json")
	_ = os.WriteFile(bad, []byte(`{"results": []}`), 0o644)
	out, err = exec.Command(py, "bench-report.py", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "has no runs") {
		t.Errorf("bench-report.py on a JSON without runs: %v, %s; want a failure that says so", err, out)
	}
}

// TestPaxosModeWithProposer1Stopped: a drill that stopped proposer1 in
// Compose mode must still see Compose mode, or it starts proposer1 as a
// local process that no other node can reach (a CI failure of
// test-proposer.sh: the old leader "rejoined" as a candidate that heard
// nothing). A drill that stopped every node keeps the mode require_cluster
// pinned.
func TestPaxosModeWithProposer1Stopped(t *testing.T) {
	t.Parallel()
	testenv.LookPath(t, "scripts/ci-deps.sh or scripts/setup-dependencies.sh installs it", "bash")
	lib, err := filepath.Abs("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, running, pinned, want string
	}{
		{"every node runs", "proposer1 proposer2 acceptor1 other", "", "compose"},
		{"proposer1 stopped", "proposer2 proposer3 acceptor1 learner1 client1", "", "compose"},
		{"only unrelated containers", "proposer10 xproposer2 db", "", "local"},
		{"no container", "", "", "local"},
		{"every node stopped, mode pinned", "", "compose", "compose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			fake := "#!/bin/sh\n[ \"$1\" = ps ] || exit 1\nfor n in " + tc.running + "; do echo \"$n\"; done\n"
			if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8", "PAXOS_MODE=" + tc.pinned}
			script := filepath.Join(t.TempDir(), "mode.sh")
			if err := os.WriteFile(script, []byte(". "+lib+"\npaxos_mode\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			out, code := runScript(t, env, "", script)
			if got := strings.TrimSpace(out); code != 0 || got != tc.want {
				t.Errorf("paxos_mode with %q running: %q (exit %d), want %q", tc.running, got, code, tc.want)
			}
		})
	}
}
