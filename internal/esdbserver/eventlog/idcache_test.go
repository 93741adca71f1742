package eventlog

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// Over its budget, the id cache drops the sets of the streams appended to longest ago: a long
// stream still being appended to keeps its set (once dropped, only short streams get one back).
func TestIDCacheEvictsTheSetsUsedLongestAgo(t *testing.T) {
	l := &Log{idsets: map[string]*idSet{}}
	const streams = 40
	per := maxCachedIDs/streams + 1 // all of them: just over the budget
	for i := range streams {
		set := &idSet{ids: make(map[uuid.UUID]struct{}, per), used: uint64(1 + (i*7)%streams)} // used in a shuffled order
		for range per {
			set.ids[uuid.New()] = struct{}{}
		}
		l.idsets[fmt.Sprint("s", i)] = set
		l.idTotal += per
	}
	l.evictIDSets()
	if l.idTotal > maxCachedIDs*3/4 || l.idTotal < maxCachedIDs*3/4-per {
		t.Fatalf("%d ids kept, want just under %d", l.idTotal, maxCachedIDs*3/4)
	}
	oldestKept := uint64(1 << 63)
	for _, set := range l.idsets {
		oldestKept = min(oldestKept, set.used)
	}
	for i := range streams {
		used := uint64(1 + (i*7)%streams)
		if _, kept := l.idsets[fmt.Sprint("s", i)]; kept != (used >= oldestKept) {
			t.Fatalf("stream used at %d kept=%v, but the oldest kept was used at %d", used, kept, oldestKept)
		}
	}
	if oldestKept < streams/4 {
		t.Fatalf("kept sets used as early as %d", oldestKept)
	}
}
