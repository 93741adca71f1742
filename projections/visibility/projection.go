// Package visibility is the per-viewer visibility read model of DESIGN §2, materialized at the
// level of scopes: for each active viewer the companies, sites and contractor assignments it
// sees tickets of (with the reasons), the companies and company documents it sees, and the
// people it sees; beside them, per-scope indexes of tickets and documents. A check ("may V see
// T?") is a few O(1) reads; a listing is a merge of the viewer's scope indexes; a change costs
// in proportion to the viewers whose table it changes, never to the tickets a company holds.
//
// Key layout, under P = Keys.Tenant(tenant) + "vis:":
//
//	P v:{viewer}            hash   class, home, unrestricted, all_companies, all_docs, people_all (exists ⇔ the viewer has a table)
//	P v:{viewer}:tc         hash   company -> ticket grounds ("company_role,company_access:group")
//	P v:{viewer}:ts         hash   site -> ticket grounds (managed_site, site_read)
//	P v:{viewer}:cx         set    contractor companies whose assigned tickets it sees (as admin)
//	P v:{viewer}:co         hash   company -> reasons it sees the company
//	P v:{viewer}:cd         hash   company -> reasons it sees the company's documents
//	P v:{viewer}:pc         hash   company -> grounds it sees the company's people in full
//	P v:{viewer}:ps         hash   site -> company: a manager sees the users of the site
//	P r:tc:{company}        set    viewers with ticket grounds on the company (reverse index)
//	P r:ts:{site}           set    viewers with ticket grounds on the site
//	P r:cx:{contractor}     set    viewers seeing the contractor's assigned tickets
//	P r:all                 set    viewers seeing every ticket (internal_unrestricted)
//	P t:{ticket}            hash   company, site, reporter, contractor, technician, status, type
//	P i:t                   zset   every ticket, scored by the position it was opened at
//	P i:tc:{company}        zset   tickets of a company      P i:ts:{site}        tickets at a site
//	P i:tr:{person}         zset   tickets a person reported P i:tt:{person}      tickets a technician is assigned
//	P i:tx:{contractor}     zset   tickets assigned to a contractor
//	P i:tu:{person}         zset   tickets whose responsible user the person is (who a ticket names)
//	P d:{document}          hash   ticket or company, name
//	P i:dc:{company}        zset   a company's documents     P i:dt:{ticket}      a ticket's documents
package visibility

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// Name is the projection's name (its checkpoint and Watermill handler).
const Name = "visibility"

// Projection keeps each tenant's Directory in memory (evolved from the log by the pure domain
// code) and, per viewer, the table last written to Redis (encoded as stored); each event
// recomputes the scopes of the viewers it may change and writes only the differences.
type Projection struct {
	store projections.Source
	reg   *eventschema.Registry

	mu      sync.Mutex
	tenants map[domain.TenantID]*tenantState
	evolved eventstore.Position // the last event applied to the in-memory Directory
	pending map[domain.TenantID]map[domain.PersonID]*table
}

type tenantState struct {
	dir    *domain.Directory
	tables map[domain.PersonID]*table // as written to Redis
}

// New returns the projection. store and reg rebuild the in-memory Directory at start.
func New(store projections.Source, reg *eventschema.Registry) *Projection {
	return &Projection{store: store, reg: reg, tenants: map[domain.TenantID]*tenantState{}}
}

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

func (p *Projection) tenant(t domain.TenantID) *tenantState {
	ts, ok := p.tenants[t]
	if !ok {
		ts = &tenantState{dir: domain.NewDirectory(t), tables: map[domain.PersonID]*table{}}
		p.tenants[t] = ts
	}
	return ts
}

