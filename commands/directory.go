package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// DirectoryStream names a tenant's Directory stream.
func DirectoryStream(t domain.TenantID) string { return "directory-" + string(t) }

// Directories keeps each tenant's Directory in memory, caught up from its stream before every
// use, and serializes a tenant's commands in this process (other processes are kept out by the
// expected revision). Loading costs only the events appended since the last use.
type Directories struct {
	store EventStore
	reg   *eventschema.Registry

	mu      sync.Mutex
	tenants map[domain.TenantID]*tenantEntry
}

type tenantEntry struct {
	mu       sync.Mutex
	dir      *domain.Directory
	rev      int64 // revision of the last applied event, -1 before the first
	position eventstore.Position
	// replays remembers the result of each idempotent command, by command id.
	replays map[string]Result
}

// NewDirectories returns an empty cache over store.
func NewDirectories(store EventStore, reg *eventschema.Registry) *Directories {
	return &Directories{store: store, reg: reg, tenants: map[domain.TenantID]*tenantEntry{}}
}

func (ds *Directories) entry(t domain.TenantID) *tenantEntry {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e, ok := ds.tenants[t]
	if !ok {
		e = &tenantEntry{dir: domain.NewDirectory(t), rev: -1, replays: map[string]Result{}}
		ds.tenants[t] = e
	}
	return e
}

// catchUp applies the events appended since the entry was last used. Caller holds e.mu.
func (ds *Directories) catchUp(ctx context.Context, t domain.TenantID, e *tenantEntry) error {
	err := ds.store.ReadStream(ctx, DirectoryStream(t), uint64(e.rev+1), 1<<62, func(rec eventstore.RecordedEvent) error {
		env, ev, err := decode(ds.reg, rec)
		if err != nil {
			return err
		}
		domain.Evolve(e.dir, ev)
		e.rev, e.position = int64(rec.Revision), rec.Position
		if idempotentCommand(env.CausationID) {
			r := e.replays[env.CausationID]
			r.Position, r.Events = rec.Position, r.Events+1
			e.replays[env.CausationID] = r
		}
		return nil
	})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load directory of tenant %q: %w", t, err)
	}
	return nil
}

// View runs fn on the tenant's current Directory (read-only; fn must not keep it).
func (ds *Directories) View(ctx context.Context, t domain.TenantID, fn func(*domain.Directory) error) error {
	e := ds.entry(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := ds.catchUp(ctx, t, e); err != nil {
		return err
	}
	return fn(e.dir)
}

// Execute judges cmd against the tenant's Directory and appends its events. ids are the ids the
// command creates, echoed in the result. A conflict (another process appended first) returns
// eventstore.ErrConflict for the retry decorator; an idempotent retry answers the first result.
func (ds *Directories) Execute(ctx context.Context, m Meta, cmd domain.DirectoryCommand, ids map[string]string) (Result, error) {
	m = m.Prepare(cmd.CommandName())
	e := ds.entry(m.Tenant)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := ds.catchUp(ctx, m.Tenant, e); err != nil {
		return Result{}, err
	}
	if r, ok := e.replays[m.CommandID]; ok {
		r.IDs, r.Replayed = ids, true
		return r, nil
	}
	events, err := domain.Decide(e.dir, m.Principal, cmd)
	if err != nil {
		return Result{}, err
	}
	if len(events) == 0 {
		return Result{IDs: ids, Position: e.position}, nil
	}
	if acc, ok := events[0].(domain.InvitationAccepted); ok && m.Principal.Person == "" {
		// Accepting is the invitee's own first act: the audit trail names it as the actor.
		m.Principal.Person = acc.Person
	}
	if a := e.dir.People[m.Principal.Person]; a != nil && m.Principal.Kind == domain.PrincipalUser {
		m.ActorCompany = string(a.HomeCompany)
	}
	data, err := encode(ds.reg, m, cmd.CommandName(), events)
	if err != nil {
		return Result{}, err
	}
	expected := eventstore.NoStream()
	if e.rev >= 0 {
		expected = eventstore.AtRevision(uint64(e.rev))
	}
	res, err := ds.store.Append(ctx, DirectoryStream(m.Tenant), expected, data...)
	if err != nil {
		return Result{}, err
	}
	for _, ev := range events {
		domain.Evolve(e.dir, ev)
	}
	e.rev, e.position = int64(res.NextRevision), res.Position
	r := Result{IDs: ids, Position: res.Position, Events: len(events)}
	if idempotentCommand(m.CommandID) {
		e.replays[m.CommandID] = Result{Position: res.Position, Events: len(events)}
	}
	return r, nil
}
