package clientwire

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Frames read back as written, one after another on one reader.
func TestRoundTrip(t *testing.T) {
	reqs := []Request{{Tag: 1, Value: "v"}, {Tag: 1 << 40, ClientID: 7, RequestID: "r-1", Value: strings.Repeat("x", 70000)}}
	resps := []Response{{Tag: 1, Code: 200, Slot: 9, ProposalNumber: 101, ProposerID: 1, RequestID: "r-1"},
		{Tag: 2, Code: 409, Leader: 2, LeaderAddr: "127.0.0.1:3002", Error: "Not the leader"},
		{Tag: 3, Code: 503, Alarm: "NOSPACE", Error: strings.Repeat("e", 2*MaxResponseBytes)}}
	var b []byte
	for _, r := range reqs {
		b = AppendRequest(b, r)
	}
	for _, r := range resps {
		b = AppendResponse(b, r)
	}
	br := bufio.NewReader(bytes.NewReader(b))
	for _, want := range reqs {
		body, err := ReadFrame(br, 1<<20, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecodeRequest(body); err != nil || got != want {
			t.Fatalf("request %+v, %v; want %+v", got, err, want)
		}
	}
	for _, want := range resps {
		body, err := ReadFrame(br, MaxResponseBytes, nil, nil)
		if err != nil {
			t.Fatalf("response frame: %v", err)
		}
		got, err := DecodeResponse(body)
		if len(want.Error) > MaxResponseBytes {
			if !strings.HasPrefix(want.Error, got.Error) || len(got.Error) < MaxResponseBytes/2 {
				t.Fatalf("a long error cut to %d bytes", len(got.Error))
			}
			want.Error = got.Error
		}
		if err != nil || got != want {
			t.Fatalf("response %+v, %v; want %+v", got, err, want)
		}
	}
	var big *FrameSizeError
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(AppendRequest(nil, reqs[1]))), 1000, nil, nil); !errors.As(err, &big) {
		t.Fatalf("a frame over the limit: %v", err)
	}
}

// No body makes a decoder panic; what decodes re-encodes to what it says.
func FuzzDecode(f *testing.F) {
	f.Add(AppendRequest(nil, Request{Tag: 3, ClientID: 1, RequestID: "id", Value: "v"})[4:])
	f.Add(AppendResponse(nil, Response{Tag: 3, Code: 200, RequestID: "id", LeaderAddr: "a:1", Error: "e"})[4:])
	f.Add([]byte{'P', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := DecodeRequest(body); err == nil {
			if again, err := DecodeRequest(AppendRequest(nil, r)[4:]); err != nil || again != r || r.Tag == 0 {
				t.Fatalf("request %+v decoded from %x re-decodes as %+v, %v", r, body, again, err)
			}
		}
		if r, err := DecodeResponse(body); err == nil {
			if again, err := DecodeResponse(AppendResponse(nil, r)[4:]); err != nil || again != r {
				t.Fatalf("response %+v decoded from %x re-decodes as %+v, %v", r, body, again, err)
			}
		}
	})
}
