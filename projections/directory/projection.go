package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// Name is the projection's name (its checkpoint and Watermill handler).
const Name = "directory"

// Projection is the directory read model. It keeps in memory, per tenant, the little the
// handlers must know to decide their writes (which companies, sites, groups and tickets exist,
// a company's parent and master admin, a site's company, a group's support-user flag, every
// person's record and the sites people name), so that it never reads Redis while applying and
// a rebuild can apply many events per transaction (projections.Batchable). That state is
// re-derived, never loaded: the runner replays the log up to the checkpoint through the same
// handlers, writes left out (projections.Replayer), before the first event. An event's changes
// to it are staged while the event is applied and kept only once its MULTI/EXEC succeeded
// (projections.Committer), so a retried transaction starts again from the state as it was.
type Projection struct {
	mu      sync.Mutex
	tenants map[domain.TenantID]*state
	pending []func()            // the staged changes of the event being applied
	at      eventstore.Position // … and its position
	spaces  map[spaceKey]space  // key builders, made once per tenant
}

type spaceKey struct {
	keys   projections.Keys
	tenant domain.TenantID
}

// state is one tenant's directory as the handlers need it: a mirror of what Redis holds, as of
// the last committed event.
type state struct {
	companies map[domain.CompanyID]*companyState
	sites     map[domain.SiteID]domain.CompanyID // site → the company of its record
	groups    map[domain.GroupID]bool            // group → support_user
	people    map[domain.PersonID]*Person        // as stored (never changed in place)
	siteRefs  map[domain.SiteID]map[domain.PersonID]struct{}
	tickets   map[domain.TicketID]ticketCounts
}

// ticketCounts are a known ticket's comments and documents (the fields of its record), so that
// an event writes the new count rather than incrementing it: a batch then writes a ticket's
// record once, however many of its events it holds.
type ticketCounts struct{ comments, documents int64 }

type companyState struct {
	parent      domain.CompanyID
	masterAdmin domain.PersonID
}

// New returns the directory projection (with an empty state).
func New() *Projection { return &Projection{tenants: map[domain.TenantID]*state{}} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Batchable: the handlers never read Redis (projections.Batchable).
func (*Projection) Batchable() bool { return true }

// Reset forgets the in-memory state (projections.Replayer).
func (p *Projection) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tenants = map[domain.TenantID]*state{}
	p.pending, p.at = nil, eventstore.Position{}
}

// writeOnly are the event types whose handlers change nothing in memory: a replay skips them.
var writeOnly = map[string]bool{"TenantConfigured": true, "CompanyRenamed": true, "GroupPermissionsSet": true,
	"TicketStatusChanged": true, "TicketAssigned": true, "ContractorAssigned": true}

