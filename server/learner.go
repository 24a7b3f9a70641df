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

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// learnerRole runs a replog.Learner on bbolt and serves the log.
//
// It serves the log only as far as it is durable: the core learns entries
// into the store's memory buffer at once, and they are shown (/get-values,
// linearizable reads, /view-logs, status, gossip, metrics) once the
// per-tick Sync has written them. So no reader ever sees an entry that a
// crash of this learner takes back (SPEC §9, monotonic reads).
type learnerRole struct {
	n     *node
	core  *replog.Learner
	store LearnerStore
	drv   *driver

	commit  atomic.Uint64 // first slot not in the durable log: what is served
	values  atomic.Uint64 // client values in the durable log (no no-ops, no duplicates)
	learned atomic.Uint64
	gaps    atomic.Uint64
	heard   atomic.Bool // core.Heard(), for GET /ready

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever commit moves
}

// maxGetValues and maxPageBytes bound one page of the log (/get-values, and
// the client node's /read, which passes the learner's page on): at most
// maxGetValues values, and values of maxPageBytes in all plus at most one
// value (the one that reaches it, so every page makes progress). The page
// says where the next one starts (next_from). The learner builds a page
// from reads of the store that stop at the same bound, so a read of a log
// of big values costs the learner a page, not the log.
const (
	maxGetValues = 100000
	maxPageBytes = 4 << 20
)

