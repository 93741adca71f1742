package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

// Name is the projection's name (its checkpoint and Watermill handler).
const Name = "directory"

// Projection is the directory read model. It keeps no state in memory.
type Projection struct{}

// New returns the directory projection.
func New() Projection { return Projection{} }

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Handlers implements projections.Projection: every Directory, Ticket and Document event that
// changes what the directory shows. Company-access events only move the checkpoint.
func (Projection) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"TenantConfigured":  on(tenantConfigured),
		"CompanyRegistered": on(companyRegistered),
		"CompanyRenamed":    on(companyRenamed),
		"ParentCompanySet":  on(parentCompanySet),
		"SiteAdded":         on(siteAdded),
		"SiteRemoved":       on(siteRemoved),

		"UserGroupCreated":    on(userGroupCreated),
		"GroupPermissionsSet": on(groupPermissionsSet),
		"UserMovedToGroup": on(func(o *op, e domain.UserMovedToGroup) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Group = e.Group; return nil })
		}),

		"ContactAdded": on(func(o *op, e domain.ContactAdded) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeContact, Name: e.Name, Email: e.Email,
				HomeCompany: e.HomeCompany, Status: domain.StatusContact, NotificationPrefs: slices.Clone(e.NotificationPrefs)})
		}),
		"NotificationPreferencesUpdated": on(func(o *op, e domain.NotificationPreferencesUpdated) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.NotificationPrefs = slices.Clone(e.Prefs); return nil })
		}),
		"ContactPromotedToUser": on(func(o *op, e domain.ContactPromotedToUser) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.Type, p.Group, p.Status = domain.TypeSystemUser, e.Group, domain.StatusInvited
				p.InvitationExpiresAt = timePtr(e.ExpiresAt)
				return nil
			})
		}),
		"UserDemotedToContact": on(func(o *op, e domain.UserDemotedToContact) error {
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

		"UserInvited": on(func(o *op, e domain.UserInvited) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeSystemUser, Name: e.Name, Email: e.Email,
				HomeCompany: e.HomeCompany, Group: e.Group, Status: domain.StatusInvited, InvitationExpiresAt: timePtr(e.ExpiresAt)})
		}),
		"InvitationResent": on(func(o *op, e domain.InvitationResent) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.InvitationExpiresAt = timePtr(e.ExpiresAt); return nil })
		}),
		"InvitationRevoked": on(func(o *op, e domain.InvitationRevoked) error { return o.endInvitation(e.Person) }),
		"InvitationExpired": on(func(o *op, e domain.InvitationExpired) error { return o.endInvitation(e.Person) }),
		"InvitationAccepted": on(func(o *op, e domain.InvitationAccepted) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.InvitationExpiresAt, p.Status, p.Subject = nil, domain.StatusActive, e.Subject
				o.tx.W.Set(o.tx.Ctx, o.s.subject(e.Subject), string(e.Person), 0)
				return nil
			})
		}),

		"MembershipGranted":      on(membershipGranted),
		"RoleChanged":            on(roleChanged),
		"MembershipRevoked":      on(membershipRevoked),
		"MasterAdminTransferred": on(masterAdminTransferred),
		"ManagedSitesAssigned": on(func(o *op, e domain.ManagedSitesAssigned) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				if m := p.membership(e.Company); m != nil {
					m.Sites = slices.Clone(e.Sites)
				}
				return nil
			})
		}),
		"SitePermissionsSet": on(func(o *op, e domain.SitePermissionsSet) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.SitePermissions = SitePermissions{ReadSites: slices.Clone(e.ReadSites), WriteSites: slices.Clone(e.WriteSites),
					Responsible: slices.Clone(e.Responsible)}
				return nil
			})
		}),
		"TicketRestrictionsSet": on(func(o *op, e domain.TicketRestrictionsSet) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				p.TicketRestrictions = TicketRestrictions{TicketTypes: slices.Clone(e.TicketTypes), Restricted: e.Restricted,
					Statuses: slices.Clone(e.Statuses)}
				return nil
			})
		}),
		"MFARequired": on(func(o *op, e domain.MFARequired) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.MFARequired = e.Required; return nil })
		}),
		"UserSuspended": on(func(o *op, e domain.UserSuspended) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Status = domain.StatusSuspended; return nil })
		}),
		"UserReactivated": on(func(o *op, e domain.UserReactivated) error {
			return o.updatePerson(e.Person, func(p *Person) error { p.Status = domain.StatusActive; return nil })
		}),
		"UserRemoved": on(func(o *op, e domain.UserRemoved) error {
			return o.updatePerson(e.Person, func(p *Person) error {
				if err := o.dropMasterAdmin(p); err != nil {
					return err
				}
				p.InvitationExpiresAt, p.Status, p.Memberships, p.Subject = nil, domain.StatusRemoved, nil, ""
				return nil
			})
		}),
		"TechnicianAdded": on(func(o *op, e domain.TechnicianAdded) error {
			return o.replacePerson(&Person{ID: e.Person, Type: domain.TypeSystemUser, Name: e.Name, Email: e.Email,
				HomeCompany: e.Company, Status: domain.StatusInvited, InvitationExpiresAt: timePtr(e.ExpiresAt),
				Memberships: []Membership{{Company: e.Company, Role: domain.RoleMember, Permissions: domain.PermissionSet{Named: "support"}}}})
		}),

		"TicketOpened":        on(ticketOpened),
		"TicketStatusChanged": on(ticketStatusChanged),
		"TicketAssigned":      on(ticketAssigned),
		"ContractorAssigned":  on(contractorAssigned),
		"TicketCommented":     on(ticketCommented),
		"DocumentAttached":    on(documentAttached),
	}
}

