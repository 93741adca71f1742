package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
)

// counter counts registered companies per tenant and refuses the company named "poison".
type counter struct{}

func (counter) Name() string { return "counter" }
func (counter) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"CompanyRegistered": func(tx *projections.Tx, e projections.Event) error {
			c := e.Payload.(*domain.CompanyRegistered)
			if c.Name == "poison" {
				return errors.New("cannot apply a poisoned company")
			}
			tx.W.HIncrBy(tx.Ctx, tx.Keys.Tenant(e.Tenant())+"count", "companies", 1)
			tx.W.RPush(tx.Ctx, tx.Keys.Tenant(e.Tenant())+"names", c.Name)
			return nil
		},
	}
}

func appendCompanies(t *testing.T, store *eventstore.Client, names ...string) eventstore.Position {
	t.Helper()
	reg := eventschema.MustPortal()
	var last eventstore.Position
	for _, n := range names {
		env := eventschema.Envelope{EventID: uuid.New(), Type: "CompanyRegistered", Tenant: "t1", OccurredAt: time.Now(),
			Actor: eventschema.SystemActor(), CorrelationID: "c", CausationID: "c", Command: "RegisterCompany"}
		enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: domain.CompanyRegistered{Company: domain.CompanyID(uuid.NewString()), Name: n, Kind: domain.KindCustomer}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Append(context.Background(), "directory-t1", eventstore.Any(), eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	return last
}

func run(t *testing.T, rdb *redis.Client, store *eventstore.Client, prefix string) (*projections.Runner, func()) {
	t.Helper()
	return testkit.RunProjection(t, rdb, store, counter{}, projections.Keys{Prefix: prefix, Gen: 1})
}

func waitFor(t *testing.T, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, p); err != nil {
		t.Fatalf("projection stuck at %v, want %v: %v", r.Position(), p, err)
	}
}

func TestProjectionAppliesEachEventOnceAcrossRestarts(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}

	last := appendCompanies(t, store, "a", "b", "c")
	runner, stop := run(t, rdb, store, prefix)
	waitFor(t, runner, last)
	last = appendCompanies(t, store, "d", "e") // live
	waitFor(t, runner, last)
	stop()

	last = appendCompanies(t, store, "f", "g")
	runner, stop = run(t, rdb, store, prefix)
	waitFor(t, runner, last)
	stop()

	ctx := context.Background()
	if n := rdb.HGet(ctx, keys.Tenant("t1")+"count", "companies").Val(); n != "7" {
		t.Fatalf("counted %s companies, want 7", n)
	}
	names := rdb.LRange(ctx, keys.Tenant("t1")+"names", 0, -1).Val()
	if fmt.Sprint(names) != "[a b c d e f g]" {
		t.Fatalf("applied %v", names)
	}
	cp := rdb.Get(ctx, keys.Checkpoint("counter")).Val()
	if cp != projections.FormatPosition(last) {
		t.Fatalf("checkpoint %s, want %s", cp, projections.FormatPosition(last))
	}
}

func TestPoisonedEventIsParkedAndMarksTheProjectionUnhealthy(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}

	last := appendCompanies(t, store, "a", "poison", "b")
	runner, stop := run(t, rdb, store, prefix)
	waitFor(t, runner, last)
	stop()

	if runner.Healthy() {
		t.Fatal("projection reports healthy after a poisoned event")
	}
	ctx := context.Background()
	entries := rdb.XRange(ctx, projections.DeadLetterKey(prefix), "-", "+").Val()
	if len(entries) != 1 {
		t.Fatalf("dead-letter stream has %d entries, want 1", len(entries))
	}
	e := entries[0].Values
	if e["projection"] != "counter" || e["event_type"] != "CompanyRegistered" || e["error"] == "" {
		t.Fatalf("dead letter %v", e)
	}
	names := rdb.LRange(ctx, keys.Tenant("t1")+"names", 0, -1).Val()
	if fmt.Sprint(names) != "[a b]" {
		t.Fatalf("applied %v, want [a b]", names)
	}
}
