package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
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
		if err := rdb.SetNX(ctx, ActiveKey(prefix), gen, 0).Err(); err != nil {
			return nil, err
		}
	}
	if err := s.run(gen); err != nil {
		return nil, err
	}
	go s.follow()
	return s, nil
}

func (s *Service) run(gen int64) error {
	keys := Keys{Prefix: s.prefix, Gen: gen}
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
	s.logger.Info("projections running", "generation", gen, "count", len(runners))
	return nil
}

// follow switches to a new active generation when a rebuild made one.
func (s *Service) follow() {
	defer close(s.stopped)
	t := time.NewTicker(time.Second)
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
		if gen != s.Generation() && gen > 0 {
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
	return nil
}

// Progress reports a rebuild's advance.
type Progress func(done, total uint64, elapsed time.Duration)

// Rebuild builds every projection from the start of the log into a new generation beside the
// live one, switches the active generation when it has caught up, and deletes the old one.
// Readers keep reading the old generation until the switch; a serving Service follows it.
func Rebuild(ctx context.Context, rdb *redis.Client, store Source, reg *eventschema.Registry, factory Factory, prefix string, head eventstore.Position, progress Progress) (int64, error) {
	active, err := ActiveGeneration(ctx, rdb, prefix)
	if err != nil {
		return 0, err
	}
	next := active + 1
	keys := Keys{Prefix: prefix, Gen: next}
	deleteGeneration(ctx, rdb, keys)
	var runners []*Runner
	for _, p := range factory() {
		r := NewRunner(p, rdb, reg, keys)
		if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
			return 0, err
		}
		runners = append(runners, r)
	}
	start := time.Now()
	var done uint64
	var from, last eventstore.Position // from is inclusive: skip what was applied
	const batch = 2048
	for {
		var events []eventstore.RecordedEvent
		n := 0
		if err := store.ReadAll(ctx, from, batch, func(e eventstore.RecordedEvent) error {
			n++
			if !last.Less(e.Position) {
				return nil
			}
			last = e.Position
			if len(e.Type) > 0 && e.Type[0] == '$' {
				return nil // system events are not the projections' business
			}
			events = append(events, e)
			return nil
		}); err != nil {
			return 0, err
		}
		for _, r := range runners {
			if err := r.ApplyBatch(ctx, events); err != nil {
				return 0, fmt.Errorf("rebuild %s: %w", r.Name(), err)
			}
		}
		done += uint64(len(events))
		if progress != nil {
			progress(done, head.Commit, time.Since(start))
		}
		if n < batch {
			break
		}
		from = last
	}
	// Switch: from now on readers use the new generation; live services follow within a second.
	if err := rdb.Set(ctx, ActiveKey(prefix), strconv.FormatInt(next, 10), 0).Err(); err != nil {
		return 0, err
	}
	if active > 0 {
		deleteGeneration(ctx, rdb, Keys{Prefix: prefix, Gen: active})
	}
	return next, nil
}

func deleteGeneration(ctx context.Context, rdb *redis.Client, k Keys) {
	iter := rdb.Scan(ctx, 0, k.Generation(), 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}
