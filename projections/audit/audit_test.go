package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

var t0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// spec is one event of the scenario with the subjects and companies it must be found under,
// written by hand (not derived with audit.Refs) so that the test checks the indexing.
type spec struct {
	tenant       domain.TenantID
	stream       string
	actor        eventschema.Actor
	actorCompany string
	at           time.Time
	payload      domain.Event
	subjects     string
	companies    string

	env  eventschema.Envelope
	data []byte
	pos  eventstore.Position
	rev  uint64
}

var (
	ann = eventschema.UserActor("ann") // of the provider "prov"
	bob = eventschema.UserActor("bob") // of the customer "cust"
	crm = eventschema.ServiceActor("crm")
	sys = eventschema.SystemActor()
)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// scenario: two tenants using the same ids, four kinds of actors, directory and ticket events,
// and one event whose occurred_at is earlier than the events before it (a writer's clock skew).
func scenario() []*spec {
	return []*spec{
		{tenant: "t1", stream: "directory-t1", actor: sys, at: minute(0), payload: domain.TenantConfigured{Tenant: "t1", Name: "T1", Seats: 5},
			subjects: "t1"},
		{tenant: "t1", stream: "directory-t1", actor: sys, at: minute(1), payload: domain.CompanyRegistered{Company: "prov", Name: "Provider", Kind: domain.KindProvider},
			subjects: "prov", companies: "prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(2), payload: domain.CompanyRegistered{Company: "cust", Name: "Customer", Kind: domain.KindCustomer},
			subjects: "cust", companies: "cust prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(3), payload: domain.SiteAdded{Company: "cust", Site: "s1", Name: "HQ"},
			subjects: "cust s1", companies: "cust prov"},
		{tenant: "t2", stream: "directory-t2", actor: sys, at: minute(3), payload: domain.TenantConfigured{Tenant: "t2", Name: "T2", Seats: 5},
			subjects: "t2"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(4), payload: domain.UserGroupCreated{Group: "g1", Name: "Support", SupportUser: true},
			subjects: "g1", companies: "prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(5), payload: domain.UserInvited{Person: "bob", Name: "Bob", Email: "bob@cust.example",
			HomeCompany: "cust", Group: "g1", Class: domain.ClassNormal, TokenHash: "h1", ExpiresAt: minute(5).Add(7 * 24 * time.Hour)},
			subjects: "bob cust g1", companies: "cust prov"},
		{tenant: "t1", stream: "directory-t1", actor: crm, at: minute(6), payload: domain.ContactAdded{Person: "carl", Name: "Carl", Email: "carl@cust.example", HomeCompany: "cust"},
			subjects: "carl cust", companies: "cust"},
		{tenant: "t1", stream: "ticket-t1-tk1", actor: bob, actorCompany: "cust", at: minute(7), payload: domain.TicketOpened{Ticket: "tk1", Company: "cust", Site: "s1", Type: "incident",
			Status: "open", Reporter: "bob", ResponsibleGroup: "g1", Title: "Broken"},
			subjects: "bob cust g1 s1 tk1", companies: "cust"},
		{tenant: "t2", stream: "directory-t2", actor: ann, actorCompany: "prov", at: minute(7), payload: domain.CompanyRegistered{Company: "cust", Name: "Other customer", Kind: domain.KindCustomer},
			subjects: "cust", companies: "cust prov"},
		{tenant: "t1", stream: "ticket-t1-tk1", actor: ann, actorCompany: "prov", at: minute(8), payload: domain.TicketAssigned{Ticket: "tk1", User: "ann", FromGroup: "g1"},
			subjects: "ann g1 tk1", companies: "prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(9), payload: domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: "cust", Target: "partner"},
			subjects: "cust partner", companies: "cust partner prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(10), payload: domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: "bob", Target: "partner"},
			subjects: "bob partner", companies: "partner prov"},
		{tenant: "t1", stream: "ticket-t1-tk1", actor: bob, actorCompany: "cust", at: minute(11), payload: domain.TicketStatusChanged{Ticket: "tk1", From: "open", To: "in_progress"},
			subjects: "tk1", companies: "cust"},
		{tenant: "t1", stream: "directory-t1", actor: sys, at: minute(12), payload: domain.InvitationExpired{Person: "bob"},
			subjects: "bob"},
		{tenant: "t2", stream: "ticket-t2-tk1", actor: bob, actorCompany: "cust", at: minute(12), payload: domain.TicketOpened{Ticket: "tk1", Company: "cust", Type: "incident",
			Status: "open", Reporter: "bob", Title: "Elsewhere"},
			subjects: "bob cust tk1", companies: "cust"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(13), payload: domain.MasterAdminTransferred{Company: "cust", From: "bob", To: "dave"},
			subjects: "bob cust dave", companies: "cust prov"},
		{tenant: "t1", stream: "ticket-t1-tk1", actor: ann, actorCompany: "prov", at: minute(14), payload: domain.ContractorAssigned{Ticket: "tk1", Contractor: "kon", Technician: "tim"},
			subjects: "kon tim tk1", companies: "kon prov"},
		{tenant: "t1", stream: "ticket-t1-tk1", actor: bob, actorCompany: "cust", at: minute(15), payload: domain.DocumentAttached{Document: "d1", Ticket: "tk1", Company: "cust",
			Name: "photo.jpg", ContentType: "image/jpeg", SizeBytes: 1234, UploadedBy: "bob"},
			subjects: "bob cust d1 tk1", companies: "cust"},
		// clock skew: written after minute 15, occurred "at minute 5"
		{tenant: "t1", stream: "ticket-t1-tk1", actor: crm, at: minute(5).Add(30 * time.Second), payload: domain.TicketCommented{Ticket: "tk1", Comment: "cm1", Body: "synced from the CRM"},
			subjects: "tk1"},
		{tenant: "t2", stream: "directory-t2", actor: ann, actorCompany: "prov", at: minute(16), payload: domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: "cust", Target: "partner"},
			subjects: "cust partner", companies: "cust partner prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(17), payload: domain.SitePermissionsSet{Person: "bob", ReadSites: []domain.SiteID{"s1"},
			WriteSites: []domain.SiteID{"s1"}, Responsible: []string{"g1", "ann"}},
			subjects: "ann bob g1 s1", companies: "prov"},
		{tenant: "t1", stream: "directory-t1", actor: ann, actorCompany: "prov", at: minute(18), payload: domain.RoleChanged{Person: "dave", Company: "cust", From: domain.RoleAdmin,
			Role: domain.RoleManager, Sites: []domain.SiteID{"s1"}},
			subjects: "cust dave s1", companies: "cust prov"},
	}
}