// ReplayTypes are the event types that change the in-memory state (projections.Replayer).
func (p *Projection) ReplayTypes() []string {
	var out []string
	for t := range p.Handlers() {
		if !writeOnly[t] {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// Replay applies one event to the in-memory state alone (projections.Replayer).
func (p *Projection) Replay(e projections.Event) error {
	fn := p.Handlers()[e.Envelope.Type]
	if fn == nil {
		return nil
	}
	if err := fn(&projections.Tx{Ctx: context.Background()}, e); err != nil {
		return err
	}
	p.Committed(e)
	return nil
}

// Committed keeps the staged changes of e once its transaction succeeded (projections.Committer).
func (p *Projection) Committed(e projections.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at != e.Position {
		return
	}
	for _, f := range p.pending {
		f()
	}
	p.pending, p.at = p.pending[:0], eventstore.Position{}
}

func (p *Projection) tenant(t domain.TenantID) *state {
	st, ok := p.tenants[t]
	if !ok {
		st = &state{companies: map[domain.CompanyID]*companyState{}, sites: map[domain.SiteID]domain.CompanyID{},
			groups: map[domain.GroupID]bool{}, people: map[domain.PersonID]*Person{},
			siteRefs: map[domain.SiteID]map[domain.PersonID]struct{}{}, tickets: map[domain.TicketID]ticketCounts{}}
		p.tenants[t] = st
	}
	return st
}

// Handlers implements projections.Projection: every Directory, Ticket and Document event that
// changes what the directory shows. Company-access events only move the checkpoint.
func (p *Projection) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"TenantConfigured":  on(p, tenantConfigured),
		"CompanyRegistered": on(p, companyRegistered),
		"CompanyRenamed":    on(p, companyRenamed),
		"ParentCompanySet":  on(p, parentCompanySet),
		"SiteAdded":         on(p, siteAdded),
		"SiteRemoved":       on(p, siteRemoved),

		"UserGroupCreated":    on(p, userGroupCreated),
		"GroupPermissionsSet": on(p, groupPermissionsSet),
		"UserMovedToGroup": on(p, func(o *op, e domain.UserMovedToGroup) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Group = e.Group; return nil })
		}),

		"ContactAdded": on(p, func(o *op, e domain.ContactAdded) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeContact, Name: e.Name, Email: e.Email,
				HomeCompany: e.HomeCompany, Status: domain.StatusContact, NotificationPrefs: slices.Clone(e.NotificationPrefs)})
		}),
		"NotificationPreferencesUpdated": on(p, func(o *op, e domain.NotificationPreferencesUpdated) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.NotificationPrefs = slices.Clone(e.Prefs); return nil })
		}),
		"ContactPromotedToUser": on(p, func(o *op, e domain.ContactPromotedToUser) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.Type, p.Group, p.Status = domain.TypeSystemUser, e.Group, domain.StatusInvited
				p.InvitationExpiresAt = timePtr(e.ExpiresAt)
				return nil
			})
		}),
		"UserDemotedToContact": on(p, func(o *op, e domain.UserDemotedToContact) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				if err := o.dropMasterAdmin(p); err != nil {
					return err
				}
				p.InvitationExpiresAt = nil
				p.Type, p.Status, p.Group, p.Subject = domain.TypeContact, domain.StatusContact, "", ""
				p.Memberships, p.SitePermissions, p.TicketRestrictions, p.MFARequired = nil, SitePermissions{}, TicketRestrictions{}, false
				return nil
			})
		}),

		"UserInvited": on(p, func(o *op, e domain.UserInvited) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeSystemUser, Name: e.Name, Email: e.Email,
				HomeCompany: e.HomeCompany, Group: e.Group, Status: domain.StatusInvited, InvitationExpiresAt: timePtr(e.ExpiresAt)})
		}),
		"InvitationResent": on(p, func(o *op, e domain.InvitationResent) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.InvitationExpiresAt = timePtr(e.ExpiresAt); return nil })
		}),
		"InvitationRevoked": on(p, func(o *op, e domain.InvitationRevoked) error { return o.endInvitation(e.Person) }),
		"InvitationExpired": on(p, func(o *op, e domain.InvitationExpired) error { return o.endInvitation(e.Person) }),
		"InvitationAccepted": on(p, func(o *op, e domain.InvitationAccepted) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.InvitationExpiresAt, p.Status, p.Subject = nil, domain.StatusActive, e.Subject
				o.set(o.s.subject(e.Subject), string(e.Person))
				return nil
			})
		}),

		"MembershipGranted":      on(p, membershipGranted),
		"RoleChanged":            on(p, roleChanged),
		"MembershipRevoked":      on(p, membershipRevoked),
		"MasterAdminTransferred": on(p, masterAdminTransferred),
		"ManagedSitesAssigned": on(p, func(o *op, e domain.ManagedSitesAssigned) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				if m := p.membership(e.Company); m != nil {
					m.Sites = slices.Clone(e.Sites)
				}
				return nil
			})
		}),
		"SitePermissionsSet": on(p, func(o *op, e domain.SitePermissionsSet) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.SitePermissions = SitePermissions{ReadSites: slices.Clone(e.ReadSites), WriteSites: slices.Clone(e.WriteSites),
					Responsible: slices.Clone(e.Responsible)}
				return nil
			})
		}),
		"TicketRestrictionsSet": on(p, func(o *op, e domain.TicketRestrictionsSet) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.TicketRestrictions = TicketRestrictions{TicketTypes: slices.Clone(e.TicketTypes), Restricted: e.Restricted,
					Statuses: slices.Clone(e.Statuses)}
				return nil
			})
		}),
		"MFARequired": on(p, func(o *op, e domain.MFARequired) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.MFARequired = e.Required; return nil })
		}),
		"UserSuspended": on(p, func(o *op, e domain.UserSuspended) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Status = domain.StatusSuspended; return nil })
		}),
		"UserReactivated": on(p, func(o *op, e domain.UserReactivated) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Status = domain.StatusActive; return nil })
		}),
		"UserRemoved": on(p, func(o *op, e domain.UserRemoved) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				if err := o.dropMasterAdmin(p); err != nil {
					return err
				}
				p.InvitationExpiresAt, p.Status, p.Memberships, p.Subject = nil, domain.StatusRemoved, nil, ""
				return nil
			})
		}),
		"TechnicianAdded": on(p, func(o *op, e domain.TechnicianAdded) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeSystemUser, Name: e.Name, Email: e.Email,
				HomeCompany: e.Company, Status: domain.StatusInvited, InvitationExpiresAt: timePtr(e.ExpiresAt),
				Memberships: []Membership{{Company: e.Company, Role: domain.RoleMember, Permissions: domain.PermissionSet{Named: "support"}}}})
		}),

		"TicketOpened":        on(p, ticketOpened),
		"TicketStatusChanged": on(p, ticketStatusChanged),
		"TicketAssigned":      on(p, ticketAssigned),
		"ContractorAssigned":  on(p, contractorAssigned),
		"TicketCommented":     on(p, ticketCommented),
		"DocumentAttached":    on(p, documentAttached),
	}
}

