package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

// fuzzMaxValue is the value limit of the fuzzed nodes: small, so that the
// fuzzer reaches both sides of it.
const fuzzMaxValue = 256

// fuzzNode builds an offline node of role with a small value limit and a
// short request timeout.
func fuzzNode(f *testing.F, role Role) *Server {
	f.Helper()
	return offlineNode(f, role, fuzzTune(nil))
}

// fuzzTune returns the fuzzed nodes' settings (small value limit, short
// request timeout, no fsync) followed by tune, when set.
func fuzzTune(tune func(*Config)) func(*Config) {
	return func(cfg *Config) {
		cfg.MaxValueBytes, cfg.RequestTimeout, cfg.NoSync = fuzzMaxValue, time.Millisecond, true
		if tune != nil {
			tune(cfg)
		}
	}
}

// offlineNode builds the first node of role (not serving, no gossip, its
// loop running) whose peers all live at an address nothing answers on, so
// nothing leaves the process. tune, when set, changes its configuration.
func offlineNode(tb testing.TB, role Role, tune func(*Config)) *Server {
	tb.Helper()
	cfg := DefaultConfig()
	for _, ps := range [][]Peer{cfg.Proposers, cfg.Acceptors, cfg.Learners, cfg.Clients} {
		for i := range ps {
			ps[i].Addr = "127.0.0.1:1"
		}
	}
	p := StandardPeers(role, "127.0.0.1")[0]
	cfg.ID, cfg.Role, cfg.Listen = p.ID, role, "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	startLoop(tb, s)
	return s
}

// fuzzPost posts body to the node's handler, with the Content-Type and
// the other headers given in pairs, and checks the answer is a 2xx or a
// 4xx with a JSON error body.
func fuzzPost(t *testing.T, s *Server, path, contentType string, body []byte, header ...string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	res := badResult{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if err := checkAnswer(http.MethodPost, res); err != nil {
		t.Fatalf("POST %s %q: %v", path, body, err)
	}
	if rec.Code >= 300 && rec.Code < 400 {
		t.Fatalf("POST %s %q: %d", path, body, rec.Code)
	}
	return rec.Code
}

// FuzzDecodePropose posts arbitrary bodies to /propose on a proposer that
// cannot reach any acceptor: a body is refused (400/413), starts an election
// (200) or is an election refused for coming too soon after the last one
// (429), or passes validation and finds no leader (409). Whatever passes
// validation must be a valid command.
func FuzzDecodePropose(f *testing.F) {
	for _, seed := range []string{
		`{"value":"x","client_id":9,"request_id":"9-17"}`,
		`{"value":"force_election","client_id":9}`,
		`{"is_leader_election":true}`,
		`{"value":"please force_election now"}`,
		`{"value":""}`, `{"value":null}`, `{"value":5}`, `{"value":{}}`, `{}`, `null`, `[]`, `"x"`, `5`, ``,
		`{"value":"x","client_id":-1}`, `{"value":"x","client_id":"x"}`, `{"value":"x","client_id":1e400}`,
		`{"value":"x","request_id":"` + strings.Repeat("r", 257) + `"}`,
		`{"value":"` + strings.Repeat("a", fuzzMaxValue) + `"}`,
		`{"value":"` + strings.Repeat("a", fuzzMaxValue+1) + `"}`,
		`{"value":"` + strings.Repeat(`\u00e9`, fuzzMaxValue/2) + `"}`,
		`{"value":"\ud800"}`, `{"value":"a` + "\xff" + `"}`, "\xef\xbb\xbf{}",
		`{"value":"x"}]`, `{"value":"x"} {}`, `{"value":"x","value":1}`, `{"VALUE":"x"}`,
		`{"value":"x","bogus":[[[[{"a":1}]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	s := fuzzNode(f, RoleProposer)
	f.Fuzz(func(t *testing.T, body []byte) {
		code := fuzzPost(t, s, "/propose", "application/json", body)
		switch code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		case http.StatusTooManyRequests:
			// Only an election request is rate limited.
			var req api.Proposal
			if json.Unmarshal(body, &req) != nil || !req.IsLeaderElection && (req.Value == nil || *req.Value != "force_election") {
				t.Fatalf("429 for a body that is not an election request: %q", body)
			}
		case http.StatusConflict:
			// Validation passed: the body must hold a valid command.
			var req api.Proposal
			if !utf8.Valid(body) || json.Unmarshal(body, &req) != nil {
				t.Fatalf("409 for a body that is not valid JSON: %q", body)
			}
			if req.Value == nil || *req.Value == "" || len(*req.Value) > fuzzMaxValue ||
				*req.Value == "force_election" || req.IsLeaderElection || len(req.RequestID) > MaxRequestIDBytes {
				t.Fatalf("an invalid command passed validation: %q", body)
			}
		default:
			t.Fatalf("status %d for %q", code, body)
		}
	})
}

// FuzzMessagesBatch posts arbitrary batches to the internal messages
// endpoint of a client node (which takes MsgChosen) as learner 7: a batch is
// refused (400/413) or taken (204), and a taken batch holds only messages of
// a known type that a learner sends, from learner 7, addressed to the node. Bodies that start with the codec version go in
// the binary encoding, the others in JSON (which never starts with it).
func FuzzMessagesBatch(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[{"type":7,"from":7,"to":9,"commit":3,"entries":[{"slot":2,"Command":{"value":"x","request_id":"9-1"}}]}]`,
		`[{"type":9,"from":1,"to":9,"ballot":101}]`, `[{"type":1,"from":1,"to":4,"ballot":101}]`,
		`[{"type":0,"to":9}]`, `[{"type":10,"to":9}]`, `[{"type":256,"to":9}]`, `[{"type":-1,"to":9}]`,
		`[{"type":7,"to":9,"entries":{}}]`, `[{"type":7,"to":9,"slots":[1,-1]}]`, `[5]`, `{}`, `null`, ``,
		`[{"type":7,"to":9,"entries":[{"Command":{"value":"` + "\xff" + `"}}]}]`, `[] []`, `[]]`,
		`[{"type":7,"to":9,"ballot":18446744073709551615,"slot":18446744073709551615}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Add(encodeBatch(nil, []replog.Message{{Type: replog.MsgChosen, From: 7, To: 9, Commit: 3,
		Entries: []replog.Entry{{Slot: 2, Command: replog.Command{Value: "x", RequestID: "9-1"}}}}}))
	f.Add(encodeBatch(nil, []replog.Message{{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 101}}))
	f.Add([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	s := fuzzNode(f, RoleClient)
	f.Fuzz(func(t *testing.T, body []byte) {
		binary := len(body) > 0 && body[0] == codecVersion
		contentType := "application/json"
		if binary {
			contentType = binaryContentType
		}
		code := fuzzPost(t, s, messagesPath, contentType, body, fromHeader, "7")
		switch code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		case http.StatusNoContent:
			var msgs []replog.Message
			var err error
			if binary {
				msgs, err = decodeBatch(body)
			} else if err = json.Unmarshal(body, &msgs); err == nil && !utf8.Valid(body) {
				err = errors.New("invalid UTF-8")
			}
			if err != nil {
				t.Fatalf("204 for a body that is not a valid batch (%v): %q", err, body)
			}
			for _, m := range msgs {
				if m.Type < replog.MsgPrepare || m.Type > replog.MsgHeartbeat || m.To != s.cfg.ID || m.From != 7 ||
					!slices.Contains(senderRoles[m.Type], RoleLearner) {
					t.Fatalf("204 for a batch with message %+v: %q", m, body)
				}
			}
		default:
			t.Fatalf("status %d for %q", code, body)
		}
	})
}
