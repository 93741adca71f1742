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
	// MetaBatch is set (to the number of events) on a message that carries several events: those
	// the subscription had ready when the previous message was acked (see Subscriber).
	MetaBatch = "batch"
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
// and delivers one message at a time, waiting for its ack (a nack redelivers it). A message is
// one event, or — when more events arrived meanwhile — every event ready, up to maxLiveBatch, as
// one batch message (MetaBatch), which the Runner applies in one transaction: under load a
// projection catches up by the batch instead of queueing one transaction per event.
type Subscriber struct {
	store  Source
	cps    CheckpointSource
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// maxLiveBatch bounds the events of one batch message.
const maxLiveBatch = 512

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
	s.wg.Add(2)
	s.mu.Unlock()

	after, err := s.cps.Checkpoint(ctx, topic)
	if err != nil {
		cancel()
		s.wg.Add(-2)
		return nil, fmt.Errorf("projections: checkpoint of %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	ready := make(chan eventstore.RecordedEvent, maxLiveBatch)
	go func() {
		defer s.wg.Done()
		defer close(ready)
		err := s.store.SubscribeAll(ctx, eventstore.SubscribeOptions{After: after}, func(ctx context.Context, e eventstore.RecordedEvent) error {
			select {
			case ready <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			s.logger.Error("projection subscription ended", "projection", topic, "error", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		defer close(out)
		var batch []eventstore.RecordedEvent
		for {
			if len(batch) == 0 {
				e, ok := <-ready
				if !ok {
					return
				}
				batch = append(batch, e)
			}
		more:
			for len(batch) < maxLiveBatch {
				select {
				case e, ok := <-ready:
					if !ok {
						break more
					}
					batch = append(batch, e)
				default:
					break more
				}
			}
			rest, err := deliver(ctx, out, batch)
			if err != nil {
				return
			}
			batch = append([]eventstore.RecordedEvent(nil), rest...)
		}
	}()
	return out, nil
}

// batchKey carries a batch message's events in its context (the message never leaves the
// process: the subscriber and the router share it).
type batchKey struct{}

// batchMessage carries events (more than one) in one message.
func batchMessage(ctx context.Context, events []eventstore.RecordedEvent) *message.Message {
	last := events[len(events)-1]
	msg := message.NewMessage(last.ID.String(), nil)
	msg.Metadata.Set(MetaBatch, strconv.Itoa(len(events)))
	msg.Metadata.Set(MetaPosition, FormatPosition(last.Position))
	msg.SetContext(context.WithValue(ctx, batchKey{}, events))
	return msg
}

// batchOf returns the events of a batch message (nil for a message of one event).
func batchOf(msg *message.Message) []eventstore.RecordedEvent {
	if msg.Metadata.Get(MetaBatch) == "" {
		return nil
	}
	events, _ := msg.Context().Value(batchKey{}).([]eventstore.RecordedEvent)
	return events
}

// deliver hands events to the router as one message and waits until it is acked, redelivering
// on nack. It returns the events still to deliver: none, unless the handler narrowed a batch
// message down to one event of it (Runner.Handle does, to have the poison queue park that event
// alone): then the events after that one.
func deliver(ctx context.Context, out chan<- *message.Message, events []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	for attempt := 0; ; attempt++ {
		var msg *message.Message
		if len(events) == 1 {
			msg = ToMessage(events[0])
			msg.SetContext(ctx)
		} else {
			msg = batchMessage(ctx, events)
		}
		select {
		case out <- msg:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case <-msg.Acked():
			if i := narrowedTo(msg, events); i >= 0 {
				return events[i+1:], nil
			}
			return nil, nil
		case <-msg.Nacked():
			if i := narrowedTo(msg, events); i >= 0 {
				events = events[i:] // deliver again from the event the message was narrowed to
			}
			select {
			case <-time.After(min(time.Duration(attempt+1)*50*time.Millisecond, 2*time.Second)):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// narrowedTo is the index within events of the one event the handler narrowed a batch message
// down to; -1 when it did not.
func narrowedTo(msg *message.Message, events []eventstore.RecordedEvent) int {
	if len(events) < 2 || msg.Metadata.Get(MetaBatch) != "" {
		return -1
	}
	pos := msg.Metadata.Get(MetaPosition)
	for i, e := range events {
		if FormatPosition(e.Position) == pos {
			return i
		}
	}
	return -1
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
