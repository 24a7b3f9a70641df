// Package clientwire is the client stream's wire format, shared by the
// nodes (server) and the Go client (client): a client asks for an upgrade
// of POST /client/stream (Upgrade: paxos-client/1, the client token as a
// bearer token, as for POST /propose and /send), and once the node answered
// 101 both sides write frames:
//
//	frame    = length:uint32 (big-endian) body
//	request  = 'P' tag client_id request_id value   (client → node)
//	response = 'R' tag code slot proposal_number proposer_id request_id
//	               alarm leader leader_addr error    (node → client)
//
// Integers are uvarints, strings a uvarint length and the bytes. The tag is
// the client's: a response carries the tag of its request, in any order, so
// many requests are in flight on one connection. code is the HTTP status the
// same request gets on POST /propose or /send (200: chosen at slot). A
// response with tag 0 is about the stream itself (a bad frame): the node
// closes the stream after it.
package clientwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	// Path and Protocol are the upgrade's endpoint and Upgrade header.
	Path     = "/client/stream"
	Protocol = "paxos-client/1"
	// MaxInFlight bounds the requests a node serves at once on one stream
	// (it stops reading until one is answered); the client keeps no more
	// in flight.
	MaxInFlight = 4096
	// MaxResponseBytes bounds a response frame (its error text is cut to
	// fit).
	MaxResponseBytes = 64 << 10
	// FrameTimeout bounds the time from a frame's header to its last byte,
	// and the writing of one frame.
	FrameTimeout = 30 * time.Second
)

const (
	kindRequest  = 'P'
	kindResponse = 'R'
)

// Request is one write.
type Request struct {
	Tag       uint64
	ClientID  uint64
	RequestID string
	Value     string
}

// Response is the outcome of the request with the same Tag.
type Response struct {
	Tag            uint64
	Code           int // HTTP status of the same request over HTTP; 200: chosen
	Slot           uint64
	ProposalNumber uint64
	ProposerID     uint64
	RequestID      string
	Alarm          string // with 503: the alarm that refused the write
	Leader         uint64 // with 409: the leader, when known
	LeaderAddr     string // with 409: its API address, when known
	Error          string
}

// FrameSizeError is a frame over the reader's limit.
type FrameSizeError struct{ Size, Limit int64 }

func (e *FrameSizeError) Error() string {
	return fmt.Sprintf("frame of %d bytes, the limit is %d", e.Size, e.Limit)
}

// ReadFrame reads one frame's body of at most limit bytes from br into buf
// (reused when big enough). The body is read as it arrives, never allocated
// from the header alone. deadline, when not nil, is called once the header
// is in, to bound the rest.
func ReadFrame(br *bufio.Reader, limit int64, buf []byte, deadline func()) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(head[:]))
	if n > limit {
		return nil, &FrameSizeError{Size: n, Limit: limit}
	}
	if deadline != nil {
		deadline()
	}
	b := bytes.NewBuffer(buf[:0])
	if _, err := io.CopyN(b, br, n); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// AppendRequest appends r as a frame to b.
func AppendRequest(b []byte, r Request) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0, kindRequest)
	b = binary.AppendUvarint(b, r.Tag)
	b = binary.AppendUvarint(b, r.ClientID)
	b = appendString(b, r.RequestID)
	b = appendString(b, r.Value)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// AppendResponse appends r as a frame to b, its error text cut so that the
// frame stays within MaxResponseBytes.
func AppendResponse(b []byte, r Response) []byte {
	room := MaxResponseBytes - 128 - len(r.RequestID) - len(r.Alarm) - len(r.LeaderAddr)
	if len(r.Error) > room {
		r.Error = r.Error[:max(room, 0)]
	}
	at := len(b)
	b = append(b, 0, 0, 0, 0, kindResponse)
	for _, v := range []uint64{r.Tag, uint64(r.Code), r.Slot, r.ProposalNumber, r.ProposerID} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendString(b, r.RequestID)
	b = appendString(b, r.Alarm)
	b = binary.AppendUvarint(b, r.Leader)
	b = appendString(b, r.LeaderAddr)
	b = appendString(b, r.Error)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// DecodeRequest decodes a request frame's body. The strings are copies.
func DecodeRequest(body []byte) (Request, error) {
	d := decoder{b: body}
	var r Request
	d.kind(kindRequest)
	r.Tag = d.uvarint()
	r.ClientID = d.uvarint()
	r.RequestID = d.string()
	r.Value = d.string()
	if err := d.done(); err != nil {
		return Request{}, fmt.Errorf("request frame: %w", err)
	}
	if r.Tag == 0 {
		return Request{}, errors.New("request frame: tag 0 is reserved for the stream's own errors")
	}
	return r, nil
}

// DecodeResponse decodes a response frame's body.
func DecodeResponse(body []byte) (Response, error) {
	d := decoder{b: body}
	var r Response
	d.kind(kindResponse)
	r.Tag = d.uvarint()
	code := d.uvarint()
	r.Slot = d.uvarint()
	r.ProposalNumber = d.uvarint()
	r.ProposerID = d.uvarint()
	r.RequestID = d.string()
	r.Alarm = d.string()
	r.Leader = d.uvarint()
	r.LeaderAddr = d.string()
	r.Error = d.string()
	if err := d.done(); err != nil {
		return Response{}, fmt.Errorf("response frame: %w", err)
	}
	if code < 100 || code > 599 {
		return Response{}, fmt.Errorf("response frame: status %d", code)
	}
	r.Code = int(code)
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads fields until the first error, which done reports.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) kind(want byte) {
	if len(d.b) == 0 || d.b[0] != want {
		d.err = fmt.Errorf("want a frame of kind %q", want)
		return
	}
	d.b = d.b[1:]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or overlong integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("a string of %d bytes with %d left in the frame", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last field", len(d.b))
	}
	return d.err
}