// op is one event's unit of work on one tenant's directory: it reads the committed state, queues
// the event's writes (none while replaying) and stages the event's changes to the state.
type op struct {
	p     *Projection
	st    *state // as of the last committed event: every read of an event sees the state before it
	ctx   context.Context
	w     *projections.Writes // nil while replaying
	s     space
	score float64   // of members an event adds to an index: its log position
	at    time.Time // the event's occurred_at
	// exclusive: a rebuild's, into a generation nobody reads yet (projections.Tx.Exclusive).
	exclusive bool
}

// on adapts a typed handler to an ApplyFunc (the registry decodes payloads as pointers). Each
// call starts the event's staged changes afresh: a retried transaction is applied again against
// the committed state.
func on[E any](p *Projection, fn func(o *op, e E) error) projections.ApplyFunc {
	return func(tx *projections.Tx, ev projections.Event) error {
		var payload E
		switch v := any(ev.Payload).(type) {
		case *E:
			payload = *v
		case E:
			payload = v
		default:
			return fmt.Errorf("directory: %s: unexpected payload %T", ev.Envelope.Type, ev.Payload)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pending, p.at = p.pending[:0], ev.Position
		sk := spaceKey{tx.Keys, ev.Tenant()}
		sp, ok := p.spaces[sk]
		if !ok {
			if p.spaces == nil {
				p.spaces = map[spaceKey]space{}
			}
			sp = spaceOf(tx.Keys, ev.Tenant())
			p.spaces[sk] = sp
		}
		o := &op{p: p, st: p.tenant(ev.Tenant()), ctx: tx.Ctx, w: tx.B, s: sp,
			score: float64(ev.Position.Commit), at: ev.Envelope.OccurredAt.UTC(), exclusive: tx.Exclusive}
		return fn(o, payload)
	}
}

// then stages a change of the in-memory state, kept when the event's transaction succeeds.
func (o *op) then(f func()) { o.p.pending = append(o.p.pending, f) }

func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// --- Redis writes (skipped while replaying)

func (o *op) hset(key string, values ...any) {
	if o.w != nil {
		o.w.HSet(key, values...)
	}
}

func (o *op) hdel(key string, fields ...string) {
	if o.w != nil {
		o.w.HDel(key, fields...)
	}
}

func (o *op) write(key string, f fields) {
	if len(f.del) > 0 {
		o.hdel(key, f.del...)
	}
	if len(f.set) > 0 {
		o.hset(key, f.set...)
	}
}

// index adds member to a sorted index, keeping its place if it is there already.
func (o *op) index(key, member string) {
	if o.w != nil {
		o.w.ZAddNX(key, redis.Z{Score: o.score, Member: member})
	}
}

func (o *op) unindex(key, member string) {
	if o.w != nil {
		o.w.ZRem(key, member)
	}
}

func (o *op) set(key, value string) {
	if o.w != nil {
		o.w.Set(key, value)
	}
}

func (o *op) del(key string) {
	if o.w != nil {
		o.w.Del(key)
	}
}

func (o *op) sadd(key, member string) {
	if o.w != nil {
		o.w.SAdd(key, member)
	}
}

func (o *op) srem(key, member string) {
	if o.w != nil {
		o.w.SRem(key, member)
	}
}

func (o *op) rpush(key, value string) {
	if o.w != nil {
		o.w.RPush(key, value)
	}
}

// --- tenant, companies, sites, groups

func tenantConfigured(o *op, e domain.TenantConfigured) error {
	o.hset(o.s.tenant(), "name", e.Name, "seats", e.Seats)
	return nil
}

func companyRegistered(o *op, e domain.CompanyRegistered) error {
	o.write(o.s.company(e.Company), companyFields(Company{ID: e.Company, Name: e.Name, Kind: e.Kind, Parent: e.Parent, RegisteredBy: e.RegisteredBy}))
	o.index(o.s.companies(), string(e.Company))
	if e.Parent != "" {
		o.index(o.s.daughters(e.Parent), string(e.Company))
	}
	// The record is written whole: no master admin (yet).
	st, id, parent := o.st, e.Company, e.Parent
	o.then(func() { st.companies[id] = &companyState{parent: parent} })
	return nil
}

func companyRenamed(o *op, e domain.CompanyRenamed) error {
	if o.st.companies[e.Company] == nil {
		return nil
	}
	o.hset(o.s.company(e.Company), "name", e.Name)
	return nil
}

func parentCompanySet(o *op, e domain.ParentCompanySet) error {
	co := o.st.companies[e.Company]
	if co == nil {
		return nil
	}
	key := o.s.company(e.Company)
	if old := co.parent; old != "" && old != e.Parent {
		o.unindex(o.s.daughters(old), string(e.Company))
	}
	if e.Parent != "" {
		o.index(o.s.daughters(e.Parent), string(e.Company))
		o.hset(key, "parent", string(e.Parent))
	} else {
		o.hdel(key, "parent")
	}
	parent := e.Parent
	o.then(func() { co.parent = parent })
	return nil
}

func siteAdded(o *op, e domain.SiteAdded) error {
	if o.st.companies[e.Company] == nil {
		return nil
	}
	o.write(o.s.site(e.Site), siteFields(Site{ID: e.Site, Company: e.Company, Name: e.Name, Address: e.Address}))
	o.index(o.s.companySites(e.Company), string(e.Site))
	st, site, company := o.st, e.Site, e.Company
	o.then(func() { st.sites[site] = company })
	return nil
}

// siteRemoved mirrors domain.SiteRemoved: the company loses the site, and every person loses it
// from its read and write sites and from its membership of that company. The people concerned
// are those naming the site (the site's refs): the cost is theirs, not the tenant's.
func siteRemoved(o *op, e domain.SiteRemoved) error {
	st, site := o.st, e.Site
	if owner := st.sites[site]; owner == e.Company { // as HGET company of a missing record: ""
		o.del(o.s.site(site))
		o.then(func() { delete(st.sites, site) })
	}
	o.unindex(o.s.companySites(e.Company), string(site))
	ids := make([]domain.PersonID, 0, len(st.siteRefs[site]))
	for id := range st.siteRefs[site] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		old := st.people[id]
		if old == nil {
			continue
		}
		p := old.clone()
		p.SitePermissions.ReadSites = without(p.SitePermissions.ReadSites, site)
		p.SitePermissions.WriteSites = without(p.SitePermissions.WriteSites, site)
		if m := p.membership(e.Company); m != nil {
			m.Sites = without(m.Sites, site)
		}
		if err := o.savePerson(old, p); err != nil {
			return err
		}
	}
	return nil
}

