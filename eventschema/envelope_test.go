package eventschema_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/eventschema"
)

func TestEnvelopeValidate(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(e *eventschema.Envelope)
		wantFields []string // nil: valid
	}{
		{"valid user actor", func(e *eventschema.Envelope) {}, nil},
		{"valid service actor", func(e *eventschema.Envelope) { e.Actor = eventschema.ServiceActor("crm-sync") }, nil},
		{"valid system actor without id", func(e *eventschema.Envelope) { e.Actor = eventschema.SystemActor(); e.ActorCompany = "" }, nil},
		{"optional fields empty", func(e *eventschema.Envelope) { e.ActorCompany, e.Reason = "", "" }, nil},
		{"nil event id", func(e *eventschema.Envelope) { e.EventID = uuid.Nil }, []string{"event_id"}},
		{"empty type", func(e *eventschema.Envelope) { e.Type = "" }, []string{"type"}},
		{"schema version 0", func(e *eventschema.Envelope) { e.SchemaVersion = 0 }, []string{"schema_version"}},
		{"negative schema version", func(e *eventschema.Envelope) { e.SchemaVersion = -1 }, []string{"schema_version"}},
		{"empty tenant", func(e *eventschema.Envelope) { e.Tenant = "" }, []string{"tenant"}},
		{"blank tenant", func(e *eventschema.Envelope) { e.Tenant = " \t" }, []string{"tenant"}},
		{"zero occurred_at", func(e *eventschema.Envelope) { e.OccurredAt = time.Time{} }, []string{"occurred_at"}},
		{"unencodable occurred_at", func(e *eventschema.Envelope) { e.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"occurred_at"}},
		{"missing actor kind", func(e *eventschema.Envelope) { e.Actor = eventschema.Actor{ID: "u1"} }, []string{"actor.kind"}},
		{"unknown actor kind", func(e *eventschema.Envelope) { e.Actor = eventschema.Actor{Kind: "robot", ID: "r"} }, []string{"actor.kind"}},
		{"user without id", func(e *eventschema.Envelope) { e.Actor = eventschema.Actor{Kind: eventschema.ActorUser} }, []string{"actor.id"}},
		{"service without id", func(e *eventschema.Envelope) { e.Actor = eventschema.ServiceActor(" ") }, []string{"actor.id"}},
		{"empty correlation id", func(e *eventschema.Envelope) { e.CorrelationID = "" }, []string{"correlation_id"}},
		{"empty causation id", func(e *eventschema.Envelope) { e.CausationID = "" }, []string{"causation_id"}},
		{"empty command", func(e *eventschema.Envelope) { e.Command = "" }, []string{"command"}},
		{"zero envelope names every required field", func(e *eventschema.Envelope) { *e = eventschema.Envelope{} },
			[]string{"event_id", "type", "schema_version", "tenant", "occurred_at", "actor.kind", "correlation_id", "causation_id", "command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnvelope("UserInvited")
			e.SchemaVersion = 1
			tt.mutate(&e)
			err := e.Validate()
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, eventschema.ErrInvalidEnvelope) {
				t.Fatalf("Validate() = %v, want ErrInvalidEnvelope", err)
			}
			var ve *eventschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %T, want *ValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
				if !strings.Contains(err.Error(), f.Field) {
					t.Errorf("message %q does not name %s", err, f.Field)
				}
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields = %v, want %v", got, tt.wantFields)
			}
			var fe *eventschema.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantFields[0] {
				t.Errorf("errors.As FieldError = %+v, want field %s", fe, tt.wantFields[0])
			}
		})
	}
}

