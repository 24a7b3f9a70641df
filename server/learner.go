package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// learnerRole runs a replog.Learner on bbolt and serves the log.
type learnerRole struct {
	s     *Server
	core  *replog.Learner
	store *storage.BufferedLearner

	commit  atomic.Uint64 // first slot not in the stored log
	values  atomic.Uint64 // client values in the log (no no-ops, no duplicates)
	learned atomic.Uint64
	gaps    atomic.Uint64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever commit moves

	recentMu sync.Mutex
	recent   []replog.ChosenEntry // the last chosen entries, for /view-logs
}

// maxGetValues caps one /get-values answer.
const maxGetValues = 100000

func newLearnerRole(s *Server, cfg replog.Config) (*learnerRole, error) {
	// The learner's log is buffered in memory and written in one fsynced
	// commit per tick (storage.BufferedLearner): acceptors hold every chosen
	// value durably until each learner reports it durable (LazySync), so a
	// learner loses nothing that it cannot catch up, and the disk is left
	// to the acceptors, whose fsync is on the write path.
	cfg.LazySync = true
	file, err := storage.OpenLearner(s.dbPath(), s.storageOptions())
	if err != nil {
		return nil, err
	}
	st, err := storage.NewBufferedLearner(file)
	if err != nil {
		file.Close()
		return nil, err
	}
	core, err := replog.NewLearner(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	l := &learnerRole{s: s, core: core, store: st, changed: make(chan struct{})}
	l.commit.Store(core.Commit())
	l.values.Store(st.Stats().Values) // the store keeps the count
	s.drv = newDriver(core, s.cfg.Tick, s.log)
	s.drv.save = func(rd *replog.Ready) error {
		if len(rd.Chosen) == 0 {
			return nil
		}
		return st.Append(rd.Chosen)
	}
	s.drv.send = s.transport.Send
	s.drv.apply = l.apply
	// The sync runs beside the loop, so the learner keeps taking and
	// serving chosen entries while the disk works (BufferedLearner takes
	// Appends during a Sync); the core hears what is durable when it is.
	synced, syncing := core.Commit(), false
	s.drv.onTick = func() {
		if syncing || core.Commit() <= synced {
			return
		}
		syncing = true
		go func() {
			// Everything below c is appended: in the file or in what
			// Sync writes.
			c, err := st.Commit()
			if err == nil {
				err = st.Sync() // the fsync metric: storage's OnCommit
			}
			done := func() {
				syncing = false
				if err != nil {
					s.drv.fail(err)
					return
				}
				synced = max(synced, c)
				core.Synced(c)
			}
			for s.drv.do(done) != nil && s.drv.err() == nil {
				time.Sleep(time.Millisecond) // the loop's queue is full
			}
		}()
	}
	return l, nil
}

func (l *learnerRole) apply(rd *replog.Ready) {
	l.gaps.Store(l.core.Gaps())
	if len(rd.Chosen) == 0 {
		return
	}
	for _, e := range rd.Chosen {
		if e.IsValue() {
			l.values.Add(1)
		}
	}
	l.learned.Add(uint64(len(rd.Chosen)))
	l.recentMu.Lock()
	l.recent = append(l.recent, rd.Chosen...)
	if len(l.recent) > 20 {
		l.recent = append([]replog.ChosenEntry(nil), l.recent[len(l.recent)-20:]...)
	}
	l.recentMu.Unlock()
	l.commit.Store(l.core.Commit())
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// waitCommit waits until the stored log reaches index (every slot < index).
func (l *learnerRole) waitCommit(ctx context.Context, index uint64) error {
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if l.commit.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: the log did not reach slot %d (it is at %d)", ErrTimeout, index, l.commit.Load())
		}
	}
}

func (l *learnerRole) routes(r *httprouter.Router) {
	r.POST("/learn", l.s.internal(l.handleLearn))
	r.GET("/get-values", l.handleGetValues)
}

