// Package eventstore is the service's way to EventStoreDB: it wraps the official Go client
// (github.com/EventStore/EventStore-Client-Go/v4) with the few operations the command and
// projection sides need, typed errors, and a catch-up subscription to $all that survives
// dropped connections. The same code serves a real EventStoreDB cluster and the embedded server.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// Position is a place in the global log ($all). The zero value means "before the first event".
type Position struct {
	Commit  uint64 `json:"commit"`
	Prepare uint64 `json:"prepare"`
}

// IsZero reports whether p is the start of the log.
func (p Position) IsZero() bool { return p.Commit == 0 && p.Prepare == 0 }

// Less orders positions in the global log.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

func (p Position) String() string {
	// By hand rather than fmt.Sprintf: the directory stamps every record it writes with one.
	var b [41]byte
	out := strconv.AppendUint(b[:0], p.Commit, 10)
	out = append(out, '/')
	return string(strconv.AppendUint(out, p.Prepare, 10))
}

// Expected is what a writer believes about a stream before appending (optimistic concurrency).
type Expected struct {
	kind     expectedKind
	revision uint64
}

type expectedKind int

const (
	expectAny expectedKind = iota
	expectNoStream
	expectStreamExists
	expectRevision
)

// Any appends whatever the stream holds.
func Any() Expected { return Expected{kind: expectAny} }

// NoStream appends only to a stream that does not exist yet.
func NoStream() Expected { return Expected{kind: expectNoStream} }

// StreamExists appends only to a stream that has events.
func StreamExists() Expected { return Expected{kind: expectStreamExists} }

// AtRevision appends only if the stream's last event has revision rev.
func AtRevision(rev uint64) Expected { return Expected{kind: expectRevision, revision: rev} }

func (e Expected) String() string {
	switch e.kind {
	case expectNoStream:
		return "no_stream"
	case expectStreamExists:
		return "stream_exists"
	case expectRevision:
		return fmt.Sprint(e.revision)
	}
	return "any"
}

func (e Expected) toESDB() esdb.ExpectedRevision {
	switch e.kind {
	case expectNoStream:
		return esdb.NoStream{}
	case expectStreamExists:
		return esdb.StreamExists{}
	case expectRevision:
		return esdb.Revision(e.revision)
	}
	return esdb.Any{}
}

// EventData is an event to append. Re-appending events with the same IDs at the same place is
// acknowledged without writing them twice, which is what makes command retries idempotent.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Revision uint64
	Type     string
	Data     []byte
	Metadata []byte
	Position Position
	Created  time.Time
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// NextRevision is the revision of the stream's last event after the append.
	NextRevision uint64
	// Position is the log position of the last event appended: reads "at least as fresh as"
	// this position see the append.
	Position Position
}

// Typed errors; test with errors.Is.
var (
	ErrConflict       = errors.New("eventstore: wrong expected version")
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	ErrStreamDeleted  = errors.New("eventstore: stream deleted")
	ErrUnavailable    = errors.New("eventstore: unavailable")
)

