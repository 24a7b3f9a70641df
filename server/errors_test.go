package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/replog"
)

// TestErrNotLeader: the node's not-leader error is the core's (one
// sentinel to errors.Is), answers 409, and writes the wire's text.
func TestErrNotLeader(t *testing.T) {
	if !errors.Is(ErrNotLeader, replog.ErrNotLeader) {
		t.Errorf("errors.Is(ErrNotLeader, replog.ErrNotLeader) is false")
	}
	if !errors.Is(fmt.Errorf("forward: %w", ErrNotLeader), api.ErrNotLeader) {
		t.Errorf("errors.Is(ErrNotLeader, api.ErrNotLeader) is false")
	}
	for _, err := range []error{ErrNotLeader, replog.ErrNotLeader} {
		if got := statusOf(err); got != http.StatusConflict {
			t.Errorf("statusOf(%v) = %d, want 409", err, got)
		}
	}
	rec := httptest.NewRecorder()
	writeError(rec, ErrNotLeader, &api.Error{CurrentLeader: &api.Leader{}, RetrySuggested: true})
	if want := `{"error":"Not the leader","current_leader":null,"retry_suggested":true}` + "\n"; rec.Code != 409 || rec.Body.String() != want {
		t.Errorf("writeError: %d %q, want 409 %q", rec.Code, rec.Body, want)
	}
}