func appendSpecs(t *testing.T, store *eventstore.Client, specs []*spec) eventstore.Position {
	t.Helper()
	reg := eventschema.MustPortal()
	var last eventstore.Position
	for _, s := range specs {
		env := eventschema.Envelope{EventID: uuid.New(), Type: s.payload.EventType(), Tenant: string(s.tenant), OccurredAt: s.at,
			Actor: s.actor, ActorCompany: s.actorCompany, CorrelationID: "corr-" + s.payload.EventType(), CausationID: uuid.NewString(),
			Command: "Do" + s.payload.EventType(), Reason: "because " + s.payload.EventType()}
		enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: s.payload})
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Append(context.Background(), s.stream, eventstore.Any(),
			eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		env.SchemaVersion = 1
		s.env, s.data, s.pos, s.rev = env, enc.Data, res.Position, res.NextRevision
		last = res.Position
	}
	return last
}

func words(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Fields(s)
}

// matches is the oracle: what a filter must return, from the hand-written expectations.
func (s *spec) matches(tenant domain.TenantID, f audit.Filter) bool {
	return s.tenant == tenant &&
		(f.Actor == "" || s.actor.String() == f.Actor) &&
		(f.Type == "" || s.payload.EventType() == f.Type) &&
		(f.Company == "" || slices.Contains(words(s.companies), f.Company)) &&
		(f.Subject == "" || slices.Contains(words(s.subjects), f.Subject)) &&
		(f.From.IsZero() || !s.at.Before(f.From)) &&
		(f.To.IsZero() || s.at.Before(f.To)) &&
		f.After.Less(s.pos)
}

func expected(specs []*spec, tenant domain.TenantID, f audit.Filter) []*spec {
	var out []*spec
	for _, s := range specs {
		if s.matches(tenant, f) {
			out = append(out, s)
		}
	}
	return out
}

