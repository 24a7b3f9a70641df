// Package api is the HTTP API of a node (SPEC §5) as Go types: the request
// and response bodies of every endpoint, the error body and the error texts
// the wire carries. The server encodes them, paxosctl and the tests decode
// them. It imports only the standard library, so any client can use it.
//
// Field names and omitempty/omitzero are the wire format: a golden test
// (api_test.go) pins the JSON of every type.
package api

import (
	"errors"
	"strconv"
)

// ErrNotLeader is what a 409 stands for (SPEC §5): a write reached a
// proposer that is not the leader and found none to forward it to. The
// node's error (server.ErrNotLeader) and the Go client's
// (client.ErrNotLeader, a 409 *client.StatusError) both match it with
// errors.Is, so a program can test for it without knowing which side it
// came from.
var ErrNotLeader = errors.New("not the leader")

// NotLeaderText is the error text of a write that reached no leader (409,
// SPEC §5): {"error":"Not the leader","current_leader":null,...}.
const NotLeaderText = "Not the leader"

// Error is the body of every error answer: {"error": "...", ...}. Only the
// fields an error has are written.
type Error struct {
	Error string `json:"error"`
	// Alarm names the alarm that refused a write (503, SPEC §9).
	Alarm string `json:"alarm,omitempty"`
	// Allow lists the methods of the path (405).
	Allow string `json:"allow,omitempty"`
	// RequestID is the request ID of the write that failed.
	RequestID string `json:"request_id,omitempty"`
	// CurrentLeader, when set, is written: the leader a proposer knows of,
	// or null (NoLeader) when it knows of none.
	CurrentLeader *Leader `json:"current_leader,omitempty"`
	// RetrySuggested says the same request may succeed elsewhere or later.
	RetrySuggested bool `json:"retry_suggested,omitempty"`
	// ProposerID and RetryAfterMS say which proposer refused a forced
	// election and when it takes the next one (429).
	ProposerID   uint64 `json:"proposer_id,omitempty"`
	RetryAfterMS *int64 `json:"retry_after_ms,omitempty"`
}

// Leader is a node ID that may be unknown: JSON null when ID is 0.
type Leader struct{ ID uint64 }

// MarshalJSON writes the ID, or null when it is 0.
func (l Leader) MarshalJSON() ([]byte, error) {
	if l.ID == 0 {
		return []byte("null"), nil
	}
	return strconv.AppendUint(nil, l.ID, 10), nil
}

// OptionalID returns id as a pointer, nil (JSON null) when id is 0.
func OptionalID(id uint64) *uint64 {
	if id == 0 {
		return nil
	}
	return &id
}

// Alarm is one active alarm (SPEC §9) as /health, /status and /view-logs
// list it.
type Alarm struct {
	Alarm  string `json:"alarm"`
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// Health is the body of GET /health (200 healthy, 503 unhealthy).
type Health struct {
	ID            uint64  `json:"id"`
	Name          string  `json:"name"`
	Role          string  `json:"role"`
	Status        string  `json:"status"` // healthy or unhealthy
	Error         string  `json:"error,omitempty"`
	UptimeSeconds int64   `json:"uptime_seconds"`
	Alarms        []Alarm `json:"alarms,omitempty"`
}

// Entry is a log entry in the seed's JSON shape: a promise's accepted
// entries, an accept's entries, a page of GET /get-values, POST /notify.
type Entry struct {
	Slot           uint64 `json:"slot"`
	ProposalNumber uint64 `json:"proposal_number,omitempty"`
	Value          string `json:"value"`
	ClientID       uint64 `json:"client_id"`
	RequestID      string `json:"request_id"`
}

// Ready is the body of GET /ready: 200 ready, 503 not ready with the
// reason in Error.
type Ready struct {
	ID     uint64 `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Status string `json:"status"` // ready or not ready
	Error  string `json:"error,omitempty"`
}
