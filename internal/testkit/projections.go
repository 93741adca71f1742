package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// RunProjection runs one projection through the framework's Watermill router in keys'
// generation; stop ends the router (as a crash or a restart would, from the runner's view).
func RunProjection(t testing.TB, rdb *redis.Client, store projections.Source, p projections.Projection, keys projections.Keys) (runner *projections.Runner, stop func()) {
	t.Helper()
	runner = projections.NewRunner(p, rdb, eventschema.MustPortal(), keys)
	router, err := projections.NewRouter(rdb, store, []*projections.Runner{runner}, keys.Prefix, Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()
	return runner, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	}
}

// WaitForProjection waits until the runner has applied p and is healthy.
func WaitForProjection(t testing.TB, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, p); err != nil {
		t.Fatalf("projection %s stuck at %v, want %v: %v", r.Name(), r.Position(), p, err)
	}
	if !r.Healthy() {
		t.Fatalf("projection %s unhealthy: %s", r.Name(), r.LastError())
	}
}
