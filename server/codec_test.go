package server

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/paxos-go/paxos/replog"
)

func sampleBatch() []replog.Message {
	return []replog.Message{
		{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 301, Commit: 11, Probe: 2,
			Entries: []replog.Entry{{Slot: 12, Command: replog.Command{ClientID: 9, RequestID: "9-17", Value: "x"}}, {Slot: 13}}},
		{Type: replog.MsgAccepted, From: 4, To: 1, Ballot: 301, Slots: []uint64{12, 13}},
		{Type: replog.MsgHeartbeat, From: 1, To: 2, Ballot: 1<<63 + 5, Commit: 1 << 40},
		{Type: replog.MsgChosen, From: 7, To: 1, Commit: 14, Digests: true,
			Entries: []replog.Entry{{Slot: 13, Command: replog.Command{RequestID: "9-18", Value: strings.Repeat("v", 100)}.Digest()}}},
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

// TestCodecRequestIDLimit: a batch with a request ID over MaxRequestIDBytes
// does not decode (a learner could not store it), one at the limit does.
func TestCodecRequestIDLimit(t *testing.T) {
	batch := func(n int) []byte {
		return encodeBatch(nil, []replog.Message{{Type: replog.MsgAccept, From: 1, To: 4, Ballot: 101,
			Entries: []replog.Entry{{Slot: 1, Command: replog.Command{RequestID: strings.Repeat("r", n), Value: "v"}}}}})
	}
	if _, err := decodeBatch(batch(MaxRequestIDBytes)); err != nil {
		t.Errorf("request ID of MaxRequestIDBytes: %v", err)
	}
	for _, n := range []int{MaxRequestIDBytes + 1, 32<<10 + 1} {
		if msgs, err := decodeBatch(batch(n)); err == nil {
			t.Errorf("request ID of %d bytes decoded: %d messages", n, len(msgs))
		}
	}
}

// checkEncodedSize checks that encodedSize tells what encodeBatch writes.
func checkEncodedSize(t *testing.T, msgs []replog.Message) {
	t.Helper()
	want := 1 + uvarintLen(uint64(len(msgs)))
	for i := range msgs {
		want += encodedSize(&msgs[i])
	}
	if got := len(encodeBatch(nil, msgs)); got != want {
		t.Fatalf("encodeBatch wrote %d bytes, encodedSize says %d", got, want)
	}
}

func TestEncodedSize(t *testing.T) {
	huge := replog.Message{Type: replog.MsgPromise, From: 1<<64 - 1, To: 1 << 63, Ballot: 1<<64 - 1, Slot: 1<<64 - 1,
		Commit: 1 << 56, Probe: 127, Compact: 128, Truncated: true, Force: true, Slots: []uint64{0, 1<<64 - 1}}
	for i := range 300 {
		huge.Entries = append(huge.Entries, replog.Entry{Slot: 1 << (i % 64), Ballot: replog.Ballot(i),
			Command: replog.Command{ClientID: uint64(i) << 50, RequestID: strings.Repeat("r", i), Value: strings.Repeat("v", i*i)}})
	}
	for _, msgs := range [][]replog.Message{nil, {{}}, sampleBatch(), {huge}, append(sampleBatch(), huge)} {
		checkEncodedSize(t, msgs)
	}
	for _, v := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		if got, want := uvarintLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", v, got, want)
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
		checkEncodedSize(t, msgs)
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
