package esdbserver

import (
	"errors"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// Appends are the other hot path: one gRPC message for the options and one per event. The
// reflection-based proto unmarshaller builds five objects and a map for every event, only for
// the handler to copy four fields out of them; so the append handler receives its messages
// as *appendMsg, which serverCodec decodes by hand from the protobuf wire form, and answers a
// successful append with a pre-encoded AppendResp. appendwire_test.go checks both against the
// generated messages and proto.Marshal/Unmarshal.

// appendMsgKind says which member of AppendReq's content oneof a message carried.
type appendMsgKind int

const (
	appendMsgNone appendMsgKind = iota
	appendMsgOptions
	appendMsgProposed
)

// appendIDKind says which member of the event id's oneof (shared.UUID.value) was set.
type appendIDKind int

const (
	appendIDNone appendIDKind = iota
	appendIDStructured
	appendIDString
)

// appendMsg is one AppendReq. Its byte slices alias a copy of the message that it owns.
type appendMsg struct {
	kind appendMsgKind

	// Options (kind == appendMsgOptions).
	stream   []byte
	expected eventlog.Expected // ExpectAny when the message does not say

	// ProposedMessage (kind == appendMsgProposed).
	idKind      appendIDKind
	msb, lsb    uint64 // UUID.structured
	idString    []byte // UUID.string
	eventType   []byte // metadata["type"]
	contentType []byte // metadata["content-type"]
	customMeta  []byte
	data        []byte
}

// Field numbers, from streams.proto and shared.proto.
const (
	fAppendReqOptions  = 1 // AppendReq.options (oneof content)
	fAppendReqProposed = 2 // AppendReq.proposed_message (oneof content)

	fOptStreamID     = 1 // AppendReq.Options.stream_identifier
	fOptRevision     = 2 // oneof expected_stream_revision
	fOptNoStream     = 3
	fOptAny          = 4
	fOptStreamExists = 5

	fPropID             = 1 // AppendReq.ProposedMessage.id
	fPropMetadata       = 2 // map<string, string>
	fPropCustomMetadata = 3
	fPropData           = 4

	fAppendRespSuccess       = 1 // AppendResp.success (oneof result)
	fSuccessCurrentRevision  = 1 // AppendResp.Success, oneof current_revision_option
	fSuccessNoStream         = 2
	fSuccessPosition         = 3 // oneof position_option
	fSuccessNoPosition       = 4
	fPositionCommitPosition  = 1 // AppendResp.Position
	fPositionPreparePosition = 2
)

var (
	errAppendMsgInvalid = errors.New("append request: invalid protobuf")
	errAppendMsgUTF8    = errors.New("append request: string field contains invalid UTF-8")
)

// unmarshal decodes an AppendReq from b, which m keeps (b must not change afterwards). It
// follows proto3's rules as the generated code does: unknown fields and fields of an
// unexpected wire type are skipped, the last value of a scalar wins, a repeated message field
// merges, and setting another member of a oneof clears the previous one.
func (m *appendMsg) unmarshal(b []byte) error {
	*m = appendMsg{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == fAppendReqOptions || num == fAppendReqProposed) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			kind := appendMsgOptions
			if num == fAppendReqProposed {
				kind = appendMsgProposed
			}
			if m.kind != kind {
				*m = appendMsg{kind: kind}
			}
			var err error
			if kind == appendMsgOptions {
				err = m.unmarshalOptions(v)
			} else {
				err = m.unmarshalProposed(v)
			}
			if err != nil {
				return err
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
	}
	return nil
}

func (m *appendMsg) unmarshalOptions(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		switch {
		case num == fOptStreamID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			if err := m.unmarshalStreamID(v); err != nil {
				return err
			}
		case num == fOptRevision && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			m.expected = eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: v}
		case (num == fOptNoStream || num == fOptAny || num == fOptStreamExists) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !skipFields(v) {
				return errAppendMsgInvalid
			}
			b = b[n:]
			switch num {
			case fOptNoStream:
				m.expected = eventlog.Expected{Kind: eventlog.ExpectNoStream}
			case fOptStreamExists:
				m.expected = eventlog.Expected{Kind: eventlog.ExpectStreamExists}
			default:
				m.expected = eventlog.Expected{Kind: eventlog.ExpectAny}
			}
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
		}
	}
	return nil
}

// unmarshalStreamID decodes shared.StreamIdentifier.
func (m *appendMsg) unmarshalStreamID(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		if num == fStreamName && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			m.stream = v
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
	}
	return nil
}

func (m *appendMsg) unmarshalProposed(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		if typ != protowire.BytesType || num < fPropID || num > fPropData {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		switch num {
		case fPropID:
			if err := m.unmarshalUUID(v); err != nil {
				return err
			}
		case fPropMetadata:
			if err := m.unmarshalMetadataEntry(v); err != nil {
				return err
			}
		case fPropCustomMetadata:
			m.customMeta = v
		case fPropData:
			m.data = v
		}
	}
	return nil
}