// op is one event's unit of work on one tenant's directory.
type op struct {
	tx    *projections.Tx
	s     space
	score float64   // of members an event adds to an index: its log position
	at    time.Time // the event's occurred_at
}

// on adapts a typed handler to an ApplyFunc (the registry decodes payloads as pointers).
func on[E any](fn func(o *op, e E) error) projections.ApplyFunc {
	return func(tx *projections.Tx, ev projections.Event) error {
		var payload E
		switch p := any(ev.Payload).(type) {
		case *E:
			payload = *p
		case E:
			payload = p
		default:
			return fmt.Errorf("directory: %s: unexpected payload %T", ev.Envelope.Type, ev.Payload)
		}
		o := &op{tx: tx, s: spaceOf(tx.Keys, ev.Tenant()), score: float64(ev.Position.Commit), at: ev.Envelope.OccurredAt.UTC()}
		return fn(o, payload)
	}
}

func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// --- small Redis helpers

func (o *op) exists(key string) (bool, error) {
	n, err := o.tx.R.Exists(o.tx.Ctx, key).Result()
	return n > 0, err
}

func (o *op) write(key string, f fields) {
	if len(f.del) > 0 {
		o.tx.W.HDel(o.tx.Ctx, key, f.del...)
	}
	if len(f.set) > 0 {
		o.tx.W.HSet(o.tx.Ctx, key, f.set...)
	}
}

// index adds member to a sorted index, keeping its place if it is there already.
func (o *op) index(key, member string) {
	o.tx.W.ZAddNX(o.tx.Ctx, key, redis.Z{Score: o.score, Member: member})
}

func (o *op) unindex(key, member string) { o.tx.W.ZRem(o.tx.Ctx, key, member) }

// --- tenant, companies, sites, groups

func tenantConfigured(o *op, e domain.TenantConfigured) error {
	o.tx.W.HSet(o.tx.Ctx, o.s.tenant(), "name", e.Name, "seats", e.Seats)
	return nil
}

func companyRegistered(o *op, e domain.CompanyRegistered) error {
	o.write(o.s.company(e.Company), companyFields(Company{ID: e.Company, Name: e.Name, Kind: e.Kind, Parent: e.Parent, RegisteredBy: e.RegisteredBy}))
	o.index(o.s.companies(), string(e.Company))
	if e.Parent != "" {
		o.index(o.s.daughters(e.Parent), string(e.Company))
	}
	return nil
}

func companyRenamed(o *op, e domain.CompanyRenamed) error {
	if ok, err := o.exists(o.s.company(e.Company)); !ok || err != nil {
		return err
	}
	o.tx.W.HSet(o.tx.Ctx, o.s.company(e.Company), "name", e.Name)
	return nil
}

func parentCompanySet(o *op, e domain.ParentCompanySet) error {
	key := o.s.company(e.Company)
	m, err := o.tx.R.HGetAll(o.tx.Ctx, key).Result()
	if err != nil || len(m) == 0 {
		return err
	}
	if old := domain.CompanyID(m["parent"]); old != "" && old != e.Parent {
		o.unindex(o.s.daughters(old), string(e.Company))
	}
	if e.Parent != "" {
		o.index(o.s.daughters(e.Parent), string(e.Company))
		o.tx.W.HSet(o.tx.Ctx, key, "parent", string(e.Parent))
	} else {
		o.tx.W.HDel(o.tx.Ctx, key, "parent")
	}
	return nil
}

