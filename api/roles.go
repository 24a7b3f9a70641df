package api

// Node is the part of every role's view (GET /status, /view-logs, the
// status page) that names the node and lists the alarms it knows of.
type Node struct {
	ID     uint64  `json:"id"`
	Name   string  `json:"name"`
	Role   string  `json:"role"`
	Alarms []Alarm `json:"alarms"`
	// Logs are the node's most recent log lines: GET /view-logs only.
	Logs []string `json:"logs,omitzero"`
}

// Common returns the part every view shares, to fill in.
func (n *Node) Common() *Node { return n }

// ProposerView is a proposer's GET /status and /view-logs.
type ProposerView struct {
	Node
	State           string          `json:"state"` // leader, follower or candidate
	IsLeader        bool            `json:"is_leader"`
	CurrentLeader   *uint64         `json:"current_leader"`
	InElection      bool            `json:"in_election"`
	ProposalNumber  uint64          `json:"proposal_number"`
	ProposalCounter uint64          `json:"proposal_counter"`
	HighestSeen     uint64          `json:"highest_seen"`
	AcceptorsCount  int             `json:"acceptors_count"`
	LearnersCount   int             `json:"learners_count"`
	Quorum          int             `json:"quorum"`
	NextSlot        uint64          `json:"next_slot"`
	ChosenSlot      int64           `json:"chosen_slot"` // -1 while nothing is chosen
	InFlight        int             `json:"in_flight"`
	Queued          int             `json:"queued"`
	Pending         int             `json:"pending"`
	Metrics         ProposerMetrics `json:"metrics"`
}

// ProposerMetrics are a proposer's counters since it started.
type ProposerMetrics struct {
	ProposalsTotal  uint64 `json:"proposals_total"`
	ProposalsChosen uint64 `json:"proposals_chosen"`
	ProposalsFailed uint64 `json:"proposals_failed"`
	LeaderChanges   uint64 `json:"leader_changes"`
}

// AcceptorView is an acceptor's GET /view-logs.
type AcceptorView struct {
	Node
	Promised              uint64            `json:"promised"`
	HighestPromisedNumber uint64            `json:"highest_promised_number"`
	AcceptedCount         uint64            `json:"accepted_count"`
	LastAcceptedSlot      *int64            `json:"last_accepted_slot"` // null when none
	AcceptedProposal      *AcceptedProposal `json:"accepted_proposal"`  // of the last accepted slot; null when none
	State                 AcceptorState     `json:"state"`
	Voting                bool              `json:"voting"`
	DBPath                string            `json:"db_path"`
	DBSizeBytes           int64             `json:"db_size_bytes"`
	Metrics               AcceptorMetrics   `json:"metrics"`
}

// AcceptedProposal is the last slot an acceptor accepted.
type AcceptedProposal struct {
	Number uint64 `json:"number"`
	Value  string `json:"value"`
	Slot   uint64 `json:"slot"`
}

// AcceptorState is the seed's summary of an acceptor.
type AcceptorState struct {
	MaxPromised   uint64  `json:"max_promised"`
	MaxAccepted   uint64  `json:"max_accepted"`
	AcceptedValue *string `json:"accepted_value"`
}

// AcceptorMetrics are an acceptor's counters since it started.
type AcceptorMetrics struct {
	Promises   uint64 `json:"promises"`
	Accepts    uint64 `json:"accepts"`
	Rejections uint64 `json:"rejections"`
}

// LearnerView is a learner's GET /view-logs.
type LearnerView struct {
	Node
	LearnedValuesCount  uint64         `json:"learned_values_count"`
	RecentLearnedValues []RecentEntry  `json:"recent_learned_values"`
	ChosenSlot          int64          `json:"chosen_slot"` // -1 while nothing is chosen
	Gaps                uint64         `json:"gaps"`
	DBPath              string         `json:"db_path"`
	DBSizeBytes         int64          `json:"db_size_bytes"`
	Metrics             LearnerMetrics `json:"metrics"`
}

// RecentEntry is one of the last entries of a learner's log.
type RecentEntry struct {
	Slot uint64 `json:"slot"`
	// ProposalNumber is always null: the log keeps values, not the ballot
	// they were chosen at.
	ProposalNumber *uint64 `json:"proposal_number"`
	Value          string  `json:"value"`
	RequestID      string  `json:"request_id"`
	Noop           bool    `json:"noop"`
	Duplicate      bool    `json:"duplicate"`
}

// LearnerMetrics are a learner's counters since it started.
type LearnerMetrics struct {
	SlotsLearned uint64 `json:"slots_learned"`
}

// ClientView is a client node's GET /view-logs.
type ClientView struct {
	Node
	CurrentLeader *uint64       `json:"current_leader"`
	Responses     int           `json:"responses"`
	Metrics       ClientMetrics `json:"metrics"`
}

// ClientMetrics are a client node's counters since it started.
type ClientMetrics struct {
	Sent          uint64 `json:"sent"`
	Failed        uint64 `json:"failed"`
	Notifications uint64 `json:"notifications"`
}
