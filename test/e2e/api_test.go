package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
)

// httpClient talks to the nodes. Each call brings its own deadline.
var httpClient = &http.Client{Transport: &http.Transport{
	MaxIdleConnsPerHost: 32,
	IdleConnTimeout:     30 * time.Second,
}}

// HTTPError is an answer other than 200.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, bytes.TrimSpace([]byte(e.Body)))
}

// do sends a request with an optional JSON body and returns the status and
// body. err is only for transport failures.
func do(ctx context.Context, method, url string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func get(ctx context.Context, url string) (int, []byte, error) {
	return do(ctx, http.MethodGet, url, nil)
}

// call sends a request and decodes a 200 answer into out; any other status
// is an *HTTPError.
func call(ctx context.Context, method, url string, in, out any) error {
	code, body, err := do(ctx, method, url, in)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return &HTTPError{Method: method, URL: url, Status: code, Body: string(body)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", method, url, body, err)
	}
	return nil
}

// Entry is one entry of a learner's log (GET /get-values, GET /read).
type Entry = api.Entry

// Page is the answer of GET /get-values and GET /read.
type Page = api.ValuesPage

// SendResult is the answer of POST /send.
type SendResult = api.SendResponse

// send writes value through a client node (POST /send) with the request ID.
func send(ctx context.Context, client *Node, value, requestID string) (SendResult, error) {
	var res SendResult
	err := call(ctx, http.MethodPost, client.URL()+"/send", api.ProposeRequest{Value: value, RequestID: requestID}, &res)
	return res, err
}

// read reads the log through a client node (GET /read).
func read(ctx context.Context, client *Node, linearizable bool) (Page, error) {
	url := client.URL() + "/read"
	if linearizable {
		url += "?consistency=linearizable"
	}
	var p Page
	err := call(ctx, http.MethodGet, url, nil, &p)
	return p, err
}

// values reads a learner's whole log (GET /get-values), page after page
// from next_from, as one Page: the values and entries of every page, the
// rest as the last page says.
func values(ctx context.Context, learner *Node) (Page, error) {
	p, _, err := pagedValues(ctx, learner)
	return p, err
}

// pagedValues is values that also says how many pages it read.
func pagedValues(ctx context.Context, learner *Node) (log Page, pages int, err error) {
	return pagesOf(learner, func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) })
}

// valuesByPage is values with a timeout for each page (GET) rather than
// one for the whole log: a log of big values takes many pages, and under
// -race on a loaded machine the whole of it takes longer than one
// request may.
func valuesByPage(learner *Node, perPage time.Duration) (Page, error) {
	p, _, err := pagesOf(learner, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), perPage)
	})
	return p, err
}

// pagesOf reads a learner's whole log page after page, each GET under a
// context from pageCtx.
func pagesOf(learner *Node, pageCtx func() (context.Context, context.CancelFunc)) (log Page, pages int, err error) {
	for from := uint64(0); ; pages++ {
		var p Page
		ctx, cancel := pageCtx()
		err := call(ctx, http.MethodGet, fmt.Sprintf("%s/get-values?from=%d", learner.URL(), from), nil, &p)
		cancel()
		if err != nil {
			return log, pages, err
		}
		p.Values, p.Entries = append(log.Values, p.Values...), append(log.Entries, p.Entries...)
		p.ReturnedCount = len(p.Values)
		log = p
		if p.NextFrom > uint64(p.ChosenSlot) || p.ChosenSlot < 0 {
			return log, pages + 1, nil
		}
		if p.NextFrom <= from {
			return log, pages + 1, fmt.Errorf("GET %s/get-values?from=%d: next_from %d, no progress", learner.URL(), from, p.NextFrom)
		}
		from = p.NextFrom
	}
}

// ProposerStatus is a proposer's GET /status.
type ProposerStatus = api.ProposerView

func proposerStatus(ctx context.Context, n *Node) (ProposerStatus, error) {
	var st ProposerStatus
	err := call(ctx, http.MethodGet, n.URL()+"/status", nil, &st)
	return st, err
}

// AcceptorState is the durable part of an acceptor's GET /view-logs.
type AcceptorState struct {
	Promised         uint64          `json:"promised"`
	AcceptedCount    uint64          `json:"accepted_count"`
	LastAcceptedSlot *int64          `json:"last_accepted_slot"`
	AcceptedProposal json.RawMessage `json:"accepted_proposal"`
}

func (a AcceptorState) String() string {
	last := "null"
	if a.LastAcceptedSlot != nil {
		last = fmt.Sprint(*a.LastAcceptedSlot)
	}
	return fmt.Sprintf("{promised:%d accepted_count:%d last_accepted_slot:%s accepted_proposal:%s}",
		a.Promised, a.AcceptedCount, last, a.AcceptedProposal)
}

func acceptorState(ctx context.Context, n *Node) (AcceptorState, error) {
	var st AcceptorState
	err := call(ctx, http.MethodGet, n.URL()+"/view-logs", nil, &st)
	return st, err
}

// mustSend writes value through a client node, retrying for up to 15s.
func mustSend(t *testing.T, client *Node, value string) SendResult {
	t.Helper()
	return mustSendID(t, client, value, "must-"+value)
}

// mustSendID is mustSend with the request ID given.
func mustSendID(t *testing.T, client *Node, value, requestID string) SendResult {
	t.Helper()
	var res SendResult
	eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
		defer cancel()
		var err error
		res, err = send(ctx, client, value, requestID)
		return err
	})
	return res
}
