package esdbserver

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// decodedAppend is what the append handler takes from one AppendReq.
type decodedAppend struct {
	kind                  appendMsgKind
	stream                string
	expected              eventlog.Expected
	id                    uuid.UUID
	idErr                 bool
	typ, contentType      string
	customMeta, eventData []byte
}

// referenceDecode is the reference for appendMsg: what the handler read from the generated
// AppendReq before appendwire.go.
func referenceDecode(req *api.AppendReq) decodedAppend {
	if o := req.GetOptions(); o != nil {
		d := decodedAppend{kind: appendMsgOptions, stream: string(o.GetStreamIdentifier().GetStreamName())}
		switch v := o.GetExpectedStreamRevision().(type) {
		case *api.AppendReq_Options_Revision:
			d.expected = eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: v.Revision}
		case *api.AppendReq_Options_NoStream:
			d.expected = eventlog.Expected{Kind: eventlog.ExpectNoStream}
		case *api.AppendReq_Options_StreamExists:
			d.expected = eventlog.Expected{Kind: eventlog.ExpectStreamExists}
		default:
			d.expected = eventlog.Expected{Kind: eventlog.ExpectAny}
		}
		return d
	}
	msg := req.GetProposedMessage()
	if msg == nil {
		return decodedAppend{}
	}
	id, err := uuidFromProto(msg.GetId())
	md := msg.GetMetadata()
	return decodedAppend{kind: appendMsgProposed, id: id, idErr: err != nil, typ: md["type"], contentType: md["content-type"],
		customMeta: msg.CustomMetadata, eventData: msg.Data}
}

func decodeWithCodec(t *testing.T, b []byte) (decodedAppend, error) {
	t.Helper()
	// Split the bytes over several buffers, as gRPC may hand them over.
	var bs mem.BufferSlice
	for i := 0; i < len(b); i += 7 {
		bs = append(bs, mem.SliceBuffer(b[i:min(i+7, len(b))]))
	}
	var m appendMsg
	if err := newServerCodec().Unmarshal(bs, &m); err != nil {
		return decodedAppend{}, err
	}
	d := decodedAppend{kind: m.kind}
	switch m.kind {
	case appendMsgOptions:
		d.stream, d.expected = string(m.stream), m.expected
	case appendMsgProposed:
		id, err := m.id()
		p := m.proposed(id)
		d.id, d.idErr, d.typ, d.contentType, d.customMeta, d.eventData = id, err != nil, p.Type, p.ContentType, p.Metadata, p.Data
	}
	return d, nil
}

func sameDecoded(a, b decodedAppend) bool {
	return a.kind == b.kind && a.stream == b.stream && a.expected == b.expected && a.id == b.id && a.idErr == b.idErr &&
		a.typ == b.typ && a.contentType == b.contentType &&
		bytes.Equal(a.customMeta, b.customMeta) && bytes.Equal(a.eventData, b.eventData)
}

func appendReqSamples() []*api.AppendReq {
	opts := func(name string, rev any) *api.AppendReq {
		o := &api.AppendReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}
		switch v := rev.(type) {
		case uint64:
			o.ExpectedStreamRevision = &api.AppendReq_Options_Revision{Revision: v}
		case string:
			switch v {
			case "no_stream":
				o.ExpectedStreamRevision = &api.AppendReq_Options_NoStream{NoStream: &shared.Empty{}}
			case "any":
				o.ExpectedStreamRevision = &api.AppendReq_Options_Any{Any: &shared.Empty{}}
			case "exists":
				o.ExpectedStreamRevision = &api.AppendReq_Options_StreamExists{StreamExists: &shared.Empty{}}
			}
		}
		return &api.AppendReq{Content: &api.AppendReq_Options_{Options: o}}
	}
	id := uuid.MustParse("8f5b2e1a-3c4d-4e5f-9a0b-1c2d3e4f5a6b")
	structured := &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits: int64(beUint64(id[:8])), LeastSignificantBits: int64(beUint64(id[8:]))}}}
	prop := func(id *shared.UUID, md map[string]string, custom, data []byte) *api.AppendReq {
		return &api.AppendReq{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: &api.AppendReq_ProposedMessage{
			Id: id, Metadata: md, CustomMetadata: custom, Data: data}}}
	}
	return []*api.AppendReq{
		opts("orders-1", "no_stream"),
		opts("orders-1", "any"),
		opts("orders-1", "exists"),
		opts("orders-1", nil),
		opts("orders-1", uint64(0)),
		opts("orders-1", uint64(math.MaxUint64)),
		opts("", nil),
		{Content: &api.AppendReq_Options_{Options: &api.AppendReq_Options{}}},
		{},
		prop(structured, map[string]string{"type": "OrderPlaced", "content-type": "application/json"}, []byte(`{"m":1}`), []byte(`{"a":1}`)),
		prop(structured, map[string]string{"type": "T", "content-type": "application/octet-stream", "other": "x"}, nil, []byte{0, 1, 2}),
		prop(structured, map[string]string{"type": "Ünïcode", "content-type": "text/plain"}, nil, nil),
		prop(&shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}, map[string]string{"type": "T"}, nil, []byte("d")),
		prop(&shared.UUID{Value: &shared.UUID_String_{String_: "not-a-uuid"}}, nil, nil, nil),
		prop(&shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{}}}, nil, nil, nil),
		prop(&shared.UUID{}, nil, nil, nil),
		prop(nil, map[string]string{"type": ""}, nil, bytes.Repeat([]byte("x"), 100_000)),
		{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: &api.AppendReq_ProposedMessage{}}},
	}
}