// ConflictError carries the details of an optimistic-concurrency failure.
type ConflictError struct {
	Stream   string
	Expected Expected
	Detail   string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventstore: append to %q expecting %s: %s", e.Stream, e.Expected, e.Detail)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Client talks to one EventStoreDB deployment. It is safe for concurrent use, and it outlives
// the event store going away: calls fail with ErrUnavailable (never hang, whatever their
// context) until it is back, then succeed again (conn.go tells how).
type Client struct {
	cfg    *esdb.Configuration
	logger *slog.Logger
	// base ends when the client is closed, and with it every call in flight.
	base context.Context
	stop context.CancelFunc

	mu     sync.Mutex
	cur    *conn // the official client new calls use; nil until the next call makes one
	closed bool
	// onConn, if set (by tests), learns of each official client made, under mu.
	onConn func(*conn)
}

var errClientClosed = fmt.Errorf("%w: client closed", ErrUnavailable)

// Connect parses an esdb:// connection string. It does not dial: the first call does.
func Connect(connectionString string, logger *slog.Logger) (*Client, error) {
	cfg, err := esdb.ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("eventstore: bad connection string: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("eventstore: bad connection string: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	cfg.Logger = func(level esdb.LogLevel, format string, args ...interface{}) {
		if level == esdb.LogError || level == esdb.LogWarn {
			logger.Debug("esdb client", "level", string(level), "msg", fmt.Sprintf(format, args...))
		}
	}
	base, stop := context.WithCancel(context.Background())
	return &Client{cfg: cfg, logger: logger, base: base, stop: stop}, nil
}

// Close ends the calls in flight and releases the connection; later calls fail with
// ErrUnavailable.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cur
	c.mu.Unlock()
	c.stop()
	if cn != nil {
		c.retire(cn)
	}
	return nil
}

// translate maps the official client's errors onto the package's typed errors.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("eventstore: %s: %w", op, err)
	}
	if diagnose(err) != healthy {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	}
	// The official client wraps its *esdb.Error in places: look through the chain. A read
	// stream's Recv hands over gRPC's own status error instead.
	var e *esdb.Error
	if !errors.As(err, &e) {
		if code := status.Code(err); code == codes.Unavailable || code == codes.DeadlineExceeded {
			return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
		}
		return fmt.Errorf("eventstore: %s: %w", op, err)
	}
	switch e.Code() {
	case esdb.ErrorCodeResourceNotFound:
		return fmt.Errorf("%w: %s: %v", ErrStreamNotFound, op, err)
	case esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%w: %s: %v", ErrStreamDeleted, op, err)
	case esdb.ErrorCodeDeadlineExceeded:
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	}
	return fmt.Errorf("eventstore: %s: %w", op, err)
}

// fail is the error of a call of cn, made with octx (from opContext), that returned err (ok)
// or was given up (!ok).
func (c *Client) fail(ctx, octx context.Context, cn *conn, op string, ok bool, err error) error {
	if !ok || octx.Err() != nil {
		return c.interrupted(ctx, cn, op)
	}
	return translate(op, err)
}

// Append writes events to stream if expected holds, durably, and says where they landed.
func (c *Client) Append(ctx context.Context, stream string, expected Expected, events ...EventData) (AppendResult, error) {
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		if e.ID == uuid.Nil {
			return AppendResult{}, fmt.Errorf("eventstore: append to %q: event %d has no id", stream, i)
		}
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson,
			Data: e.Data, Metadata: e.Metadata}
	}
	cn, err := c.acquire(ctx)
	if err != nil {
		return AppendResult{}, err
	}
	defer c.release(cn)
	return c.appendOn(ctx, cn, stream, expected, data)
}

// appendOn appends with cn, which the caller holds.
func (c *Client) appendOn(ctx context.Context, cn *conn, stream string, expected Expected, data []esdb.EventData) (AppendResult, error) {
	op := "append to " + stream
	octx, cancel := c.opContext(ctx, cn)
	defer cancel()
	res, ok, err := call(c, octx, cn, func() (*esdb.WriteResult, error) {
		return cn.cl.AppendToStream(octx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expected.toESDB()}, data...)
	})
	if !ok || err != nil {
		var e *esdb.Error
		if ok && errors.As(err, &e) && e.Code() == esdb.ErrorCodeWrongExpectedVersion {
			return AppendResult{}, &ConflictError{Stream: stream, Expected: expected, Detail: e.Err().Error()}
		}
		return AppendResult{}, c.fail(ctx, octx, cn, op, ok, err)
	}
	return AppendResult{
		NextRevision: res.NextExpectedVersion,
		Position:     Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}, nil
}

// ReadStream calls fn with the events of stream from revision from (inclusive) onwards, up to
// max of them. A stream that does not exist yields ErrStreamNotFound.
func (c *Client) ReadStream(ctx context.Context, stream string, from, max uint64, fn func(RecordedEvent) error) error {
	return c.read(ctx, "read "+stream, func(octx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
		return cl.ReadStream(octx, stream, esdb.ReadStreamOptions{From: esdb.Revision(from), Direction: esdb.Forwards}, max)
	}, fn)
}

