package api

import "time"

// ElectionStarted answers POST /propose {"is_leader_election":true}.
type ElectionStarted struct {
	Status     string `json:"status"` // election_started
	ProposerID uint64 `json:"proposer_id"`
}

// SendResponse answers POST /send once the value is chosen.
type SendResponse struct {
	Status         string `json:"status"` // value sent
	Slot           uint64 `json:"slot"`
	ProposerID     uint64 `json:"proposer_id"`
	RequestID      string `json:"request_id"`
	ProposalNumber uint64 `json:"proposal_number"`
}

// PrepareResponse answers POST /prepare: a promise with the accepted
// entries from the asked slot on, or a rejection with the higher ballot.
type PrepareResponse struct {
	Status     string `json:"status"` // promise or rejected
	AcceptorID uint64 `json:"acceptor_id"`
	Promised   uint64 `json:"promised"`
	// Accepted and ChosenWatermark: promises only.
	Accepted        []Entry `json:"accepted,omitzero"`
	ChosenWatermark *uint64 `json:"chosen_watermark,omitempty"`
}

// AcceptResponse answers POST /accept.
type AcceptResponse struct {
	Status     string `json:"status"` // accepted or rejected
	AcceptorID uint64 `json:"acceptor_id"`
	Promised   uint64 `json:"promised"`
	// ProposalNumber and Slots: accepted only.
	ProposalNumber *uint64  `json:"proposal_number,omitempty"`
	Slots          []uint64 `json:"slots,omitzero"`
}

// LearnResponse answers POST /learn.
type LearnResponse struct {
	Status    string `json:"status"` // acknowledged
	Processed int    `json:"processed"`
	Learned   uint64 `json:"learned"`
	// Counted is false when the notifications were not counted (a secret
	// is set but not TLS: the seed's endpoint cannot prove the sender).
	Counted bool `json:"counted"`
}

// NotifyResponse answers POST /notify.
type NotifyResponse struct {
	Status   string `json:"status"` // ok
	Received int    `json:"received"`
}

// ClientResponse is one write a client node answered, in GET
// /get-responses.
type ClientResponse struct {
	RequestID  string    `json:"request_id"`
	Value      string    `json:"value"`
	Status     string    `json:"status"`
	Slot       *uint64   `json:"slot"`
	ProposerID uint64    `json:"proposer_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	Learned    bool      `json:"learned"`
	At         time.Time `json:"at"`
}

// Responses answers GET /get-responses.
type Responses struct {
	Responses []ClientResponse `json:"responses"`
	Count     int              `json:"count"`
}

// ReadIndex answers GET /read-index: every write acknowledged before the
// request is below Index.
type ReadIndex struct {
	Index    uint64 `json:"index"`
	LeaderID uint64 `json:"leader_id"`
}

// GossipPushResponse answers POST /gossip.
type GossipPushResponse struct {
	Status    string `json:"status"` // ok
	Updates   int    `json:"updates"`
	NodeCount int    `json:"node_count"`
}

// GossipKeysReply answers GET and POST /gossip/keys: the node's keyring.
type GossipKeysReply struct {
	ID           uint64   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Status       string   `json:"status"` // ok
	Op           string   `json:"op,omitempty"`
	Primary      string   `json:"primary"`
	Keys         []string `json:"keys"`
	Fingerprints []string `json:"fingerprints"`
}

// ProposeRequest is the body of POST /propose and /send (one value).
type ProposeRequest struct {
	Value     string `json:"value"`
	ClientID  uint64 `json:"client_id"`
	RequestID string `json:"request_id"`
}

// ElectionRequest is the body of POST /propose that starts an election
// (answered with ElectionStarted).
type ElectionRequest struct {
	IsLeaderElection bool `json:"is_leader_election"`
}

// ProposeResponse is the body of a 200 from POST /propose: the slot the
// value was chosen in, at which ballot, by which proposer.
type ProposeResponse struct {
	Status         string `json:"status"` // chosen
	Slot           uint64 `json:"slot"`
	ProposalNumber uint64 `json:"proposal_number"`
	ProposerID     uint64 `json:"proposer_id"`
	RequestID      string `json:"request_id"`
}

// Proposal is POST /propose's body as a proposer reads it, POST /send's as
// a client node does, and one command of a batch: Value is nil when the
// field is missing (a 400), and IsLeaderElection asks a proposer for an
// election instead (ElectionRequest; /send ignores it, a batch refuses
// it). A client writes a ProposeRequest.
type Proposal struct {
	Value            *string `json:"value"`
	ClientID         uint64  `json:"client_id"`
	RequestID        string  `json:"request_id"`
	IsLeaderElection bool    `json:"is_leader_election"`
}

// BatchRequest is the body of POST /propose-batch (internal: a client
// node's batch of commands to the leader).
type BatchRequest struct {
	Commands []Proposal `json:"commands"`
}

// BatchResponse is the body of a 200 from POST /propose-batch: one result
// per command, in the order of the request.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// BatchResult is the outcome of one command of a batch: its slot, or the
// error that refused it.
type BatchResult struct {
	Slot           uint64 `json:"slot"`
	ProposalNumber uint64 `json:"proposal_number"`
	ProposerID     uint64 `json:"proposer_id"`
	Error          string `json:"error,omitempty"`
}

// ValuesPage is the body of GET /get-values (a learner) and GET /read (a
// client node, which passes a learner's page on): one page of the log from
// the requested slot; NextFrom is where the next page starts.
type ValuesPage struct {
	Values        []string `json:"values"`
	Entries       []Entry  `json:"entries"`
	TotalCount    uint64   `json:"total_count"`
	ReturnedCount int      `json:"returned_count"`
	ChosenSlot    int64    `json:"chosen_slot"`
	NextFrom      uint64   `json:"next_from"`
	Consistency   string   `json:"consistency"` // serializable or linearizable
	LearnerID     uint64   `json:"learner_id"`
}

// PrepareRequest is the body of POST /prepare (an acceptor; the seed's
// synchronous phase 1), answered with a PrepareResponse.
type PrepareRequest struct {
	ProposerID     uint64 `json:"proposer_id"`
	ProposalNumber uint64 `json:"proposal_number"`
	FromSlot       uint64 `json:"from_slot"`
}

// AcceptRequest is the body of POST /accept (an acceptor; the seed's
// synchronous phase 2), answered with an AcceptResponse. ChosenSlot, when
// set, is the last slot the proposer knows chosen.
type AcceptRequest struct {
	ProposerID     uint64  `json:"proposer_id"`
	ProposalNumber uint64  `json:"proposal_number"`
	Entries        []Entry `json:"entries"`
	ChosenSlot     *int64  `json:"chosen_slot"`
}

// LearnRequest is the body of POST /learn (a learner): acceptors' notices
// of what they accepted, answered with a LearnResponse.
type LearnRequest struct {
	Notifications []Notification `json:"notifications"`
}

// Notification is one acceptor's notice that it accepted a value in a
// slot at a ballot.
type Notification struct {
	AcceptorID     uint64 `json:"acceptor_id"`
	ProposalNumber uint64 `json:"proposal_number"`
	Slot           uint64 `json:"slot"`
	Value          string `json:"value"`
	ClientID       uint64 `json:"client_id"`
	RequestID      string `json:"request_id"`
}

// NotifyRequest is the body of POST /notify (a client node): entries a
// learner pushes, answered with a NotifyResponse.
type NotifyRequest struct {
	Entries []Entry `json:"entries"`
}
