package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/paxos-go/paxos/replog"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []replog.ChosenEntry{
		{},
		{Entry: entry(7, 301), FirstSlot: 7},
		{Entry: replog.Entry{Slot: math.MaxUint64, Ballot: math.MaxUint64, Command: replog.Command{
			ClientID: math.MaxUint64, RequestID: "é-∞", Value: strings.Repeat("v", 1<<16)}}, Dup: true, FirstSlot: 3},
	}
	for _, c := range tests {
		e, err := decodeEntry(c.Slot, encodeEntry(c.Entry))
		if err != nil || e != c.Entry {
			t.Errorf("entry of slot %d: got %+v, %v", c.Slot, e, err)
		}
		got, err := decodeChosen(c.Slot, encodeChosen(c))
		if err != nil || got != c {
			t.Errorf("chosen of slot %d: got %+v, %v", c.Slot, got, err)
		}
	}
	if n := len(encodeEntry(entry(5, 301))); n > 20 {
		t.Errorf("an entry record takes %d bytes; it should be compact", n)
	}
}

func TestMalformedRecord(t *testing.T) {
	good := encodeEntry(entry(7, 301))
	tests := []struct {
		name   string
		rec    []byte
		chosen bool
	}{
		{"empty", nil, false},
		{"unknown version", append([]byte{2}, good[1:]...), false},
		{"truncated", good[:len(good)-1], false},
		{"bad uvarint", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
		{"string past the end", binary.AppendUvarint([]byte{1, 1, 1}, 1<<40), false},
		{"trailing bytes", append(bytes.Clone(good), 0), false},
		{"entry record as chosen", good, true},
		{"bad dup flag", append(bytes.Clone(good), 2, 0), true},
		{"chosen trailing bytes", append(encodeChosen(replog.ChosenEntry{Entry: entry(7, 1)}), 0), true},
	}
	for _, tt := range tests {
		var err error
		if tt.chosen {
			_, err = decodeChosen(7, tt.rec)
		} else {
			_, err = decodeEntry(7, tt.rec)
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "slot 7") {
			t.Errorf("%s: err = %v, want ErrCorrupt naming slot 7", tt.name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeEntry(entry(1, 2)))
	f.Add(encodeChosen(replog.ChosenEntry{Entry: entry(1, 2), Dup: true}))
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, rec []byte) { // never panics, and what decodes survives a round trip
		if e, err := decodeEntry(3, rec); err == nil {
			if e2, err := decodeEntry(3, encodeEntry(e)); err != nil || e2 != e {
				t.Errorf("entry %x decodes to %+v, then %+v, %v", rec, e, e2, err)
			}
		}
		if c, err := decodeChosen(3, rec); err == nil {
			if c2, err := decodeChosen(3, encodeChosen(c)); err != nil || c2 != c {
				t.Errorf("chosen %x decodes to %+v, then %+v, %v", rec, c, c2, err)
			}
		}
	})
}

// TestCorruptRecord writes bad records and meta values straight into bbolt
// files and checks that the stores report ErrCorrupt, naming file and slot.
func TestCorruptRecord(t *testing.T) {
	tests := []struct {
		name   string
		bucket []byte
		key    []byte
		value  []byte
		use    func(path string) error
		want   string
	}{
		{"accepted record", bucketAccepted, slotKey(3), []byte{1, 0xff}, func(path string) error {
			a := mustOpen(t, OpenAcceptor, path, nil)
			_, err := a.Accepted(0, 0)
			return err
		}, "slot 3"},
		{"accepted key", bucketAccepted, []byte("x"), encodeEntry(entry(1, 1)), func(path string) error {
			a := mustOpen(t, OpenAcceptor, path, nil)
			_, err := a.Accepted(0, 0)
			return err
		}, "slot key"},
		{"chosen record", bucketChosen, slotKey(0), []byte{9}, func(path string) error {
			l := mustOpen(t, OpenLearner, path, nil)
			_, err := l.Chosen(0, 0)
			return err
		}, "slot 0"},
		{"request slot", bucketRequestSlots, []byte("r"), []byte("id"), func(path string) error {
			_, err := OpenLearner(path, nil)
			return err
		}, "slot key"},
		{"request slot of the old layout", bucketRequests, []byte("r"), []byte{1}, func(path string) error {
			_, err := OpenLearner(path, nil)
			return err
		}, "slot key"},
		{"meta value", bucketMeta, keyPromised, []byte{1, 2}, func(path string) error {
			_, err := OpenAcceptor(path, nil)
			return err
		}, "meta promised"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t, "store.db")
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(tt.bucket)
				if err != nil {
					return err
				}
				return b.Put(tt.key, tt.value)
			})
			if err := errors.Join(err, db.Close()); err != nil {
				t.Fatal(err)
			}
			err = tt.use(path)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrCorrupt naming %s and %q", err, path, tt.want)
			}
		})
	}
}
