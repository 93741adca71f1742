package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// BatchMessage is the message the Subscriber makes of several ready events.
func BatchMessage(ctx context.Context, events []eventstore.RecordedEvent) *message.Message {
	return batchMessage(ctx, events)
}

// RebuildGCPercent is the GC target a rebuild runs with.
const RebuildGCPercent = rebuildGCPercent

// SetRebuildBatch makes rebuilds read and apply pages of n events, until restore.
func SetRebuildBatch(n int) (restore func()) {
	old := rebuildBatch
	rebuildBatch = n
	return func() { rebuildBatch = old }
}

// SetDropTimes sets how long a rebuild waits after the last reader of the old generation left
// (grace) and at most for them to leave (wait), until restore.
func SetDropTimes(grace, wait time.Duration) (restore func()) {
	g, w := dropGrace, dropWait
	dropGrace, dropWait = grace, wait
	return func() { dropGrace, dropWait = g, w }
}

// StageRebuild stages pages as a rebuild into generation keys stages them — fresh exclusive
// runners of factory's projections, every page in order — without sending anything, and
// returns the number of commands staged. It measures this process's share of a rebuild apart
// from Redis's and the log's.
func StageRebuild(ctx context.Context, rdb *redis.Client, reg *eventschema.Registry, factory Factory, keys Keys, pages [][]Decoded) (int, error) {
	n := 0
	for _, p := range factory() {
		r := NewRunner(p, rdb, reg, keys)
		r.exclusive = true
		if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
			return 0, err
		}
		for _, page := range pages {
			if !r.Batchable() {
				return 0, fmt.Errorf("%s is not batchable", r.Name())
			}
			b, err := r.stageBatch(ctx, page)
			if err != nil {
				return 0, err
			}
			n += b.pipe.Len()
		}
	}
	return n, nil
}
