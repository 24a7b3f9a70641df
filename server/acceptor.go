package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// acceptorRole runs a replog.Acceptor on bbolt: promises and accepted entries
// are fsynced before any reply leaves (the driver persists each Ready before
// sending it), and many accepts share one transaction.
type acceptorRole struct {
	n     *node
	core  *replog.Acceptor
	store AcceptorStore
	drv   *driver

	promised                   atomic.Uint64
	prepares, accepts, rejects atomic.Uint64
	// voting mirrors core.Voting() after every loop iteration: false while
	// the rejoin rule holds an acceptor that started on empty storage
	// (GET /ready).
	voting atomic.Bool

	// space holds the reason of the NOSPACE alarm while it is raised
	// (alarm.go); mon raises and clears it.
	space atomic.Pointer[string]
	mon   *spaceMonitor

	// After a save failed on a full disk (driver.diskFull), probe is tried
	// every spaceCheckEvery; once it succeeds the core is rebuilt from
	// storage with cfg and the node takes part again.
	cfg       replog.Config
	probe     func() error
	lastProbe time.Time
}

func (n *node) storageOptions() *storage.Options {
	return &storage.Options{Timeout: 2 * time.Second, NoSync: n.cfg.NoSync, OnCommit: n.metrics.observeFsync}
}

