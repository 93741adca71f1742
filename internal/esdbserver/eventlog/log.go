package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// ExpectedKind says what an appender believes about a stream before writing.
type ExpectedKind int

// The four expectations EventStoreDB supports.
const (
	ExpectAny ExpectedKind = iota
	ExpectNoStream
	ExpectStreamExists
	ExpectRevision
)

// Expected is an optimistic-concurrency expectation on a stream.
type Expected struct {
	Kind     ExpectedKind
	Revision uint64 // only for ExpectRevision
}

func (e Expected) String() string {
	switch e.Kind {
	case ExpectNoStream:
		return "no_stream"
	case ExpectStreamExists:
		return "stream_exists"
	case ExpectRevision:
		return fmt.Sprint(e.Revision)
	default:
		return "any"
	}
}

// Proposed is an event offered for appending.
type Proposed struct {
	ID          uuid.UUID
	Type        string
	ContentType string
	Metadata    []byte
	Data        []byte
}

// AppendResult describes a successful append. Position is that of the last event written
// (or, for an empty or idempotent append, of the stream's last matching event; 0 if none).
type AppendResult struct {
	// NextRevision is the revision of the stream's last event; -1 when the stream has none.
	NextRevision int64
	Position     uint64
}

// WrongExpectedVersionError is returned when an expectation does not hold.
type WrongExpectedVersionError struct {
	Stream   string
	Expected Expected
	// Current is the stream's last revision, -1 when the stream does not exist.
	Current int64
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("wrong expected version on stream %q: expected %s, current %d", e.Stream, e.Expected, e.Current)
}

// Errors a caller can test with errors.Is.
var (
	ErrStreamDeleted  = errors.New("eventlog: stream is deleted")
	ErrStreamNotFound = errors.New("eventlog: stream not found")
	ErrClosed         = errors.New("eventlog: closed")
	ErrInvalid        = errors.New("eventlog: invalid request")
	ErrLocked         = errors.New("eventlog: data directory is in use by another process")
)

// MaxAppendSize bounds one append, as EventStoreDB's default does.
const MaxAppendSize = 16 << 20

// TombstoneRevision is the revision EventStoreDB gives a tombstone event.
const TombstoneRevision = math.MaxInt64

// Options tune the log; zero values are sensible defaults.
type Options struct {
	// NoSync skips fsync on commit. Only for tests that measure something else.
	NoSync bool
	// MaxBatch bounds how many appends share one commit.
	MaxBatch int
}

// Log is a durable event log. It is safe for concurrent use: appends go through one writer
// goroutine that validates them in order, writes them in one batch and fsyncs once per batch.
type Log struct {
	db   *pebble.DB
	lock *os.File
	opts Options

	reqs      chan *appendReq
	done      chan struct{}
	writerErr error
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu      sync.RWMutex
	streams map[string]streamState

	head   atomic.Uint64
	waitMu sync.Mutex
	waitCh chan struct{}
}

type opKind int

const (
	opAppend opKind = iota
	opDelete
	opTombstone
)

type appendReq struct {
	op       opKind
	stream   string
	expected Expected
	events   []Proposed
	res      AppendResult
	err      error
	done     chan struct{}
}

// Open opens (creating if needed) the log in dir and takes an exclusive lock on it.
func Open(dir string, opts Options) (*Log, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("eventlog: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(dir, "events"), &pebble.Options{
		Logger: quietLogger{},
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("eventlog: open store in %s: %w", dir, err)
	}
	l := &Log{
		db: db, lock: lock, opts: opts,
		reqs:    make(chan *appendReq, opts.MaxBatch),
		done:    make(chan struct{}),
		streams: make(map[string]streamState),
		waitCh:  make(chan struct{}),
	}
	if err := l.load(); err != nil {
		db.Close()
		lock.Close()
		return nil, err
	}
	l.wg.Add(1)
	go l.writer()
	return l, nil
}

func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("eventlog: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s (is another portald running on it?)", ErrLocked, dir)
	}
	return f, nil
}