// unmarshalUUID decodes shared.UUID (merging into what an earlier occurrence set).
func (m *appendMsg) unmarshalUUID(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		switch {
		case num == fUUIDStructured && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			if m.idKind != appendIDStructured {
				m.idKind, m.msb, m.lsb, m.idString = appendIDStructured, 0, 0, nil
			}
			if err := m.unmarshalStructured(v); err != nil {
				return err
			}
		case num == fUUIDString && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			if !utf8.Valid(v) {
				return errAppendMsgUTF8
			}
			b = b[n:]
			m.idKind, m.msb, m.lsb, m.idString = appendIDString, 0, 0, v
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
		}
	}
	return nil
}

// unmarshalStructured decodes shared.UUID.Structured.
func (m *appendMsg) unmarshalStructured(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		if (num == fStructuredMSB || num == fStructuredLSB) && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			if num == fStructuredMSB {
				m.msb = v
			} else {
				m.lsb = v
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
	}
	return nil
}

// unmarshalMetadataEntry decodes one entry of the metadata map and keeps the two the server
// uses; as in a map, a later entry for the same key replaces an earlier one.
func (m *appendMsg) unmarshalMetadataEntry(b []byte) error {
	var key, value []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
		if (num == fMapKey || num == fMapValue) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errAppendMsgInvalid
			}
			b = b[n:]
			if num == fMapKey {
				key = v
			} else {
				value = v
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errAppendMsgInvalid
		}
		b = b[n:]
	}
	if !utf8.Valid(key) || !utf8.Valid(value) {
		return errAppendMsgUTF8
	}
	switch string(key) {
	case keyType:
		m.eventType = value
	case keyContentType:
		m.contentType = value
	}
	return nil
}

// skipFields reports whether b is a well-formed sequence of fields (an Empty message).
func skipFields(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// id returns the event id: structured (big-endian halves) or parsed from its string form.
func (m *appendMsg) id() (uuid.UUID, error) {
	switch m.idKind {
	case appendIDStructured:
		var id uuid.UUID
		putBE(id[:8], m.msb)
		putBE(id[8:], m.lsb)
		return id, nil
	case appendIDString:
		return uuid.ParseBytes(m.idString)
	}
	return uuid.Nil, errors.New("missing event id")
}

// proposed returns the event the message proposes. Its slices alias m's copy of the message.
func (m *appendMsg) proposed(id uuid.UUID) eventlog.Proposed {
	return eventlog.Proposed{ID: id, Type: internString(m.eventType), ContentType: internString(m.contentType),
		Metadata: m.customMeta, Data: m.data}
}

// internString returns the common content types and event types without allocating.
func internString(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "application/json":
		return "application/json"
	case "application/octet-stream":
		return "application/octet-stream"
	}
	return string(b)
}

// unmarshalAppendMsg is serverCodec's path for *appendMsg: it copies the message once (gRPC
// reuses data's buffers after this returns) and decodes the copy.
func unmarshalAppendMsg(data mem.BufferSlice, m *appendMsg) error {
	return m.unmarshal(data.Materialize())
}

// appendSuccess returns the wire form of AppendResp{success{current_revision or no_stream,
// position{commit, prepare} or no_position}} for res: the bytes proto.Marshal gives for that
// message built with the generated types (appendwire_test.go).
func appendSuccess(res eventlog.AppendResult) *rawMessage {
	var b [48]byte
	inner := b[:0]
	if res.NextRevision < 0 {
		inner = protowire.AppendTag(inner, fSuccessNoStream, protowire.BytesType)
		inner = protowire.AppendVarint(inner, 0)
	} else {
		inner = protowire.AppendTag(inner, fSuccessCurrentRevision, protowire.VarintType)
		inner = protowire.AppendVarint(inner, uint64(res.NextRevision))
	}
	if res.Position > 0 {
		// commit and prepare positions are equal, and not 0: both are encoded.
		pos := 2 * (protowire.SizeTag(fPositionCommitPosition) + protowire.SizeVarint(res.Position))
		inner = protowire.AppendTag(inner, fSuccessPosition, protowire.BytesType)
		inner = protowire.AppendVarint(inner, uint64(pos))
		inner = protowire.AppendTag(inner, fPositionCommitPosition, protowire.VarintType)
		inner = protowire.AppendVarint(inner, res.Position)
		inner = protowire.AppendTag(inner, fPositionPreparePosition, protowire.VarintType)
		inner = protowire.AppendVarint(inner, res.Position)
	} else {
		inner = protowire.AppendTag(inner, fSuccessNoPosition, protowire.BytesType)
		inner = protowire.AppendVarint(inner, 0)
	}
	out := make([]byte, 0, protowire.SizeTag(fAppendRespSuccess)+protowire.SizeBytes(len(inner)))
	out = protowire.AppendTag(out, fAppendRespSuccess, protowire.BytesType)
	out = protowire.AppendBytes(out, inner)
	return &rawMessage{buf: mem.SliceBuffer(out)}
}
