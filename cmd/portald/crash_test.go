package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

// attempt is an event a writer offered; acked says whether the store acknowledged it.
type attempt struct {
	id    uuid.UUID
	data  string
	acked bool
	rev   uint64
}

// TestCrashKeepsEveryAcknowledgedEvent runs the portald binary, appends from concurrent writers,
// SIGKILLs it mid-load, restarts it, and checks that every acknowledged event is there exactly
// once, in order, intact — several times over the same data directory.
func TestCrashKeepsEveryAcknowledgedEvent(t *testing.T) {
	bin := testkit.BuildPortald(t)
	dir := t.TempDir()
	const writers, rounds = 16, 4
	attempts := map[uuid.UUID]*attempt{}
	var mu sync.Mutex
	history := make([][]*attempt, writers) // per stream, in revision order, as verified
	totalAcked := 0

	for round := 0; round <= rounds; round++ {
		p := testkit.StartPortald(t, bin, dir)
		c, err := eventstore.Connect(p.ESDBURL(), testkit.Logger())
		if err != nil {
			t.Fatal(err)
		}
		verify(t, c, writers, attempts, history)
		if round == rounds {
			verifyAll(t, c, attempts, history)
			c.Close()
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := fmt.Sprintf("crash-%d", w)
				for seq := 0; ; seq++ {
					a := &attempt{id: uuid.New(), data: fmt.Sprintf(`{"writer":%d,"round":%d,"seq":%d}`, w, round, seq)}
					mu.Lock()
					attempts[a.id] = a
					expected := eventstore.NoStream()
					if n := len(history[w]); n > 0 {
						expected = eventstore.AtRevision(uint64(n - 1))
					}
					mu.Unlock()
					res, err := c.Append(ctx, stream, expected, eventstore.EventData{ID: a.id, Type: "CrashTestEvent", Data: []byte(a.data)})
					if err != nil {
						return // the process is gone (or the test is ending)
					}
					mu.Lock()
					a.acked, a.rev = true, res.NextRevision
					history[w] = append(history[w], a)
					totalAcked++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		p.Kill() // SIGKILL mid-load
		cancel()
		wg.Wait()
		c.Close()
	}
	if totalAcked < 1000 {
		t.Fatalf("only %d events acknowledged across %d rounds: the load did not exercise the store", totalAcked, rounds)
	}
	t.Logf("%d acknowledged events across %d SIGKILLs, all present exactly once", totalAcked, rounds)
}

// verify reads every writer's stream after a restart: every acknowledged event must be at its
// revision, revisions contiguous, data intact. Events that landed without an acknowledgement
// (the process died before answering) are adopted into the history.
func verify(t *testing.T, c *eventstore.Client, writers int, attempts map[uuid.UUID]*attempt, history [][]*attempt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for w := range writers {
		stream := fmt.Sprintf("crash-%d", w)
		var got []eventstore.RecordedEvent
		err := c.ReadStream(ctx, stream, 0, 1<<40, func(e eventstore.RecordedEvent) error { got = append(got, e); return nil })
		if errors.Is(err, eventstore.ErrStreamNotFound) && len(history[w]) == 0 {
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		if len(got) < len(history[w]) {
			t.Fatalf("%s lost acknowledged events: %d stored, %d acknowledged", stream, len(got), len(history[w]))
		}
		for i, e := range got {
			if e.Revision != uint64(i) {
				t.Fatalf("%s: revision %d at index %d", stream, e.Revision, i)
			}
			a, ok := attempts[e.ID]
			if !ok {
				t.Fatalf("%s: unknown event %s at revision %d", stream, e.ID, i)
			}
			if string(e.Data) != a.data {
				t.Fatalf("%s: event %s torn or altered: %q, sent %q", stream, e.ID, e.Data, a.data)
			}
			if i < len(history[w]) {
				if history[w][i].id != e.ID {
					t.Fatalf("%s: revision %d holds %s, acknowledged %s", stream, i, e.ID, history[w][i].id)
				}
				continue
			}
			history[w] = append(history[w], a) // landed, but the answer died with the process
		}
	}
}

// verifyAll checks $all: every stored event once, positions strictly increasing.
func verifyAll(t *testing.T, c *eventstore.Client, attempts map[uuid.UUID]*attempt, history [][]*attempt) {
	t.Helper()
	seen := map[uuid.UUID]bool{}
	var last eventstore.Position
	err := c.ReadAll(context.Background(), eventstore.Position{}, 1<<40, func(e eventstore.RecordedEvent) error {
		if e.Type != "CrashTestEvent" {
			return nil
		}
		if seen[e.ID] {
			return fmt.Errorf("event %s twice in $all", e.ID)
		}
		seen[e.ID] = true
		if !last.Less(e.Position) {
			return fmt.Errorf("position %v not after %v", e.Position, last)
		}
		last = e.Position
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, h := range history {
		want += len(h)
		for _, a := range h {
			if !seen[a.id] {
				t.Fatalf("event %s missing from $all", a.id)
			}
		}
	}
	if len(seen) != want {
		t.Fatalf("$all holds %d test events, the streams %d", len(seen), want)
	}
}