// load rebuilds the in-memory stream table and the head position from disk.
func (l *Log) load() error {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMeta}, UpperBound: []byte{prefixMeta + 1}})
	if err != nil {
		return fmt.Errorf("eventlog: scan streams: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		st, err := decodeState(it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("eventlog: stream state %q: %w", it.Key()[1:], err)
		}
		l.streams[string(it.Key()[1:])] = st
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("eventlog: scan streams: %w", err)
	}
	it, err = l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return fmt.Errorf("eventlog: find head: %w", err)
	}
	defer it.Close()
	if it.Last() {
		l.head.Store(binary.BigEndian.Uint64(it.Key()[1:]))
	}
	return it.Error()
}

// Head is the position of the last committed event (0 when the log is empty).
func (l *Log) Head() uint64 { return l.head.Load() }

// Changed returns a channel closed at the next commit, for waiters that saw Head() already.
func (l *Log) Changed() <-chan struct{} {
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	return l.waitCh
}

func (l *Log) publish(head uint64) {
	l.head.Store(head)
	l.waitMu.Lock()
	close(l.waitCh)
	l.waitCh = make(chan struct{})
	l.waitMu.Unlock()
}

// Done is closed when the log is closed or its writer failed.
func (l *Log) Done() <-chan struct{} { return l.done }

// Append writes events to stream if expected holds. It returns only once the events are
// durable (fsynced), or with an error and nothing written.
func (l *Log) Append(ctx context.Context, stream string, expected Expected, events []Proposed) (AppendResult, error) {
	if err := validateAppend(stream, events); err != nil {
		return AppendResult{}, err
	}
	return l.submit(ctx, &appendReq{op: opAppend, stream: stream, expected: expected, events: events})
}

// Delete soft-deletes a stream: its events are hidden from stream reads (they stay in $all)
// and a later append continues its revisions, as in EventStoreDB.
func (l *Log) Delete(ctx context.Context, stream string, expected Expected) (uint64, error) {
	if err := validateAppend(stream, nil); err != nil {
		return 0, err
	}
	r, err := l.submit(ctx, &appendReq{op: opDelete, stream: stream, expected: expected})
	return r.Position, err
}

// Tombstone deletes a stream for good: reads and appends fail with ErrStreamDeleted.
func (l *Log) Tombstone(ctx context.Context, stream string, expected Expected) (uint64, error) {
	if err := validateAppend(stream, nil); err != nil {
		return 0, err
	}
	r, err := l.submit(ctx, &appendReq{op: opTombstone, stream: stream, expected: expected})
	return r.Position, err
}

func validateAppend(stream string, events []Proposed) error {
	if stream == "" || stream == "$all" {
		return fmt.Errorf("%w: stream name %q", ErrInvalid, stream)
	}
	size := 0
	for i, e := range events {
		if e.Type == "" {
			return fmt.Errorf("%w: event %d has no type", ErrInvalid, i)
		}
		if e.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d has no id", ErrInvalid, i)
		}
		size += len(e.Data) + len(e.Metadata) + len(e.Type)
	}
	if size > MaxAppendSize {
		return fmt.Errorf("%w: append of %d bytes exceeds the maximum of %d", ErrInvalid, size, MaxAppendSize)
	}
	return nil
}

func (l *Log) submit(ctx context.Context, req *appendReq) (AppendResult, error) {
	req.done = make(chan struct{})
	select {
	case l.reqs <- req:
	case <-l.done:
		return AppendResult{}, l.closedErr()
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
	// Once queued, the request is decided by the writer: wait for it even if ctx ends, so that a
	// caller never reports failure for an append that became durable.
	select {
	case <-req.done:
		return req.res, req.err
	case <-l.done:
		select {
		case <-req.done:
			return req.res, req.err
		default:
			return AppendResult{}, l.closedErr()
		}
	}
}

func (l *Log) closedErr() error {
	if l.writerErr != nil {
		return fmt.Errorf("%w: %v", ErrClosed, l.writerErr)
	}
	return ErrClosed
}

// Close stops the writer after the requests already queued and closes the store.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.reqs)
		l.wg.Wait()
		err = l.db.Close()
		l.lock.Close()
	})
	return err
}

