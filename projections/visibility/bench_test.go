package visibility_test

// Benchmarks of the visibility read model against the real Redis (testkit.RedisAddr()):
//
//	go test ./projections/visibility -run '^$' -bench 'GrantCompanyToGroup' -benchtime 200x -timeout 10m -v
//	go test ./projections/visibility -run '^$' -bench 'RedisMemory' -benchtime 1x -timeout 10m -v
//
// Events are fed as the router would (Runner.Handle) or as a rebuild does (Runner.ApplyBatch),
// without the event store: these benchmarks measure the projection and Redis alone.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// benchLog lays out synthesized events of one tenant as the event store would deliver them:
// full envelopes, per-stream revisions, increasing positions.
type benchLog struct {
	tb     testing.TB
	reg    *eventschema.Registry
	tenant domain.TenantID
	pos    uint64
	revs   map[string]uint64
	at     time.Time
}

func newBenchLog(tb testing.TB, tenant domain.TenantID) *benchLog {
	return &benchLog{tb: tb, reg: eventschema.MustPortal(), tenant: tenant, revs: map[string]uint64{},
		at: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
}

func (l *benchLog) directory() string { return "directory-" + string(l.tenant) }
func (l *benchLog) ticket(id domain.TicketID) string {
	return "ticket-" + string(l.tenant) + "-" + string(id)
}

// add records one command's events on stream.
func (l *benchLog) add(stream, command string, evs ...domain.Event) []eventstore.RecordedEvent {
	l.at = l.at.Add(time.Second)
	cause := uuid.NewString()
	out := make([]eventstore.RecordedEvent, 0, len(evs))
	for _, ev := range evs {
		l.pos++
		env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: string(l.tenant), OccurredAt: l.at,
			Actor: eventschema.SystemActor(), CorrelationID: cause, CausationID: cause, Command: command}
		enc, err := l.reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
		if err != nil {
			l.tb.Fatal(err)
		}
		out = append(out, eventstore.RecordedEvent{ID: enc.EventID, Stream: stream, Revision: l.revs[stream], Type: enc.Type,
			Data: enc.Data, Metadata: enc.Metadata, Position: eventstore.Position{Commit: l.pos, Prepare: l.pos}, Created: l.at})
		l.revs[stream]++
	}
	return out
}

// applyBatched applies events through r.ApplyBatch in rebuild-sized batches.
func applyBatched(tb testing.TB, r *projections.Runner, events []eventstore.RecordedEvent) {
	if err := applyBatches(r, events); err != nil {
		tb.Fatal(err)
	}
}

func applyBatches(r *projections.Runner, events []eventstore.RecordedEvent) error {
	ctx := context.Background()
	for len(events) > 0 {
		n := min(2048, len(events))
		if err := r.ApplyBatch(ctx, events[:n]); err != nil {
			return fmt.Errorf("%s: %w", r.Name(), err)
		}
		events = events[n:]
	}
	return nil
}

// handle applies one event through the Watermill handler, as the router does live.
func handle(tb testing.TB, r *projections.Runner, e eventstore.RecordedEvent) {
	msg := projections.ToMessage(e)
	msg.SetContext(context.Background())
	if err := r.Handle(msg); err != nil {
		tb.Fatal(err)
	}
}

