package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/api"
)

// A client node's response log is bounded in bytes as well as in count:
// it kept the values of its last 1,000 to 2,000 responses, a GiB with
// values of 1 MiB (issue 13). GET /get-responses lists the newest 1,000
// within maxResponseBytes of values, and always the newest one.
func TestResponsesBoundedInBytes(t *testing.T) {
	for _, tc := range []struct {
		name              string
		records, valueLen int
		listed            int
	}{
		{"small values: the newest 1,000", 5000, 64, maxResponses},
		{"64 KiB values: 4 MiB of them", 2000, 64 << 10, maxResponseBytes / (64 << 10)},
		{"one value over the bound: the newest alone", 3, maxResponseBytes + 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClientRole(nil)
			peak := 0
			for i := range tc.records {
				v := fmt.Sprintf("%06d", i) + strings.Repeat("v", tc.valueLen-6)
				slot := uint64(i)
				c.record(clientResponse{RequestID: fmt.Sprint(i), Value: v, Status: "value sent", Slot: &slot})
				peak = max(peak, c.responseBytes)
			}
			if limit := 2*maxResponseBytes + tc.valueLen; peak > limit {
				t.Errorf("the log held %d bytes of values, want at most %d", peak, limit)
			}
			w := httptest.NewRecorder()
			c.handleResponses(w, httptest.NewRequest("GET", "/get-responses", nil), nil)
			var got api.Responses
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.listed || len(got.Responses) != tc.listed {
				t.Fatalf("GET /get-responses listed %d (count %d), want %d", len(got.Responses), got.Count, tc.listed)
			}
			for i, r := range got.Responses {
				want := tc.records - tc.listed + i
				if r.RequestID != fmt.Sprint(want) || len(r.Value) != tc.valueLen || !strings.HasPrefix(r.Value, fmt.Sprintf("%06d", want)) {
					t.Fatalf("response %d is request %s with a %d-byte value, want request %d, intact", i, r.RequestID, len(r.Value), want)
				}
			}
			if v := c.view().(*api.ClientView); v.Responses != tc.listed {
				t.Errorf("the view says %d responses, want %d", v.Responses, tc.listed)
			}
		})
	}
}
