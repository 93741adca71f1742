package eventstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// randomRecorded builds a RecordedEvent with each field present or not, ids of both forms,
// empty and odd strings.
func randomRecorded(r *rand.Rand) *streams.ReadResp_ReadEvent_RecordedEvent {
	strs := []string{"", "type", "TicketOpened", "application/json", "Étage 2 — café", "\u2028x", "639012345678901234"}
	pick := func() string { return strs[r.IntN(len(strs))] }
	rec := &streams.ReadResp_ReadEvent_RecordedEvent{}
	if r.IntN(5) > 0 {
		switch r.IntN(3) {
		case 0:
			rec.Id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
				MostSignificantBits: int64(r.Uint64()), LeastSignificantBits: -int64(r.IntN(3))}}}
		case 1:
			rec.Id = &shared.UUID{Value: &shared.UUID_String_{String_: pick()}}
		default:
			rec.Id = &shared.UUID{}
		}
	}
	if r.IntN(5) > 0 {
		rec.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(pick())}
	}
	rec.StreamRevision, rec.PreparePosition, rec.CommitPosition = r.Uint64N(3)*r.Uint64(), r.Uint64N(1<<40), r.Uint64N(2)*r.Uint64()
	if n := r.IntN(5); n > 0 {
		rec.Metadata = map[string]string{}
		for range n {
			rec.Metadata[pick()] = pick()
		}
	}
	if r.IntN(3) > 0 {
		rec.CustomMetadata = []byte(pick())
	}
	if r.IntN(4) > 0 {
		rec.Data = []byte(fmt.Sprintf(`{"ticket":"t-%d","title":%q}`, r.IntN(1000), pick()))
	}
	return rec
}

func randomReadResp(r *rand.Rand) *streams.ReadResp {
	ev := &streams.ReadResp_ReadEvent{}
	if r.IntN(6) > 0 {
		ev.Event = randomRecorded(r)
	}
	if r.IntN(4) == 0 {
		ev.Link = randomRecorded(r)
	}
	switch r.IntN(3) {
	case 0:
		ev.Position = &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.Uint64()}
	case 1:
		ev.Position = &streams.ReadResp_ReadEvent_NoPosition{NoPosition: &shared.Empty{}}
	}
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: ev}}
}

// decodeBoth decodes b with the registered codec (split into n buffers) and with
// proto.Unmarshal.
func decodeBoth(t *testing.T, b []byte, n int) (got, want *streams.ReadResp, gotErr, wantErr error) {
	t.Helper()
	var data mem.BufferSlice
	for i := range n {
		lo, hi := len(b)*i/n, len(b)*(i+1)/n
		data = append(data, mem.SliceBuffer(b[lo:hi]))
	}
	got, want = &streams.ReadResp{}, &streams.ReadResp{}
	gotErr = encoding.GetCodecV2("proto").Unmarshal(data, got)
	wantErr = proto.Unmarshal(b, want)
	return got, want, gotErr, wantErr
}

