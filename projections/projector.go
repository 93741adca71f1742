package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// Event is what a projection function receives: the decoded event with its envelope and its
// place in the log.
type Event struct {
	Envelope eventschema.Envelope
	Payload  domain.Event
	Stream   string
	Revision uint64
	Position eventstore.Position
}

// Tenant is the event's tenant.
func (e Event) Tenant() domain.TenantID { return domain.TenantID(e.Envelope.Tenant) }

// Tx is one event's unit of work. Reads go straight to Redis (a projection's keys are written
// by that projection alone, one event at a time, so they are current); writes are queued on W,
// in the MULTI/EXEC that also moves the checkpoint.
type Tx struct {
	Ctx  context.Context
	R    redis.Cmdable
	W    redis.Pipeliner
	Keys Keys
}

// ApplyFunc applies one event type to a read model.
type ApplyFunc func(tx *Tx, e Event) error

// Projection is a read model: a name (its checkpoint and Watermill handler) and a table from
// event type to the function that applies it. Event types absent from the table only move the
// checkpoint.
type Projection interface {
	Name() string
	Handlers() map[string]ApplyFunc
}

// Preparer is implemented by projections that keep derived state in memory: Prepare is called
// before the first event with the checkpoint the projection resumes from, so that it can
// rebuild that state from the log up to there.
type Preparer interface {
	Prepare(ctx context.Context, keys Keys, rdb redis.Cmdable, upTo eventstore.Position) error
}

// Committer is implemented by projections that keep state in memory beside Redis: Committed is
// called once an event's MULTI/EXEC succeeded, so that in-memory state moves only with Redis
// (a failed transaction is retried against the state as it was).
type Committer interface {
	Committed(e Event)
}

// Runner applies one projection's events exactly once, in order.
type Runner struct {
	proj  Projection
	table map[string]ApplyFunc
	rdb   redis.UniversalClient
	reg   *eventschema.Registry
	keys  Keys

	mu         sync.Mutex
	checkpoint eventstore.Position
	loaded     bool
	advanced   chan struct{}

	applied   atomic.Int64
	unhealthy atomic.Bool
	lastErr   atomic.Value // string
}

// NewRunner prepares a runner for proj in the generation keys describes.
func NewRunner(proj Projection, rdb redis.UniversalClient, reg *eventschema.Registry, keys Keys) *Runner {
	return &Runner{proj: proj, table: proj.Handlers(), rdb: rdb, reg: reg, keys: keys, advanced: make(chan struct{})}
}

// Name is the projection's name.
func (r *Runner) Name() string { return r.proj.Name() }

// Keys is the generation the runner writes.
func (r *Runner) Keys() Keys { return r.keys }

// Checkpoint loads the stored checkpoint (and prepares the projection's in-memory state up to
// it). It implements CheckpointSource for the runner's own topic.
func (r *Runner) Checkpoint(ctx context.Context, projection string) (eventstore.Position, error) {
	if projection != r.Name() {
		return eventstore.Position{}, fmt.Errorf("projections: runner %s asked for %s", r.Name(), projection)
	}
	v, err := r.rdb.Get(ctx, r.keys.Checkpoint(r.Name())).Result()
	var pos eventstore.Position
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return pos, err
	default:
		if pos, err = ParsePosition(v); err != nil {
			return pos, err
		}
	}
	if p, ok := r.proj.(Preparer); ok {
		if err := p.Prepare(ctx, r.keys, r.rdb, pos); err != nil {
			return pos, fmt.Errorf("projections: prepare %s: %w", r.Name(), err)
		}
	}
	r.mu.Lock()
	r.checkpoint, r.loaded = pos, true
	r.mu.Unlock()
	return pos, nil
}

// Position is the last position the projection applied (as of this process).
func (r *Runner) Position() eventstore.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkpoint
}

// Advanced returns a channel closed the next time the checkpoint moves.
func (r *Runner) Advanced() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.advanced
}

// Healthy is false once an event was parked in the dead-letter stream.
func (r *Runner) Healthy() bool { return !r.unhealthy.Load() }

// LastError is the error of the last parked event.
func (r *Runner) LastError() string { s, _ := r.lastErr.Load().(string); return s }

// Applied counts the events this runner applied since start.
func (r *Runner) Applied() int64 { return r.applied.Load() }

func (r *Runner) markPoisoned(reason string) {
	r.unhealthy.Store(true)
	r.lastErr.Store(reason)
}