func siteAdded(o *op, e domain.SiteAdded) error {
	if ok, err := o.exists(o.s.company(e.Company)); !ok || err != nil {
		return err
	}
	o.write(o.s.site(e.Site), siteFields(Site{ID: e.Site, Company: e.Company, Name: e.Name, Address: e.Address}))
	o.index(o.s.companySites(e.Company), string(e.Site))
	return nil
}

// siteRemoved mirrors domain.SiteRemoved: the company loses the site, and every person loses it
// from its read and write sites and from its membership of that company. The people concerned
// are those of the site's refs index: the cost is theirs, not the tenant's.
func siteRemoved(o *op, e domain.SiteRemoved) error {
	owner, err := o.tx.R.HGet(o.tx.Ctx, o.s.site(e.Site), "company").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if owner == string(e.Company) {
		o.tx.W.Del(o.tx.Ctx, o.s.site(e.Site))
	}
	o.unindex(o.s.companySites(e.Company), string(e.Site))
	ids, err := o.tx.R.SMembers(o.tx.Ctx, o.s.siteRefs(e.Site)).Result()
	if err != nil {
		return err
	}
	slices.Sort(ids)
	people, err := o.loadPeople(ids)
	if err != nil {
		return err
	}
	for _, old := range people {
		p := old.clone()
		p.SitePermissions.ReadSites = without(p.SitePermissions.ReadSites, e.Site)
		p.SitePermissions.WriteSites = without(p.SitePermissions.WriteSites, e.Site)
		if m := p.membership(e.Company); m != nil {
			m.Sites = without(m.Sites, e.Site)
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
	return nil
}

func groupPermissionsSet(o *op, e domain.GroupPermissionsSet) error {
	if ok, err := o.exists(o.s.group(e.Group)); !ok || err != nil {
		return err
	}
	var f fields
	if err := f.json("permissions", e.Permissions, false); err != nil {
		return err
	}
	o.write(o.s.group(e.Group), f)
	return nil
}

// --- people

func (o *op) loadPerson(id domain.PersonID) (*Person, error) {
	if id == "" {
		return nil, nil
	}
	m, err := o.tx.R.HGetAll(o.tx.Ctx, o.s.person(id)).Result()
	if err != nil {
		return nil, err
	}
	return personFrom(m)
}

// loadPeople reads the people that exist among ids, in one round trip.
func (o *op) loadPeople(ids []string) ([]*Person, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := o.tx.R.Pipelined(o.tx.Ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(o.tx.Ctx, o.s.person(domain.PersonID(id)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []*Person
	for _, c := range cmds {
		p, err := personFrom(c.Val())
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// updatePerson applies fn to a copy of the person and saves it; an unknown person is left alone.
func (o *op) updatePerson(id domain.PersonID, fn func(p *Person) error) error {
	old, err := o.loadPerson(id)
	if err != nil || old == nil {
		return err
	}
	p := old.clone()
	if err := fn(p); err != nil {
		return err
	}
	return o.savePerson(old, p)
}

// replacePerson saves p as a new record (as the domain's creating events do).
func (o *op) replacePerson(p *Person) error {
	old, err := o.loadPerson(p.ID)
	if err != nil {
		return err
	}
	return o.savePerson(old, p)
}

// classOf derives the class as domain.Directory.ClassOf does.
func (o *op) classOf(p *Person) (domain.Class, error) {
	if p.Type == domain.TypeContact {
		return domain.ClassContact, nil
	}
	if p.Group != "" {
		flag, err := o.tx.R.HGet(o.tx.Ctx, o.s.group(p.Group), "support_user").Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return "", err
		case flag == "0":
			return domain.ClassNormal, nil
		}
	}
	return domain.ClassSupport, nil
}

// savePerson writes p and moves it in every index where it differs from old (nil: new).
func (o *op) savePerson(old, p *Person) error {
	if old == nil || p.Class == "" || old.Type != p.Type || old.Group != p.Group {
		c, err := o.classOf(p)
		if err != nil {
			return err
		}
		p.Class = c
	}
	f, err := personFields(p)
	if err != nil {
		return err
	}
	// A record is written whole: fields of the old record that p does not set go with it.
	if old != nil {
		o.tx.W.Del(o.tx.Ctx, o.s.person(p.ID))
	}
	o.tx.W.HSet(o.tx.Ctx, o.s.person(p.ID), f.set...)

	id := string(p.ID)
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
	goneSites, addedSites = diff(refSites(old), refSites(p))
	for _, s := range goneSites {
		o.tx.W.SRem(o.tx.Ctx, o.s.siteRefs(s), id)
	}
	for _, s := range addedSites {
		o.tx.W.SAdd(o.tx.Ctx, o.s.siteRefs(s), id)
	}
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
	companies := memberCompanies(p)
	if len(companies) == 0 {
		return nil
	}
	cmds := make([]*redis.StringCmd, len(companies))
	_, _ = o.tx.R.Pipelined(o.tx.Ctx, func(pipe redis.Pipeliner) error {
		for i, c := range companies {
			cmds[i] = pipe.HGet(o.tx.Ctx, o.s.company(c), "master_admin")
		}
		return nil
	})
	for i, c := range companies {
		if err := cmds[i].Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if cmds[i].Val() == string(p.ID) {
			o.tx.W.HDel(o.tx.Ctx, o.s.company(c), "master_admin")
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
	if ok, err := o.exists(o.s.company(c)); !ok || err != nil {
		return err
	}
	o.tx.W.HSet(o.tx.Ctx, o.s.company(c), "master_admin", string(p))
	return nil
}

func membershipGranted(o *op, e domain.MembershipGranted) error {
	old, err := o.loadPerson(e.Person)
	if err != nil || old == nil {
		return err
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
	from, err := o.loadPerson(e.From)
	if err != nil {
		return err
	}
	to := from
	if e.To != e.From {
		if to, err = o.loadPerson(e.To); err != nil {
			return err
		}
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

// touchTicket reports whether the ticket is known and, if so, queues its new updated_at.
func (o *op) touchTicket(id domain.TicketID) (bool, error) {
	ok, err := o.exists(o.s.ticket(id))
	if ok && err == nil {
		o.tx.W.HSet(o.tx.Ctx, o.s.ticket(id), "updated_at", formatTime(o.at))
	}
	return ok, err
}

func ticketOpened(o *op, e domain.TicketOpened) error {
	var f fields
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
	f.time("opened_at", o.at)
	f.time("updated_at", o.at)
	f.set = append(f.set, "comments", 0, "documents", 0)
	o.write(o.s.ticket(e.Ticket), f)
	return nil
}

func ticketStatusChanged(o *op, e domain.TicketStatusChanged) error {
	if ok, err := o.touchTicket(e.Ticket); !ok || err != nil {
		return err
	}
	o.tx.W.HSet(o.tx.Ctx, o.s.ticket(e.Ticket), "status", string(e.To))
	return nil
}

func ticketAssigned(o *op, e domain.TicketAssigned) error {
	if ok, err := o.touchTicket(e.Ticket); !ok || err != nil {
		return err
	}
	var f fields
	f.str("responsible_group", string(e.Group))
	f.str("responsible_user", string(e.User))
	o.write(o.s.ticket(e.Ticket), f)
	return nil
}

func contractorAssigned(o *op, e domain.ContractorAssigned) error {
	if ok, err := o.touchTicket(e.Ticket); !ok || err != nil {
		return err
	}
	var f fields
	f.str("contractor", string(e.Contractor))
	f.str("technician", string(e.Technician))
	o.write(o.s.ticket(e.Ticket), f)
	return nil
}

func ticketCommented(o *op, e domain.TicketCommented) error {
	if ok, err := o.touchTicket(e.Ticket); !ok || err != nil {
		return err
	}
	b, err := json.Marshal(Comment{ID: e.Comment, Author: e.Author, Body: e.Body, At: o.at})
	if err != nil {
		return err
	}
	o.tx.W.RPush(o.tx.Ctx, o.s.comments(e.Ticket), string(b))
	o.tx.W.HIncrBy(o.tx.Ctx, o.s.ticket(e.Ticket), "comments", 1)
	return nil
}

func documentAttached(o *op, e domain.DocumentAttached) error {
	if e.Ticket != "" {
		if ok, err := o.touchTicket(e.Ticket); !ok || err != nil {
			return err
		}
		o.index(o.s.ticketDocs(e.Ticket), string(e.Document))
		o.tx.W.HIncrBy(o.tx.Ctx, o.s.ticket(e.Ticket), "documents", 1)
	} else {
		o.index(o.s.companyDocs(e.Company), string(e.Document))
	}
	o.write(o.s.document(e.Document), documentFields(Document{ID: e.Document, Company: e.Company, Ticket: e.Ticket,
		Name: e.Name, ContentType: e.ContentType, SizeBytes: e.SizeBytes, UploadedBy: e.UploadedBy, AttachedAt: o.at}))
	return nil
}
