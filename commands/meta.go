// Package commands runs the domain's deciders against the event store: one handler per command
// (one file each), which loads the aggregate, lets the decider judge the command by the acting
// principal's rights, and appends the events with the expected revision. Cross-cutting
// concerns (retry on conflict, logging) are decorators in decorators.go.
package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// Meta is what a command carries besides its own fields: who acts (from the token), in which
// tenant, and the ids that tie its events into the audit trail.
type Meta struct {
	Tenant    domain.TenantID
	Principal domain.Principal
	// Subject is the caller's external identity (OIDC sub) when it is a user.
	Subject string
	// ActorCompany is the acting user's home company, recorded in the envelope.
	ActorCompany   string
	CommandID      string
	CorrelationID  string
	IdempotencyKey string
	Reason         string
	Now            time.Time
}

// Prepare fills what the caller left empty: a command id (derived from the idempotency key,
// so that a retry is recognised) and the time.
func (m Meta) Prepare(command string) Meta {
	if m.Now.IsZero() {
		m.Now = time.Now().UTC()
	}
	if m.CommandID == "" {
		if m.IdempotencyKey != "" {
			m.CommandID = uuid.NewSHA1(commandNamespace, []byte(eventschema.ScopedIdempotencyKey(
				string(m.Tenant), m.actor(), command, m.IdempotencyKey))).String()
		} else {
			m.CommandID = uuid.NewString()
		}
	}
	return m
}

var commandNamespace = uuid.MustParse("6f1c2f0e-3d7b-5a53-9a1e-2c6a7f0e8b41")

// mintsFreshIDs tells whether NewID mints random ids (no Idempotency-Key): a stream named by one
// cannot exist yet. An id derived from an Idempotency-Key names the stream of the first attempt.
func (m Meta) mintsFreshIDs() bool { return m.IdempotencyKey == "" }

// NewID mints the id of something a command creates. With an idempotency key the id is
// derived from it, so a retried command names the same resource.
func (m Meta) NewID(kind string) string {
	if m.IdempotencyKey == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(commandNamespace, []byte(m.CommandID+"/"+kind)).String()
}

func (m Meta) actor() eventschema.Actor {
	switch m.Principal.Kind {
	case domain.PrincipalUser:
		return eventschema.UserActor(string(m.Principal.Person))
	case domain.PrincipalService:
		return eventschema.ServiceActor(m.Principal.Service)
	}
	return eventschema.SystemActor()
}

// Result is what an accepted command answers: the ids it created and where its last event
// landed in the log (for read-your-writes).
type Result struct {
	IDs      map[string]string   `json:"ids,omitempty"`
	Position eventstore.Position `json:"position"`
	Events   int                 `json:"events"`
	// Replayed is true when an idempotent retry answered the first result without appending.
	Replayed bool `json:"replayed,omitempty"`
}

// Handler handles one kind of command.
type Handler[C any] interface {
	Handle(ctx context.Context, m Meta, cmd C) (Result, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[C any] func(ctx context.Context, m Meta, cmd C) (Result, error)

// Handle calls f.
func (f HandlerFunc[C]) Handle(ctx context.Context, m Meta, cmd C) (Result, error) {
	return f(ctx, m, cmd)
}
