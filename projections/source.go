package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portal-access/backend/internal/eventstore"
)

// Metadata keys of the messages the Subscriber delivers.
const (
	MetaEventType = "event_type"
	MetaStream    = "stream"
	MetaRevision  = "revision"
	MetaPosition  = "position"
	MetaEnvelope  = "envelope"
)

// CheckpointSource tells a subscriber where a projection stands.
type CheckpointSource interface {
	Checkpoint(ctx context.Context, projection string) (eventstore.Position, error)
}

// Source is the event store as projections need it.
type Source interface {
	SubscribeAll(ctx context.Context, opts eventstore.SubscribeOptions, handle func(context.Context, eventstore.RecordedEvent) error) error
	ReadAll(ctx context.Context, from eventstore.Position, max uint64, fn func(eventstore.RecordedEvent) error) error
}

// Subscriber is a Watermill subscriber over the event store's $all catch-up subscription. The
// topic is the projection's name: each subscription resumes after that projection's checkpoint
// and delivers one event at a time, waiting for its ack (a nack redelivers it).
type Subscriber struct {
	store  Source
	cps    CheckpointSource
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// NewSubscriber returns a subscriber over store.
func NewSubscriber(store Source, cps CheckpointSource, logger *slog.Logger) *Subscriber {
	return &Subscriber{store: store, cps: cps, logger: logger}
}

// Subscribe starts delivering the events after the projection's checkpoint.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("projections: subscriber closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = append(s.cancel, cancel)
	s.wg.Add(1)
	s.mu.Unlock()

	after, err := s.cps.Checkpoint(ctx, topic)
	if err != nil {
		cancel()
		s.wg.Done()
		return nil, fmt.Errorf("projections: checkpoint of %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		err := s.store.SubscribeAll(ctx, eventstore.SubscribeOptions{After: after}, func(ctx context.Context, e eventstore.RecordedEvent) error {
			return deliver(ctx, out, e)
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("projection subscription ended", "projection", topic, "error", err)
		}
	}()
	return out, nil
}

// deliver hands one event to the router and waits until it is acked, redelivering on nack.
func deliver(ctx context.Context, out chan<- *message.Message, e eventstore.RecordedEvent) error {
	for attempt := 0; ; attempt++ {
		msg := ToMessage(e)
		msg.SetContext(ctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			return nil
		case <-msg.Nacked():
			select {
			case <-time.After(min(time.Duration(attempt+1)*50*time.Millisecond, 2*time.Second)):
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ToMessage carries a recorded event in a Watermill message: the event id as UUID, the data as
// payload, the envelope and the event's place in the log as metadata.
func ToMessage(e eventstore.RecordedEvent) *message.Message {
	msg := message.NewMessage(e.ID.String(), e.Data)
	msg.Metadata.Set(MetaEventType, e.Type)
	msg.Metadata.Set(MetaStream, e.Stream)
	msg.Metadata.Set(MetaRevision, strconv.FormatUint(e.Revision, 10))
	msg.Metadata.Set(MetaPosition, FormatPosition(e.Position))
	msg.Metadata.Set(MetaEnvelope, string(e.Metadata))
	return msg
}

// FormatPosition and ParsePosition store a log position as "commit/prepare".
func FormatPosition(p eventstore.Position) string {
	return strconv.FormatUint(p.Commit, 10) + "/" + strconv.FormatUint(p.Prepare, 10)
}

// ParsePosition reads what FormatPosition wrote.
func ParsePosition(s string) (eventstore.Position, error) {
	c, p, ok := strings.Cut(s, "/")
	if !ok {
		return eventstore.Position{}, fmt.Errorf("projections: bad position %q", s)
	}
	commit, err1 := strconv.ParseUint(c, 10, 64)
	prepare, err2 := strconv.ParseUint(p, 10, 64)
	if err1 != nil || err2 != nil {
		return eventstore.Position{}, fmt.Errorf("projections: bad position %q", s)
	}
	return eventstore.Position{Commit: commit, Prepare: prepare}, nil
}

// Close ends every subscription.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.cancel {
		c()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
