package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/paxos-go/paxos/replog"
)

// The compact binary encoding of a batch of protocol messages, used between
// nodes (Content-Type binaryContentType). JSON stays available on the same
// endpoint for people poking at it with curl.
//
//	batch   = version:byte count:uvarint message*
//	message = type:byte from to ballot slot commit probe compact flags :uvarint
//	flags   = 1 (truncated) | 2 (force) | 4 (digests: values are Command.Digest)
//	          nslots:uvarint slot:uvarint* nentries:uvarint entry*
//	entry   = slot ballot client_id :uvarint request_id:bytes value:bytes
//	bytes   = len:uvarint data
const (
	binaryContentType = "application/x-paxos-batch"
	// codecVersion 5: MsgChosen to proposers and client nodes carries
	// digests (flag 4); a node of version 4 would take them for values.
	codecVersion = 5
)

var errCodec = errors.New("malformed message batch")

// encodeBatch appends the encoding of msgs to buf.
func encodeBatch(buf []byte, msgs []replog.Message) []byte {
	buf = append(buf, codecVersion)
	buf = binary.AppendUvarint(buf, uint64(len(msgs)))
	for i := range msgs {
		m := &msgs[i]
		buf = append(buf, byte(m.Type))
		for _, v := range header(m) {
			buf = binary.AppendUvarint(buf, v)
		}
		buf = binary.AppendUvarint(buf, uint64(len(m.Slots)))
		for _, s := range m.Slots {
			buf = binary.AppendUvarint(buf, s)
		}
		buf = binary.AppendUvarint(buf, uint64(len(m.Entries)))
		for j := range m.Entries {
			e := &m.Entries[j]
			buf = binary.AppendUvarint(buf, e.Slot)
			buf = binary.AppendUvarint(buf, uint64(e.Ballot))
			buf = binary.AppendUvarint(buf, e.Command.ClientID)
			buf = binary.AppendUvarint(buf, uint64(len(e.Command.RequestID)))
			buf = append(buf, e.Command.RequestID...)
			buf = binary.AppendUvarint(buf, uint64(len(e.Command.Value)))
			buf = append(buf, e.Command.Value...)
		}
	}
	return buf
}

// header returns the uvarint fields of m that follow its type.
func header(m *replog.Message) [8]uint64 {
	flags := uint64(0)
	if m.Truncated {
		flags |= 1
	}
	if m.Force {
		flags |= 2
	}
	if m.Digests {
		flags |= 4
	}
	return [...]uint64{uint64(m.From), uint64(m.To), uint64(m.Ballot), m.Slot, m.Commit, m.Probe, m.Compact, flags}
}

// batchOverhead is the most a batch takes besides its messages: the
// version and the count.
const batchOverhead = 1 + binary.MaxVarintLen64

// encodedSize returns how many bytes encodeBatch writes for m, so a sender
// can cut batches to a size without encoding them twice.
func encodedSize(m *replog.Message) int {
	n := 1 + uvarintLen(uint64(len(m.Slots))) + uvarintLen(uint64(len(m.Entries)))
	for _, v := range header(m) {
		n += uvarintLen(v)
	}
	for _, s := range m.Slots {
		n += uvarintLen(s)
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		n += uvarintLen(e.Slot) + uvarintLen(uint64(e.Ballot)) + uvarintLen(e.Command.ClientID) +
			uvarintLen(uint64(len(e.Command.RequestID))) + len(e.Command.RequestID) +
			uvarintLen(uint64(len(e.Command.Value))) + len(e.Command.Value)
	}
	return n
}

// uvarintLen is the length of v's uvarint encoding.
func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// decoder reads the encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left (each item takes at
// least min bytes), so a hostile length cannot make us allocate.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = errCodec
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// bytes reads a string of at most limit bytes (limit < 0: any length).
func (d *decoder) bytes(limit int) string {
	n := d.count(1)
	if d.err == nil && limit >= 0 && n > limit {
		d.err = fmt.Errorf("%w: a string of %d bytes where the limit is %d", errCodec, n, limit)
	}
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeBatch decodes a batch; malformed input is an error, never a panic.
// A request ID over MaxRequestIDBytes makes the whole batch malformed.
func decodeBatch(b []byte) ([]replog.Message, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version", errCodec)
	}
	d := &decoder{b: b[1:]}
	// Each message takes at least 11 bytes; grow as they decode rather than
	// trust the count.
	n := d.count(11)
	msgs := make([]replog.Message, 0, min(n, 1024))
	for i := 0; i < n && d.err == nil; i++ {
		msgs = append(msgs, replog.Message{})
		if len(d.b) == 0 {
			return nil, errCodec
		}
		m := &msgs[i]
		m.Type = replog.MsgType(d.b[0])
		d.b = d.b[1:]
		m.From, m.To, m.Ballot = replog.ID(d.uvarint()), replog.ID(d.uvarint()), replog.Ballot(d.uvarint())
		m.Slot, m.Commit, m.Probe, m.Compact = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
		flags := d.uvarint()
		m.Truncated, m.Force, m.Digests = flags&1 != 0, flags&2 != 0, flags&4 != 0
		if n := d.count(1); n > 0 {
			m.Slots = make([]uint64, n)
			for j := range m.Slots {
				m.Slots[j] = d.uvarint()
			}
		}
		if n := d.count(5); n > 0 {
			m.Entries = make([]replog.Entry, n)
			for j := range m.Entries {
				e := &m.Entries[j]
				e.Slot, e.Ballot = d.uvarint(), replog.Ballot(d.uvarint())
				e.Command.ClientID = d.uvarint()
				e.Command.RequestID = d.bytes(MaxRequestIDBytes)
				e.Command.Value = d.bytes(-1)
			}
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCodec, len(d.b))
	}
	return msgs, d.err
}
