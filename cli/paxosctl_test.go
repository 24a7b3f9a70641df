package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
)

func TestSendFormats(t *testing.T) {
	f := newFakeCluster(t)
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints(), "send", "hello", "world")
	if code != 0 || out != "0\thello\n1\tworld\n" {
		t.Fatalf("send: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, _, code = ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json", "send", "x")
	var got sent
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Slot != 2 || got.Value != "x" ||
		!strings.HasPrefix(got.RequestID, "ctl-") {
		t.Fatalf("send -w json: code %d, stdout %q", code, out)
	}

	out, _, code = ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "table", "send", "--request-id", "r-1", "y")
	want := "+------+-------+------------+\n" +
		"| SLOT | VALUE | REQUEST-ID |\n" +
		"+------+-------+------------+\n" +
		"|    3 | y     | r-1        |\n" +
		"+------+-------+------------+\n"
	if code != 0 || out != want {
		t.Fatalf("send -w table: code %d, stdout\n%s\nwant\n%s", code, out, want)
	}

	// The same request ID again is the same command: the first copy's slot.
	out, _, code = ctlRun(t, "", "--endpoints", f.endpoints(), "send", "--request-id", "r-1", "y")
	if code != 0 || out != "3\ty\n" {
		t.Fatalf("send a retried request ID: code %d, stdout %q", code, out)
	}
}

func TestSendStdin(t *testing.T) {
	f := newFakeCluster(t)
	out, errOut, code := ctlRun(t, "a\nb c\r\n", "--endpoints", f.endpoints(), "send", "-")
	if code != 0 || out != "0\ta\n1\tb c\n" {
		t.Fatalf("send -: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = ctlRun(t, "a\n\nb\n", "--endpoints", f.endpoints(), "send", "-")
	if code != exitBadInput || !strings.Contains(errOut, "stdin line 2: empty value") {
		t.Fatalf("send - with an empty line: code %d, stderr %q", code, errOut)
	}
}

// TestSendRetryKeepsRequestID: client1 times out (after the value went in),
// the retry goes to client2 with the same request ID, and the log holds the
// value once.
func TestSendRetryKeepsRequestID(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.failSend["client1"] = 1 })
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json", "send", "v")
	if code != 0 {
		t.Fatalf("send: code %d, stderr %q", code, errOut)
	}
	var got sent
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var calls []string
	var log []logEntry
	f.do(func() { calls, log = f.sendCalls, f.log })
	want := []string{"client1 " + got.RequestID, "client2 " + got.RequestID}
	if len(calls) != 2 || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("send calls %v, want %v (a failure and a retry)", calls, want)
	}
	if len(log) != 1 || got.Slot != 0 {
		t.Fatalf("log %v, slot %d: want the value once, at slot 0", log, got.Slot)
	}

	// With a single client node, the retry goes to the same node, with the
	// same request ID, after a pause.
	f.do(func() { f.failSend["client1"], f.sendCalls = 2, nil })
	out, errOut, code = ctlRun(t, "", "--endpoints", f.endpoints("client1"), "send", "w")
	if code != 0 || out != "1\tw\n" {
		t.Fatalf("send: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	// client1 fails twice: the second round adds client2, found through
	// gossip; every attempt carries the same request ID.
	f.do(func() { calls = f.sendCalls })
	if len(calls) != 3 || calls[0] != calls[1] || !strings.HasPrefix(calls[0], "client1 ") ||
		strings.TrimPrefix(calls[2], "client2 ") != strings.TrimPrefix(calls[0], "client1 ") {
		t.Fatalf("send calls %v: want client1 twice, then client2, with one request ID", calls)
	}
}

func TestSendFailsWithRequestID(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.failSend["client1"], f.failSend["client2"] = 100, 100 })
	_, errOut, code := ctlRun(t, "", "--timeout", "1s", "--endpoints", f.endpoints("client1", "client2"),
		"send", "--request-id", "k-9", "v")
	if code != exitError || !strings.Contains(errOut, "retrying with --request-id k-9 is safe") ||
		strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "paxosctl: send \"v\": ") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	f.do(func() {
		if len(f.log) != 1 {
			t.Errorf("log %v: want the value once", f.log)
		}
	})
}

