package eventstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// randomAppendReq builds an AppendReq of either kind with each field present or not: every
// expectation, ids of both forms and none, empty strings and bytes, a few metadata entries.
func randomAppendReq(r *rand.Rand) *streams.AppendReq {
	strs := []string{"", "type", "content-type", "TicketOpened", "application/json", "Étage 2 — café", "\u2028x"}
	pick := func() string { return strs[r.IntN(len(strs))] }
	if r.IntN(2) == 0 {
		o := &streams.AppendReq_Options{}
		if r.IntN(5) > 0 {
			o.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(pick())}
		}
		switch r.IntN(5) {
		case 0:
			o.ExpectedStreamRevision = &streams.AppendReq_Options_Revision{Revision: r.Uint64N(3) * r.Uint64()}
		case 1:
			o.ExpectedStreamRevision = &streams.AppendReq_Options_NoStream{NoStream: &shared.Empty{}}
		case 2:
			o.ExpectedStreamRevision = &streams.AppendReq_Options_Any{Any: &shared.Empty{}}
		case 3:
			o.ExpectedStreamRevision = &streams.AppendReq_Options_StreamExists{StreamExists: &shared.Empty{}}
		}
		return &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: o}}
	}
	p := &streams.AppendReq_ProposedMessage{}
	switch r.IntN(4) {
	case 0:
		p.Id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits: int64(r.Uint64N(2) * r.Uint64()), LeastSignificantBits: -int64(r.IntN(3))}}}
	case 1:
		p.Id = &shared.UUID{Value: &shared.UUID_String_{String_: pick()}}
	case 2:
		p.Id = &shared.UUID{}
	}
	if n := r.IntN(5); n > 0 {
		p.Metadata = map[string]string{}
		for range n {
			p.Metadata[pick()] = pick()
		}
	}
	switch r.IntN(3) {
	case 0:
		p.CustomMetadata = []byte(pick())
	case 1:
		p.CustomMetadata = []byte{}
	}
	if r.IntN(4) > 0 {
		p.Data = []byte(fmt.Sprintf(`{"ticket":"t-%d","title":%q}`, r.IntN(1000), pick()))
	}
	return &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: p}}
}

// marshalBoth encodes m with the registered codec and with deterministic proto.Marshal.
func marshalBoth(m proto.Message) (got, want []byte, gotErr, wantErr error) {
	data, gotErr := encoding.GetCodecV2("proto").Marshal(m)
	if gotErr == nil {
		got = data.Materialize()
		data.Free()
	}
	want, wantErr = proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return got, want, gotErr, wantErr
}

// TestAppendReqCodecEncodesAsProtobuf: the codec writes every AppendReq byte for byte as
// deterministic proto.Marshal does — random options and events, a large event (the pooled
// buffer), and what it leaves to the standard codec: unknown fields, invalid UTF-8, an
// empty message.
func TestAppendReqCodecEncodesAsProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(name string, m proto.Message) {
		t.Helper()
		got, want, gotErr, wantErr := marshalBoth(m)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%s: codec error %v, proto.Marshal error %v", name, gotErr, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: codec wrote\n%x\nproto.Marshal\n%x\nfor %v", name, got, want, m)
		}
	}
	for i := range 5000 {
		check(fmt.Sprintf("request %d", i), randomAppendReq(r))
	}

	big := randomAppendReq(r)
	for big.GetProposedMessage() == nil {
		big = randomAppendReq(r)
	}
	big.GetProposedMessage().Data = bytes.Repeat([]byte("x"), 256<<10)
	check("a 256 KiB event", big)

	withUnknown := func(m proto.Message) proto.Message {
		m.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7))
		return m
	}
	ev := func() *streams.AppendReq_ProposedMessage {
		return &streams.AppendReq_ProposedMessage{
			Id:       &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: 1, LeastSignificantBits: 2}}},
			Metadata: map[string]string{"type": "TicketOpened", "content-type": "application/json"}, Data: []byte(`{}`)}
	}
	structured := ev()
	withUnknown(structured.Id.GetStructured())
	empty := &shared.Empty{}
	withUnknown(empty)
	fallbacks := map[string]proto.Message{
		"unknown field on the request": withUnknown(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: ev()}}),
		"unknown field on the event":   &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: withUnknown(ev()).(*streams.AppendReq_ProposedMessage)}},
		"unknown field on the id":      &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: structured}},
		"unknown field in an Empty": &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
			ExpectedStreamRevision: &streams.AppendReq_Options_NoStream{NoStream: empty}}}},
		"unknown field on the stream": &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
			StreamIdentifier: withUnknown(&shared.StreamIdentifier{StreamName: []byte("s")}).(*shared.StreamIdentifier)}}},
		"no content":  &streams.AppendReq{},
		"nil options": &streams.AppendReq{Content: &streams.AppendReq_Options_{}},
		"nil event":   &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{}},
		"nil structured": &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
			Id: &shared.UUID{Value: &shared.UUID_Structured_{}}}}},
	}
	// The standard codec writes maps in random order: compare what the server would read.
	for name, m := range fallbacks {
		got, want, gotErr, wantErr := marshalBoth(m)
		if gotErr != nil || wantErr != nil {
			t.Fatalf("%s: codec error %v, proto.Marshal error %v", name, gotErr, wantErr)
		}
		gotMsg, wantMsg := &streams.AppendReq{}, &streams.AppendReq{}
		if err := proto.Unmarshal(got, gotMsg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := proto.Unmarshal(want, wantMsg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(gotMsg, wantMsg) || !proto.Equal(gotMsg, m) { // unknown fields included
			t.Fatalf("%s: codec wrote %v, proto.Marshal %v", name, gotMsg, wantMsg)
		}
	}

	// Strings that are not UTF-8: proto.Marshal refuses a proto3 string, and so must the codec.
	for name, p := range map[string]*streams.AppendReq_ProposedMessage{
		"metadata value": {Metadata: map[string]string{"type": "\xff"}},
		"metadata key":   {Metadata: map[string]string{"\xfe": "x"}},
		"string id":      {Id: &shared.UUID{Value: &shared.UUID_String_{String_: "a\xffb"}}},
	} {
		_, _, gotErr, wantErr := marshalBoth(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: p}})
		if gotErr == nil || wantErr == nil {
			t.Fatalf("invalid UTF-8 in the %s: codec error %v, proto.Marshal error %v", name, gotErr, wantErr)
		}
	}
}

