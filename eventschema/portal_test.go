package eventschema_test

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
)

var update = flag.Bool("update", false, "rewrite eventschema/schema.json")

// TestPortalRegistryCoversEveryEvent: every domain event is registered, documented, and
// round-trips through Encode/Decode.
func TestPortalRegistryCoversEveryEvent(t *testing.T) {
	reg, err := eventschema.Portal()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ti := range reg.Types() {
		types[ti.Type] = true
		if ti.Doc == "" || ti.Version != 1 {
			t.Errorf("%s: doc %q version %d", ti.Type, ti.Doc, ti.Version)
		}
	}
	for _, e := range domain.AllEvents() {
		if !types[e.EventType()] {
			t.Errorf("%s is not registered", e.EventType())
		}
		env := eventschema.Envelope{EventID: uuid.New(), Type: e.EventType(), Tenant: "t", OccurredAt: time.Now(),
			Actor: eventschema.SystemActor(), CorrelationID: "c", CausationID: "c", Command: "Test"}
		enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: e})
		if err != nil {
			t.Fatalf("encode %s: %v", e.EventType(), err)
		}
		if _, err := reg.Decode(enc.Type, enc.Data, enc.Metadata); err != nil {
			t.Fatalf("decode %s: %v", e.EventType(), err)
		}
	}
}

// TestSchemaFileIsCurrent: eventschema/schema.json, the document integrators read, matches the
// registry. Run `go test ./eventschema -run SchemaFile -update` after changing an event.
func TestSchemaFileIsCurrent(t *testing.T) {
	reg := eventschema.MustPortal()
	got, err := reg.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("read schema.json (generate it with -update): %v", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatal("eventschema/schema.json is stale: run go test ./eventschema -run SchemaFile -update")
	}
}