// newLearnerRole runs a learner's core on st, sending over send.
func newLearnerRole(n *node, cfg replog.Config, st LearnerStore, send func([]replog.Message)) (*learnerRole, error) {
	// The store's Save buffers what it takes; one Sync per tick makes it
	// durable (options.learnerStore says why that is safe).
	cfg.LazySync = true
	core, err := replog.NewLearner(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	l := &learnerRole{n: n, core: core, store: st, changed: make(chan struct{})}
	durable := st.Synced() // all of the log at open; the store keeps the count
	l.commit.Store(durable.Commit)
	l.values.Store(durable.Values)
	l.drv = newDriver(core, loopHooks{save: st.Save, send: send, apply: l.apply,
		// The hint of the chosen slot moves on steps that make no Ready too.
		observe: func() {
			l.gaps.Store(l.core.Gaps())
			l.heard.Store(l.core.Heard())
		},
		onTick: l.syncBeside(),
	}, n.cfg.Tick, n.log, n.trace)
	return l, nil
}

// syncBeside returns the learner's onTick: the sync runs beside the loop,
// so the learner keeps taking chosen entries while the disk works
// (BufferedLearner takes Appends during a Sync); the core hears what is
// durable when it is, and readers see it then.
func (l *learnerRole) syncBeside() func() {
	synced, syncing := l.core.Commit(), false
	return func() {
		if syncing || l.core.Commit() <= synced {
			return
		}
		syncing = true
		go func() {
			err := l.store.Sync() // the fsync metric: storage's OnCommit
			durable := l.store.Synced()
			done := func() {
				syncing = false
				if err != nil {
					l.drv.fail(err)
					return
				}
				synced = max(synced, durable.Commit)
				l.core.Synced(durable.Commit)
				l.publish(durable)
			}
			for l.drv.do(done) != nil && l.drv.err() == nil {
				time.Sleep(time.Millisecond) // the loop's queue is full
			}
		}()
	}
}

// apply counts what the core learned. The entries are in the store's
// buffer, not yet served: publish serves them once they are durable.
func (l *learnerRole) apply(rd *replog.Ready) {
	l.gaps.Store(l.core.Gaps())
	l.learned.Add(uint64(len(rd.Chosen)))
}

// publish serves the log up to durable.Commit, which a Sync made durable.
// It runs on the loop.
func (l *learnerRole) publish(durable storage.LearnerStats) {
	if durable.Commit <= l.commit.Load() {
		return
	}
	l.values.Store(durable.Values)
	l.commit.Store(durable.Commit)
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// waitCommit waits until the durable log reaches index (every slot < index).
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

func (l *learnerRole) routes(r *httprouter.Router, _ nodeRoutes) {
	r.POST("/learn", l.n.internal(l.handleLearn))
	r.GET("/get-values", l.handleGetValues)
}

// handleLearn takes the seed's notifications:
// {"notifications":[{"acceptor_id":4,"proposal_number":301,"slot":12,"value":"x",...}]}
// and answers {"status":"acknowledged","processed":n,"learned":k,"counted":b}.
//
// A notification is a vote of the acceptor it names, and only a vote from
// the acceptor itself may count (SPEC §9), but nothing in this request
// proves who sent it: acceptor_id is a field the caller wrote, and the
// cluster secret is shared by every node. So:
//
//   - without CLUSTER_SECRET (an open cluster, where anyone may also open a
//     message stream as any node) notifications count as votes, as in the
//     seed: "counted":true;
//   - with CLUSTER_SECRET set and no TLS they are checked and acknowledged
//     but never counted: "counted":false, "learned":0. Two posts naming
//     acceptors 4 and 5 cannot make a learner choose a value;
//   - with TLS the caller's certificate proves who it is (callerIs): every
//     notification must name that acceptor (400 otherwise), and they count.
//
// Acceptors vote over their message streams.
func (l *learnerRole) handleLearn(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.LearnRequest
	if err := decodeJSON(w, r, int64(l.n.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	acceptors := map[replog.ID]bool{}
	for _, a := range l.n.cfg.Acceptors {
		acceptors[a.ID] = true
	}
	var msgs []replog.Message
	for _, n := range req.Notifications {
		if !acceptors[replog.ID(n.AcceptorID)] {
			writeError(w, fmt.Errorf("%w: acceptor_id %d is not a configured acceptor", ErrBadRequest, n.AcceptorID), nil)
			return
		}
		if err := l.n.callerIs(r, replog.ID(n.AcceptorID), "acceptor_id"); err != nil {
			writeError(w, err, nil)
			return
		}
		if n.ProposalNumber == 0 {
			writeError(w, fmt.Errorf("%w: proposal_number must be a positive ballot", ErrBadRequest), nil)
			return
		}
		if err := l.n.checkSeedEntry(seedEntry{Slot: n.Slot, Value: n.Value, RequestID: n.RequestID}); err != nil {
			writeError(w, err, nil)
			return
		}
		msgs = append(msgs, replog.Message{Type: replog.MsgLearn, From: replog.ID(n.AcceptorID), To: l.n.cfg.ID,
			Entries: []replog.Entry{{Slot: n.Slot, Ballot: replog.Ballot(n.ProposalNumber),
				Command: replog.Command{ClientID: n.ClientID, RequestID: n.RequestID, Value: n.Value}}}})
	}
	counted := l.n.cfg.Secret == "" || l.n.tls != nil
	if !counted {
		writeJSON(w, http.StatusOK, api.LearnResponse{Status: "acknowledged", Processed: len(msgs), Learned: 0, Counted: false})
		return
	}
	var learned uint64
	err := l.drv.call(r.Context(), func() {
		before := l.core.Commit()
		for _, m := range msgs {
			if err := l.core.Step(m); err != nil {
				l.drv.fail(err)
				return
			}
		}
		learned = l.core.Commit() - before
	})
	if err == nil {
		err = l.drv.err()
	}
	if err != nil {
		writeError(w, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, api.LearnResponse{Status: "acknowledged", Processed: len(msgs), Learned: learned, Counted: true})
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
				ctx, cancel := context.WithTimeout(r.Context(), l.n.cfg.RequestTimeout)
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
	idx, err := l.n.readIndex(ctx)
	if err != nil {
		return err
	}
	return l.waitCommit(ctx, idx)
}

// page reads up to limit client values from slot from on, and values of
// at most maxPageBytes plus one value (by Command.Size, counting the no-ops
// and duplicates it skips too); NextFrom is the slot after the last one
// read.
func (l *learnerRole) page(from uint64, limit int) (api.ValuesPage, error) {
	commit := l.commit.Load()
	p := api.ValuesPage{Values: []string{}, Entries: []seedEntry{}, ChosenSlot: int64(commit) - 1,
		TotalCount: l.values.Load(), LearnerID: uint64(l.n.cfg.ID), NextFrom: from}
	bytes := 0
	for p.NextFrom < commit && len(p.Values) < limit && bytes < maxPageBytes {
		es, err := l.store.ChosenBytes(p.NextFrom, 1024, maxPageBytes-bytes)
		if err != nil {
			return p, err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Slot >= commit || len(p.Values) >= limit || bytes >= maxPageBytes {
				break
			}
			p.NextFrom = e.Slot + 1
			bytes += e.Command.Size()
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

// recentViewed is how many of the last entries of the log /view-logs shows.
const recentViewed = 20

func (l *learnerRole) view() view {
	commit := l.commit.Load()
	n := min(commit, recentViewed)
	recent := make([]api.RecentEntry, 0, n)
	var es []replog.ChosenEntry
	var err error
	if n > 0 {
		es, err = l.store.ChosenBytes(commit-n, int(n), 0)
	}
	if err != nil {
		l.n.log.Warn("view-logs: reading the last entries of the log", "err", err)
	}
	for _, e := range es {
		// proposal_number is null: the log keeps values, not the ballot they were chosen at.
		recent = append(recent, api.RecentEntry{Slot: e.Slot, Value: e.Command.Value,
			RequestID: e.Command.RequestID, Noop: e.Command.IsNoop(), Duplicate: e.Dup})
	}
	st := l.store.Stats()
	return &api.LearnerView{
		LearnedValuesCount:  l.values.Load(),
		RecentLearnedValues: recent,
		ChosenSlot:          int64(commit) - 1,
		Gaps:                l.gaps.Load(),
		DBPath:              st.Path,
		DBSizeBytes:         st.SizeBytes,
		Metrics:             api.LearnerMetrics{SlotsLearned: l.learned.Load()},
	}
}

// readIndex asks the proposers for a linearizable read index: the gossip
// leader first, then every proposer (a follower forwards to its leader).
func (n *node) readIndex(ctx context.Context) (uint64, error) {
	// Ask every proposer at once: the leader answers, a follower forwards to
	// the leader it knows, and a hung proposer (paused, cut off) costs
	// nothing but its own request. The first index confirmed wins.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		index uint64
		err   error
	}
	addrs := n.proposerOrder(replog.None)
	answers := make(chan answer, len(addrs))
	for _, addr := range addrs {
		go func() {
			var res api.ReadIndex
			err := n.getJSON(ctx, addr, "/read-index", &res)
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

// proposerOrder lists the proposers' API addresses, the likely leader
// first: gossip's leader, or else known (the leader the caller last heard
// from; replog.None when it has none).
func (n *node) proposerOrder(known replog.ID) []string {
	var leader replog.ID
	if n.gossip != nil {
		leader = n.gossip.LeaderID()
	}
	if leader == replog.None {
		leader = known
	}
	var out []string
	if a, ok := n.addressOf(leader); ok && leader != replog.None {
		out = append(out, a)
	}
	for _, p := range n.cfg.Proposers {
		if p.ID == leader {
			continue
		}
		if a, ok := n.addressOf(p.ID); ok {
			out = append(out, a)
		}
	}
	return out
}