// Handle is the Watermill handler: decode, apply, and move the checkpoint in one MULTI/EXEC.
func (r *Runner) Handle(msg *message.Message) error {
	pos, err := ParsePosition(msg.Metadata.Get(MetaPosition))
	if err != nil {
		return err
	}
	r.mu.Lock()
	done := !r.checkpoint.Less(pos)
	r.mu.Unlock()
	if done {
		return nil // delivered again after a reconnect: already applied
	}
	typ := msg.Metadata.Get(MetaEventType)
	fn := r.table[typ]
	var ev Event
	if fn != nil {
		dec, err := r.reg.Decode(typ, msg.Payload, []byte(msg.Metadata.Get(MetaEnvelope)))
		if err != nil {
			return fmt.Errorf("projections: %s: %w", r.Name(), err)
		}
		payload, ok := dec.Payload.(domain.Event)
		if !ok {
			return fmt.Errorf("projections: %s: %s is not a domain event", r.Name(), typ)
		}
		ev = Event{Envelope: dec.Envelope, Payload: payload, Stream: msg.Metadata.Get(MetaStream), Position: pos}
		fmt.Sscan(msg.Metadata.Get(MetaRevision), &ev.Revision)
	}
	ctx := msg.Context()
	_, err = r.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		if fn != nil {
			if err := fn(&Tx{Ctx: ctx, R: r.rdb, W: pipe, Keys: r.keys}, ev); err != nil {
				return err
			}
		}
		pipe.Set(ctx, r.keys.Checkpoint(r.Name()), FormatPosition(pos), 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("projections: %s at %s: %w", r.Name(), FormatPosition(pos), err)
	}
	if c, ok := r.proj.(Committer); ok && fn != nil {
		c.Committed(ev)
	}
	r.mu.Lock()
	r.checkpoint = pos
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.mu.Unlock()
	r.applied.Add(1)
	return nil
}

// WaitFor blocks until the projection has applied position p, ctx ends, or it is unhealthy.
func (r *Runner) WaitFor(ctx context.Context, p eventstore.Position) error {
	for {
		ch := r.Advanced()
		if !r.Position().Less(p) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Batchable marks projections whose apply functions never read Redis (tx.R): their events can
// be applied many to a transaction, which is how a rebuild reaches its speed.
type Batchable interface {
	Batchable() bool
}

// ApplyBatch applies recorded events (in log order) in one MULTI/EXEC with the checkpoint of
// the last one. Projections that read Redis while applying get one transaction per event.
func (r *Runner) ApplyBatch(ctx context.Context, events []eventstore.RecordedEvent) error {
	if b, ok := r.proj.(Batchable); !ok || !b.Batchable() {
		for _, e := range events {
			msg := ToMessage(e)
			msg.SetContext(ctx)
			if err := r.Handle(msg); err != nil {
				return err
			}
		}
		return nil
	}
	var decoded []Event
	var last eventstore.Position
	cp := r.Position()
	_, err := r.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		tx := &Tx{Ctx: ctx, R: r.rdb, W: pipe, Keys: r.keys}
		for _, e := range events {
			if !cp.Less(e.Position) {
				continue
			}
			last = e.Position
			fn := r.table[e.Type]
			if fn == nil {
				continue
			}
			dec, err := r.reg.Decode(e.Type, e.Data, e.Metadata)
			if err != nil {
				return fmt.Errorf("projections: %s at %s: %w", r.Name(), FormatPosition(e.Position), err)
			}
			payload, ok := dec.Payload.(domain.Event)
			if !ok {
				return fmt.Errorf("projections: %s: %s is not a domain event", r.Name(), e.Type)
			}
			ev := Event{Envelope: dec.Envelope, Payload: payload, Stream: e.Stream, Revision: e.Revision, Position: e.Position}
			if err := fn(tx, ev); err != nil {
				return err
			}
			if c, ok := r.proj.(Committer); ok {
				// The in-memory state of a batchable projection moves per event inside the
				// batch; a failed batch fails the rebuild, which starts over.
				c.Committed(ev)
			}
			decoded = append(decoded, ev)
		}
		if last.IsZero() {
			return nil
		}
		pipe.Set(ctx, r.keys.Checkpoint(r.Name()), FormatPosition(last), 0)
		return nil
	})
	if err != nil {
		return err
	}
	if !last.IsZero() {
		r.mu.Lock()
		r.checkpoint = last
		close(r.advanced)
		r.advanced = make(chan struct{})
		r.mu.Unlock()
		r.applied.Add(int64(len(decoded)))
	}
	return nil
}
