package projections

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/redis/go-redis/v9"
)

// DeadLetterKey is the Redis stream where events a projection could not apply are parked.
func DeadLetterKey(prefix string) string { return prefix + ":deadletter" }

// deadLetter is the poison queue's publisher: it parks messages in a Redis stream with the
// error, and marks the projection unhealthy — an event is never silently skipped.
type deadLetter struct {
	rdb    redis.Cmdable
	key    string
	runner *Runner
	logger *slog.Logger
}

func (d deadLetter) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		reason := m.Metadata.Get(middleware.ReasonForPoisonedKey)
		err := d.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: d.key, Values: map[string]any{
			"projection": d.runner.Name(), "event_id": m.UUID, "event_type": m.Metadata.Get(MetaEventType),
			"stream": m.Metadata.Get(MetaStream), "position": m.Metadata.Get(MetaPosition), "error": reason,
			"payload": string(m.Payload), "envelope": m.Metadata.Get(MetaEnvelope), "at": time.Now().UTC().Format(time.RFC3339Nano),
		}}).Err()
		if err != nil {
			return fmt.Errorf("projections: park poisoned event: %w", err)
		}
		d.runner.markPoisoned(reason)
		d.logger.Error("event parked in the dead-letter stream; projection unhealthy",
			"projection", d.runner.Name(), "event_id", m.UUID, "position", m.Metadata.Get(MetaPosition), "error", reason)
	}
	return nil
}

func (deadLetter) Close() error { return nil }

// NewRouter builds the Watermill router: one handler per projection, each fed by its own
// subscription from its checkpoint, with panic recovery, retries with backoff (transient Redis
// errors), correlation ids, and a poison queue.
func NewRouter(rdb redis.UniversalClient, store Source, runners []*Runner, prefix string, logger *slog.Logger) (*message.Router, error) {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NewSlogLogger(logger.With("component", "projections")))
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(middleware.CorrelationID)
	for _, r := range runners {
		if r.src == nil {
			r.UseSource(store) // a Replayer re-derives its state from the log
		}
		sub := NewSubscriber(store, r, logger)
		h := router.AddNoPublisherHandler(r.Name(), r.Name(), sub, r.Handle)
		poison, err := middleware.PoisonQueue(deadLetter{rdb: rdb, key: DeadLetterKey(prefix), runner: r, logger: logger}, DeadLetterKey(prefix))
		if err != nil {
			return nil, err
		}
		h.AddMiddleware(
			poison,
			middleware.Retry{MaxRetries: 5, InitialInterval: 20 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, Logger: watermill.NewSlogLogger(logger)}.Middleware,
			middleware.Recoverer,
		)
	}
	return router, nil
}
