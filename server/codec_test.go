package server

import (
	"reflect"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

func sampleBatch() []replog.Message {
	return []replog.Message{
		{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 301, Commit: 11, Probe: 2,
			Entries: []replog.Entry{{Slot: 12, Command: replog.Command{ClientID: 9, RequestID: "9-17", Value: "x"}}, {Slot: 13}}},
		{Type: replog.MsgAccepted, From: 4, To: 1, Ballot: 301, Slots: []uint64{12, 13}},
		{Type: replog.MsgHeartbeat, From: 1, To: 2, Ballot: 1<<63 + 5, Commit: 1 << 40},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	in := sampleBatch()
	out, err := decodeBatch(encodeBatch(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
}

func TestCodecRejectsMalformed(t *testing.T) {
	good := encodeBatch(nil, sampleBatch())
	cases := map[string][]byte{
		"empty":         nil,
		"bad version":   {9, 0},
		"huge count":    {codecVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":     good[:len(good)-3],
		"trailing data": append(append([]byte(nil), good...), 1),
	}
	for name, b := range cases {
		if _, err := decodeBatch(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(nil, sampleBatch()))
	f.Add([]byte{codecVersion, 1, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := decodeBatch(b)
		if err != nil {
			return
		}
		// What decodes must survive a round trip unchanged (the input may
		// use non-canonical varints, so compare messages, not bytes).
		again, err := decodeBatch(encodeBatch(nil, msgs))
		if err != nil || !reflect.DeepEqual(again, msgs) {
			t.Fatalf("round trip of a decoded batch: %v", err)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	batch := make([]replog.Message, 1)
	batch[0] = replog.Message{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 301, Commit: 11}
	for i := range 64 {
		batch[0].Entries = append(batch[0].Entries, replog.Entry{Slot: uint64(1000 + i),
			Command: replog.Command{ClientID: 9, RequestID: "9-dn81uofg73j0-17", Value: string(make([]byte, 64))}})
	}
	b.Run("binary", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = encodeBatch(buf[:0], batch)
			if _, err := decodeBatch(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
