package commands_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

// process is one instance of the command side: its own Directory cache and ticket repository
// (and so its own in-process locks) over a shared event store.
type process struct {
	h       *commands.Handlers
	tickets *commands.Tickets
	store   commands.EventStore
	reg     *eventschema.Registry
}

func newProcess(store commands.EventStore, reg *eventschema.Registry) process {
	tickets := commands.NewTickets(store, reg)
	return process{h: commands.NewHandlers(commands.NewDirectories(store, reg), tickets, testkit.Logger()), tickets: tickets, store: store, reg: reg}
}

// interleavingStore runs before() once, just before the first append it is asked for, and
// counts the conflicts the store answers.
type interleavingStore struct {
	commands.EventStore
	once      sync.Once
	before    func()
	conflicts atomic.Int64
}

func (s *interleavingStore) Append(ctx context.Context, stream string, expected eventstore.Expected, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	s.once.Do(s.before)
	r, err := s.EventStore.Append(ctx, stream, expected, events...)
	if errors.Is(err, eventstore.ErrConflict) {
		s.conflicts.Add(1)
	}
	return r, err
}

// must fails the test on an error: must(t)(handler.Handle(...)).
func must(t *testing.T) func(commands.Result, error) commands.Result {
	return func(r commands.Result, err error) commands.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// twoProcesses starts two command sides over one store, a tenant, a customer with a site, and
// a ticket; it returns the ticket id and the acting admin's meta.
func twoProcesses(t *testing.T) (a, b process, ticket string, admin commands.Meta) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	reg := eventschema.MustPortal()
	a, b = newProcess(store, reg), newProcess(store, reg)
	ctx := context.Background()
	tn := must(t)(a.h.Directory.CreateTenant.Handle(ctx, commands.Meta{Principal: domain.System()},
		commands.CreateTenant{Tenant: "t1", Name: "T", Seats: 3, AdminName: "Ada", AdminEmail: "ada@t1.example"}))
	must(t)(a.h.People.AcceptInvitation.Handle(ctx, commands.Meta{Tenant: "t1", Principal: domain.Principal{Kind: domain.PrincipalUser}, Subject: "ada"},
		commands.AcceptInvitation{Token: tn.IDs["invitation_token"]}))
	admin = commands.Meta{Tenant: "t1", Principal: domain.User(domain.PersonID(tn.IDs["admin_person_id"]))}
	co := must(t)(a.h.Directory.RegisterCompany.Handle(ctx, admin, commands.RegisterCompany{Name: "Acme", Kind: "customer"})).IDs["company_id"]
	site := must(t)(a.h.Directory.AddSite.Handle(ctx, admin, commands.AddSite{Company: co, Name: "HQ"})).IDs["site_id"]
	ticket = must(t)(a.h.Tickets.OpenTicket.Handle(ctx, admin, commands.OpenTicket{Site: site, Type: "incident", Title: "Leak"})).IDs["ticket_id"]
	return a, b, ticket, admin
}

// TestTicketWritesFromTwoProcesses: two processes comment on one ticket at once. Their locks do
// not see each other; the expected revision does: a loser gets a conflict, retries on fresh
// state, and every accepted comment is stored exactly once.
func TestTicketWritesFromTwoProcesses(t *testing.T) {
	a, b, ticket, admin := twoProcesses(t)
	const n = 10
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.h.Tickets.CommentOnTicket.Handle(context.Background(), admin, commands.CommentOnTicket{Ticket: ticket, Body: "hi"})
		}()
	}
	wg.Wait()
	accepted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, eventstore.ErrConflict): // out of retries: refused, nothing stored
		default:
			t.Fatal(err)
		}
	}
	tk, err := a.tickets.Ticket(context.Background(), "t1", domain.TicketID(ticket))
	if err != nil {
		t.Fatal(err)
	}
	if tk.Comments != accepted || accepted == 0 {
		t.Fatalf("%d comments stored, %d accepted", tk.Comments, accepted)
	}
}

// TestTicketConflictIsRetried: another process appends to the ticket between this one's read
// and its append; the append is refused on the expected revision, and the retry decides again on
// the fresh stream.
func TestTicketConflictIsRetried(t *testing.T) {
	a, b, ticket, admin := twoProcesses(t)
	ctx := context.Background()
	racer := &interleavingStore{EventStore: a.store}
	racer.before = func() {
		must(t)(b.h.Tickets.CommentOnTicket.Handle(ctx, admin, commands.CommentOnTicket{Ticket: ticket, Body: "first"}))
	}
	c := newProcess(racer, a.reg)
	must(t)(c.h.Tickets.CommentOnTicket.Handle(ctx, admin, commands.CommentOnTicket{Ticket: ticket, Body: "second"}))
	tk, err := a.tickets.Ticket(ctx, "t1", domain.TicketID(ticket))
	if err != nil {
		t.Fatal(err)
	}
	if racer.conflicts.Load() != 1 || tk.Comments != 2 {
		t.Fatalf("%d conflicts, %d comments; want 1 and 2", racer.conflicts.Load(), tk.Comments)
	}
}

