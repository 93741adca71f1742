package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

// callBound is how long any single call may take before the test calls it hung. It is a
// liveness bound (a call that never returns), far above any call's normal duration.
const callBound = 15 * time.Second

// bounded runs f and reports false if it has not returned within callBound (f keeps running:
// a hung call cannot be stopped from outside).
func bounded(f func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return true
	case <-time.After(callBound):
		return false
	}
}

// TestCallsInFlightSurviveServerRestarts: several goroutines append and read while a
// subscription follows $all, and the event store stops — long enough for the official client to
// give up discovery — and comes back on the same address and data, twice. No call panics, none
// hangs (every call returns although its context has no deadline), every failure is
// ErrUnavailable, calls succeed again after each restart, and the subscription delivers every
// acknowledged append exactly once.
func TestCallsInFlightSurviveServerRestarts(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	addr := srv.Addr()
	// Discovery gives up after 3 attempts 50 ms apart, so that an outage of a second outlasts it.
	s := testkit.StoreClient(t, srv.ConnectionString()+"&maxDiscoverAttempts=3&discoveryInterval=50")

	col := &collector{seen: make(chan struct{}, 1)}
	subCtx, cancelSub := context.WithCancel(context.Background())
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.SubscribeAll(subCtx, eventstore.SubscribeOptions{MaxBackoff: 100 * time.Millisecond}, col.handle)
	}()

	var (
		mu      sync.Mutex
		acked   = map[string]bool{} // event data of every acknowledged append
		okCalls atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
	}
	check := func(op string, err error) {
		switch {
		case err == nil:
			okCalls.Add(1)
		case !errors.Is(err, eventstore.ErrUnavailable):
			fail("%s failed with %v, want nil or ErrUnavailable", op, err)
		}
	}
	ctx := context.Background() // no deadline: the adapter must bound the calls itself
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("w-%d", w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := event("E", w*100000+i)
				var err error
				var op string
				if !bounded(func() {
					switch i % 3 {
					case 0, 1:
						op = "append"
						_, err = s.Append(ctx, stream, eventstore.Any(), ev)
						if err == nil {
							mu.Lock()
							acked[string(ev.Data)] = true
							mu.Unlock()
						}
					default:
						if w%2 == 0 {
							op = "read stream"
							err = s.ReadStream(ctx, stream, 0, 1000, func(eventstore.RecordedEvent) error { return nil })
							if errors.Is(err, eventstore.ErrStreamNotFound) {
								err = nil
							}
						} else {
							op = "last position"
							_, err = s.LastPosition(ctx)
						}
					}
				}) {
					fail("worker %d: %s hung", w, op)
					return
				}
				check(op, err)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	waitOK := func(what string) {
		t.Helper()
		from := okCalls.Load()
		deadline := time.Now().Add(callBound)
		for okCalls.Load() < from+10 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: calls do not succeed", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOK("before the first outage")
	for round := range 2 {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // discovery (3 attempts, 50 ms apart, refused at once) gives up
		srv = testkit.StartEventStoreIn(t, dir, addr)
		waitOK(fmt.Sprintf("after restart %d", round+1))
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	want := len(acked)
	mu.Unlock()
	got := col.waitFor(t, want)
	time.Sleep(200 * time.Millisecond) // anything delivered twice would show up now
	col.mu.Lock()
	got = append(got[:0], col.events...)
	col.mu.Unlock()
	seen := map[string]bool{}
	for i, e := range got {
		if seen[string(e.Data)] {
			t.Fatalf("event %s delivered twice", e.Data)
		}
		seen[string(e.Data)] = true
		if i > 0 && !got[i-1].Position.Less(e.Position) {
			t.Fatalf("positions not increasing at %d", i)
		}
	}
	mu.Lock()
	for d := range acked {
		if !seen[d] {
			t.Errorf("acknowledged append %s not delivered", d)
		}
	}
	mu.Unlock()
	cancelSub()
	if !bounded(func() {
		if err := <-subDone; !errors.Is(err, context.Canceled) {
			t.Errorf("SubscribeAll returned %v after cancel", err)
		}
	}) {
		t.Fatal("SubscribeAll did not return after cancel")
	}
}
