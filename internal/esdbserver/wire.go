package esdbserver

import (
	"fmt"
	"strconv"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec that serverCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// Reads and subscriptions send one gRPC message per event, so building that message is the
// server's hot path. Instead of filling a ReadResp (nine allocations, a map) and letting the
// reflection-based marshaller walk it, the server writes the protobuf wire form of the event
// directly from the stored record (appendReadEvent) and hands the bytes to gRPC through a codec
// that passes such pre-encoded messages through untouched. Every other message still goes
// through the standard proto codec. wire_test.go checks the bytes against proto.Marshal.

// rawMessage is a message already in protobuf wire form, in a reference-counted buffer.
// Sending it hands the reference to gRPC, which releases it once the bytes are written.
type rawMessage struct{ buf mem.Buffer }

// slabSize is the size of the buffers events are encoded into, many to a buffer: each event's
// message is a view of its slab, which returns to encodePool once all its views are released.
// (gRPC does not pool buffers below 1 KB, the size of most single events.)
const slabSize = 64 << 10

var encodePool = mustPool(mem.NewBinaryTieredBufferPool(16, 18, 20))

func mustPool(p mem.BufferPool, err error) mem.BufferPool {
	if err != nil {
		panic(err)
	}
	return p
}

// free returns the buffer of a message that was not sent.
func (m *rawMessage) free() {
	if m.buf != nil {
		m.buf.Free()
		m.buf = nil
	}
}

// serverCodec is the standard proto codec, except that it sends a *rawMessage as is and decodes
// an *appendMsg by hand (appendwire.go).
type serverCodec struct{ proto encoding.CodecV2 }

func newServerCodec() serverCodec { return serverCodec{proto: encoding.GetCodecV2("proto")} }

func (c serverCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*rawMessage); ok {
		// The buffer's one reference passes to gRPC, which frees it when written.
		bs := mem.BufferSlice{m.buf}
		m.buf = nil
		return bs, nil
	}
	return c.proto.Marshal(v)
}

func (c serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*appendMsg); ok {
		return unmarshalAppendMsg(data, m)
	}
	return c.proto.Unmarshal(data, v)
}

func (serverCodec) Name() string { return "proto" }

// Field numbers, from the EventStoreDB protos (streams.proto, shared.proto).
const (
	fReadRespEvent = 1 // ReadResp.event (oneof content)

	fReadEventEvent          = 1 // ReadResp.ReadEvent.event
	fReadEventCommitPosition = 3 // ReadResp.ReadEvent.commit_position (oneof position)

	fRecID              = 1 // RecordedEvent.id
	fRecStreamID        = 2 // RecordedEvent.stream_identifier
	fRecStreamRevision  = 3
	fRecPreparePosition = 4
	fRecCommitPosition  = 5
	fRecMetadata        = 6 // map<string, string>
	fRecCustomMetadata  = 7
	fRecData            = 8

	fUUIDStructured = 1 // UUID.structured (oneof value)
	fUUIDString     = 2 // UUID.string (oneof value)
	fStructuredMSB  = 1
	fStructuredLSB  = 2

	fStreamName = 3 // StreamIdentifier.stream_name

	fMapKey   = 1
	fMapValue = 2
)

const (
	keyType        = "type"
	keyContentType = "content-type"
	keyCreated     = "created"
)

