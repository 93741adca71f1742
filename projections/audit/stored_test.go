package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
)

// What Apply stores for an event is what it stored when the entry was json.Marshal(entry) and
// the ids came from the reflection walk — byte for byte, since Export serves the stored bytes —
// for events of every registered type with random fields and envelopes.
func TestStoredEntriesAreTheReferenceJSON(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	reg := eventschema.MustPortal()
	events, err := audit.RandEvents(rand.New(rand.NewPCG(5, 6)), reg, 20*len(reg.Types()))
	if err != nil {
		t.Fatal(err)
	}
	applyDirect(t, rdb, keys, events)
	ctx := context.Background()
	for _, e := range events {
		want, err := audit.ReferenceEntryJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		key := keys.Tenant(e.Tenant()) + fmt.Sprintf("audit:e:%016x%016x", e.Position.Commit, e.Position.Prepare)
		got, err := rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got != string(want) {
			t.Fatalf("%s stored\n%s\nthe reference is\n%s", e.Envelope.Type, got, want)
		}
	}
}
