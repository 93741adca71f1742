package eventlog

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// The idempotency check of an append looks up its first event id in the stream (the 'I'
// index). Nearly always the id is new and the lookup a miss, but a miss still walks the
// memtables: a cost comparable to the rest of the append. So the log keeps, for streams it
// has recently appended to, the complete set of their event ids in memory, and answers "not
// in the stream" from it without touching storage. A hit (a real retry) still goes through the
// full check against storage.
//
// A set holds every id of its stream's revisions up to last, which always equals the stream's
// committed last revision: the finisher creates and extends sets in the same critical section
// (under l.mu) in which it publishes the streams' new states. It creates one when a batch
// writes a stream's first event, or, for a short existing stream (below idSetLoadMax
// revisions), by scanning the stream's ids once; a scan may also see ids of batches still in
// flight, which is harmless, since only a "not in the set" is trusted. Memory is bounded by
// maxCachedIDs: beyond it whole sets are dropped, which only costs lookups.

const (
	idSetLoadMax = 256
	maxCachedIDs = 1 << 18 // about 8 MB of ids
)

type idSet struct {
	last int64
	ids  map[uuid.UUID]struct{}
	used uint64 // the number of the last batch that appended to the stream
}

// knownAbsent reports whether id is certainly not in stream, whose committed last revision is
// last. The caller holds l.mu (the finisher changes the sets).
func (l *Log) knownAbsent(stream string, last int64, id uuid.UUID) bool {
	set := l.idsets[stream]
	if set == nil || set.last != last {
		return false
	}
	_, ok := set.ids[id]
	return !ok
}

// loadIDSet scans the ids of a short stream; called by the finisher after a batch is durable,
// so the scan sees the stream up to at least its new last revision.
func (l *Log) loadIDSet(stream string) (*idSet, error) {
	prefix := streamPrefix(prefixID, stream)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: incrementPrefix(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	set := &idSet{ids: make(map[uuid.UUID]struct{}, idSetLoadMax)}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+16 {
			return nil, fmt.Errorf("%w: id index key of stream %q", errCorruptRecord, stream)
		}
		set.ids[uuid.UUID(k[len(prefix):])] = struct{}{}
	}
	return set, it.Error()
}

// incrementPrefix returns the smallest key greater than every key that starts with p.
func incrementPrefix(p []byte) []byte {
	out := append([]byte{}, p...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] != 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// prepareIDSets builds, before the commit's critical section, the sets for streams this batch
// touched that have none yet: empty for new streams, scanned for short existing ones. The batch
// is already committed: a failed scan only means no set for that stream.
func (l *Log) prepareIDSets(p *pending) {
	clear(p.newSets)
	for ref := range p.ids {
		if l.idsets[ref.stream] != nil {
			continue
		}
		if _, done := p.newSets[ref.stream]; done {
			continue
		}
		before, ok := p.before[ref.stream]
		switch {
		case !ok:
			continue
		case before < 0:
			p.newSets[ref.stream] = &idSet{ids: make(map[uuid.UUID]struct{})}
		case before < idSetLoadMax:
			if set, err := l.loadIDSet(ref.stream); err == nil {
				p.newSets[ref.stream] = set
			}
		}
	}
}

// applyIDSets records the batch's ids and brings the sets' revisions to the batch's states;
// called by the finisher with l.mu held for writing, with the states it publishes.
func (l *Log) applyIDSets(p *pending) {
	l.idBatches++
	for s, set := range p.newSets {
		l.idsets[s] = set
		l.idTotal += len(set.ids)
	}
	for ref := range p.ids {
		if set := l.idsets[ref.stream]; set != nil {
			if _, ok := set.ids[ref.id]; !ok {
				set.ids[ref.id] = struct{}{}
				l.idTotal++
			}
		}
	}
	for s, st := range p.streams {
		if set := l.idsets[s]; set != nil {
			if st.tombstoned {
				l.idTotal -= len(set.ids)
				delete(l.idsets, s)
				continue
			}
			set.last, set.used = st.last, l.idBatches
		}
	}
	if l.idTotal > maxCachedIDs {
		l.evictIDSets()
	}
}

// evictIDSets drops the sets appended to longest ago until a quarter of the budget is free.
func (l *Log) evictIDSets() {
	type aged struct {
		stream string
		used   uint64
	}
	all := make([]aged, 0, len(l.idsets))
	for s, set := range l.idsets {
		all = append(all, aged{s, set.used})
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.used, b.used) })
	for _, a := range all {
		if l.idTotal <= maxCachedIDs*3/4 {
			break
		}
		l.idTotal -= len(l.idsets[a.stream].ids)
		delete(l.idsets, a.stream)
	}
}