func without[T comparable](s []T, v T) []T {
	out := slices.DeleteFunc(slices.Clone(s), func(x T) bool { return x == v })
	if len(out) == 0 {
		return nil
	}
	return out
}

func userGroupCreated(o *op, e domain.UserGroupCreated) error {
	f, err := groupFields(Group{ID: e.Group, Name: e.Name, SupportUser: e.SupportUser, Permissions: e.Permissions})
	if err != nil {
		return err
	}
	o.write(o.s.group(e.Group), f)
	o.index(o.s.groups(), string(e.Group))
	st, id, flag := o.st, e.Group, e.SupportUser
	o.then(func() { st.groups[id] = flag })
	return nil
}

func groupPermissionsSet(o *op, e domain.GroupPermissionsSet) error {
	if _, ok := o.st.groups[e.Group]; !ok {
		return nil
	}
	if o.w == nil {
		return nil
	}
	var f fields
	if err := f.json("permissions", e.Permissions, false); err != nil {
		return err
	}
	o.write(o.s.group(e.Group), f)
	return nil
}

// --- people

func (o *op) loadPerson(id domain.PersonID) *Person {
	if id == "" {
		return nil
	}
	return o.st.people[id]
}

// updatePerson applies fn to a copy of the person and saves it; an unknown person is left alone.
func (o *op) updatePerson(id domain.PersonID, fn func(p *Person) error) error {
	old := o.loadPerson(id)
	if old == nil {
		return nil
	}
	p := old.clone()
	if err := fn(p); err != nil {
		return err
	}
	return o.savePerson(old, p)
}

