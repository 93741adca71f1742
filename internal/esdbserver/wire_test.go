package esdbserver

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// toReadEvent is the reference for appendReadEvent: the ReadResp an event is sent as, built
// with the generated types.
func toReadEvent(r eventlog.Record, stringIDs bool) *api.ReadResp {
	id := &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(beUint64(r.ID[:8])),
		LeastSignificantBits: int64(beUint64(r.ID[8:])),
	}}}
	if stringIDs {
		id = &shared.UUID{Value: &shared.UUID_String_{String_: r.ID.String()}}
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.Stream)},
			StreamRevision:   r.Revision,
			PreparePosition:  r.Position,
			CommitPosition:   r.Position,
			Metadata: map[string]string{
				"type":         r.Type,
				"content-type": r.ContentType,
				"created":      strconv.FormatInt(r.Created, 10),
			},
			CustomMetadata: r.Metadata,
			Data:           r.Data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.Position},
	}}}
}

func TestAppendReadEventMatchesProtoMarshal(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70_000) // multi-byte length prefixes
	views := []eventlog.View{
		{Position: 1, Revision: 0, ID: uuid.New(), Created: 17e15, Stream: []byte("s"), Type: []byte("A"),
			ContentType: []byte("application/json"), Data: []byte(`{"a":1}`)},
		{Position: 1 << 40, Revision: 12345, ID: uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff"), Created: 1,
			Stream: []byte("company-ü"), Type: []byte("$metadata"), ContentType: []byte(""), Metadata: []byte(`{"m":1}`), Data: big},
		{Position: math.MaxUint64, Revision: eventlog.TombstoneRevision, ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"),
			Created: -5, Stream: []byte("x"), Type: []byte("$streamDeleted"), ContentType: []byte("application/octet-stream")},
		{Position: 7, Revision: 3, ID: uuid.MustParse("80000000-0000-0000-8000-000000000000"), Stream: bytes.Repeat([]byte("s"), 300),
			Type: []byte("T"), Data: []byte{0}, Metadata: big[:200]},
	}
	for i := range views {
		for _, stringIDs := range []bool{false, true} {
			v := &views[i]
			got := appendReadEvent([]byte("prefix"), v, stringIDs)
			if string(got[:6]) != "prefix" {
				t.Fatalf("view %d: prefix overwritten", i)
			}
			got = got[6:]
			n, _, _ := readEventSize(v, []byte(strconv.FormatInt(v.Created, 10)), stringIDs)
			if n != len(got) {
				t.Fatalf("view %d: size %d, encoded %d bytes", i, n, len(got))
			}
			want := toReadEvent(v.Record(), stringIDs)
			var dec api.ReadResp
			if err := proto.Unmarshal(got, &dec); err != nil {
				t.Fatalf("view %d: unmarshal: %v", i, err)
			}
			if !proto.Equal(&dec, want) {
				t.Fatalf("view %d (string ids %v): decoded\n%v\nwant\n%v", i, stringIDs, &dec, want)
			}
			// Deterministic proto.Marshal writes the same fields in the same order: same bytes
			// except for the order of map entries, so compare sizes as a second check.
			ref, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if len(ref) != len(got) {
				t.Fatalf("view %d: %d bytes, proto.Marshal %d", i, len(got), len(ref))
			}
		}
	}
}

func TestServerCodecPassesRawMessagesAndMarshalsOthers(t *testing.T) {
	c := newServerCodec()
	data := []byte{1, 2, 3}
	raw := &rawMessage{buf: mem.SliceBuffer(data)}
	bs, err := c.Marshal(raw)
	if err != nil || !bytes.Equal(bs.Materialize(), data) || raw.buf != nil {
		t.Fatalf("raw message: %v %v (buffer kept: %v)", bs.Materialize(), err, raw.buf != nil)
	}
	bs.Free()
	msg := &api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}
	bs, err = c.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var back api.ReadResp
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bs.Materialize())}, &back); err != nil || !proto.Equal(&back, msg) {
		t.Fatalf("round trip: %v %v", &back, err)
	}
	if c.Name() != "proto" {
		t.Fatalf("codec name %q", c.Name())
	}
}

func TestEncodedChunkKeepsEarlierMessagesIntact(t *testing.T) {
	var c encodedChunk
	data := bytes.Repeat([]byte("d"), 30_000) // beyond the smaller pool tiers
	var want [][]byte
	for i := range 10 {
		v := eventlog.View{Position: uint64(i + 1), Revision: uint64(i), ID: uuid.New(), Stream: []byte("s"),
			Type: []byte("T"), ContentType: []byte("c"), Data: data}
		c.add(&v, i%3 != 0, false)
		if i%3 != 0 {
			want = append(want, appendReadEvent(nil, &v, false))
		} else {
			want = append(want, nil)
		}
	}
	for i, e := range c.entries {
		var got []byte
		if e.msg.buf != nil {
			got = e.msg.buf.ReadOnlyData()
		}
		if !bytes.Equal(got, want[i]) || e.pos != uint64(i+1) || e.rev != uint64(i) {
			t.Fatalf("entry %d differs", i)
		}
	}
	// Sending hands the buffer over; reset frees the ones not sent.
	bs, err := newServerCodec().Marshal(&c.entries[1].msg)
	if err != nil || !bytes.Equal(bs.Materialize(), want[1]) || c.entries[1].msg.buf != nil {
		t.Fatalf("marshal entry 1: %v", err)
	}
	bs.Free()
	c.reset()
	if len(c.entries) != 0 {
		t.Fatal("reset kept entries")
	}
}
