package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
)

// batchedCounter is counter with its writes combined (Tx.B), so that the runner applies the
// events of a batch message in one transaction.
type batchedCounter struct{}

func (batchedCounter) Name() string    { return "batched" }
func (batchedCounter) Batchable() bool { return true }
func (batchedCounter) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"CompanyRegistered": func(tx *projections.Tx, e projections.Event) error {
			c := e.Payload.(*domain.CompanyRegistered)
			if c.Name == "poison" {
				return errors.New("cannot apply a poisoned company")
			}
			tx.B.HIncrBy(tx.Keys.Tenant(e.Tenant())+"count", "companies", 1)
			tx.B.RPush(tx.Keys.Tenant(e.Tenant())+"names", c.Name)
			return nil
		},
	}
}

// transactions counts the pipelines (the runner's MULTI/EXECs) sent to Redis.
type transactions struct{ n atomic.Int64 }

func (h *transactions) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *transactions) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *transactions) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// A projection behind on the log gets the events ready as batch messages, one transaction each;
// a poisoned event among them is still parked alone, and every other event is applied once, in
// order — those before it, and those after it in the same batch.
func TestBatchesAreAppliedWholeAndAPoisonedEventAlone(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	var names []string
	for i := range 300 {
		names = append(names, fmt.Sprint("c", i))
	}
	names[150] = "poison"
	last := appendCompanies(t, store, names...)
	tx := &transactions{}
	rdb.AddHook(tx)
	runner, stop := testkit.RunProjection(t, rdb, store, batchedCounter{}, keys)
	waitFor(t, runner, last)
	more := appendCompanies(t, store, "live1", "live2") // after catching up, live
	waitFor(t, runner, more)
	stop()

	ctx := context.Background()
	want := append(append(append([]string{}, names[:150]...), names[151:]...), "live1", "live2")
	if got := rdb.LRange(ctx, keys.Tenant("t1")+"names", 0, -1).Val(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("applied %d companies %v…, want the %d but the poisoned one, in order", len(got), got[:min(5, len(got))], len(want))
	}
	if n := rdb.HGet(ctx, keys.Tenant("t1")+"count", "companies").Val(); n != strconv.Itoa(len(want)) {
		t.Fatalf("counted %s, want %d", n, len(want))
	}
	if runner.Healthy() {
		t.Fatal("healthy after a poisoned event")
	}
	entries := rdb.XRange(ctx, projections.DeadLetterKey(prefix), "-", "+").Val()
	if len(entries) != 1 || entries[0].Values["projection"] != "batched" || entries[0].Values["event_type"] != "CompanyRegistered" {
		t.Fatalf("dead letters %v, want the poisoned event alone", entries)
	}
	var parked domain.CompanyRegistered
	if err := jsonUnmarshal(entries[0].Values["payload"], &parked); err != nil || parked.Name != "poison" {
		t.Fatalf("parked %v (%v), want the poisoned company", entries[0].Values["payload"], err)
	}
	if n := tx.n.Load(); n >= int64(len(names)) {
		t.Fatalf("%d transactions for %d events: no batch", n, len(names))
	}
}

// tally counts companies in memory (a Committer and Replayer, as visibility and directory keep
// state) and writes the count: its writes depend on that state. It fails once on "flaky".
type tally struct {
	n      int
	failed bool
}

func (*tally) Name() string                     { return "tally" }
func (*tally) Batchable() bool                  { return true }
func (t *tally) Committed(projections.Event)    { t.n++ }
func (t *tally) Reset()                         { t.n = 0 }
func (*tally) ReplayTypes() []string            { return []string{"CompanyRegistered"} }
func (t *tally) Replay(projections.Event) error { t.n++; return nil }
func (t *tally) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"CompanyRegistered": func(tx *projections.Tx, e projections.Event) error {
			c := e.Payload.(*domain.CompanyRegistered)
			if c.Name == "poison" || c.Name == "flaky" && !t.failed {
				t.failed = t.failed || c.Name == "flaky"
				return errors.New("cannot apply " + c.Name)
			}
			tx.B.HSet(tx.Keys.Tenant(e.Tenant())+"tally", "n", strconv.Itoa(t.n+1))
			return nil
		},
	}
}

// A batch that fails after the in-memory state moved with some of its events: the runner
// re-derives that state from the log and applies the events one at a time; a poisoned event
// narrows the message down to itself for the poison queue.
func TestAFailedBatchReDerivesTheStateAndNarrowsToTheFailingEvent(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	ctx := context.Background()
	appendCompanies(t, store, "a", "b", "flaky", "c", "d", "poison", "e")
	var events []eventstore.RecordedEvent
	if err := store.ReadAll(ctx, eventstore.Position{}, 100, func(e eventstore.RecordedEvent) error {
		if e.Type == "CompanyRegistered" {
			events = append(events, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	proj := &tally{}
	r := projections.NewRunner(proj, rdb, eventschema.MustPortal(), keys)
	r.UseSource(store)
	if _, err := r.Checkpoint(ctx, "tally"); err != nil {
		t.Fatal(err)
	}
	count := func() string { return rdb.HGet(ctx, keys.Tenant("t1")+"tally", "n").Val() }

	// a, b, flaky: the batch fails on flaky after a and b moved the count; applied one by one.
	if err := r.Handle(projections.BatchMessage(ctx, events[:4])); err != nil {
		t.Fatalf("a batch that fails once: %v", err)
	}
	if count() != "4" || proj.n != 4 || r.Position() != events[3].Position {
		t.Fatalf("after a, b, flaky, c: stored %s, in memory %d, at %v", count(), proj.n, r.Position())
	}
	// d, poison, e: applied up to d, then the message is poison's.
	msg := projections.BatchMessage(ctx, events[4:])
	if err := r.Handle(msg); err == nil {
		t.Fatal("a batch with a poisoned event succeeded")
	}
	if msg.UUID != events[5].ID.String() || msg.Metadata.Get(projections.MetaBatch) != "" ||
		msg.Metadata.Get(projections.MetaPosition) != projections.FormatPosition(events[5].Position) || string(msg.Payload) != string(events[5].Data) {
		t.Fatalf("the failed batch's message is %s at %s, want the poisoned event's", msg.UUID, msg.Metadata.Get(projections.MetaPosition))
	}
	if count() != "5" || proj.n != 5 || r.Position() != events[4].Position {
		t.Fatalf("after d: stored %s, in memory %d, at %v", count(), proj.n, r.Position())
	}
}

func jsonUnmarshal(v any, into any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("not a string: %T", v)
	}
	return json.Unmarshal([]byte(s), into)
}