// newAcceptorRole runs an acceptor's core on st, sending over send.
func newAcceptorRole(n *node, cfg replog.Config, st AcceptorStore, send func([]replog.Message)) (*acceptorRole, error) {
	core, err := replog.NewAcceptor(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &acceptorRole{n: n, core: core, store: st, cfg: cfg}
	a.probe = func() error { return probeDisk(n.cfg.DataDir) }
	a.promised.Store(uint64(core.Promised()))
	a.voting.Store(core.Voting())
	if !core.Voting() {
		n.log.Warn("not voting yet: rejoin rule (new or lost storage, or a rejoin in progress): asking the proposers and the other acceptors for their state",
			"rejoin_slot", core.RejoinSlot())
	}
	a.mon = &spaceMonitor{n: n, size: func() int64 { return st.Stats().SizeBytes }, statfs: syscall.Statfs}
	a.drv = newDriver(core, loopHooks{
		save: st.Save,
		send: func(msgs []replog.Message) {
			a.count(msgs)
			send(msgs)
		},
		apply:   func(*replog.Ready) { a.promised.Store(uint64(a.core.Promised())) },
		observe: a.observeVoting,
		onTick: func() {
			a.recoverDisk(time.Now())
			a.mon.check(&a.space, time.Now())
		},
		diskFull: a.diskFull,
	}, n.cfg.Tick, n.log, n.trace)
	return a, nil
}

// count counts the replies the acceptor sends.
func (a *acceptorRole) count(msgs []replog.Message) {
	for _, m := range msgs {
		switch m.Type {
		case replog.MsgNack:
			a.rejects.Add(1)
		case replog.MsgPromise:
			a.prepares.Add(1)
		case replog.MsgAccepted:
			a.accepts.Add(uint64(len(m.Slots)))
		}
	}
}

// diskFull raises NOSPACE at the next tick and keeps the acceptor out until
// recoverDisk finds room again (driver.diskFull). It runs on the loop.
func (a *acceptorRole) diskFull(err error) bool {
	why := "a write failed, not taking part until one succeeds: " + err.Error()
	a.mon.diskFull.Store(&why)
	a.mon.last = time.Time{} // raise NOSPACE at the next tick
	a.lastProbe = time.Now()
	return true
}

// recoverDisk, while a full disk keeps the acceptor out, probes the disk
// every spaceCheckEvery; once a write succeeds it rebuilds the core from
// storage, as a restart would (the core believes that the batch whose save
// failed is on disk, and it answers for nothing it did not persist), and
// lets the acceptor take part again. It runs on the loop.
func (a *acceptorRole) recoverDisk(now time.Time) {
	if a.mon.diskFull.Load() == nil || now.Sub(a.lastProbe) < spaceCheckEvery {
		return
	}
	a.lastProbe = now
	if err := a.probe(); err != nil {
		a.n.log.Debug("disk still full", "err", err)
		return
	}
	core, err := replog.NewAcceptor(a.cfg, a.store)
	if err != nil {
		a.n.log.Warn("disk has room again, but the acceptor could not be rebuilt from storage", "err", err)
		return
	}
	a.core = core
	a.promised.Store(uint64(core.Promised()))
	a.mon.diskFull.Store(nil)
	a.mon.last = time.Time{} // clear NOSPACE at once
	a.drv.resume(core)
}

// probeBytes is what probeDisk writes: a batch of accepts' worth.
const probeBytes = 1 << 20

// probeDisk writes probeBytes to a file in dir, syncs it and removes it:
// whether the disk takes a write again.
func probeDisk(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (a *acceptorRole) routes(r *httprouter.Router, _ nodeRoutes) {
	r.POST("/prepare", a.n.internal(a.handlePrepare))
	r.POST("/accept", a.n.internal(a.handleAccept))
}

// maxBallot is the highest proposal_number /prepare and /accept take: far
// above any ballot a proposer reaches, and low enough that a proposer told
// about it can still go above it (round*100+id must not wrap a uint64, or a
// promise of 2^64-15 would stop every proposer for good).
const maxBallot = math.MaxInt64

// checkBallot checks proposal_number and proposer_id of the seed's /prepare
// and /accept: a ballot from 1 to maxBallot, owned by proposer_id (a ballot
// is round*100 + proposer ID: replog.Ballot.Proposer), which must be a
// configured proposer. An acceptor never promises or accepts a ballot no
// proposer can own.
func (n *node) checkBallot(proposerID, number uint64) error {
	if number == 0 || number > maxBallot {
		return fmt.Errorf("%w: proposal_number must be a ballot from 1 to %d", ErrBadRequest, uint64(maxBallot))
	}
	if owner := replog.Ballot(number).Proposer(); uint64(owner) != proposerID {
		return fmt.Errorf("%w: proposal_number %d belongs to proposer %d (proposal_number %% %d), not to proposer_id %d",
			ErrBadRequest, number, owner, replog.ProposerIDLimit, proposerID)
	}
	if !slices.Contains(ids(n.cfg.Proposers), replog.ID(proposerID)) {
		return fmt.Errorf("%w: proposer_id %d is not a configured proposer", ErrBadRequest, proposerID)
	}
	return nil
}

// seedEntry is an entry in the seed's JSON shape.
type seedEntry = api.Entry

// checkSeedEntry applies the limits of a client command to an entry a seed
// endpoint (/accept, /learn, /notify) takes: MaxRequestIDBytes for its
// request ID (400) and MaxValueBytes for its value (413).
func (n *node) checkSeedEntry(e seedEntry) error {
	if len(e.RequestID) > MaxRequestIDBytes {
		return fmt.Errorf("%w: entry for slot %d: request_id of %d bytes, the limit is %d", ErrBadRequest, e.Slot, len(e.RequestID), MaxRequestIDBytes)
	}
	if len(e.Value) > n.cfg.MaxValueBytes {
		return fmt.Errorf("%w: entry for slot %d: value is %d bytes, the limit is %d", ErrTooLarge, e.Slot, len(e.Value), n.cfg.MaxValueBytes)
	}
	return nil
}

func toSeed(e replog.Entry) seedEntry {
	return seedEntry{Slot: e.Slot, ProposalNumber: uint64(e.Ballot), Value: e.Command.Value,
		ClientID: e.Command.ClientID, RequestID: e.Command.RequestID}
}

// handlePrepare is the seed's synchronous phase 1:
// {"proposer_id":1,"proposal_number":301,"from_slot":0}.
func (a *acceptorRole) handlePrepare(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.PrepareRequest
	if err := decodeJSON(w, r, 1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if err := a.n.checkBallot(req.ProposerID, req.ProposalNumber); err != nil {
		writeError(w, err, nil)
		return
	}
	if err := a.n.callerIs(r, replog.ID(req.ProposerID), "proposer_id"); err != nil {
		writeError(w, err, nil)
		return
	}
	reply, err := a.ask(r.Context(), replog.Message{Type: replog.MsgPrepare, Ballot: replog.Ballot(req.ProposalNumber), Slot: req.FromSlot})
	if err != nil {
		writeError(w, err, nil)
		return
	}
	body := api.PrepareResponse{Status: "rejected", AcceptorID: uint64(a.n.cfg.ID), Promised: uint64(reply.Ballot)}
	if reply.Type == replog.MsgNack {
		writeJSON(w, http.StatusOK, body)
		return
	}
	body.Accepted = make([]seedEntry, len(reply.Entries))
	for i, e := range reply.Entries {
		body.Accepted[i] = toSeed(e)
	}
	body.Status, body.ChosenWatermark = "promise", &reply.Commit
	writeJSON(w, http.StatusOK, body)
}

// handleAccept is the seed's synchronous phase 2:
// {"proposer_id":1,"proposal_number":301,"entries":[...],"chosen_slot":11}.
func (a *acceptorRole) handleAccept(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req api.AcceptRequest
	if err := decodeJSON(w, r, int64(a.n.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if err := a.n.checkBallot(req.ProposerID, req.ProposalNumber); err != nil {
		writeError(w, err, nil)
		return
	}
	if err := a.n.callerIs(r, replog.ID(req.ProposerID), "proposer_id"); err != nil {
		writeError(w, err, nil)
		return
	}
	m := replog.Message{Type: replog.MsgAccept, Ballot: replog.Ballot(req.ProposalNumber)}
	if req.ChosenSlot != nil && *req.ChosenSlot >= 0 {
		m.Commit = uint64(*req.ChosenSlot) + 1
	}
	for _, e := range req.Entries {
		if e.Value == "" && e.RequestID != "" {
			writeError(w, fmt.Errorf("%w: entry for slot %d has a request_id but no value", ErrBadRequest, e.Slot), nil)
			return
		}
		if err := a.n.checkSeedEntry(e); err != nil {
			writeError(w, err, nil)
			return
		}
		m.Entries = append(m.Entries, replog.Entry{Slot: e.Slot,
			Command: replog.Command{ClientID: e.ClientID, RequestID: e.RequestID, Value: e.Value}})
	}
	reply, err := a.ask(r.Context(), m)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	body := api.AcceptResponse{Status: "rejected", AcceptorID: uint64(a.n.cfg.ID), Promised: a.promised.Load()}
	if reply.Type != replog.MsgNack {
		ballot := uint64(reply.Ballot)
		body.Status, body.ProposalNumber, body.Slots = "accepted", &ballot, reply.Slots
		if body.Slots == nil {
			body.Slots = []uint64{} // "slots":[], not omitted
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// ask steps m from a tap and waits for the acceptor's reply, which leaves
// only after the state it depends on is on disk.
func (a *acceptorRole) ask(ctx context.Context, m replog.Message) (replog.Message, error) {
	id, ch, release := a.n.tap()
	defer release()
	m.From, m.To = id, a.n.cfg.ID
	if err := a.drv.step([]replog.Message{m}); err != nil {
		return replog.Message{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.RequestTimeout)
	defer cancel()
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		if err := a.drv.err(); err != nil {
			return replog.Message{}, err
		}
		return replog.Message{}, ErrTimeout
	}
}

// observeVoting mirrors core.Voting() into voting after every loop
// iteration, and logs when it changes. It runs on the loop.
func (a *acceptorRole) observeVoting() {
	v := a.core.Voting()
	if v == a.voting.Swap(v) {
		return
	}
	if v {
		a.n.log.Info("voting again: the rejoin rule is satisfied", "rejoin_slot", a.core.RejoinSlot(), "promised", a.core.Promised())
	} else {
		a.n.log.Warn("not voting: the cluster has history this acceptor may have forgotten; it accepts again and promises once every slot below the rejoin slot is chosen and held durably by the learners heard lately",
			"rejoin_slot", a.core.RejoinSlot(), "promised", a.core.Promised())
	}
}

func (a *acceptorRole) view() view {
	st := a.store.Stats()
	promised := a.promised.Load()
	v := &api.AcceptorView{
		Promised:              promised,
		HighestPromisedNumber: promised,
		AcceptedCount:         st.AcceptedCount,
		State:                 api.AcceptorState{MaxPromised: promised},
		Voting:                a.voting.Load(),
		DBPath:                st.Path,
		DBSizeBytes:           st.SizeBytes,
		Metrics:               api.AcceptorMetrics{Promises: a.prepares.Load(), Accepts: a.accepts.Load(), Rejections: a.rejects.Load()},
	}
	if st.LastSlot >= 0 {
		v.LastAcceptedSlot = &st.LastSlot
		if es, err := a.store.AcceptedBytes(uint64(st.LastSlot), 1, 0); err == nil && len(es) == 1 {
			v.AcceptedProposal = &api.AcceptedProposal{Number: uint64(es[0].Ballot), Value: es[0].Command.Value, Slot: es[0].Slot}
			v.State.MaxAccepted, v.State.AcceptedValue = uint64(es[0].Ballot), &es[0].Command.Value
		}
	}
	return v
}