func TestAppendMsgDecodesAsTheGeneratedCode(t *testing.T) {
	samples := appendReqSamples()
	var wires [][]byte
	for _, req := range samples {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, b)
	}
	check := func(name string, b []byte) {
		t.Helper()
		var ref api.AppendReq
		refErr := proto.Unmarshal(b, &ref)
		got, err := decodeWithCodec(t, b)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("%s: error %v, generated code: %v", name, err, refErr)
		}
		if err == nil && !sameDecoded(got, referenceDecode(&ref)) {
			t.Fatalf("%s: decoded %+v, generated code %+v", name, got, referenceDecode(&ref))
		}
	}
	for i, b := range wires {
		check(fmt.Sprint("sample ", i), b)
		// Truncated messages fail in both (or decode the same prefix).
		for cut := 1; cut < min(len(b), 64); cut++ {
			check(fmt.Sprintf("sample %d cut at %d", i, cut), b[:cut])
		}
	}
	// Concatenated messages merge: the last scalar wins, a oneof switches members.
	for i, a := range wires {
		for j, b := range wires {
			check(fmt.Sprintf("samples %d+%d", i, j), append(append([]byte{}, a...), b...))
		}
	}
	// Unknown fields are skipped.
	unknown := []byte{0x78, 0x05, 0x82, 0x01, 0x02, 'h', 'i'} // field 15 varint 5; field 16 bytes "hi"
	for i, b := range wires {
		check(fmt.Sprint("sample with unknown fields ", i), append(append([]byte{}, unknown...), b...))
	}
}

func TestAppendMsgRejectsInvalidUTF8(t *testing.T) {
	req := &api.AppendReq{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: &api.AppendReq_ProposedMessage{
		Metadata: map[string]string{"type": "ok"}}}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(b, []byte("ok"), []byte{0xff, 0xfe}, 1)
	if proto.Unmarshal(bad, &api.AppendReq{}) == nil {
		t.Fatal("the generated code accepts invalid UTF-8: the test is wrong")
	}
	if _, err := decodeWithCodec(t, bad); err == nil {
		t.Fatal("appendMsg accepted invalid UTF-8")
	}
}

func TestAppendSuccessMatchesGeneratedMessage(t *testing.T) {
	for _, res := range []eventlog.AppendResult{
		{NextRevision: -1}, {NextRevision: -1, Position: 7}, {NextRevision: 0, Position: 1}, {NextRevision: 0},
		{NextRevision: 41, Position: 1 << 40}, {NextRevision: math.MaxInt64, Position: math.MaxUint64},
	} {
		success := &api.AppendResp_Success{}
		if res.NextRevision < 0 {
			success.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		} else {
			success.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(res.NextRevision)}
		}
		if res.Position > 0 {
			success.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
				CommitPosition: res.Position, PreparePosition: res.Position}}
		} else {
			success.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		}
		want := &api.AppendResp{Result: &api.AppendResp_Success_{Success: success}}
		bs, err := newServerCodec().Marshal(appendSuccess(res))
		if err != nil {
			t.Fatal(err)
		}
		got := bs.Materialize()
		var back api.AppendResp
		if err := proto.Unmarshal(got, &back); err != nil || !proto.Equal(&back, want) {
			t.Fatalf("%+v: decoded %v (%v), want %v", res, &back, err, want)
		}
		ref, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if err != nil || !bytes.Equal(ref, got) {
			t.Fatalf("%+v: % x, proto.Marshal % x", res, got, ref)
		}
	}
}

// uuidFromProto is how the handler read an event id from the generated message.
func uuidFromProto(u *shared.UUID) (uuid.UUID, error) {
	switch v := u.GetValue().(type) {
	case *shared.UUID_Structured_:
		var id uuid.UUID
		putBE(id[:8], uint64(v.Structured.MostSignificantBits))
		putBE(id[8:], uint64(v.Structured.LeastSignificantBits))
		return id, nil
	case *shared.UUID_String_:
		return uuid.Parse(v.String_)
	}
	return uuid.Nil, fmt.Errorf("missing event id")
}
