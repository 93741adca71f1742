package eventlog

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/google/uuid"
)

func sampleRecords() []Record {
	return []Record{
		{Position: 1, Stream: "s", Revision: 0, ID: uuid.New(), Type: "A", ContentType: "application/json",
			Created: 17_000_000_000_000_000, Metadata: []byte(`{"m":1}`), Data: []byte(`{"a":1}`)},
		{Position: math.MaxUint64, Stream: "company-ü", Revision: TombstoneRevision, ID: uuid.New(), Type: "$streamDeleted",
			ContentType: "application/octet-stream", Created: -1, Metadata: []byte{}, Data: []byte{}},
		{Position: 42, Stream: string(bytes.Repeat([]byte("x"), 300)), Revision: math.MaxUint64, ID: uuid.New(), Type: "T",
			Created: math.MinInt64, Metadata: []byte{}, Data: bytes.Repeat([]byte{0, 0xff}, 40_000)},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, r := range sampleRecords() {
		b := encodeRecord(&r)
		got, err := decodeRecord(r.Position, b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got.Position != r.Position || got.Stream != r.Stream || got.Revision != r.Revision || got.ID != r.ID ||
			got.Type != r.Type || got.ContentType != r.ContentType || got.Created != r.Created ||
			!bytes.Equal(got.Metadata, r.Metadata) || !bytes.Equal(got.Data, r.Data) {
			t.Fatalf("record %d: decoded %+v, want %+v", i, got, r)
		}
		// The decoded record owns its bytes: changing the buffer does not change it.
		for j := range b {
			b[j] = 0xAA
		}
		if !bytes.Equal(got.Data, r.Data) || !bytes.Equal(got.Metadata, r.Metadata) {
			t.Fatalf("record %d aliases the buffer it was decoded from", i)
		}
		// appendRecord appends after what is there.
		prefixed := appendRecord([]byte("xyz"), &r)
		if !bytes.Equal(prefixed[3:], encodeRecord(&r)) || string(prefixed[:3]) != "xyz" {
			t.Fatalf("record %d: appendRecord differs from encodeRecord", i)
		}
	}
}

func TestCorruptRecordsFailCleanly(t *testing.T) {
	for i, r := range sampleRecords() {
		b := encodeRecord(&r)
		// Every truncation is an error, never a panic.
		for n := 0; n < len(b); n++ {
			if _, err := decodeRecord(r.Position, b[:n]); !errors.Is(err, errCorruptRecord) {
				t.Fatalf("record %d truncated to %d of %d bytes: err %v", i, n, len(b), err)
			}
		}
		// Unknown format version.
		bad := append([]byte{}, b...)
		bad[0] = 99
		if _, err := decodeRecord(r.Position, bad); !errors.Is(err, errCorruptRecord) {
			t.Fatalf("record %d with format 99: %v", i, err)
		}
		// Flipped bytes and overlong lengths may decode to garbage or fail, but never panic.
		// (The header and the field lengths are in the first bytes.)
		for j := range min(len(b), 512) {
			for _, x := range []byte{0xff, 0x80, 0x00} {
				c := append([]byte{}, b...)
				c[j] = x
				_, _ = decodeRecord(r.Position, c)
			}
		}
	}
	// A varint that never ends.
	if _, err := decodeRecord(1, append([]byte{recordFormatV1}, bytes.Repeat([]byte{0x80}, 20)...)); !errors.Is(err, errCorruptRecord) {
		t.Fatalf("endless varint: %v", err)
	}
}

func TestStreamStateRoundTripAndCorruption(t *testing.T) {
	for _, s := range []streamState{{last: -1}, {last: 0}, {last: 12, truncateBefore: 5, tombstoned: true}, {last: math.MaxInt64, truncateBefore: math.MaxUint64}} {
		b := encodeState(s)
		got, err := decodeState(b)
		if err != nil || got != s {
			t.Fatalf("state %+v: decoded %+v, %v", s, got, err)
		}
		for n := 0; n < len(b); n++ {
			if _, err := decodeState(b[:n]); err == nil {
				t.Fatalf("state %+v truncated to %d bytes decoded without error", s, n)
			}
		}
		if _, err := decodeState(append(b, 0)); err == nil {
			t.Fatalf("state %+v with a trailing byte decoded without error", s)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(encodeRecord(&r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(7, b)
		if err != nil {
			return
		}
		// Whatever decodes came from the input: its parts cannot add up to more than it.
		if n := len(r.Stream) + len(r.Type) + len(r.ContentType) + len(r.Metadata) + len(r.Data) + 16; n > len(b) {
			t.Fatalf("decoded %d bytes of fields from %d bytes", n, len(b))
		}
	})
}
