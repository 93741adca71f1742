package eventlog_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

func open(t *testing.T, dir string) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func tctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func events(n int, tag string) []eventlog.Proposed {
	out := make([]eventlog.Proposed, n)
	for i := range out {
		out[i] = eventlog.Proposed{ID: uuid.New(), Type: "E", ContentType: "application/json",
			Data: fmt.Appendf(nil, `{"tag":%q,"i":%d}`, tag, i)}
	}
	return out
}

type snapshot struct {
	all     []eventlog.Record
	streams map[string][]eventlog.Record
	head    uint64
}

func readEverything(t *testing.T, l *eventlog.Log, streams []string) snapshot {
	t.Helper()
	s := snapshot{streams: map[string][]eventlog.Record{}, head: l.Head()}
	if err := l.ReadAll(0, false, math.MaxUint64, func(r eventlog.Record) bool {
		s.all = append(s.all, r)
		return true
	}); err != nil {
		t.Fatalf("read $all: %v", err)
	}
	for _, name := range streams {
		if err := l.ReadStream(name, 0, false, math.MaxUint64, func(r eventlog.Record) bool {
			s.streams[name] = append(s.streams[name], r)
			return true
		}); err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
	}
	return s
}

// TestConcurrentAppendsWithExpectedRevisions has 64 goroutines append to a few shared streams
// with exact expected revisions, retrying on conflicts, and checks that the log comes out
// consistent: contiguous revisions, strictly increasing positions, every acknowledged event
// exactly once, nothing else — and that it all survives a reopen.
func TestConcurrentAppendsWithExpectedRevisions(t *testing.T) {
	const (
		writers    = 64
		perWriter  = 8 // successful appends each
		streamsN   = 4
		maxPerCall = 3
	)
	dir := t.TempDir()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	streams := make([]string, streamsN)
	for i := range streams {
		streams[i] = fmt.Sprintf("shared-%d", i)
	}

	type ack struct {
		stream string
		ids    []uuid.UUID
		res    eventlog.AppendResult
	}
	var (
		mu        sync.Mutex
		acked     []ack
		conflicts int
		wg        sync.WaitGroup
		failures  = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				stream := streams[(w+i)%streamsN]
				evs := events(1+(w+i)%maxPerCall, fmt.Sprintf("w%d-%d", w, i))
				for attempt := 0; ; attempt++ {
					if attempt == 10_000 {
						// Only a conflict that wrote some of the events could keep refusing
						// them (as misplaced duplicates) forever.
						failures <- fmt.Errorf("writer %d append %d: still conflicting after %d attempts", w, i, attempt)
						return
					}
					last, _ := l.StreamLast(stream)
					exp := eventlog.Expected{Kind: eventlog.ExpectNoStream}
					if last >= 0 {
						exp = eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: uint64(last)}
					}
					res, err := l.Append(tctx(t), stream, exp, evs)
					var wev *eventlog.WrongExpectedVersionError
					if errors.As(err, &wev) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						// Offer the same events again at the new end: a conflict must not have
						// written any of them, or they would now be refused as duplicates.
						continue
					}
					if err != nil {
						failures <- fmt.Errorf("writer %d append %d: %w", w, i, err)
						return
					}
					ids := make([]uuid.UUID, len(evs))
					for j, e := range evs {
						ids[j] = e.ID
					}
					mu.Lock()
					acked = append(acked, ack{stream, ids, res})
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatal(err)
	}
	if len(acked) != writers*perWriter {
		t.Fatalf("%d successful appends, want %d", len(acked), writers*perWriter)
	}
	t.Logf("%d appends, %d conflicts retried", len(acked), conflicts)

	check := func(s snapshot) {
		t.Helper()
		// Every acknowledged event is in $all exactly once, and nothing else is.
		want := map[uuid.UUID]string{}
		total := 0
		for _, a := range acked {
			for _, id := range a.ids {
				want[id] = a.stream
				total++
			}
		}
		if len(s.all) != total {
			t.Fatalf("$all holds %d events, %d were acknowledged", len(s.all), total)
		}
		seen := map[uuid.UUID]bool{}
		var prev uint64
		for _, r := range s.all {
			if r.Position <= prev {
				t.Fatalf("position %d after %d in $all", r.Position, prev)
			}
			prev = r.Position
			if seen[r.ID] {
				t.Fatalf("event %s appears twice", r.ID)
			}
			seen[r.ID] = true
			if stream, ok := want[r.ID]; !ok || stream != r.Stream {
				t.Fatalf("event %s in %q was not acknowledged there (%q)", r.ID, r.Stream, stream)
			}
		}
		if s.head != prev {
			t.Fatalf("head %d, last position in $all %d", s.head, prev)
		}
		// Each stream has revisions 0..n-1, in position order.
		n := 0
		for _, name := range streams {
			for i, r := range s.streams[name] {
				if r.Revision != uint64(i) || r.Stream != name {
					t.Fatalf("%s[%d] has revision %d (stream %q)", name, i, r.Revision, r.Stream)
				}
				if i > 0 && r.Position <= s.streams[name][i-1].Position {
					t.Fatalf("%s[%d] position %d not after %d", name, i, r.Position, s.streams[name][i-1].Position)
				}
			}
			n += len(s.streams[name])
		}
		if n != total {
			t.Fatalf("streams hold %d events, want %d", n, total)
		}
		// Each append's events are contiguous in its stream and its result points at the last.
		byID := map[uuid.UUID]eventlog.Record{}
		for _, r := range s.all {
			byID[r.ID] = r
		}
		for _, a := range acked {
			first := byID[a.ids[0]]
			for j, id := range a.ids {
				r := byID[id]
				if r.Revision != first.Revision+uint64(j) {
					t.Fatalf("append to %s not contiguous: revision %d at index %d after %d", a.stream, r.Revision, j, first.Revision)
				}
			}
			last := byID[a.ids[len(a.ids)-1]]
			if a.res.NextRevision != int64(last.Revision) || a.res.Position != last.Position {
				t.Fatalf("append answered %+v, its last event is at revision %d position %d", a.res, last.Revision, last.Position)
			}
		}
	}
	before := readEverything(t, l, streams)
	check(before)

	// Reopen: everything is still there, with the same head.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, dir)
	after := readEverything(t, l2, streams)
	check(after)
	if after.head != before.head || len(after.all) != len(before.all) {
		t.Fatalf("after reopen: head %d (was %d), %d events (were %d)", after.head, before.head, len(after.all), len(before.all))
	}
	for _, name := range streams {
		last, _ := l2.StreamLast(name)
		if last != int64(len(before.streams[name]))-1 {
			t.Fatalf("%s: last revision %d after reopen, want %d", name, last, len(before.streams[name])-1)
		}
	}
	// And appends continue from where they were.
	last, _ := l2.StreamLast(streams[0])
	res, err := l2.Append(tctx(t), streams[0], eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: uint64(last)}, events(1, "after"))
	if err != nil || res.NextRevision != last+1 || res.Position != before.head+1 {
		t.Fatalf("append after reopen: %+v %v (head was %d)", res, err, before.head)
	}
}

