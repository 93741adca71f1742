package visibility_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/visibility"
)

// TestWalkPagesThroughTiesAndResumesFromAnyCursor: a walk hands out an index newest first
// (ties by id, descending), each entry exactly once whatever the step, and a walk started at
// any entry's cursor continues exactly after it — including in the middle of a run of entries
// with the same score (several tickets opened by one multi-event append share a position).
func TestWalkPagesThroughTiesAndResumesFromAnyCursor(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testkit.Redis(t)
	r := visibility.NewReader(rdb, projections.Keys{Prefix: prefix, Gen: 1})
	idx := r.AllTickets("acme")
	// Scores 1..8, with runs of ties at 3 (four tickets) and 7 (three).
	var want []string
	for s := 8; s >= 1; s-- {
		n := 1
		switch s {
		case 3:
			n = 4
		case 7:
			n = 3
		}
		for i := n - 1; i >= 0; i-- {
			id := fmt.Sprintf("t%d-%d", s, i)
			want = append(want, id)
			if err := rdb.ZAdd(ctx, string(idx), redis.Z{Score: float64(s), Member: id}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	walk := func(w *visibility.Walk, first []visibility.IndexEntry, step int) []string {
		var got []string
		entries := first
		for range 100 {
			for _, e := range entries {
				got = append(got, string(e.ID))
			}
			if w.Done() {
				return got
			}
			var err error
			if entries, err = w.Next(ctx, step); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatal("the walk never ends")
		return nil
	}
	for step := 1; step <= 6; step++ {
		got := walk(r.NewWalk(idx, math.Inf(1), ""), nil, step)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: %v, want %v", step, got, want)
		}
	}
	scores := map[string]float64{}
	for _, id := range want {
		scores[id] = rdb.ZScore(ctx, string(idx), id).Val()
	}
	for i, id := range want {
		got := walk(r.NewWalk(idx, scores[id], id), nil, 2)
		if fmt.Sprint(got) != fmt.Sprint(want[i+1:]) {
			t.Fatalf("after %s: %v, want %v", id, got, want[i+1:])
		}
	}
}
