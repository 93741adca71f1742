// Package eventlog is the durable storage behind the embedded EventStoreDB-protocol server:
// an ordered, append-only log of events with per-stream indexes, kept in Pebble and written
// with group commit so that concurrent appenders share fsyncs.
package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Record is one stored event. Position is its place in the global log ($all): commit and
// prepare positions are equal and strictly increasing from 1, so 0 stays free for "start".
type Record struct {
	Position    uint64
	Stream      string
	Revision    uint64
	ID          uuid.UUID
	Type        string
	ContentType string
	// Created is the commit time in 100-ns ticks since the Unix epoch, as EventStoreDB reports it.
	Created  int64
	Metadata []byte
	Data     []byte
}

// IsSystem reports whether the event is one the server writes for itself ($-prefixed type).
func (r Record) IsSystem() bool { return len(r.Type) > 0 && r.Type[0] == '$' }

const recordFormatV1 = 1

func encodeRecord(r *Record) []byte {
	return appendRecord(nil, r)
}

// appendRecord appends r's stored form to b.
func appendRecord(b []byte, r *Record) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + 16 + 5*binary.MaxVarintLen64 +
		len(r.Stream) + len(r.Type) + len(r.ContentType) + len(r.Metadata) + len(r.Data)
	b = slices.Grow(b, n)
	b = append(b, recordFormatV1)
	b = binary.AppendUvarint(b, r.Revision)
	b = binary.AppendVarint(b, r.Created)
	b = append(b, r.ID[:]...)
	b = binary.AppendUvarint(b, uint64(len(r.Stream)))
	b = append(b, r.Stream...)
	b = binary.AppendUvarint(b, uint64(len(r.Type)))
	b = append(b, r.Type...)
	b = binary.AppendUvarint(b, uint64(len(r.ContentType)))
	b = append(b, r.ContentType...)
	b = binary.AppendUvarint(b, uint64(len(r.Metadata)))
	b = append(b, r.Metadata...)
	b = binary.AppendUvarint(b, uint64(len(r.Data)))
	return append(b, r.Data...)
}

var errCorruptRecord = errors.New("eventlog: corrupt record")

// View is a stored event read in place. Its byte slices alias storage memory: they are valid
// only until the callback that received the View returns, and must not be modified.
type View struct {
	Position    uint64
	Revision    uint64
	ID          uuid.UUID
	Created     int64
	Stream      []byte
	Type        []byte
	ContentType []byte
	Metadata    []byte
	Data        []byte
}

// Record copies the view into a Record that owns its memory.
func (v *View) Record() Record {
	return Record{
		Position: v.Position, Revision: v.Revision, ID: v.ID, Created: v.Created,
		Stream: string(v.Stream), Type: string(v.Type), ContentType: string(v.ContentType),
		Metadata: append([]byte{}, v.Metadata...), Data: append([]byte{}, v.Data...),
	}
}

// decodeView parses a stored record without copying: v's slices alias b.
func decodeView(pos uint64, b []byte, v *View) error {
	v.Position = pos
	if len(b) < 1 || b[0] != recordFormatV1 {
		return fmt.Errorf("%w at position %d: unknown format", errCorruptRecord, pos)
	}
	b = b[1:]
	var k int
	if v.Revision, k = binary.Uvarint(b); k <= 0 {
		return fmt.Errorf("%w at position %d: revision", errCorruptRecord, pos)
	}
	b = b[k:]
	if v.Created, k = binary.Varint(b); k <= 0 {
		return fmt.Errorf("%w at position %d: created", errCorruptRecord, pos)
	}
	b = b[k:]
	if len(b) < 16 {
		return fmt.Errorf("%w at position %d: id", errCorruptRecord, pos)
	}
	copy(v.ID[:], b[:16])
	b = b[16:]
	for i, f := range [...]*[]byte{&v.Stream, &v.Type, &v.ContentType, &v.Metadata, &v.Data} {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return fmt.Errorf("%w at position %d: field %d", errCorruptRecord, pos, i)
		}
		*f = b[k : k+int(l) : k+int(l)]
		b = b[k+int(l):]
	}
	return nil
}

func decodeRecord(pos uint64, b []byte) (Record, error) {
	var v View
	if err := decodeView(pos, b, &v); err != nil {
		return Record{Position: pos}, err
	}
	return v.Record(), nil
}

// Key layout. All integers are big-endian so that byte order is numeric order.
//
//	'L' pos                          -> encoded Record       (the global log, $all)
//	'S' len(stream) stream rev       -> pos                  (per-stream index)
//	'I' len(stream) stream eventID   -> rev                  (idempotent re-append detection)
//	'M' stream                       -> stream state         (last revision, truncate-before, tombstone)
const (
	prefixLog    = 'L'
	prefixStream = 'S'
	prefixID     = 'I'
	prefixMeta   = 'M'
)

func logKey(pos uint64) []byte {
	k := make([]byte, 9)
	putLogKey(k, pos)
	return k
}

func putLogKey(k []byte, pos uint64) {
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], pos)
}

func appendStreamPrefix(k []byte, p byte, stream string) []byte {
	k = append(k, p)
	k = binary.BigEndian.AppendUint32(k, uint32(len(stream)))
	return append(k, stream...)
}

func streamPrefix(p byte, stream string) []byte {
	return appendStreamPrefix(make([]byte, 0, 5+len(stream)+16), p, stream)
}

func appendStreamKey(k []byte, stream string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(appendStreamPrefix(k, prefixStream, stream), rev)
}

func streamKey(stream string, rev uint64) []byte {
	return appendStreamKey(make([]byte, 0, 5+len(stream)+8), stream, rev)
}

func appendIDKey(k []byte, stream string, id uuid.UUID) []byte {
	return append(appendStreamPrefix(k, prefixID, stream), id[:]...)
}

// streamState is what the log keeps in memory for each stream to check expected revisions
// without a disk read.
type streamState struct {
	// last is the revision of the stream's last event, -1 when it has none.
	last int64
	// truncateBefore hides revisions below it (soft delete).
	truncateBefore uint64
	tombstoned     bool
}

func encodeState(s streamState) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+1)
	b = binary.AppendVarint(b, s.last)
	b = binary.AppendUvarint(b, s.truncateBefore)
	if s.tombstoned {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeState(b []byte) (streamState, error) {
	var s streamState
	var k int
	if s.last, k = binary.Varint(b); k <= 0 {
		return s, errCorruptRecord
	}
	b = b[k:]
	if s.truncateBefore, k = binary.Uvarint(b); k <= 0 {
		return s, errCorruptRecord
	}
	b = b[k:]
	if len(b) != 1 {
		return s, errCorruptRecord
	}
	s.tombstoned = b[0] == 1
	return s, nil
}
