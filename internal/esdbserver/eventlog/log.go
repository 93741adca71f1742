package eventlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
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
// goroutine that validates them in order and writes each group of queued appends as one
// batch; a second goroutine, the finisher, waits for each batch's fsync and only then
// publishes it and answers its appends (see writer).
type Log struct {
	db   *pebble.DB
	lock *os.File
	opts Options

	reqs      chan *appendReq
	done      chan struct{}
	doneOnce  sync.Once
	failure   atomic.Pointer[error] // the storage error that stopped the writer
	closeOnce sync.Once
	// lifeMu keeps Close from closing the store under an operation that uses it.
	lifeMu sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	mu      sync.RWMutex
	streams map[string]streamState
	idsets  map[string]*idSet // see idcache.go; guarded by mu, written only by the writer
	idTotal int
	// idBatches numbers the batches whose id sets applyIDSets recorded (under mu).
	idBatches uint64

	head   atomic.Uint64
	waitMu sync.Mutex
	waitCh chan struct{}

	// Owned by the writer goroutine: the batches handed to the finisher and not yet recycled
	// (oldest first), spare pendings, the position of the last event written, and whether a
	// batch failed to be written (nothing after it is).
	inflight []*pending
	spare    []*pending
	wpos     uint64
	wfailed  error
	scratch  []byte

	fin chan *pending // batches in commit order, from writer to finisher
}

// maxInFlight bounds the batches written but not yet finished (fsynced, published, answered).
const maxInFlight = 4

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
	// absentAt, when >= 0, says that the first event's id was not in the stream when the
	// stream's last revision was absentAt (checked by the caller, off the writer's path).
	absentAt int64
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
	db, err := pebble.Open(filepath.Join(dir, "events"), pebbleOptions())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("eventlog: open store in %s: %w", dir, err)
	}
	l := &Log{
		db: db, lock: lock, opts: opts,
		reqs:    make(chan *appendReq, opts.MaxBatch),
		done:    make(chan struct{}),
		streams: make(map[string]streamState),
		idsets:  make(map[string]*idSet),
		waitCh:  make(chan struct{}),
	}
	l.fin = make(chan *pending, maxInFlight)
	if err := l.load(); err != nil {
		db.Close()
		lock.Close()
		return nil, err
	}
	l.wpos = l.head.Load()
	l.wg.Add(2)
	go l.writer()
	go l.finisher()
	return l, nil
}

// pebbleOptions tunes Pebble for an append-only log read mostly by scans:
//   - a 64 MB block cache (default 8 MB) and 16 MB memtables (default 4 MB), so that recent
//     events, which subscriptions and catch-up reads touch most, are served from memory, and
//     flushes and compactions are rarer (larger memtables would make each insert slower:
//     every event adds four keys to the memtable's skiplist);
//   - Bloom filters on every level, so that looking up an event id that is not there (the
//     idempotency check of a new event, when idcache.go cannot answer) costs a filter probe
//     per table instead of reading index and data blocks.
//
// Durability is unchanged: every commit is written to the WAL and fsynced before any of its
// appends is acknowledged (pebble.Sync).
func pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		Logger:       quietLogger{},
		CacheSize:    64 << 20,
		MemTableSize: 16 << 20,
		// Compact level 0 once it is 8 sublevels deep (8 overlapping flushes) rather than 4,
		// and stall writes at 24 rather than 12 (the same 3x margin). Every table flushed from a
		// memtable spans the whole key space (log and indexes), so each compaction out of
		// level 0 rewrites the level below in full; waiting for twice the flushes halves those
		// rewrites. In two runs of the append benchmarks, compactions wrote 1.2 and 1.5 bytes
		// per byte flushed, against 2.5 and 1.7 with the defaults. Reads merge up to 8 level-0
		// sublevels instead of 4.
		L0CompactionThreshold: 8,
		L0StopWritesThreshold: 24,
	}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return o
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
	req := &appendReq{op: opAppend, stream: stream, expected: expected, events: events, absentAt: -1}
	l.precheckIdempotency(req)
	return l.submit(ctx, req)
}