// Prepare rebuilds the in-memory Directories and tables from the log up to the checkpoint, so
// that a restarted projector diffs against what Redis holds.
func (p *Projection) Prepare(ctx context.Context, _ projections.Keys, _ redis.Cmdable, upTo eventstore.Position) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tenants = map[domain.TenantID]*tenantState{}
	p.evolved = eventstore.Position{}
	if upTo.IsZero() {
		return nil
	}
	var from, last eventstore.Position // from is inclusive: skip what was applied
	for {
		n := 0
		done := false
		err := p.store.ReadAll(ctx, from, 4096, func(e eventstore.RecordedEvent) error {
			n++
			if !last.Less(e.Position) {
				return nil
			}
			if upTo.Less(e.Position) {
				done = true
				return errStop
			}
			last = e.Position
			if !strings.HasPrefix(e.Stream, "directory-") {
				return nil
			}
			dec, err := p.reg.Decode(e.Type, e.Data, e.Metadata)
			if err != nil {
				return err
			}
			ev, ok := dec.Payload.(domain.Event)
			if !ok {
				return fmt.Errorf("visibility: %s is not a domain event", e.Type)
			}
			domain.Evolve(p.tenant(domain.TenantID(dec.Envelope.Tenant)).dir, ev)
			return nil
		})
		if err != nil && err != errStop {
			return err
		}
		if done || n < 4096 {
			break
		}
		from = last
	}
	for _, ts := range p.tenants {
		for id := range ts.dir.People {
			if t := encodeTable(ts.dir.ScopeOf(id)); t != nil {
				ts.tables[id] = t
			}
		}
	}
	p.evolved = upTo
	return nil
}

var errStop = fmt.Errorf("stop")

// Handlers implements projections.Projection: every Directory event recomputes scopes; ticket
// and document events maintain the resource indexes.
func (p *Projection) Handlers() map[string]projections.ApplyFunc {
	h := map[string]projections.ApplyFunc{}
	for _, e := range domain.DirectoryEvents() {
		h[e.EventType()] = p.applyDirectory
	}
	h["TicketOpened"] = applyTicketOpened
	h["ContractorAssigned"] = applyContractorAssigned
	h["TicketAssigned"] = applyTicketAssigned
	h["TicketStatusChanged"] = applyStatusChanged
	h["DocumentAttached"] = applyDocumentAttached
	return h
}

// applyDirectory evolves the tenant's Directory (once per event, even if the transaction is
// retried) and writes the difference of every affected viewer's scope.
func (p *Projection) applyDirectory(tx *projections.Tx, e projections.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.tenant(e.Tenant())
	if p.evolved.Less(e.Position) {
		domain.Evolve(ts.dir, e.Payload)
		p.evolved = e.Position
	}
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	next := map[domain.PersonID]*table{}
	// A group's members are often alike (a grant to the group changes them all the same way):
	// a member whose scope is the previous one's but for the person shares its encoded table.
	var prev domain.Scope
	var prevTable *table
	for i, id := range affected(ts.dir, e.Payload) {
		s := ts.dir.ScopeOf(id)
		nt := prevTable
		if i == 0 || !s.SameTableAs(prev) {
			nt = encodeTable(s)
		}
		prev, prevTable = s, nt
		next[id] = writeScopeDiff(tx, P, id, ts.tables[id], nt)
	}
	if p.pending == nil {
		p.pending = map[domain.TenantID]map[domain.PersonID]*table{}
	}
	p.pending[e.Tenant()] = next
	return nil
}

// Committed moves the written tables into memory (projections.Committer).
func (p *Projection) Committed(e projections.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, ok := p.pending[e.Tenant()]
	if !ok {
		return
	}
	ts := p.tenant(e.Tenant())
	for id, t := range next {
		if t != nil {
			ts.tables[id] = t
		} else {
			delete(ts.tables, id)
		}
	}
	delete(p.pending, e.Tenant())
}

