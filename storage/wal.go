package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/paxos-go/paxos/replog"
)

// The acceptor's write-ahead file. A bbolt commit costs two fsyncs (data,
// then meta page) and rewrites several pages; appending one record to a
// file costs one write and one fdatasync. LoggedAcceptor makes each Accept
// durable in the write-ahead file and moves the saved state into the bbolt
// file now and then (a checkpoint: one normal, synced bbolt commit that also
// records the last record it holds, keyWALApplied). After a checkpoint the
// write-ahead file is written again from its start.
//
//	record  = length:uint32 crc:uint32 lsn:uint64 payload   (little-endian)
//	payload = promised:uvarint count:uvarint (slot:uvarint entry-record)* [commit:uvarint]
//
// length counts lsn and payload; crc is the Castagnoli CRC of a 4-byte salt
// followed by them. The salt is drawn at each checkpoint and kept in bbolt
// with keyWALApplied (keyWALSalt), so records of an older pass, or bytes of
// a client value that look like a record, do not check out. Records
// carry consecutive LSNs. Replay starts at the record after keyWALApplied
// and stops at the first record that is short, fails its CRC or does not
// carry the next LSN: a torn write at the tail (never acknowledged), or a
// record of an older pass over the file (already in bbolt, its LSN is lower).
// A bad record followed by a good one with the LSN after it is not a torn
// tail but damage: the open fails with ErrCorrupt.
//
// The file is created once, at the first open, and its name made durable
// (dir.go) before the bbolt file records that it exists (keyWALMade). From
// then on a missing file is ErrMissingWAL: creating it again empty would
// forget the promises and accepts only it held.

const walHeader = 16

// walMaxRecord bounds a record (a bigger Accept is written as several); a var
// for the tests.
var walMaxRecord = 64 << 20

var walTable = crc32.MakeTable(crc32.Castagnoli)

// walCRC is the checksum of a record's body under salt.
func walCRC(salt uint32, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(binary.LittleEndian.AppendUint32(nil, salt), walTable), walTable, body)
}

// wal is the write-ahead file of one acceptor. Not safe for concurrent use.
type wal struct {
	f      *os.File
	path   string
	off    int64  // where the next record goes
	lsn    uint64 // LSN of the last record written
	salt   uint32 // CRC salt of this pass
	noSync bool
	buf    []byte
}

// walRecord is one decoded record.
type walRecord struct {
	lsn      uint64
	promised replog.Ballot
	commit   uint64 // the chosen watermark (0 in records written before it was kept)
	entries  []replog.Entry
}

// openWAL opens the write-ahead file at path of the acceptor file whose
// state is st, and returns the records after st.walLSN, in order. It creates
// the file, and syncs its directory, only if st records no write-ahead file
// yet; if st does, a missing file is ErrMissingWAL.
func openWAL(path string, st acceptorState, noSync bool) (*wal, []walRecord, error) {
	applied, salt := st.walLSN, uint32(st.walSalt)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if st.walMade != 0 || st.walLSN > 0 {
			return nil, nil, fmt.Errorf("storage: open %s: %w: %s records that it was created, and holds its "+
				"records up to %d; any record after those (a promise, an accepted value) was only in the missing "+
				"file: restore it rather than start without it", path, ErrMissingWAL, strings.TrimSuffix(path, ".wal"), st.walLSN)
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("storage: %w", err)
	}
	var data []byte
	fi, err := f.Stat()
	if err == nil {
		data = make([]byte, fi.Size())
		_, err = io.ReadFull(f, data)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("storage: read %s: %w", path, err)
	}
	recs, end, err := replayWAL(data, applied, salt)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("storage: open %s: %w: %v", path, ErrCorrupt, err)
	}
	w := &wal{f: f, path: path, off: end, lsn: applied + uint64(len(recs)), salt: salt, noSync: noSync}
	if err := w.preallocate(int64(len(data))); err != nil {
		f.Close()
		return nil, nil, err
	}
	// The file may be new, or created by a run that crashed before this
	// sync: make its name durable before the acceptor file records it.
	if err := syncDirOf(path, noSync); err != nil {
		f.Close()
		return nil, nil, err
	}
	return w, recs, nil
}

// walPrealloc is the size the write-ahead file is given up front, with
// zeros: an fdatasync after overwriting blocks that exist is cheaper than
// one that also has to record a new file size and new blocks. (A zero
// length ends a replay.)
var walPrealloc int64 = 16 << 20 // var: the tests use less