// readEventSize returns the size of the ReadResp for v, of its RecordedEvent and of its id.
func readEventSize(v *eventlog.View, created []byte, idString bool) (resp, rec, id int) {
	if idString {
		id = protowire.SizeTag(fUUIDString) + protowire.SizeBytes(36)
	} else {
		s := 0
		if msb := beUint64(v.ID[:8]); msb != 0 {
			s += protowire.SizeTag(fStructuredMSB) + protowire.SizeVarint(msb)
		}
		if lsb := beUint64(v.ID[8:]); lsb != 0 {
			s += protowire.SizeTag(fStructuredLSB) + protowire.SizeVarint(lsb)
		}
		id = protowire.SizeTag(fUUIDStructured) + protowire.SizeBytes(s)
	}
	rec = protowire.SizeTag(fRecID) + protowire.SizeBytes(id)
	sid := 0
	if len(v.Stream) > 0 {
		sid = protowire.SizeTag(fStreamName) + protowire.SizeBytes(len(v.Stream))
	}
	rec += protowire.SizeTag(fRecStreamID) + protowire.SizeBytes(sid)
	if v.Revision != 0 {
		rec += protowire.SizeTag(fRecStreamRevision) + protowire.SizeVarint(v.Revision)
	}
	if v.Position != 0 {
		rec += 2 * (protowire.SizeTag(fRecPreparePosition) + protowire.SizeVarint(v.Position))
	}
	rec += mapEntrySize(keyType, len(v.Type)) + mapEntrySize(keyContentType, len(v.ContentType)) +
		mapEntrySize(keyCreated, len(created))
	if len(v.Metadata) > 0 {
		rec += protowire.SizeTag(fRecCustomMetadata) + protowire.SizeBytes(len(v.Metadata))
	}
	if len(v.Data) > 0 {
		rec += protowire.SizeTag(fRecData) + protowire.SizeBytes(len(v.Data))
	}
	ev := protowire.SizeTag(fReadEventEvent) + protowire.SizeBytes(rec) +
		protowire.SizeTag(fReadEventCommitPosition) + protowire.SizeVarint(v.Position)
	resp = protowire.SizeTag(fReadRespEvent) + protowire.SizeBytes(ev)
	return resp, rec, id
}

func mapEntrySize(key string, valueLen int) int {
	n := protowire.SizeTag(fMapKey) + protowire.SizeBytes(len(key)) +
		protowire.SizeTag(fMapValue) + protowire.SizeBytes(valueLen)
	return protowire.SizeTag(fRecMetadata) + protowire.SizeBytes(n)
}

// appendReadEvent appends the wire form of ReadResp{event{event: <v>, commit_position}} to b,
// the same message toReadEvent builds.
func appendReadEvent(b []byte, v *eventlog.View, idString bool) []byte {
	var cbuf [20]byte
	created := strconv.AppendInt(cbuf[:0], v.Created, 10)
	_, rec, idSize := readEventSize(v, created, idString)
	ev := protowire.SizeTag(fReadEventEvent) + protowire.SizeBytes(rec) +
		protowire.SizeTag(fReadEventCommitPosition) + protowire.SizeVarint(v.Position)

	b = protowire.AppendTag(b, fReadRespEvent, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(ev))
	b = protowire.AppendTag(b, fReadEventEvent, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(rec))

	// id
	b = protowire.AppendTag(b, fRecID, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(idSize))
	if idString {
		b = protowire.AppendTag(b, fUUIDString, protowire.BytesType)
		b = protowire.AppendVarint(b, 36)
		b = appendUUIDString(b, v.ID)
	} else {
		msb, lsb := beUint64(v.ID[:8]), beUint64(v.ID[8:])
		s := 0
		if msb != 0 {
			s += protowire.SizeTag(fStructuredMSB) + protowire.SizeVarint(msb)
		}
		if lsb != 0 {
			s += protowire.SizeTag(fStructuredLSB) + protowire.SizeVarint(lsb)
		}
		b = protowire.AppendTag(b, fUUIDStructured, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(s))
		if msb != 0 {
			b = protowire.AppendTag(b, fStructuredMSB, protowire.VarintType)
			b = protowire.AppendVarint(b, msb)
		}
		if lsb != 0 {
			b = protowire.AppendTag(b, fStructuredLSB, protowire.VarintType)
			b = protowire.AppendVarint(b, lsb)
		}
	}
	// stream_identifier
	b = protowire.AppendTag(b, fRecStreamID, protowire.BytesType)
	if len(v.Stream) > 0 {
		b = protowire.AppendVarint(b, uint64(protowire.SizeTag(fStreamName)+protowire.SizeBytes(len(v.Stream))))
		b = protowire.AppendTag(b, fStreamName, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Stream)
	} else {
		b = protowire.AppendVarint(b, 0)
	}
	if v.Revision != 0 {
		b = protowire.AppendTag(b, fRecStreamRevision, protowire.VarintType)
		b = protowire.AppendVarint(b, v.Revision)
	}
	if v.Position != 0 {
		b = protowire.AppendTag(b, fRecPreparePosition, protowire.VarintType)
		b = protowire.AppendVarint(b, v.Position)
		b = protowire.AppendTag(b, fRecCommitPosition, protowire.VarintType)
		b = protowire.AppendVarint(b, v.Position)
	}
	// The client calls log.Fatalf when "created" is missing: always send it.
	b = appendMapEntry(b, keyType, v.Type)
	b = appendMapEntry(b, keyContentType, v.ContentType)
	b = appendMapEntry(b, keyCreated, created)
	if len(v.Metadata) > 0 {
		b = protowire.AppendTag(b, fRecCustomMetadata, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Metadata)
	}
	if len(v.Data) > 0 {
		b = protowire.AppendTag(b, fRecData, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Data)
	}
	b = protowire.AppendTag(b, fReadEventCommitPosition, protowire.VarintType)
	return protowire.AppendVarint(b, v.Position)
}

