package eventstore

import (
	"slices"
	"unicode/utf8"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Appends are the command side's hot path: the official client sends one AppendReq for the
// options and one per event, and receives one AppendResp. Protobuf's generic marshalling of
// those messages (sizing, then encoding, a map per event) took about 9% of the CPU of a
// durable append in the process, client and server together. The codec encodes AppendReq and
// decodes a successful AppendResp by hand, producing exactly what proto.Marshal (with
// deterministic map order) and proto.Unmarshal give; anything it does not know — unknown
// fields, a message it was not written for, a wrong expected version, a string that is not
// UTF-8 — goes to the standard codec. appendcodec_test.go checks both against protobuf.

// Field numbers of streams.proto (AppendReq, AppendResp) and shared.proto.
const (
	fAppendOptions  = 1 // AppendReq.options (oneof content)
	fAppendProposed = 2 // AppendReq.proposed_message (oneof content)

	fOptStreamIdentifier = 1 // AppendReq.Options
	fOptRevision         = 2 // oneof expected_stream_revision
	fOptNoStream         = 3
	fOptAny              = 4
	fOptStreamExists     = 5

	fPropID             = 1 // AppendReq.ProposedMessage
	fPropMetadata       = 2 // map<string, string>
	fPropCustomMetadata = 3
	fPropData           = 4

	fRespSuccess    = 1 // AppendResp.success (oneof result)
	fSuccRevision   = 1 // AppendResp.Success, oneof current_revision_option
	fSuccNoStream   = 2
	fSuccPosition   = 3 // oneof position_option
	fSuccNoPosition = 4
	fPosCommit      = 1 // AppendResp.Position
	fPosPrepare     = 2

	maxMetadataInline = 4 // the client sends two metadata entries (type, content-type)
)

// marshalAppendReq returns m's wire form, or ok false when m holds something the hand encoder
// does not cover (the standard codec then encodes it).
func marshalAppendReq(m *streams.AppendReq) (mem.BufferSlice, bool) {
	if unknown(m) {
		return nil, false
	}
	var e appendEncoder
	switch c := m.Content.(type) {
	case *streams.AppendReq_Options_:
		if c.Options == nil || !e.options(c.Options) {
			return nil, false
		}
	case *streams.AppendReq_ProposedMessage_:
		if c.ProposedMessage == nil || !e.proposed(c.ProposedMessage) {
			return nil, false
		}
	default:
		return nil, false
	}
	return e.encode(), true
}

// unknown reports whether a message carries unknown fields, which only the standard codec
// writes back.
func unknown(m proto.Message) bool { return len(m.ProtoReflect().GetUnknown()) > 0 }

// appendEncoder holds an AppendReq's parts and their sizes between the checking pass and the
// encoding into one buffer.
type appendEncoder struct {
	field int // fAppendOptions or fAppendProposed
	inner int // size of the options or proposed message

	// Options.
	opt      *streams.AppendReq_Options
	streamID int // size of the StreamIdentifier message, -1 when absent

	// ProposedMessage.
	prop    *streams.AppendReq_ProposedMessage
	idSize  int // size of the UUID message, -1 when absent
	keys    []string
	keysBuf [maxMetadataInline]string
}

func (e *appendEncoder) options(o *streams.AppendReq_Options) bool {
	if unknown(o) {
		return false
	}
	e.field, e.opt, e.streamID = fAppendOptions, o, -1
	n := 0
	if s := o.StreamIdentifier; s != nil {
		if unknown(s) {
			return false
		}
		e.streamID = bytesFieldSize(fStreamName, len(s.StreamName), false)
		n += protowire.SizeTag(fOptStreamIdentifier) + protowire.SizeBytes(e.streamID)
	}
	switch r := o.ExpectedStreamRevision.(type) {
	case nil:
	case *streams.AppendReq_Options_Revision:
		n += protowire.SizeTag(fOptRevision) + protowire.SizeVarint(r.Revision)
	case *streams.AppendReq_Options_NoStream:
		if !emptyMessage(r.NoStream) {
			return false
		}
		n += protowire.SizeTag(fOptNoStream) + 1
	case *streams.AppendReq_Options_Any:
		if !emptyMessage(r.Any) {
			return false
		}
		n += protowire.SizeTag(fOptAny) + 1
	case *streams.AppendReq_Options_StreamExists:
		if !emptyMessage(r.StreamExists) {
			return false
		}
		n += protowire.SizeTag(fOptStreamExists) + 1
	default:
		return false
	}
	e.inner = n
	return true
}

// emptyMessage reports whether an Empty oneof member encodes as zero bytes (set, no unknowns).
func emptyMessage(m *shared.Empty) bool { return m != nil && !unknown(m) }

func (e *appendEncoder) proposed(p *streams.AppendReq_ProposedMessage) bool {
	if unknown(p) {
		return false
	}
	e.field, e.prop, e.idSize = fAppendProposed, p, -1
	n := 0
	if id := p.Id; id != nil {
		if unknown(id) {
			return false
		}
		switch v := id.Value.(type) {
		case nil:
			e.idSize = 0
		case *shared.UUID_Structured_:
			s := v.Structured
			if s == nil || unknown(s) {
				return false
			}
			e.idSize = protowire.SizeTag(fUUIDStructured) + protowire.SizeBytes(structuredSize(s))
		case *shared.UUID_String_:
			if !utf8.ValidString(v.String_) {
				return false
			}
			e.idSize = bytesFieldSize(fUUIDString, len(v.String_), true)
		default:
			return false
		}
		n += protowire.SizeTag(fPropID) + protowire.SizeBytes(e.idSize)
	}
	e.keys = e.keysBuf[:0]
	for k, v := range p.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
		e.keys = append(e.keys, k)
		n += protowire.SizeTag(fPropMetadata) + protowire.SizeBytes(mapEntrySize(k, v))
	}
	slices.Sort(e.keys) // the order of proto.MarshalOptions{Deterministic: true}
	n += bytesFieldSize(fPropCustomMetadata, len(p.CustomMetadata), false)
	n += bytesFieldSize(fPropData, len(p.Data), false)
	e.inner = n
	return true
}