// TestReadRespCodecDecodesAsProtobuf: the codec gRPC uses for "proto" in this process is the
// hand decoder, and it decodes every ReadResp exactly as proto.Unmarshal does — random events
// with every field present or absent, in one buffer or several, other kinds of ReadResp, fields
// it does not know, repeated fields, invalid UTF-8 and truncated input (refused alike).
func TestReadRespCodecDecodesAsProtobuf(t *testing.T) {
	if _, ok := encoding.GetCodecV2("proto").(clientCodec); !ok {
		t.Fatalf("the registered proto codec is %T", encoding.GetCodecV2("proto"))
	}
	r := rand.New(rand.NewPCG(3, 4))
	check := func(name string, b []byte, n int) {
		t.Helper()
		got, want, gotErr, wantErr := decodeBoth(t, b, n)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%s: codec error %v, proto.Unmarshal error %v", name, gotErr, wantErr)
		}
		if wantErr == nil && !proto.Equal(got, want) {
			t.Fatalf("%s: codec gave\n%v\nproto.Unmarshal\n%v", name, got, want)
		}
	}
	for i := range 3000 {
		msg := randomReadResp(r)
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("event %d", i), b, 1+i%3)
		// The same with a field of a later version at the end: the standard codec keeps it.
		check(fmt.Sprintf("event %d with an unknown field", i), protowire.AppendVarint(protowire.AppendTag(b, 99, protowire.VarintType), 7), 1)
		// Truncated anywhere: refused by both, or (at a field boundary) the same shorter message.
		check(fmt.Sprintf("event %d truncated", i), b[:r.IntN(len(b)+1)], 1)
		// The event sent twice: protobuf merges the two, which the codec leaves to it.
		check(fmt.Sprintf("event %d twice", i), append(append([]byte{}, b...), b...), 1)
	}
	others := []*streams.ReadResp{
		{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: 9, PreparePosition: 9}}},
		{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: "s-1"}}},
		{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("x")}}}},
		{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}},
		{Content: &streams.ReadResp_LastStreamPosition{LastStreamPosition: 12}},
		{},
	}
	for i, m := range others {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("other %d", i), b, 1)
	}
	// A map value that is not UTF-8: proto.Unmarshal refuses a proto3 string, and so must we.
	bad := &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{Metadata: map[string]string{"type": "ok"}}}}}
	b, err := proto.MarshalOptions{}.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	i := len(b) - 2 // the "ok" value's bytes end the message
	b[i] = 0xff
	got, _, gotErr, wantErr := decodeBoth(t, b, 1)
	if wantErr == nil || gotErr == nil {
		t.Fatalf("invalid UTF-8: codec error %v (%v), proto.Unmarshal error %v", gotErr, got, wantErr)
	}
}

// The bytes a decoded event holds are its own: gRPC reuses its buffer once decoding returns.
func TestReadRespCodecCopiesOutOfTheBuffer(t *testing.T) {
	msg := &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("tenant-acme")},
			Metadata: map[string]string{"type": "TicketOpened"}, CustomMetadata: []byte(`{"m":1}`), Data: []byte(`{"d":1}`)}}}}
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	got := &streams.ReadResp{}
	if err := encoding.GetCodecV2("proto").Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if !proto.Equal(got, msg) {
		t.Fatalf("after the buffer was overwritten: %v", got)
	}
}

func BenchmarkReadRespDecode(b *testing.B) {
	msg := &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: 0x1234567890, LeastSignificantBits: -0x1234567890}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("ticket-acme-bt1234")},
			StreamRevision:   3, PreparePosition: 123456, CommitPosition: 123456,
			Metadata:       map[string]string{"type": "TicketOpened", "content-type": "application/json", "created": "17641234567890123"},
			CustomMetadata: []byte(`{"id":"5a0c6b2e-3f7e-4a51-9a8e-8d0c1c7f4b11","schema_version":1,"tenant":"acme","occurred_at":"2026-12-02T06:55:32.604Z","actor":{"kind":"user","id":"56adcc4b-a1ac-46cf-9fd4-b9b1040bf508"},"correlation_id":"c1","command":"OpenTicket"}`),
			Data:           []byte(`{"ticket":"bt1234","company":"c-1","site":"s-1","type":"incident","status":"open","title":"The printer on the third floor is jammed again"}`)},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: 123456}}}}
	raw, err := proto.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	codecs := map[string]func([]byte, *streams.ReadResp) error{
		"proto.Unmarshal": func(bs []byte, m *streams.ReadResp) error { return proto.Unmarshal(bs, m) },
		"clientCodec": func(bs []byte, m *streams.ReadResp) error {
			return encoding.GetCodecV2("proto").Unmarshal(mem.BufferSlice{mem.SliceBuffer(bs)}, m)
		},
	}
	for name, decode := range codecs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := decode(raw, &streams.ReadResp{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Position.String is what logs and the directory's record versions show: commit/prepare.
func TestPositionString(t *testing.T) {
	for _, c := range []struct {
		p    Position
		want string
	}{
		{Position{}, "0/0"},
		{Position{Commit: 12, Prepare: 3}, "12/3"},
		{Position{Commit: ^uint64(0), Prepare: ^uint64(0)}, "18446744073709551615/18446744073709551615"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.p, got, c.want)
		}
	}
}
