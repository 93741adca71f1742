package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// TicketStream names a ticket's stream.
func TicketStream(t domain.TenantID, id domain.TicketID) string {
	return "ticket-" + string(t) + "-" + string(id)
}

// DocumentStream names a company document's stream.
func DocumentStream(t domain.TenantID, id domain.DocID) string {
	return "document-" + string(t) + "-" + string(id)
}

// Tickets loads and saves Ticket and Document aggregates. Each command reads the aggregate's
// stream (they are short), judges the command against it and the tenant's Directory as it
// stands (read-only, through Directories.View; its lock is not held while appending), and
// appends with the expected revision: no stream for a new ticket or document, else the last
// revision read. Commands on one stream are serialized in this process, so they never race
// each other; another process that appended first makes the append fail with
// eventstore.ErrConflict, retried by the decorator on fresh state.
type Tickets struct {
	store EventStore
	reg   *eventschema.Registry
	locks streamLocks
}

// streamLocks serializes commands per stream; an entry lives while someone holds or awaits it.
type streamLocks struct {
	mu sync.Mutex
	m  map[string]*streamLock
}

type streamLock struct {
	mu      sync.Mutex
	waiters int
}

func (l *streamLocks) lock(stream string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*streamLock{}
	}
	e := l.m[stream]
	if e == nil {
		e = &streamLock{}
		l.m[stream] = e
	}
	e.waiters++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.waiters--; e.waiters == 0 {
			delete(l.m, stream)
		}
		l.mu.Unlock()
	}
}

// NewTickets returns the ticket repository over store.
func NewTickets(store EventStore, reg *eventschema.Registry) *Tickets {
	return &Tickets{store: store, reg: reg}
}

// loadedStream is what reading an aggregate's stream yields besides its state.
type loadedStream struct {
	rev      int64 // revision of the last event, -1 when the stream does not exist
	position eventstore.Position
	// replay is the first result of this very command when it already appended (idempotent retry).
	replay   Result
	replayed bool
}

// load reads stream from the start, applying each event, and recognises a command that already
// appended to it: an idempotent command's id (derived from its Idempotency-Key) is the causation
// id of its events.
func (ts *Tickets) load(ctx context.Context, stream, commandID string, apply func(domain.Event)) (loadedStream, error) {
	l := loadedStream{rev: -1}
	idem := idempotentCommand(commandID)
	err := ts.store.ReadStream(ctx, stream, 0, 1<<62, func(rec eventstore.RecordedEvent) error {
		env, ev, err := decode(ts.reg, rec)
		if err != nil {
			return err
		}
		apply(ev)
		l.rev, l.position = int64(rec.Revision), rec.Position
		if idem && env.CausationID == commandID {
			l.replayed = true
			l.replay.Position, l.replay.Events = rec.Position, l.replay.Events+1
		}
		return nil
	})
	if errors.Is(err, eventstore.ErrStreamNotFound) || errors.Is(err, eventstore.ErrStreamDeleted) {
		return loadedStream{rev: -1}, nil
	}
	if err != nil {
		return loadedStream{}, fmt.Errorf("load %s: %w", stream, err)
	}
	return l, nil
}

// execute is the load–decide–append cycle shared by tickets and documents. A stream named by an
// id the command just minted at random (fresh) cannot exist: it is not read (one round trip to
// the event store fewer for every ticket opened), and the append expects no stream, which would
// refuse should it exist after all.
func (ts *Tickets) execute(ctx context.Context, dirs *Directories, m Meta, command, stream string, fresh bool,
	apply func(domain.Event), decide func(*domain.Directory) ([]domain.Event, error), ids map[string]string) (Result, error) {
	defer ts.locks.lock(stream)()
	l := loadedStream{rev: -1}
	if !fresh {
		var err error
		if l, err = ts.load(ctx, stream, m.CommandID, apply); err != nil {
			return Result{}, err
		}
	}
	if l.replayed {
		r := l.replay
		r.IDs, r.Replayed = ids, true
		return r, nil
	}
	var events []domain.Event
	err := dirs.View(ctx, m.Tenant, func(d *domain.Directory) error {
		var derr error
		events, derr = decide(d)
		if a := d.People[m.Principal.Person]; a != nil && m.Principal.Kind == domain.PrincipalUser {
			m.ActorCompany = string(a.HomeCompany)
		}
		return derr
	})
	if err != nil {
		return Result{}, err
	}
	if len(events) == 0 {
		return Result{IDs: ids, Position: l.position}, nil
	}
	data, err := encode(ts.reg, m, command, events)
	if err != nil {
		return Result{}, err
	}
	expected := eventstore.NoStream()
	if l.rev >= 0 {
		expected = eventstore.AtRevision(uint64(l.rev))
	}
	res, err := ts.store.Append(ctx, stream, expected, data...)
	if err != nil {
		return Result{}, err
	}
	return Result{IDs: ids, Position: res.Position, Events: len(events)}, nil
}

// ExecuteTicket runs a Ticket command against ticket id.
func (ts *Tickets) ExecuteTicket(ctx context.Context, dirs *Directories, m Meta, id domain.TicketID, cmd domain.TicketCommand, ids map[string]string) (Result, error) {
	return ts.executeTicket(ctx, dirs, m, id, false, cmd, ids)
}