// handleLearn takes the seed's notifications:
// {"notifications":[{"acceptor_id":4,"proposal_number":301,"slot":12,"value":"x",...}]}.
func (l *learnerRole) handleLearn(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		Notifications []struct {
			AcceptorID     uint64 `json:"acceptor_id"`
			ProposalNumber uint64 `json:"proposal_number"`
			Slot           uint64 `json:"slot"`
			Value          string `json:"value"`
			ClientID       uint64 `json:"client_id"`
			RequestID      string `json:"request_id"`
		} `json:"notifications"`
	}
	if err := decodeJSON(w, r, int64(l.s.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	acceptors := map[replog.ID]bool{}
	for _, a := range l.s.cfg.Acceptors {
		acceptors[a.ID] = true
	}
	var msgs []replog.Message
	for _, n := range req.Notifications {
		if !acceptors[replog.ID(n.AcceptorID)] {
			writeError(w, fmt.Errorf("%w: acceptor_id %d is not a configured acceptor", ErrBadRequest, n.AcceptorID), nil)
			return
		}
		if n.ProposalNumber == 0 {
			writeError(w, fmt.Errorf("%w: proposal_number must be a positive ballot", ErrBadRequest), nil)
			return
		}
		msgs = append(msgs, replog.Message{Type: replog.MsgLearn, From: replog.ID(n.AcceptorID), To: l.s.cfg.ID,
			Entries: []replog.Entry{{Slot: n.Slot, Ballot: replog.Ballot(n.ProposalNumber),
				Command: replog.Command{ClientID: n.ClientID, RequestID: n.RequestID, Value: n.Value}}}})
	}
	var learned uint64
	err := l.s.drv.call(r.Context(), func() {
		before := l.core.Commit()
		for _, m := range msgs {
			if err := l.core.Step(m); err != nil {
				l.s.drv.fail(err)
				return
			}
		}
		learned = l.core.Commit() - before
	})
	if err == nil {
		err = l.s.drv.err()
	}
	if err != nil {
		writeError(w, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "acknowledged", "processed": len(msgs), "learned": learned})
}

// valuesPage is the answer of /get-values and the client's /read.
type valuesPage struct {
	Values        []string    `json:"values"`
	Entries       []seedEntry `json:"entries"`
	TotalCount    uint64      `json:"total_count"`
	ReturnedCount int         `json:"returned_count"`
	ChosenSlot    int64       `json:"chosen_slot"`
	NextFrom      uint64      `json:"next_from"`
	Consistency   string      `json:"consistency"`
	LearnerID     replog.ID   `json:"learner_id"`
}

// queryUint parses an optional non-negative integer query parameter.
func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: query parameter %q must be a non-negative integer, not %q", ErrBadRequest, name, s)
	}
	return v, nil
}

func consistencyOf(r *http.Request) (string, error) {
	switch c := r.URL.Query().Get("consistency"); c {
	case "", "serializable":
		return "serializable", nil
	case "linearizable":
		return c, nil
	default:
		return "", fmt.Errorf("%w: consistency must be linearizable or serializable, not %q", ErrBadRequest, c)
	}
}

func (l *learnerRole) handleGetValues(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	from, err := queryUint(r, "from", 0)
	if err == nil {
		var limit uint64
		limit, err = queryUint(r, "limit", maxGetValues)
		if err == nil {
			var cons string
			cons, err = consistencyOf(r)
			if err == nil {
				ctx, cancel := context.WithTimeout(r.Context(), l.s.cfg.RequestTimeout)
				defer cancel()
				if cons == "linearizable" {
					err = l.linearize(ctx)
				}
				if err == nil {
					page, perr := l.page(from, int(min(limit, maxGetValues)))
					if perr == nil {
						page.Consistency = cons
						writeJSON(w, http.StatusOK, page)
						return
					}
					err = perr
				}
			}
		}
	}
	writeError(w, err, nil)
}