// checkEntry compares an entry with the event it records, field by field.
func checkEntry(t *testing.T, e audit.Entry, s *spec) {
	t.Helper()
	if e.Envelope.EventID != s.env.EventID || e.Type != s.env.Type || e.SchemaVersion != 1 || e.Tenant != string(s.tenant) ||
		!e.OccurredAt.Equal(s.at) || e.Actor != s.actor || e.ActorCompany != s.actorCompany || e.CorrelationID != s.env.CorrelationID ||
		e.CausationID != s.env.CausationID || e.Command != s.env.Command || e.Reason != s.env.Reason {
		t.Errorf("envelope %+v, want %+v", e.Envelope, s.env)
	}
	if !bytes.Equal(e.Payload, s.data) {
		t.Errorf("payload %s, want %s", e.Payload, s.data)
	}
	if e.Stream != s.stream || e.Revision != s.rev || e.Position != s.pos {
		t.Errorf("at %s@%d %v, want %s@%d %v", e.Stream, e.Revision, e.Position, s.stream, s.rev, s.pos)
	}
	if !slices.Equal(e.Subjects, words(s.subjects)) || !slices.Equal(e.Companies, words(s.companies)) {
		t.Errorf("%s indexed under subjects %v companies %v, want %q %q", e.Type, e.Subjects, e.Companies, s.subjects, s.companies)
	}
}

func checkQuery(t *testing.T, rdb redis.Cmdable, keys projections.Keys, specs []*spec, tenant domain.TenantID, f audit.Filter) {
	t.Helper()
	want := expected(specs, tenant, f)
	for _, limit := range []int{0, 1, 2, 3} {
		for _, maxScan := range []int{0, 1, 2} {
			g := f
			g.Limit, g.MaxScan = limit, maxScan
			got, _ := queryAll(t, rdb, keys, tenant, g)
			if len(got) != len(want) {
				t.Errorf("%s %+v: %d entries %s, want %d %s", tenant, g, len(got), describe(got), len(want), describeSpecs(want))
				continue
			}
			for i := range got {
				if got[i].Position != want[i].pos {
					t.Errorf("%s %+v: entry %d at %v (%s), want %v (%s)", tenant, g, i, got[i].Position, got[i].Type, want[i].pos, want[i].payload.EventType())
					break
				}
				if got[i].Tenant != string(tenant) {
					t.Fatalf("%s %+v: returned an entry of tenant %s", tenant, g, got[i].Tenant)
				}
				checkEntry(t, got[i], want[i])
			}
		}
	}
}

