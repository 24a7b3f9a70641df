package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/storage"
)

// acceptorRole runs a replog.Acceptor on bbolt: promises and accepted entries
// are fsynced before any reply leaves (the driver persists each Ready before
// sending it), and many accepts share one transaction.
type acceptorRole struct {
	s     *Server
	core  *replog.Acceptor
	store *storage.LoggedAcceptor

	promised                   atomic.Uint64
	prepares, accepts, rejects atomic.Uint64
}

func (s *Server) storageOptions() *storage.Options {
	return &storage.Options{Timeout: 2 * time.Second, NoSync: s.cfg.NoSync, OnCommit: s.metrics.observeFsync}
}

func newAcceptorRole(s *Server, cfg replog.Config) (*acceptorRole, error) {
	st, err := storage.OpenLoggedAcceptor(s.dbPath(), s.storageOptions())
	if err != nil {
		return nil, err
	}
	core, err := replog.NewAcceptor(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &acceptorRole{s: s, core: core, store: st}
	a.promised.Store(uint64(core.Promised()))
	s.drv = newDriver(core, s.cfg.Tick, s.log)
	s.drv.save = func(rd *replog.Ready) error {
		if rd.HardState.Promised != 0 || len(rd.Accepted) > 0 {
			if err := st.Save(rd.HardState.Promised, rd.Accepted); err != nil {
				return err
			}
		}
		if rd.Compact > 0 {
			return st.Compact(rd.Compact)
		}
		return nil
	}
	s.drv.send = func(msgs []replog.Message) {
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
		s.transport.Send(msgs)
	}
	s.drv.apply = func(*replog.Ready) { a.promised.Store(uint64(core.Promised())) }
	return a, nil
}

func (a *acceptorRole) routes(r *httprouter.Router) {
	r.POST("/prepare", a.s.internal(a.handlePrepare))
	r.POST("/accept", a.s.internal(a.handleAccept))
}

// maxBallot is the highest proposal_number /prepare and /accept take: far
// above any ballot a proposer reaches, and low enough that a proposer told
// about it can still go above it (round*100+id must not wrap a uint64, or a
// promise of 2^64-15 would stop every proposer for good).
const maxBallot = math.MaxInt64

// seedEntry is an entry in the seed's JSON shape.
type seedEntry struct {
	Slot           uint64 `json:"slot"`
	ProposalNumber uint64 `json:"proposal_number,omitempty"`
	Value          string `json:"value"`
	ClientID       uint64 `json:"client_id"`
	RequestID      string `json:"request_id"`
}

func toSeed(e replog.Entry) seedEntry {
	return seedEntry{Slot: e.Slot, ProposalNumber: uint64(e.Ballot), Value: e.Command.Value,
		ClientID: e.Command.ClientID, RequestID: e.Command.RequestID}
}

// handlePrepare is the seed's synchronous phase 1:
// {"proposer_id":1,"proposal_number":301,"from_slot":0}.
func (a *acceptorRole) handlePrepare(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		ProposerID     uint64 `json:"proposer_id"`
		ProposalNumber uint64 `json:"proposal_number"`
		FromSlot       uint64 `json:"from_slot"`
	}
	if err := decodeJSON(w, r, 1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if req.ProposalNumber == 0 || req.ProposalNumber > maxBallot {
		writeError(w, fmt.Errorf("%w: proposal_number must be a ballot from 1 to %d", ErrBadRequest, uint64(maxBallot)), nil)
		return
	}
	reply, err := a.ask(r.Context(), replog.Message{Type: replog.MsgPrepare, Ballot: replog.Ballot(req.ProposalNumber), Slot: req.FromSlot})
	if err != nil {
		writeError(w, err, nil)
		return
	}
	body := map[string]any{"acceptor_id": a.s.cfg.ID, "promised": uint64(reply.Ballot)}
	if reply.Type == replog.MsgNack {
		body["status"] = "rejected"
		writeJSON(w, http.StatusOK, body)
		return
	}
	accepted := make([]seedEntry, len(reply.Entries))
	for i, e := range reply.Entries {
		accepted[i] = toSeed(e)
	}
	body["status"], body["accepted"], body["chosen_watermark"] = "promise", accepted, reply.Commit
	writeJSON(w, http.StatusOK, body)
}

// handleAccept is the seed's synchronous phase 2:
// {"proposer_id":1,"proposal_number":301,"entries":[...],"chosen_slot":11}.
func (a *acceptorRole) handleAccept(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		ProposerID     uint64      `json:"proposer_id"`
		ProposalNumber uint64      `json:"proposal_number"`
		Entries        []seedEntry `json:"entries"`
		ChosenSlot     *int64      `json:"chosen_slot"`
	}
	if err := decodeJSON(w, r, int64(a.s.cfg.MaxValueBytes)*4+1<<20, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	if req.ProposalNumber == 0 || req.ProposalNumber > maxBallot {
		writeError(w, fmt.Errorf("%w: proposal_number must be a ballot from 1 to %d", ErrBadRequest, uint64(maxBallot)), nil)
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
		m.Entries = append(m.Entries, replog.Entry{Slot: e.Slot,
			Command: replog.Command{ClientID: e.ClientID, RequestID: e.RequestID, Value: e.Value}})
	}
	reply, err := a.ask(r.Context(), m)
	if err != nil {
		writeError(w, err, nil)
		return
	}
	body := map[string]any{"acceptor_id": a.s.cfg.ID, "promised": a.promised.Load()}
	if reply.Type == replog.MsgNack {
		body["status"] = "rejected"
	} else {
		body["status"], body["proposal_number"], body["slots"] = "accepted", uint64(reply.Ballot), reply.Slots
	}
	writeJSON(w, http.StatusOK, body)
}

// ask steps m from a tap and waits for the acceptor's reply, which leaves
// only after the state it depends on is on disk.
func (a *acceptorRole) ask(ctx context.Context, m replog.Message) (replog.Message, error) {
	id, ch, release := a.s.tap()
	defer release()
	m.From, m.To = id, a.s.cfg.ID
	if err := a.s.drv.step([]replog.Message{m}); err != nil {
		return replog.Message{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.s.cfg.RequestTimeout)
	defer cancel()
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		if err := a.s.drv.err(); err != nil {
			return replog.Message{}, err
		}
		return replog.Message{}, ErrTimeout
	}
}

func (a *acceptorRole) view() map[string]any {
	st := a.store.Stats()
	promised := a.promised.Load()
	var last map[string]any
	maxAccepted := uint64(0)
	lastValue := any(nil)
	if st.LastSlot >= 0 {
		if es, err := a.store.Accepted(uint64(st.LastSlot), 1); err == nil && len(es) == 1 {
			last = map[string]any{"number": uint64(es[0].Ballot), "value": es[0].Command.Value, "slot": es[0].Slot}
			maxAccepted, lastValue = uint64(es[0].Ballot), es[0].Command.Value
		}
	}
	lastSlot := any(nil)
	if st.LastSlot >= 0 {
		lastSlot = st.LastSlot
	}
	return map[string]any{
		"promised":                promised,
		"highest_promised_number": promised,
		"accepted_count":          st.AcceptedCount,
		"last_accepted_slot":      lastSlot,
		"accepted_proposal":       last,
		"state":                   map[string]any{"max_promised": promised, "max_accepted": maxAccepted, "accepted_value": lastValue},
		"db_path":                 st.Path,
		"db_size_bytes":           st.SizeBytes,
		"metrics": map[string]any{"promises": a.prepares.Load(), "accepts": a.accepts.Load(),
			"rejections": a.rejects.Load()},
	}
}
