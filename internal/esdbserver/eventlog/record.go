// Package eventlog is the durable storage behind the embedded EventStoreDB-protocol server:
// an ordered, append-only log of events with per-stream indexes, kept in Pebble and written
// with group commit so that concurrent appenders share fsyncs.
package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"

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
	n := 1 + 3*binary.MaxVarintLen64 + 16 + 4*binary.MaxVarintLen64 +
		len(r.Stream) + len(r.Type) + len(r.ContentType) + len(r.Metadata) + len(r.Data)
	b := make([]byte, 0, n)
	b = append(b, recordFormatV1)
	b = binary.AppendUvarint(b, r.Revision)
	b = binary.AppendVarint(b, r.Created)
	b = append(b, r.ID[:]...)
	for _, s := range [][]byte{[]byte(r.Stream), []byte(r.Type), []byte(r.ContentType), r.Metadata, r.Data} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errCorruptRecord = errors.New("eventlog: corrupt record")

func decodeRecord(pos uint64, b []byte) (Record, error) {
	r := Record{Position: pos}
	if len(b) < 1 || b[0] != recordFormatV1 {
		return r, fmt.Errorf("%w at position %d: unknown format", errCorruptRecord, pos)
	}
	b = b[1:]
	var k int
	if r.Revision, k = binary.Uvarint(b); k <= 0 {
		return r, fmt.Errorf("%w at position %d: revision", errCorruptRecord, pos)
	}
	b = b[k:]
	if r.Created, k = binary.Varint(b); k <= 0 {
		return r, fmt.Errorf("%w at position %d: created", errCorruptRecord, pos)
	}
	b = b[k:]
	if len(b) < 16 {
		return r, fmt.Errorf("%w at position %d: id", errCorruptRecord, pos)
	}
	copy(r.ID[:], b[:16])
	b = b[16:]
	var fields [5][]byte
	for i := range fields {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return r, fmt.Errorf("%w at position %d: field %d", errCorruptRecord, pos, i)
		}
		fields[i] = b[k : k+int(l)]
		b = b[k+int(l):]
	}
	r.Stream, r.Type, r.ContentType = string(fields[0]), string(fields[1]), string(fields[2])
	// Copy the byte fields: the caller's buffer may belong to an iterator.
	r.Metadata = append([]byte{}, fields[3]...)
	r.Data = append([]byte{}, fields[4]...)
	return r, nil
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
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], pos)
	return k
}

func streamPrefix(p byte, stream string) []byte {
	k := make([]byte, 0, 5+len(stream)+16)
	k = append(k, p)
	k = binary.BigEndian.AppendUint32(k, uint32(len(stream)))
	return append(k, stream...)
}

func streamKey(stream string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(prefixStream, stream), rev)
}

func idKey(stream string, id uuid.UUID) []byte {
	return append(streamPrefix(prefixID, stream), id[:]...)
}

func metaKey(stream string) []byte {
	return append([]byte{prefixMeta}, stream...)
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
