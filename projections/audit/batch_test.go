package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
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
		// Mostly increasing times, with skewed writers now and then (and equal times).
		at := base.Add(time.Duration(i) * time.Second)
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
			occurred = append(occurred, at.UnixMilli())
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
	for _, tenant := range []domain.TenantID{"ta", "tb"} {
		a, b := strip(dump(t, rdb, one, tenant), one), strip(dump(t, rdb, batched, tenant), batched)
		if d := diffDumps(a, b); d != "" {
			t.Fatalf("%s: batched differs from one by one:\n%s", tenant, d)
		}
	}
	// The time index of tenant ta, against its definition.
	var wantFirst, wantLast []float64
	for i, ms := range occurred {
		if len(wantFirst) == 0 || float64(ms) > wantFirst[len(wantFirst)-1] {
			wantFirst = append(wantFirst, float64(ms))
		}
		least := true
		for _, later := range occurred[i+1:] {
			if later < ms {
				least = false
			}
		}
		if least {
			wantLast = append(wantLast, float64(ms))
		}
	}
	scores := func(key string) []float64 {
		var out []float64
		for _, z := range rdb.ZRangeWithScores(ctx, key, 0, -1).Val() {
			out = append(out, z.Score)
		}
		return out
	}
	P := batched.Tenant("ta") + "audit:"
	if got := scores(P + "time:first"); !slices.Equal(got, wantFirst) {
		t.Errorf("time:first = %v\nwant %v", got, wantFirst)
	}
	if got := scores(P + "time:last"); !slices.Equal(got, wantLast) {
		t.Errorf("time:last = %v\nwant %v", got, wantLast)
	}
}
