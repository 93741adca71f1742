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
	Ctx context.Context
	R   redis.Cmdable
	W   redis.Pipeliner
	// B queues writes like W but combines those on the same key across the transaction (a
	// batch, in a rebuild): see Writes. A projection writes a key through one of W and B only.
	B    *Writes
	Keys Keys
	// Exclusive is set when this run alone writes the generation and nobody reads it yet: a
	// rebuild into a new generation, under the rebuild lock, before the switch. There is then
	// no other applier to guard against and no reader's cache to invalidate, which a
	// projection may use to write less; what it leaves in Redis must be exactly what the live
	// path would have left.
	Exclusive bool

	memo  map[any]any
	build map[any]any // an exclusive build's state (Build), nil outside one
}

// Build is state that lives as long as an exclusive build — a rebuild writing a new generation
// alone, from empty — derived under key on the first call; nil outside one (when Exclusive is
// false, or the build did not start from an empty generation). A projection may keep there what
// it would otherwise read back from Redis: nothing else writes the generation, and the build
// stops at its first failed transaction, so state staged ahead never meets a retry.
func (tx *Tx) Build(key any, derive func() any) any {
	if tx.build == nil {
		return nil
	}
	if v, ok := tx.build[key]; ok {
		return v
	}
	v := derive()
	tx.build[key] = v
	return v
}