// replacePerson saves p as a new record (as the domain's creating events do).
func (o *op) replacePerson(p *Person) error {
	return o.savePerson(o.loadPerson(p.ID), p)
}

// classOf derives the class as domain.Directory.ClassOf does.
func (o *op) classOf(p *Person) domain.Class {
	if p.Type == domain.TypeContact {
		return domain.ClassContact
	}
	if p.Group != "" {
		if support, ok := o.st.groups[p.Group]; ok && !support {
			return domain.ClassNormal
		}
	}
	return domain.ClassSupport
}

// savePerson writes p and moves it in every index where it differs from old (nil: new).
func (o *op) savePerson(old, p *Person) error {
	if old == nil || p.Class == "" || old.Type != p.Type || old.Group != p.Group {
		p.Class = o.classOf(p)
	}
	id := string(p.ID)
	if o.w != nil {
		f, err := personFields(p)
		if err != nil {
			return err
		}
		// A record is written whole: fields of the old record that p does not set go with it.
		if old != nil {
			o.del(o.s.person(p.ID))
		}
		o.hset(o.s.person(p.ID), f.set...)

		wasHome, isHome := listedAtHome(old), listedAtHome(p)
		if wasHome && (!isHome || old.HomeCompany != p.HomeCompany) {
			o.unindex(o.s.companyPeople(old.HomeCompany), id)
		}
		if isHome && (!wasHome || old.HomeCompany != p.HomeCompany) {
			o.index(o.s.companyPeople(p.HomeCompany), id)
		}
		gone, added := diff(memberCompanies(old), memberCompanies(p))
		for _, c := range gone {
			o.unindex(o.s.members(c), id)
		}
		for _, c := range added {
			o.index(o.s.members(c), id)
		}
		goneSites, addedSites := diff(userSites(old), userSites(p))
		for _, s := range goneSites {
			o.unindex(o.s.siteUsers(s), id)
		}
		for _, s := range addedSites {
			o.index(o.s.siteUsers(s), id)
		}
	}
	goneRefs, addedRefs := diff(refSites(old), refSites(p))
	for _, s := range goneRefs {
		o.srem(o.s.siteRefs(s), id)
	}
	for _, s := range addedRefs {
		o.sadd(o.s.siteRefs(s), id)
	}
	st := o.st
	o.then(func() {
		st.people[p.ID] = p
		for _, s := range goneRefs {
			if refs := st.siteRefs[s]; refs != nil {
				delete(refs, p.ID)
				if len(refs) == 0 {
					delete(st.siteRefs, s)
				}
			}
		}
		for _, s := range addedRefs {
			refs := st.siteRefs[s]
			if refs == nil {
				refs = map[domain.PersonID]struct{}{}
				st.siteRefs[s] = refs
			}
			refs[p.ID] = struct{}{}
		}
	})
	return nil
}

