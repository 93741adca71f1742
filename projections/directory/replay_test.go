package directory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
)

// ticketStep adds a ticket or document event, about tickets that may not exist yet (which the
// read model must ignore, as the domain does).
func (h *history) ticketStep() {
	r := h.rng
	tk := domain.TicketID(fmt.Sprintf("t%d", r.IntN(6)))
	c := pick(r, rCompanies)
	switch r.IntN(7) {
	case 0:
		var site domain.SiteID
		if len(rSites[c]) > 0 && r.IntN(2) == 0 {
			site = pick(r, rSites[c])
		}
		h.add(domain.TicketOpened{Ticket: tk, Company: c, Site: site, Type: "incident", Status: domain.TicketOpen, Title: "T",
			Description: pick(r, []string{"", "d"}), Reporter: pick(r, []domain.PersonID{"", "p1"}), ResponsibleGroup: pick(r, []domain.GroupID{"", "g-normal"})})
	case 1:
		h.add(domain.TicketStatusChanged{Ticket: tk, From: domain.TicketOpen, To: domain.TicketInProgress})
	case 2:
		h.add(domain.TicketAssigned{Ticket: tk, Group: pick(r, []domain.GroupID{"", "g-normal"}), User: pick(r, []domain.PersonID{"", "p2"})})
	case 3:
		h.add(domain.ContractorAssigned{Ticket: tk, Contractor: "c3", Technician: pick(r, []domain.PersonID{"", "p3"})})
	case 4:
		h.add(domain.TicketCommented{Ticket: tk, Comment: fmt.Sprintf("cm%d", r.IntN(1000)), Author: "p1", Body: "b"})
	case 5:
		h.add(domain.DocumentAttached{Document: domain.DocID(fmt.Sprintf("d%d", r.IntN(1000))), Company: c, Ticket: tk, Name: "n", ContentType: "a/b", SizeBytes: 3})
	case 6:
		h.add(domain.DocumentAttached{Document: domain.DocID(fmt.Sprintf("d%d", r.IntN(1000))), Company: c, Name: "n", ContentType: "a/b", SizeBytes: 3})
	}
}

// sliceLog is the event log as projections.Source, over recorded events in memory.
type sliceLog []eventstore.RecordedEvent

