package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// statusAlarms returns the alarms a proposer's /status lists.
func (c *testCluster) statusAlarms(id replog.ID) []alarm {
	c.t.Helper()
	code, body := httpDo(http.MethodGet, c.addr(id)+"/status", "")
	var st struct {
		Alarms []alarm `json:"alarms"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Alarms == nil {
		c.t.Fatalf("/status of node %d: %d %s; want 200 with a list of alarms", id, code, body)
	}
	return st.Alarms
}

// alarmGauge returns the value of paxos_alarm{alarm=name} on node id.
func (c *testCluster) alarmGauge(id replog.ID, name string) string {
	c.t.Helper()
	c.mu.Lock()
	n := c.nodes[id]
	c.mu.Unlock()
	rec := httptest.NewRecorder()
	n.srv.monitorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "paxos_alarm{") && strings.Contains(line, `alarm="`+name+`"`) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	c.t.Fatalf("no paxos_alarm{alarm=%q} in the metrics of node %d", name, id)
	return ""
}

// TestAlarmLearnerLag: with a learner down, the chosen log runs ahead of
// its durable log; past MaxLearnerLag slots the leader raises LEARNER_LAG:
// writes through a client node and at the proposers get 503 with the alarm,
// reads keep working, /status lists it, the gauge is 1. Once the learner is
// back and caught up, the alarm clears by itself and writes are accepted
// again; nothing acknowledged is lost.
func TestAlarmLearnerLag(t *testing.T) {
	const maxLag = 20
	// The alarm is each proposer's own view; the test follows one leader,
	// so a starved machine (-race, parallel packages) must not depose it:
	// elections after 1-2 s of silence instead of 200-400 ms.
	c := newTestClusterWith(t, func(cfg *Config) {
		cfg.MaxLearnerLag = maxLag
		cfg.Core.ElectionTicks = 50
	})
	var acked []string
	send := func(v string) (int, string) {
		body, _ := json.Marshal(map[string]string{"value": v})
		code, resp := httpDo(http.MethodPost, c.addr(9)+"/send", string(body))
		if code == 200 {
			acked = append(acked, v)
		}
		return code, resp
	}
	leader := c.leader() // elected first: elections wait 1-2 s here
	for i := range 5 {
		if code, resp := send(fmt.Sprintf("before-%d", i)); code != 200 {
			t.Fatalf("send before the alarm: %d %s", code, resp)
		}
	}
	if as := c.statusAlarms(leader); len(as) != 0 {
		t.Fatalf("alarms of a healthy cluster: %+v", as)
	}

	c.stop(8) // learner2
	var code int
	var resp string
	for i := 0; ; i++ {
		if code, resp = send(fmt.Sprintf("lagging-%d", i)); code != 200 {
			break
		}
		if i > 3*maxLag {
			t.Fatalf("%d writes acknowledged with learner2 down and MaxLearnerLag %d: no alarm", i+1, maxLag)
		}
	}
	var refused struct {
		Error string `json:"error"`
		Alarm string `json:"alarm"`
	}
	if err := json.Unmarshal([]byte(resp), &refused); code != http.StatusServiceUnavailable || err != nil ||
		refused.Alarm != AlarmLearnerLag || !strings.Contains(refused.Error, "learner") {
		t.Fatalf("send past the lag bound via client1: %d %s; want 503 with alarm %s", code, resp, AlarmLearnerLag)
	}
	for _, p := range c.cfg.Proposers { // the leader, and followers that forward to it
		code, resp := httpDo(http.MethodPost, c.addr(p.ID)+"/propose", `{"value":"refused"}`)
		if code != http.StatusServiceUnavailable || !strings.Contains(resp, `"alarm":"`+AlarmLearnerLag+`"`) {
			t.Fatalf("/propose at %s during the alarm: %d %s", p.Name, code, resp)
		}
	}
	if as := c.statusAlarms(leader); !slices.ContainsFunc(as, func(a alarm) bool { return a.Alarm == AlarmLearnerLag }) {
		t.Fatalf("/status of the leader during the alarm lists %+v", as)
	}
	if g := c.alarmGauge(leader, AlarmLearnerLag); g != "1" {
		t.Fatalf("paxos_alarm{alarm=%q} on the leader = %s, want 1", AlarmLearnerLag, g)
	}
	if g := c.alarmGauge(leader, AlarmNoSpace); g != "0" {
		t.Fatalf("paxos_alarm{alarm=%q} on the leader = %s, want 0", AlarmNoSpace, g)
	}
	if code, resp := httpDo(http.MethodGet, c.addr(9)+"/read", ""); code != 200 {
		t.Fatalf("read during the alarm: %d %s", code, resp)
	}

	// Both learners serve every acknowledged value, in order.
	learnersHaveAcked := func() {
		c.eventually(10*time.Second, func() error {
			for _, l := range []replog.ID{7, 8} {
				entries, _ := c.values(l, "")
				var got []string
				for _, e := range entries {
					got = append(got, e.Value)
				}
				if !slices.Equal(got, acked) {
					return fmt.Errorf("learner %d has %d values, want the %d acknowledged in order", l, len(got), len(acked))
				}
			}
			return nil
		})
	}
	c.start(8)
	c.eventually(20*time.Second, func() error {
		if as := c.statusAlarms(leader); len(as) != 0 {
			return fmt.Errorf("alarms after learner2 came back: %+v", as)
		}
		if g := c.alarmGauge(leader, AlarmLearnerLag); g != "0" {
			return fmt.Errorf("paxos_alarm{alarm=%q} after it cleared = %s, want 0", AlarmLearnerLag, g)
		}
		return nil
	})
	// The alarm clears as soon as learner2 is back within the bound; one
	// write more would raise it again until the leader hears that learner2
	// caught up.
	learnersHaveAcked()
	c.eventually(10*time.Second, func() error {
		c.mu.Lock()
		p := c.nodes[leader].srv.role.(*proposerRole)
		c.mu.Unlock()
		if lag, ok := p.learnerLag(); !ok || lag >= maxLag {
			return fmt.Errorf("the leader sees the slowest learner %d slots behind (known: %v), want fewer than %d", lag, ok, maxLag)
		}
		return nil
	})
	if code, resp := send("after"); code != 200 {
		t.Fatalf("send after the alarm cleared: %d %s", code, resp)
	}
	if g := c.alarmGauge(leader, AlarmLearnerLag); g != "0" {
		t.Fatalf("paxos_alarm{alarm=%q} after it cleared = %s, want 0", AlarmLearnerLag, g)
	}
	learnersHaveAcked()
}

// TestAlarmNoSpace: an acceptor whose data dir runs out of free space
// raises NOSPACE (its /health and the gauge say so, gossip tells the
// others, the leader's /status lists it) while writes go on through the
// other two; when a second acceptor runs out, fewer than a quorum have room
// and writes get 503 with the alarm, reads keep working; once space is
// free the alarms clear by themselves and writes are accepted again.
func TestAlarmNoSpace(t *testing.T) {
	free := map[replog.ID]*atomic.Int64{}
	for _, a := range StandardPeers(RoleAcceptor, "") {
		free[a.ID] = new(atomic.Int64)
		free[a.ID].Store(1 << 40)
	}
	// Every node with patient gossip (joinGossip), the acceptors with the
	// fake statfs, from their first start.
	c := newTestClusterOpts(t, nil, nil, false, func(s *Server) {
		patientGossip(s)
		if a, ok := s.role.(*acceptorRole); ok {
			f := free[s.cfg.ID]
			a.mon.statfs = func(_ string, st *syscall.Statfs_t) error {
				st.Bavail, st.Bsize = uint64(f.Load()), 1
				return nil
			}
		}
	})
	c.joinGossip(4) // acceptors tell their alarms through gossip
	send := func(v string) (int, string) {
		return httpDo(http.MethodPost, c.addr(9)+"/send", `{"value":"`+v+`"}`)
	}
	if code, resp := send("before"); code != 200 {
		t.Fatalf("send: %d %s", code, resp)
	}
	leader := c.leader()
	listed := func(as []alarm, node string) bool {
		return slices.ContainsFunc(as, func(a alarm) bool { return a.Alarm == AlarmNoSpace && a.Node == node })
	}

	free[4].Store(1 << 10)
	c.eventually(10*time.Second, func() error {
		if as := c.statusAlarms(leader); !listed(as, "acceptor1") {
			return fmt.Errorf("the leader lists %+v, want NOSPACE of acceptor1", as)
		}
		return nil
	})
	code, resp := httpDo(http.MethodGet, c.addr(4)+"/health", "")
	if code != 200 || !strings.Contains(resp, `"alarm":"NOSPACE"`) || !strings.Contains(resp, "MIN_FREE_BYTES") {
		t.Fatalf("/health of acceptor1 out of space: %d %s; want 200 listing NOSPACE and why", code, resp)
	}
	if g := c.alarmGauge(4, AlarmNoSpace); g != "1" {
		t.Fatalf("paxos_alarm{alarm=NOSPACE} on acceptor1 = %s, want 1", g)
	}
	if code, resp := send("one-full"); code != 200 {
		t.Fatalf("send with one acceptor of three out of space: %d %s; want 200 (two have room)", code, resp)
	}

	free[5].Store(0)
	c.eventually(10*time.Second, func() error {
		code, resp := send("two-full")
		if code != http.StatusServiceUnavailable || !strings.Contains(resp, `"alarm":"NOSPACE"`) {
			return fmt.Errorf("send with two acceptors of three out of space: %d %s; want 503 NOSPACE", code, resp)
		}
		return nil
	})
	if code, resp := httpDo(http.MethodGet, c.addr(9)+"/read", ""); code != 200 {
		t.Fatalf("read during NOSPACE: %d %s", code, resp)
	}

	free[4].Store(1 << 40)
	free[5].Store(1 << 40)
	// Each proposer refuses writes from its own gossip view, and the
	// leader may have changed since it was looked up: wait until no
	// proposer lists an alarm, not only the first leader.
	c.eventually(10*time.Second, func() error {
		for _, p := range c.cfg.Proposers {
			if as := c.statusAlarms(p.ID); len(as) != 0 {
				return fmt.Errorf("alarms proposer %d lists after space was freed: %+v", p.ID, as)
			}
		}
		return nil
	})
	if code, resp := send("after"); code != 200 {
		t.Fatalf("send after the alarms cleared: %d %s", code, resp)
	}
	if g := c.alarmGauge(4, AlarmNoSpace); g != "0" {
		t.Fatalf("paxos_alarm{alarm=NOSPACE} on acceptor1 after it cleared = %s, want 0", g)
	}
}

// TestAcceptorDiskFullIsNotForever: a save of acceptor1 fails because its
// disk is full (injected: storage.ErrDiskFull, as ENOSPC makes it). It
// stops taking part, sends no reply for what it did not persist, and says
// why (/health 503, NOSPACE); the other two carry the writes. Once its disk
// takes a write again it rebuilds its state from storage and serves again
// by itself, without a restart: with acceptor2 stopped, writes need it.
func TestAcceptorDiskFullIsNotForever(t *testing.T) {
	c := newTestCluster(t)
	var full atomic.Bool
	var served atomic.Int64 // accepted replies acceptor1 sent
	c.prepare = func(s *Server) {
		if s.cfg.ID != 4 {
			return
		}
		save, send := s.drv.save, s.drv.send
		s.drv.save = func(rd *replog.Ready) error {
			if full.Load() && (len(rd.Accepted) > 0 || rd.HardState.Promised != 0) {
				return fmt.Errorf("storage: commit acceptor.db.wal: %w: %w", storage.ErrDiskFull, syscall.ENOSPC)
			}
			return save(rd)
		}
		s.drv.send = func(msgs []replog.Message) {
			for _, m := range msgs {
				if m.Type == replog.MsgAccepted || m.Type == replog.MsgPromise {
					served.Add(1)
				}
			}
			send(msgs)
		}
		s.role.(*acceptorRole).probe = func() error {
			if full.Load() {
				return syscall.ENOSPC
			}
			return nil
		}
	}
	c.stop(4)
	c.start(4)
	c.waitHealthy()
	send := func(v string) {
		t.Helper()
		start := time.Now()
		if _, err := c.send(9, v, ""); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("send %q took %s", v, d)
		}
	}
	send("before")

	full.Store(true)
	var acked []string
	for i := range 20 {
		v := fmt.Sprintf("full-%d", i)
		send(v)
		acked = append(acked, v)
	}
	c.eventually(5*time.Second, func() error {
		code, body := httpDo(http.MethodGet, c.addr(4)+"/health", "")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") || !strings.Contains(body, `"alarm":"NOSPACE"`) {
			return fmt.Errorf("/health of acceptor1 with a full disk: %d %s; want 503, disk full, NOSPACE", code, body)
		}
		return nil
	})
	before := served.Load()
	send("while-out")
	time.Sleep(200 * time.Millisecond)
	if n := served.Load(); n != before {
		t.Fatalf("acceptor1 sent %d promises or accepted replies while its disk was full", n-before)
	}

	full.Store(false)
	c.eventually(10*time.Second, func() error {
		if code, body := httpDo(http.MethodGet, c.addr(4)+"/health", ""); code != 200 || strings.Contains(body, "NOSPACE") {
			return fmt.Errorf("/health of acceptor1 after space was freed: %d %s", code, body)
		}
		return nil
	})
	c.stop(5) // from now on no quorum without acceptor1
	send("after")
	if served.Load() == before {
		t.Fatal("a write was chosen with acceptor2 down, but acceptor1 sent no accepted reply")
	}
	c.eventually(10*time.Second, func() error {
		entries, _ := c.values(7, "")
		got := map[string]bool{}
		for _, e := range entries {
			got[e.Value] = true
		}
		for _, v := range append(acked, "before", "while-out", "after") {
			if !got[v] {
				return fmt.Errorf("learner1 lacks the acknowledged value %q", v)
			}
		}
		return nil
	})
}