// preallocate fills the file with zeros from size up to walPrealloc.
func (w *wal) preallocate(size int64) error {
	if size >= walPrealloc || w.noSync {
		return nil
	}
	zeros := make([]byte, 1<<20)
	for off := size; off < walPrealloc; off += int64(len(zeros)) {
		if _, err := w.f.WriteAt(zeros[:min(int64(len(zeros)), walPrealloc-off)], off); err != nil {
			return commitError(w.path, err)
		}
	}
	if err := w.f.Sync(); err != nil {
		return commitError(w.path, err)
	}
	fileSynced(w.path)
	return nil
}

// replayWAL decodes the records of data that follow applied and returns
// them with the offset after the last one.
func replayWAL(data []byte, applied uint64, salt uint32) ([]walRecord, int64, error) {
	var recs []walRecord
	off := 0
	for {
		r, n, ok := parseWALRecord(data[off:], applied+uint64(len(recs))+1, salt)
		if !ok {
			// A torn tail, or the end of this pass. Damage, if a good
			// record with the next LSN is anywhere after it (its length
			// field may be what was damaged): no such record was ever
			// written when the crash tore this one.
			next := applied + uint64(len(recs)) + 2
			if p := findWALRecord(data, off+1, next, salt); p >= 0 {
				return nil, 0, fmt.Errorf("write-ahead record %d at offset %d is damaged and record %d follows it at offset %d",
					next-1, off, next, p)
			}
			return recs, int64(off), nil
		}
		recs = append(recs, r)
		off += n
	}
}

// findWALRecord returns the offset of a good record carrying lsn at or after
// from, or -1.
func findWALRecord(data []byte, from int, lsn uint64, salt uint32) int {
	pattern := binary.LittleEndian.AppendUint64(nil, lsn)
	for p := from; p+walHeader <= len(data); p++ {
		// The LSN sits 8 bytes into a record: find it the fast way.
		i := bytes.Index(data[p+8:], pattern)
		if i < 0 {
			return -1
		}
		p += i
		if _, _, ok := parseWALRecord(data[p:], lsn, salt); ok {
			return p
		}
	}
	return -1
}

// parseWALRecord decodes the record at the start of b if it is whole, has a
// good CRC and carries lsn. n is the record's length when its header is
// readable (even if the record is bad), else 0.
func parseWALRecord(b []byte, lsn uint64, salt uint32) (r walRecord, n int, ok bool) {
	if len(b) < walHeader {
		return r, 0, false
	}
	size := binary.LittleEndian.Uint32(b)
	if size < 8 || int(size) > walMaxRecord {
		return r, 0, false
	}
	n = 8 + int(size)
	if len(b) < n {
		return r, 0, false
	}
	body := b[8:n]
	if walCRC(salt, body) != binary.LittleEndian.Uint32(b[4:]) ||
		binary.LittleEndian.Uint64(body) != lsn {
		return r, n, false
	}
	d := decoder{b: body[8:]}
	r.lsn = lsn
	r.promised = replog.Ballot(d.uvarint())
	count := d.uvarint()
	for i := uint64(0); i < count && d.err == nil; i++ {
		r.entries = append(r.entries, d.entry(d.uvarint()))
	}
	if d.err == nil && len(d.b) > 0 {
		r.commit = d.uvarint()
	}
	if d.err != nil || len(d.b) != 0 {
		return walRecord{}, n, false // a good CRC over a bad payload: written by something else
	}
	return r, n, true
}

// append writes one record and makes it durable; it returns its LSN.
func (w *wal) append(promised replog.Ballot, commit uint64, entries []replog.Entry) (uint64, error) {
	b := append(w.buf[:0], make([]byte, walHeader)...)
	binary.LittleEndian.PutUint64(b[8:], w.lsn+1)
	b = binary.AppendUvarint(b, uint64(promised))
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.Slot)
		b = appendEntry(b, e)
	}
	if commit > 0 {
		b = binary.AppendUvarint(b, commit)
	}
	if len(b)-8 > walMaxRecord {
		return 0, fmt.Errorf("storage: save of %d bytes: the limit is %d", len(b)-8, walMaxRecord)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-8))
	binary.LittleEndian.PutUint32(b[4:], walCRC(w.salt, b[8:]))
	if cap(b) <= 1<<20 {
		w.buf = b
	} else {
		w.buf = nil
	}
	if _, err := w.f.WriteAt(b, w.off); err != nil {
		return 0, commitError(w.path, err)
	}
	if !w.noSync {
		if err := fdatasync(w.f); err != nil {
			return 0, commitError(w.path, err)
		}
		fileSynced(w.path)
	}
	w.off += int64(len(b))
	w.lsn++
	return w.lsn, nil
}

// rewind makes the next record go to the start of the file, under salt:
// call it once every record so far is in the bbolt file, durably, with salt
// recorded for the records after them.
func (w *wal) rewind(salt uint32) { w.off, w.salt = 0, salt }

func (w *wal) size() int64 {
	fi, err := w.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (w *wal) close() error { return w.f.Close() }