func TestSendFindsClientsThroughGossip(t *testing.T) {
	f := newFakeCluster(t)
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints("learner1"), "send", "g")
	if code != 0 || out != "0\tg\n" {
		t.Fatalf("send via a learner endpoint: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestSendToken(t *testing.T) {
	f := newFakeCluster(t)
	if _, _, code := ctlRun(t, "", "--endpoints", f.endpoints(), "--secret", "s", "--token", "tk", "send", "a"); code != 0 {
		t.Fatal("send failed")
	}
	f.do(func() {
		if f.auth[len(f.auth)-1] != "Bearer tk" {
			t.Errorf("Authorization %q, want the client token", f.auth[len(f.auth)-1])
		}
	})
}

func TestBadInput(t *testing.T) {
	f := newFakeCluster(t)
	eps := f.endpoints()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", ""}, "paxosctl: send: value 1: empty value"},
		{[]string{"send", "a", ""}, "paxosctl: send: value 2: empty value"},
		{[]string{"send"}, "paxosctl: send: no value given"},
		{[]string{"send", "--request-id", "x", "a", "b"}, "--request-id takes a single VALUE"},
		{[]string{"-w", "xml", "read"}, `paxosctl: --write-out "xml": want simple, json or table`},
		{[]string{"--timeout", "0s", "read"}, "--timeout 0s: must be positive"},
		{[]string{"read", "-w", "xml"}, `paxosctl: --write-out "xml": want simple, json or table`},
		{[]string{"read", "--timeout=0s"}, "--timeout 0s: must be positive"},
		{[]string{"read", "-w"}, "flag needs an argument: -w"},
		{[]string{"read", "--consistency", "strong"}, `--consistency "strong"`},
		{[]string{"read", "--bogus"}, "flag provided but not defined"},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"leader", "proposer1"}, "a PROPOSER goes with --elect"},
		{[]string{"leader", "--elect", "proposer9"}, `--elect "proposer9": no such proposer`},
		{[]string{"bench", "--total", "5", "--duration", "1s"}, "give one of them"},
		{[]string{"bench", "--clients", "0"}, "--clients 0"},
		{[]string{"bench", "--target", "acceptor"}, `--target "acceptor"`},
		{[]string{"watch", "--role", "boss"}, `--role "boss"`},
	} {
		_, errOut, code := ctlRun(t, "", append([]string{"--endpoints", eps}, tc.args...)...)
		if code != exitBadInput || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want 3 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, errOut, code := ctlRun(t, "", "--endpoints", "nonsense", "read"); code != exitBadInput {
		t.Errorf("--endpoints nonsense: code %d, stderr %q", code, errOut)
	}
	f.do(func() {
		if len(f.log) != 0 {
			t.Errorf("bad input reached the cluster: %v", f.log)
		}
	})
}

func TestUnreachable(t *testing.T) {
	noStandardPorts(t)
	eps := closedAddr(t) + "," + closedAddr(t)
	for _, args := range [][]string{
		{"send", "x"},
		{"read"},
		{"leader"},
		{"status"},
		{"bench", "--total", "3", "--target", "proposer"},
		{"watch", "--count", "1"},
	} {
		_, errOut, code := ctlRun(t, "", append([]string{"--timeout", "2s", "--endpoints", eps}, args...)...)
		if code != exitUnreachable || !strings.Contains(errOut, "no endpoint answered") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want 2, no endpoint answered", args, code, errOut)
		}
	}
}