// Memo is the value derived under key once per transaction (a page of events, in a rebuild):
// derive runs on the first call only. It spares a projection deriving again, event after event,
// what depends only on what many of a page's events share, such as a tenant's key names.
func (tx *Tx) Memo(key any, derive func() any) any {
	if v, ok := tx.memo[key]; ok {
		return v
	}
	if tx.memo == nil {
		tx.memo = map[any]any{}
	}
	v := derive()
	tx.memo[key] = v
	return v
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

// Replayer is implemented by projections that keep in memory what they need to decide their
// writes (so that they never read Redis while applying), derived from the events they applied.
// Before the first event the runner re-derives it: Reset, then every event of the log up to
// the checkpoint whose type is among ReplayTypes goes through Replay, which changes that state
// alone and writes nothing. The state is thus exactly what it was when the checkpoint was
// written, whatever process wrote it; it is never loaded from Redis.
type Replayer interface {
	Reset()
	ReplayTypes() []string
	Replay(e Event) error
}

// Runner applies one projection's events exactly once, in order.
type Runner struct {
	proj  Projection
	table map[string]ApplyFunc
	rdb   redis.UniversalClient
	reg   *eventschema.Registry
	keys  Keys
	src   Source // the log, for a Replayer (set by NewRouter, Start and Rebuild)

	// exclusive: the runner builds a generation alone (Rebuild): see Tx.Exclusive.
	exclusive bool
	// build is the state of an exclusive build that started from an empty generation (Tx.Build).
	build map[any]any

	// diverged is set when a batch failed after a Committer's in-memory state moved with it:
	// the runner refuses to go on (a new runner re-derives the state).
	diverged atomic.Bool
	// uncertain is set when a transaction failed once sent: Redis may have run it (see settle).
	uncertain atomic.Bool

	mu         sync.Mutex
	checkpoint eventstore.Position
	// staged is the last position of the batches staged (stageBatch), ahead of the
	// checkpoint while their transactions are on their way.
	staged   eventstore.Position
	loaded   bool
	advanced chan struct{}

	// writes is the number of combined writes the last batch staged: the next one's size hint.
	writes atomic.Int64

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
	if p, ok := r.proj.(Replayer); ok {
		if err := r.replay(ctx, p, pos); err != nil {
			return pos, fmt.Errorf("projections: replay %s up to %s: %w", r.Name(), FormatPosition(pos), err)
		}
	}
	r.mu.Lock()
	r.checkpoint, r.loaded = pos, true
	if r.exclusive && pos.IsZero() {
		r.build = map[any]any{}
	}
	r.mu.Unlock()
	return pos, nil
}

// UseSource gives the runner the log a Replayer re-derives its state from. NewRouter, Start and
// Rebuild set it; a runner made by NewRunner alone needs it only to resume from a checkpoint.
func (r *Runner) UseSource(src Source) { r.src = src }

// replay re-derives a Replayer's state from the log up to pos (inclusive).
func (r *Runner) replay(ctx context.Context, p Replayer, upTo eventstore.Position) error {
	p.Reset()
	if upTo.IsZero() {
		return nil
	}
	if r.src == nil {
		return errors.New("no event log to replay (Runner.UseSource)")
	}
	types := map[string]bool{}
	for _, t := range p.ReplayTypes() {
		types[t] = true
	}
	const page = 4096
	var from, last eventstore.Position // from is inclusive: skip what was replayed
	for {
		n, done := 0, false
		err := r.src.ReadAll(ctx, from, page, func(e eventstore.RecordedEvent) error {
			n++
			if !last.Less(e.Position) || done {
				return nil
			}
			if upTo.Less(e.Position) {
				done = true
				return nil
			}
			last = e.Position
			if !types[e.Type] {
				return nil
			}
			ev, err := Decode(r.reg, e)
			if err != nil {
				return err
			}
			return p.Replay(ev)
		})
		if err != nil {
			return err
		}
		if done || n < page {
			break
		}
		from = last
	}
	if last != upTo {
		return fmt.Errorf("the log ends at %s, before the checkpoint", FormatPosition(last))
	}
	return nil
}

// Decode decodes a recorded event for the projections.
func Decode(reg *eventschema.Registry, e eventstore.RecordedEvent) (Event, error) {
	dec, err := reg.Decode(e.Type, e.Data, e.Metadata)
	if err != nil {
		return Event{}, err
	}
	payload, ok := dec.Payload.(domain.Event)
	if !ok {
		return Event{}, fmt.Errorf("%s is not a domain event", e.Type)
	}
	return Event{Envelope: dec.Envelope, Payload: payload, Stream: e.Stream, Revision: e.Revision, Position: e.Position}, nil
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

// Handle is the Watermill handler: decode, apply, and move the checkpoint in one MULTI/EXEC —
// for one event, or for the events of a batch message (Subscriber).
func (r *Runner) Handle(msg *message.Message) error {
	if events := batchOf(msg); events != nil {
		return r.handleBatch(msg, events)
	}
	return r.handleOne(msg)
}

// handleBatch applies a batch message's events in one transaction. Should that fail, it applies
// them one at a time (re-deriving first the in-memory state the failed batch left ahead of
// Redis); the first event that fails narrows the message down to itself — its id, payload and
// metadata — so that the retries and the poison queue deal with that event alone, and the
// subscriber delivers the events after it next. Re-deriving replays the log up to the
// checkpoint (as at start), so a failed batch of a projection with in-memory state — a Redis
// outage, say — costs that replay once before the projection goes on.
func (r *Runner) handleBatch(msg *message.Message, events []eventstore.RecordedEvent) error {
	ctx := msg.Context()
	err := r.ApplyBatch(ctx, events)
	if err == nil {
		return nil
	}
	if r.uncertain.Load() {
		// The state is re-derived, and the events applied again, only past what Redis holds.
		if serr := r.settle(ctx); serr != nil {
			return fmt.Errorf("%w; %v", err, serr)
		}
	}
	if r.diverged.Load() {
		p, ok := r.proj.(Replayer)
		if !ok {
			return err
		}
		if rerr := r.replay(ctx, p, r.Position()); rerr != nil {
			return fmt.Errorf("%w; re-deriving the state after it: %v", err, rerr)
		}
		r.diverged.Store(false)
	}
	for _, e := range events {
		one := ToMessage(e)
		one.SetContext(ctx)
		if err := r.handleOne(one); err != nil {
			msg.UUID, msg.Payload, msg.Metadata = one.UUID, one.Payload, one.Metadata
			return err
		}
	}
	return nil
}

func (r *Runner) handleOne(msg *message.Message) error {
	if r.diverged.Load() {
		return errDiverged
	}
	pos, err := ParsePosition(msg.Metadata.Get(MetaPosition))
	if err != nil {
		return err
	}
	ctx := msg.Context()
	appliedBefore := false // by a transaction reported failed (settle)
	if r.uncertain.Load() {
		was := r.Position()
		if err := r.settle(ctx); err != nil {
			return err
		}
		appliedBefore = was.Less(pos) && !r.Position().Less(pos)
	}
	r.mu.Lock()
	done := !r.checkpoint.Less(pos)
	r.mu.Unlock()
	if done && !appliedBefore {
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
	if appliedBefore {
		// Redis ran the transaction whose failure was reported: only the in-memory state has
		// yet to follow it.
		if c, ok := r.proj.(Committer); ok && fn != nil {
			c.Committed(ev)
		}
		r.applied.Add(1)
		return nil
	}
	sent := false
	_, err = r.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		if fn != nil {
			tx := &Tx{Ctx: ctx, R: r.rdb, W: pipe, B: NewWrites(ctx, pipe), Keys: r.keys, Exclusive: r.exclusive}
			if err := fn(tx, ev); err != nil {
				return err
			}
			if err := tx.B.Flush(); err != nil {
				return err
			}
		}
		pipe.Set(ctx, r.keys.Checkpoint(r.Name()), FormatPosition(pos), 0)
		sent = true
		return nil
	})
	if err != nil {
		if sent {
			r.uncertain.Store(true)
		}
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

// settle learns whether a transaction reported failed was applied after all. A failure that
// comes after EXEC was sent — a reply lost with its connection, a read timeout — may belong to a
// transaction Redis ran; applying its events again would repeat writes that do not repeat
// harmlessly (a comment pushed twice, a count added twice). The checkpoint written in the same
// transaction tells: the runner adopts the stored one when it is ahead of its own.
func (r *Runner) settle(ctx context.Context) error {
	v, err := r.rdb.Get(ctx, r.keys.Checkpoint(r.Name())).Result()
	var stored eventstore.Position
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return fmt.Errorf("projections: %s: read the checkpoint after a failed transaction: %w", r.Name(), err)
	default:
		if stored, err = ParsePosition(v); err != nil {
			return fmt.Errorf("projections: %s: checkpoint: %w", r.Name(), err)
		}
	}
	r.mu.Lock()
	if r.checkpoint.Less(stored) {
		r.checkpoint = stored
		close(r.advanced)
		r.advanced = make(chan struct{})
	}
	r.mu.Unlock()
	r.uncertain.Store(false)
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
	batch := make([]Decoded, len(events))
	for i, e := range events {
		batch[i] = Decoded{Recorded: e}
		if r.table[e.Type] != nil && r.Batchable() {
			ev, err := Decode(r.reg, e)
			if err != nil {
				return fmt.Errorf("projections: %s at %s: %w", r.Name(), FormatPosition(e.Position), err)
			}
			batch[i].Event, batch[i].Decoded = ev, true
		}
	}
	return r.ApplyDecoded(ctx, batch)
}

// Decoded is a recorded event with, when Decoded is set, the event decoded: a rebuild decodes
// each event once for every projection. Projections treat the decoded payload as read-only.
type Decoded struct {
	Recorded eventstore.RecordedEvent
	Event    Event
	Decoded  bool
}

// Batchable reports whether the projection applies many events per transaction.
func (r *Runner) Batchable() bool {
	b, ok := r.proj.(Batchable)
	return ok && b.Batchable()
}

// Wants reports whether the projection applies events of type typ (others only move its
// checkpoint).
func (r *Runner) Wants(typ string) bool { return r.table[typ] != nil }

var errDiverged = errors.New("projections: a failed batch left the in-memory state ahead of Redis; restart the projection")

// ApplyDecoded is ApplyBatch for events already decoded (those of the projection's table must
// be): one MULTI/EXEC with the checkpoint of the last one.
func (r *Runner) ApplyDecoded(ctx context.Context, events []Decoded) error {
	if !r.Batchable() {
		for _, e := range events {
			msg := ToMessage(e.Recorded)
			msg.SetContext(ctx)
			if err := r.Handle(msg); err != nil {
				return err
			}
		}
		return nil
	}
	b, err := r.stageBatch(ctx, events)
	if err != nil {
		return err
	}
	return r.commitBatch(ctx, b)
}

// stagedBatch is a batch's transaction, built (its projection's in-memory state moved with it)
// and not yet sent.
type stagedBatch struct {
	pipe    redis.Pipeliner
	last    eventstore.Position
	applied int
	moved   bool // the in-memory state moved with the batch
}

// stageBatch builds the MULTI/EXEC of events (ApplyDecoded's first half). A rebuild stages a
// projection's next batch while Redis runs the one before (rebuildPipeline), so the two
// overlap; a batch staged must be committed, in order, before the runner goes on otherwise.
func (r *Runner) stageBatch(ctx context.Context, events []Decoded) (*stagedBatch, error) {
	if r.diverged.Load() {
		return nil, errDiverged
	}
	if r.uncertain.Load() {
		if err := r.settle(ctx); err != nil {
			return nil, err
		}
	}
	committer, _ := r.proj.(Committer)
	b := &stagedBatch{pipe: r.rdb.TxPipeline()}
	r.mu.Lock()
	cp := r.checkpoint
	if cp.Less(r.staged) {
		cp = r.staged // batches staged ahead of the checkpoint, on their way
	}
	r.mu.Unlock()
	fail := func(err error) (*stagedBatch, error) {
		if b.moved {
			r.diverged.Store(true)
		}
		return nil, err
	}
	tx := &Tx{Ctx: ctx, R: r.rdb, W: b.pipe, B: NewWritesSized(ctx, b.pipe, int(r.writes.Load())), Keys: r.keys, Exclusive: r.exclusive, build: r.build}
	for i := range events {
		e := &events[i]
		pos := e.Recorded.Position
		if !cp.Less(pos) {
			continue
		}
		b.last = pos
		fn := r.table[e.Recorded.Type]
		if fn == nil {
			continue
		}
		if !e.Decoded {
			return fail(fmt.Errorf("projections: %s at %s: %s not decoded", r.Name(), FormatPosition(pos), e.Recorded.Type))
		}
		if err := fn(tx, e.Event); err != nil {
			return fail(fmt.Errorf("projections: %s at %s: %w", r.Name(), FormatPosition(pos), err))
		}
		if committer != nil {
			// The in-memory state of a batchable projection moves per event inside the
			// batch; should the batch fail, the runner refuses to go on.
			committer.Committed(e.Event)
			b.moved = true
		}
		b.applied++
	}
	r.writes.Store(int64(tx.B.Len()) * 9 / 8)
	if err := tx.B.Flush(); err != nil {
		return fail(fmt.Errorf("projections: %s: %w", r.Name(), err))
	}
	if !b.last.IsZero() {
		b.pipe.Set(ctx, r.keys.Checkpoint(r.Name()), FormatPosition(b.last), 0)
		r.mu.Lock()
		r.staged = b.last
		r.mu.Unlock()
	}
	return b, nil
}

// commitBatch runs a staged batch's MULTI/EXEC and moves the checkpoint (ApplyDecoded's
// second half).
func (r *Runner) commitBatch(ctx context.Context, b *stagedBatch) error {
	if _, err := b.pipe.Exec(ctx); err != nil {
		r.uncertain.Store(true)
		if b.moved {
			r.diverged.Store(true)
		}
		// Nothing staged after the checkpoint was applied: a retry stages it again. (The
		// caller stages and commits in order, and stops staging at the first failure.)
		r.mu.Lock()
		r.staged = eventstore.Position{}
		r.mu.Unlock()
		return err
	}
	if !b.last.IsZero() {
		r.mu.Lock()
		r.checkpoint = b.last
		close(r.advanced)
		r.advanced = make(chan struct{})
		r.mu.Unlock()
		r.applied.Add(int64(b.applied))
	}
	return nil
}
