package api

import (
	"encoding/json"
	"testing"
	"time"
)

// TestGolden pins the JSON of every wire type: a renamed field, a lost
// omitempty or a changed null is a change of the API (SPEC §5) that
// paxosctl, the scripts and users see. Change a line here only with the
// API.
func TestGolden(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	i := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	node := Node{ID: 1, Name: "proposer1", Role: "proposer", Alarms: []Alarm{}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"error", Error{Error: "bad request: x"}, `{"error":"bad request: x"}`},
		{"error alarm", Error{Error: "no space", Alarm: "NOSPACE"}, `{"error":"no space","alarm":"NOSPACE"}`},
		{"error not leader, none known", Error{Error: NotLeaderText, RequestID: "9-1", CurrentLeader: &Leader{}, RetrySuggested: true},
			`{"error":"Not the leader","request_id":"9-1","current_leader":null,"retry_suggested":true}`},
		{"error not leader, known", Error{Error: NotLeaderText, CurrentLeader: &Leader{ID: 2}}, `{"error":"Not the leader","current_leader":2}`},
		{"error 405", Error{Error: "method PUT not allowed on /x", Allow: "GET, HEAD"}, `{"error":"method PUT not allowed on /x","allow":"GET, HEAD"}`},
		{"error 429", Error{Error: "too many requests", ProposerID: 2, RetryAfterMS: i(0)}, `{"error":"too many requests","proposer_id":2,"retry_after_ms":0}`},
		{"optional ID", struct{ A, B *uint64 }{OptionalID(0), OptionalID(3)}, `{"A":null,"B":3}`},
		{"health", Health{ID: 4, Name: "acceptor1", Role: "acceptor", Status: "healthy", UptimeSeconds: 7},
			`{"id":4,"name":"acceptor1","role":"acceptor","status":"healthy","uptime_seconds":7}`},
		{"health unhealthy", Health{ID: 4, Name: "acceptor1", Role: "acceptor", Status: "unhealthy", Error: "disk", Alarms: []Alarm{{"NOSPACE", "acceptor1", "full"}}},
			`{"id":4,"name":"acceptor1","role":"acceptor","status":"unhealthy","error":"disk","uptime_seconds":0,"alarms":[{"alarm":"NOSPACE","node":"acceptor1","reason":"full"}]}`},
		{"ready", Ready{ID: 9, Name: "client1", Role: "client", Status: "ready"}, `{"id":9,"name":"client1","role":"client","status":"ready"}`},
		{"not ready", Ready{ID: 9, Name: "client1", Role: "client", Status: "not ready", Error: "no learner answers"},
			`{"id":9,"name":"client1","role":"client","status":"not ready","error":"no learner answers"}`},
		{"entry", Entry{Slot: 3, Value: "x", ClientID: 9, RequestID: "9-17"}, `{"slot":3,"value":"x","client_id":9,"request_id":"9-17"}`},
		{"entry with ballot", Entry{Slot: 3, ProposalNumber: 201, Value: "x"}, `{"slot":3,"proposal_number":201,"value":"x","client_id":0,"request_id":""}`},
		{"proposer view", ProposerView{Node: node, State: "leader", IsLeader: true, CurrentLeader: u(1), ProposalNumber: 101, ProposalCounter: 1,
			HighestSeen: 101, AcceptorsCount: 3, LearnersCount: 2, Quorum: 2, NextSlot: 5, ChosenSlot: 4, InFlight: 1, Queued: 2, Pending: 3,
			Metrics: ProposerMetrics{ProposalsTotal: 5, ProposalsChosen: 4, ProposalsFailed: 1, LeaderChanges: 1}},
			`{"id":1,"name":"proposer1","role":"proposer","alarms":[],"state":"leader","is_leader":true,"current_leader":1,"in_election":false,` +
				`"proposal_number":101,"proposal_counter":1,"highest_seen":101,"acceptors_count":3,"learners_count":2,"quorum":2,"next_slot":5,` +
				`"chosen_slot":4,"in_flight":1,"queued":2,"pending":3,"metrics":{"proposals_total":5,"proposals_chosen":4,"proposals_failed":1,"leader_changes":1}}`},
		{"view logs", ProposerView{Node: Node{ID: 2, Name: "proposer2", Role: "proposer", Alarms: []Alarm{}, Logs: []string{}}, ChosenSlot: -1},
			`{"id":2,"name":"proposer2","role":"proposer","alarms":[],"logs":[],"state":"","is_leader":false,"current_leader":null,"in_election":false,` +
				`"proposal_number":0,"proposal_counter":0,"highest_seen":0,"acceptors_count":0,"learners_count":0,"quorum":0,"next_slot":0,` +
				`"chosen_slot":-1,"in_flight":0,"queued":0,"pending":0,"metrics":{"proposals_total":0,"proposals_chosen":0,"proposals_failed":0,"leader_changes":0}}`},
		{"acceptor view", AcceptorView{Node: Node{ID: 4, Name: "acceptor1", Role: "acceptor", Alarms: []Alarm{}}, Promised: 101, HighestPromisedNumber: 101,
			AcceptedCount: 2, LastAcceptedSlot: i(1), AcceptedProposal: &AcceptedProposal{Number: 101, Value: "b", Slot: 1},
			State: AcceptorState{MaxPromised: 101, MaxAccepted: 101, AcceptedValue: s("b")}, Voting: true, DBPath: "/d/a.db", DBSizeBytes: 4096,
			Metrics: AcceptorMetrics{Promises: 1, Accepts: 2, Rejections: 0}},
			`{"id":4,"name":"acceptor1","role":"acceptor","alarms":[],"promised":101,"highest_promised_number":101,"accepted_count":2,` +
				`"last_accepted_slot":1,"accepted_proposal":{"number":101,"value":"b","slot":1},"state":{"max_promised":101,"max_accepted":101,` +
				`"accepted_value":"b"},"voting":true,"db_path":"/d/a.db","db_size_bytes":4096,"metrics":{"promises":1,"accepts":2,"rejections":0}}`},
		{"acceptor view, nothing accepted", AcceptorView{Node: Node{ID: 4, Name: "acceptor1", Role: "acceptor", Alarms: []Alarm{}}},
			`{"id":4,"name":"acceptor1","role":"acceptor","alarms":[],"promised":0,"highest_promised_number":0,"accepted_count":0,` +
				`"last_accepted_slot":null,"accepted_proposal":null,"state":{"max_promised":0,"max_accepted":0,"accepted_value":null},` +
				`"voting":false,"db_path":"","db_size_bytes":0,"metrics":{"promises":0,"accepts":0,"rejections":0}}`},
		{"learner view", LearnerView{Node: Node{ID: 7, Name: "learner1", Role: "learner", Alarms: []Alarm{}}, LearnedValuesCount: 1,
			RecentLearnedValues: []RecentEntry{{Slot: 0, Value: "a", RequestID: "9-1"}, {Slot: 1, Noop: true}}, ChosenSlot: 1, Gaps: 0,
			DBPath: "/d/l.db", DBSizeBytes: 10, Metrics: LearnerMetrics{SlotsLearned: 2}},
			`{"id":7,"name":"learner1","role":"learner","alarms":[],"learned_values_count":1,"recent_learned_values":[` +
				`{"slot":0,"proposal_number":null,"value":"a","request_id":"9-1","noop":false,"duplicate":false},` +
				`{"slot":1,"proposal_number":null,"value":"","request_id":"","noop":true,"duplicate":false}],"chosen_slot":1,"gaps":0,` +
				`"db_path":"/d/l.db","db_size_bytes":10,"metrics":{"slots_learned":2}}`},
		{"client view", ClientView{Node: Node{ID: 9, Name: "client1", Role: "client", Alarms: []Alarm{}}, Responses: 2,
			Metrics: ClientMetrics{Sent: 2, Failed: 1, Notifications: 3}},
			`{"id":9,"name":"client1","role":"client","alarms":[],"current_leader":null,"responses":2,"metrics":{"sent":2,"failed":1,"notifications":3}}`},
		{"propose", ProposeRequest{Value: "x", ClientID: 9, RequestID: "9-17"}, `{"value":"x","client_id":9,"request_id":"9-17"}`},
		{"prepare request", PrepareRequest{ProposerID: 1, ProposalNumber: 301, FromSlot: 0}, `{"proposer_id":1,"proposal_number":301,"from_slot":0}`},
		{"accept request", AcceptRequest{ProposerID: 1, ProposalNumber: 301, Entries: []Entry{{Slot: 12, Value: "x", ClientID: 9, RequestID: "9-17"}}, ChosenSlot: i(11)},
			`{"proposer_id":1,"proposal_number":301,"entries":[{"slot":12,"value":"x","client_id":9,"request_id":"9-17"}],"chosen_slot":11}`},
		{"accept request, no chosen slot", AcceptRequest{ProposerID: 1, ProposalNumber: 301, Entries: []Entry{}},
			`{"proposer_id":1,"proposal_number":301,"entries":[],"chosen_slot":null}`},
		{"learn request", LearnRequest{Notifications: []Notification{{AcceptorID: 4, ProposalNumber: 301, Slot: 12, Value: "x", ClientID: 9, RequestID: "9-17"}}},
			`{"notifications":[{"acceptor_id":4,"proposal_number":301,"slot":12,"value":"x","client_id":9,"request_id":"9-17"}]}`},
		{"notify request", NotifyRequest{Entries: []Entry{{Slot: 12, Value: "x", RequestID: "9-17"}}},
			`{"entries":[{"slot":12,"value":"x","client_id":0,"request_id":"9-17"}]}`},
		{"propose chosen", ProposeResponse{Status: "chosen", Slot: 12, ProposalNumber: 301, ProposerID: 1, RequestID: "9-17"},
			`{"status":"chosen","slot":12,"proposal_number":301,"proposer_id":1,"request_id":"9-17"}`},
		{"proposal election", Proposal{IsLeaderElection: true}, `{"value":null,"client_id":0,"request_id":"","is_leader_election":true}`},
		{"batch", BatchRequest{Commands: []Proposal{{Value: s("x"), ClientID: 9, RequestID: "9-17"}}},
			`{"commands":[{"value":"x","client_id":9,"request_id":"9-17","is_leader_election":false}]}`},
		{"batch results", BatchResponse{Results: []BatchResult{{Slot: 12, ProposalNumber: 301, ProposerID: 1}, {Error: "not the leader"}}},
			`{"results":[{"slot":12,"proposal_number":301,"proposer_id":1},{"slot":0,"proposal_number":0,"proposer_id":0,"error":"not the leader"}]}`},
		{"values page", ValuesPage{Values: []string{"x"}, Entries: []Entry{{Slot: 3, Value: "x", ClientID: 9, RequestID: "9-17"}}, TotalCount: 1,
			ReturnedCount: 1, ChosenSlot: 3, NextFrom: 4, Consistency: "serializable", LearnerID: 7},
			`{"values":["x"],"entries":[{"slot":3,"value":"x","client_id":9,"request_id":"9-17"}],"total_count":1,"returned_count":1,` +
				`"chosen_slot":3,"next_from":4,"consistency":"serializable","learner_id":7}`},
		{"values page, empty log", ValuesPage{ChosenSlot: -1},
			`{"values":null,"entries":null,"total_count":0,"returned_count":0,"chosen_slot":-1,"next_from":0,"consistency":"","learner_id":0}`},
		{"election request", ElectionRequest{IsLeaderElection: true}, `{"is_leader_election":true}`},
		{"election", ElectionStarted{Status: "election_started", ProposerID: 2}, `{"status":"election_started","proposer_id":2}`},
		{"send", SendResponse{Status: "value sent", Slot: 12, ProposerID: 1, RequestID: "9-17", ProposalNumber: 301},
			`{"status":"value sent","slot":12,"proposer_id":1,"request_id":"9-17","proposal_number":301}`},
		{"promise", PrepareResponse{Status: "promise", AcceptorID: 4, Promised: 301, Accepted: []Entry{}, ChosenWatermark: u(0)},
			`{"status":"promise","acceptor_id":4,"promised":301,"accepted":[],"chosen_watermark":0}`},
		{"prepare rejected", PrepareResponse{Status: "rejected", AcceptorID: 4, Promised: 401}, `{"status":"rejected","acceptor_id":4,"promised":401}`},
		{"accepted", AcceptResponse{Status: "accepted", AcceptorID: 4, Promised: 301, ProposalNumber: u(301), Slots: []uint64{12}},
			`{"status":"accepted","acceptor_id":4,"promised":301,"proposal_number":301,"slots":[12]}`},
		{"accept rejected", AcceptResponse{Status: "rejected", AcceptorID: 4, Promised: 401}, `{"status":"rejected","acceptor_id":4,"promised":401}`},
		{"learn", LearnResponse{Status: "acknowledged", Processed: 1, Learned: 1, Counted: true}, `{"status":"acknowledged","processed":1,"learned":1,"counted":true}`},
		{"notify", NotifyResponse{Status: "ok", Received: 2}, `{"status":"ok","received":2}`},
		{"responses", Responses{Responses: []ClientResponse{{RequestID: "9-1", Value: "a", Status: "value sent", Slot: u(0), ProposerID: 1, Learned: true, At: at},
			{RequestID: "9-2", Value: "b", Status: "failed", Error: "timed out", At: at}}, Count: 2},
			`{"responses":[{"request_id":"9-1","value":"a","status":"value sent","slot":0,"proposer_id":1,"learned":true,"at":"2026-01-02T03:04:05Z"},` +
				`{"request_id":"9-2","value":"b","status":"failed","slot":null,"error":"timed out","learned":false,"at":"2026-01-02T03:04:05Z"}],"count":2}`},
		{"read index", ReadIndex{Index: 12, LeaderID: 1}, `{"index":12,"leader_id":1}`},
		{"gossip push", GossipPushResponse{Status: "ok", Updates: 1, NodeCount: 10}, `{"status":"ok","updates":1,"node_count":10}`},
		{"gossip keys", GossipKeysReply{ID: 1, Name: "proposer1", Role: "proposer", Status: "ok", Op: "install", Primary: "ab", Keys: []string{"ab", "cd"}, Fingerprints: []string{"ab"}},
			`{"id":1,"name":"proposer1","role":"proposer","status":"ok","op":"install","primary":"ab","keys":["ab","cd"],"fingerprints":["ab"]}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