// TestIdempotentRetryInAnotherProcess: the retry of a command reaches another process, which
// holds no memory of it; it recognises the command by its causation id in the ticket's stream.
func TestIdempotentRetryInAnotherProcess(t *testing.T) {
	a, b, ticket, admin := twoProcesses(t)
	ctx := context.Background()
	m := admin
	m.IdempotencyKey = "close-it"
	first := must(t)(a.h.Tickets.ChangeTicketStatus.Handle(ctx, m, commands.ChangeTicketStatus{Ticket: ticket, Status: "closed"}))
	// Meanwhile the ticket is reopened; the retry must not close it again.
	must(t)(a.h.Tickets.ChangeTicketStatus.Handle(ctx, admin, commands.ChangeTicketStatus{Ticket: ticket, Status: "open"}))
	again := must(t)(b.h.Tickets.ChangeTicketStatus.Handle(ctx, m, commands.ChangeTicketStatus{Ticket: ticket, Status: "closed"}))
	if !again.Replayed || again.Position != first.Position || again.Events != 1 {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	tk, err := b.tickets.Ticket(ctx, "t1", domain.TicketID(ticket))
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != domain.TicketOpen {
		t.Fatalf("status %s after the retry", tk.Status)
	}
	// Opening with a key names the same ticket in either process.
	m.IdempotencyKey = "open-it"
	o1 := must(t)(a.h.Tickets.OpenTicket.Handle(ctx, m, commands.OpenTicket{Company: string(tk.Company), Type: "incident", Title: "Again"}))
	o2 := must(t)(b.h.Tickets.OpenTicket.Handle(ctx, m, commands.OpenTicket{Company: string(tk.Company), Type: "incident", Title: "Again"}))
	if o1.IDs["ticket_id"] != o2.IDs["ticket_id"] || !o2.Replayed {
		t.Fatalf("open retry %+v, first %+v", o2, o1)
	}
}

// readCountingStore counts the reads of each stream.
type readCountingStore struct {
	commands.EventStore
	mu    sync.Mutex
	reads map[string]int
}

func (s *readCountingStore) ReadStream(ctx context.Context, stream string, from, max uint64, fn func(eventstore.RecordedEvent) error) error {
	s.mu.Lock()
	s.reads[stream]++
	s.mu.Unlock()
	return s.EventStore.ReadStream(ctx, stream, from, max, fn)
}

// TestOpeningATicketReadsOnlyWhatCanExist: a ticket opened without an Idempotency-Key gets a new
// random id, whose stream is not read (it cannot exist); with a key, the id is derived from it
// and its stream is read, since it holds the first attempt's events when this is a retry.
func TestOpeningATicketReadsOnlyWhatCanExist(t *testing.T) {
	a, _, existing, admin := twoProcesses(t)
	ctx := context.Background()
	tk, err := a.tickets.Ticket(ctx, "t1", domain.TicketID(existing))
	if err != nil {
		t.Fatal(err)
	}
	counting := &readCountingStore{EventStore: a.store, reads: map[string]int{}}
	c := newProcess(counting, a.reg)
	open := func(m commands.Meta) string {
		return must(t)(c.h.Tickets.OpenTicket.Handle(ctx, m, commands.OpenTicket{Company: string(tk.Company), Type: "incident", Title: "Leak"})).IDs["ticket_id"]
	}
	fresh := open(admin)
	if n := counting.reads[commands.TicketStream("t1", domain.TicketID(fresh))]; n != 0 {
		t.Fatalf("opening a ticket with a fresh id read its stream %d times", n)
	}
	keyed := admin
	keyed.IdempotencyKey = "open-once"
	derived := open(keyed)
	if n := counting.reads[commands.TicketStream("t1", domain.TicketID(derived))]; n != 1 {
		t.Fatalf("opening a ticket with an Idempotency-Key read its stream %d times, want 1", n)
	}
	for _, id := range []string{fresh, derived} {
		got, err := a.tickets.Ticket(ctx, "t1", domain.TicketID(id))
		if err != nil || got.Status != domain.TicketOpen || got.Company != tk.Company {
			t.Fatalf("ticket %s: %+v, %v", id, got, err)
		}
	}
}

func TestTicketStreamNames(t *testing.T) {
	if s := commands.TicketStream("t1", "x"); s != "ticket-t1-x" {
		t.Fatal(s)
	}
	if s := commands.DocumentStream("t1", "x"); s != "document-t1-x" {
		t.Fatal(s)
	}
}
