package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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

	// The queue of commands waiting for the next batch (see Execute).
	qmu     sync.Mutex
	queue   []*pendingCommand
	leading bool
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
//
// Commands on one tenant are group-committed: while one append is in flight the next commands
// queue; the next leader decides them one after the other, each against the state its
// predecessors leave, and appends all their events at once with one expected revision. Every
// command of a batch answers the position of the batch's last event — at or after its own last
// event, so a read "at least as fresh as" it sees the command.
func (ds *Directories) Execute(ctx context.Context, m Meta, cmd domain.DirectoryCommand, ids map[string]string) (Result, error) {
	m = m.Prepare(cmd.CommandName())
	e := ds.entry(m.Tenant)
	p := &pendingCommand{m: m, cmd: cmd, ids: ids, done: make(chan struct{})}
	e.qmu.Lock()
	e.queue = append(e.queue, p)
	lead := !e.leading
	e.leading = true
	e.qmu.Unlock()
	if lead {
		// The leader drains the queue in its own goroutine, so that the caller that happened to
		// start it is answered with its own batch, not after everyone queued behind it.
		go ds.lead(m.Tenant, e)
	}
	// Once queued, a command is decided whatever happens to the caller's context: wait for it
	// rather than report a failure for a command that may be appended.
	<-p.done
	return p.res, p.err
}

// maxBatch bounds how many commands share one append.
const maxBatch = 128

type pendingCommand struct {
	m    Meta
	cmd  domain.DirectoryCommand
	ids  map[string]string
	res  Result
	err  error
	done chan struct{}
}

// lead runs batches until the tenant's queue is empty.
func (ds *Directories) lead(t domain.TenantID, e *tenantEntry) {
	for {
		e.qmu.Lock()
		n := min(len(e.queue), maxBatch)
		batch := e.queue[:n:n]
		e.queue = e.queue[n:]
		if n == 0 {
			e.leading = false
			e.qmu.Unlock()
			return
		}
		e.qmu.Unlock()
		ds.runBatch(t, e, batch)
	}
}

func (ds *Directories) runBatch(t domain.TenantID, e *tenantEntry, batch []*pendingCommand) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := ds.catchUp(ctx, t, e); err != nil {
		for _, p := range batch {
			p.err = err
		}
		return
	}
	var (
		data     []eventstore.EventData
		accepted []*pendingCommand
		noops    []*pendingCommand
		firsts   = map[string]*pendingCommand{}
		mirrors  = map[*pendingCommand]*pendingCommand{}
	)
	for _, p := range batch {
		if r, ok := e.replays[p.m.CommandID]; ok {
			r.IDs, r.Replayed = replayIDs(p.ids), true
			p.res = r
			continue
		}
		if idempotentCommand(p.m.CommandID) {
			if first, ok := firsts[p.m.CommandID]; ok { // the same retry twice in one batch
				mirrors[p] = first
				continue
			}
			firsts[p.m.CommandID] = p
		}
		events, err := domain.Decide(e.dir, p.m.Principal, p.cmd)
		if err != nil {
			p.err = err
			continue
		}
		if len(events) == 0 {
			noops = append(noops, p)
			continue
		}
		m := p.m
		if acc, ok := events[0].(domain.InvitationAccepted); ok && m.Principal.Person == "" {
			// Accepting is the invitee's own first act: the audit trail names it as the actor.
			m.Principal.Person = acc.Person
		}
		if a := e.dir.People[m.Principal.Person]; a != nil && m.Principal.Kind == domain.PrincipalUser {
			m.ActorCompany = string(a.HomeCompany)
		}
		enc, err := encode(ds.reg, m, p.cmd.CommandName(), events)
		if err != nil {
			p.err = err
			continue
		}
		// Evolve now so that the next command of the batch is judged on this one's outcome.
		for _, ev := range events {
			domain.Evolve(e.dir, ev)
		}
		data = append(data, enc...)
		accepted = append(accepted, p)
		p.res = Result{IDs: p.ids, Events: len(events)}
	}
	if len(data) > 0 {
		expected := eventstore.NoStream()
		if e.rev >= 0 {
			expected = eventstore.AtRevision(uint64(e.rev))
		}
		res, err := ds.store.Append(ctx, DirectoryStream(t), expected, data...)
		if err != nil {
			for _, p := range accepted {
				p.err, p.res = err, Result{}
			}
			// The cached state holds events that were not appended: forget it; the next
			// command reloads the tenant from its stream.
			e.reset(t)
		} else {
			e.rev, e.position = int64(res.NextRevision), res.Position
			for _, p := range accepted {
				p.res.Position = res.Position
				if idempotentCommand(p.m.CommandID) {
					e.replays[p.m.CommandID] = Result{Position: res.Position, Events: p.res.Events}
				}
			}
		}
	}
	for _, p := range noops {
		p.res = Result{IDs: p.ids, Position: e.position}
	}
	for p, first := range mirrors {
		p.res, p.err = first.res, first.err
		p.res.IDs, p.res.Replayed = replayIDs(p.ids), first.err == nil
	}
}

// replayIDs drops what a retry cannot give back: the first answer's secret invitation token
// was shown once and only its hash is stored (resend the invitation for a new one).
func replayIDs(ids map[string]string) map[string]string {
	if _, ok := ids["invitation_token"]; !ok {
		return ids
	}
	out := make(map[string]string, len(ids))
	for k, v := range ids {
		if k != "invitation_token" {
			out[k] = v
		}
	}
	return out
}

// appendTimeout bounds one batch's catch-up and append.
const appendTimeout = 15 * time.Second

func (e *tenantEntry) reset(t domain.TenantID) {
	e.dir, e.rev, e.position, e.replays = domain.NewDirectory(t), -1, eventstore.Position{}, map[string]Result{}
}