func TestRead(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() {
		f.add("a", "r0")
		f.add("b\tc", "r1")
		f.add("d", "r2")
	})
	eps := f.endpoints()

	out, _, code := ctlRun(t, "", "--endpoints", eps, "read")
	if code != 0 || out != "0\ta\n1\tb\\tc\n2\td\n" {
		t.Fatalf("read: code %d, stdout %q", code, out)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "read", "--from", "1", "--limit", "1")
	if code != 0 || out != "1\tb\\tc\n" {
		t.Fatalf("read --from 1 --limit 1: code %d, stdout %q", code, out)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "table", "read", "--from", "2")
	want := "+------+-------+------------+\n" +
		"| SLOT | VALUE | REQUEST-ID |\n" +
		"+------+-------+------------+\n" +
		"|    2 | d     | r2         |\n" +
		"+------+-------+------------+\n"
	if code != 0 || out != want {
		t.Fatalf("read -w table: code %d, stdout\n%s", code, out)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "json", "read", "--consistency", "linearizable")
	var page readJSON
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || page.Count != 3 || page.Entries[1].Value != "b\tc" ||
		page.NextFrom != 3 || page.ChosenSlot == nil || *page.ChosenSlot != 2 || page.Consistency != "linearizable" {
		t.Fatalf("read -w json: code %d, stdout %q", code, out)
	}

	// Failover: the client nodes are down, the learners serve the log.
	f.stop("client1", "client2")
	out, errOut, code := ctlRun(t, "", "--endpoints", eps, "read")
	if code != 0 || out != "0\ta\n1\tb\\tc\n2\td\n" {
		t.Fatalf("read with the clients down: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	// An empty log prints nothing (json: no entries).
	g := newFakeCluster(t)
	out, _, code = ctlRun(t, "", "--endpoints", g.endpoints(), "-w", "json", "read")
	if code != 0 || !strings.Contains(out, `"entries":[]`) || !strings.Contains(out, `"chosen_slot":-1`) {
		t.Fatalf("read an empty log: code %d, stdout %q", code, out)
	}
}

// TestReadFollowsShortPages: a node answers pages shorter than asked (a
// learner bounds a page in bytes too, issue 13); read follows next_from and
// prints every entry, and --limit still counts entries, not pages.
func TestReadFollowsShortPages(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() {
		f.pageMax = 2
		for i := range 5 {
			f.add("v"+strconv.Itoa(i), "r"+strconv.Itoa(i))
		}
	})
	eps := f.endpoints()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"read"}, "0\tv0\n1\tv1\n2\tv2\n3\tv3\n4\tv4\n"},
		{[]string{"read", "--from", "1", "--limit", "3"}, "1\tv1\n2\tv2\n3\tv3\n"},
	} {
		if out, _, code := ctlRun(t, "", append([]string{"--endpoints", eps}, tt.args...)...); code != 0 || out != tt.want {
			t.Errorf("%v in pages of 2: code %d, stdout %q, want %q", tt.args, code, out, tt.want)
		}
	}
	out, _, code := ctlRun(t, "", "--endpoints", eps, "-w", "json", "read")
	var page readJSON
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || page.Count != 5 || page.NextFrom != 5 {
		t.Fatalf("read -w json in pages of 2: code %d, stdout %q", code, out)
	}
}