// writer is the single goroutine that orders, validates and commits appends.
func (l *Log) writer() {
	defer l.wg.Done()
	defer close(l.done)
	batch := make([]*appendReq, 0, l.opts.MaxBatch)
	for req := range l.reqs {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < l.opts.MaxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if err := l.commit(batch); err != nil {
			// A failed fsync leaves the store in an unknown state: stop taking writes rather
			// than acknowledge anything we cannot vouch for.
			l.writerErr = err
			for _, r := range batch {
				r.err = fmt.Errorf("eventlog: commit: %w", err)
				close(r.done)
			}
			for r := range l.reqs {
				r.err = ErrClosed
				close(r.done)
			}
			return
		}
	}
}

// pending is the view of stream state while a batch is being built: the committed state plus
// what earlier requests of the same batch wrote.
type pending struct {
	l       *Log
	streams map[string]streamState
	ids     map[string]uint64
	revPos  map[string]uint64
}

func (p *pending) state(stream string) streamState {
	if s, ok := p.streams[stream]; ok {
		return s
	}
	p.l.mu.RLock()
	s, ok := p.l.streams[stream]
	p.l.mu.RUnlock()
	if !ok {
		s = streamState{last: -1}
	}
	return s
}

func (p *pending) revisionOf(stream string, id uuid.UUID) (uint64, bool, error) {
	k := idKey(stream, id)
	if rev, ok := p.ids[string(k)]; ok {
		return rev, true, nil
	}
	v, closer, err := p.l.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), true, nil
}

func (p *pending) positionOf(stream string, rev uint64) (uint64, error) {
	k := streamKey(stream, rev)
	if pos, ok := p.revPos[string(k)]; ok {
		return pos, nil
	}
	v, closer, err := p.l.db.Get(k)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), nil
}

func (l *Log) commit(reqs []*appendReq) error {
	b := l.db.NewBatch()
	defer b.Close()
	p := &pending{l: l, streams: map[string]streamState{}, ids: map[string]uint64{}, revPos: map[string]uint64{}}
	pos := l.head.Load()
	created := time.Now().UnixNano() / 100
	write := func(r *Record) error {
		pos++
		r.Position = pos
		r.Created = created
		if err := b.Set(logKey(pos), encodeRecord(r), nil); err != nil {
			return err
		}
		if r.Revision == TombstoneRevision {
			return nil
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], pos)
		sk := streamKey(r.Stream, r.Revision)
		if err := b.Set(sk, v[:], nil); err != nil {
			return err
		}
		p.revPos[string(sk)] = pos
		binary.BigEndian.PutUint64(v[:], r.Revision)
		ik := idKey(r.Stream, r.ID)
		p.ids[string(ik)] = r.Revision
		return b.Set(ik, v[:], nil)
	}
	setState := func(stream string, s streamState) error {
		p.streams[stream] = s
		return b.Set(metaKey(stream), encodeState(s), nil)
	}
	for _, r := range reqs {
		var err error
		switch r.op {
		case opAppend:
			r.res, r.err, err = l.decideAppend(p, r, write, setState)
		default:
			r.res, r.err, err = l.decideDelete(p, r, write, setState)
		}
		if err != nil {
			return err
		}
	}
	if pos == l.head.Load() {
		for _, r := range reqs {
			close(r.done)
		}
		return nil
	}
	sync := pebble.Sync
	if l.opts.NoSync {
		sync = pebble.NoSync
	}
	if err := b.Commit(sync); err != nil {
		return err
	}
	l.mu.Lock()
	for s, st := range p.streams {
		l.streams[s] = st
	}
	l.mu.Unlock()
	l.publish(pos)
	for _, r := range reqs {
		close(r.done)
	}
	return nil
}

type writeFn func(*Record) error
type stateFn func(string, streamState) error

