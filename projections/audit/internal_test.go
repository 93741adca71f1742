package audit

import (
	"math"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/eventstore"
)

func TestMembersSortInLogOrder(t *testing.T) {
	ps := []eventstore.Position{{}, {Commit: 1, Prepare: 1}, {Commit: 9, Prepare: 9}, {Commit: 10, Prepare: 3}, {Commit: 10, Prepare: 10},
		{Commit: 255, Prepare: 256}, {Commit: 256, Prepare: 0}, {Commit: 1 << 53, Prepare: math.MaxUint64}}
	for i, p := range ps {
		m := member(p)
		if back, err := parseMember(m); err != nil || back != p {
			t.Fatalf("%v → %q → %v, %v", p, m, back, err)
		}
		if i > 0 && !(member(ps[i-1]) < m) {
			t.Fatalf("%q does not sort before %q", member(ps[i-1]), m)
		}
	}
	for _, bad := range []string{"", "0000", "zz000000000000000000000000000000"} {
		if _, err := parseMember(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestOccurredAtReadsTheEnvelopesTime(t *testing.T) {
	want := time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.UTC)
	for _, data := range []string{
		`{"event_id":"x","occurred_at":"2024-03-01T10:00:00.123456789Z","payload":{"occurred_at":"1999-01-01T00:00:00Z"}}`,
		`{"event_id":"x", "occurred_at" : "2024-03-01T10:00:00.123456789Z"}`, // not as Apply writes it: decoded
		`{"reason":"\"occurred_at\":\"1999-01-01T00:00:00Z\"","occurred_at":"2024-03-01T12:00:00.123456789+02:00"}`,
	} {
		got, err := occurredAt(data)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v", data, got, err)
		}
	}
	if _, err := occurredAt(`{"occurred_at":"yesterday"}`); err == nil {
		t.Error("a bad time was accepted")
	}
}