// affected lists the people whose scope an event may change. Events that touch one person name
// it; group- and company-level settings and a group's permissions touch their members;
// structural changes (a company's parent, a site's removal) recompute everyone — they are rare, and a
// viewer whose scope did not change costs no write.
func affected(d *domain.Directory, e domain.Event) []domain.PersonID {
	everyone := func() []domain.PersonID { return slices.Sorted(maps.Keys(d.People)) }
	switch ev := e.(type) {
	case *domain.CompanyAccessGranted:
		return holderPeople(d, ev.Level, ev.Holder)
	case *domain.CompanyAccessRevoked:
		return holderPeople(d, ev.Level, ev.Holder)
	case *domain.CompanyAccessCleared:
		return holderPeople(d, ev.Level, ev.Holder)
	case *domain.MasterAdminTransferred:
		return []domain.PersonID{ev.From, ev.To}
	case *domain.CompanyRegistered:
		if ev.Parent == "" {
			return nil
		}
		return everyone()
	case *domain.TenantConfigured, *domain.CompanyRenamed, *domain.SiteAdded, *domain.UserGroupCreated:
		return nil
	case *domain.GroupPermissionsSet:
		return holderPeople(d, domain.LevelGroup, string(ev.Group)) // the group gates its members only
	case *domain.ParentCompanySet, *domain.SiteRemoved:
		return everyone()
	}
	if id := personOf(e); id != "" {
		return []domain.PersonID{id}
	}
	return everyone()
}

func holderPeople(d *domain.Directory, level domain.AccessLevel, holder string) []domain.PersonID {
	var out []domain.PersonID
	for id, p := range d.People {
		switch {
		case level == domain.LevelUser && string(id) == holder,
			level == domain.LevelGroup && string(p.Group) == holder,
			level == domain.LevelCompany && string(p.HomeCompany) == holder:
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// personOf is the person a Directory event is about, when it is about one.
func personOf(e domain.Event) domain.PersonID {
	switch ev := e.(type) {
	case *domain.UserMovedToGroup:
		return ev.Person
	case *domain.ContactAdded:
		return ev.Person
	case *domain.NotificationPreferencesUpdated:
		return ev.Person
	case *domain.ContactPromotedToUser:
		return ev.Person
	case *domain.UserDemotedToContact:
		return ev.Person
	case *domain.UserInvited:
		return ev.Person
	case *domain.InvitationResent:
		return ev.Person
	case *domain.InvitationRevoked:
		return ev.Person
	case *domain.InvitationExpired:
		return ev.Person
	case *domain.InvitationAccepted:
		return ev.Person
	case *domain.MembershipGranted:
		return ev.Person
	case *domain.RoleChanged:
		return ev.Person
	case *domain.MembershipRevoked:
		return ev.Person
	case *domain.ManagedSitesAssigned:
		return ev.Person
	case *domain.SitePermissionsSet:
		return ev.Person
	case *domain.TicketRestrictionsSet:
		return ev.Person
	case *domain.MFARequired:
		return ev.Person
	case *domain.UserSuspended:
		return ev.Person
	case *domain.UserReactivated:
		return ev.Person
	case *domain.UserRemoved:
		return ev.Person
	case *domain.TechnicianAdded:
		return ev.Person
	}
	return ""
}

// EncodeReasons and DecodeReasons store reasons as "rule" or "rule:level", comma-separated.
func EncodeReasons(rs []domain.TicketReason) string {
	switch len(rs) {
	case 0:
		return ""
	case 1:
		return rs[0].String()
	}
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.Rule)
		if r.Level != "" {
			b.WriteByte(':')
			b.WriteString(string(r.Level))
		}
	}
	return b.String()
}

// DecodeReasons reads what EncodeReasons wrote.
func DecodeReasons(s string) []domain.TicketReason {
	if s == "" {
		return nil
	}
	var out []domain.TicketReason
	for _, part := range strings.Split(s, ",") {
		rule, level, _ := strings.Cut(part, ":")
		out = append(out, domain.TicketReason{Rule: rule, Level: domain.AccessLevel(level)})
	}
	return out
}

// Batchable: the projection never reads Redis while applying (projections.Batchable).
func (*Projection) Batchable() bool { return true }