// decideAppend returns the request's outcome, or a storage error that fails the whole batch.
func (l *Log) decideAppend(p *pending, r *appendReq, write writeFn, setState stateFn) (AppendResult, error, error) {
	st := p.state(r.stream)
	if st.tombstoned {
		return AppendResult{}, fmt.Errorf("%w: %s", ErrStreamDeleted, r.stream), nil
	}
	res, dup, err := l.idempotent(p, r, st)
	switch {
	case err != nil:
		return AppendResult{}, nil, err
	case dup == exactDuplicate:
		return res, nil, nil
	case dup == misplacedDuplicate:
		return AppendResult{}, &WrongExpectedVersionError{Stream: r.stream, Expected: r.expected, Current: st.last}, nil
	}
	if !expectationHolds(r.expected, st.last) {
		return AppendResult{}, &WrongExpectedVersionError{Stream: r.stream, Expected: r.expected, Current: st.last}, nil
	}
	if len(r.events) == 0 {
		res := AppendResult{NextRevision: st.last}
		if st.last >= 0 {
			pos, err := p.positionOf(r.stream, uint64(st.last))
			if err != nil {
				return AppendResult{}, nil, err
			}
			res.Position = pos
		}
		return res, nil, nil
	}
	var last uint64
	for _, e := range r.events {
		st.last++
		rec := Record{Stream: r.stream, Revision: uint64(st.last), ID: e.ID, Type: e.Type,
			ContentType: e.ContentType, Metadata: e.Metadata, Data: e.Data}
		if err := write(&rec); err != nil {
			return AppendResult{}, nil, err
		}
		last = rec.Position
	}
	if err := setState(r.stream, st); err != nil {
		return AppendResult{}, nil, err
	}
	return AppendResult{NextRevision: st.last, Position: last}, nil, nil
}

type duplicateVerdict int

const (
	notDuplicate duplicateVerdict = iota
	// exactDuplicate: the same events at the same place — acknowledge again without writing.
	exactDuplicate
	// misplacedDuplicate: ids already in the stream, offered at another place. EventStoreDB
	// would write them a second time; we refuse, so that an event id is never stored twice in
	// a stream and a retried command can never double-apply.
	misplacedDuplicate
)

// idempotent recognises a re-append of events already in the stream (same ids, same place),
// which EventStoreDB acknowledges again without writing.
func (l *Log) idempotent(p *pending, r *appendReq, st streamState) (AppendResult, duplicateVerdict, error) {
	if len(r.events) == 0 || st.last < 0 {
		return AppendResult{}, notDuplicate, nil
	}
	first, found, err := p.revisionOf(r.stream, r.events[0].ID)
	if err != nil || !found {
		return AppendResult{}, notDuplicate, err
	}
	switch r.expected.Kind {
	case ExpectNoStream:
		if first != 0 {
			return AppendResult{}, misplacedDuplicate, nil
		}
	case ExpectRevision:
		if first != r.expected.Revision+1 {
			return AppendResult{}, misplacedDuplicate, nil
		}
	}
	for i, e := range r.events[1:] {
		rev, found, err := p.revisionOf(r.stream, e.ID)
		if err != nil {
			return AppendResult{}, notDuplicate, err
		}
		if !found || rev != first+uint64(i)+1 {
			return AppendResult{}, misplacedDuplicate, nil
		}
	}
	lastRev := first + uint64(len(r.events)) - 1
	pos, err := p.positionOf(r.stream, lastRev)
	if err != nil {
		return AppendResult{}, notDuplicate, err
	}
	return AppendResult{NextRevision: int64(lastRev), Position: pos}, exactDuplicate, nil
}

func expectationHolds(e Expected, last int64) bool {
	switch e.Kind {
	case ExpectNoStream:
		return last < 0
	case ExpectStreamExists:
		return last >= 0
	case ExpectRevision:
		return last == int64(e.Revision)
	default:
		return true
	}
}

