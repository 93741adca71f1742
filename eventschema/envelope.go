package eventschema

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ActorKind says what kind of principal caused an event; the audit trail
// must distinguish people, integrations and the platform itself.
type ActorKind string

// Known actor kinds.
const (
	ActorUser    ActorKind = "user"    // a person, identified by user id
	ActorService ActorKind = "service" // an API client, identified by client id
	ActorSystem  ActorKind = "system"  // the platform itself (expiry jobs, seeds)
)

// Valid reports whether k is a known kind.
func (k ActorKind) Valid() bool {
	switch k {
	case ActorUser, ActorService, ActorSystem:
		return true
	}
	return false
}

// Actor is who caused an event. It comes from the authenticated token, never
// from a request body (DESIGN §4). ID is empty only for the system actor.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id,omitempty"`
}

// SystemActor is the actor of events the platform emits on its own.
func SystemActor() Actor { return Actor{Kind: ActorSystem} }

// UserActor is the actor of a person acting through a user token.
func UserActor(userID string) Actor { return Actor{Kind: ActorUser, ID: userID} }

// ServiceActor is the actor of an integration acting with client credentials.
func ServiceActor(clientID string) Actor { return Actor{Kind: ActorService, ID: clientID} }

// String renders the actor as "kind:id" (or "system") for logs.
func (a Actor) String() string {
	if a.ID == "" {
		return string(a.Kind)
	}
	return string(a.Kind) + ":" + a.ID
}

func (a Actor) validate(prefix string) []*FieldError {
	var errs []*FieldError
	switch {
	case a.Kind == "":
		errs = append(errs, &FieldError{Field: prefix + "kind", Reason: "required"})
	case !a.Kind.Valid():
		errs = append(errs, &FieldError{Field: prefix + "kind", Reason: fmt.Sprintf("unknown actor kind %q", string(a.Kind))})
	case a.Kind != ActorSystem && blank(a.ID):
		errs = append(errs, &FieldError{Field: prefix + "id", Reason: "required for " + string(a.Kind) + " actors"})
	}
	return errs
}

// Validate checks an actor on its own (kind known, id present unless system).
func (a Actor) Validate() error {
	if errs := a.validate("actor."); len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// Envelope is carried by every event (DESIGN §4): it is what makes the audit
// trail answer who did what, when, on whose behalf and caused by which
// command. It is stored as the EventStoreDB event metadata.
type Envelope struct {
	EventID       uuid.UUID `json:"event_id"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schema_version"`
	Tenant        string    `json:"tenant"`
	OccurredAt    time.Time `json:"occurred_at"` // UTC, RFC3339Nano
	Actor         Actor     `json:"actor"`
	ActorCompany  string    `json:"actor_company,omitempty"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"` // the command id
	Command       string    `json:"command"`
	Reason        string    `json:"reason,omitempty"`
}

// Validate refuses an envelope that would leave a hole in the audit trail.
// The error is a *ValidationError naming every offending field (JSON names)
// and matches ErrInvalidEnvelope.
func (e Envelope) Validate() error {
	var errs []*FieldError
	req := func(field, v string) {
		if blank(v) {
			errs = append(errs, &FieldError{Field: field, Reason: "required"})
		}
	}
	if e.EventID == uuid.Nil {
		errs = append(errs, &FieldError{Field: "event_id", Reason: "required (nil UUID)"})
	}
	req("type", e.Type)
	if e.SchemaVersion < 1 {
		errs = append(errs, &FieldError{Field: "schema_version", Reason: fmt.Sprintf("must be >= 1, got %d", e.SchemaVersion)})
	}
	req("tenant", e.Tenant)
	switch y := e.OccurredAt.Year(); {
	case e.OccurredAt.IsZero():
		errs = append(errs, &FieldError{Field: "occurred_at", Reason: "required (zero time)"})
	case y < 0 || y > 9999:
		// Outside what RFC 3339 (and encoding/json) can represent.
		errs = append(errs, &FieldError{Field: "occurred_at", Reason: fmt.Sprintf("year %d outside [0,9999]", y)})
	}
	errs = append(errs, e.Actor.validate("actor.")...)
	req("correlation_id", e.CorrelationID)
	req("causation_id", e.CausationID)
	req("command", e.Command)
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// eventIDNamespace is the fixed UUIDv5 namespace of deterministic event ids.
// Changing it would break idempotency of retries across a deploy: never do.
var eventIDNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/portal-access/backend/eventschema#event-id"))

// DeterministicEventID derives the id of the index-th event of a command
// from its idempotency key (UUIDv5), so a retried command appends events
// with the same ids and EventStoreDB de-duplicates them (DESIGN §4).
// The key must already be scoped (see ScopedIdempotencyKey): two tenants
// sending the same raw key must not share event ids.
func DeterministicEventID(idempotencyKey string, index int) uuid.UUID {
	// Index first, then ':': digits never contain ':', so the split is
	// unambiguous whatever the key contains.
	name := strconv.Itoa(index) + ":" + idempotencyKey
	return uuid.NewSHA1(eventIDNamespace, []byte(name))
}

// ScopedIdempotencyKey binds a client's raw Idempotency-Key to the tenant,
// the actor and the command, because clients choose keys independently and
// the same key from two callers must not yield the same event ids.
func ScopedIdempotencyKey(tenant string, actor Actor, command, key string) string {
	// Length-prefixed parts: unambiguous for any content.
	var b strings.Builder
	for _, p := range []string{tenant, string(actor.Kind), actor.ID, command, key} {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// CommandContext is what a command handler knows about the command that
// causes its events; NewEnvelope turns it into envelopes so every handler
// fills them the same way.
type CommandContext struct {
	Tenant        string
	Actor         Actor  // from the authenticated token
	ActorCompany  string // the actor's company, if any
	Command       string // command name, e.g. "InviteUser"
	CommandID     string // becomes the causation id
	CorrelationID string // defaults to CommandID when empty
	Reason        string
	// IdempotencyKey is the raw client key; when set, event ids are derived
	// from it (scoped by tenant, actor and command) instead of random.
	IdempotencyKey string
	// At is when the command was accepted; all its events share it.
	At time.Time
}

// NewEnvelope builds the envelope of the index-th event (0-based) a command
// appends. SchemaVersion is left 0 so Registry.Encode stamps the current
// version. The only error is a failure to read randomness for the event id.
func NewEnvelope(eventType string, index int, c CommandContext) (Envelope, error) {
	var id uuid.UUID
	if c.IdempotencyKey != "" {
		id = DeterministicEventID(ScopedIdempotencyKey(c.Tenant, c.Actor, c.Command, c.IdempotencyKey), index)
	} else {
		var err error
		if id, err = uuid.NewRandom(); err != nil {
			return Envelope{}, fmt.Errorf("eventschema: new event id: %w", err)
		}
	}
	corr := c.CorrelationID
	if corr == "" {
		corr = c.CommandID
	}
	return Envelope{
		EventID:       id,
		Type:          eventType,
		Tenant:        c.Tenant,
		OccurredAt:    c.At.UTC(),
		Actor:         c.Actor,
		ActorCompany:  c.ActorCompany,
		CorrelationID: corr,
		CausationID:   c.CommandID,
		Command:       c.Command,
		Reason:        c.Reason,
	}, nil
}
