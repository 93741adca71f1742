// Package benchkit is the measuring kit of `portald bench`: a load generator that records every
// operation's latency (closed loop, or open loop at a fixed rate), CPU time per operation from
// getrusage and from Redis's INFO cpu, the machine's ceilings (fsync/s on a filesystem, a
// trivial Gin handler doing one Redis GET), Redis memory by kind of key, machine information,
// and a report printed as tables or JSON.
//
// It measures; it decides nothing about the service. Every figure it returns carries the
// number of operations it is computed from, so that a reader can tell a figure from noise.
package benchkit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Op is one operation of a load run: worker is the client (0 ≤ worker < Clients), seq a number
// unique to the operation within the run (warm-up operations included). A non-nil error counts
// the operation as failed; its latency is not recorded.
type Op func(ctx context.Context, worker, seq int) error

// Options shape a load run.
type Options struct {
	// Clients is the number of concurrent clients (default 1).
	Clients int
	// Duration is how long operations are started (default 1 s); the run then waits for the
	// operations in flight.
	Duration time.Duration
	// Warmup operations per client are run before the measurement and not counted.
	Warmup int
	// Rate, when positive, runs an open loop: operation i is due at start + i/Rate whatever
	// happened before, and is taken by the next free client. Otherwise every client sends its
	// next operation as soon as the previous one answered (closed loop).
	Rate float64
	// Redis, when set, is asked for its CPU time (INFO cpu) before and after the run.
	Redis *redis.Client
}

// Result is what a load run measured. Latencies are of the successful operations.
type Result struct {
	Ops        int           `json:"ops"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	// PerSecond is successful operations per second of Elapsed.
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	// CPUPerOp is this process's CPU time (user + system) per operation; RedisCPUPerOp the
	// Redis server's (zero without Options.Redis). Both count every operation, failed ones too.
	CPUPerOp      time.Duration `json:"cpu_per_op_ns"`
	RedisCPUPerOp time.Duration `json:"redis_cpu_per_op_ns"`
	// RedisMeasured says whether RedisCPUPerOp was measured.
	RedisMeasured bool `json:"redis_measured"`
	// Behind is, in an open loop, the longest an operation waited past its due time for a
	// free client (the load generator could not keep the rate when it is large).
	Behind time.Duration `json:"behind_ns,omitempty"`
}

// Run drives op from opts.Clients goroutines for opts.Duration and measures each operation.
// It returns early, with what it measured, when ctx ends.
func Run(ctx context.Context, opts Options, op Op) Result {
	clients := max(opts.Clients, 1)
	d := opts.Duration
	if d <= 0 {
		d = time.Second
	}
	var seq atomic.Int64
	next := func() int { return int(seq.Add(1) - 1) }

	var firstErr atomic.Pointer[string]
	var errCount atomic.Int64
	fail := func(err error) {
		errCount.Add(1)
		s := err.Error()
		firstErr.CompareAndSwap(nil, &s)
	}

	if opts.Warmup > 0 {
		var wg sync.WaitGroup
		for w := range clients {
			wg.Go(func() {
				for range opts.Warmup {
					if ctx.Err() != nil {
						return
					}
					_ = op(ctx, w, next())
				}
			})
		}
		wg.Wait()
	}

	lat := make([][]time.Duration, clients)
	var behind atomic.Int64
	cpu0 := ProcessCPU()
	rcpu0, _ := RedisCPU(ctx, opts.Redis)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	if opts.Rate > 0 {
		interval := time.Duration(float64(time.Second) / opts.Rate)
		due := make(chan time.Time, clients)
		for w := range clients {
			wg.Go(func() {
				for at := range due {
					if late := time.Since(at); late > time.Duration(behind.Load()) {
						behind.Store(int64(late))
					}
					t0 := time.Now()
					if err := op(ctx, w, next()); err != nil {
						fail(err)
						continue
					}
					lat[w] = append(lat[w], time.Since(t0))
				}
			})
		}
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(deadline) || ctx.Err() != nil {
				break
			}
			if wait := time.Until(at); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
			select {
			case due <- at:
			case <-ctx.Done():
			}
		}
		close(due)
	} else {
		for w := range clients {
			wg.Go(func() {
				for time.Now().Before(deadline) && ctx.Err() == nil {
					t0 := time.Now()
					if err := op(ctx, w, next()); err != nil {
						fail(err)
						continue
					}
					lat[w] = append(lat[w], time.Since(t0))
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := ProcessCPU() - cpu0
	rcpu1, rerr := RedisCPU(context.WithoutCancel(ctx), opts.Redis)

	all := Merge(lat...)
	r := Result{Ops: len(all), Errors: int(errCount.Load()), Elapsed: elapsed, Behind: time.Duration(behind.Load())}
	if p := firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	if elapsed > 0 {
		r.PerSecond = float64(r.Ops) / elapsed.Seconds()
	}
	r.P50, r.P99, r.Max = Percentile(all, 0.50), Percentile(all, 0.99), Percentile(all, 1)
	if n := r.Ops + r.Errors; n > 0 {
		r.CPUPerOp = cpu / time.Duration(n)
		if opts.Redis != nil && rerr == nil && rcpu0 > 0 {
			r.RedisCPUPerOp = (rcpu1 - rcpu0) / time.Duration(n)
			r.RedisMeasured = true
		}
	}
	return r
}

// Err is the run's failure as an error: none when every operation succeeded.
func (r Result) Err() error {
	if r.Errors == 0 {
		if r.Ops == 0 {
			return errors.New("no operation completed")
		}
		return nil
	}
	return &OpsError{Failed: r.Errors, Total: r.Ops + r.Errors, First: r.FirstError}
}

// OpsError reports failed operations of a run.
type OpsError struct {
	Failed, Total int
	First         string
}

func (e *OpsError) Error() string {
	return fmt.Sprintf("%d of %d operations failed (first: %s)", e.Failed, e.Total, e.First)
}

// Merge concatenates latency samples and sorts them.
func Merge(parts ...[]time.Duration) []time.Duration {
	all := slices.Concat(parts...)
	slices.Sort(all)
	return all
}

// Percentile is the nearest-rank percentile q (0 < q ≤ 1) of sorted samples; zero when empty.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*q+0.999999999) - 1 // ceil(n·q) - 1
	return sorted[min(max(i, 0), n-1)]
}

// Samples collects latencies from many goroutines.
type Samples struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one sample.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Sorted returns a sorted copy of the samples.
func (s *Samples) Sorted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Merge(s.d)
}