func (l *Log) decideDelete(p *pending, r *appendReq, write writeFn, setState stateFn) (AppendResult, error, error) {
	st := p.state(r.stream)
	if st.tombstoned {
		return AppendResult{}, fmt.Errorf("%w: %s", ErrStreamDeleted, r.stream), nil
	}
	if !expectationHolds(r.expected, st.last) {
		return AppendResult{}, &WrongExpectedVersionError{Stream: r.stream, Expected: r.expected, Current: st.last}, nil
	}
	id := uuid.New()
	if r.op == opTombstone {
		st.tombstoned = true
		rec := Record{Stream: r.stream, Revision: TombstoneRevision, ID: id, Type: "$streamDeleted",
			ContentType: "application/octet-stream", Data: []byte{}}
		if err := write(&rec); err != nil {
			return AppendResult{}, nil, err
		}
		return AppendResult{NextRevision: st.last, Position: rec.Position}, nil, setState(r.stream, st)
	}
	if st.last < 0 {
		return AppendResult{}, fmt.Errorf("%w: %s", ErrStreamNotFound, r.stream), nil
	}
	st.truncateBefore = uint64(st.last) + 1
	if err := setState(r.stream, st); err != nil {
		return AppendResult{}, nil, err
	}
	// Record the deletion as EventStoreDB does: a $metadata event on the metastream.
	metaStream := "$$" + r.stream
	ms := p.state(metaStream)
	ms.last++
	rec := Record{Stream: metaStream, Revision: uint64(ms.last), ID: id, Type: "$metadata",
		ContentType: "application/json", Data: fmt.Appendf(nil, `{"$tb":%d}`, st.truncateBefore)}
	if err := write(&rec); err != nil {
		return AppendResult{}, nil, err
	}
	return AppendResult{NextRevision: st.last, Position: rec.Position}, nil, setState(metaStream, ms)
}

// ReadStream calls fn for up to max events of stream, starting at revision from (inclusive),
// forwards or backwards, until fn returns false. from = math.MaxUint64 means "the end".
func (l *Log) ReadStream(stream string, from uint64, backwards bool, max uint64, fn func(Record) bool) error {
	l.mu.RLock()
	st, ok := l.streams[stream]
	l.mu.RUnlock()
	if ok && st.tombstoned {
		return fmt.Errorf("%w: %s", ErrStreamDeleted, stream)
	}
	if !ok || st.last < 0 || uint64(st.last) < st.truncateBefore {
		return fmt.Errorf("%w: %s", ErrStreamNotFound, stream)
	}
	prefix := streamPrefix(prefixStream, stream)
	lower := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), st.truncateBefore)
	upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(st.last)+1)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var valid bool
	if backwards {
		if from == math.MaxUint64 || from > uint64(st.last) {
			valid = it.Last()
		} else {
			valid = it.SeekLT(streamKey(stream, from+1))
		}
	} else {
		valid = it.SeekGE(streamKey(stream, from))
	}
	for n := uint64(0); valid && n < max; n++ {
		pos := binary.BigEndian.Uint64(it.Value())
		rec, err := l.get(pos)
		if err != nil {
			return err
		}
		if !fn(rec) {
			return nil
		}
		if backwards {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	return it.Error()
}

// StreamLast returns a stream's last revision (-1 when it has none) and whether it is tombstoned.
func (l *Log) StreamLast(stream string) (int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st, ok := l.streams[stream]
	if !ok {
		return -1, false
	}
	return st.last, st.tombstoned
}

func (l *Log) get(pos uint64) (Record, error) {
	v, closer, err := l.db.Get(logKey(pos))
	if err != nil {
		return Record{}, fmt.Errorf("eventlog: read position %d: %w", pos, err)
	}
	defer closer.Close()
	return decodeRecord(pos, v)
}

// ReadAll calls fn for up to max events of the global log, forwards from position from
// (inclusive) or backwards from before position from (exclusive, math.MaxUint64 = the end),
// until fn returns false. Only committed events are visible.
func (l *Log) ReadAll(from uint64, backwards bool, max uint64, fn func(Record) bool) error {
	head := l.head.Load()
	opts := &pebble.IterOptions{LowerBound: logKey(1), UpperBound: logKey(head + 1)}
	it, err := l.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	var valid bool
	if backwards {
		if from > head {
			valid = it.Last()
		} else {
			valid = it.SeekLT(logKey(from))
		}
	} else {
		valid = it.SeekGE(logKey(from))
	}
	for n := uint64(0); valid && n < max; n++ {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		rec, err := decodeRecord(binary.BigEndian.Uint64(it.Key()[1:]), v)
		if err != nil {
			return err
		}
		if !fn(rec) {
			return nil
		}
		if backwards {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	return it.Error()
}

// quietLogger keeps Pebble's routine chatter out of the service log but reports its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
	slog.Error("pebble", "error", fmt.Sprintf(format, args...))
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: fatal: "+format+"\n", args...)
	os.Exit(2)
}
