//go:build drill

package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paxos-go/paxos/internal/logmodel"
)

// opKind tells writes from reads in the history.
type opKind int

const (
	opWrite opKind = iota
	opReadLinearizable
	opReadSerializable
)

// attempt is one HTTP request of a write: a write is retried with the same
// request ID until it is acknowledged or given up.
type attempt struct {
	Node   string
	Start  time.Time
	End    time.Time
	Status int // 0: no HTTP answer
	Err    string
}

// op is one client operation of the history.
type op struct {
	Kind     opKind
	Client   int // the goroutine that ran it
	Value    string
	ReqID    string
	Call     time.Time
	Return   time.Time // last answer (ack or give up)
	Acked    bool      // write: a 200 with a slot
	Slot     uint64
	Attempts []attempt
	// Reads: a digest of the entries seen (not the entries: a history
	// holds thousands of reads of logs of thousands of values) and the
	// learner's chosen slot.
	Seen   logmodel.Digest
	Chosen int64
}

// workload runs writers and readers against the cluster and records every
// operation. Writes go to the two client nodes (POST /send), alternating
// per attempt, each with its own request ID that every retry reuses;
// linearizable reads go to the client nodes (GET /read?consistency=
// linearizable), serializable ones to the learners (GET /get-values).
type workload struct {
	c     *cluster
	runID string
	// giveUp bounds the retries of one write.
	giveUp time.Duration

	mu      sync.Mutex
	history []*op
	seq     atomic.Uint64

	// gate: writers and readers run while it is open (pause closes it).
	gateMu sync.Mutex
	gate   chan struct{} // closed: open
	busy   sync.WaitGroup

	stop   chan struct{}
	wg     sync.WaitGroup
	active atomic.Bool
}

const (
	writers           = 4
	linearizedReaders = 1
	serialReaders     = 1
	writeThink        = 15 * time.Millisecond
	readThink         = 300 * time.Millisecond
)

func newWorkload(c *cluster, runID string) *workload {
	w := &workload{c: c, runID: runID, giveUp: 40 * time.Second}
	w.gate = make(chan struct{})
	close(w.gate)
	return w
}

// start launches the writers and readers (a drill's traffic).
func (w *workload) start() {
	w.stop = make(chan struct{})
	w.active.Store(true)
	for i := 0; i < writers; i++ {
		w.wg.Add(1)
		go w.writer(i)
	}
	for i := 0; i < linearizedReaders; i++ {
		w.wg.Add(1)
		go w.reader(writers+i, opReadLinearizable)
	}
	for i := 0; i < serialReaders; i++ {
		w.wg.Add(1)
		go w.reader(writers+linearizedReaders+i, opReadSerializable)
	}
}

// finish stops new operations and waits for the writes in flight: each
// keeps retrying (same request ID) until acknowledged or given up.
func (w *workload) finish() {
	if !w.active.Swap(false) {
		return
	}
	w.resume()
	close(w.stop)
	w.wg.Wait()
}

// pause waits for the operations in flight and holds new ones until resume
// (for snapshots of node state while nothing is written).
func (w *workload) pause() {
	w.gateMu.Lock()
	w.gate = make(chan struct{})
	w.gateMu.Unlock()
	w.busy.Wait()
}

func (w *workload) resume() {
	w.gateMu.Lock()
	select {
	case <-w.gate:
	default:
		close(w.gate)
	}
	w.gateMu.Unlock()
}

// enter waits for the gate to be open and marks an operation busy; it
// returns false when the workload stops.
func (w *workload) enter() bool {
	for {
		w.gateMu.Lock()
		g := w.gate
		select {
		case <-g:
			w.busy.Add(1)
			w.gateMu.Unlock()
			return true
		default:
		}
		w.gateMu.Unlock()
		select {
		case <-g:
		case <-w.stop:
			return false
		}
	}
}

func (w *workload) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *workload) record(o *op) {
	w.mu.Lock()
	w.history = append(w.history, o)
	w.mu.Unlock()
}

// ops returns the history so far (the ops are not modified once recorded).
func (w *workload) ops() []*op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*op(nil), w.history...)
}

func (w *workload) writer(id int) {
	defer w.wg.Done()
	for !w.stopping() {
		if !w.enter() {
			return
		}
		n := w.seq.Add(1)
		o := &op{Kind: opWrite, Client: id,
			Value: fmt.Sprintf("v-%s-%d-%d", w.runID, id, n),
			ReqID: fmt.Sprintf("drill-%s-%d", w.runID, n)}
		w.write(o, id)
		w.record(o)
		w.busy.Done()
		time.Sleep(writeThink)
	}
}

// write sends o until a 200, retrying with the same request ID through
// alternating client nodes; after giveUp the outcome is unknown.
func (w *workload) write(o *op, id int) {
	body, _ := json.Marshal(map[string]any{"value": o.Value, "request_id": o.ReqID, "client_id": 100 + id})
	o.Call = time.Now()
	for i := 0; ; i++ {
		target := clients[(id+i)%len(clients)]
		a := attempt{Node: target.Name, Start: time.Now()}
		slot, status, err := w.send(target, body)
		a.End, a.Status = time.Now(), status
		if err != nil {
			a.Err = err.Error()
		}
		o.Attempts = append(o.Attempts, a)
		o.Return = a.End
		if err == nil {
			o.Acked, o.Slot = true, slot
			return
		}
		if time.Since(o.Call) > w.giveUp {
			return
		}
		time.Sleep(time.Duration(50+25*min(i, 8)) * time.Millisecond)
	}
}

func (w *workload) send(n node, body []byte) (uint64, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.c.scheme+"://"+n.Addr()+"/send", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.c.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	var res struct {
		Slot *uint64 `json:"slot"`
	}
	if err := json.Unmarshal(data, &res); err != nil || res.Slot == nil {
		return 0, resp.StatusCode, fmt.Errorf("200 without a slot: %s", bytes.TrimSpace(data))
	}
	return *res.Slot, resp.StatusCode, nil
}

func (w *workload) reader(id int, kind opKind) {
	defer w.wg.Done()
	for i := 0; !w.stopping(); i++ {
		if !w.enter() {
			return
		}
		var target node
		path := "/read?consistency=linearizable&limit=100000"
		if kind == opReadLinearizable {
			target = clients[i%len(clients)]
		} else {
			target = learners[i%len(learners)]
			path = "/get-values?limit=100000"
		}
		o := &op{Kind: kind, Client: id, Call: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var p valuesPage
		_, err := w.c.getJSON(ctx, target, path, &p)
		cancel()
		o.Return = time.Now()
		// A failed read has no effect; a truncated one is not the whole log.
		if err == nil && int64(p.NextFrom) > p.ChosenSlot {
			o.Seen, o.Chosen = digest(p.Entries), p.ChosenSlot
			w.record(o)
		}
		w.busy.Done()
		select {
		case <-w.stop:
			return
		case <-time.After(readThink):
		}
	}
}