func listedAtHome(p *Person) bool { return p != nil && p.Status != domain.StatusRemoved }

func memberCompanies(p *Person) []domain.CompanyID {
	if p == nil {
		return nil
	}
	out := make([]domain.CompanyID, 0, len(p.Memberships))
	for _, m := range p.Memberships {
		out = append(out, m.Company)
	}
	return out
}

// userSites are the sites whose users p is: those of its basic and manager memberships.
func userSites(p *Person) []domain.SiteID {
	if p == nil {
		return nil
	}
	var out []domain.SiteID
	for _, m := range p.Memberships {
		if m.Role == domain.RoleBasic || m.Role == domain.RoleManager {
			out = append(out, m.Sites...)
		}
	}
	return out
}

// refSites are every site p names: read and write sites and the sites of any membership.
func refSites(p *Person) []domain.SiteID {
	if p == nil {
		return nil
	}
	out := slices.Concat(p.SitePermissions.ReadSites, p.SitePermissions.WriteSites)
	for _, m := range p.Memberships {
		out = append(out, m.Sites...)
	}
	return out
}

// diff returns what is in a but not b (gone) and in b but not a (added), each once, sorted.
func diff[T ~string](a, b []T) (gone, added []T) {
	in := func(s []T, v T) bool { return slices.Contains(s, v) }
	for _, v := range a {
		if !in(b, v) && !in(gone, v) {
			gone = append(gone, v)
		}
	}
	for _, v := range b {
		if !in(a, v) && !in(added, v) {
			added = append(added, v)
		}
	}
	slices.Sort(gone)
	slices.Sort(added)
	return gone, added
}

// dropMasterAdmin clears p as master admin of the companies it is a member of, as the domain
// does before it clears a person's memberships.
func (o *op) dropMasterAdmin(p *Person) error {
	for _, c := range memberCompanies(p) {
		if co := o.st.companies[c]; co != nil && co.masterAdmin == p.ID {
			o.hdel(o.s.company(c), "master_admin")
			o.then(func() { co.masterAdmin = "" })
		}
	}
	return nil
}

func (o *op) endInvitation(id domain.PersonID) error {
	return o.updatePerson(id, func(p *Person) error {
		p.InvitationExpiresAt = nil
		if p.Status == domain.StatusInvited {
			if err := o.dropMasterAdmin(p); err != nil {
				return err
			}
			p.Status, p.Memberships = domain.StatusRemoved, nil
		}
		return nil
	})
}

