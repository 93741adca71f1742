package projections

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portal-access/backend/internal/eventstore"
)

// BatchMessage is the message the Subscriber makes of several ready events.
func BatchMessage(ctx context.Context, events []eventstore.RecordedEvent) *message.Message {
	return batchMessage(ctx, events)
}

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
