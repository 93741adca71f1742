package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// Factory makes fresh projection instances (a rebuild needs new in-memory state).
type Factory func() []Projection

// Service runs the live projections of the active generation and follows a switch of the
// active generation made by a rebuild (in this process or another).
type Service struct {
	rdb     redis.UniversalClient
	store   Source
	reg     *eventschema.Registry
	factory Factory
	prefix  string
	logger  *slog.Logger

	mu      sync.Mutex
	gen     int64
	runners []*Runner
	// reads are the generations the service may read (its lease, readers.go): gen, and during
	// a switch the next one.
	reads []int64
	lease *lease
	// serving is set once the runners of the current start have reached the log's head as it
	// was when they started; epoch tells a start's catch-up from an earlier one's.
	serving atomic.Bool
	epoch   atomic.Int64
	router  *message.Router
	cancel  context.CancelFunc
	done    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// Start runs the projections of the active generation (generation 1 on an empty Redis) from
// their checkpoints.
func Start(ctx context.Context, rdb redis.UniversalClient, store Source, reg *eventschema.Registry, factory Factory, prefix string, logger *slog.Logger) (*Service, error) {
	s := &Service{rdb: rdb, store: store, reg: reg, factory: factory, prefix: prefix, logger: logger,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	gen, err := ActiveGeneration(ctx, rdb, prefix)
	if err != nil {
		return nil, fmt.Errorf("projections: read the active generation: %w", err)
	}
	if gen == 0 {
		gen = 1
		if err := activate(ctx, rdb, prefix, gen); err != nil {
			return nil, err
		}
	}
	// The lease is kept from before the first run: the runners' start may replay the log for
	// longer than a lease lasts.
	s.lease = newLease(rdb, prefix, s.readGenerations)
	go s.lease.keep()
	if err := s.run(gen); err != nil {
		s.lease.close()
		return nil, err
	}
	go s.follow()
	return s, nil
}

// readGenerations are the generations the service may read now (its lease).
func (s *Service) readGenerations() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reads)
}

// announce sets the generations the service may read and renews its lease with them at once.
func (s *Service) announce(gens ...int64) error {
	s.mu.Lock()
	s.reads = gens
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), servingLease)
	defer cancel()
	return s.lease.renew(ctx)
}

func (s *Service) run(gen int64) error {
	keys := Keys{Prefix: s.prefix, Gen: gen}
	// Until the switch below, requests still read the current generation: the lease names both,
	// so that a rebuild does not delete the current one under them.
	reads := []int64{gen}
	if cur := s.Generation(); cur != 0 && cur != gen {
		reads = []int64{cur, gen}
	}
	if err := s.announce(reads...); err != nil {
		return err
	}
	var runners []*Runner
	for _, p := range s.factory() {
		runners = append(runners, NewRunner(p, s.rdb, s.reg, keys))
	}
	router, err := NewRouter(s.rdb, s.store, runners, s.prefix, s.logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := router.Run(ctx); err != nil {
			s.logger.Error("projection router stopped", "error", err)
		}
	}()
	select {
	case <-router.Running():
	case <-done:
		cancel()
		return errors.New("projections: the router did not start")
	}
	s.mu.Lock()
	old := s.cancel
	oldDone := s.done
	s.gen, s.runners, s.router, s.cancel, s.done = gen, runners, router, cancel, done
	s.mu.Unlock()
	if old != nil {
		old()
		<-oldDone
	}
	if err := s.announce(gen); err != nil {
		// The lease keeps naming the old generation until the next renewal: a rebuild waits.
		s.logger.Warn("could not announce the switch of generation", "generation", gen, "error", err)
	}
	s.logger.Info("projections running", "generation", gen, "count", len(runners))
	s.catchUp(runners)
	return nil
}

// rebuildGCPercent is the GC target while a rebuild runs (GOGC; the default is 100).
const rebuildGCPercent = 400

// ErrRebuilding: the read models are being (re)built from the log and do not yet reflect it.
var ErrRebuilding = errors.New("projections: the read models are being rebuilt from the log")

// Serving tells whether the read models may be read: nil once the runners have caught up with
// the log as it was when they started (at start, after a generation switch, after a flush).
func (s *Service) Serving() error {
	if s.serving.Load() {
		return nil
	}
	return ErrRebuilding
}

// Epoch counts the times the service started (re)building its read models: at start, after a
// generation switch, after they vanished. A reader that saw the same epoch before and after its
// reads read one build of them.
func (s *Service) Epoch() uint64 { return uint64(s.epoch.Load()) }

// headSource is a store that tells the log's head (the eventstore client does).
type headSource interface {
	LastPosition(ctx context.Context) (eventstore.Position, error)
}

