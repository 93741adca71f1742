package esdbserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/testkit"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func ev(typ string, data string) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: []byte(data), Metadata: []byte(`{"m":1}`)}
}

func readStream(t *testing.T, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, n uint64) ([]*esdb.ResolvedEvent, error) {
	t.Helper()
	rs, err := c.ReadStream(ctx(t), stream, opts, n)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.ResolvedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func readAll(t *testing.T, c *esdb.Client, opts esdb.ReadAllOptions, n uint64) []*esdb.ResolvedEvent {
	t.Helper()
	rs, err := c.ReadAll(ctx(t), opts, n)
	if err != nil {
		t.Fatalf("read $all: %v", err)
	}
	defer rs.Close()
	var out []*esdb.ResolvedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read $all: %v", err)
		}
		out = append(out, e)
	}
}

func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

func TestAppendAndReadStream(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())

	before := time.Now()
	events := []esdb.EventData{ev("A", `{"n":0}`), ev("B", `{"n":1}`), ev("C", `{"n":2}`)}
	res, err := c.AppendToStream(ctx(t), "company-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, events...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if res.NextExpectedVersion != 2 || res.CommitPosition == 0 || res.CommitPosition != res.PreparePosition {
		t.Fatalf("unexpected write result %+v", res)
	}

	got, err := readStream(t, c, "company-1", esdb.ReadStreamOptions{From: esdb.Start{}}, 100)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, g := range got {
		e := g.OriginalEvent()
		if e.EventID != events[i].EventID || e.EventType != events[i].EventType || string(e.Data) != string(events[i].Data) ||
			string(e.UserMetadata) != `{"m":1}` || e.EventNumber != uint64(i) || e.StreamID != "company-1" || e.ContentType != "application/json" {
			t.Errorf("event %d = %+v, want %+v", i, e, events[i])
		}
		if e.CreatedDate.Before(before.Add(-time.Second)) || e.CreatedDate.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d created %v, not around now", i, e.CreatedDate)
		}
	}
	if got[2].OriginalEvent().Position.Commit != res.CommitPosition {
		t.Errorf("last event position %v, append said %d", got[2].OriginalEvent().Position, res.CommitPosition)
	}

	// From a revision (inclusive), with a count.
	got, _ = readStream(t, c, "company-1", esdb.ReadStreamOptions{From: esdb.Revision(1)}, 1)
	if len(got) != 1 || got[0].OriginalEvent().EventNumber != 1 {
		t.Fatalf("read from revision 1 count 1: %v", got)
	}
	// Backwards from the end and from a revision.
	got, _ = readStream(t, c, "company-1", esdb.ReadStreamOptions{From: esdb.End{}, Direction: esdb.Backwards}, 10)
	if len(got) != 3 || got[0].OriginalEvent().EventNumber != 2 || got[2].OriginalEvent().EventNumber != 0 {
		t.Fatalf("read backwards from end: %v", got)
	}
	got, _ = readStream(t, c, "company-1", esdb.ReadStreamOptions{From: esdb.Revision(1), Direction: esdb.Backwards}, 10)
	if len(got) != 2 || got[0].OriginalEvent().EventNumber != 1 {
		t.Fatalf("read backwards from 1: %v", got)
	}
	_, err = readStream(t, c, "nope", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if code(err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("read missing stream: err %v, want ResourceNotFound", err)
	}
}

func TestExpectedRevisionConflicts(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	if _, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, ev("A", "{}")); code(err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("stream_exists on a missing stream: %v", err)
	}
	if _, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, ev("A", "{}")); code(err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("revision 0 on a missing stream: %v", err)
	}
	if _, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev("A", "{}")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		expected esdb.ExpectedRevision
		ok       bool
	}{
		{"no_stream on existing", esdb.NoStream{}, false},
		{"stale revision", esdb.Revision(5), false},
		{"exact revision", esdb.Revision(0), true},
		{"same revision again", esdb.Revision(0), false},
		{"stream exists", esdb.StreamExists{}, true},
		{"any", esdb.Any{}, true},
	}
	for _, tc := range cases {
		_, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: tc.expected}, ev("A", "{}"))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && code(err) != esdb.ErrorCodeWrongExpectedVersion {
			t.Errorf("%s: err %v, want WrongExpectedVersion", tc.name, err)
		}
	}
	got, _ := readStream(t, c, "s", esdb.ReadStreamOptions{From: esdb.Start{}}, 100)
	if len(got) != 4 {
		t.Fatalf("stream has %d events after the refusals, want 4", len(got))
	}
}