func (l sliceLog) ReadAll(_ context.Context, from eventstore.Position, max uint64, fn func(eventstore.RecordedEvent) error) error {
	n := uint64(0)
	for _, e := range l {
		if e.Position.Less(from) || n >= max {
			continue
		}
		n++
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (sliceLog) SubscribeAll(context.Context, eventstore.SubscribeOptions, func(context.Context, eventstore.RecordedEvent) error) error {
	panic("not used")
}

// The projection keeps what it needs in memory, so three ways through the same history must
// leave the same keys: one event per transaction; a rebuild's batches; and a process that
// stops anywhere and a new one that re-derives the in-memory state from the log up to the
// checkpoint (projections.Replayer) and carries on — in batches or one by one.
func TestLiveBatchedAndRestartedAgree(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	reg := eventschema.MustPortal()
	ctx := context.Background()
	for seed := range uint64(16) {
		tenant := domain.TenantID(fmt.Sprint("x", seed))
		h := &history{rng: rand.New(rand.NewPCG(seed, 77)), tenant: tenant, reg: reg, d: domain.NewDirectory(tenant),
			at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		h.setup()
		for range 500 {
			if h.rng.IntN(3) == 0 {
				h.ticketStep()
			} else {
				h.step()
			}
		}
		events := h.events
		start := func(gen int64) *projections.Runner {
			r := projections.NewRunner(directory.New(), rdb, reg, projections.Keys{Prefix: prefix, Gen: gen})
			r.UseSource(sliceLog(events))
			if _, err := r.Checkpoint(ctx, directory.Name); err != nil {
				t.Fatal(err)
			}
			return r
		}
		gen := int64(10 * seed)
		live := start(gen + 1)
		feed(t, live, events)
		want, n := digest(t, rdb, live.Keys())

		batched := start(gen + 2)
		for i := 0; i < len(events); i += 64 {
			if err := batched.ApplyBatch(ctx, events[i:min(i+64, len(events))]); err != nil {
				t.Fatal(err)
			}
		}
		if got, n2 := digest(t, rdb, batched.Keys()); got != want || n2 != n {
			t.Fatalf("seed %d: batched gives %d keys, one by one %d (or other values)", seed, n2, n)
		}

		// Stops at three points; each new runner replays the log up to the checkpoint.
		cuts := []int{h.rng.IntN(len(events)), h.rng.IntN(len(events)), h.rng.IntN(len(events))}
		restarted := start(gen + 3)
		done := 0
		for i, cut := range cuts {
			cut = max(cut, done)
			if i%2 == 0 {
				feed(t, restarted, events[done:cut])
			} else if cut > done {
				if err := restarted.ApplyBatch(ctx, events[done:cut]); err != nil {
					t.Fatal(err)
				}
			}
			done = cut
			restarted = start(gen + 3) // a new process
		}
		if err := restarted.ApplyBatch(ctx, events[done:]); err != nil {
			t.Fatal(err)
		}
		if got, n3 := digest(t, rdb, restarted.Keys()); got != want || n3 != n {
			t.Fatalf("seed %d: restarted at %v gives %d keys, one by one %d (or other values)", seed, cuts, n3, n)
		}
	}
}

// A runner that must re-derive its state from the log refuses to start without one.
func TestResumingNeedsTheLog(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	reg := eventschema.MustPortal()
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	tenant := domain.TenantID("y")
	h := &history{rng: rand.New(rand.NewPCG(1, 2)), tenant: tenant, reg: reg, d: domain.NewDirectory(tenant), at: time.Now()}
	h.setup()
	r := projections.NewRunner(directory.New(), rdb, reg, keys)
	if _, err := r.Checkpoint(context.Background(), directory.Name); err != nil {
		t.Fatal(err)
	}
	feed(t, r, h.events)
	again := projections.NewRunner(directory.New(), rdb, reg, keys)
	if _, err := again.Checkpoint(context.Background(), directory.Name); err == nil {
		t.Fatal("a runner resumed from a checkpoint without the log to re-derive its state")
	}
}

// failOnce fails every other MULTI/EXEC before it reaches Redis.
type failOnce struct{ n int }

func (f *failOnce) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (f *failOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f *failOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() != "multi" {
			return next(ctx, cmds) // not a transaction (the connection's handshake)
		}
		f.n++
		if f.n%2 == 1 {
			return errors.New("injected failure")
		}
		return next(ctx, cmds)
	}
}

// A transaction that fails leaves the in-memory state as it was: the retry (the router's Retry
// middleware) applies the event again against the committed state.
func TestFailedTransactionsAreRetriedFromTheCommittedState(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	flaky := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr()})
	defer flaky.Close()
	flaky.AddHook(&failOnce{})
	reg := eventschema.MustPortal()
	tenant := domain.TenantID("z")
	h := &history{rng: rand.New(rand.NewPCG(9, 9)), tenant: tenant, reg: reg, d: domain.NewDirectory(tenant),
		at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.setup()
	for range 600 {
		if h.rng.IntN(3) == 0 {
			h.ticketStep()
		} else {
			h.step()
		}
	}
	ctx := context.Background()
	ok := projections.NewRunner(directory.New(), rdb, reg, projections.Keys{Prefix: prefix, Gen: 1})
	retried := projections.NewRunner(directory.New(), flaky, reg, projections.Keys{Prefix: prefix, Gen: 2})
	for _, r := range []*projections.Runner{ok, retried} {
		if _, err := r.Checkpoint(ctx, directory.Name); err != nil {
			t.Fatal(err)
		}
	}
	feed(t, ok, h.events)
	for _, e := range h.events {
		if err := retried.Handle(projections.ToMessage(e)); err == nil {
			t.Fatal("the injected failure did not fail the transaction")
		}
		if err := retried.Handle(projections.ToMessage(e)); err != nil {
			t.Fatal(err)
		}
	}
	want, n := digest(t, rdb, ok.Keys())
	if got, n2 := digest(t, rdb, retried.Keys()); got != want || n2 != n {
		t.Fatalf("retried transactions give %d keys, one by one %d (or other values)", n2, n)
	}
}
