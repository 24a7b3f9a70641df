package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
)

// chromiumNames are the commands a headless Chromium may go by.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func findChromium() string {
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// runChromium runs headless Chromium with args and returns its standard
// output.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000"}
	what := args[0]
	args = append(base, args...)
	// Chromium takes every core while it starts: nice it, so the cluster
	// in this process keeps its heartbeats and does not hold an election.
	if nice, err := exec.LookPath("nice"); err == nil {
		bin, args = nice, append([]string{"-n", "10", bin}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v after %s\n%s", strings.Join(cmd.Args, " "), err, time.Since(start).Round(time.Millisecond),
			truncate(stderr.Bytes(), 2000))
	}
	t.Logf("chromium %s: %s", what, time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

// TestStatusPageInChromium renders the leader's status page in headless
// Chromium and checks the page, once its script ran, shows the leader, its
// ballot, the chosen slot and the last chosen values. It also takes a
// screenshot (1200x800); with PAXOS_SCREENSHOT=path it keeps it there
// (docs/status-page.png is made with PAXOS_SCREENSHOT=../docs/status-page.png).
func TestStatusPageInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skipf("headless Chromium not found (looked for %s in PATH); scripts/ci-deps.sh installs Debian's chromium",
			strings.Join(chromiumNames, ", "))
	}
	// A slow clock (elections after 1-2 s) keeps one leader while
	// Chromium renders, on a loaded machine too.
	c := newTestClusterWith(t, func(cfg *Config) { cfg.Tick = 100 * time.Millisecond })
	values := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	var last uint64
	for i, v := range values {
		slot, err := c.send(replog.ID(9+i%2), v, "")
		if err != nil {
			t.Fatal(err)
		}
		last = slot
	}
	// The harness starts each node's gossip alone: join them all to
	// proposer1's, so the page lists the whole cluster.
	c.mu.Lock()
	servers := map[replog.ID]*Server{}
	for id, n := range c.nodes {
		servers[id] = n.srv
	}
	c.mu.Unlock()
	for id, s := range servers {
		if id != 1 {
			if _, err := s.gossip.Join([]string{servers[1].gossip.LocalAddr()}); err != nil {
				t.Fatalf("gossip join: %v", err)
			}
		}
	}

	// check says what is wrong with the page of leader, as rendered.
	check := func(dom string, leader replog.ID) error {
		field := func(id string) string {
			m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(dom)
			if m == nil {
				return ""
			}
			return m[1]
		}
		if got := field("title"); !strings.Contains(got, "proposer"+itoa(leader)) {
			return fmt.Errorf("page title %q does not name proposer%d", got, leader)
		}
		if got := field("leader"); got != itoa(leader) {
			return fmt.Errorf("page shows leader %q, want %d", got, leader)
		}
		if got := field("ballot"); got == "" || got == "—" {
			return fmt.Errorf("page shows no ballot")
		}
		if got, err := strconv.ParseUint(field("chosen"), 10, 64); err != nil || got < last {
			return fmt.Errorf("page shows chosen slot %q, want %d or more", field("chosen"), last)
		}
		for _, v := range values {
			if !strings.Contains(dom, "<td>"+v+"</td>") {
				return fmt.Errorf("page does not list the chosen value %q", v)
			}
		}
		for _, p := range c.cfg.Peers() {
			if !strings.Contains(dom, "<td>"+p.Name+"</td>") {
				return fmt.Errorf("page does not list %s", p.Name)
			}
		}
		return nil
	}
	// Render the leader's page. A loaded machine can hold an election
	// meanwhile: then render the new leader's page.
	var mon *httptest.Server
	for attempt := 1; ; attempt++ {
		leader := c.leader()
		mon = httptest.NewServer(servers[leader].monitorHandler())
		// The page shows what /status.json says: wait until it has the
		// last write (the learners tell the leader what is chosen) and
		// gossip knows every node.
		c.eventually(10*time.Second, func() error {
			code, body := httpDo(http.MethodGet, mon.URL+"/status.json", "")
			var st struct {
				Node struct {
					ChosenSlot int64 `json:"chosen_slot"`
				} `json:"node"`
				Nodes  []json.RawMessage `json:"nodes"`
				Recent []struct {
					Slot uint64 `json:"slot"`
				} `json:"recent"`
			}
			if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Node.ChosenSlot < int64(last) ||
				len(st.Recent) == 0 || st.Recent[len(st.Recent)-1].Slot < last || len(st.Nodes) != len(c.cfg.Peers()) {
				return fmt.Errorf("status.json: %d %s", code, truncate([]byte(body), 300))
			}
			return nil
		})
		dom := string(runChromium(t, bin, "--dump-dom", mon.URL+"/"))
		err := check(dom, leader)
		if now := c.leader(); err == nil && now != leader {
			err = fmt.Errorf("the leader changed from %d to %d while the page rendered", leader, now)
		}
		if err == nil {
			break
		}
		mon.Close()
		if attempt == 3 {
			t.Fatalf("%v; DOM:\n%s", err, dom)
		}
		t.Logf("attempt %d: %v; rendering again", attempt, err)
	}
	defer mon.Close()

	shot := filepath.Join(t.TempDir(), "status-page.png")
	if keep := os.Getenv("PAXOS_SCREENSHOT"); keep != "" {
		shot = keep
	}
	abs, err := filepath.Abs(shot)
	if err != nil {
		t.Fatal(err)
	}
	runChromium(t, bin, "--screenshot="+abs, "--window-size=1200,800", "--hide-scrollbars", mon.URL+"/")
	f, err := os.Open(abs)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", abs, err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 800 {
		t.Errorf("screenshot is %dx%d, want 1200x800", b.Dx(), b.Dy())
	}
	t.Logf("screenshot: %s", abs)
}