func (o *op) setMasterAdmin(c domain.CompanyID, p domain.PersonID) error {
	co := o.st.companies[c]
	if co == nil {
		return nil
	}
	o.hset(o.s.company(c), "master_admin", string(p))
	o.then(func() { co.masterAdmin = p })
	return nil
}

func membershipGranted(o *op, e domain.MembershipGranted) error {
	old := o.loadPerson(e.Person)
	if old == nil {
		return nil
	}
	p := old.clone()
	p.putMembership(Membership{Company: e.Company, Role: e.Role, Permissions: clonePerms(e.Permissions), Sites: slices.Clone(e.Sites)})
	if e.Role == domain.RoleMasterAdmin {
		if err := o.setMasterAdmin(e.Company, e.Person); err != nil {
			return err
		}
	}
	return o.savePerson(old, p)
}

func roleChanged(o *op, e domain.RoleChanged) error {
	return o.updatePerson(e.Person, func(p *Person) error {
		if m := p.membership(e.Company); m != nil {
			m.Role, m.Sites = e.Role, slices.Clone(e.Sites)
		}
		return nil
	})
}

func membershipRevoked(o *op, e domain.MembershipRevoked) error {
	return o.updatePerson(e.Person, func(p *Person) error { p.dropMembership(e.Company); return nil })
}

func masterAdminTransferred(o *op, e domain.MasterAdminTransferred) error {
	from := o.loadPerson(e.From)
	to := from
	if e.To != e.From {
		to = o.loadPerson(e.To)
	}
	var fromNew, toNew *Person
	if from != nil {
		fromNew = from.clone()
		if m := fromNew.membership(e.Company); m != nil {
			m.Role = domain.RoleAdmin
		}
	}
	if to != nil {
		toNew = to.clone()
		if e.To == e.From {
			toNew = fromNew
		}
		if m := toNew.membership(e.Company); m != nil {
			m.Role, m.Sites = domain.RoleMasterAdmin, nil
		} else {
			toNew.putMembership(Membership{Company: e.Company, Role: domain.RoleMasterAdmin, Permissions: domain.PermissionSet{Named: "full"}})
		}
	}
	if err := o.setMasterAdmin(e.Company, e.To); err != nil {
		return err
	}
	if from != nil && e.To != e.From {
		if err := o.savePerson(from, fromNew); err != nil {
			return err
		}
	}
	if to != nil {
		return o.savePerson(to, toNew)
	}
	return nil
}

func clonePerms(p domain.PermissionSet) domain.PermissionSet {
	p.List = slices.Clone(p.List)
	return p
}

// --- tickets and documents

// touchTicket reports whether the ticket is known; the caller then writes its new updated_at
// (with whatever else the event changes in the ticket's record) through writeTicket.
func (o *op) touchTicket(id domain.TicketID) bool {
	_, ok := o.st.tickets[id]
	return ok
}

// writeTicket writes fields of a ticket's record with the record's version ("ver": the log
// position of the event, unique per change), and drops the card the read API may have
// rendered from the previous version (readapi stores a card only if the version it rendered is
// still the record's: see directory.Reader.FillTicketCards). There is no card to drop for a
// ticket without a record yet, nor in a generation no reader has seen (a rebuild's).
func (o *op) writeTicket(id domain.TicketID, f fields) {
	if o.w == nil {
		return
	}
	f.set = append(f.set, "ver", o.p.at.String())
	o.write(o.s.ticket(id), f)
	if !o.exclusive && o.touchTicket(id) {
		o.del(o.s.ticketCard(id))
	}
}