// bytesFieldSize is the size of a bytes or string field; proto3 leaves out an empty one that
// is not a oneof member.
func bytesFieldSize(num protowire.Number, n int, oneof bool) int {
	if n == 0 && !oneof {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func structuredSize(s *shared.UUID_Structured) int {
	n := 0
	if s.MostSignificantBits != 0 {
		n += protowire.SizeTag(fUUIDMost) + protowire.SizeVarint(uint64(s.MostSignificantBits))
	}
	if s.LeastSignificantBits != 0 {
		n += protowire.SizeTag(fUUIDLeast) + protowire.SizeVarint(uint64(s.LeastSignificantBits))
	}
	return n
}

// mapEntrySize is the size of a map<string, string> entry: protobuf writes key and value
// even when empty.
func mapEntrySize(k, v string) int {
	return protowire.SizeTag(fMapKey) + protowire.SizeBytes(len(k)) +
		protowire.SizeTag(fMapValue) + protowire.SizeBytes(len(v))
}

// encode writes the message checked by options or proposed, in field-number order, into a
// buffer of its exact size, pooled as gRPC's own codec pools large messages.
func (e *appendEncoder) encode() mem.BufferSlice {
	size := protowire.SizeTag(protowire.Number(e.field)) + protowire.SizeBytes(e.inner)
	if mem.IsBelowBufferPoolingThreshold(size) {
		return mem.BufferSlice{mem.SliceBuffer(e.appendTo(make([]byte, 0, size)))}
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	*buf = e.appendTo((*buf)[:0])
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}
}

func (e *appendEncoder) appendTo(b []byte) []byte {
	b = protowire.AppendTag(b, protowire.Number(e.field), protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(e.inner))
	if e.opt != nil {
		return e.appendOptions(b)
	}
	return e.appendProposed(b)
}

func (e *appendEncoder) appendOptions(b []byte) []byte {
	o := e.opt
	if e.streamID >= 0 {
		b = protowire.AppendTag(b, fOptStreamIdentifier, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.streamID))
		if name := o.StreamIdentifier.StreamName; len(name) > 0 {
			b = protowire.AppendTag(b, fStreamName, protowire.BytesType)
			b = protowire.AppendBytes(b, name)
		}
	}
	switch r := o.ExpectedStreamRevision.(type) {
	case *streams.AppendReq_Options_Revision:
		b = protowire.AppendTag(b, fOptRevision, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Revision)
	case *streams.AppendReq_Options_NoStream:
		b = appendEmpty(b, fOptNoStream)
	case *streams.AppendReq_Options_Any:
		b = appendEmpty(b, fOptAny)
	case *streams.AppendReq_Options_StreamExists:
		b = appendEmpty(b, fOptStreamExists)
	}
	return b
}

func appendEmpty(b []byte, num protowire.Number) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, 0)
}