// TestAnswersWaitForTheBatchesInFlight exercises the pipeline of the writer, which decides
// batches while earlier ones are still being fsynced: in every round, several goroutines offer
// the same event at once (so that a retry often meets the original still in flight) while others
// keep the writer busy on other streams. Every appender must get the same answer for the same
// event, and an answer must never run ahead of what readers see: when Append returns, the head
// covers the answer's position and the stream shows the event at the answered revision.
func TestAnswersWaitForTheBatchesInFlight(t *testing.T) {
	const (
		rounds   = 200
		retriers = 8
		noise    = 8
	)
	l := open(t, t.TempDir())
	stop := make(chan struct{})
	var noiseWG sync.WaitGroup
	noiseErr := make(chan error, noise)
	for n := range noise {
		noiseWG.Add(1)
		go func() {
			defer noiseWG.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(tctx(t), fmt.Sprintf("noise-%d", n), eventlog.Expected{}, events(1+i%3, "noise")); err != nil {
					noiseErr <- err
					return
				}
			}
		}()
	}
	var want []uuid.UUID
	for round := range rounds {
		ev := events(1, fmt.Sprintf("round-%d", round))
		want = append(want, ev[0].ID)
		results := make([]eventlog.AppendResult, retriers)
		errs := make([]error, retriers)
		var wg sync.WaitGroup
		for g := range retriers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := l.Append(tctx(t), "retried", eventlog.Expected{}, ev)
				if err == nil && l.Head() < res.Position {
					err = fmt.Errorf("answered position %d while the head is %d", res.Position, l.Head())
				}
				if err == nil {
					var got eventlog.Record
					err = l.ReadStream("retried", uint64(res.NextRevision), false, 1, func(r eventlog.Record) bool { got = r; return false })
					if err == nil && got.ID != ev[0].ID {
						err = fmt.Errorf("revision %d holds %s, not the acknowledged %s", res.NextRevision, got.ID, ev[0].ID)
					}
				}
				results[g], errs[g] = res, err
			}()
		}
		wg.Wait()
		for g := range retriers {
			if errs[g] != nil {
				t.Fatalf("round %d, appender %d: %v", round, g, errs[g])
			}
			if results[g] != results[0] {
				t.Fatalf("round %d: appender %d got %+v, appender 0 got %+v", round, g, results[g], results[0])
			}
		}
		if results[0].NextRevision != int64(round) {
			t.Fatalf("round %d: event at revision %d", round, results[0].NextRevision)
		}
	}
	close(stop)
	noiseWG.Wait()
	close(noiseErr)
	for err := range noiseErr {
		t.Fatal(err)
	}
	var got []uuid.UUID
	if err := l.ReadStream("retried", 0, false, math.MaxUint64, func(r eventlog.Record) bool { got = append(got, r.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stream holds %d events, want each of the %d offered once, in order", len(got), len(want))
	}
}

func TestIdempotentRetryAndMisplacedDuplicate(t *testing.T) {
	l := open(t, t.TempDir())
	evs := events(2, "a")
	first, err := l.Append(tctx(t), "s", eventlog.Expected{Kind: eventlog.ExpectNoStream}, evs)
	if err != nil {
		t.Fatal(err)
	}
	// A retry of the same append (same ids, same place) is acknowledged again, unwritten.
	again, err := l.Append(tctx(t), "s", eventlog.Expected{Kind: eventlog.ExpectNoStream}, evs)
	if err != nil || again != first {
		t.Fatalf("retry: %+v %v, first %+v", again, err, first)
	}
	if _, err := l.Append(tctx(t), "s", eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: 1}, events(1, "b")); err != nil {
		t.Fatal(err)
	}
	// The same ids elsewhere in the stream are refused.
	_, err = l.Append(tctx(t), "s", eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: 2}, evs[1:])
	var wev *eventlog.WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.Current != 2 {
		t.Fatalf("misplaced duplicate: %v", err)
	}
	// A retry in the same batch as the original (concurrent submissions) is recognised too.
	dup := events(1, "c")
	var wg sync.WaitGroup
	results := make([]eventlog.AppendResult, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = l.Append(tctx(t), "dup-stream", eventlog.Expected{Kind: eventlog.ExpectAny}, dup)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("concurrent retries: %+v %v vs %+v", results[i], errs[i], results[0])
		}
	}
	n := 0
	if err := l.ReadStream("dup-stream", 0, false, 100, func(eventlog.Record) bool { n++; return true }); err != nil || n != 1 {
		t.Fatalf("dup-stream holds %d events (%v), want 1", n, err)
	}
}

func TestIdempotencyAfterReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	short, long := events(3, "short"), events(1, "long")
	if _, err := l.Append(tctx(t), "short", eventlog.Expected{}, short); err != nil {
		t.Fatal(err)
	}
	for range 300 { // longer than the id cache loads from storage
		if _, err := l.Append(tctx(t), "long", eventlog.Expected{}, events(1, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(tctx(t), "long", eventlog.Expected{}, long); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir)
	// After a restart the ids are known from storage: the same ids are refused elsewhere...
	var wev *eventlog.WrongExpectedVersionError
	if _, err := l.Append(tctx(t), "short", eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: 2}, short[2:]); !errors.As(err, &wev) {
		t.Fatalf("short stream, misplaced duplicate after reopen: %v", err)
	}
	if _, err := l.Append(tctx(t), "long", eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: 300}, long); !errors.As(err, &wev) {
		t.Fatalf("long stream, misplaced duplicate after reopen: %v", err)
	}
	// ...a retry at the same place is acknowledged, and new events still go in.
	if res, err := l.Append(tctx(t), "short", eventlog.Expected{Kind: eventlog.ExpectNoStream}, short); err != nil || res.NextRevision != 2 {
		t.Fatalf("retry after reopen: %+v %v", res, err)
	}
	for i := range 3 {
		if res, err := l.Append(tctx(t), "short", eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: uint64(2 + i)}, events(1, "n")); err != nil || res.NextRevision != int64(3+i) {
			t.Fatalf("new append %d after reopen: %+v %v", i, res, err)
		}
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	if _, err := eventlog.Open(dir, eventlog.Options{}); !errors.Is(err, eventlog.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Once closed, the directory can be opened again.
	open(t, dir)
}

