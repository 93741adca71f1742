package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// EventStore is what the command side needs of the event store.
type EventStore interface {
	Append(ctx context.Context, stream string, expected eventstore.Expected, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from, max uint64, fn func(eventstore.RecordedEvent) error) error
}

// encode wraps a command's domain events in envelopes and lays them out for the store.
func encode(reg *eventschema.Registry, m Meta, command string, events []domain.Event) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, len(events))
	for i, e := range events {
		env, err := eventschema.NewEnvelope(e.EventType(), i, eventschema.CommandContext{
			Tenant: string(m.Tenant), Actor: m.actor(), ActorCompany: m.ActorCompany, Command: command,
			CommandID: m.CommandID, CorrelationID: m.CorrelationID, Reason: m.Reason,
			IdempotencyKey: m.IdempotencyKey, At: m.Now,
		})
		if err != nil {
			return nil, err
		}
		enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: e})
		if err != nil {
			return nil, fmt.Errorf("commands: encode %s: %w", e.EventType(), err)
		}
		out[i] = eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata}
	}
	return out, nil
}

// decode turns a stored event back into its envelope and domain event.
func decode(reg *eventschema.Registry, rec eventstore.RecordedEvent) (eventschema.Envelope, domain.Event, error) {
	ev, err := reg.Decode(rec.Type, rec.Data, rec.Metadata)
	if err != nil {
		return eventschema.Envelope{}, nil, fmt.Errorf("commands: %s@%d: %w", rec.Stream, rec.Revision, err)
	}
	de, ok := ev.Payload.(domain.Event)
	if !ok {
		return eventschema.Envelope{}, nil, fmt.Errorf("commands: %s@%d: %s is not a domain event", rec.Stream, rec.Revision, rec.Type)
	}
	return ev.Envelope, de, nil
}

// idempotentCommand reports whether a command id was derived from an idempotency key
// (a name-based UUID), i.e. whether a retry of it must be recognised.
func idempotentCommand(commandID string) bool {
	id, err := uuid.Parse(commandID)
	return err == nil && id.Version() == 5
}