// commandCounter is a go-redis hook counting the commands the client sends, split into writes
// (everything queued in a pipeline or MULTI/EXEC, MULTI and EXEC themselves excluded) and
// reads (single commands, which is how a projection reads through tx.R).
type commandCounter struct {
	writes, reads atomic.Int64
	byName        sync.Map // command name → *atomic.Int64
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.reads.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if n := cmd.Name(); n != "multi" && n != "exec" {
				c.writes.Add(1)
				v, _ := c.byName.LoadOrStore(n, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) names() string {
	var parts []string
	c.byName.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (c *commandCounter) reset() {
	c.writes.Store(0)
	c.reads.Store(0)
	c.byName.Clear()
}

// grantTenant is the tenant of BenchmarkGrantCompanyToGroup: a provider, 50 customer
// companies, "big" with 100,000 tickets and "mid" with 10,000 (over their 20 sites, reported by
// their own support users), and 1,000 viewers: two groups of normal users (100 and 10) with a
// group-level company-access setting listing one other customer, and 890 support users
// (customers' employees, with memberships) — so that the people a grant does not concern are
// there too.
type grantTenant struct {
	log      *benchLog
	big, mid domain.CompanyID
	g100     domain.GroupID
	g10      domain.GroupID
	member   domain.PersonID // a member of g100
	bigTick  domain.TicketID // a ticket of big
}

func buildGrantTenant(b *testing.B, r *projections.Runner) *grantTenant {
	l := newBenchLog(b, "grant")
	gt := &grantTenant{log: l, big: "c-big", mid: "c-mid", g100: "g-partners-100", g10: "g-partners-10"}
	dir := l.directory()
	var evs []eventstore.RecordedEvent
	evs = append(evs, l.add(dir, "ConfigureTenant", domain.TenantConfigured{Tenant: l.tenant, Name: "Grant", Seats: 5000})...)
	evs = append(evs, l.add(dir, "RegisterCompany", domain.CompanyRegistered{Company: "c-provider", Name: "Provider", Kind: domain.KindProvider})...)
	customers := []domain.CompanyID{gt.big, gt.mid}
	for i := range 48 {
		customers = append(customers, domain.CompanyID(fmt.Sprintf("c-%02d", i)))
	}
	sites := map[domain.CompanyID][]domain.SiteID{}
	for _, c := range customers {
		evs = append(evs, l.add(dir, "RegisterCompany", domain.CompanyRegistered{Company: c, Name: "Customer " + string(c), Kind: domain.KindCustomer})...)
		for s := range 20 {
			site := domain.SiteID(fmt.Sprintf("%s-s%02d", c, s))
			sites[c] = append(sites[c], site)
			evs = append(evs, l.add(dir, "AddSite", domain.SiteAdded{Company: c, Site: site, Name: "Site " + string(site)})...)
		}
	}
	exp := l.at.Add(7 * 24 * time.Hour)
	person := 0
	invite := func(home domain.CompanyID, group domain.GroupID, class domain.Class, role domain.Role) domain.PersonID {
		person++
		id := domain.PersonID(fmt.Sprintf("p%04d", person))
		inv := []domain.Event{domain.UserInvited{Person: id, Name: "Person " + string(id), Email: string(id) + "@grant.example",
			HomeCompany: home, Group: group, Class: class, TokenHash: uuid.NewString(), ExpiresAt: exp}}
		if role != "" {
			inv = append(inv, domain.MembershipGranted{Person: id, Company: home, Role: role, Permissions: domain.PermissionSet{Named: "support"}})
		}
		evs = append(evs, l.add(dir, "InviteUser", inv...)...)
		evs = append(evs, l.add(dir, "AcceptInvitation", domain.InvitationAccepted{Person: id, Subject: "sub-" + string(id)})...)
		return id
	}
	for _, g := range []struct {
		id    domain.GroupID
		users int
	}{{gt.g100, 100}, {gt.g10, 10}} {
		evs = append(evs, l.add(dir, "CreateUserGroup", domain.UserGroupCreated{Group: g.id, Name: string(g.id), Permissions: domain.PermissionSet{Named: "support"}})...)
		evs = append(evs, l.add(dir, "GrantCompanyAccess", domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: string(g.id), Target: "c-07"})...)
		for range g.users {
			id := invite("c-provider", g.id, domain.ClassNormal, "")
			if gt.member == "" {
				gt.member = id
			}
		}
	}
	reporters := map[domain.CompanyID][]domain.PersonID{}
	for i := range 890 {
		c := customers[i%len(customers)]
		role := []domain.Role{domain.RoleMember, domain.RoleMember, domain.RoleAdmin, domain.RoleMember}[i%4]
		reporters[c] = append(reporters[c], invite(c, "", domain.ClassSupport, role))
	}
	applyBatched(b, r, evs)

	rnd := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		id domain.CompanyID
		n  int
	}{{gt.big, 100_000}, {gt.mid, 10_000}} {
		evs = evs[:0]
		for i := range c.n {
			id := domain.TicketID(fmt.Sprintf("%s-t%06d", c.id, i))
			if gt.bigTick == "" {
				gt.bigTick = id
			}
			evs = append(evs, l.add(l.ticket(id), "OpenTicket", domain.TicketOpened{Ticket: id, Company: c.id, Site: sites[c.id][rnd.IntN(20)],
				Type: "incident", Status: domain.TicketOpen, Reporter: reporters[c.id][rnd.IntN(len(reporters[c.id]))],
				Title: "The printer on the third floor is jammed again"})...)
		}
		applyBatched(b, r, evs)
	}
	return gt
}

// BenchmarkGrantCompanyToGroup times ONE CompanyAccessGranted (group level) applied through
// Runner.Handle — decode, recompute the group's users' scopes, write the differences and the
// checkpoint in one MULTI/EXEC — in a tenant whose target company holds 100,000 tickets, and
// counts the Redis commands it sends. Between ops the grant is revoked (untimed), so every op
// is a real grant. Sub-benchmarks vary the group (100 or 10 users) and the target's tickets
// (100,000 or 10,000): the writes follow the users, not the tickets.
func BenchmarkGrantCompanyToGroup(b *testing.B) {
	rdb, prefix := testkit.Redis(b)
	counter := &commandCounter{}
	rdb.AddHook(counter)
	reg := eventschema.MustPortal()
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	r := projections.NewRunner(visibility.New(nil, reg), rdb, reg, keys)
	ctx := context.Background()
	if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	gt := buildGrantTenant(b, r)
	b.Logf("tenant: %d events applied in %v", gt.log.pos, time.Since(t0).Round(time.Millisecond))
	rd := visibility.NewReader(rdb, keys)
	dir := gt.log.directory()

	for _, c := range []struct {
		name   string
		group  domain.GroupID
		target domain.CompanyID
	}{
		{"users=100/tickets=100000", gt.g100, gt.big},
		{"users=10/tickets=100000", gt.g10, gt.big},
		{"users=100/tickets=10000", gt.g100, gt.mid},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.StopTimer()
			var writes, reads int64
			var worst time.Duration
			for i := range b.N {
				grant := gt.log.add(dir, "GrantCompanyAccess", domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: string(c.group), Target: c.target})[0]
				revoke := gt.log.add(dir, "RevokeCompanyAccess", domain.CompanyAccessRevoked{Level: domain.LevelGroup, Holder: string(c.group), Target: c.target})[0]
				counter.reset()
				t := time.Now()
				b.StartTimer()
				handle(b, r, grant)
				b.StopTimer()
				worst = max(worst, time.Since(t))
				writes += counter.writes.Load()
				reads += counter.reads.Load()
				if i == 0 {
					b.Logf("one grant: %d writes (%s), %d reads", counter.writes.Load(), counter.names(), counter.reads.Load())
					if c.group == gt.g100 && c.target == gt.big {
						// The grant shows: a member of the group sees the target's tickets, by company access at group level.
						rs, err := rd.CheckTicket(ctx, "grant", gt.member, gt.bigTick)
						if err != nil || visibility.EncodeReasons(rs) != "company_access:group" {
							b.Fatalf("after the grant, %s sees %s by %v (%v), want company_access:group", gt.member, gt.bigTick, rs, err)
						}
					}
				}
				handle(b, r, revoke)
			}
			b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
			b.ReportMetric(float64(reads)/float64(b.N), "reads/op")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
		})
	}
}

