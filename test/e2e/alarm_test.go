package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestE2ELearnerLagAlarm walks the LEARNER_LAG alarm (issue 13) end to end
// on real processes, with MAX_LEARNER_LAG at 500 slots: four log clients
// write and read through both client nodes while learner2 is SIGKILLed;
// once the chosen log is 500 slots ahead of it, a write gets 503 with
// "alarm":"LEARNER_LAG", paxosctl status exits 1 and names the alarm, the
// leader's paxos_alarm gauge is 1, and a linearizable read is answered. learner2
// is started again, catches up, and the alarm clears by itself: writes are
// acknowledged again and paxosctl status exits 0. The whole history
// (acknowledged, refused and open-ended writes, reads) is checked like
// TestE2ELinearizableUnderKills': nothing acknowledged is lost.
func TestE2ELearnerLagAlarm(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test; skipped in -short")
	}
	const maxLag = 500
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond, RequestTimeout: lzRequestTimeout,
		Env: []string{fmt.Sprintf("MAX_LEARNER_LAG=%d", maxLag)}})
	paxosctl(t) // built before the clock matters
	h, stopClients := startRun(t, c)
	defer stopClients()

	time.Sleep(time.Second)
	c.Kill("learner2")
	killed := time.Now()
	t.Logf("%s SIGKILL learner2", h.elapsed())

	// The writes flow until the lag passes the bound; then they are refused.
	probes := 0
	probe := func() (int, []byte) {
		probes++
		name := fmt.Sprintf("probe-%d", probes)
		return probeWrite(h, 100, c.Node("client1"), name, name)
	}
	var refusal struct {
		Error string `json:"error"`
		Alarm string `json:"alarm"`
	}
	eventually(t, 90*time.Second, func() error {
		code, body := probe()
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("a write through client1 answered %d %s, want 503 with LEARNER_LAG", code, body)
		}
		if err := json.Unmarshal(body, &refusal); err != nil || refusal.Alarm != "LEARNER_LAG" {
			return fmt.Errorf("a write through client1 answered 503 %s, want \"alarm\":\"LEARNER_LAG\"", body)
		}
		return nil
	})
	raised := h.now()
	t.Logf("%s writes refused %s after the kill: 503 %q", h.elapsed(), time.Since(killed).Round(time.Millisecond), refusal.Error)

	code, out := c.Paxosctl("status")
	if code != 1 || !strings.Contains(out, "LEARNER_LAG") {
		t.Errorf("paxosctl status during the alarm: exit %d, want 1 and LEARNER_LAG named:\n%s", code, out)
	}
	leader := c.Node(c.Leader(10 * time.Second))
	if v := metric(t, leader, `paxos_alarm{alarm="LEARNER_LAG"`); v != 1 {
		t.Errorf("%s: paxos_alarm{alarm=\"LEARNER_LAG\"} is %v during the alarm, want 1", leader.Name, v)
	}
	if err := probeRead(h, 100, c.Node("client2")); err != nil {
		t.Errorf("a linearizable read through client2 during the alarm: %v; reads should still work", err)
	}
	time.Sleep(time.Second) // the clients keep trying: writes refused, reads answered
	restarted := h.now()
	var readsDuring int
	for _, o := range h.all() {
		if !o.write && o.acked && o.call > raised && o.ret < restarted {
			readsDuring++
		}
	}

	start := time.Now()
	c.Start("learner2")
	c.WaitHealthy(30*time.Second, "learner2")
	t.Logf("%s learner2 started again; %d reads answered during the alarm", h.elapsed(), readsDuring)
	eventually(t, 60*time.Second, func() error {
		if code, body := probe(); code != http.StatusOK {
			return fmt.Errorf("a write through client1 answered %d %s after learner2 came back", code, body)
		}
		return nil
	})
	t.Logf("%s the alarm cleared: writes accepted again %s after learner2's start", h.elapsed(), time.Since(start).Round(time.Millisecond))
	eventually(t, 30*time.Second, func() error {
		if code, out := c.Paxosctl("status"); code != 0 || strings.Contains(out, "LEARNER_LAG") {
			return fmt.Errorf("paxosctl status after the alarm cleared: exit %d, want 0 and no LEARNER_LAG:\n%s", code, out)
		}
		return nil
	})
	healed := h.now()
	time.Sleep(2 * time.Second) // writes on a healed cluster
	stopClients()

	var refused int
	for _, o := range h.all() {
		if o.write && !o.acked && strings.Contains(strings.Join(o.errs, " "), `"alarm":"LEARNER_LAG"`) {
			refused++
		}
	}
	t.Logf("%d writes (of clients and probes) refused with LEARNER_LAG", refused)
	checkRun(t, c, h, healed)
}

// probeWrite sends value once through client (POST /send) with request ID
// "e2e-"+name, records it in h as a write of client id (one that is never
// retried), and returns the answer's status and body; status 0 is a
// transport error.
func probeWrite(h *history, id int, client *Node, name, value string) (int, []byte) {
	o := &op{client: id, write: true, value: value, requestID: "e2e-" + name, call: h.now(), attempts: 1}
	defer h.add(o)
	ctx, cancel := context.WithTimeout(context.Background(), lzRequestTimeout+2*time.Second)
	defer cancel()
	code, body, err := do(ctx, http.MethodPost, client.URL()+"/send", map[string]any{"value": o.value, "request_id": o.requestID})
	var res SendResult
	switch {
	case err != nil:
		o.errs = append(o.errs, err.Error())
	case code != http.StatusOK:
		o.errs = append(o.errs, (&HTTPError{Method: http.MethodPost, URL: client.URL() + "/send", Status: code, Body: string(body)}).Error())
	default:
		if err := json.Unmarshal(body, &res); err != nil {
			o.errs = append(o.errs, errors.Join(errors.New("decoding the answer"), err).Error())
			break
		}
		o.ret, o.acked, o.slot = h.now(), true, res.Slot
	}
	return code, body
}

// probeRead reads the log once through client (GET /read, linearizable),
// records it in h as a read of client id, and returns its error.
func probeRead(h *history, id int, client *Node) error {
	o := &op{client: id, call: h.now(), attempts: 1}
	defer h.add(o)
	ctx, cancel := context.WithTimeout(context.Background(), lzRequestTimeout+2*time.Second)
	defer cancel()
	p, err := read(ctx, client, true)
	if err != nil {
		o.errs = append(o.errs, err.Error())
		return err
	}
	o.ret, o.acked, o.entries = h.now(), true, p.Entries
	return nil
}