func TestDeterministicEventID(t *testing.T) {
	a0 := eventschema.DeterministicEventID("key-1", 0)
	if a0 != eventschema.DeterministicEventID("key-1", 0) {
		t.Fatal("not stable for the same key and index")
	}
	if a0.Version() != 5 || a0.Variant() != uuid.RFC4122 {
		t.Errorf("id %s is version %d variant %v, want UUIDv5 RFC 4122", a0, a0.Version(), a0.Variant())
	}
	// Pinned: changing the namespace or name layout would make retries
	// across a deploy append duplicates.
	if got, want := a0.String(), pinnedID; got != want {
		t.Errorf("DeterministicEventID(key-1, 0) = %s, want pinned %s", got, want)
	}
	seen := map[uuid.UUID]string{}
	for _, key := range []string{"key-1", "key-2", "", "1:key-1", "key-1:0"} {
		for i := range 5 {
			id := eventschema.DeterministicEventID(key, i)
			name := key + "#" + string(rune('0'+i))
			if prev, dup := seen[id]; dup {
				t.Errorf("collision: %s and %s -> %s", prev, name, id)
			}
			seen[id] = name
		}
	}
}

const pinnedID = "ee098f56-eaa4-5c64-b793-abbeb3f744cf"

func TestScopedIdempotencyKey(t *testing.T) {
	base := eventschema.ScopedIdempotencyKey("acme", eventschema.UserActor("u1"), "InviteUser", "k")
	others := []string{
		eventschema.ScopedIdempotencyKey("globex", eventschema.UserActor("u1"), "InviteUser", "k"),
		eventschema.ScopedIdempotencyKey("acme", eventschema.UserActor("u2"), "InviteUser", "k"),
		eventschema.ScopedIdempotencyKey("acme", eventschema.ServiceActor("u1"), "InviteUser", "k"),
		eventschema.ScopedIdempotencyKey("acme", eventschema.UserActor("u1"), "RevokeMembership", "k"),
		eventschema.ScopedIdempotencyKey("acme", eventschema.UserActor("u1"), "InviteUser", "k2"),
		eventschema.ScopedIdempotencyKey("acm", eventschema.UserActor("eu1"), "InviteUser", "k"), // shifted boundary
	}
	for _, o := range others {
		if o == base {
			t.Errorf("scope collision: %q", o)
		}
	}
	if base != eventschema.ScopedIdempotencyKey("acme", eventschema.UserActor("u1"), "InviteUser", "k") {
		t.Error("not stable")
	}
}

func TestNewEnvelope(t *testing.T) {
	cmd := eventschema.CommandContext{
		Tenant: "acme", Actor: eventschema.UserActor("u1"), ActorCompany: "c1",
		Command: "InviteUser", CommandID: "cmd-9", Reason: "onboarding",
		IdempotencyKey: "idem-1", At: t0.In(time.FixedZone("X", -7200)),
	}
	e0, err := eventschema.NewEnvelope("UserInvited", 0, cmd)
	if err != nil {
		t.Fatal(err)
	}
	retry, _ := eventschema.NewEnvelope("UserInvited", 0, cmd)
	e1, _ := eventschema.NewEnvelope("UserInvited", 1, cmd)
	if e0.EventID != retry.EventID {
		t.Error("retry with same Idempotency-Key got a different event id")
	}
	if e0.EventID == e1.EventID {
		t.Error("two events of one command share an id")
	}
	other := cmd
	other.Tenant = "globex"
	if eo, _ := eventschema.NewEnvelope("UserInvited", 0, other); eo.EventID == e0.EventID {
		t.Error("same raw key in another tenant gave the same event id")
	}
	if e0.CorrelationID != "cmd-9" || e0.CausationID != "cmd-9" || e0.Command != "InviteUser" || !e0.OccurredAt.Equal(t0) || e0.OccurredAt.Location() != time.UTC {
		t.Errorf("envelope = %+v", e0)
	}
	e0.SchemaVersion = 1
	if err := e0.Validate(); err != nil {
		t.Errorf("built envelope invalid: %v", err)
	}
	cmd.IdempotencyKey = ""
	r1, _ := eventschema.NewEnvelope("UserInvited", 0, cmd)
	r2, _ := eventschema.NewEnvelope("UserInvited", 0, cmd)
	if r1.EventID == uuid.Nil || r1.EventID == r2.EventID {
		t.Errorf("without key, ids must be random: %s %s", r1.EventID, r2.EventID)
	}
}