// catchUp marks the service serving once every runner has applied the head of the log as of now.
func (s *Service) catchUp(runners []*Runner) {
	ep := s.epoch.Add(1)
	s.serving.Store(false)
	hs, ok := s.store.(headSource)
	if !ok {
		s.serving.Store(true)
		return
	}
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		var head eventstore.Position
		for {
			h, err := hs.LastPosition(ctx)
			if err == nil {
				head = h
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		for _, r := range runners {
			if err := r.WaitFor(ctx, head); err != nil {
				return
			}
		}
		if s.epoch.Load() == ep {
			s.serving.Store(true)
			s.logger.Info("read models caught up with the log", "head", head.String())
		}
	}()
}

// restart stops the runners, deletes what is left of generation gen, and runs it again from
// the start of the log: the read models vanished from Redis (flushed, or restarted empty).
func (s *Service) restart(gen int64) error {
	s.serving.Store(false)
	s.epoch.Add(1)
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	ctx := context.Background()
	if c, ok := s.rdb.(*redis.Client); ok {
		if err := deleteGeneration(ctx, c, Keys{Prefix: s.prefix, Gen: gen}); err != nil {
			return fmt.Errorf("projections: delete what is left of generation %d: %w", gen, err)
		}
	}
	if err := activate(ctx, s.rdb, s.prefix, gen); err != nil {
		return err
	}
	return s.run(gen)
}

// activate makes gen the active generation of a store that has none (an empty Redis, or one
// whose keys vanished), unless another service or a rebuild has just made one. The service
// that makes it also records gen as started (StartedKey) when nothing is recorded: no rebuild
// has started a generation above it, so the first rebuild's claimGeneration need not SCAN the
// whole keyspace for leftovers (a fifth of a first rebuild's time beside a live generation of
// 640,000 keys). Two commands, not one script: the keys may live on different cluster nodes,
// and a service stopped between them leaves nothing recorded, which only costs that SCAN.
func activate(ctx context.Context, rdb redis.UniversalClient, prefix string, gen int64) error {
	made, err := rdb.SetNX(ctx, ActiveKey(prefix), gen, 0).Result()
	if err != nil {
		return fmt.Errorf("projections: make generation %d active: %w", gen, err)
	}
	if made {
		if err := rdb.SetNX(ctx, StartedKey(prefix), gen, 0).Err(); err != nil {
			return fmt.Errorf("projections: record generation %d as started: %w", gen, err)
		}
	}
	return nil
}

// followEvery is how often the service looks at the active generation.
const followEvery = 250 * time.Millisecond

// follow switches to a new active generation when a rebuild made one, and rebuilds the read
// models from the log when they vanished from Redis (the active generation's key is gone: a
// flush, or a Redis restarted without its data).
func (s *Service) follow() {
	defer close(s.stopped)
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		gen, err := ActiveGeneration(context.Background(), s.rdb, s.prefix)
		if err != nil {
			continue
		}
		switch cur := s.Generation(); {
		case gen == 0:
			s.logger.Warn("the read models vanished from Redis (flushed or restarted empty): rebuilding them from the log", "generation", cur)
			if err := s.restart(cur); err != nil {
				s.logger.Error("rebuilding the vanished read models failed", "generation", cur, "error", err)
			}
		case gen != cur:
			if err := s.run(gen); err != nil {
				s.logger.Error("switch to the rebuilt generation failed", "generation", gen, "error", err)
			}
		}
	}
}

// Generation is the generation being served.
func (s *Service) Generation() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Runners are the live runners.
func (s *Service) Runners() []*Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runners
}

// Keys is the layout of the live generation.
func (s *Service) Keys() Keys { return Keys{Prefix: s.prefix, Gen: s.Generation()} }