// BenchmarkRedisMemory builds a realistic tenant in both read models of the service's
// visibility + directory pair — 1,000 viewers (100 internal staff with no company-access
// setting, 50 partner users whose group lists 10 customers, 850 customers' employees over 50
// customers with 4 sites each: per customer 1 master admin, 1 admin, 2 managers of 2 sites, 3
// members, 10 basic users of one site) and 50,000 tickets reported by the basic users (a third
// moved to in_progress, a third commented) — then measures every key with MEMORY USAGE (exact,
// SAMPLES 0) and reports bytes per viewer (its visibility table and its share of the reverse
// indexes) and bytes per ticket (visibility ticket hash and scope indexes; directory hash and
// comments).
func BenchmarkRedisMemory(b *testing.B) {
	rdb, prefix := testkit.Redis(b)
	reg := eventschema.MustPortal()
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	vis := projections.NewRunner(visibility.New(nil, reg), rdb, reg, keys)
	dirRunner := projections.NewRunner(directory.New(), rdb, reg, keys)
	ctx := context.Background()
	for _, r := range []*projections.Runner{vis, dirRunner} {
		if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
			b.Fatal(err)
		}
	}
	const (
		customers = 50
		tickets   = 50_000
	)
	l := newBenchLog(b, "mem")
	dir := l.directory()
	var evs []eventstore.RecordedEvent
	evs = append(evs, l.add(dir, "ConfigureTenant", domain.TenantConfigured{Tenant: l.tenant, Name: "Memory", Seats: 500})...)
	evs = append(evs, l.add(dir, "RegisterCompany", domain.CompanyRegistered{Company: "c-provider", Name: "Provider", Kind: domain.KindProvider})...)
	var companies []domain.CompanyID
	sites := map[domain.CompanyID][]domain.SiteID{}
	for i := range customers {
		c := domain.CompanyID(fmt.Sprintf("c-%02d", i))
		companies = append(companies, c)
		evs = append(evs, l.add(dir, "RegisterCompany", domain.CompanyRegistered{Company: c, Name: fmt.Sprintf("Customer %d GmbH", i), Kind: domain.KindCustomer})...)
		for s := range 4 {
			site := domain.SiteID(fmt.Sprintf("%s-s%d", c, s))
			sites[c] = append(sites[c], site)
			evs = append(evs, l.add(dir, "AddSite", domain.SiteAdded{Company: c, Site: site, Name: fmt.Sprintf("Site %d", s), Address: fmt.Sprintf("Hauptstraße %d, 10115 Berlin", s+1)})...)
		}
	}
	exp := l.at.Add(7 * 24 * time.Hour)
	var viewers []domain.PersonID
	invite := func(home domain.CompanyID, group domain.GroupID, class domain.Class, m *domain.MembershipGranted) domain.PersonID {
		id := domain.PersonID(uuid.NewString())
		inv := []domain.Event{domain.UserInvited{Person: id, Name: "Firstname Lastname", Email: string(id)[:8] + "@customer.example",
			HomeCompany: home, Group: group, Class: class, TokenHash: uuid.NewString(), ExpiresAt: exp}}
		if m != nil {
			m.Person, m.Company = id, home
			inv = append(inv, *m)
		}
		evs = append(evs, l.add(dir, "InviteUser", inv...)...)
		evs = append(evs, l.add(dir, "AcceptInvitation", domain.InvitationAccepted{Person: id, Subject: "sub-" + string(id)})...)
		viewers = append(viewers, id)
		return id
	}
	evs = append(evs, l.add(dir, "CreateUserGroup", domain.UserGroupCreated{Group: "g-staff", Name: "Staff", Permissions: domain.PermissionSet{Named: "support"}})...)
	evs = append(evs, l.add(dir, "CreateUserGroup", domain.UserGroupCreated{Group: "g-partners", Name: "Partners", Permissions: domain.PermissionSet{Named: "support"}})...)
	for i := range 10 {
		evs = append(evs, l.add(dir, "GrantCompanyAccess", domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: "g-partners", Target: companies[i*5]})...)
	}
	for range 100 {
		invite("c-provider", "g-staff", domain.ClassNormal, nil)
	}
	for range 50 {
		invite("c-provider", "g-partners", domain.ClassNormal, nil)
	}
	basics := map[domain.CompanyID][]domain.PersonID{}
	support := domain.PermissionSet{Named: "support"}
	for _, c := range companies {
		s := sites[c]
		invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleMasterAdmin, Permissions: domain.PermissionSet{Named: "full"}})
		invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleAdmin, Permissions: domain.PermissionSet{Named: "full"}})
		invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleManager, Permissions: support, Sites: s[:2]})
		invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleManager, Permissions: support, Sites: s[2:]})
		for range 3 {
			invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleMember, Permissions: support})
		}
		for k := range 10 {
			basics[c] = append(basics[c], invite(c, "", domain.ClassSupport, &domain.MembershipGranted{Role: domain.RoleBasic, Permissions: support, Sites: s[k%4 : k%4+1]}))
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range tickets {
		c := companies[rnd.IntN(customers)]
		reporter := basics[c][rnd.IntN(len(basics[c]))]
		id := domain.TicketID(uuid.NewString())
		stream := l.ticket(id)
		evs = append(evs, l.add(stream, "OpenTicket", domain.TicketOpened{Ticket: id, Company: c, Site: sites[c][rnd.IntN(4)], Type: "incident",
			Status: domain.TicketOpen, Reporter: reporter, ResponsibleGroup: "g-staff",
			Title: "The printer on the third floor is jammed again", Description: "Paper jam in tray 2; the display shows error E-104."})...)
		if i%3 == 0 {
			evs = append(evs, l.add(stream, "ChangeTicketStatus", domain.TicketStatusChanged{Ticket: id, From: domain.TicketOpen, To: domain.TicketInProgress})...)
		}
		if i%3 == 1 {
			evs = append(evs, l.add(stream, "CommentOnTicket", domain.TicketCommented{Ticket: id, Comment: uuid.NewString(), Author: reporter,
				Body: "Still jammed after restarting it; we need it for the month-end run."})...)
		}
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []*projections.Runner{vis, dirRunner} {
		wg.Go(func() { errs[i] = applyBatches(r, evs) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	b.Logf("tenant: %d events, %d viewers, %d tickets, applied to both read models in %v", len(evs), len(viewers), tickets, time.Since(t0).Round(time.Millisecond))

	base := keys.Tenant(l.tenant)
	b.ResetTimer()
	var sizes map[string]int64
	var counts map[string]int
	for range b.N {
		sizes, counts = map[string]int64{}, map[string]int{}
		var batch []string
		measure := func() {
			pipe := rdb.Pipeline()
			cmds := make([]*redis.IntCmd, len(batch))
			for i, k := range batch {
				cmds[i] = pipe.MemoryUsage(ctx, k, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			for i, k := range batch {
				cat := memCategory(strings.TrimPrefix(k, base))
				sizes[cat] += cmds[i].Val()
				counts[cat]++
			}
			batch = batch[:0]
		}
		iter := rdb.Scan(ctx, 0, keys.Generation(), 1000).Iterator()
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				measure()
			}
		}
		if err := iter.Err(); err != nil {
			b.Fatal(err)
		}
		measure()
	}
	var cats []string
	var all int64
	for c, n := range sizes {
		cats = append(cats, c)
		all += n
	}
	sort.Strings(cats)
	for _, c := range cats {
		b.Logf("%-28s %7d keys %12d bytes", c, counts[c], sizes[c])
	}
	perViewer := float64(sizes["vis viewer tables"]+sizes["vis reverse indexes"]) / float64(len(viewers))
	visTicket := float64(sizes["vis ticket hashes"]+sizes["vis ticket indexes"]) / tickets
	dirTicket := float64(sizes["dir ticket hashes"]+sizes["dir ticket comments"]) / tickets
	b.ReportMetric(perViewer, "vis-B/viewer")
	b.ReportMetric(visTicket, "vis-B/ticket")
	b.ReportMetric(dirTicket, "dir-B/ticket")
	b.ReportMetric(visTicket+dirTicket, "B/ticket")
	b.ReportMetric(float64(sizes["dir people"])/float64(len(viewers)), "dir-B/person")
	b.ReportMetric(float64(all)/(1<<20), "total-MiB")
	cfg := rdb.ConfigGet(ctx, "*-max-listpack-*").Val()
	b.Logf("encodings: %v", cfg)
}

// memCategory names what a key (without its tenant prefix) holds.
func memCategory(k string) string {
	switch {
	case strings.HasPrefix(k, "vis:v:"):
		return "vis viewer tables"
	case strings.HasPrefix(k, "vis:r:"):
		return "vis reverse indexes"
	case strings.HasPrefix(k, "vis:t:"):
		return "vis ticket hashes"
	case strings.HasPrefix(k, "vis:i:t"):
		return "vis ticket indexes"
	case strings.HasPrefix(k, "vis:"):
		return "vis other"
	case strings.HasPrefix(k, "dir:t-comments:"):
		return "dir ticket comments"
	case strings.HasPrefix(k, "dir:t:"):
		return "dir ticket hashes"
	case strings.HasPrefix(k, "dir:p:"):
		return "dir people"
	case strings.HasPrefix(k, "dir:"):
		return "dir other"
	}
	return "other (checkpoints)"
}
