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

	"github.com/paxos-go/paxos/internal/testenv"
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
// output. A run that hangs (it happened once in CI: a screenshot still
// running after 3 minutes, where it takes seconds) is killed after
// chromiumTry and tried again with a fresh profile, up to chromiumTries
// times; any other failure fails the test at once.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	for try := 1; ; try++ {
		out, hung, err := chromiumOnce(t, bin, args)
		if err == nil {
			return out
		}
		if !hung || try == chromiumTries {
			t.Fatal(err)
		}
		t.Logf("chromium %s: try %d of %d hung: %v; trying again", args[0], try, chromiumTries, err)
	}
}

const (
	chromiumTry   = time.Minute
	chromiumTries = 3
)

// chromiumOnce runs Chromium once; hung says it was killed at chromiumTry.
func chromiumOnce(t *testing.T, bin string, args []string) (_ []byte, hung bool, _ error) {
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTry)
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
		return nil, ctx.Err() != nil, fmt.Errorf("%s: %v after %s\n%s", strings.Join(cmd.Args, " "), err,
			time.Since(start).Round(time.Millisecond), truncate(stderr.Bytes(), 2000))
	}
	t.Logf("chromium %s: %s", what, time.Since(start).Round(time.Millisecond))
	return stdout.Bytes(), false, nil
}

