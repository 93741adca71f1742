package projections_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
)

// lostReply lets Redis run the next transaction that writes the checkpoint value at, then
// reports it failed, as go-redis does when the reply is lost with its connection.
type lostReply struct {
	at   atomic.Value // string; "" once lost
	lost atomic.Int64
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		at, _ := h.at.Load().(string)
		if err != nil || at == "" {
			return err
		}
		for _, c := range cmds {
			if args := c.Args(); len(args) >= 3 && args[0] == "set" && args[2] == at {
				h.at.Store("")
				h.lost.Add(1)
				return fmt.Errorf("read tcp 127.0.0.1:6379: %w", io.ErrUnexpectedEOF)
			}
		}
		return nil
	}
}

// A transaction that Redis ran but whose reply was lost is reported failed. Its retry (the
// router's Retry middleware, made by hand here) must not apply its events again — a name
// pushed twice, a company counted twice — and a projection's in-memory state must still
// follow them: single events and batches, with and without in-memory state.
func TestATransactionWhoseReplyIsLostIsNotAppliedTwice(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	ctx := context.Background()
	appendCompanies(t, store, "a", "b", "c")
	var events []eventstore.RecordedEvent
	if err := store.ReadAll(ctx, eventstore.Position{}, 100, func(e eventstore.RecordedEvent) error {
		if e.Type == "CompanyRegistered" {
			events = append(events, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Position

	one := func(e eventstore.RecordedEvent) func() *message.Message {
		return func() *message.Message {
			m := projections.ToMessage(e)
			m.SetContext(ctx)
			return m
		}
	}
	batch := func() *message.Message { return projections.BatchMessage(ctx, events) }
	singles := []func() *message.Message{one(events[0]), one(events[1]), one(events[2])}

	cases := []struct {
		name       string
		proj       projections.Projection
		deliveries []func() *message.Message
		lose       eventstore.Position // the transaction that writes this checkpoint
	}{
		{"single events", counter{}, singles, events[1].Position},
		{"a batch", batchedCounter{}, []func() *message.Message{batch}, last},
		{"single events with in-memory state", &tally{}, singles, events[1].Position},
		{"a batch with in-memory state", &tally{}, []func() *message.Message{batch}, last},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb, prefix := testkit.Redis(t)
			h := &lostReply{}
			h.at.Store(projections.FormatPosition(c.lose))
			rdb.AddHook(h)
			keys := projections.Keys{Prefix: prefix, Gen: 1}
			r := projections.NewRunner(c.proj, rdb, eventschema.MustPortal(), keys)
			r.UseSource(store)
			if _, err := r.Checkpoint(ctx, c.proj.Name()); err != nil {
				t.Fatal(err)
			}
			for _, delivery := range c.deliveries {
				for attempt := 0; ; attempt++ {
					err := r.Handle(delivery())
					if err == nil {
						break
					}
					if attempt == 3 {
						t.Fatalf("delivery still fails: %v", err)
					}
				}
			}
			if h.lost.Load() != 1 {
				t.Fatalf("%d replies lost, want 1", h.lost.Load())
			}
			if r.Position() != last || !r.Healthy() {
				t.Fatalf("at %v (healthy %v), want %v", r.Position(), r.Healthy(), last)
			}
			tenant := keys.Tenant("t1")
			switch p := c.proj.(type) {
			case *tally:
				if n := rdb.HGet(ctx, tenant+"tally", "n").Val(); n != "3" || p.n != 3 {
					t.Fatalf("tally stored %s, in memory %d; want 3 and 3", n, p.n)
				}
			default:
				names := rdb.LRange(ctx, tenant+"names", 0, -1).Val()
				count := rdb.HGet(ctx, tenant+"count", "companies").Val()
				if fmt.Sprint(names) != "[a b c]" || count != "3" {
					t.Fatalf("applied %v, counted %s; want [a b c] and 3", names, count)
				}
			}
		})
	}
}