func ticketOpened(o *op, e domain.TicketOpened) error {
	if o.w != nil {
		f := fields{set: make([]any, 0, 32), del: make([]string, 0, 8)}
		f.str("id", string(e.Ticket))
		f.str("company", string(e.Company))
		f.str("site", string(e.Site))
		f.str("type", e.Type)
		f.str("status", string(e.Status))
		f.str("title", e.Title)
		f.str("description", e.Description)
		f.str("reporter", string(e.Reporter))
		f.str("responsible_group", string(e.ResponsibleGroup))
		f.str("responsible_user", string(e.ResponsibleUser))
		f.str("contractor", "")
		f.str("technician", "")
		at := formatTime(o.at)
		f.set = append(f.set, "opened_at", at, "updated_at", at)
		// No comments and no documents: absent counters read as 0 (two fields fewer per ticket).
		f.del = append(f.del, "comments", "documents")
		if !o.touchTicket(e.Ticket) {
			f.del = nil // a ticket the state does not know has no record: nothing to delete
		}
		o.writeTicket(e.Ticket, f)
	}
	// The id is cloned, not a slice of the whole event's JSON; the record reads 0 and 0.
	st, id := o.st, domain.TicketID(strings.Clone(string(e.Ticket)))
	o.then(func() { st.tickets[id] = ticketCounts{} })
	return nil
}

func ticketStatusChanged(o *op, e domain.TicketStatusChanged) error {
	if !o.touchTicket(e.Ticket) {
		return nil
	}
	o.writeTicket(e.Ticket, fields{set: []any{"updated_at", formatTime(o.at), "status", string(e.To)}})
	return nil
}

func ticketAssigned(o *op, e domain.TicketAssigned) error {
	if !o.touchTicket(e.Ticket) {
		return nil
	}
	f := fields{set: []any{"updated_at", formatTime(o.at)}}
	f.str("responsible_group", string(e.Group))
	f.str("responsible_user", string(e.User))
	o.writeTicket(e.Ticket, f)
	return nil
}

func contractorAssigned(o *op, e domain.ContractorAssigned) error {
	if !o.touchTicket(e.Ticket) {
		return nil
	}
	f := fields{set: []any{"updated_at", formatTime(o.at)}}
	f.str("contractor", string(e.Contractor))
	f.str("technician", string(e.Technician))
	o.writeTicket(e.Ticket, f)
	return nil
}

func ticketCommented(o *op, e domain.TicketCommented) error {
	if !o.touchTicket(e.Ticket) {
		return nil
	}
	st, id := o.st, e.Ticket
	n := st.tickets[id].comments + 1
	if o.w != nil {
		b, err := json.Marshal(Comment{ID: e.Comment, Author: e.Author, Body: e.Body, At: o.at})
		if err != nil {
			return err
		}
		o.rpush(o.s.comments(id), string(b))
		o.writeTicket(id, fields{set: []any{"updated_at", formatTime(o.at), "comments", n}})
	}
	o.then(func() { c := st.tickets[id]; c.comments = n; st.tickets[id] = c })
	return nil
}

func documentAttached(o *op, e domain.DocumentAttached) error {
	if e.Ticket != "" {
		if !o.touchTicket(e.Ticket) {
			return nil
		}
		st, id := o.st, e.Ticket
		n := st.tickets[id].documents + 1
		o.writeTicket(id, fields{set: []any{"updated_at", formatTime(o.at), "documents", n}})
		o.index(o.s.ticketDocs(id), string(e.Document))
		o.then(func() { c := st.tickets[id]; c.documents = n; st.tickets[id] = c })
	} else {
		o.index(o.s.companyDocs(e.Company), string(e.Document))
	}
	if o.w != nil {
		o.write(o.s.document(e.Document), documentFields(Document{ID: e.Document, Company: e.Company, Ticket: e.Ticket,
			Name: e.Name, ContentType: e.ContentType, SizeBytes: e.SizeBytes, UploadedBy: e.UploadedBy, AttachedAt: o.at}))
	}
	return nil
}
