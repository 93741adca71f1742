package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
)

// A rebuild applies the audit trail many events per transaction, its writes combined
// (projections.Writes): it must leave exactly the keys that one event per transaction leaves,
// and the time index must be the prefix maxima and suffix minima of occurred_at over the log
// even when writers' clocks disagree.
func TestBatchedEqualsOneByOne(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	reg := eventschema.MustPortal()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var events []eventstore.RecordedEvent
	var occurred []int64
	for i := range 600 {
		tenant := []string{"ta", "tb"}[r.IntN(2)]
		tk := domain.TicketID(fmt.Sprint("tk", r.IntN(40)))
		var ev domain.Event
		switch r.IntN(3) {
		case 0:
			ev = &domain.TicketOpened{Ticket: tk, Company: domain.CompanyID(fmt.Sprint("c", r.IntN(5))), Type: "incident", Status: domain.TicketOpen, Title: "t"}
		case 1:
			ev = &domain.TicketStatusChanged{Ticket: tk, From: domain.TicketOpen, To: domain.TicketInProgress}
		default:
			ev = &domain.TicketCommented{Ticket: tk, Comment: fmt.Sprint("cm", i), Author: "p1", Body: "b"}
		}
		// Mostly increasing times, several events a second, with skewed writers now and then
		// (and equal times).
		at := base.Add(time.Duration(i) * 300 * time.Millisecond)
		if r.IntN(4) == 0 {
			at = at.Add(-time.Duration(r.IntN(120)) * time.Second)
		}
		actor := eventschema.UserActor(fmt.Sprint("u", r.IntN(3)))
		env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: tenant, OccurredAt: at, Actor: actor,
			CorrelationID: "c", CausationID: "c", Command: "Cmd"}
		enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(i + 1)
		events = append(events, eventstore.RecordedEvent{ID: enc.EventID, Stream: "ticket-" + tenant + "-" + string(tk), Type: enc.Type,
			Data: enc.Data, Metadata: enc.Metadata, Position: eventstore.Position{Commit: n * 100, Prepare: n * 100}})
		if tenant == "ta" {
			occurred = append(occurred, at.Unix())
		}
	}

	one := projections.Keys{Prefix: prefix, Gen: 1}
	r1 := projections.NewRunner(audit.Projection{}, rdb, reg, one)
	for _, e := range events {
		if err := r1.Handle(projections.ToMessage(e)); err != nil {
			t.Fatal(err)
		}
	}
	batched := projections.Keys{Prefix: prefix, Gen: 2}
	r2 := projections.NewRunner(audit.Projection{}, rdb, reg, batched)
	for chunk := range slices.Chunk(events, 97) {
		if err := r2.ApplyBatch(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	strip := func(m map[string]string, k projections.Keys) map[string]string {
		out := map[string]string{}
		for key, v := range m {
			out[strings.TrimPrefix(key, fmt.Sprintf("%s:g%d:", k.Prefix, k.Gen))] = v
		}
		return out
	}
	// A replay that overlaps what was applied (the script's head skips the events at or before
	// it, also in the middle of a batch), applied without the runner's checkpoint.
	replayed := projections.Keys{Prefix: prefix, Gen: 3}
	var decoded []projections.Event
	for _, e := range events {
		d, err := projections.Decode(reg, e)
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, d)
	}
	applyBatches(t, rdb, replayed, decoded[:300], 97)
	applyBatches(t, rdb, replayed, decoded[250:], 120)
	applyBatches(t, rdb, replayed, decoded[:100], 100)
	for _, tenant := range []domain.TenantID{"ta", "tb"} {
		a := strip(dump(t, rdb, one, tenant), one)
		if d := diffDumps(a, strip(dump(t, rdb, batched, tenant), batched)); d != "" {
			t.Fatalf("%s: batched differs from one by one:\n%s", tenant, d)
		}
		if d := diffDumps(a, strip(dump(t, rdb, replayed, tenant), replayed)); d != "" {
			t.Fatalf("%s: overlapping replays differ from one by one:\n%s", tenant, d)
		}
	}
	// The time index of tenant ta, against its definition: the seconds of the prefix maxima
	// (strict) and of the strict suffix minima.
	var wantFirst, wantLast []float64
	for i, sec := range occurred {
		if len(wantFirst) == 0 || float64(sec) > wantFirst[len(wantFirst)-1] {
			wantFirst = append(wantFirst, float64(sec))
		}
		least := true
		for _, later := range occurred[i+1:] {
			if later <= sec {
				least = false
			}
		}
		if least {
			wantLast = append(wantLast, float64(sec))
		}
	}
	if len(wantFirst) >= len(occurred)/2 || len(wantLast) >= len(occurred)/2 {
		t.Fatalf("the time index should hold about one entry a second: %d and %d entries for %d events", len(wantFirst), len(wantLast), len(occurred))
	}
	// Records of the time index: a second (16 hex digits, offset binary) and a member each.
	seconds := func(records []string) []float64 {
		var out []float64
		for _, r := range records {
			u, err := strconv.ParseUint(r[:16], 16, 64)
			if err != nil || len(r) != 48 {
				t.Fatalf("bad time record %q", r)
			}
			out = append(out, float64(int64(u^1<<63)))
		}
		return out
	}
	P := batched.Tenant("ta") + "audit:v3:"
	var firsts []string
	for s := rdb.Get(ctx, P+"t:first").Val(); len(s) > 0; s = s[min(48, len(s)):] {
		firsts = append(firsts, s[:min(48, len(s))])
	}
	scores := func(key string) []float64 {
		if key == P+"t:first" {
			return seconds(firsts)
		}
		return seconds(rdb.LRange(ctx, key, 0, -1).Val())
	}
	if got := scores(P + "t:first"); !slices.Equal(got, wantFirst) {
		t.Errorf("t:first = %v\nwant %v", got, wantFirst)
	}
	if got := scores(P + "t:last"); !slices.Equal(got, wantLast) {
		t.Errorf("t:last = %v\nwant %v", got, wantLast)
	}

	// Queries over the skewed, sub-second times: every combination of a time range (to the
	// millisecond, bounds inside seconds), an actor and a ticket, paged, equals the events that
	// match, in log order.
	type fact struct {
		pos    eventstore.Position
		at     time.Time
		actor  string
		ticket string
	}
	var facts []fact
	for _, e := range decoded {
		if e.Envelope.Tenant != "ta" {
			continue
		}
		subjects, _ := audit.Refs(e.Payload)
		tk := ""
		for _, s := range subjects {
			if strings.HasPrefix(s, "tk") {
				tk = s
			}
		}
		facts = append(facts, fact{e.Position, e.Envelope.OccurredAt, e.Envelope.Actor.String(), tk})
	}
	span := time.Duration(len(events)) * 300 * time.Millisecond
	for range 150 {
		f := audit.Filter{Limit: 1 + r.IntN(30), MaxScan: r.IntN(3) * 40}
		if r.IntN(4) > 0 {
			f.From = base.Add(time.Duration(r.Int64N(int64(span))) - 60*time.Second).Truncate(time.Millisecond)
		}
		if r.IntN(4) > 0 {
			f.To = f.From.Add(time.Duration(1 + r.Int64N(int64(span/4)))).Truncate(time.Millisecond)
			if f.From.IsZero() {
				f.To = base.Add(time.Duration(r.Int64N(int64(span))))
			}
		}
		if r.IntN(3) == 0 {
			f.Actor = fmt.Sprint("user:u", r.IntN(3))
		}
		if r.IntN(3) == 0 {
			f.Subject = fmt.Sprint("tk", r.IntN(40))
		}
		if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
			continue
		}
		var want []eventstore.Position
		for _, x := range facts {
			if (f.From.IsZero() || !x.at.Before(f.From)) && (f.To.IsZero() || x.at.Before(f.To)) &&
				(f.Actor == "" || x.actor == f.Actor) && (f.Subject == "" || x.ticket == f.Subject) {
				want = append(want, x.pos)
			}
		}
		for _, k := range []projections.Keys{one, batched} {
			got, _ := queryAll(t, rdb, k, "ta", f)
			var gotPos []eventstore.Position
			for _, e := range got {
				gotPos = append(gotPos, e.Position)
			}
			if !slices.Equal(gotPos, want) {
				t.Fatalf("%+v: %d entries %v\nwant %d %v", f, len(gotPos), gotPos, len(want), want)
			}
		}
	}
}
