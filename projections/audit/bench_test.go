package audit_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
)

// benchEvents is a tenant's log of n events: 200 users of 50 companies (70%), 5 services that
// only comment and move statuses (20%), the system (10%); 10,000 tickets; one event a second
// with an occasional writer 3 s behind.
func benchEvents(n int) []projections.Event {
	rnd := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]projections.Event, n)
	for i := range events {
		var actor eventschema.Actor
		company, person := "", ""
		switch r := rnd.IntN(10); {
		case r < 7:
			u := rnd.IntN(200)
			person, company = fmt.Sprint("u", u), fmt.Sprint("c", u%50)
			actor = eventschema.UserActor(person)
		case r < 9:
			actor = eventschema.ServiceActor(fmt.Sprint("s", rnd.IntN(5)))
		default:
			actor = eventschema.SystemActor()
		}
		ticket := domain.TicketID(fmt.Sprint("tk", rnd.IntN(10_000)))
		var payload domain.Event
		switch k := i % 10; {
		case actor.Kind == eventschema.ActorService && k%2 == 0, k < 4:
			payload = &domain.TicketCommented{Ticket: ticket, Comment: uuid.NewString(), Author: domain.PersonID(person), Body: "a comment of some length, as they come"}
		case actor.Kind == eventschema.ActorService, k == 5:
			payload = &domain.TicketStatusChanged{Ticket: ticket, From: "open", To: "in_progress"}
		case k == 4:
			payload = &domain.TicketOpened{Ticket: ticket, Company: domain.CompanyID(fmt.Sprint("c", rnd.IntN(50))), Site: domain.SiteID(fmt.Sprint("s", rnd.IntN(300))),
				Type: "incident", Status: "open", Reporter: domain.PersonID(person), ResponsibleGroup: "g1", Title: "Something is broken"}
		case k == 6:
			payload = &domain.MembershipGranted{Person: domain.PersonID(fmt.Sprint("p", rnd.IntN(2000))), Company: domain.CompanyID(fmt.Sprint("c", rnd.IntN(50))),
				Role: domain.RoleBasic, Permissions: domain.PermissionSet{Named: "basic"}, Sites: []domain.SiteID{domain.SiteID(fmt.Sprint("s", rnd.IntN(300)))}}
		case k == 7:
			payload = &domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: fmt.Sprint("c", rnd.IntN(50)), Target: domain.CompanyID(fmt.Sprint("c", rnd.IntN(50)))}
		case k == 8:
			payload = &domain.DocumentAttached{Document: domain.DocID(uuid.NewString()), Ticket: ticket, Company: domain.CompanyID(fmt.Sprint("c", rnd.IntN(50))),
				Name: "photo.jpg", ContentType: "image/jpeg", SizeBytes: 123456, UploadedBy: domain.PersonID(person)}
		default:
			payload = &domain.UserInvited{Person: domain.PersonID(uuid.NewString()), Name: "Someone", Email: "someone@example.com",
				HomeCompany: domain.CompanyID(fmt.Sprint("c", rnd.IntN(50))), Class: domain.ClassNormal, TokenHash: "h", ExpiresAt: base}
		}
		at := base.Add(time.Duration(i) * time.Second)
		if rnd.IntN(100) == 0 {
			at = at.Add(-3 * time.Second)
		}
		events[i] = projections.Event{
			Envelope: eventschema.Envelope{EventID: uuid.New(), Type: payload.EventType(), SchemaVersion: 1, Tenant: "bench", OccurredAt: at,
				Actor: actor, ActorCompany: company, CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), Command: "Command"},
			Payload: payload, Stream: "ticket-bench-" + string(ticket), Revision: uint64(i % 17), Position: eventstore.Position{Commit: uint64(i + 1), Prepare: uint64(i + 1)},
		}
	}
	return events
}

// BenchmarkQuery queries a 100,000-entry audit trail in the real Redis.
func BenchmarkQuery(b *testing.B) {
	const n = 100_000
	rdb, prefix := testkit.Redis(b)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	events := benchEvents(n)
	start := time.Now()
	applyDirect(b, rdb, keys, events)
	b.Logf("applied %d events in %v (%.0f events/s, 500 per MULTI/EXEC)", n, time.Since(start), n/time.Since(start).Seconds())
	ctx := context.Background()
	// Redis memory of the trail: every key of the tenant's audit keyspace (MEMORY USAGE, which
	// counts each key's own overhead), per entry, split into the entries and the indexes.
	var entryBytes, indexBytes int64
	all := testkit.Keys(ctx, rdb, keys.Tenant("bench")+"audit:*")
	for i := 0; i < len(all); i += 1000 {
		chunk := all[i:min(i+1000, len(all))]
		cmds, _ := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.MemoryUsage(ctx, k, 0)
			}
			return nil
		})
		for j, c := range cmds {
			if strings.Contains(chunk[j], "audit:e:") {
				entryBytes += c.(*redis.IntCmd).Val()
			} else {
				indexBytes += c.(*redis.IntCmd).Val()
			}
		}
	}
	b.Logf("Redis memory: %d keys; per entry %d B: %d B its entry, %d B its index entries", len(all), (entryBytes+indexBytes)/n, entryBytes/n, indexBytes/n)
	base := events[0].Envelope.OccurredAt
	mid := events[n/2].Position

	for _, bc := range []struct {
		name string
		f    audit.Filter
	}{
		{"all/first-page", audit.Filter{}},
		{"all/deep-cursor", audit.Filter{After: mid}},
		{"actor", audit.Filter{Actor: "user:u7"}},
		{"type", audit.Filter{Type: "TicketStatusChanged", After: mid}},
		{"company", audit.Filter{Company: "c7"}},
		{"subject-ticket", audit.Filter{Subject: "tk123"}},
		{"actor+type", audit.Filter{Actor: "user:u7", Type: "TicketCommented"}},
		{"actor+company+type", audit.Filter{Actor: "user:u7", Company: "c7", Type: "DocumentAttached"}},
		{"time-1h", audit.Filter{From: base.Add(50_000 * time.Second), To: base.Add(53_600 * time.Second)}},
		{"time-1h+actor", audit.Filter{From: base.Add(50_000 * time.Second), To: base.Add(53_600 * time.Second), Actor: "system"}},
		{"sparse-no-match(scan-budget)", audit.Filter{Actor: "service:s1", Type: "UserInvited"}},
		{"all/limit-1000", audit.Filter{Limit: 1000}},
	} {
		page, err := audit.Query(ctx, rdb, keys, "bench", bc.f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportMetric(float64(len(page.Entries)), "entries/page")
			for b.Loop() {
				if _, err := audit.Query(ctx, rdb, keys, "bench", bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("export-company", func(b *testing.B) {
		var last int
		for b.Loop() {
			n, err := audit.Export(ctx, rdb, keys, "bench", audit.Filter{Company: "c7"}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			last = n
		}
		b.ReportMetric(float64(last), "entries")
	})
}
