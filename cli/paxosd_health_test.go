package cli

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runHealthApp runs "paxosd health args..." and returns stdout and the error
// (whose message main prints on stderr).
func runHealthApp(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	clearPaxosdEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	app := PaxosdApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"paxosd", "health"}, args...))
	if errOut.Len() != 0 {
		t.Errorf("wrote %q to stderr; main prints errors", errOut.String())
	}
	return out.String(), err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// healthNode serves /health with status and counts the requests.
func healthNode(t *testing.T, status int) (port string, base string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte("{\"id\":4,\"name\":\"acceptor1\",\"status\":\"healthy\"}\n"))
		} else {
			_, _ = w.Write([]byte("{\"status\":\"unhealthy\",\n\"error\":\"storage failed\"}\n"))
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	_, port, _ = net.SplitHostPort(u.Host)
	return port, srv.URL
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestPaxosdHealth(t *testing.T) {
	okPort, okURL := healthNode(t, http.StatusOK)
	badPort, _ := healthNode(t, http.StatusServiceUnavailable)
	deadPort := closedPort(t)

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string // substring of stdout (healthy) or of the error line
	}{
		{name: "--port healthy", args: []string{"--port", okPort}, wantCode: 0, wantOut: `"status":"healthy"`},
		{name: "PORT from the environment", env: map[string]string{"PORT": okPort}, wantCode: 0, wantOut: "acceptor1"},
		{name: "--port wins over PORT", env: map[string]string{"PORT": deadPort}, args: []string{"--port", okPort}, wantCode: 0},
		{name: "--url", args: []string{"--url", okURL}, wantCode: 0},
		{name: "503 is unhealthy", args: []string{"--port", badPort}, wantCode: exitUnhealthy, wantOut: "answered 503: {"},
		{name: "nothing listening", env: map[string]string{"PORT": deadPort}, wantCode: exitUnhealthy, wantOut: "127.0.0.1:" + deadPort},
		{name: "NODE_ID gives the standard port", env: map[string]string{"NODE_ID": "4"}, args: []string{"--url", ""},
			wantCode: exitUnhealthy, wantOut: "127.0.0.1:4001/health"},
		{name: "no port at all", wantCode: exitUnhealthy, wantOut: "set --port, PORT or NODE_ID"},
		{name: "bad port", args: []string{"--port", "70000"}, wantCode: exitUnhealthy, wantOut: "between 1 and 65535"},
		{name: "bad url", args: []string{"--url", "acceptor1:4001"}, wantCode: exitUnhealthy, wantOut: "want http://HOST:PORT"},
		{name: "bad timeout", args: []string{"--port", okPort, "--timeout", "0s"}, wantCode: exitUnhealthy, wantOut: "must be positive"},
		{name: "extra argument", args: []string{"--port", okPort, "now"}, wantCode: exitUnhealthy, wantOut: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "NODE_ID gives the standard port" && portInUse("4001") {
				t.Skip("port 4001 is in use (a cluster runs here)")
			}
			out, err := runHealthApp(t, tt.env, tt.args...)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit status %d (err %v), want %d", got, err, tt.wantCode)
			}
			text := out
			if err != nil {
				text = err.Error()
				if strings.Contains(text, "\n") {
					t.Errorf("error %q is not one line", text)
				}
				if !strings.HasPrefix(text, "health: ") {
					t.Errorf("error %q does not start with %q", text, "health: ")
				}
			}
			if !strings.Contains(text, tt.wantOut) {
				t.Errorf("output %q lacks %q", text, tt.wantOut)
			}
		})
	}
}

func portInUse(port string) bool {
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// paxosd's own arguments are still rejected: "health" is the only command.
func TestPaxosdHealthIsACommand(t *testing.T) {
	clearPaxosdEnv(t)
	var out bytes.Buffer
	app := PaxosdApp()
	app.Writer = &out
	if err := app.Run([]string{"paxosd", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "health") {
		t.Errorf("paxosd --help does not list the health command:\n%s", out.String())
	}
	out.Reset()
	if err := app.Run([]string{"paxosd", "health", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `["CMD", "/paxosd", "health"]`) {
		t.Errorf("paxosd health --help lacks the healthcheck example:\n%s", out.String())
	}
}