// WaitFor blocks until every live projection has applied p (read-your-writes).
func (s *Service) WaitFor(ctx context.Context, p eventstore.Position) error {
	for _, r := range s.Runners() {
		if err := r.WaitFor(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the projections.
func (s *Service) Close() error {
	close(s.stop)
	<-s.stopped
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	s.lease.close()
	return nil
}

// Progress reports a rebuild's advance.
type Progress func(done, total uint64, elapsed time.Duration)

// Rebuilt is what a rebuild did.
type Rebuilt struct {
	// Generation is the generation built, now the active one; Previous the one it replaced
	// (0: none), which DropPrevious deletes.
	Generation, Previous int64
	// Built is the time from the start to the switch.
	Built time.Duration

	rdb    *redis.Client
	prefix string
}

// Rebuild builds every projection from the start of the log into a new generation beside the
// live one and switches the active generation when it has caught up; Rebuilt.DropPrevious then
// deletes the old one once no serving Service reads it any more (readers.go). Readers keep
// reading the old generation until the switch; a serving Service follows it.
// It holds the rebuild lock throughout (ErrRebuildRunning when another rebuild has it), so
// that its projections build the generation alone (Tx.Exclusive).
//
// It is a pipeline: one goroutine reads the log in pages, another decodes each event once for
// every projection, and each projection applies the pages in order (one MULTI/EXEC per page
// and projection, with the projection's checkpoint), staging a page's transaction in one
// goroutine while another sends the one before, so that reading, decoding, the projections'
// work and Redis's overlap. Any error stops the rebuild before the switch.
func Rebuild(ctx context.Context, rdb *redis.Client, store Source, reg *eventschema.Registry, factory Factory, prefix string, head eventstore.Position, progress Progress) (Rebuilt, error) {
	start := time.Now()
	// A rebuild allocates fast and keeps little: collecting garbage less often (the heap may grow
	// to five times what is live: the pages in flight and the projections' state) is a fifth of its
	// CPU back.
	defer debug.SetGCPercent(debug.SetGCPercent(rebuildGCPercent))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lock, err := lockRebuild(ctx, rdb, prefix, cancel)
	if err != nil {
		return Rebuilt{}, err
	}
	defer lock.release()
	active, err := ActiveGeneration(ctx, rdb, prefix)
	if err != nil {
		return Rebuilt{}, err
	}
	next := active + 1
	keys := Keys{Prefix: prefix, Gen: next}
	if err := claimGeneration(ctx, rdb, prefix, next); err != nil {
		return Rebuilt{}, err
	}
	var runners []*Runner
	for _, p := range factory() {
		r := NewRunner(p, rdb, reg, keys)
		r.UseSource(store)
		r.exclusive = true
		if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
			return Rebuilt{}, err
		}
		runners = append(runners, r)
	}
	if err := rebuildPipeline(ctx, store, reg, runners, head, progress); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return Rebuilt{}, cause
		}
		return Rebuilt{}, err
	}
	if err := lock.holds(ctx); err != nil {
		return Rebuilt{}, err
	}
	// Switch: from now on readers use the new generation; live services follow within a second.
	if err := rdb.Set(ctx, ActiveKey(prefix), strconv.FormatInt(next, 10), 0).Err(); err != nil {
		return Rebuilt{}, err
	}
	res := Rebuilt{Generation: next, Previous: active, Built: time.Since(start), rdb: rdb, prefix: prefix}
	if active > 0 {
		// Stale until DropPrevious deletes it: should that never happen, the next rebuild does.
		if err := rdb.SAdd(ctx, StaleKey(prefix), active).Err(); err != nil {
			return res, fmt.Errorf("projections: list generation %d as stale: %w", active, err)
		}
	}
	return res, nil
}

// DropPrevious deletes the generation the rebuild replaced once no serving Service reads it any
// more (readers.go), and tells whether it did: it does not when one still reads it after two
// minutes (a stuck server) or ctx ends first; the generation then stays listed as stale, and the
// next rebuild's DropPrevious deletes it once nobody reads it — as it does here with those that
// earlier rebuilds left.
func (r Rebuilt) DropPrevious(ctx context.Context) (bool, error) {
	if r.Previous == 0 {
		return false, dropStale(ctx, r.rdb, r.prefix, r.Generation)
	}
	dropped, err := dropWhenUnread(ctx, r.rdb, r.prefix, r.Previous)
	if dropped {
		r.rdb.SRem(ctx, StaleKey(r.prefix), r.Previous)
	}
	if err != nil {
		return dropped, err
	}
	return dropped, dropStale(ctx, r.rdb, r.prefix, r.Generation)
}

// rebuildBatch is the number of events a rebuild reads at once and applies per transaction.
// The larger the batch, the more of its writes on one key combine (a tenant's ticket index, a
// ticket's record): 16,384 rather than 4,096 took 10-12% off Redis's CPU per event. Up to
// seven pages are in memory at once (rebuildQueue in each queue, one staged and one being
// sent per projection), about 300 MB at this size.
var rebuildBatch = 16384 // a variable for the tests of small pages

// rebuildQueue is the capacity of the queues between the rebuild's stages, in pages.
const rebuildQueue = 2

