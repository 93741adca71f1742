package eventstore

import (
	"unicode/utf8"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Every read of a stream or of $all, and every subscription, receives one ReadResp per event,
// and the official client's time goes mostly into protobuf's generic, reflection-driven
// decoding of it (a third of a ReadAll's CPU, client and server together). clientCodec is
// gRPC's proto codec with exceptions: a ReadResp that carries an event is decoded by hand
// into the very same message. Whatever else it meets — another message, another kind of
// ReadResp, a field it does not know, a repeated field, a string that is not UTF-8 — goes to the
// standard codec, so a newer EventStoreDB's answers decode as before. readcodec_test.go checks
// it against proto.Unmarshal.
//
// gRPC looks codecs up by name for every call, and the official client offers no way to set
// one per connection: registering it under "proto" is how it reaches the client's calls. It
// changes the decoding of ReadResp and AppendResp and the encoding of AppendReq alone
// (appendcodec.go), for every gRPC client in the process.
type clientCodec struct{ base encoding.CodecV2 }

func init() {
	encoding.RegisterCodecV2(clientCodec{base: encoding.GetCodecV2(grpcproto.Name)})
}

func (c clientCodec) Name() string { return grpcproto.Name }

func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*streams.AppendReq); ok {
		if out, ok := marshalAppendReq(m); ok {
			return out, nil
		}
	}
	return c.base.Marshal(v)
}

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *streams.ReadResp:
		b, free := contiguous(data)
		defer free()
		if content, ok := decodeReadEventResp(b); ok {
			m.Reset() // as proto.Unmarshal does
			m.Content = content
			return nil
		}
	case *streams.AppendResp:
		b, free := contiguous(data)
		defer free()
		if result, ok := decodeAppendSuccess(b); ok {
			m.Reset()
			m.Result = result
			return nil
		}
	}
	return c.base.Unmarshal(data, v)
}

// contiguous returns data's bytes in one slice, valid until free is called.
func contiguous(data mem.BufferSlice) (b []byte, free func()) {
	if len(data) == 1 {
		return data[0].ReadOnlyData(), func() {}
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	return buf.ReadOnlyData(), buf.Free
}

// Field numbers of streams.proto and shared.proto.
const (
	fRespEvent = 1 // ReadResp.event

	fEvEvent          = 1 // ReadEvent.event
	fEvLink           = 2 // ReadEvent.link
	fEvCommitPosition = 3 // ReadEvent.commit_position
	fEvNoPosition     = 4 // ReadEvent.no_position

	fRecID              = 1
	fRecStreamID        = 2
	fRecStreamRevision  = 3
	fRecPreparePosition = 4
	fRecCommitPosition  = 5
	fRecMetadata        = 6
	fRecCustomMetadata  = 7
	fRecData            = 8

	fUUIDStructured = 1
	fUUIDString     = 2
	fUUIDMost       = 1
	fUUIDLeast      = 2

	fStreamName = 3

	fMapKey   = 1
	fMapValue = 2
)

// fields reads a message's fields in turn; ok turns false at malformed input.
type fields struct {
	b    []byte
	seen uint16 // fields 1..15 met so far: one twice means fall back (merging rules)
	ok   bool
}

// next returns the next field: its number, wire type and, for a varint, its value, for bytes
// its contents. done is true at the end of the message and on malformed input (f.ok false).
func (f *fields) next() (num protowire.Number, typ protowire.Type, v uint64, bs []byte, done bool) {
	if len(f.b) == 0 {
		return 0, 0, 0, nil, true
	}
	num, typ, n := protowire.ConsumeTag(f.b)
	if n < 0 {
		f.ok = false
		return 0, 0, 0, nil, true
	}
	f.b = f.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(f.b)
	case protowire.BytesType:
		bs, n = protowire.ConsumeBytes(f.b)
	default:
		n = -1 // no field of these messages has another wire type
	}
	if n < 0 {
		f.ok = false
		return 0, 0, 0, nil, true
	}
	f.b = f.b[n:]
	return num, typ, v, bs, false
}

// once records a field that may appear once; false for a second time or a number past 15.
func (f *fields) once(num protowire.Number) bool {
	if num < 1 || num > 15 || f.seen&(1<<num) != 0 {
		return false
	}
	f.seen |= 1 << num
	return true
}

// decodeReadEventResp decodes a ReadResp whose content is an event. ok is false for anything
// else, which the standard codec then decodes.
func decodeReadEventResp(b []byte) (*streams.ReadResp_Event, bool) {
	f := fields{b: b, ok: true}
	var content *streams.ReadResp_Event
	for {
		num, typ, _, bs, done := f.next()
		if done {
			break
		}
		if num != fRespEvent || typ != protowire.BytesType || !f.once(num) {
			return nil, false
		}
		var ok bool
		if content, ok = decodeReadEvent(bs); !ok {
			return nil, false
		}
	}
	return content, f.ok && content != nil
}

// eventParts are the messages of one ReadResp's event, allocated together.
type eventParts struct {
	content streams.ReadResp_Event
	ev      streams.ReadResp_ReadEvent
	commit  streams.ReadResp_ReadEvent_CommitPosition
}

func decodeReadEvent(b []byte) (*streams.ReadResp_Event, bool) {
	p := &eventParts{}
	ev := &p.ev
	p.content.Event = ev
	f := fields{b: b, ok: true}
	positioned := false
	for {
		num, typ, v, bs, done := f.next()
		if done {
			break
		}
		if !f.once(num) {
			return nil, false
		}
		var ok bool
		switch {
		case num == fEvEvent && typ == protowire.BytesType:
			ev.Event, ok = decodeRecorded(bs)
		case num == fEvLink && typ == protowire.BytesType:
			ev.Link, ok = decodeRecorded(bs)
		case num == fEvCommitPosition && typ == protowire.VarintType && !positioned:
			p.commit.CommitPosition = v
			ev.Position, ok, positioned = &p.commit, true, true
		case num == fEvNoPosition && typ == protowire.BytesType && !positioned && len(bs) == 0:
			ev.Position, ok, positioned = &streams.ReadResp_ReadEvent_NoPosition{NoPosition: &shared.Empty{}}, true, true
		}
		if !ok {
			return nil, false
		}
	}
	return &p.content, f.ok
}