func TestDuplicateAppendIsIdempotent(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	batch := []esdb.EventData{ev("A", "{}"), ev("B", "{}")}
	first, err := c.AppendToStream(ctx(t), "dup", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, batch...)
	if err != nil {
		t.Fatal(err)
	}
	for _, exp := range []esdb.ExpectedRevision{esdb.NoStream{}, esdb.Any{}, esdb.StreamExists{}} {
		again, err := c.AppendToStream(ctx(t), "dup", esdb.AppendToStreamOptions{ExpectedRevision: exp}, batch...)
		if err != nil {
			t.Fatalf("re-append with %T: %v", exp, err)
		}
		if again.NextExpectedVersion != first.NextExpectedVersion || again.CommitPosition != first.CommitPosition {
			t.Fatalf("re-append with %T answered %+v, first %+v", exp, again, first)
		}
	}
	// A later append after the duplicate still works and the stream holds each event once.
	if _, err := c.AppendToStream(ctx(t), "dup", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, ev("C", "{}")); err != nil {
		t.Fatal(err)
	}
	got, _ := readStream(t, c, "dup", esdb.ReadStreamOptions{From: esdb.Start{}}, 100)
	if len(got) != 3 {
		t.Fatalf("stream has %d events, want 3", len(got))
	}
	// The same ids at a different place are a conflict, not a silent success.
	if _, err := c.AppendToStream(ctx(t), "dup", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(2)}, batch...); code(err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("re-append at another revision: %v", err)
	}
}