func describe(es []audit.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%v:%s", e.Position.Commit, e.Type))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func describeSpecs(ss []*spec) string {
	var s []string
	for _, e := range ss {
		s = append(s, fmt.Sprintf("%v:%s", e.pos.Commit, e.payload.EventType()))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestAuditTrailQueriesPagingExportAndReplay(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	ctx := context.Background()
	specs := scenario()

	// Half the log, projected; then the rest, appended while a new runner catches up from the
	// checkpoint (a restart).
	last := appendSpecs(t, store, specs[:10])
	runner, stop := run(t, rdb, store, keys)
	waitFor(t, runner, last)
	stop()
	runner, stop = run(t, rdb, store, keys)
	last = appendSpecs(t, store, specs[10:15])
	waitFor(t, runner, last)
	last = appendSpecs(t, store, specs[15:])
	waitFor(t, runner, last)
	stop()

	t.Run("queries", func(t *testing.T) {
		mid := specs[8].pos // t1's TicketOpened
		filters := []audit.Filter{
			{},
			{Actor: "user:ann"}, {Actor: "user:bob"}, {Actor: "service:crm"}, {Actor: "system"}, {Actor: "user:nobody"},
			{Type: "TicketOpened"}, {Type: "CompanyAccessGranted"}, {Type: "CompanyRegistered"}, {Type: "NoSuchEvent"},
			{Company: "cust"}, {Company: "prov"}, {Company: "partner"}, {Company: "kon"}, {Company: "s1"},
			{Subject: "bob"}, {Subject: "tk1"}, {Subject: "s1"}, {Subject: "g1"}, {Subject: "partner"}, {Subject: "dave"},
			{Subject: "ann"}, {Subject: "t1"}, {Subject: "open"},
			{Actor: "user:ann", Company: "cust"},
			{Actor: "user:ann", Type: "CompanyAccessGranted"},
			{Actor: "service:crm", Subject: "tk1"},
			{Actor: "user:bob", Subject: "tk1", Company: "cust", Type: "DocumentAttached"},
			{Actor: "user:bob", Subject: "tk1", Company: "prov"},
			{Subject: "bob", Company: "cust"},
			// time ranges: the skewed comment (minute 5:30, written after minute 15) belongs in [5, 10)
			{From: minute(5), To: minute(10)},
			{From: minute(5).Add(30 * time.Second), To: minute(5).Add(30*time.Second + time.Millisecond)},
			{From: minute(5).Add(30*time.Second + time.Nanosecond), To: minute(6)},
			{From: minute(16)}, {To: minute(3)}, {From: minute(100)}, {To: minute(-1)},
			{From: minute(14), To: minute(16), Subject: "tk1"},
			{From: minute(5), To: minute(10), Actor: "service:crm"},
			{From: minute(2), To: minute(12), Company: "cust", Actor: "user:ann"},
			// cursors
			{After: mid}, {After: mid, Subject: "tk1"}, {After: mid, Actor: "user:ann", From: minute(3), To: minute(15)},
			{After: last}, {After: specs[len(specs)-2].pos, Company: "cust"},
		}
		for _, f := range filters {
			checkQuery(t, rdb, keys, specs, "t1", f)
			checkQuery(t, rdb, keys, specs, "t2", f)
		}
		checkQuery(t, rdb, keys, specs, "t3", audit.Filter{})
	})

	t.Run("a small limit visits every entry once, in order", func(t *testing.T) {
		got, calls := queryAll(t, rdb, keys, "t1", audit.Filter{Limit: 2})
		want := expected(specs, "t1", audit.Filter{})
		if len(got) != len(want) || calls != (len(want)+1)/2 {
			t.Fatalf("%d entries in %d calls, want %d in %d", len(got), calls, len(want), (len(want)+1)/2)
		}
		seen := map[uuid.UUID]bool{}
		for i, e := range got {
			if seen[e.EventID] || e.Position != want[i].pos {
				t.Fatalf("entry %d: %v at %v", i, e.EventID, e.Position)
			}
			seen[e.EventID] = true
		}
	})

	t.Run("a sparse combination answers short pages within its scan budget", func(t *testing.T) {
		// The system's 3 events are the smaller index (bob is named by 7); one candidate per
		// call, and only the third names bob.
		f := audit.Filter{Actor: "system", Subject: "bob", MaxScan: 1}
		page, err := audit.Query(ctx, rdb, keys, "t1", f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 0 || page.Next != specs[0].pos {
			t.Fatalf("first page %s next %v: want empty with the cursor at %v", describe(page.Entries), page.Next, specs[0].pos)
		}
		got, calls := queryAll(t, rdb, keys, "t1", f)
		// 3 calls: the third spends its budget on the match, and its read of the index tells it
		// that nothing follows.
		if len(got) != 1 || got[0].Type != "InvitationExpired" || calls != 3 {
			t.Fatalf("%s in %d calls", describe(got), calls)
		}
	})

	t.Run("invalid filters", func(t *testing.T) {
		for _, f := range []audit.Filter{{Limit: -1}, {MaxScan: -2}, {From: minute(5), To: minute(5)}, {From: minute(6), To: minute(5)}} {
			if _, err := audit.Query(ctx, rdb, keys, "t1", f); err == nil {
				t.Errorf("%+v accepted", f)
			}
		}
		if _, err := audit.Query(ctx, rdb, keys, "", audit.Filter{}); err == nil {
			t.Error("a query without tenant was accepted")
		}
	})

	t.Run("export", func(t *testing.T) {
		for _, f := range []audit.Filter{{}, {Subject: "tk1"}, {Company: "cust", Limit: 1}, {From: minute(5), To: minute(10), Limit: 2},
			{Actor: "user:bob", Type: "DocumentAttached", MaxScan: 1}, {Actor: "user:nobody"}} {
			var buf bytes.Buffer
			n, err := audit.Export(ctx, rdb, keys, "t1", f, &buf)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(specs, "t1", f)
			sc := bufio.NewScanner(&buf)
			i := 0
			for ; sc.Scan(); i++ {
				var e audit.Entry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line %d %q: %v", i, sc.Text(), err)
				}
				var obj map[string]any
				if err := json.Unmarshal(sc.Bytes(), &obj); err != nil || obj["event_id"] == nil || obj["actor"] == nil || obj["payload"] == nil || obj["position"] == nil {
					t.Fatalf("line %d is not a flat entry: %s", i, sc.Text())
				}
				if i >= len(want) {
					t.Fatalf("%+v: extra line %s", f, sc.Text())
				}
				checkEntry(t, e, want[i])
			}
			if i != len(want) || n != len(want) {
				t.Fatalf("%+v: exported %d lines (n=%d), want %d", f, i, n, len(want))
			}
		}
	})

	t.Run("replaying the whole log does not duplicate anything", func(t *testing.T) {
		before := map[domain.TenantID]map[string]string{"t1": dump(t, rdb, keys, "t1"), "t2": dump(t, rdb, keys, "t2")}
		if n := rdb.StrLen(ctx, keys.Tenant("t1")+"audit:v3:i:all").Val() / 32; n != int64(len(expected(specs, "t1", audit.Filter{}))) {
			t.Fatalf("%d entries in t1's index", n)
		}
		if err := rdb.Del(ctx, keys.Checkpoint(audit.Name)).Err(); err != nil {
			t.Fatal(err)
		}
		runner, stop := run(t, rdb, store, keys)
		waitFor(t, runner, last)
		stop()
		if runner.Applied() != int64(len(specs)) {
			t.Fatalf("replayed %d events, want %d", runner.Applied(), len(specs))
		}
		for tenant, b := range before {
			if d := diffDumps(b, dump(t, rdb, keys, tenant)); d != "" {
				t.Fatalf("%s changed by the replay:\n%s", tenant, d)
			}
		}
		checkQuery(t, rdb, keys, specs, "t1", audit.Filter{})
	})
}

// Events of one EventStoreDB transaction share a commit position; pages must still cut between
// them exactly. The embedded store never produces such positions, so they are applied directly.
func TestEventsSharingACommitPositionPageExactly(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	var events []projections.Event
	positions := []eventstore.Position{{Commit: 10, Prepare: 3}, {Commit: 10, Prepare: 4}, {Commit: 10, Prepare: 5}, {Commit: 10, Prepare: 6},
		{Commit: 10, Prepare: 7}, {Commit: 11, Prepare: 11}, {Commit: 20, Prepare: 12}, {Commit: 20, Prepare: 13}, {Commit: 20, Prepare: 16}}
	for i, p := range positions {
		actor := ann
		if i%3 == 0 {
			actor = bob
		}
		events = append(events, projections.Event{
			Envelope: eventschema.Envelope{EventID: uuid.New(), Type: "UserSuspended", SchemaVersion: 1, Tenant: "t1", OccurredAt: minute(i),
				Actor: actor, CorrelationID: "c", CausationID: "c", Command: "SuspendUser"},
			Payload: &domain.UserSuspended{Person: domain.PersonID(fmt.Sprint("p", i))}, Stream: "directory-t1", Revision: uint64(i), Position: p})
	}
	applyDirect(t, rdb, keys, events)

	for _, f := range []audit.Filter{{}, {Actor: "user:bob"}, {Actor: "user:ann", Type: "UserSuspended"}, {From: minute(2), To: minute(7)}} {
		for _, after := range append([]eventstore.Position{{}}, positions...) {
			for _, limit := range []int{1, 2, 4} {
				for _, maxScan := range []int{0, 1, 2} {
					g := f
					g.After, g.Limit, g.MaxScan = after, limit, maxScan
					got, _ := queryAll(t, rdb, keys, "t1", g)
					var want []eventstore.Position
					for i, e := range events {
						if after.Less(e.Position) && (f.Actor == "" || e.Envelope.Actor.String() == f.Actor) &&
							(f.From.IsZero() || !minute(i).Before(f.From) && minute(i).Before(f.To)) {
							want = append(want, e.Position)
						}
					}
					var gotPos []eventstore.Position
					for _, e := range got {
						gotPos = append(gotPos, e.Position)
					}
					if !slices.Equal(gotPos, want) {
						t.Fatalf("%+v: %v, want %v", g, gotPos, want)
					}
				}
			}
		}
	}
}