// precheckIdempotency checks, in the caller's goroutine rather than the single writer's,
// whether the first event's id is already in the stream, and records a "no" in absentAt
// together with the stream revision it holds for: the stream's id set (idcache.go) when there
// is one, otherwise a storage lookup made after reading the stream's last revision (every id
// up to that revision was committed before the stream table showed it, so the lookup sees
// them all). The writer trusts the answer only if the stream still ends at that revision, and
// checks again otherwise; a "yes" (a retry) always gets the writer's full check.
func (l *Log) precheckIdempotency(req *appendReq) {
	if len(req.events) == 0 {
		return
	}
	l.mu.RLock()
	if set := l.idsets[req.stream]; set != nil {
		_, present := set.ids[req.events[0].ID]
		last := set.last
		l.mu.RUnlock()
		if !present {
			req.absentAt = last
		}
		return
	}
	st, ok := l.streams[req.stream]
	l.mu.RUnlock()
	if !ok || st.last < 0 || st.tombstoned {
		return
	}
	var kb [64]byte
	if !l.enter() {
		return
	}
	_, closer, err := l.db.Get(appendIDKey(kb[:0], req.stream, req.events[0].ID))
	l.leave()
	if err == nil {
		closer.Close()
		return
	}
	if errors.Is(err, pebble.ErrNotFound) {
		req.absentAt = st.last
	}
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

// enter marks the start of an operation on the store; it fails once Close has begun.
// Operations must not block between enter and leave (Close waits for them).
func (l *Log) enter() bool {
	l.lifeMu.RLock()
	if l.closed {
		l.lifeMu.RUnlock()
		return false
	}
	return true
}

func (l *Log) leave() { l.lifeMu.RUnlock() }

func (l *Log) submit(ctx context.Context, req *appendReq) (AppendResult, error) {
	req.done = make(chan struct{})
	if !l.enter() {
		return AppendResult{}, l.closedErr()
	}
	// The writer keeps draining l.reqs until Close closes it (also after a failure), so this
	// send cannot block Close for long.
	select {
	case l.reqs <- req:
		l.leave()
	case <-ctx.Done():
		l.leave()
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
	if err := l.failure.Load(); err != nil {
		return fmt.Errorf("%w: %v", ErrClosed, *err)
	}
	return ErrClosed
}

// fail records the storage error that stops the log from taking writes.
func (l *Log) fail(err error) {
	l.failure.CompareAndSwap(nil, &err)
	l.closeDone()
}

func (l *Log) closeDone() { l.doneOnce.Do(func() { close(l.done) }) }

// Close stops the writer after the requests already queued and closes the store.
func (l *Log) Close() error {
	defer l.closeDone()
	var err error
	l.closeOnce.Do(func() {
		l.lifeMu.Lock()
		l.closed = true
		close(l.reqs)
		l.lifeMu.Unlock()
		l.wg.Wait()
		err = l.db.Close()
		l.lock.Close()
	})
	return err
}

// writer is the single goroutine that orders and validates appends. Group commit: it takes
// every append queued by then (up to MaxBatch), decides them against the streams' states and
// writes what they write as one batch, which Pebble applies at once and fsyncs in the
// background; the finisher waits for that fsync and only then publishes the batch and answers
// its appends. Meanwhile the writer goes on with the next batch, deciding it against the
// states the batches still in flight leave (pending.state), so that the deciding and writing
// of one batch overlaps the fsync of the previous ones, and Pebble's WAL writer merges the
// syncs of batches that arrive while one is under way. Nothing of an in-flight batch is
// visible to readers: reads are bounded by the published head and stream states.
func (l *Log) writer() {
	defer l.wg.Done()
	defer close(l.fin)
	batch := make([]*appendReq, 0, l.opts.MaxBatch)
	for req := range l.reqs {
		batch = append(batch[:0], req)
		l.drain(&batch)
		if l.wfailed != nil {
			l.answer(batch, fmt.Errorf("%w: %v", ErrClosed, l.wfailed))
			continue
		}
		if l.failure.Load() != nil {
			l.answer(batch, l.closedErr())
			continue
		}
		l.recycle()
		p := l.nextPending()
		p.reqs = append(p.reqs[:0], batch...)
		if err := l.stage(p, batch); err != nil {
			// A failed write leaves the store in an unknown state: write nothing after it. The
			// finisher still finishes the batches before this one, then stops the log.
			l.wfailed = err
			p.err = err
		}
		l.inflight = append(l.inflight, p)
		l.fin <- p
	}
}

// nextPending returns a reset pending for the next batch, reusing a recycled one.
func (l *Log) nextPending() *pending {
	if n := len(l.spare); n > 0 {
		p := l.spare[n-1]
		l.spare = l.spare[:n-1]
		p.reset()
		return p
	}
	return &pending{l: l, streams: map[string]streamState{}, ids: map[idRef]uint64{}, revPos: map[revRef]uint64{},
		before: map[string]int64{}, newSets: map[string]*idSet{}}
}

// recycle takes the batches the finisher is done with off the in-flight list.
func (l *Log) recycle() {
	n := 0
	for n < len(l.inflight) && l.inflight[n].finished.Load() {
		l.spare = append(l.spare, l.inflight[n])
		l.inflight[n] = nil
		n++
	}
	if n > 0 {
		l.inflight = append(l.inflight[:0], l.inflight[n:]...)
	}
}

// finisher waits for each batch's fsync, in commit order, then publishes what it wrote and
// answers its appends. After a storage failure it answers every later batch with the error.
func (l *Log) finisher() {
	defer l.wg.Done()
	defer l.closeDone()
	for p := range l.fin {
		err := p.err
		if p.batch != nil {
			if p.waitSync {
				if serr := p.batch.SyncWait(); err == nil {
					err = serr
				}
			}
			_ = p.batch.Close()
			p.batch = nil
		}
		switch {
		case l.failure.Load() != nil:
			l.answer(p.reqs, l.closedErr())
		case err != nil:
			// A failed write or fsync leaves the store in an unknown state: stop taking
			// writes rather than acknowledge anything we cannot vouch for.
			l.fail(err)
			l.answer(p.reqs, fmt.Errorf("eventlog: commit: %w", err))
		default:
			if p.wrote {
				l.prepareIDSets(p)
				l.mu.Lock()
				maps.Copy(l.streams, p.streams)
				l.applyIDSets(p)
				l.mu.Unlock()
				l.publish(p.pos)
			}
			for _, r := range p.reqs {
				close(r.done)
			}
		}
		clear(p.reqs)
		p.finished.Store(true) // the writer may reuse p from here on
	}
}

// answer fails every request of batch with err.
func (l *Log) answer(batch []*appendReq, err error) {
	for _, r := range batch {
		r.res, r.err = AppendResult{}, err
		close(r.done)
	}
}

// drain adds the appends already queued to batch, up to MaxBatch.
func (l *Log) drain(batch *[]*appendReq) {
	for len(*batch) < l.opts.MaxBatch {
		select {
		case r, ok := <-l.reqs:
			if !ok {
				return
			}
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

// pending is one batch: while the writer builds it, the view of stream state (the committed
// state, plus what the batches in flight and earlier requests of the same batch wrote); then
// what the finisher needs to finish it. The writer reuses it once the finisher is done.
type pending struct {
	l       *Log
	streams map[string]streamState
	ids     map[idRef]uint64
	revPos  map[revRef]uint64
	kbuf    []byte
	// before is each touched stream's committed last revision; newSets the id sets this
	// batch creates (idcache.go).
	before  map[string]int64
	newSets map[string]*idSet
	// index holds the batch's index and state entries until its events are in the batch.
	index deferredSets

	// For the finisher: the requests to answer, the storage batch and whether its fsync is
	// to be waited for, whether anything was written and the position of the last event, or
	// the storage error that failed the batch. finished is set when the finisher is done.
	reqs     []*appendReq
	batch    *pebble.Batch
	waitSync bool
	wrote    bool
	pos      uint64
	err      error
	finished atomic.Bool
}

// deferredSets collects a batch's index entries so that they go into the batch after its
// events, and in key order: the memtable inserts a batch's entries in batch order, reusing the
// position of the previous insert when the next key is close. So the events' log keys
// (consecutive positions) go in as one ascending run, and so do the index entries, instead of
// alternating between distant parts of the key space at every entry.
type deferredSets struct {
	buf  []byte
	ents []deferredSet
}

type deferredSet struct{ k0, k1, v1 int } // key buf[k0:k1], value buf[k1:v1]

func (d *deferredSets) reset() {
	d.buf, d.ents = d.buf[:0], d.ents[:0]
	if cap(d.buf) > 1<<20 {
		d.buf = nil
	}
}

func (d *deferredSets) add(key, value []byte) {
	k0 := len(d.buf)
	d.buf = append(d.buf, key...)
	k1 := len(d.buf)
	d.buf = append(d.buf, value...)
	d.ents = append(d.ents, deferredSet{k0, k1, len(d.buf)})
}

func (d *deferredSets) key(e deferredSet) []byte { return d.buf[e.k0:e.k1] }

// setSorted writes the entries to b in key order; entries with the same key keep their order,
// so the last one written for a key still wins.
func (d *deferredSets) setSorted(b *pebble.Batch) error {
	slices.SortStableFunc(d.ents, func(x, y deferredSet) int { return bytes.Compare(d.key(x), d.key(y)) })
	for _, e := range d.ents {
		if err := b.Set(d.buf[e.k0:e.k1], d.buf[e.k1:e.v1], nil); err != nil {
			return err
		}
	}
	return nil
}

type idRef struct {
	stream string
	id     uuid.UUID
}

type revRef struct {
	stream string
	rev    uint64
}

func (p *pending) reset() {
	clear(p.streams)
	clear(p.ids)
	clear(p.revPos)
	clear(p.before)
	clear(p.newSets)
	p.index.reset()
	p.reqs = p.reqs[:0]
	p.batch, p.waitSync, p.wrote, p.pos, p.err = nil, false, false, 0, nil
	p.finished.Store(false)
}

func (p *pending) state(stream string) streamState {
	if s, ok := p.streams[stream]; ok {
		return s
	}
	s, ok := p.l.flyingState(stream)
	if !ok {
		p.l.mu.RLock()
		s, ok = p.l.streams[stream]
		p.l.mu.RUnlock()
	}
	if !ok {
		s = streamState{last: -1}
	}
	if _, seen := p.before[stream]; !seen && !s.tombstoned {
		p.before[stream] = s.last
	}
	return s
}

func (p *pending) revisionOf(stream string, id uuid.UUID) (uint64, bool, error) {
	if rev, ok := p.ids[idRef{stream, id}]; ok {
		return rev, true, nil
	}
	if _, flying := p.l.flyingState(stream); !flying {
		// No batch in flight wrote to the stream: its committed id set, if any, is complete.
		p.l.mu.RLock()
		st, ok := p.l.streams[stream]
		absent := ok && p.l.knownAbsent(stream, st.last, id)
		p.l.mu.RUnlock()
		if absent {
			return 0, false, nil // not among the committed ids, nor (above) among this batch's
		}
	}
	// The store shows every batch applied so far, in flight or not.
	p.kbuf = appendIDKey(p.kbuf[:0], stream, id)
	v, closer, err := p.l.db.Get(p.kbuf)
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
	if pos, ok := p.revPos[revRef{stream, rev}]; ok {
		return pos, nil
	}
	p.kbuf = appendStreamKey(p.kbuf[:0], stream, rev)
	v, closer, err := p.l.db.Get(p.kbuf)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), nil
}

// flyingState returns the state of stream left by the newest batch in flight that wrote to it.
// Only the writer calls it.
func (l *Log) flyingState(stream string) (streamState, bool) {
	for i := len(l.inflight) - 1; i >= 0; i-- {
		if s, ok := l.inflight[i].streams[stream]; ok {
			return s, true
		}
	}
	return streamState{}, false
}

// stage decides a batch of requests and hands what they write to Pebble as one batch, without
// waiting for its fsync (the finisher does). An error means storage failed: the batch must
// not be acknowledged.
func (l *Log) stage(p *pending, reqs []*appendReq) error {
	b := l.db.NewBatch()
	start := l.wpos
	pos := start
	created := time.Now().UnixNano() / 100
	var lk [9]byte
	var v [8]byte
	write := func(r *Record) error {
		pos++
		r.Position = pos
		r.Created = created
		putLogKey(lk[:], pos)
		// Batch.Set copies key and value, so the scratch buffers are reused for every event.
		l.scratch = appendRecord(l.scratch[:0], r)
		if err := b.Set(lk[:], l.scratch, nil); err != nil {
			return err
		}
		if r.Revision == TombstoneRevision {
			return nil
		}
		binary.BigEndian.PutUint64(v[:], pos)
		p.kbuf = appendStreamKey(p.kbuf[:0], r.Stream, r.Revision)
		p.index.add(p.kbuf, v[:])
		p.revPos[revRef{r.Stream, r.Revision}] = pos
		binary.BigEndian.PutUint64(v[:], r.Revision)
		p.ids[idRef{r.Stream, r.ID}] = r.Revision
		p.kbuf = appendIDKey(p.kbuf[:0], r.Stream, r.ID)
		p.index.add(p.kbuf, v[:])
		return nil
	}
	setState := func(stream string, s streamState) error {
		p.streams[stream] = s
		p.kbuf = append(append(p.kbuf[:0], prefixMeta), stream...)
		p.index.add(p.kbuf, encodeState(s))
		return nil
	}
	fail := func(err error) error {
		_ = b.Close()
		return err
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
			return fail(err)
		}
	}
	if err := p.index.setSorted(b); err != nil {
		return fail(err)
	}
	if cap(l.scratch) > 1<<20 {
		l.scratch = nil // do not pin the memory of one large append
	}
	if pos == start {
		// Nothing to write. The finisher still answers after the batches before it, since an
		// answer may rest on them (a retry of an event they wrote, a conflict with them).
		return fail(nil)
	}
	var err error
	if l.opts.NoSync {
		err = l.db.Apply(b, pebble.NoSync)
	} else {
		err = l.db.ApplyNoSyncWait(b, pebble.Sync)
		p.waitSync = true
	}
	p.batch, p.wrote, p.pos = b, true, pos
	if err != nil {
		return err // the finisher closes the batch (after SyncWait, as Pebble requires)
	}
	l.wpos = pos
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
	if r.absentAt >= 0 && r.absentAt == st.last {
		// The caller found the first id absent when the stream ended where it still ends.
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
// fn must neither block nor call the log: the read holds the store open against Close.
func (l *Log) ReadStream(stream string, from uint64, backwards bool, max uint64, fn func(Record) bool) error {
	return l.ScanStream(stream, from, backwards, max, func(v *View) bool { return fn(v.Record()) })
}

// ScanStream is ReadStream without copies: fn gets a View valid only until it returns.
func (l *Log) ScanStream(stream string, from uint64, backwards bool, max uint64, fn func(*View) bool) error {
	l.mu.RLock()
	st, ok := l.streams[stream]
	l.mu.RUnlock()
	if ok && st.tombstoned {
		return fmt.Errorf("%w: %s", ErrStreamDeleted, stream)
	}
	if !ok || st.last < 0 || uint64(st.last) < st.truncateBefore {
		return fmt.Errorf("%w: %s", ErrStreamNotFound, stream)
	}
	if max == 0 {
		return nil
	}
	if !l.enter() {
		return l.closedErr()
	}
	defer l.leave()
	prefix := streamPrefix(prefixStream, stream)
	lower := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), st.truncateBefore)
	upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(st.last)+1)
	idx, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer idx.Close()
	// A second iterator over the log fetches the events: successive seeks on one iterator
	// reuse its position and cached blocks, where a Get per event would start over each time.
	logIt, err := l.db.NewIter(&pebble.IterOptions{LowerBound: logKey(1), UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return err
	}
	defer logIt.Close()
	var valid bool
	if backwards {
		if from == math.MaxUint64 || from > uint64(st.last) {
			valid = idx.Last()
		} else {
			valid = idx.SeekLT(streamKey(stream, from+1))
		}
	} else {
		valid = idx.SeekGE(streamKey(stream, from))
	}
	var lk [9]byte
	var v View
	for n := uint64(0); valid && n < max; n++ {
		iv := idx.Value()
		if len(iv) != 8 {
			return fmt.Errorf("%w: index entry of stream %q", errCorruptRecord, stream)
		}
		pos := binary.BigEndian.Uint64(iv)
		putLogKey(lk[:], pos)
		if !logIt.SeekGE(lk[:]) || !bytes.Equal(logIt.Key(), lk[:]) {
			if err := logIt.Error(); err != nil {
				return err
			}
			return fmt.Errorf("eventlog: read position %d of stream %q: %w", pos, stream, pebble.ErrNotFound)
		}
		val, err := logIt.ValueAndErr()
		if err != nil {
			return err
		}
		if err := decodeView(pos, val, &v); err != nil {
			return err
		}
		if !fn(&v) {
			return nil
		}
		if backwards {
			valid = idx.Prev()
		} else {
			valid = idx.Next()
		}
	}
	return idx.Error()
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

// ReadAll calls fn for up to max events of the global log, forwards from position from
// (inclusive) or backwards from before position from (exclusive, math.MaxUint64 = the end),
// until fn returns false. Only committed events are visible. fn must neither block nor call
// the log: the read holds the store open against Close.
func (l *Log) ReadAll(from uint64, backwards bool, max uint64, fn func(Record) bool) error {
	return l.ScanAll(from, backwards, max, func(v *View) bool { return fn(v.Record()) })
}

// ScanAll is ReadAll without copies: fn gets a View valid only until it returns.
func (l *Log) ScanAll(from uint64, backwards bool, max uint64, fn func(*View) bool) error {
	head := l.head.Load()
	if max == 0 || head == 0 {
		return nil
	}
	if !l.enter() {
		return l.closedErr()
	}
	defer l.leave()
	var lower, upper [9]byte
	putLogKey(lower[:], 1)
	putLogKey(upper[:], head+1)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower[:], UpperBound: upper[:]})
	if err != nil {
		return err
	}
	defer it.Close()
	var seek [9]byte
	var valid bool
	if backwards {
		if from > head {
			valid = it.Last()
		} else {
			putLogKey(seek[:], from)
			valid = it.SeekLT(seek[:])
		}
	} else {
		putLogKey(seek[:], from)
		valid = it.SeekGE(seek[:])
	}
	var v View
	for n := uint64(0); valid && n < max; n++ {
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := decodeView(binary.BigEndian.Uint64(it.Key()[1:]), val, &v); err != nil {
			return err
		}
		if !fn(&v) {
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