func TestReadFollow(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.add("a", "r0") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type res struct {
		out, err string
		code     int
	}
	done := make(chan res, 1)
	var out syncBuffer
	go func() {
		var errw syncBuffer
		code := RunPaxosctl(ctx, []string{"paxosctl", "--endpoints", f.endpoints(), "read", "--follow"},
			strings.NewReader(""), &out, &errw)
		done <- res{out.String(), errw.String(), code}
	}()
	waitFor(t, "the first entry", func() bool { return out.String() == "0\ta\n" })
	f.do(func() {
		f.add("b", "r1")
		f.add("c", "r2")
	})
	waitFor(t, "new entries", func() bool { return out.String() == "0\ta\n1\tb\n2\tc\n" })
	cancel() // Ctrl-C
	select {
	case r := <-done:
		if r.code != 0 || r.err != "" {
			t.Fatalf("read --follow after Ctrl-C: code %d, stderr %q", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read --follow did not stop on cancel")
	}

	// --limit ends --follow; json prints one entry per line.
	got, _, code := ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json", "read", "--follow", "--from", "1", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"slot":1`) || !strings.Contains(lines[1], `"value":"c"`) {
		t.Fatalf("read --follow --limit 2 -w json: code %d, stdout %q", code, got)
	}
}

func TestLeader(t *testing.T) {
	f := newFakeCluster(t)
	eps := f.endpoints()
	p1 := f.node("proposer1").addr()

	out, _, code := ctlRun(t, "", "--endpoints", eps, "leader")
	want := regexp.MustCompile(`^NAME\s+ID\s+ADDRESS\s+BALLOT\s+CHOSEN\nproposer1\s+1\s+` + regexp.QuoteMeta(p1) + `\s+101\s+-1\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Fatalf("leader: code %d, stdout %q", code, out)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "json", "leader")
	var l leaderJSON
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Name != "proposer1" || l.ID != 1 || l.Address != p1 ||
		l.Ballot != 101 || l.Proposers != 3 {
		t.Fatalf("leader -w json: code %d, stdout %q", code, out)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "table", "leader")
	if code != 0 || !strings.Contains(out, "| proposer1 |  1 | "+p1+" |    101 |     -1 |") {
		t.Fatalf("leader -w table: code %d, stdout\n%s", code, out)
	}

	// --elect proposer3: the election raises the ballot; the winner is printed.
	f.do(func() { f.electTo = 3 })
	out, errOut, code := ctlRun(t, "", "--endpoints", eps, "-w", "json", "leader", "--elect", "proposer3")
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Name != "proposer3" || l.Ballot != 203 {
		t.Fatalf("leader --elect: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	// No leader: exit 1.
	f.do(func() { f.leader = 0 })
	_, errOut, code = ctlRun(t, "", "--endpoints", eps, "leader")
	if code != exitError || !strings.Contains(errOut, "paxosctl: leader: no leader elected (3 of 3 proposers answered)") {
		t.Fatalf("leader without one: code %d, stderr %q", code, errOut)
	}
}

// TestLeaderElectCredential: leader --elect sends the cluster secret (or
// the client token, when given) that a proposer wants for a forced
// election; refused, it says which flag to set.
func TestLeaderElectCredential(t *testing.T) {
	f := newFakeCluster(t)
	eps := f.endpoints()
	f.do(func() { f.electTo, f.electBearer = 3, "Bearer s3cret" })
	_, errOut, code := ctlRun(t, "", "--endpoints", eps, "leader", "--elect", "proposer3")
	if code != exitError || !strings.Contains(errOut, "answered 401") || !strings.Contains(errOut, "set --token or CLIENT_TOKEN, or --secret or CLUSTER_SECRET") ||
		strings.Count(errOut, "\n") != 1 {
		t.Fatalf("leader --elect without the secret: code %d, stderr %q", code, errOut)
	}
	out, errOut, code := ctlRun(t, "", "--endpoints", eps, "--secret", "s3cret", "-w", "json", "leader", "--elect", "proposer3")
	var l leaderJSON
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Name != "proposer3" {
		t.Fatalf("leader --elect with the secret: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.do(func() { f.electTo, f.electBearer = 2, "Bearer t0k" })
	if _, errOut, code := ctlRun(t, "", "--endpoints", eps, "--secret", "s3cret", "--token", "t0k", "leader", "--elect"); code != 0 {
		t.Fatalf("leader --elect with a client token: code %d, stderr %q", code, errOut)
	}
}

// TestStatusAlarms: status lists the active alarms once per alarm and
// node, with the reason the raising node gives (not the gossip echo other
// nodes list), and exits 1 naming them.
func TestStatusAlarms(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() {
		f.add("a", "r0")
		lag := api.Alarm{Alarm: "LEARNER_LAG", Node: "proposer1", Reason: "the slowest learner is 12 slots behind"}
		full := api.Alarm{Alarm: "NOSPACE", Node: "acceptor1", Reason: "data dir has 1024 bytes free"}
		echo := api.Alarm{Alarm: "NOSPACE", Node: "acceptor1", Reason: "reported by acceptor1 (gossip)"}
		f.node("proposer1").alarms = []api.Alarm{lag, echo}
		f.node("proposer2").alarms = []api.Alarm{echo}
		f.node("acceptor1").alarms = []api.Alarm{full}
	})
	eps := f.endpoints()
	out, errOut, code := ctlRun(t, "", "--endpoints", eps, "status")
	if code != exitError || !strings.Contains(out, "alarms: LEARNER_LAG (proposer1), NOSPACE (acceptor1)") ||
		!strings.Contains(errOut, "alarm LEARNER_LAG on proposer1: the slowest learner is 12 slots behind") ||
		!strings.Contains(errOut, "alarm NOSPACE on acceptor1: data dir has 1024 bytes free") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("status with alarms: code %d, stdout\n%s\nstderr %q", code, out, errOut)
	}
	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "json", "status")
	var st struct {
		Alarms      []api.Alarm `json:"alarms"`
		CanProgress bool        `json:"can_progress"`
	}
	if code != exitError || json.Unmarshal([]byte(out), &st) != nil || len(st.Alarms) != 2 || !st.CanProgress ||
		st.Alarms[1].Reason != "data dir has 1024 bytes free" {
		t.Fatalf("status -w json with alarms: code %d, stdout %s", code, out)
	}
	f.do(func() {
		for _, n := range f.nodes {
			n.alarms = nil
		}
	})
	if out, errOut, code := ctlRun(t, "", "--endpoints", eps, "status"); code != 0 || strings.Contains(out, "alarms") {
		t.Fatalf("status after the alarms cleared: code %d, stdout\n%s\nstderr %q", code, out, errOut)
	}
}

func TestStatus(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.add("a", "r0") })
	eps := f.endpoints()
	out, errOut, code := ctlRun(t, "", "--endpoints", eps, "status")
	if code != 0 {
		t.Fatalf("status: code %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 13 || !regexp.MustCompile(`^NAME\s+ROLE\s+ADDRESS\s+HEALTH\s+LEADER\s+BALLOT\s+CHOSEN\s+DB-SIZE\s+ERRORS$`).MatchString(lines[0]) {
		t.Fatalf("status: stdout\n%s", out)
	}
	for _, re := range []string{
		`^proposer1\s+proposer\s+\S+\s+healthy\s+proposer1\s+101\s+0\s+-\s+1$`,
		`^acceptor2\s+acceptor\s+\S+\s+healthy\s+-\s+101\s+0\s+32 KiB\s+-$`,
		`^learner1\s+learner\s+\S+\s+healthy\s+-\s+-\s+0\s+64 KiB\s+-$`,
		`^client2\s+client\s+\S+\s+healthy\s+proposer1\s+-\s+-\s+-\s+0$`,
	} {
		if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
			t.Errorf("status: no line like %s in\n%s", re, out)
		}
	}
	if want := "leader: proposer1 (id 1, ballot 101); quorum of acceptors up: yes (3/3, need 2); learners in sync: yes (chosen slot 0)"; lines[12] != want {
		t.Errorf("summary %q, want %q", lines[12], want)
	}

	out, _, code = ctlRun(t, "", "--endpoints", eps, "-w", "table", "status")
	if code != 0 || !strings.Contains(out, "| NAME      | ROLE     |") || !strings.Contains(out, "learners in sync: yes") {
		t.Fatalf("status -w table: code %d, stdout\n%s", code, out)
	}

	// Two acceptors down and a learner unhealthy: no quorum, exit 1.
	f.stop("acceptor1", "acceptor3")
	f.do(func() { f.node("learner2").unhealthy = "storage: disk full" })
	out, errOut, code = ctlRun(t, "", "--endpoints", eps, "-w", "json", "status")
	if code != exitError || !strings.Contains(errOut, "paxosctl: status: the cluster cannot make progress: no quorum of acceptors (1 of 3 up, need 2)") {
		t.Fatalf("status without quorum: code %d, stderr %q", code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -w json: %v in %q", err, out)
	}
	if st.QuorumOK || st.CanProgress || st.LearnersInSync || st.AcceptorsUp != 1 || st.Quorum != 2 || len(st.Nodes) != 10 ||
		st.Leader == nil || st.Leader.Name != "proposer1" {
		t.Fatalf("status -w json: %+v", st)
	}
	for _, n := range st.Nodes {
		switch n.Name {
		case "acceptor1":
			if n.Health != healthDown || !strings.Contains(n.Error, "refused") {
				t.Errorf("acceptor1: %+v", n)
			}
		case "learner2":
			if n.Health != healthUnhealthy || n.Error != "storage: disk full" {
				t.Errorf("learner2: %+v", n)
			}
		}
	}

	// Every learner down: exit 1 too.
	g := newFakeCluster(t)
	g.stop("learner1", "learner2")
	_, errOut, code = ctlRun(t, "", "--endpoints", g.endpoints("client1"), "status")
	if code != exitError || !strings.Contains(errOut, "every learner is down") {
		t.Fatalf("status without learners: code %d, stderr %q", code, errOut)
	}
}

func TestWatch(t *testing.T) {
	f := newFakeCluster(t)
	f.do(func() { f.add("hello", "r0") })
	out, errOut, code := ctlRun(t, "", "--endpoints", f.endpoints(), "watch", "--count", "2", "--interval", "10ms", "--role", "proposer")
	if code != 0 {
		t.Fatalf("watch: code %d, stderr %q", code, errOut)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("watch to a pipe wrote ANSI codes: %q", out)
	}
	if n := strings.Count(out, "paxosctl watch  "); n != 2 {
		t.Errorf("watch --count 2: %d blocks in\n%s", n, out)
	}
	for _, want := range []string{"leader: proposer1 (id 1, ballot 101)", "COUNTERS", "proposed=5 chosen=5 failed=1",
		"last chosen (learner1):", "hello", "roles: proposer"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch: no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "acceptor1") {
		t.Errorf("watch --role proposer shows acceptors:\n%s", out)
	}
	if !regexp.MustCompile(`paxosctl watch  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  every 10ms`).MatchString(out) {
		t.Errorf("watch: no timestamp in\n%s", out)
	}

	out, _, code = ctlRun(t, "", "--endpoints", f.endpoints(), "-w", "json", "watch", "--count", "1")
	var w watchJSON
	if code != 0 || json.Unmarshal([]byte(out), &w) != nil || len(w.Nodes) != 10 || w.Leader == nil || len(w.Recent) != 1 {
		t.Fatalf("watch -w json: code %d, stdout %q", code, out)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	out, _, code := ctlRun(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "paxosctl version "+Version) {
		t.Fatalf("version: code %d, stdout %q", code, out)
	}
	out, _, code = ctlRun(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "complete -o bashdefault -o default -F _paxosctl_complete paxosctl") {
		t.Fatalf("completion bash: code %d", code)
	}
	// urfave/cli's completion reads os.Args, not the arguments of Run.
	args := os.Args
	os.Args = []string{"paxosctl", "--generate-bash-completion"}
	out, _, code = ctlRun(t, "", os.Args[1:]...)
	os.Args = args
	for _, cmd := range []string{"send", "read", "leader", "status", "watch", "bench", "version"} {
		if code != 0 || !strings.Contains(out, cmd+"\n") {
			t.Fatalf("bash completion: code %d, no %s in %q", code, cmd, out)
		}
	}
}

// TestHelp: every command has a description with examples.
func TestHelp(t *testing.T) {
	app := PaxosctlApp()
	for _, cmd := range app.Commands {
		if cmd.Usage == "" || cmd.UsageText == "" || !strings.Contains(cmd.Description, "Examples:") {
			t.Errorf("%s: usage, usage text or examples missing", cmd.Name)
		}
		out, _, code := ctlRun(t, "", cmd.Name, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: code %d, stdout %q", cmd.Name, code, out)
		}
	}
}

// standardIsFake makes f the cluster at the standard ports: where a silent
// fallback from the named endpoints would go.
func standardIsFake(t *testing.T, f *fakeCluster) {
	t.Helper()
	old := standardNodes
	var nodes []ctlNode
	for _, n := range f.nodes {
		nodes = append(nodes, ctlNode{ID: n.id, Name: n.name, Role: n.role, Addr: n.addr()})
	}
	standardNodes = func(string) []ctlNode { return nodes }
	t.Cleanup(func() { standardNodes = old })
}

// TestEndpointsHonouredExactly: endpoints the user names (--endpoints or
// PAXOSCTL_ENDPOINTS) are the only nodes asked. Named endpoints that do not
// answer, while a cluster answers at the standard ports of their host, make
// every command exit 2 with the endpoint it tried, and nothing reaches that
// cluster (issue 11 "Also", SPEC §9). With no endpoint named, the standard
// ports stay the fallback.
func TestEndpointsHonouredExactly(t *testing.T) {
	f := newFakeCluster(t)
	standardIsFake(t, f)
	closed := closedAddr(t)
	for _, args := range [][]string{
		{"send", "x"},
		{"read"},
		{"leader"},
		{"leader", "--elect"},
		{"status"},
		{"bench", "--total", "3"},
		{"bench", "--total", "3", "--target", "proposer"},
		{"watch", "--count", "1"},
	} {
		for _, env := range []bool{false, true} {
			clearCtlEnv(t)
			argv := append([]string{"paxosctl", "--timeout", "2s"}, args...)
			if env {
				t.Setenv("PAXOSCTL_ENDPOINTS", closed)
			} else {
				argv = append([]string{"paxosctl", "--endpoints", "http://" + closed, "--timeout", "2s"}, args...)
			}
			var out, errw syncBuffer
			code := RunPaxosctl(context.Background(), argv, strings.NewReader(""), &out, &errw)
			errOut := errw.String()
			if code != exitUnreachable || !strings.Contains(errOut, "no endpoint answered") || !strings.Contains(errOut, closed) ||
				strings.Count(errOut, "\n") != 1 {
				t.Errorf("%v (endpoint from the environment: %v): code %d, stdout %q, stderr %q; want 2, no endpoint answered, %s",
					args, env, code, out.String(), errOut, closed)
			}
		}
	}
	f.do(func() {
		if len(f.log) != 0 || len(f.sendCalls) != 0 || len(f.proposeCalls) != 0 || f.leader != 1 || len(f.auth) != 0 {
			t.Errorf("the cluster at the standard ports was reached: log %v, sends %v, proposes %v, leader %d, POSTs %d",
				f.log, f.sendCalls, f.proposeCalls, f.leader, len(f.auth))
		}
	})

	// Discovery itself: named endpoints stay exactly those; paxosctl's
	// default ones fall back to the standard ports.
	for _, named := range []bool{true, false} {
		c := newCtlClient([]string{closed}, 2*time.Second, "", "", 1)
		c.named = named
		topo := c.discover(context.Background())
		switch {
		case named && (topo.Err == nil || !strings.Contains(topo.Err.Error(), closed) || len(topo.Nodes) != 1 || topo.Nodes[0].Addr != closed):
			t.Errorf("named endpoint: err %v, nodes %+v; want only %s and an error naming it", topo.Err, topo.Nodes, closed)
		case !named && (topo.Err != nil || len(topo.role("proposer")) != 3 || !strings.HasPrefix(topo.Source, "standard topology")):
			t.Errorf("default endpoints: err %v, source %q, nodes %+v; want the standard topology", topo.Err, topo.Source, topo.Nodes)
		}
	}
}

// TestSecretFile: --secret-file/CLUSTER_SECRET_FILE gives paxosctl the
// cluster secret as it gives paxosd (a Docker or Kubernetes secret mounted
// as a file); given with --secret, missing or empty, it is bad input.
func TestSecretFile(t *testing.T) {
	f := newFakeCluster(t)
	eps := f.endpoints()
	f.do(func() { f.electTo, f.electBearer = 3, "Bearer s3cret" })
	dir := t.TempDir()
	file, empty := filepath.Join(dir, "secret"), filepath.Join(dir, "empty")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := ctlRun(t, "", "--endpoints", eps, "--secret-file", file, "leader", "--elect", "proposer3"); code != 0 {
		t.Fatalf("leader --elect --secret-file: code %d, stderr %q", code, errOut)
	}
	t.Setenv("CLUSTER_SECRET_FILE", file)
	if _, errOut, code := ctlRun(t, "", "--endpoints", eps, "leader", "--elect", "proposer3"); code != 0 {
		t.Fatalf("leader --elect with CLUSTER_SECRET_FILE: code %d, stderr %q", code, errOut)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret", "s3cret"}, "both set"},
		{[]string{"--secret-file", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--secret-file", empty}, "is empty"},
	} {
		args := append(append([]string{"--endpoints", eps}, bad.args...), "leader", "--elect", "proposer3")
		if _, errOut, code := ctlRun(t, "", args...); code != exitBadInput || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: code %d, stderr %q, want exit %d and %q", bad.args, code, errOut, exitBadInput, bad.want)
		}
	}
}
