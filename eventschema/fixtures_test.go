package eventschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/eventschema"
)

// Payload fixtures. They exercise what real payloads use: ids, times,
// optional pointers, nested structs, slices, maps, embedded structs.

type Site struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type Audit struct {
	Note string `json:"note,omitempty"`
}

type CompanyRegistered struct {
	Audit                          // embedded: fields promoted, as encoding/json does
	CompanyID    uuid.UUID         `json:"company_id" doc:"Id of the new company."`
	Name         string            `json:"name"`
	ParentID     *uuid.UUID        `json:"parent_id,omitempty"`
	Sites        []Site            `json:"sites"`
	Tags         map[string]string `json:"tags,omitempty"`
	RegisteredAt time.Time         `json:"registered_at"`
	Active       bool              `json:"active"`
	Seats        int               `json:"seats"`
	internal     string            //nolint:unused // unexported: must not appear anywhere
}

// UserInvited is at v3: v1 had {"mail"}, v2 renamed it to {"email"}, v3
// added {"role"} defaulting to "basic".
type UserInvited struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

type TenantConfigured struct {
	Seats int `json:"seats"`
}

var errUpcastRefused = errors.New("refused by upcaster")

// upMailToEmail is the UserInvited v1→v2 upcaster.
func upMailToEmail(in json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(in, &m); err != nil {
		return nil, fmt.Errorf("v1 payload: %w", err)
	}
	if m == nil {
		return nil, errors.New("v1 payload is null")
	}
	mail, ok := m["mail"]
	if !ok {
		return nil, fmt.Errorf("v1 payload: %w: no mail", errUpcastRefused)
	}
	delete(m, "mail")
	m["email"] = mail
	return json.Marshal(m)
}

// upAddRole is the UserInvited v2→v3 upcaster.
func upAddRole(in json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(in, &m); err != nil {
		return nil, fmt.Errorf("v2 payload: %w", err)
	}
	if m == nil {
		return nil, errors.New("v2 payload is null")
	}
	if _, ok := m["role"]; !ok {
		m["role"] = "basic"
	}
	return json.Marshal(m)
}

func newRegistry(t testing.TB) *eventschema.Registry {
	t.Helper()
	r := eventschema.NewRegistry()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Register("CompanyRegistered", 1, CompanyRegistered{}, "A company was registered in the tenant."))
	must(r.Register("UserInvited", 3, UserInvited{}, "A user was invited to a company."))
	must(r.Register("TenantConfigured", 1, &TenantConfigured{}, "Tenant settings (seats) changed."))
	must(r.RegisterUpcaster("UserInvited", 1, upMailToEmail))
	must(r.RegisterUpcaster("UserInvited", 2, upAddRole))
	return r
}

var (
	t0    = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	evtID = uuid.MustParse("0b0f7d2e-5d1c-4a51-9a8e-2b4a3b1f6c01")
)

func validEnvelope(eventType string) eventschema.Envelope {
	return eventschema.Envelope{
		EventID:       evtID,
		Type:          eventType,
		Tenant:        "acme",
		OccurredAt:    t0,
		Actor:         eventschema.UserActor("u-42"),
		ActorCompany:  "c-7",
		CorrelationID: "corr-1",
		CausationID:   "cmd-1",
		Command:       "DoSomething",
	}
}

// stored builds metadata JSON for an envelope with the given version,
// as an older release would have written it.
func storedMetadata(t testing.TB, eventType string, version int) []byte {
	t.Helper()
	env := validEnvelope(eventType)
	env.SchemaVersion = version
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