// linearize waits until the log holds every write acknowledged before now:
// it asks the leader for a read index (confirmed by a quorum of acceptors)
// and waits for the log to reach it.
func (l *learnerRole) linearize(ctx context.Context) error {
	idx, err := l.s.readIndex(ctx)
	if err != nil {
		return err
	}
	return l.waitCommit(ctx, idx)
}

// page reads up to limit client values from slot from on.
func (l *learnerRole) page(from uint64, limit int) (valuesPage, error) {
	commit := l.commit.Load()
	p := valuesPage{Values: []string{}, Entries: []seedEntry{}, ChosenSlot: int64(commit) - 1,
		TotalCount: l.values.Load(), LearnerID: l.s.cfg.ID, NextFrom: from}
	for p.NextFrom < commit && len(p.Values) < limit {
		es, err := l.store.Chosen(p.NextFrom, 1024)
		if err != nil {
			return p, err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Slot >= commit || len(p.Values) >= limit {
				break
			}
			p.NextFrom = e.Slot + 1
			if e.Dup || e.Command.IsNoop() {
				continue
			}
			p.Values = append(p.Values, e.Command.Value)
			se := toSeed(e.Entry)
			se.ProposalNumber = 0
			p.Entries = append(p.Entries, se)
		}
	}
	p.ReturnedCount = len(p.Values)
	return p, nil
}

func (l *learnerRole) view() map[string]any {
	l.recentMu.Lock()
	recent := make([]map[string]any, 0, len(l.recent))
	for _, e := range l.recent {
		// proposal_number is null: the log keeps values, not the ballot they were chosen at.
		recent = append(recent, map[string]any{"slot": e.Slot, "proposal_number": nil, "value": e.Command.Value,
			"request_id": e.Command.RequestID, "noop": e.Command.IsNoop(), "duplicate": e.Dup})
	}
	l.recentMu.Unlock()
	st := l.store.Stats()
	return map[string]any{
		"learned_values_count":  l.values.Load(),
		"recent_learned_values": recent,
		"chosen_slot":           int64(l.commit.Load()) - 1,
		"gaps":                  l.gaps.Load(),
		"db_path":               st.Path,
		"db_size_bytes":         st.SizeBytes,
		"metrics":               map[string]any{"slots_learned": l.learned.Load()},
	}
}

// readIndex asks the proposers for a linearizable read index: the gossip
// leader first, then every proposer (a follower forwards to its leader).
func (s *Server) readIndex(ctx context.Context) (uint64, error) {
	// Ask every proposer at once: the leader answers, a follower forwards to
	// the leader it knows, and a hung proposer (paused, cut off) costs
	// nothing but its own request. The first index confirmed wins.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		index uint64
		err   error
	}
	addrs := s.proposerOrder()
	answers := make(chan answer, len(addrs))
	for _, addr := range addrs {
		go func() {
			var res struct {
				Index uint64 `json:"index"`
			}
			err := s.getJSON(ctx, addr, "/read-index", &res)
			answers <- answer{res.Index, err}
		}()
	}
	var lastErr error = ErrNoQuorum
	for range addrs {
		a := <-answers
		if a.err == nil {
			return a.index, nil
		}
		lastErr = a.err
	}
	return 0, fmt.Errorf("%w: no leader confirmed a read index: %v", ErrNoQuorum, lastErr)
}

// proposerOrder lists the proposers' API addresses, the likely leader first.
func (s *Server) proposerOrder() []string {
	var leader replog.ID
	if s.gossip != nil {
		leader = s.gossip.LeaderID()
	}
	if s.client != nil && leader == replog.None {
		leader = replog.ID(s.client.leader.Load())
	}
	var out []string
	if a, ok := s.addressOf(leader); ok && leader != replog.None {
		out = append(out, a)
	}
	for _, p := range s.cfg.Proposers {
		if p.ID == leader {
			continue
		}
		if a, ok := s.addressOf(p.ID); ok {
			out = append(out, a)
		}
	}
	return out
}
