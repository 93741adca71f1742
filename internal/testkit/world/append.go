package world

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// Appender appends events to the event store (eventstore.Client does).
type Appender interface {
	Append(ctx context.Context, stream string, expected eventstore.Expected, events ...eventstore.EventData) (eventstore.AppendResult, error)
}

// Append writes the world's steps to the event store, one append per step, with envelopes as the
// command side writes them, and returns the position of the last event.
func (w *World) Append(ctx context.Context, store Appender) (eventstore.Position, error) {
	return w.AppendFrom(ctx, store, 0)
}

// AppendFrom appends the world's steps from step from on: the rest of a world whose first steps
// an earlier, smaller world of the same seed appended (Generate's worlds of one seed grow by
// steps at their end).
func (w *World) AppendFrom(ctx context.Context, store Appender, from int) (eventstore.Position, error) {
	reg := eventschema.MustPortal()
	var last eventstore.Position
	for i := from; i < len(w.Steps); i++ {
		st := w.Steps[i]
		actor := eventschema.SystemActor()
		switch {
		case st.Actor.Kind == domain.PrincipalUser && st.Actor.Person != "":
			actor = eventschema.UserActor(string(st.Actor.Person))
		case st.Actor.Kind == domain.PrincipalService:
			actor = eventschema.ServiceActor(st.Actor.Service)
		}
		data := make([]eventstore.EventData, len(st.Events))
		for j, ev := range st.Events {
			env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: string(w.Tenant), OccurredAt: st.At,
				Actor: actor, CorrelationID: fmt.Sprintf("world-%d-%d", w.Seed, i), CausationID: fmt.Sprintf("step-%d", i), Command: st.Command}
			enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
			if err != nil {
				return last, err
			}
			data[j] = eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata}
		}
		res, err := store.Append(ctx, st.Stream, eventstore.Any(), data...)
		if err != nil {
			return last, fmt.Errorf("append step %d (%s): %w", i, st.Command, err)
		}
		last = res.Position
	}
	return last, nil
}
