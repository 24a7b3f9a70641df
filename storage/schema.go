package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

// The bbolt layout of every store file. A store creates the buckets it uses
// when it opens the file.
var (
	// bucketMeta holds the store's uint64 values under the key* names.
	bucketMeta = []byte("meta")
	// bucketAccepted maps slotKey(slot) to an entry record (acceptor).
	bucketAccepted = []byte("accepted")
	// bucketChosen maps slotKey(slot) to a chosen record (learner).
	bucketChosen = []byte("chosen")
	// bucketRequestSlots maps slotKey(slot) to the request ID of a first
	// copy in the dedup window (learner; requestIndex indexes it by ID).
	bucketRequestSlots = []byte("request_slots")
	// bucketRequests mapped a request ID to slotKey of its first copy: the
	// layout before bucketRequestSlots, moved to it when a file opens.
	bucketRequests = []byte("requests")
)

// Keys of bucketMeta; each value is a big-endian uint64.
var (
	keyRound         = []byte("round")          // proposer: highest round used
	keyPromised      = []byte("promised")       // acceptor: highest ballot promised
	keyAcceptedCount = []byte("accepted_count") // acceptor: entries in bucketAccepted
	keyAcceptedTop   = []byte("accepted_top")   // acceptor: highest slot ever accepted + 1
	keyCompacted     = []byte("compacted")      // acceptor: slots below are deleted
	keyWALApplied    = []byte("wal_applied")    // acceptor: last write-ahead record in the file (wal.go)
	keyWALSalt       = []byte("wal_salt")       // acceptor: CRC salt of the write-ahead records after it
	keyWALMade       = []byte("wal_made")       // acceptor: 1 once the write-ahead file exists durably (wal.go)
	keyCommit        = []byte("commit")         // learner: first slot not in the log; acceptor: chosen watermark it was told
	keyRejoin        = []byte("rejoin")         // acceptor: promise nothing until commit reaches it (replog's rejoin rule)
	keyValues        = []byte("values")         // learner: client values in the log (no no-ops, no duplicates)
	keyForgotten     = []byte("forgotten")      // learner: bucketRequestSlots holds no first copy below it (dedup window)
)

// recordVersion is the first byte of every entry record.
const recordVersion = 1

// slotKey encodes slot as a key that sorts in slot order.
func slotKey(slot uint64) []byte { return binary.BigEndian.AppendUint64(nil, slot) }

// keySlot decodes a slotKey.
func keySlot(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: slot key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k), nil
}

// getUint64 reads a meta value; a missing key is 0.
func getUint64(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: meta %s: %d bytes", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// putUint64 writes a meta value.
func putUint64(b *bolt.Bucket, key []byte, v uint64) error {
	return b.Put(key, binary.BigEndian.AppendUint64(nil, v))
}

// errScanDone, returned by scan's fn, ends the scan without an error.
var errScanDone = errors.New("scan done")

// scan calls fn for at most limit (all when limit <= 0) records of b with
// slot >= from, in slot order, until fn returns errScanDone.
func scan(b *bolt.Bucket, from uint64, limit int, fn func(slot uint64, v []byte) error) error {
	c := b.Cursor()
	n := 0
	for k, v := c.Seek(slotKey(from)); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
		slot, err := keySlot(k)
		if err != nil {
			return err
		}
		if err := fn(slot, v); err != nil {
			if errors.Is(err, errScanDone) {
				return nil
			}
			return err
		}
		n++
	}
	return nil
}

// An entry record is: recordVersion, then uvarints ballot and client ID, then
// the request ID and the value, each as a uvarint length and the bytes. A
// chosen record is an entry record followed by a dup byte (0 or 1) and the
// first slot as a uvarint. The slot is the key.

// encodeEntry returns the record of e.
func encodeEntry(e replog.Entry) []byte {
	c := e.Command
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(c.RequestID)+len(c.Value))
	return appendEntry(b, e)
}

func appendEntry(b []byte, e replog.Entry) []byte {
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(e.Ballot))
	b = binary.AppendUvarint(b, e.Command.ClientID)
	b = appendString(b, e.Command.RequestID)
	return appendString(b, e.Command.Value)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// encodeChosen returns the chosen record of c.
func encodeChosen(c replog.ChosenEntry) []byte {
	b := appendEntry(nil, c.Entry)
	dup := byte(0)
	if c.Dup {
		dup = 1
	}
	return binary.AppendUvarint(append(b, dup), c.FirstSlot)
}

// decodeEntry decodes the entry record v of slot.
func decodeEntry(slot uint64, v []byte) (replog.Entry, error) {
	d := decoder{b: v}
	e := d.entry(slot)
	return e, d.finish(slot)
}

// decodeChosen decodes the chosen record v of slot.
func decodeChosen(slot uint64, v []byte) (replog.ChosenEntry, error) {
	d := decoder{b: v}
	c := replog.ChosenEntry{Entry: d.entry(slot)}
	switch d.byte() {
	case 0:
	case 1:
		c.Dup = true
	default:
		d.fail("bad dup flag")
	}
	c.FirstSlot = d.uvarint()
	return c, d.finish(slot)
}

// decoder reads a record; the first problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("truncated record")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail("truncated string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) entry(slot uint64) replog.Entry {
	if v := d.byte(); d.err == nil && v != recordVersion {
		d.fail(fmt.Sprintf("unknown record version %d", v))
	}
	e := replog.Entry{Slot: slot, Ballot: replog.Ballot(d.uvarint())}
	e.Command.ClientID = d.uvarint()
	e.Command.RequestID = d.string()
	e.Command.Value = d.string()
	return e
}

// finish returns the first problem, or trailing bytes, as ErrCorrupt.
func (d *decoder) finish(slot uint64) error {
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return fmt.Errorf("slot %d: %w: %v", slot, ErrCorrupt, d.err)
	}
	return nil
}