func TestReadAllForwardsAndBackwards(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	var positions []uint64
	for i := range 10 {
		res, err := c.AppendToStream(ctx(t), fmt.Sprintf("s-%d", i%3), esdb.AppendToStreamOptions{}, ev("E", fmt.Sprintf(`{"i":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, res.CommitPosition)
	}
	all := readAll(t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 1000)
	if len(all) != 10 {
		t.Fatalf("read %d from $all, want 10", len(all))
	}
	for i, e := range all {
		if e.OriginalEvent().Position.Commit != positions[i] || string(e.OriginalEvent().Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("$all[%d] = %v, want position %d", i, e.OriginalEvent(), positions[i])
		}
		if e.Commit == nil || *e.Commit != positions[i] {
			t.Fatalf("$all[%d] commit position not reported", i)
		}
	}
	from := readAll(t, c, esdb.ReadAllOptions{From: esdb.Position{Commit: positions[4], Prepare: positions[4]}}, 3)
	if len(from) != 3 || from[0].OriginalEvent().Position.Commit != positions[4] {
		t.Fatalf("read $all from position (inclusive) count 3: %d events", len(from))
	}
	back := readAll(t, c, esdb.ReadAllOptions{From: esdb.End{}, Direction: esdb.Backwards}, 4)
	if len(back) != 4 || back[0].OriginalEvent().Position.Commit != positions[9] || back[3].OriginalEvent().Position.Commit != positions[6] {
		t.Fatalf("read $all backwards from end: %d events", len(back))
	}
	back = readAll(t, c, esdb.ReadAllOptions{From: esdb.Position{Commit: positions[4], Prepare: positions[4]}, Direction: esdb.Backwards}, 100)
	if len(back) != 4 || back[0].OriginalEvent().Position.Commit != positions[3] {
		t.Fatalf("read $all backwards from a position (exclusive): %d events", len(back))
	}
}

func TestSubscribeToAllCatchesUpThenGoesLive(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	for i := range 700 { // more than one server read chunk
		if _, err := c.AppendToStream(ctx(t), fmt.Sprintf("s-%d", i%7), esdb.AppendToStreamOptions{}, ev("E", fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := 0
	caughtUp := false
	for next < 700 || !caughtUp {
		e := sub.Recv()
		switch {
		case e.EventAppeared != nil:
			if caughtUp {
				t.Fatalf("historical event after caught_up")
			}
			if got := string(e.EventAppeared.OriginalEvent().Data); got != fmt.Sprintf(`{"i":%d}`, next) {
				t.Fatalf("event %d has data %s", next, got)
			}
			next++
		case e.CaughtUp != nil:
			if next != 700 {
				t.Fatalf("caught_up after %d of 700 events", next)
			}
			caughtUp = true
		case e.SubscriptionDropped != nil:
			t.Fatalf("dropped: %v", e.SubscriptionDropped.Error)
		}
	}
	// Live: events appended now arrive in order.
	go func() {
		for i := 700; i < 750; i++ {
			_, _ = c.AppendToStream(context.Background(), "live", esdb.AppendToStreamOptions{}, ev("E", fmt.Sprintf(`{"i":%d}`, i)))
		}
	}()
	for next < 750 {
		e := sub.Recv()
		if e.SubscriptionDropped != nil {
			t.Fatalf("dropped: %v", e.SubscriptionDropped.Error)
		}
		if e.EventAppeared != nil {
			if got := string(e.EventAppeared.OriginalEvent().Data); got != fmt.Sprintf(`{"i":%d}`, next) {
				t.Fatalf("live event %d has data %s", next, got)
			}
			next++
		}
	}
}

func TestSubscribeFromPositionIsExclusive(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	var positions []uint64
	for i := range 5 {
		res, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{}, ev("E", fmt.Sprintf(`{"i":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, res.CommitPosition)
	}
	sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Position{Commit: positions[2], Prepare: positions[2]}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	e := sub.Recv()
	if e.EventAppeared == nil || e.EventAppeared.OriginalEvent().Position.Commit != positions[3] {
		t.Fatalf("first event after position %d: %+v", positions[2], e)
	}
	// Stream subscription from a revision is exclusive too.
	ss, err := c.SubscribeToStream(ctx(t), "s", esdb.SubscribeToStreamOptions{From: esdb.Revision(3)})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	e = ss.Recv()
	if e.EventAppeared == nil || e.EventAppeared.OriginalEvent().EventNumber != 4 {
		t.Fatalf("first stream event after revision 3: %+v", e)
	}
}

func TestFilteredSubscriptionSendsCheckpoints(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	for i := range 100 {
		typ := "Noise"
		if i%10 == 0 {
			typ = "Wanted"
		}
		if _, err := c.AppendToStream(ctx(t), fmt.Sprintf("orders-%d", i), esdb.AppendToStreamOptions{}, ev(typ, "{}")); err != nil {
			t.Fatal(err)
		}
	}
	head, err := c.AppendToStream(ctx(t), "tail", esdb.AppendToStreamOptions{}, ev("Noise", "{}"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Want"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	wanted, checkpoints := 0, 0
	var lastCheckpoint uint64
	for lastCheckpoint < head.CommitPosition {
		e := sub.Recv()
		switch {
		case e.EventAppeared != nil:
			if e.EventAppeared.OriginalEvent().EventType != "Wanted" {
				t.Fatalf("filter let through %q", e.EventAppeared.OriginalEvent().EventType)
			}
			wanted++
		case e.CheckPointReached != nil:
			checkpoints++
			lastCheckpoint = e.CheckPointReached.Commit
		case e.SubscriptionDropped != nil:
			t.Fatal(e.SubscriptionDropped.Error)
		}
	}
	if wanted != 10 || checkpoints < 3 {
		t.Fatalf("wanted %d (want 10), checkpoints %d (want >= 3)", wanted, checkpoints)
	}

	// Stream-name regex filter, and the client's own "exclude system events" filter.
	if _, err := c.DeleteStream(ctx(t), "tail", esdb.DeleteStreamOptions{}); err != nil { // writes a $metadata system event
		t.Fatal(err)
	}
	sub2, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "^orders-[0-9]$"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	n := 0
	for {
		e := sub2.Recv()
		if e.CaughtUp != nil {
			break
		}
		if e.EventAppeared != nil {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("stream regex filter delivered %d, want 10", n)
	}
	sub3, err := c.SubscribeToAll(ctx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub3.Close()
	n = 0
	for {
		e := sub3.Recv()
		if e.CaughtUp != nil {
			break
		}
		if e.EventAppeared != nil {
			if e.EventAppeared.OriginalEvent().EventType[0] == '$' {
				t.Fatalf("system event %q delivered", e.EventAppeared.OriginalEvent().EventType)
			}
			n++
		}
	}
	if n != 101 {
		t.Fatalf("exclude-system filter delivered %d, want 101", n)
	}
}

func TestDeleteAndTombstone(t *testing.T) {
	srv := testkit.StartEventStore(t)
	c := testkit.OfficialClient(t, srv.ConnectionString())
	if _, err := c.AppendToStream(ctx(t), "soft", esdb.AppendToStreamOptions{}, ev("A", "{}"), ev("B", "{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteStream(ctx(t), "soft", esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(0)}); err == nil {
		t.Fatal("delete with a stale revision succeeded")
	}
	del, err := c.DeleteStream(ctx(t), "soft", esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil || del.Position.Commit == 0 {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if _, err := readStream(t, c, "soft", esdb.ReadStreamOptions{From: esdb.Start{}}, 10); code(err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("read soft-deleted stream: %v", err)
	}
	// Writing again continues the revisions; the old events stay hidden.
	res, err := c.AppendToStream(ctx(t), "soft", esdb.AppendToStreamOptions{}, ev("C", "{}"))
	if err != nil || res.NextExpectedVersion != 2 {
		t.Fatalf("append after delete: %v %+v", err, res)
	}
	got, err := readStream(t, c, "soft", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil || len(got) != 1 || got[0].OriginalEvent().EventType != "C" {
		t.Fatalf("read after re-append: %v %d", err, len(got))
	}

	if _, err := c.AppendToStream(ctx(t), "hard", esdb.AppendToStreamOptions{}, ev("A", "{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TombstoneStream(ctx(t), "hard", esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := readStream(t, c, "hard", esdb.ReadStreamOptions{From: esdb.Start{}}, 10); code(err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("read tombstoned stream: %v", err)
	}
	if _, err := c.AppendToStream(ctx(t), "hard", esdb.AppendToStreamOptions{}, ev("B", "{}")); code(err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("append to tombstoned stream: %v", err)
	}
	if _, err := c.TombstoneStream(ctx(t), "hard", esdb.TombstoneStreamOptions{}); code(err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("second tombstone: %v", err)
	}
	types := map[string]int{}
	for _, e := range readAll(t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 100) {
		types[e.OriginalEvent().EventType]++
	}
	if types["$metadata"] != 1 || types["$streamDeleted"] != 1 || types["A"] != 2 {
		t.Fatalf("$all holds %v", types)
	}
}

func TestServerFeaturesAndRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	c := testkit.OfficialClient(t, srv.ConnectionString())
	res, err := c.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{}, ev("A", "{}"), ev("B", "{}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv2 := testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	c2 := testkit.OfficialClient(t, srv2.ConnectionString())
	got, err := readStream(t, c2, "s", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("after restart: %v, %d events", err, len(got))
	}
	res2, err := c2.AppendToStream(ctx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, ev("C", "{}"))
	if err != nil || res2.CommitPosition <= res.CommitPosition {
		t.Fatalf("append after restart: %v, position %d after %d", err, res2.CommitPosition, res.CommitPosition)
	}
}

func TestSecondProcessOnSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	_, err := startErr(dir)
	if err == nil || !containsAll(err.Error(), "in use", dir) {
		t.Fatalf("second open of %s: %v", dir, err)
	}
}