func rebuildPipeline(ctx context.Context, store Source, reg *eventschema.Registry, runners []*Runner, head eventstore.Position, progress Progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	send := func(ch chan<- []Decoded, b []Decoded) bool {
		select {
		case ch <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}

	// Read: pages of the log, system events left out.
	pages := make(chan []Decoded, rebuildQueue)
	wg.Go(func() {
		defer close(pages)
		var from, last eventstore.Position // from is inclusive: skip what was read
		for {
			events := make([]Decoded, 0, rebuildBatch)
			n := 0
			if err := store.ReadAll(ctx, from, uint64(rebuildBatch), func(e eventstore.RecordedEvent) error {
				n++
				if !last.Less(e.Position) {
					return nil
				}
				last = e.Position
				if len(e.Type) > 0 && e.Type[0] == '$' {
					return nil // system events are not the projections' business
				}
				events = append(events, Decoded{Recorded: e})
				return nil
			}); err != nil {
				fail(err)
				return
			}
			if len(events) > 0 && !send(pages, events) {
				return
			}
			if n < rebuildBatch {
				return
			}
			from = last
		}
	})

	// Decode: once per event, for every projection that applies its type in batches.
	wanted := func(typ string) bool {
		for _, r := range runners {
			if r.Batchable() && r.Wants(typ) {
				return true
			}
		}
		return false
	}
	feeds := make([]chan []Decoded, len(runners))
	for i := range feeds {
		feeds[i] = make(chan []Decoded, rebuildQueue)
	}
	wg.Go(func() {
		defer func() {
			for _, f := range feeds {
				close(f)
			}
		}()
		for page := range pages {
			for i := range page {
				e := &page[i]
				if !wanted(e.Recorded.Type) {
					continue
				}
				ev, err := Decode(reg, e.Recorded)
				if err != nil {
					fail(fmt.Errorf("rebuild: decode %s at %s: %w", e.Recorded.Type, FormatPosition(e.Recorded.Position), err))
					return
				}
				e.Event, e.Decoded = ev, true
			}
			for _, f := range feeds {
				if !send(f, page) {
					return
				}
			}
		}
	})

	// Apply: each projection in its own goroutine, pages in order.
	type applied struct {
		runner int
		events uint64
	}
	done := make(chan applied, 16*len(runners))
	var appliers sync.WaitGroup
	report := func(i, n int) bool {
		select {
		case done <- applied{i, uint64(n)}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for i, r := range runners {
		if !r.Batchable() {
			appliers.Go(func() {
				for page := range feeds[i] {
					if err := r.ApplyDecoded(ctx, page); err != nil {
						fail(fmt.Errorf("rebuild %s: %w", r.Name(), err))
						return
					}
					if !report(i, len(page)) {
						return
					}
				}
			})
			continue
		}
		// A batchable projection stages its next page's transaction while Redis runs the one
		// before: one goroutine builds, another sends, in order.
		type staged struct {
			b *stagedBatch
			n int
		}
		ready := make(chan staged, 1)
		appliers.Go(func() {
			defer close(ready)
			for page := range feeds[i] {
				b, err := r.stageBatch(ctx, page)
				if err != nil {
					fail(fmt.Errorf("rebuild %s: %w", r.Name(), err))
					return
				}
				select {
				case ready <- staged{b, len(page)}:
				case <-ctx.Done():
					return
				}
			}
		})
		appliers.Go(func() {
			for s := range ready {
				if err := r.commitBatch(ctx, s.b); err != nil {
					fail(fmt.Errorf("rebuild %s: %w", r.Name(), err))
					return
				}
				if !report(i, s.n) {
					return
				}
			}
		})
	}
	go func() { appliers.Wait(); close(done) }()

	start := time.Now()
	counts := make([]uint64, len(runners))
	var reported uint64
	for a := range done {
		counts[a.runner] += a.events
		least := counts[0]
		for _, c := range counts[1:] {
			least = min(least, c)
		}
		if progress != nil && least > reported {
			reported = least
			progress(least, head.Commit, time.Since(start))
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// claimGeneration makes sure generation gen is empty before a rebuild writes into it, and
// records that a rebuild has started it. Only a rebuild killed mid-way leaves keys in a
// generation that was never active, and every rebuild records the generation it starts
// (StartedKey) before writing into it; so a generation above the one recorded has no keys,
// and only one at or below it (or any, when nothing is recorded: a store written before this
// record existed) must be searched for leftovers. That search is a SCAN of the whole keyspace,
// the live generation's keys included, which cost Redis a sixth of its time in a rebuild.
func claimGeneration(ctx context.Context, rdb *redis.Client, prefix string, gen int64) error {
	started, err := rdb.Get(ctx, StartedKey(prefix)).Int64()
	if errors.Is(err, redis.Nil) || (err == nil && started >= gen) {
		if err := deleteGeneration(ctx, rdb, Keys{Prefix: prefix, Gen: gen}); err != nil {
			return fmt.Errorf("projections: delete what a rebuild of generation %d left: %w", gen, err)
		}
	} else if err != nil {
		return fmt.Errorf("projections: read %s: %w", StartedKey(prefix), err)
	}
	if err := rdb.Set(ctx, StartedKey(prefix), gen, 0).Err(); err != nil {
		return fmt.Errorf("projections: record generation %d as started: %w", gen, err)
	}
	return nil
}

// deleteGeneration deletes every key of generation k.Gen.
func deleteGeneration(ctx context.Context, rdb *redis.Client, k Keys) error {
	iter := rdb.Scan(ctx, 0, k.Generation(), 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}