func TestClosedLogRefusesWork(t *testing.T) {
	l, err := eventlog.Open(t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(tctx(t), "s", eventlog.Expected{}, events(1, "a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(tctx(t), "s", eventlog.Expected{}, events(1, "b")); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := l.ReadAll(0, false, 10, func(eventlog.Record) bool { return true }); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := l.ReadStream("s", 0, false, 10, func(eventlog.Record) bool { return true }); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("stream read after close: %v", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

// TestCloseDuringAppends closes the log under concurrent appenders and readers: no panic, and
// every append either succeeded (and is there after reopening) or failed with ErrClosed.
func TestCloseDuringAppends(t *testing.T) {
	dir := t.TempDir()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ok []uuid.UUID
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				evs := events(1, fmt.Sprint(w, i))
				_, err := l.Append(context.Background(), fmt.Sprint("s-", w), eventlog.Expected{}, evs)
				if errors.Is(err, eventlog.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				ok = append(ok, evs[0].ID)
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for {
				err := l.ReadAll(0, false, 100, func(eventlog.Record) bool { return true })
				if errors.Is(err, eventlog.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	l2 := open(t, dir)
	have := map[uuid.UUID]bool{}
	if err := l2.ReadAll(0, false, math.MaxUint64, func(r eventlog.Record) bool { have[r.ID] = true; return true }); err != nil {
		t.Fatal(err)
	}
	for _, id := range ok {
		if !have[id] {
			t.Fatalf("acknowledged event %s lost", id)
		}
	}
	t.Logf("%d acknowledged appends before close", len(ok))
}

// TestKill9KeepsAcknowledgedEvents runs appenders in a child process, kills it with SIGKILL
// while they are busy, and checks that every append the child saw acknowledged is there after
// reopening the directory.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	if dir := os.Getenv("EVENTLOG_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedEvents$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EVENTLOG_CRASH_CHILD="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uuid.UUID]string{}
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for len(acked) < 2000 && time.Now().Before(deadline) && sc.Scan() {
		var stream, id string
		if _, err := fmt.Sscan(sc.Text(), &stream, &id); err != nil {
			continue
		}
		acked[uuid.MustParse(id)] = stream
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acknowledgements already written to the pipe count too.
	for sc.Scan() {
		var stream, id string
		if _, err := fmt.Sscan(sc.Text(), &stream, &id); err == nil {
			acked[uuid.MustParse(id)] = stream
		}
	}
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}

	l := open(t, dir)
	have := map[uuid.UUID]eventlog.Record{}
	var prev uint64
	if err := l.ReadAll(0, false, math.MaxUint64, func(r eventlog.Record) bool {
		if r.Position <= prev {
			t.Fatalf("position %d after %d", r.Position, prev)
		}
		prev = r.Position
		have[r.ID] = r
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for id, stream := range acked {
		if r, ok := have[id]; !ok || r.Stream != stream {
			t.Fatalf("acknowledged event %s of %s lost after kill -9 (%d acknowledged, %d recovered)", id, stream, len(acked), len(have))
		}
	}
	if l.Head() != prev {
		t.Fatalf("head %d, last recovered position %d", l.Head(), prev)
	}
	// Streams are contiguous and appends continue after the recovered end.
	for s := range 8 {
		name := fmt.Sprint("crash-", s)
		var n int64
		_ = l.ReadStream(name, 0, false, math.MaxUint64, func(r eventlog.Record) bool {
			if r.Revision != uint64(n) {
				t.Fatalf("%s: revision %d at index %d", name, r.Revision, n)
			}
			n++
			return true
		})
		if last, _ := l.StreamLast(name); last != n-1 {
			t.Fatalf("%s: last revision %d, %d events readable", name, last, n)
		}
		if _, err := l.Append(tctx(t), name, eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: uint64(n - 1)}, events(1, "after")); n > 0 && err != nil {
			t.Fatalf("append to %s after recovery: %v", name, err)
		}
	}
	t.Logf("%d acknowledged before the kill, %d events recovered", len(acked), len(have))
}

// crashChild appends forever from 8 goroutines, printing each acknowledged event.
func crashChild(dir string) {
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var mu sync.Mutex
	for s := range 8 {
		go func() {
			name := fmt.Sprint("crash-", s)
			for {
				evs := events(1+s%3, name)
				if _, err := l.Append(context.Background(), name, eventlog.Expected{}, evs); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				for _, e := range evs {
					fmt.Printf("%s %s\n", name, e.ID)
				}
				mu.Unlock()
			}
		}()
	}
	select {}
}