// CreateTicket runs a Ticket command that creates ticket id, an id m.NewID minted.
func (ts *Tickets) CreateTicket(ctx context.Context, dirs *Directories, m Meta, id domain.TicketID, cmd domain.TicketCommand, ids map[string]string) (Result, error) {
	return ts.executeTicket(ctx, dirs, m, id, m.mintsFreshIDs(), cmd, ids)
}

func (ts *Tickets) executeTicket(ctx context.Context, dirs *Directories, m Meta, id domain.TicketID, fresh bool, cmd domain.TicketCommand, ids map[string]string) (Result, error) {
	m = m.Prepare(cmd.CommandName())
	if !wellFormedID(string(id)) {
		return Result{}, notFoundErr("ticket", string(id))
	}
	t := domain.NewTicket(id)
	return ts.execute(ctx, dirs, m, cmd.CommandName(), TicketStream(m.Tenant, id), fresh,
		func(e domain.Event) { domain.EvolveTicket(t, e) },
		func(d *domain.Directory) ([]domain.Event, error) { return domain.DecideTicket(t, d, m.Principal, cmd) }, ids)
}

// CreateDocument runs a Document command that creates document id, an id m.NewID minted.
func (ts *Tickets) CreateDocument(ctx context.Context, dirs *Directories, m Meta, id domain.DocID, cmd domain.DocumentCommand, ids map[string]string) (Result, error) {
	m = m.Prepare(cmd.CommandName())
	if !wellFormedID(string(id)) {
		return Result{}, notFoundErr("document", string(id))
	}
	doc := domain.NewDocument(id)
	return ts.execute(ctx, dirs, m, cmd.CommandName(), DocumentStream(m.Tenant, id), m.mintsFreshIDs(),
		func(e domain.Event) { domain.EvolveDocument(doc, e) },
		func(d *domain.Directory) ([]domain.Event, error) {
			return domain.DecideDocument(doc, d, m.Principal, cmd)
		}, ids)
}

// Ticket returns a ticket's current state (an unopened one when its stream does not exist).
func (ts *Tickets) Ticket(ctx context.Context, tenant domain.TenantID, id domain.TicketID) (*domain.Ticket, error) {
	t := domain.NewTicket(id)
	_, err := ts.load(ctx, TicketStream(tenant, id), "", func(e domain.Event) { domain.EvolveTicket(t, e) })
	return t, err
}

// wellFormedID: ticket and document ids are minted as UUIDs; anything else names nothing.
func wellFormedID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

func notFoundErr(kind, id string) error {
	return &domain.Error{Kind: domain.KindNotFound, Code: domain.ErrNotFound.Code, Message: fmt.Sprintf("no %s %q", kind, id)}
}

// TicketHandlers: contractors, tickets and documents.
type TicketHandlers struct {
	RegisterGuestContractor Handler[RegisterGuestContractor]
	AddTechnician           Handler[AddTechnician]
	OpenTicket              Handler[OpenTicket]
	ChangeTicketStatus      Handler[ChangeTicketStatus]
	AssignTicket            Handler[AssignTicket]
	AssignContractor        Handler[AssignContractor]
	CommentOnTicket         Handler[CommentOnTicket]
	AttachTicketDocument    Handler[AttachTicketDocument]
	AttachCompanyDocument   Handler[AttachCompanyDocument]
}

func newTicketHandlers(dirs *Directories, tickets *Tickets, logger *slog.Logger) TicketHandlers {
	th := ticketHandler{Directories: dirs, Tickets: tickets}
	return TicketHandlers{
		RegisterGuestContractor: Decorate("RegisterGuestContractor", logger, Handler[RegisterGuestContractor](RegisterGuestContractorHandler{dirs})),
		AddTechnician:           Decorate("AddTechnician", logger, Handler[AddTechnician](AddTechnicianHandler{dirs})),
		OpenTicket:              Decorate("OpenTicket", logger, Handler[OpenTicket](OpenTicketHandler(th))),
		ChangeTicketStatus:      Decorate("ChangeTicketStatus", logger, Handler[ChangeTicketStatus](ChangeTicketStatusHandler(th))),
		AssignTicket:            Decorate("AssignTicket", logger, Handler[AssignTicket](AssignTicketHandler(th))),
		AssignContractor:        Decorate("AssignContractor", logger, Handler[AssignContractor](AssignContractorHandler(th))),
		CommentOnTicket:         Decorate("CommentOnTicket", logger, Handler[CommentOnTicket](CommentOnTicketHandler(th))),
		AttachTicketDocument:    Decorate("AttachDocument", logger, Handler[AttachTicketDocument](AttachTicketDocumentHandler(th))),
		AttachCompanyDocument:   Decorate("AttachDocument", logger, Handler[AttachCompanyDocument](AttachCompanyDocumentHandler(th))),
	}
}

// ticketHandler is what every ticket and document handler holds.
type ticketHandler struct {
	Directories *Directories
	Tickets     *Tickets
}
