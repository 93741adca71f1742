package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// SubscribeOptions say where a catch-up subscription to $all starts and what it reports.
type SubscribeOptions struct {
	// After is the last position the consumer has processed; the subscription delivers the
	// events after it. The zero position delivers the whole log.
	After Position
	// IncludeSystemEvents delivers $-prefixed events too; by default the server filters them out.
	IncludeSystemEvents bool
	// OnCheckpoint, if set, learns of progress through events the filter skipped, so that a
	// consumer can store a checkpoint even when nothing it cares about is written.
	OnCheckpoint func(Position)
	// OnCaughtUp, if set, is called each time the subscription reaches the head of the log.
	OnCaughtUp func()
	// OnDropped, if set, learns of each dropped subscription before it is resumed.
	OnDropped func(err error)
	// MaxBackoff bounds the wait between resubscription attempts (default 5 s).
	MaxBackoff time.Duration
}

// SubscribeAll delivers events of $all after opts.After to handle, in log order, catching up on
// history and then following live writes. When the connection drops it resubscribes from the
// last position it delivered, so handle sees each event once per call. It returns when ctx ends
// (with ctx's error), when handle fails (with that error) or when the client is closed.
func (c *Client) SubscribeAll(ctx context.Context, opts SubscribeOptions, handle func(context.Context, RecordedEvent) error) error {
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	last := opts.After
	backoff := 50 * time.Millisecond
	for {
		delivered, err := c.subscribeOnce(ctx, opts, &last, handle)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.base.Err() != nil {
			return errClientClosed
		}
		var herr *handlerError
		if errors.As(err, &herr) {
			return herr.err
		}
		if delivered {
			backoff = 50 * time.Millisecond
		}
		if opts.OnDropped != nil {
			opts.OnDropped(err)
		}
		c.logger.Warn("event store subscription dropped; resubscribing", "after", last.String(), "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

type handlerError struct{ err error }

func (h *handlerError) Error() string { return h.err.Error() }

// subscribeOnce runs one subscription until it drops; last advances with every delivered
// event and checkpoint.
func (c *Client) subscribeOnce(ctx context.Context, opts SubscribeOptions, last *Position, handle func(context.Context, RecordedEvent) error) (bool, error) {
	const op = "subscribe to $all"
	cn, err := c.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer c.release(cn)
	var from esdb.AllPosition = esdb.Start{}
	if !last.IsZero() {
		from = esdb.Position{Commit: last.Commit, Prepare: last.Prepare}
	}
	so := esdb.SubscribeToAllOptions{From: from}
	if !opts.IncludeSystemEvents {
		so.Filter = esdb.ExcludeSystemEventsFilter()
	}
	// The subscription's stream ends with octx: when ctx ends, the client is closed, or the
	// connection gives up. Its Recv takes no hand-off of the official client (conn.go).
	octx, cancel := c.opContext(ctx, cn)
	defer cancel()
	sub, ok, err := call(c, octx, cn, func() (*esdb.Subscription, error) { return cn.cl.SubscribeToAll(octx, so) })
	if !ok || err != nil {
		return false, c.fail(ctx, octx, cn, op, ok, err)
	}
	defer sub.Close()
	delivered := false
	for {
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			re := fromResolved(ev.EventAppeared)
			if !last.Less(re.Position) {
				continue // already delivered before a reconnect
			}
			if err := handle(ctx, re); err != nil {
				return delivered, &handlerError{err: err}
			}
			*last = re.Position
			delivered = true
		case ev.CheckPointReached != nil:
			cp := Position{Commit: ev.CheckPointReached.Commit, Prepare: ev.CheckPointReached.Prepare}
			if last.Less(cp) {
				*last = cp
				if opts.OnCheckpoint != nil {
					opts.OnCheckpoint(cp)
				}
			}
		case ev.CaughtUp != nil:
			if opts.OnCaughtUp != nil {
				opts.OnCaughtUp()
			}
		case ev.SubscriptionDropped != nil:
			err := fmt.Errorf("dropped: %w", ev.SubscriptionDropped.Error)
			if octx.Err() != nil {
				return delivered, c.interrupted(ctx, cn, op)
			}
			c.observe(cn, ev.SubscriptionDropped.Error)
			return delivered, translate("subscription to $all", err)
		}
	}
}
