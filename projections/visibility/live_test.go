package visibility_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/internal/testkit/world"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/visibility"
)

// appendWorld writes a world's events to the event store, stream by stream, as the command side
// would, and returns the last position.
func appendWorld(t *testing.T, store *eventstore.Client, evs []eventstore.RecordedEvent) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for _, e := range evs {
		res, err := store.Append(context.Background(), e.Stream, eventstore.Any(), eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	return last
}

// Digest hashes a generation's keys (without the generation in their names), checkpoints aside.
func Digest(t *testing.T, rdb *redis.Client, keys projections.Keys, _ bool) string {
	t.Helper()
	d, _ := testkit.Digest(context.Background(), rdb, keys.Generation(), fmt.Sprintf("%s:g%d:", keys.Prefix, keys.Gen), ":cp:")
	return d
}

func factory(store projections.Source) projections.Factory {
	return func() []projections.Projection {
		return []projections.Projection{visibility.New(store, eventschema.MustPortal())}
	}
}

// TestLiveRestartAndRebuildAgree projects worlds live through the Watermill router (restarting
// the projector in the middle, which rebuilds its in-memory state from the log), compares the
// result with the reference, then rebuilds into a new generation and finds identical keys.
func TestLiveRestartAndRebuildAgree(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	reg := eventschema.MustPortal()

	for _, seed := range []int64{7, 42, 99} {
		w := world.Generate(seed, 120)
		evs := recorded(t, w)
		half := len(evs) / 2

		// A fresh prefix per world keeps tenants apart.
		pfx := fmt.Sprintf("%s-%d", prefix, seed)
		svc, err := projections.Start(ctx, rdb, store, reg, factory(store), pfx, testkit.Logger())
		if err != nil {
			t.Fatal(err)
		}
		mid := appendWorld(t, store, evs[:half])
		wait(t, svc, mid)
		svc.Close() // crash-like stop: the next start resumes from the checkpoint

		svc, err = projections.Start(ctx, rdb, store, reg, factory(store), pfx, testkit.Logger())
		if err != nil {
			t.Fatal(err)
		}
		last := appendWorld(t, store, evs[half:])
		wait(t, svc, last)
		live := svc.Keys()
		compare(t, visibility.NewReader(rdb, live), w)
		liveDigest := Digest(t, rdb, live, true)
		svc.Close()

		res, err := projections.Rebuild(ctx, rdb, store, reg, factory(store), pfx, last, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := res.DropPrevious(ctx); err != nil {
			t.Fatal(err)
		}
		rebuilt := projections.Keys{Prefix: pfx, Gen: res.Generation}
		if d := Digest(t, rdb, rebuilt, true); d != liveDigest {
			t.Fatalf("seed %d: rebuild digest %s differs from the live one %s", seed, d, liveDigest)
		}
		if n := len(testkit.Keys(ctx, rdb, live.Generation())); n != 0 {
			t.Fatalf("seed %d: %d keys of the old generation left after the switch", seed, n)
		}
		testkit.DeleteKeys(ctx, rdb, pfx+"*")
		// The next world reuses the tenant id: start its log afresh in a new store.
		srv = testkit.StartEventStore(t)
		store = testkit.StoreClient(t, srv.ConnectionString())
	}
}

func wait(t *testing.T, svc *projections.Service, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.WaitFor(ctx, p); err != nil {
		t.Fatalf("projections did not reach %v: %v", p, err)
	}
}
