package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portal-access/backend/internal/esdbserver"
)

// These tests look inside the Client (its official clients and their references), so they are
// in the package; testkit, which imports the package, is out of reach: they start the embedded
// server themselves.

// liveness bounds every wait of these tests: a call still running after it is hung.
const liveness = 15 * time.Second

func startServer(t *testing.T, dir, addr string) *esdbserver.Server {
	t.Helper()
	srv, err := esdbserver.Start(esdbserver.Config{DataDir: dir, Listen: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// connectTracked connects to url and records every official client the Client makes.
func connectTracked(t *testing.T, url string) (*Client, func() []*conn) {
	t.Helper()
	c, err := Connect(url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var made []*conn
	c.onConn = func(cn *conn) { made = append(made, cn) } // under c.mu
	return c, func() []*conn {
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]*conn(nil), made...)
	}
}

// state reads cn's bookkeeping.
func (c *Client) state(cn *conn) (refs int, retired, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cn.refs, cn.retired, cn.closed
}

func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func anEvent(i int) EventData {
	return EventData{ID: uuid.New(), Type: "E", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
}

// within runs f and fails the test if f has not returned within the liveness bound.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(liveness):
		t.Fatalf("%s did not return", what)
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetiredClientIsClosedAfterItsLastCall: when a call finds the connection broken, the
// official client is retired — the next call gets a new one, never it — but it is closed only
// once the calls still using it have returned: a read in flight on it reads to its end.
func TestRetiredClientIsClosedAfterItsLastCall(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	c, made := connectTracked(t, srv.ConnectionString())
	ctx := context.Background()
	const n = 300 // far more than the read's buffer: most are read after the retirement
	for i := range n {
		if _, err := c.Append(ctx, "s", Any(), anEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	a := c.current()
	if a == nil || len(made()) != 1 {
		t.Fatalf("after the appends: current %v, %d clients made", a, len(made()))
	}

	// A read of a that stops at its first event until the test lets it go on.
	entered, proceed := make(chan struct{}), make(chan struct{})
	var got []int
	readDone := make(chan error, 1)
	go func() {
		readDone <- c.ReadStream(ctx, "s", 0, n, func(e RecordedEvent) error {
			var i int
			fmt.Sscanf(string(e.Data), `{"i":%d}`, &i)
			got = append(got, i)
			if len(got) == 1 {
				close(entered)
				<-proceed
			}
			return nil
		})
	}()
	<-entered

	// Another call of a fails with the connection.
	c.observe(a, fmt.Errorf("append: %w", status.Error(codes.Unavailable, "connection lost (test)")))
	if refs, retired, closed := c.state(a); !retired || closed || refs == 0 {
		t.Fatalf("after a failure while a read is in flight: refs %d, retired %v, closed %v; want retired, open, referenced", refs, retired, closed)
	}
	if _, err := c.Append(ctx, "t", Any(), anEvent(0)); err != nil {
		t.Fatal(err)
	}
	b := c.current()
	if b == nil || b == a || len(made()) != 2 || made()[1] != b {
		t.Fatalf("the call after the retirement did not get a new client")
	}
	if _, _, closed := c.state(a); closed {
		t.Fatal("the retired client was closed while a read was in flight on it")
	}

	close(proceed)
	var err error
	within(t, "the read", func() { err = <-readDone })
	if err != nil || len(got) != n {
		t.Fatalf("the read in flight on the retired client: %v after %d events, want all %d", err, len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d has i=%d", i, v)
		}
	}
	eventually(t, "the retired client is closed after its last call", func() bool {
		refs, _, closed := c.state(a)
		return closed && refs == 0
	})
	// Closed for good: the official client says so at once (without a hand-off).
	var e *esdb.Error
	if _, err := a.cl.GetServerVersion(); !errors.As(err, &e) || e.Code() != esdb.ErrorCodeConnectionClosed {
		t.Fatalf("the retired official client after its last call: %v, want connection closed", err)
	}
	if refs, retired, closed := c.state(b); refs != 0 || retired || closed {
		t.Fatalf("the current client: refs %d, retired %v, closed %v", refs, retired, closed)
	}
}

// TestGivenUpClientIsNeverReused: while the event store is gone, each call fails with
// ErrUnavailable, promptly although its context has no deadline. A client that gave up
// discovery is closed and never used again, and a call that was blocked inside one (the official
// client's hand-off, which ignores contexts) returns ErrUnavailable too. Once the event store is
// back, calls succeed on a new client.
func TestGivenUpClientIsNeverReused(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, "127.0.0.1:0")
	addr := srv.Addr()
	// Discovery, refused at once, makes 5 attempts 150 ms apart: it gives up after about 0.75 s.
	c, made := connectTracked(t, srv.ConnectionString()+"&maxDiscoverAttempts=5&discoveryInterval=150")
	ctx := context.Background() // no deadline: the Client must bound its calls itself
	if _, err := c.Append(ctx, "s", Any(), anEvent(0)); err != nil {
		t.Fatal(err)
	}
	a := c.current()
	// A call that took a just before it was retired (it raced the failure below).
	late, err := c.acquire(ctx)
	if err != nil || late != a {
		t.Fatalf("acquire: %v", err)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// The first failure retires a: the official client asked itself to rediscover the node.
	within(t, "an append with the server gone", func() { _, err = c.Append(ctx, "s", Any(), anEvent(1)) })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append with the server gone: %v", err)
	}
	if _, retired, closed := c.state(a); !retired || closed || c.current() == a {
		t.Fatalf("after the failure: retired %v, closed %v, still current %v", retired, closed, c.current() == a)
	}

	// The late call rediscovers inside a; a second late call waits for it at the official
	// client's hand-off. Discovery gives up; the second call's hand-off would never be taken.
	data := []esdb.EventData{{EventID: uuid.New(), EventType: "E", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.hold(late)
			defer c.release(late)
			_, errs[i] = c.appendOn(ctx, late, "s", Any(), data)
		}()
		time.Sleep(100 * time.Millisecond)
	}
	within(t, "the late calls of the given-up client", wg.Wait)
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("late call %d: %v, want ErrUnavailable", i, err)
		}
	}
	if a.life.Err() == nil {
		t.Fatal("the client that gave up discovery is not known as given up")
	}
	c.release(late)
	refs, _, closed := c.state(a)
	if closed != (refs == 0) {
		t.Fatalf("given-up client: closed %v with %d references", closed, refs)
	}
	t.Logf("references left on the given-up client (official calls blocked in it, or finishing): %d", refs)

	// Each new call tries a new client, whose discovery gives up: it is closed, not kept.
	for i := range 3 {
		within(t, "an append with the server gone", func() { _, err = c.Append(ctx, "s", Any(), anEvent(2)) })
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("append %d with the server gone: %v", i, err)
		}
		if cur := c.current(); cur != nil {
			t.Fatalf("append %d: a client that gave up is kept for the next call", i)
		}
	}
	clients := made()
	if len(clients) != 4 {
		t.Fatalf("%d official clients made, want 4 (the first, then one per call)", len(clients))
	}
	for i, cn := range clients[1:] {
		if cn.life.Err() == nil {
			t.Fatalf("client %d is not known to have given up", i+1)
		}
		eventually(t, "a given-up client is closed", func() bool { _, _, closed := c.state(cn); return closed })
	}

	startServer(t, dir, addr)
	within(t, "an append after the restart", func() { _, err = c.Append(ctx, "s", Any(), anEvent(3)) })
	if err != nil {
		t.Fatalf("append after the restart: %v", err)
	}
	cur := c.current()
	for _, cn := range clients {
		if cur == cn {
			t.Fatal("a retired client was used again")
		}
	}
	n := 0
	if err := c.ReadStream(ctx, "s", 0, 100, func(RecordedEvent) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("after the restart the stream holds %d events (%v), want 2", n, err)
	}
}