// recordedParts are the messages of one RecordedEvent, allocated together.
type recordedParts struct {
	rec        streams.ReadResp_ReadEvent_RecordedEvent
	id         shared.UUID
	structured shared.UUID_Structured_
	bits       shared.UUID_Structured
	stream     shared.StreamIdentifier
}

// span is a bytes field's contents in the input, and whether the field was there.
type span struct {
	b       []byte
	present bool
}

func decodeRecorded(b []byte) (*streams.ReadResp_ReadEvent_RecordedEvent, bool) {
	p := &recordedParts{}
	r := &p.rec
	var name, custom, data span
	f := fields{b: b, ok: true}
	for {
		num, typ, v, bs, done := f.next()
		if done {
			break
		}
		if num != fRecMetadata && !f.once(num) {
			return nil, false
		}
		ok := true
		switch {
		case num == fRecID && typ == protowire.BytesType:
			ok = decodeUUID(bs, p)
		case num == fRecStreamID && typ == protowire.BytesType:
			r.StreamIdentifier = &p.stream
			name, ok = decodeStreamName(bs)
		case num == fRecStreamRevision && typ == protowire.VarintType:
			r.StreamRevision = v
		case num == fRecPreparePosition && typ == protowire.VarintType:
			r.PreparePosition = v
		case num == fRecCommitPosition && typ == protowire.VarintType:
			r.CommitPosition = v
		case num == fRecMetadata && typ == protowire.BytesType:
			if r.Metadata == nil {
				r.Metadata = make(map[string]string, 3)
			}
			ok = decodeMapEntry(bs, r.Metadata)
		case num == fRecCustomMetadata && typ == protowire.BytesType:
			custom = span{bs, true}
		case num == fRecData && typ == protowire.BytesType:
			data = span{bs, true}
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
	if !f.ok {
		return nil, false
	}
	// The bytes are copied out of gRPC's buffer, which is reused once decoding returns, into
	// one allocation; each field's capacity ends where it does. Like proto.Unmarshal, a field
	// that is there but empty is an empty, non-nil slice.
	buf := make([]byte, 0, len(name.b)+len(custom.b)+len(data.b))
	take := func(s span) []byte {
		if !s.present {
			return nil
		}
		at := len(buf)
		buf = append(buf, s.b...)
		return buf[at:len(buf):len(buf)]
	}
	p.stream.StreamName = take(name)
	r.CustomMetadata = take(custom)
	r.Data = take(data)
	return r, true
}

// decodeUUID decodes a UUID (a oneof: structured or string) into p.id and sets p.rec.Id.
func decodeUUID(b []byte, p *recordedParts) bool {
	f := fields{b: b, ok: true}
	set := false
	for {
		num, typ, _, bs, done := f.next()
		if done {
			break
		}
		if set { // a second member of the oneof
			return false
		}
		set = true
		switch {
		case num == fUUIDStructured && typ == protowire.BytesType:
			if !decodeStructured(bs, &p.bits) {
				return false
			}
			p.structured.Structured = &p.bits
			p.id.Value = &p.structured
		case num == fUUIDString && typ == protowire.BytesType && utf8.Valid(bs):
			p.id.Value = &shared.UUID_String_{String_: string(bs)}
		default:
			return false
		}
	}
	p.rec.Id = &p.id
	return f.ok
}

func decodeStructured(b []byte, s *shared.UUID_Structured) bool {
	f := fields{b: b, ok: true}
	for {
		num, typ, v, _, done := f.next()
		if done {
			break
		}
		if typ != protowire.VarintType || !f.once(num) {
			return false
		}
		switch num {
		case fUUIDMost:
			s.MostSignificantBits = int64(v)
		case fUUIDLeast:
			s.LeastSignificantBits = int64(v)
		default:
			return false
		}
	}
	return f.ok
}

// decodeStreamName finds the stream_name of a StreamIdentifier.
func decodeStreamName(b []byte) (span, bool) {
	var name span
	f := fields{b: b, ok: true}
	for {
		num, typ, _, bs, done := f.next()
		if done {
			break
		}
		if num != fStreamName || typ != protowire.BytesType || !f.once(num) {
			return span{}, false
		}
		name = span{bs, true}
	}
	return name, f.ok
}

// decodeMapEntry adds one entry of a map<string, string>: a missing key or value is "", a key
// met again takes the later value (as protobuf does).
func decodeMapEntry(b []byte, m map[string]string) bool {
	f := fields{b: b, ok: true}
	var key, value []byte
	for {
		num, typ, _, bs, done := f.next()
		if done {
			break
		}
		if typ != protowire.BytesType || !f.once(num) || !utf8.Valid(bs) {
			return false
		}
		switch num {
		case fMapKey:
			key = bs
		case fMapValue:
			value = bs
		default:
			return false
		}
	}
	if !f.ok {
		return false
	}
	m[known(key)] = known(value)
	return true
}

// known returns the string of bs, without allocating for the keys and the content type every
// event carries.
func known(bs []byte) string {
	switch string(bs) {
	case "type":
		return "type"
	case "content-type":
		return "content-type"
	case "created":
		return "created"
	case "application/json":
		return "application/json"
	case "application/octet-stream":
		return "application/octet-stream"
	}
	return string(bs)
}
