package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

// TestAGoneServerIsUnavailable: once the server is gone, appends and reads fail with
// ErrUnavailable (the service answers 503), never an untyped error (a 500).
func TestAGoneServerIsUnavailable(t *testing.T) {
	srv := testkit.StartEventStore(t)
	st := testkit.StoreClient(t, srv.ConnectionString())
	ctx := context.Background()
	ev := func() eventstore.EventData {
		return eventstore.EventData{ID: uuid.New(), Type: "Tested", Data: []byte(`{}`)}
	}
	if _, err := st.Append(ctx, "s-1", eventstore.Any(), ev()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "s-1", eventstore.Any(), ev()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append: %v", err)
	}
	err := st.ReadStream(ctx, "s-1", 0, 10, func(eventstore.RecordedEvent) error { return nil })
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("read: %v", err)
	}
}
