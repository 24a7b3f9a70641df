package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

// TestClusterBatchedSends sends concurrently through both client nodes,
// which batch their proposals: every send is acknowledged with its own
// slot, the copies of a request ID (sent at the same time, through either
// client node) get the first copy's slot, and the log holds each request
// once. A batch at a follower is refused with 409 and the leader's ID; at
// the leader it is chosen in order.
func TestClusterBatchedSends(t *testing.T) {
	c := newTestCluster(t)

	const n, dups = 60, 3
	slots := make([][dups]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n*dups)
	for i := range n {
		for d := range dups {
			wg.Go(func() {
				client := replog.ID(9 + (i+d)%2)
				s, err := c.send(client, fmt.Sprintf("batched-%d", i), fmt.Sprintf("bs-%d", i))
				if err != nil {
					errs <- err
				}
				slots[i][d] = s
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	for i, s := range slots {
		if s[0] != s[1] || s[0] != s[2] {
			t.Errorf("request bs-%d: copies answered with slots %v, want one slot", i, s)
		}
		if j, ok := seen[s[0]]; ok {
			t.Errorf("requests bs-%d and bs-%d both answered with slot %d", j, i, s[0])
		}
		seen[s[0]] = i
	}
	c.eventually(5e9, func() error {
		entries, _ := c.values(7, "")
		count := map[string]int{}
		for _, e := range entries {
			count[e.RequestID]++
		}
		for i := range n {
			if id := fmt.Sprintf("bs-%d", i); count[id] != 1 {
				return fmt.Errorf("request %s appears %d times in the log", id, count[id])
			}
		}
		return nil
	})

	body := `{"commands":[{"value":"b1","request_id":"bd-1"},{"value":"b2","request_id":"bd-2"},{"value":"b1 again","request_id":"bd-1"}]}`
	// On a starved machine the leader may change meanwhile: both batches go
	// to the roles of the moment, again if the leader moved (the request
	// IDs keep a batch the old leader placed at its slots).
	var out api.BatchResponse
	c.eventually(20*time.Second, func() error {
		leader := c.leader()
		follower := replog.ID(1)
		if leader == 1 {
			follower = 2
		}
		code, resp := httpDo(http.MethodPost, c.addr(follower)+batchPath, body)
		var refused struct {
			Error         string `json:"error"`
			CurrentLeader int    `json:"current_leader"`
		}
		if code != http.StatusConflict || json.Unmarshal([]byte(resp), &refused) != nil || refused.CurrentLeader != int(leader) {
			return fmt.Errorf("batch at follower %d: %d %s, want 409 naming leader %d", follower, code, resp, leader)
		}
		code, resp = httpDo(http.MethodPost, c.addr(leader)+batchPath, body)
		if code != http.StatusOK || json.Unmarshal([]byte(resp), &out) != nil || len(out.Results) != 3 {
			return fmt.Errorf("batch at the leader %d: %d %s", leader, code, resp)
		}
		for _, r := range out.Results {
			if r.Error != "" { // deposed while it proposed them
				return fmt.Errorf("batch at the leader %d: %+v", leader, out.Results)
			}
		}
		return nil
	})
	r := out.Results
	if r[1].Slot <= r[0].Slot || r[2].Slot != r[0].Slot {
		t.Errorf("batch at the leader: %+v, want slots in order and the repeated request ID at its first slot", r)
	}
}