func appendMapEntry(b []byte, key string, value []byte) []byte {
	n := protowire.SizeTag(fMapKey) + protowire.SizeBytes(len(key)) +
		protowire.SizeTag(fMapValue) + protowire.SizeBytes(len(value))
	b = protowire.AppendTag(b, fRecMetadata, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, fMapKey, protowire.BytesType)
	b = protowire.AppendString(b, key)
	b = protowire.AppendTag(b, fMapValue, protowire.BytesType)
	return protowire.AppendBytes(b, value)
}

func appendUUIDString(b []byte, id [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}

// encodedChunk holds the wire form of a run of events read in one storage scan, so that the
// scan's iterator is closed before any of them is sent (a slow consumer then never pins a
// storage snapshot).
type encodedChunk struct {
	entries []chunkEntry
	slab    mem.Buffer // our reference to the slab being filled; nil if none
	free    []byte     // its unused tail
}

type chunkEntry struct {
	pos, rev uint64
	// msg is the encoded event; empty when a filter left the event out, and once sent.
	msg rawMessage
}

// reset empties the chunk, releasing the events it did not send and its slab.
func (c *encodedChunk) reset() {
	for i := range c.entries {
		c.entries[i].msg.free()
	}
	c.entries = c.entries[:0]
	c.releaseSlab()
}

func (c *encodedChunk) releaseSlab() {
	if c.slab != nil {
		c.slab.Free()
		c.slab, c.free = nil, nil
	}
}

// add records v, encoding it when keep is true.
func (c *encodedChunk) add(v *eventlog.View, keep, idString bool) {
	e := chunkEntry{pos: v.Position, rev: v.Revision}
	if keep {
		var cbuf [20]byte
		n, _, _ := readEventSize(v, strconv.AppendInt(cbuf[:0], v.Created, 10), idString)
		if len(c.free) < n {
			c.releaseSlab()
			bp := encodePool.Get(max(n, slabSize))
			c.slab = mem.NewBuffer(bp, encodePool)
			c.free = *bp
		}
		data := c.slab.ReadOnlyData()
		start := len(data) - len(c.free)
		if b := appendReadEvent(c.free[:0], v, idString); len(b) != n {
			panic(fmt.Sprintf("esdbserver: event encoded to %d bytes, sized %d", len(b), n))
		}
		c.free = c.free[n:]
		e.msg.buf = c.slab.Slice(start, start+n)
	}
	c.entries = append(c.entries, e)
}