func randomAppendResp(r *rand.Rand) *streams.AppendResp {
	s := &streams.AppendResp_Success{}
	switch r.IntN(3) {
	case 0:
		s.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: r.Uint64N(2) * r.Uint64()}
	case 1:
		s.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	}
	switch r.IntN(3) {
	case 0:
		s.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: r.Uint64N(2) * r.Uint64(), PreparePosition: r.Uint64N(2) * r.Uint64()}}
	case 1:
		s.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: s}}
}

// TestAppendRespCodecDecodesAsProtobuf: every AppendResp decodes as proto.Unmarshal decodes
// it — successes of every shape, in one buffer or several, wrong expected versions, unknown
// and repeated fields, truncated input.
func TestAppendRespCodecDecodesAsProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	check := func(name string, b []byte, n int) {
		t.Helper()
		var data mem.BufferSlice
		for i := range n {
			data = append(data, mem.SliceBuffer(b[len(b)*i/n:len(b)*(i+1)/n]))
		}
		got, want := &streams.AppendResp{}, &streams.AppendResp{}
		gotErr := encoding.GetCodecV2("proto").Unmarshal(data, got)
		wantErr := proto.Unmarshal(b, want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%s: codec error %v, proto.Unmarshal error %v", name, gotErr, wantErr)
		}
		if wantErr == nil && !proto.Equal(got, want) {
			t.Fatalf("%s: codec gave\n%v\nproto.Unmarshal\n%v", name, got, want)
		}
	}
	for i := range 3000 {
		b, err := proto.Marshal(randomAppendResp(r))
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("success %d", i), b, 1+i%3)
		check(fmt.Sprintf("success %d with an unknown field", i), protowire.AppendVarint(protowire.AppendTag(b, 99, protowire.VarintType), 7), 1)
		check(fmt.Sprintf("success %d truncated", i), b[:r.IntN(len(b)+1)], 1)
		check(fmt.Sprintf("success %d twice", i), append(append([]byte{}, b...), b...), 1)
	}
	wrong, err := proto.Marshal(&streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{
		WrongExpectedVersion: &streams.AppendResp_WrongExpectedVersion{
			CurrentRevisionOption:  &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: 4},
			ExpectedRevisionOption: &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	check("wrong expected version", wrong, 1)
	check("empty", nil, 1)
	// A NoStream that is not empty (a later version's field in it): protobuf keeps the field.
	inner := protowire.AppendBytes(protowire.AppendTag(nil, fSuccNoStream, protowire.BytesType),
		protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1))
	check("non-empty no_stream", protowire.AppendBytes(protowire.AppendTag(nil, fRespSuccess, protowire.BytesType), inner), 1)
}

// An AppendReq the codec writes is read back by the server's own decoder unchanged: what
// the official client sends through it, end to end, is covered by every append test of the
// embedded server; this pins a long stream name and a many-byte varint.
func TestAppendReqCodecRoundTrip(t *testing.T) {
	name := strings.Repeat("ticket-", 40)
	m := &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte(name)},
		ExpectedStreamRevision: &streams.AppendReq_Options_Revision{Revision: 1<<63 + 5}}}}
	data, err := encoding.GetCodecV2("proto").Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back := &streams.AppendReq{}
	if err := proto.Unmarshal(data.Materialize(), back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, m) {
		t.Fatalf("read back %v, want %v", back, m)
	}
}

func BenchmarkAppendReqMarshal(b *testing.B) {
	msg := &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
		Id:             &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: 0x1234567890, LeastSignificantBits: -0x1234567890}}},
		Metadata:       map[string]string{"type": "TicketOpened", "content-type": "application/json"},
		CustomMetadata: []byte(`{"id":"5a0c6b2e-3f7e-4a51-9a8e-8d0c1c7f4b11","schema_version":1,"tenant":"acme","actor":{"kind":"user","id":"56adcc4b"},"command":"OpenTicket"}`),
		Data:           []byte(`{"ticket":"bt1234","company":"c-1","site":"s-1","type":"incident","status":"open","title":"The printer on the third floor is jammed again"}`)}}}
	codecs := map[string]encoding.CodecV2{"proto": encoding.GetCodecV2("proto").(clientCodec).base, "clientCodec": encoding.GetCodecV2("proto")}
	for name, c := range codecs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				data, err := c.Marshal(msg)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
	}
}