// TestStatusPageInChromium renders the leader's status page in headless
// Chromium and checks the page, once its script ran, shows the leader, its
// ballot, the chosen slot and the last chosen values; the cluster as boxes
// with the learners' chosen slots (gossiped); the charts of the leader's
// writes per second and commit latency drawn from its /stats/history (a
// line with points, a peak above 0 and no more than the writes sent, a p99
// above 0); and the sequence diagram of the last slot drawn from the
// nodes' traces: accept, accepted, learn and chosen arrows and the quorum
// mark. Then it stops the leader, writes again through the new one, and
// renders the new leader's page with ?election=1: the diagram of the
// election at the new ballot (prepare and promise arrows, the quorum mark)
// and its charts. It takes a screenshot (1200x1200) of each page; with
// PAXOS_SCREENSHOTS=dir it keeps them there as status-page.png and
// status-election.png (make screenshots writes them to docs/).
func TestStatusPageInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		testenv.Missing(t, "headless Chromium not found (looked for %s in PATH); scripts/ci-deps.sh installs Debian's chromium",
			strings.Join(chromiumNames, ", "))
	}
	// A slow clock (elections after 1-2 s) keeps one leader while
	// Chromium renders, on a loaded machine too.
	c := newTestClusterWith(t, func(cfg *Config) { cfg.Tick = 100 * time.Millisecond })
	c.leader()
	values := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	var last uint64
	sent := 0
	for i, v := range values {
		slot, err := c.send(replog.ID(9+i%2), v, "")
		if err != nil {
			t.Fatal(err)
		}
		last, sent = slot, sent+1
	}
	// The harness starts each node's gossip alone: join them all to
	// proposer1's, so the page lists the whole cluster.
	servers := c.joinGossip(1)

	field := func(dom, id string) string {
		m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(dom)
		if m == nil {
			return ""
		}
		return m[1]
	}
	// checkNode says what is wrong with the summary of leader's page.
	checkNode := func(dom string, leader replog.ID) error {
		if got := field(dom, "title"); !strings.Contains(got, "proposer"+itoa(leader)) {
			return fmt.Errorf("page title %q does not name proposer%d", got, leader)
		}
		if got := field(dom, "leader"); got != itoa(leader) {
			return fmt.Errorf("page shows leader %q, want %d", got, leader)
		}
		if got := field(dom, "ballot"); got == "" || got == "—" {
			return fmt.Errorf("page shows no ballot")
		}
		if got, err := strconv.ParseUint(field(dom, "chosen"), 10, 64); err != nil || got < last {
			return fmt.Errorf("page shows chosen slot %q, want %d or more", field(dom, "chosen"), last)
		}
		return nil
	}
	// checkCharts says what is wrong with the charts of a proposer's page
	// after sent writes.
	checkCharts := func(dom string) error {
		if got := field(dom, "rate-title"); got != "writes" {
			return fmt.Errorf("the rate chart is of %q, want writes", got)
		}
		path := func(class string) (string, int) {
			m := regexp.MustCompile(`<path class="` + class + `" d="([^"]*)" data-points="(\d+)"`).FindStringSubmatch(dom)
			if m == nil {
				return "", 0
			}
			n, _ := strconv.Atoi(m[2])
			return m[1], n
		}
		if d, n := path("rate"); n < 2 || !strings.Contains(d, "L") {
			return fmt.Errorf("the writes/s chart has %d points (d=%.80q), want a line of 2 or more", n, d)
		}
		if d, n := path("p99"); n < 1 || !strings.HasPrefix(d, "M") {
			return fmt.Errorf("the latency chart has %d p99 points (d=%.80q), want 1 or more", n, d)
		}
		if d, n := path("p50"); n < 1 || !strings.HasPrefix(d, "M") {
			return fmt.Errorf("the latency chart has %d p50 points (d=%.80q), want 1 or more", n, d)
		}
		peak, err := strconv.ParseFloat(field(dom, "rate-peak"), 64)
		if err != nil || peak <= 0 || peak > float64(sent) {
			return fmt.Errorf("the chart shows a peak of %q writes/s, want more than 0 and at most the %d writes sent", field(dom, "rate-peak"), sent)
		}
		ms := func(id string) float64 {
			v, err := strconv.ParseFloat(strings.TrimSuffix(field(dom, id), " ms"), 64)
			if err != nil {
				return -1
			}
			return v
		}
		if p50, p99 := ms("p50-now"), ms("p99-now"); p50 <= 0 || p99 < p50 {
			return fmt.Errorf("the chart shows commit latency p50 %q, p99 %q", field(dom, "p50-now"), field(dom, "p99-now"))
		}
		return nil
	}
	// checkSlot says what is wrong with the rest of the page of the
	// ordinary slot.
	checkSlot := func(dom string, leader replog.ID) error {
		if err := checkNode(dom, leader); err != nil {
			return err
		}
		if err := checkCharts(dom); err != nil {
			return err
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
			if !strings.Contains(dom, `id="box-`+itoa(p.ID)+`"`) {
				return fmt.Errorf("page has no box for %s", p.Name)
			}
		}
		// Every acceptor's and learner's box has the last minute of its
		// durable slots, the leader's its writes.
		for _, p := range append(append([]Peer{{ID: leader, Name: "the leader"}}, c.cfg.Acceptors...), c.cfg.Learners...) {
			m := regexp.MustCompile(`id="spark-` + itoa(p.ID) + `"[^>]*><path class="rate" d="(M[^"]*)" data-points="(\d+)"`).FindStringSubmatch(dom)
			if m == nil {
				return fmt.Errorf("the box of %s has no line of the last minute", p.Name)
			}
			if peak, err := strconv.ParseFloat(field(dom, "spark-peak-"+itoa(p.ID)), 64); err != nil || peak <= 0 {
				return fmt.Errorf("the box of %s shows a peak of %q per second, want more than 0", p.Name, field(dom, "spark-peak-"+itoa(p.ID)))
			}
		}
		for _, l := range c.cfg.Learners {
			m := regexp.MustCompile(`(?s)id="box-` + itoa(l.ID) + `".*?class="chosen">([^<]*)<`).FindStringSubmatch(dom)
			if m == nil {
				return fmt.Errorf("the box of %s shows no chosen slot", l.Name)
			}
			if got, err := strconv.ParseUint(m[1], 10, 64); err != nil || got < last {
				return fmt.Errorf("the box of %s shows chosen slot %q, want %d or more", l.Name, m[1], last)
			}
		}
		if m := regexp.MustCompile(`id="seqtitle">([^<]*)<`).FindStringSubmatch(dom); m == nil || m[1] != "slot "+strconv.FormatUint(last, 10) {
			return fmt.Errorf("the sequence diagram is not of slot %d: %q", last, m)
		}
		for _, typ := range []string{"MsgAccept", "MsgAccepted", "MsgLearn", "MsgChosen"} {
			if n := strings.Count(dom, `data-type="`+typ+`"`); n < len(c.cfg.Acceptors)-1 {
				return fmt.Errorf("the sequence diagram has %d %s arrows, want %d or more", n, typ, len(c.cfg.Acceptors)-1)
			}
		}
		if !strings.Contains(dom, `<polygon class="quorum"`) || !strings.Contains(dom, "✓ learned") || !strings.Contains(dom, "★ chosen") {
			return fmt.Errorf("the sequence diagram marks no quorum, learned or chosen step")
		}
		return nil
	}
	// leadership is the leader and its ballot, as the proposers say.
	leadership := func() (replog.ID, uint64) {
		leader := c.leader()
		v, err := c.proposerStatus(leader)
		if err != nil {
			return leader, 0
		}
		return leader, v.Ballot
	}
	// hasWrites says whether the history of mon's node has a closed
	// window with writes.
	hasWrites := func(mon *httptest.Server) error {
		code, body := httpDo(http.MethodGet, mon.URL+"/stats/history", "")
		var h History
		if code != 200 || json.Unmarshal([]byte(body), &h) != nil {
			return fmt.Errorf("stats/history: %d %s", code, truncate([]byte(body), 300))
		}
		for _, s := range h.Samples {
			if s.Ops > 0 {
				return nil
			}
		}
		return fmt.Errorf("stats/history: no window with writes yet: %s", truncate([]byte(body), 300))
	}
	// ready says whether leader's /status.json and /stats/history have
	// what the page should show: the last write (the learners tell the
	// leader what is chosen), every node in gossip, the learners' chosen
	// slots, and a closed window of the history with writes.
	ready := func(mon *httptest.Server) error {
		code, body := httpDo(http.MethodGet, mon.URL+"/status.json", "")
		var st struct {
			Node struct {
				ChosenSlot int64 `json:"chosen_slot"`
			} `json:"node"`
			Nodes []struct {
				Role     Role `json:"role"`
				Metadata struct {
					Chosen *int64 `json:"chosen"`
				} `json:"metadata"`
			} `json:"nodes"`
			Recent []struct {
				Slot uint64 `json:"slot"`
			} `json:"recent"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Node.ChosenSlot < int64(last) ||
			len(st.Recent) == 0 || st.Recent[len(st.Recent)-1].Slot < last || len(st.Nodes) != len(c.cfg.Peers()) {
			return fmt.Errorf("status.json: %d %s", code, truncate([]byte(body), 300))
		}
		for _, n := range st.Nodes {
			if n.Role == RoleLearner && (n.Metadata.Chosen == nil || *n.Metadata.Chosen < int64(last)) {
				return fmt.Errorf("status.json: gossip shows a learner behind slot %d: %s", last, truncate([]byte(body), 300))
			}
		}
		return hasWrites(mon)
	}
	// render renders the leader's page at query and checks it. A loaded
	// machine can hold an election meanwhile: a render during which the
	// leader or its ballot changed shows a page of a node that no longer
	// leads, which proves nothing either way; it is rendered again (on the
	// new leader) without counting as an attempt, until renderFor has
	// passed. Any other mismatch counts: the third fails the test. It
	// returns the leader's monitor server (closed when the test ends).
	const renderFor = 5 * time.Minute
	render := func(query string, check func(dom string, leader replog.ID, ballot uint64) error) (*httptest.Server, replog.ID) {
		t.Helper()
		for attempt, start := 1, time.Now(); ; {
			leader, ballot := leadership()
			mon := httptest.NewServer(servers[leader].monitorHandler())
			if hasWrites(mon) != nil {
				// A leader elected after the writes answered none yet:
				// write through it, so its charts have data to show.
				slot, err := c.send(9, fmt.Sprintf("for-the-charts-%d", sent), "")
				if err != nil {
					t.Fatal(err)
				}
				last, sent = slot, sent+1
			}
			c.eventually(10*time.Second, func() error { return ready(mon) })
			dom := string(runChromium(t, bin, "--dump-dom", mon.URL+"/"+query))
			err := check(dom, leader, ballot)
			nowLeader, nowBallot := leadership()
			if nowLeader != leader || nowBallot != ballot {
				mon.Close()
				if time.Since(start) > renderFor {
					t.Fatalf("the leader kept changing for %s (last: %d at ballot %d to %d at ballot %d while the page rendered)",
						renderFor, leader, ballot, nowLeader, nowBallot)
				}
				t.Logf("the leader changed from %d (ballot %d) to %d (ballot %d) while the page rendered; rendering again (page check: %v)",
					leader, ballot, nowLeader, nowBallot, err)
				continue
			}
			if err == nil {
				t.Cleanup(mon.Close)
				return mon, leader
			}
			mon.Close()
			if attempt == 3 {
				t.Fatalf("%v; DOM:\n%s", err, dom)
			}
			t.Logf("attempt %d: %v; rendering again", attempt, err)
			attempt++
		}
	}
	mon, leader := render("", func(dom string, leader replog.ID, _ uint64) error { return checkSlot(dom, leader) })
	screenshot(t, bin, mon.URL+"/", "status-page.png")

	// Stop the leader: the next one's Phase 1 is on its page.
	c.stop(leader)
	delete(servers, leader)
	for i, v := range []string{"foxtrot", "golf"} {
		slot, err := c.send(replog.ID(9+i%2), v, "")
		if err != nil {
			t.Fatal(err)
		}
		last, sent = slot, sent+1
	}
	mon, _ = render("?election=1", func(dom string, leader replog.ID, ballot uint64) error {
		if err := checkNode(dom, leader); err != nil {
			return err
		}
		if err := checkCharts(dom); err != nil {
			return err
		}
		if got, want := field(dom, "seqtitle"), "election at ballot "+strconv.FormatUint(ballot, 10); got != want {
			return fmt.Errorf("the sequence diagram is of %q, want %q", got, want)
		}
		for _, typ := range []string{"MsgPrepare", "MsgPromise"} {
			if n := strings.Count(dom, `data-type="`+typ+`"`); n < len(c.cfg.Acceptors)-1 {
				return fmt.Errorf("the election diagram has %d %s arrows, want %d or more", n, typ, len(c.cfg.Acceptors)-1)
			}
		}
		if !strings.Contains(dom, `<polygon class="quorum"`) {
			return fmt.Errorf("the election diagram marks no quorum of promises")
		}
		return nil
	})
	screenshot(t, bin, mon.URL+"/?election=1", "status-election.png")
}

// screenshot renders url in headless Chromium to a 1200x1200 PNG called
// name, in $PAXOS_SCREENSHOTS when set (make screenshots: docs/), else in a
// temporary folder, and checks the image.
func screenshot(t *testing.T, bin, url, name string) {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv("PAXOS_SCREENSHOTS"); keep != "" {
		dir = keep
	}
	abs, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	runChromium(t, bin, "--screenshot="+abs, "--window-size=1200,1200", "--hide-scrollbars", url)
	f, err := os.Open(abs)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", abs, err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1200 {
		t.Errorf("screenshot is %dx%d, want 1200x1200", b.Dx(), b.Dy())
	}
	t.Logf("screenshot: %s", abs)
}