func (e *appendEncoder) appendProposed(b []byte) []byte {
	p := e.prop
	if e.idSize >= 0 {
		b = protowire.AppendTag(b, fPropID, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.idSize))
		switch v := p.Id.Value.(type) {
		case *shared.UUID_Structured_:
			s := v.Structured
			b = protowire.AppendTag(b, fUUIDStructured, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(structuredSize(s)))
			if s.MostSignificantBits != 0 {
				b = protowire.AppendTag(b, fUUIDMost, protowire.VarintType)
				b = protowire.AppendVarint(b, uint64(s.MostSignificantBits))
			}
			if s.LeastSignificantBits != 0 {
				b = protowire.AppendTag(b, fUUIDLeast, protowire.VarintType)
				b = protowire.AppendVarint(b, uint64(s.LeastSignificantBits))
			}
		case *shared.UUID_String_:
			b = protowire.AppendTag(b, fUUIDString, protowire.BytesType)
			b = protowire.AppendString(b, v.String_)
		}
	}
	for _, k := range e.keys {
		v := p.Metadata[k]
		b = protowire.AppendTag(b, fPropMetadata, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(mapEntrySize(k, v)))
		b = protowire.AppendTag(b, fMapKey, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, fMapValue, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	if len(p.CustomMetadata) > 0 {
		b = protowire.AppendTag(b, fPropCustomMetadata, protowire.BytesType)
		b = protowire.AppendBytes(b, p.CustomMetadata)
	}
	if len(p.Data) > 0 {
		b = protowire.AppendTag(b, fPropData, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Data)
	}
	return b
}

// successParts is a decoded AppendResp.success, allocated at once in its usual shape (a
// revision and a position); no_stream and no_position are allocated on their own.
type successParts struct {
	result   streams.AppendResp_Success_
	success  streams.AppendResp_Success
	revision streams.AppendResp_Success_CurrentRevision
	position streams.AppendResp_Success_Position
	pos      streams.AppendResp_Position
}

// decodeAppendSuccess decodes an AppendResp whose result is a success. ok is false for
// anything else (a wrong expected version, unknown or repeated fields), which the standard
// codec then decodes.
func decodeAppendSuccess(b []byte) (*streams.AppendResp_Success_, bool) {
	f := fields{b: b, ok: true}
	var inner []byte
	for {
		num, typ, _, bs, done := f.next()
		if done {
			break
		}
		if num != fRespSuccess || typ != protowire.BytesType || !f.once(num) {
			return nil, false
		}
		inner = bs
	}
	if !f.ok || inner == nil {
		return nil, false
	}
	p := new(successParts)
	p.result.Success = &p.success
	f = fields{b: inner, ok: true}
	for {
		num, typ, v, bs, done := f.next()
		if done {
			break
		}
		if !f.once(num) {
			return nil, false
		}
		switch {
		case num == fSuccRevision && typ == protowire.VarintType && p.success.CurrentRevisionOption == nil:
			p.revision.CurrentRevision = v
			p.success.CurrentRevisionOption = &p.revision
		case num == fSuccNoStream && typ == protowire.BytesType && len(bs) == 0 && p.success.CurrentRevisionOption == nil:
			p.success.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		case num == fSuccPosition && typ == protowire.BytesType && p.success.PositionOption == nil:
			if !decodePosition(bs, &p.pos) {
				return nil, false
			}
			p.position.Position = &p.pos
			p.success.PositionOption = &p.position
		case num == fSuccNoPosition && typ == protowire.BytesType && len(bs) == 0 && p.success.PositionOption == nil:
			p.success.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		default:
			return nil, false
		}
	}
	if !f.ok {
		return nil, false
	}
	return &p.result, true
}

func decodePosition(b []byte, p *streams.AppendResp_Position) bool {
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
		case fPosCommit:
			p.CommitPosition = v
		case fPosPrepare:
			p.PreparePosition = v
		default:
			return false
		}
	}
	return f.ok
}
