package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

func tctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func event(typ string, i int) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: fmt.Appendf(nil, `{"i":%d}`, i), Metadata: []byte(`{"tenant":"t1"}`)}
}

func TestAppendConflictIsTyped(t *testing.T) {
	srv := testkit.StartEventStore(t)
	s := testkit.StoreClient(t, srv.ConnectionString())
	res, err := s.Append(tctx(t), "tenant-1", eventstore.NoStream(), event("TenantConfigured", 0))
	if err != nil {
		t.Fatal(err)
	}
	if res.NextRevision != 0 || res.Position.IsZero() {
		t.Fatalf("append result %+v", res)
	}
	_, err = s.Append(tctx(t), "tenant-1", eventstore.NoStream(), event("TenantConfigured", 1))
	var ce *eventstore.ConflictError
	if !errors.Is(err, eventstore.ErrConflict) || !errors.As(err, &ce) || ce.Stream != "tenant-1" {
		t.Fatalf("second no-stream append: %v, want a ConflictError", err)
	}
	res2, err := s.Append(tctx(t), "tenant-1", eventstore.AtRevision(0), event("SeatsChanged", 2))
	if err != nil || res2.NextRevision != 1 || !res.Position.Less(res2.Position) {
		t.Fatalf("append at revision 0: %v %+v", err, res2)
	}
	if _, err := s.Append(tctx(t), "tenant-1", eventstore.AtRevision(0), event("SeatsChanged", 3)); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("stale revision: %v", err)
	}
}

func TestIdempotentRetry(t *testing.T) {
	srv := testkit.StartEventStore(t)
	s := testkit.StoreClient(t, srv.ConnectionString())
	batch := []eventstore.EventData{event("A", 0), event("B", 1)}
	first, err := s.Append(tctx(t), "c-1", eventstore.NoStream(), batch...)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(tctx(t), "c-1", eventstore.NoStream(), batch...)
	if err != nil || again != first {
		t.Fatalf("retry: %v %+v vs %+v", err, again, first)
	}
	n := 0
	if err := s.ReadStream(tctx(t), "c-1", 0, 100, func(eventstore.RecordedEvent) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("stream holds %d events (%v), want 2", n, err)
	}
}

func TestReadStreamAndAll(t *testing.T) {
	srv := testkit.StartEventStore(t)
	s := testkit.StoreClient(t, srv.ConnectionString())
	if err := s.ReadStream(tctx(t), "missing", 0, 10, func(eventstore.RecordedEvent) error { return nil }); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("missing stream: %v", err)
	}
	var last eventstore.AppendResult
	for i := range 5 {
		r, err := s.Append(tctx(t), "s", eventstore.Any(), event("E", i))
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	var revs []uint64
	if err := s.ReadStream(tctx(t), "s", 2, 10, func(e eventstore.RecordedEvent) error {
		revs = append(revs, e.Revision)
		if string(e.Metadata) != `{"tenant":"t1"}` || e.Stream != "s" || e.Created.IsZero() {
			t.Errorf("event %+v", e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(revs) != "[2 3 4]" {
		t.Fatalf("revisions from 2: %v", revs)
	}
	stop := errors.New("stop")
	n := 0
	err := s.ReadAll(tctx(t), eventstore.Position{}, 100, func(e eventstore.RecordedEvent) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("ReadAll does not pass the callback's error through: %v after %d", err, n)
	}
	head, err := s.LastPosition(tctx(t))
	if err != nil || head != last.Position {
		t.Fatalf("last position %v (%v), want %v", head, err, last.Position)
	}
}

// collector records what a subscription delivers.
type collector struct {
	mu     sync.Mutex
	events []eventstore.RecordedEvent
	seen   chan struct{}
}

func (c *collector) handle(_ context.Context, e eventstore.RecordedEvent) error {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.seen <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []eventstore.RecordedEvent {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := append([]eventstore.RecordedEvent(nil), c.events...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("subscription delivered %d events, want %d", len(got), n)
		}
	}
}

func TestSubscribeAllResumesAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	addr := srv.Addr()
	s := testkit.StoreClient(t, srv.ConnectionString())
	for i := range 10 {
		if _, err := s.Append(tctx(t), "s", eventstore.Any(), event("E", i)); err != nil {
			t.Fatal(err)
		}
	}
	col := &collector{seen: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var dropped sync.WaitGroup
	dropped.Add(1)
	var once sync.Once
	go func() {
		done <- s.SubscribeAll(ctx, eventstore.SubscribeOptions{
			MaxBackoff: 200 * time.Millisecond,
			OnDropped:  func(error) { once.Do(dropped.Done) },
		}, col.handle)
	}()
	col.waitFor(t, 10)

	// Cut the connection: stop the server, restart it on the same address and data.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	dropped.Wait()
	srv2 := testkit.StartEventStoreIn(t, dir, addr)
	w := testkit.StoreClient(t, srv2.ConnectionString())
	for i := 10; i < 20; i++ {
		if _, err := w.Append(tctx(t), "s", eventstore.Any(), event("E", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := col.waitFor(t, 20)
	time.Sleep(200 * time.Millisecond) // anything delivered twice would show up now
	col.mu.Lock()
	got = append(got[:0], col.events...)
	col.mu.Unlock()
	if len(got) != 20 {
		t.Fatalf("delivered %d events, want exactly 20", len(got))
	}
	for i, e := range got {
		if string(e.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %d has data %s", i, e.Data)
		}
		if i > 0 && !got[i-1].Position.Less(e.Position) {
			t.Fatalf("positions not increasing at %d", i)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SubscribeAll returned %v after cancel", err)
	}
}

func TestSubscribeAllFromCheckpointSkipsSystemEventsAndStopsOnHandlerError(t *testing.T) {
	srv := testkit.StartEventStore(t)
	s := testkit.StoreClient(t, srv.ConnectionString())
	var positions []eventstore.Position
	for i := range 6 {
		r, err := s.Append(tctx(t), fmt.Sprintf("s-%d", i), eventstore.Any(), event("E", i))
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, r.Position)
	}
	// Soft-deleting a stream writes a $metadata system event into $all.
	if _, err := srv.Log().Delete(tctx(t), "s-0", eventlogAny()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(tctx(t), "s-9", eventstore.Any(), event("E", 6)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("projection failed")
	var got []int
	err := s.SubscribeAll(tctx(t), eventstore.SubscribeOptions{After: positions[2]}, func(_ context.Context, e eventstore.RecordedEvent) error {
		if e.Type[0] == '$' {
			t.Errorf("system event %s delivered", e.Type)
		}
		var i int
		fmt.Sscanf(string(e.Data), `{"i":%d}`, &i)
		got = append(got, i)
		if i == 6 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("SubscribeAll returned %v, want the handler's error", err)
	}
	if fmt.Sprint(got) != "[3 4 5 6]" {
		t.Fatalf("delivered %v, want [3 4 5 6]", got)
	}
}
