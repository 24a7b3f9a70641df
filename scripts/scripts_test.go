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
	"encoding/json"
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
	"testing"
	"time"
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
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup-dependencies.sh installs it)", tool)
		}
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
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (scripts/setup-dependencies.sh installs it)")
	}
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
// right paxosctl watch call.
func TestMonitorFlags(t *testing.T) {
	t.Parallel()
	_, logPath, env := setup(t)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"-n"}, []string{"watch", "--interval", "2s", "--count", "1"}},
		{[]string{"-pa", "-n", "-i", "5"}, []string{"watch", "--interval", "5s", "--role", "proposer", "--role", "acceptor", "--count", "1"}},
		{[]string{"--learners", "--clients", "--no-follow", "--interval=0.5"}, []string{"watch", "--interval", "0.5s", "--role", "learner", "--role", "client", "--count", "1"}},
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
	for _, bad := range [][]string{{"-x"}, {"-i", "0"}, {"-i", "soon"}, {"-i"}} {
		if out, code := runScript(t, env, "", "monitor.sh", bad...); code == 0 {
			t.Errorf("monitor.sh %q: exit 0, want an error:\n%s", bad, out)
		}
	}
}

// TestShellcheck runs shellcheck over every script.
func TestShellcheck(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (scripts/setup-dependencies.sh installs it)")
	}
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
