package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// How the official client (v4) fails when the event store goes away, and why the adapter keeps
// its official clients the way it does:
//
//   - Each official client runs a connection goroutine that its calls talk to over an
//     unbuffered channel: to get the gRPC connection when a call starts, and to ask for a
//     reconnection when a call fails with codes.Unavailable. These hand-offs take no context.
//   - Close closes that channel. A call of the same client that is still in flight, and then
//     reaches one of the hand-offs, panics ("send on closed channel"). So an official client is
//     closed only after the last call using it has returned: conn.refs counts them.
//   - After a reconnection request, the next call rediscovers the node, inside the connection
//     goroutine, while every other call of that client waits for it at the hand-off. When
//     discovery gives up (MaxDiscoverAttempts), the goroutine returns for good without closing
//     the channel: the waiting calls, and any later hand-off, block forever. So a client is never
//     used again once a call of it failed with the connection (it is retired: new calls get a
//     new client), a new client's first discovery is made by a probe that no call shares, and
//     every call runs on a goroutine of its own that the caller stops waiting for when its
//     context ends or the client is known to have given up (conn.life). A call left blocked in a
//     client that gave up keeps its reference, so that client is never closed under it.

// conn is one official client and the calls in flight on it.
type conn struct {
	cl *esdb.Client
	// ready is closed when the probe (the client's first discovery) is over; err is its failure.
	ready chan struct{}
	err   error
	// life ends when the client has given up (its connection goroutine is gone): calls waiting
	// on it stop waiting.
	life context.Context
	kill context.CancelFunc

	// Guarded by Client.mu.
	refs    int  // calls in flight, the probe included
	retired bool // no new calls: closed when refs reaches zero
	closed  bool
}

// discoveryGaveUp is how the official client says that its connection goroutine has returned.
const discoveryGaveUp = "maximum discovery attempt count reached"

// health is what an error says about the official client that returned it.
type health int

const (
	healthy health = iota // the client can serve further calls
	broken                // the connection failed: the client may rediscover, so it is retired
	gone                  // the client gave up: its connection goroutine has returned
)

func diagnose(err error) health {
	if err == nil {
		return healthy
	}
	var e *esdb.Error
	if errors.As(err, &e) {
		if e.Code() == esdb.ErrorCodeConnectionClosed || strings.Contains(e.Error(), discoveryGaveUp) {
			return gone
		}
		switch e.Code() {
		case esdb.ErrorUnavailable, esdb.ErrorCodeNotLeader:
			return broken
		}
		return healthy
	}
	if status.Code(err) == codes.Unavailable {
		return broken
	}
	return healthy
}

// acquire returns the connection a new call uses, with a reference the caller releases. A new
// official client is made when there is none (the first call, or the last one was retired); its
// probe runs once for all the calls that wait for it.
func (c *Client) acquire(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClientClosed
	}
	cn := c.cur
	if cn == nil {
		cl, err := esdb.NewClient(c.cfg)
		if err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("eventstore: %w", err)
		}
		life, kill := context.WithCancel(context.Background())
		cn = &conn{cl: cl, ready: make(chan struct{}), life: life, kill: kill, refs: 1}
		c.cur = cn
		if c.onConn != nil {
			c.onConn(cn)
		}
		go c.probe(cn)
	}
	cn.refs++
	c.mu.Unlock()
	select {
	case <-cn.ready:
	case <-ctx.Done():
		c.release(cn)
		return nil, fmt.Errorf("eventstore: connect: %w", ctx.Err())
	case <-c.base.Done():
		c.release(cn)
		return nil, errClientClosed
	}
	if cn.err != nil {
		c.release(cn)
		return nil, cn.err
	}
	return cn, nil
}

// probe makes cn's first discovery before any call shares the client: if it gives up, no call
// is left waiting in the client, and the client is closed.
func (c *Client) probe(cn *conn) {
	defer c.release(cn)
	if _, err := cn.cl.GetServerVersion(); err != nil {
		cn.err = fmt.Errorf("%w: connect: %v", ErrUnavailable, err)
		c.logger.Debug("event store not reachable", "error", err)
		c.observe(cn, err)
		if diagnose(err) == healthy {
			c.retire(cn) // whatever went wrong, the next call tries a new client
		}
	}
	close(cn.ready)
}

// hold adds a reference to cn, whose caller holds one already.
func (c *Client) hold(cn *conn) {
	c.mu.Lock()
	cn.refs++
	c.mu.Unlock()
}

// release drops a reference; the last one closes a retired client.
func (c *Client) release(cn *conn) {
	c.mu.Lock()
	cn.refs--
	closeNow := cn.retired && cn.refs == 0 && !cn.closed
	if closeNow {
		cn.closed = true
	}
	c.mu.Unlock()
	if closeNow {
		_ = cn.cl.Close()
	}
}

// retire stops new calls from using cn; the last call in flight closes it.
func (c *Client) retire(cn *conn) {
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
	}
	cn.retired = true
	closeNow := cn.refs == 0 && !cn.closed
	if closeNow {
		cn.closed = true
	}
	c.mu.Unlock()
	if closeNow {
		_ = cn.cl.Close()
	}
}

// observe learns from a call's error what state cn is in.
func (c *Client) observe(cn *conn, err error) {
	switch diagnose(err) {
	case broken:
		c.mu.Lock()
		wasCurrent := c.cur == cn
		c.mu.Unlock()
		if wasCurrent {
			c.logger.Warn("event store connection lost; the next call reconnects", "error", err)
		}
		c.retire(cn)
	case gone:
		c.retire(cn)
		cn.kill()
	}
}

// opContext is the context of one operation on cn: it ends with ctx, when the client is closed
// and when cn gives up.
func (c *Client) opContext(ctx context.Context, cn *conn) (context.Context, context.CancelFunc) {
	octx, cancel := context.WithCancel(ctx)
	stopBase := context.AfterFunc(c.base, cancel)
	stopLife := context.AfterFunc(cn.life, cancel)
	return octx, func() {
		stopBase()
		stopLife()
		cancel()
	}
}

// interrupted is the error of an operation whose context (from opContext) ended: the caller's
// context error, or ErrUnavailable when the connection gave up or the client was closed.
func (c *Client) interrupted(ctx context.Context, cn *conn, op string) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("eventstore: %s: %w", op, ctx.Err())
	case c.base.Err() != nil:
		return fmt.Errorf("%w: %s: client closed", ErrUnavailable, op)
	default:
		return fmt.Errorf("%w: %s: the connection to the event store was lost", ErrUnavailable, op)
	}
}

// call runs f, one call of cn's official client, on a goroutine of its own holding a reference
// to cn, and waits for it no longer than octx (from opContext) lasts. f's error tells observe
// about cn even if nobody waits for it any more. When octx ends first, f's result is dropped.
func call[T any](c *Client, octx context.Context, cn *conn, f func() (T, error)) (T, bool, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	c.hold(cn)
	go func() {
		defer c.release(cn)
		v, err := f()
		if err != nil {
			c.observe(cn, err)
		}
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, true, r.err
	case <-octx.Done():
		select {
		case r := <-done:
			return r.v, true, r.err
		default:
		}
		var zero T
		return zero, false, nil
	}
}