// ReadAll calls fn with up to max events of the global log from position from (inclusive; the
// zero position is the start). System events ($-prefixed types) are included.
func (c *Client) ReadAll(ctx context.Context, from Position, max uint64, fn func(RecordedEvent) error) error {
	var start esdb.AllPosition = esdb.Start{}
	if !from.IsZero() {
		start = esdb.Position{Commit: from.Commit, Prepare: from.Prepare}
	}
	return c.read(ctx, "read $all", func(octx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
		return cl.ReadAll(octx, esdb.ReadAllOptions{From: start, Direction: esdb.Forwards}, max)
	}, fn)
}

// lastPositionScan bounds how many system events LastPosition skips.
const lastPositionScan = 4096

var errFound = errors.New("found")

// LastPosition is the position of the newest event of the log that is not a system event (zero
// when there is none): the head the projections must reach.
func (c *Client) LastPosition(ctx context.Context) (Position, error) {
	// The last event the service wrote: system events (a real EventStoreDB appends statistics and
	// metadata to $-streams) are skipped, since subscriptions filter them out and a projection
	// would never reach them. At most lastPositionScan events are looked at.
	var last Position
	err := c.read(ctx, "read $all backwards", func(octx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
		return cl.ReadAll(octx, esdb.ReadAllOptions{From: esdb.End{}, Direction: esdb.Backwards}, lastPositionScan)
	}, func(e RecordedEvent) error {
		if strings.HasPrefix(e.Type, "$") || strings.HasPrefix(e.Stream, "$") {
			return nil
		}
		last = e.Position
		return errFound
	})
	if errors.Is(err, errFound) {
		err = nil
	}
	return last, err
}

// read opens a read with open and calls fn with its events, on the caller's goroutine; a
// goroutine of the read's own receives them from the official client (whose Recv reaches a
// hand-off when it fails: conn.go), and the caller stops waiting for it when ctx ends or the
// connection gives up.
func (c *Client) read(ctx context.Context, op string, open func(context.Context, *esdb.Client) (*esdb.ReadStream, error), fn func(RecordedEvent) error) error {
	cn, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.release(cn)
	octx, cancel := c.opContext(ctx, cn)
	defer cancel()
	rs, ok, err := call(c, octx, cn, func() (*esdb.ReadStream, error) { return open(octx, cn.cl) })
	if !ok || err != nil {
		return c.fail(ctx, octx, cn, op, ok, err)
	}
	defer rs.Close()

	type item struct {
		ev  *esdb.ResolvedEvent
		err error
	}
	items := make(chan item, 16)
	stop := make(chan struct{})
	defer close(stop) // before rs.Close and cancel, which end a Recv in progress
	c.hold(cn)
	go func() {
		defer c.release(cn)
		for {
			ev, err := rs.Recv()
			if err != nil && !errors.Is(err, io.EOF) {
				c.observe(cn, err)
			}
			select {
			case items <- item{ev, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		var it item
		select {
		case it = <-items:
		case <-octx.Done():
			return c.interrupted(ctx, cn, op)
		}
		if errors.Is(it.err, io.EOF) {
			return nil
		}
		if it.err != nil {
			if octx.Err() != nil {
				return c.interrupted(ctx, cn, op)
			}
			return translate(op, it.err)
		}
		if err := fn(fromResolved(it.ev)); err != nil {
			return err
		}
	}
}

func fromResolved(ev *esdb.ResolvedEvent) RecordedEvent {
	e := ev.OriginalEvent()
	return RecordedEvent{
		ID: e.EventID, Stream: e.StreamID, Revision: e.EventNumber, Type: e.EventType,
		Data: e.Data, Metadata: e.UserMetadata, Created: e.CreatedDate,
		Position: Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
	}
}
