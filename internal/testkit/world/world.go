// Package world generates random but plausible tenants for differential tests: it drives the
// real deciders (domain.Decide, DecideTicket, DecideDocument with Evolve, EvolveTicket,
// EvolveDocument) in memory with random commands acted by random principals — the system,
// service clients, tenant administrators, portal admins, managers, basic users, technicians —
// and keeps only the commands the deciders accept. A World is deterministic for its seed.
//
// A World gives the accepted commands in append order with their streams (named as the command
// side names them), the final Directory, tickets and documents, and the people. Tests compare
// a read model built from Steps with the reference rules evaluated on the final state.
package world

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/portal-access/backend/domain"
)

// Tenant is the id of every generated tenant.
const Tenant domain.TenantID = "w"

// Start is the simulated clock's start; each attempted command advances it by 1–90 minutes.
var Start = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// Stream names, as the command side names them (commands.DirectoryStream, TicketStream,
// DocumentStream; a test of this package checks they agree).
func DirectoryStream(t domain.TenantID) string { return "directory-" + string(t) }

// TicketStream names a ticket's stream.
func TicketStream(t domain.TenantID, id domain.TicketID) string {
	return "ticket-" + string(t) + "-" + string(id)
}

// DocumentStream names a company document's stream.
func DocumentStream(t domain.TenantID, id domain.DocID) string {
	return "document-" + string(t) + "-" + string(id)
}

// Step is one accepted command: the stream it appended to, who acted, the command's name
// (as in the events' envelope), the simulated time, and the events in order.
type Step struct {
	Stream  string
	Actor   domain.Principal
	Command string
	At      time.Time
	Events  []domain.Event
}

// World is a generated tenant.
type World struct {
	Seed   int64
	Size   int
	Tenant domain.TenantID
	// Steps are the accepted commands in append order.
	Steps []Step
	// Directory is the final state of the tenant's Directory.
	Directory *domain.Directory
	// Tickets are the final tickets; TicketIDs in the order they were opened.
	Tickets   map[domain.TicketID]*domain.Ticket
	TicketIDs []domain.TicketID
	// Documents are every document, of a ticket (Ticket set) or of a company; DocIDs in the
	// order they were attached.
	Documents map[domain.DocID]*domain.Document
	DocIDs    []domain.DocID
	// People are the person ids in the order they appeared (contacts included).
	People []domain.PersonID
	// Attempted and Accepted count commands by name.
	Attempted, Accepted map[string]int
}

// TicketViews gives each ticket's visibility view.
func (w *World) TicketViews() map[domain.TicketID]domain.TicketView {
	out := make(map[domain.TicketID]domain.TicketView, len(w.Tickets))
	for id, t := range w.Tickets {
		out[id] = t.View()
	}
	return out
}

// TicketRefs lists the tickets (with the people they name) in opening order.
func (w *World) TicketRefs() []domain.TicketRef {
	out := make([]domain.TicketRef, 0, len(w.TicketIDs))
	for _, id := range w.TicketIDs {
		out = append(out, w.Tickets[id].Ref())
	}
	return out
}

// Companies lists the tenant's companies, sorted.
func (w *World) Companies() []domain.CompanyID {
	return slices.Sorted(maps.Keys(w.Directory.Companies))
}

// Events lists every event in append order.
func (w *World) Events() []domain.Event {
	var out []domain.Event
	for _, s := range w.Steps {
		out = append(out, s.Events...)
	}
	return out
}

// Generate builds a world of about size accepted commands after the tenant's bootstrap
// (CreateTenant and the first admin's acceptance). Deterministic for (seed, size).
func Generate(seed int64, size int) *World {
	g := &gen{
		r:   newRand(seed),
		d:   domain.NewDirectory(Tenant),
		now: Start,
		w: &World{Seed: seed, Size: size, Tenant: Tenant, Tickets: map[domain.TicketID]*domain.Ticket{},
			Documents: map[domain.DocID]*domain.Document{}, Attempted: map[string]int{}, Accepted: map[string]int{}},
	}
	g.w.Directory = g.d
	g.bootstrap()
	accepted := 0
	for attempts := 0; accepted < size && attempts < size*12; attempts++ {
		g.now = g.now.Add(time.Duration(1+g.r.IntN(90)) * time.Minute)
		if o := g.next(); o != nil && g.exec(o) {
			accepted++
		}
	}
	return g.w
}

// --- the engine

type gen struct {
	r            *rand.Rand
	w            *World
	d            *domain.Directory
	now          time.Time
	seq          int
	removedSites []domain.SiteID
	// cache holds sorted lists derived from the Directory; any Directory event clears it.
	cache struct {
		valid                 bool
		companies, registrars []domain.CompanyID
		sites                 []domain.SiteID
	}
}

func (g *gen) cached() *gen {
	if g.cache.valid {
		return g
	}
	c := &g.cache
	c.companies = slices.Sorted(maps.Keys(g.d.Companies))
	c.sites, c.registrars = nil, nil
	for _, id := range c.companies {
		co := g.d.Companies[id]
		c.sites = append(c.sites, slices.Sorted(maps.Keys(co.Sites))...)
		if co.Kind == domain.KindContractor && co.RegisteredBy != "" && !slices.Contains(c.registrars, co.RegisteredBy) {
			c.registrars = append(c.registrars, co.RegisteredBy)
		}
	}
	slices.Sort(c.registrars)
	c.valid = true
	return g
}

// op is one command to attempt.
type op struct {
	actor domain.Principal
	dir   domain.DirectoryCommand
	// ticket command
	ticket domain.TicketID
	tcmd   domain.TicketCommand
	// company document command
	doc  domain.DocID
	dcmd domain.DocumentCommand
}

func (o *op) name() string {
	switch {
	case o.dir != nil:
		return o.dir.CommandName()
	case o.tcmd != nil:
		return o.tcmd.CommandName()
	}
	return o.dcmd.CommandName()
}

// exec judges o with the real decider and, when accepted with events, applies and records it.
func (g *gen) exec(o *op) bool {
	name := o.name()
	g.w.Attempted[name]++
	var (
		events []domain.Event
		err    error
		stream string
	)
	switch {
	case o.dir != nil:
		stream = DirectoryStream(Tenant)
		events, err = domain.Decide(g.d, o.actor, o.dir)
	case o.tcmd != nil:
		stream = TicketStream(Tenant, o.ticket)
		t := g.w.Tickets[o.ticket]
		if t == nil {
			t = domain.NewTicket(o.ticket)
		}
		events, err = domain.DecideTicket(t, g.d, o.actor, o.tcmd)
	default:
		stream = DocumentStream(Tenant, o.doc)
		doc := g.w.Documents[o.doc]
		if doc == nil {
			doc = domain.NewDocument(o.doc)
		}
		events, err = domain.DecideDocument(doc, g.d, o.actor, o.dcmd)
	}
	if err != nil || len(events) == 0 {
		return false
	}
	g.w.Accepted[name]++
	g.w.Steps = append(g.w.Steps, Step{Stream: stream, Actor: o.actor, Command: name, At: g.now, Events: events})
	for _, e := range events {
		g.apply(o, e)
	}
	return true
}

func (g *gen) apply(o *op, e domain.Event) {
	switch e := e.(type) {
	case domain.UserInvited:
		g.addPerson(e.Person)
	case domain.ContactAdded:
		g.addPerson(e.Person)
	case domain.TechnicianAdded:
		g.addPerson(e.Person)
	case domain.SiteRemoved:
		g.removedSites = append(g.removedSites, e.Site)
	}
	if o.dir != nil {
		domain.Evolve(g.d, e)
		g.cache.valid = false
		return
	}
	if o.tcmd != nil {
		t := g.w.Tickets[o.ticket]
		if t == nil {
			t = domain.NewTicket(o.ticket)
			g.w.Tickets[o.ticket] = t
			g.w.TicketIDs = append(g.w.TicketIDs, o.ticket)
		}
		domain.EvolveTicket(t, e)
	}
	if a, ok := e.(domain.DocumentAttached); ok {
		doc := g.w.Documents[a.Document]
		if doc == nil {
			doc = domain.NewDocument(a.Document)
			g.w.Documents[a.Document] = doc
			g.w.DocIDs = append(g.w.DocIDs, a.Document)
		}
		domain.EvolveDocument(doc, e)
	}
}

func (g *gen) addPerson(id domain.PersonID) {
	if !slices.Contains(g.w.People, id) {
		g.w.People = append(g.w.People, id)
	}
}

func (g *gen) id(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s%d", prefix, g.seq)
}

func (g *gen) chance(percent int) bool { return g.r.IntN(100) < percent }

func pick[T any](g *gen, s []T) (T, bool) {
	var zero T
	if len(s) == 0 {
		return zero, false
	}
	return s[g.r.IntN(len(s))], true
}

// some picks up to n distinct elements of s, in s's order.
func some[T any](g *gen, s []T, n int) []T {
	if n > len(s) {
		n = len(s)
	}
	idx := g.r.Perm(len(s))[:n]
	slices.Sort(idx)
	out := make([]T, 0, n)
	for _, i := range idx {
		out = append(out, s[i])
	}
	return out
}

// bootstrap creates the tenant as the system and lets its first admin accept.
func (g *gen) bootstrap() {
	admin := domain.PersonID(g.id("p"))
	g.exec(&op{actor: domain.System(), dir: domain.CreateTenant{Name: "World", Seats: 4 + g.r.IntN(8),
		Provider: domain.CompanyID(g.id("co")), ProviderName: "Provider", AdminGroup: domain.GroupID(g.id("g")),
		Admin: admin, AdminName: "Admin", AdminEmail: string(admin) + "@world.test", TokenHash: g.id("tok"), Now: g.now}})
	g.exec(&op{actor: domain.Principal{Kind: domain.PrincipalUser},
		dir: domain.AcceptInvitation{TokenHash: g.d.People[admin].Invitation.TokenHash, Subject: "sub-" + string(admin), Now: g.now}})
}

// --- state queries (every list in a deterministic order)

func (g *gen) companies(keep func(*domain.Company) bool) []domain.CompanyID {
	if keep == nil {
		return g.cached().cache.companies
	}
	var out []domain.CompanyID
	for _, id := range g.cached().cache.companies {
		if keep == nil || keep(g.d.Companies[id]) {
			out = append(out, id)
		}
	}
	return out
}

func (g *gen) people(keep func(*domain.Person) bool) []domain.PersonID {
	var out []domain.PersonID
	for _, id := range g.w.People {
		if keep == nil || keep(g.d.People[id]) {
			out = append(out, id)
		}
	}
	return out
}

func (g *gen) groups(keep func(*domain.Group) bool) []domain.GroupID {
	var out []domain.GroupID
	for _, id := range slices.Sorted(maps.Keys(g.d.Groups)) {
		if keep == nil || keep(g.d.Groups[id]) {
			out = append(out, id)
		}
	}
	return out
}

func (g *gen) sitesOf(c domain.CompanyID) []domain.SiteID {
	co := g.d.Companies[c]
	if co == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(co.Sites))
}

func (g *gen) allSites() []domain.SiteID { return g.cached().cache.sites }

func active(p *domain.Person) bool {
	return p.Type == domain.TypeSystemUser && p.Status == domain.StatusActive
}
func user(p *domain.Person) bool {
	return p.Type == domain.TypeSystemUser && p.Status != domain.StatusRemoved
}

func (g *gen) normal(p *domain.Person) bool { return g.d.ClassOf(p) == domain.ClassNormal }

// withPerm: active normal users whose group grants perm (tenant:admin grants all).
func (g *gen) withPerm(perm domain.Permission) []domain.PersonID {
	return g.people(func(p *domain.Person) bool {
		if !active(p) || !g.normal(p) {
			return false
		}
		gr := g.d.Groups[p.Group]
		return gr.Permissions.Has(perm) || gr.Permissions.Has(domain.PermTenantAdmin)
	})
}

// roleIn: active users holding one of roles in c.
func (g *gen) roleIn(c domain.CompanyID, roles ...domain.Role) []domain.PersonID {
	return g.people(func(p *domain.Person) bool {
		m := p.Memberships[c]
		return active(p) && m != nil && slices.Contains(roles, m.Role)
	})
}

func (g *gen) adminsOf(c domain.CompanyID) []domain.PersonID {
	return g.roleIn(c, domain.RoleMasterAdmin, domain.RoleAdmin)
}

func (g *gen) registrarAdmins(c domain.CompanyID) []domain.PersonID {
	if co := g.d.Companies[c]; co != nil && co.RegisteredBy != "" {
		return g.adminsOf(co.RegisteredBy)
	}
	return nil
}

// peopleManagers: who plausibly manages a person of company c.
func (g *gen) peopleManagers(c domain.CompanyID) []domain.PersonID {
	return slices.Concat(g.withPerm(domain.PermUsersManage), g.adminsOf(c), g.roleIn(c, domain.RoleManager), g.registrarAdmins(c))
}

func (g *gen) companyManagers(c domain.CompanyID) []domain.PersonID {
	return slices.Concat(g.withPerm(domain.PermCompaniesManage), g.adminsOf(c), g.registrarAdmins(c))
}

// actor picks who acts: the system (20%), mostly one of the plausible candidates, else any
// active user.
func (g *gen) actor(cands ...[]domain.PersonID) domain.Principal {
	x := g.r.IntN(100)
	if x < 20 {
		return domain.System()
	}
	if all := slices.Concat(cands...); x < 82 && len(all) > 0 {
		id, _ := pick(g, all)
		return domain.User(id)
	}
	if id, ok := pick(g, g.people(active)); ok {
		return domain.User(id)
	}
	return domain.System()
}

func (g *gen) service() domain.Principal {
	scopes := some(g, []domain.Permission{domain.PermTicketsRead, domain.PermTicketsWrite, domain.PermTicketsComment,
		domain.PermDocumentsRead, domain.PermDocumentsWrite}, 1+g.r.IntN(5))
	return domain.Principal{Kind: domain.PrincipalService, Service: "svc", Scopes: scopes}
}

// seers are the active users that see a ticket (by the reference rules): plausible actors.
func (g *gen) seers(v domain.TicketView) []domain.PersonID {
	return g.people(func(p *domain.Person) bool {
		return active(p) && len(g.d.TicketReasons(domain.User(p.ID), v)) > 0
	})
}

// --- random values

var membershipPerms = []domain.Permission{domain.PermTicketsRead, domain.PermTicketsWrite, domain.PermTicketsComment,
	domain.PermDocumentsRead, domain.PermDocumentsWrite, domain.PermBillingRead, domain.PermUsersManage,
	domain.PermContractorsManage, domain.PermNotificationsRecv}

func (g *gen) perms() domain.PermissionSet {
	switch g.r.IntN(9) {
	case 0, 1, 2:
		return domain.PermissionSet{} // the role's default
	case 3:
		return domain.PermissionSet{Named: "full"}
	case 4:
		return domain.PermissionSet{Named: "support"}
	case 5:
		return domain.PermissionSet{Named: "billing"}
	}
	var list []domain.Permission
	for _, p := range membershipPerms {
		if g.chance(40) {
			list = append(list, p)
		}
	}
	return domain.PermissionSet{List: list}
}

var groupPerms = []domain.Permission{domain.PermCompaniesManage, domain.PermUsersManage, domain.PermContractorsManage,
	domain.PermTicketsRead, domain.PermTicketsWrite, domain.PermTicketsComment, domain.PermDocumentsRead,
	domain.PermDocumentsWrite, domain.PermBillingRead}

func (g *gen) groupPermissions(support bool) domain.PermissionSet {
	switch g.r.IntN(8) {
	case 0:
		if !support {
			return domain.PermissionSet{List: []domain.Permission{domain.PermTenantAdmin}}
		}
		return domain.PermissionSet{}
	case 1:
		return domain.PermissionSet{Named: "support"}
	case 2:
		return domain.PermissionSet{Named: "billing"}
	case 3:
		return domain.PermissionSet{Named: "full"}
	case 4:
		return domain.PermissionSet{}
	}
	var list []domain.Permission
	for _, p := range groupPerms {
		if g.chance(35) {
			list = append(list, p)
		}
	}
	return domain.PermissionSet{List: list}
}

func (g *gen) role() domain.Role {
	x := g.r.IntN(100)
	switch {
	case x < 5:
		return domain.RoleMasterAdmin
	case x < 25:
		return domain.RoleAdmin
	case x < 47:
		return domain.RoleManager
	case x < 72:
		return domain.RoleMember
	}
	return domain.RoleBasic
}

// sitesFor gives the sites a role needs in company c (a basic user one, a manager one to three).
func (g *gen) sitesFor(role domain.Role, c domain.CompanyID) []domain.SiteID {
	sites := g.sitesOf(c)
	switch role {
	case domain.RoleBasic:
		return some(g, sites, 1)
	case domain.RoleManager:
		return some(g, sites, 1+g.r.IntN(3))
	}
	return nil
}

// managerSites: when the actor is a manager of c, a basic user at one of its sites is what it
// may create; returns ok when it applies.
func (g *gen) managerSites(actor domain.Principal, c domain.CompanyID) ([]domain.SiteID, bool) {
	if actor.Kind != domain.PrincipalUser {
		return nil, false
	}
	m := g.d.People[actor.Person].Memberships[c]
	if m == nil || m.Role != domain.RoleManager || len(m.ManagedSites) == 0 {
		return nil, false
	}
	return some(g, m.ManagedSites, 1), true
}

func (g *gen) ttl() time.Duration {
	if g.chance(25) {
		return time.Duration(1+g.r.IntN(5)) * time.Hour
	}
	return 0 // the default: 7 days
}

var ticketTypes = []string{"incident", "request", "question"}

// --- the commands

type generator struct {
	weight func(g *gen) int
	make   func(g *gen) *op
}

func always(w int) func(*gen) int { return func(*gen) int { return w } }

// next picks a command by weight and makes it.
func (g *gen) next() *op {
	total := 0
	weights := make([]int, len(generators))
	for i, gen := range generators {
		weights[i] = max(0, gen.weight(g))
		total += weights[i]
	}
	x := g.r.IntN(total)
	for i, w := range weights {
		if x < w {
			return generators[i].make(g)
		}
		x -= w
	}
	return nil
}

func (g *gen) count(keep func(*domain.Person) bool) int { return len(g.people(keep)) }

var generators []generator

func init() {
	generators = []generator{
		{func(g *gen) int { return 4 + boost(len(g.d.Companies) < 5, 25) }, (*gen).registerCompany},
		{always(1), (*gen).renameCompany},
		{always(3), (*gen).setParentCompany},
		{func(g *gen) int { return 6 + boost(len(g.allSites()) < 6, 20) }, (*gen).addSite},
		{always(2), (*gen).removeSite},
		{func(g *gen) int { return 3 + boost(len(g.d.Groups) < 4, 20) }, (*gen).createUserGroup},
		{always(3), (*gen).setGroupPermissions},
		{always(4), (*gen).moveUserToGroup},
		{always(4), (*gen).addContact},
		{always(1), (*gen).updatePrefs},
		{always(3), (*gen).promoteContact},
		{always(2), (*gen).demote},
		{func(g *gen) int { return 10 + boost(g.count(user) < 12, 15) }, (*gen).inviteUser},
		{always(2), (*gen).resendInvitation},
		{always(2), (*gen).revokeInvitation},
		{func(g *gen) int { return 4 * g.count(invited) }, (*gen).acceptInvitation},
		{always(2), (*gen).expireInvitation},
		{always(8), (*gen).grantMembership},
		{always(4), (*gen).changeRole},
		{always(3), (*gen).revokeMembership},
		{always(2), (*gen).transferMasterAdmin},
		{always(3), (*gen).assignManagedSites},
		{always(5), (*gen).setSitePermissions},
		{always(2), (*gen).setTicketRestrictions},
		{always(7), (*gen).grantCompanyAccess},
		{always(4), (*gen).revokeCompanyAccess},
		{always(3), (*gen).clearCompanyAccess},
		{always(1), (*gen).requireMFA},
		{always(3), (*gen).suspendUser},
		{func(g *gen) int { return 2 * g.count(suspended) }, (*gen).reactivateUser},
		{always(2), (*gen).removeUser},
		{func(g *gen) int { return 3 + boost(len(g.withContractors()) < 2, 6) }, (*gen).registerGuestContractor},
		{func(g *gen) int { return 3 + boost(len(g.withContractors()) > 0 && g.count(g.technician) < 3, 8) }, (*gen).addTechnician},
		{always(2), (*gen).configureTenant},
		{func(g *gen) int { return 12 + boost(len(g.w.Tickets) < 4, 10) }, (*gen).openTicket},
		{ticketWeight(5), (*gen).changeTicketStatus},
		{ticketWeight(3), (*gen).assignTicket},
		{ticketWeight(7), (*gen).assignContractor},
		{ticketWeight(3), (*gen).commentOnTicket},
		{ticketWeight(3), (*gen).attachTicketDocument},
		{always(2), (*gen).attachCompanyDocument},
	}
}

func boost(cond bool, w int) int {
	if cond {
		return w
	}
	return 0
}

func ticketWeight(w int) func(*gen) int {
	return func(g *gen) int { return boost(len(g.w.Tickets) > 0, w) }
}

func invited(p *domain.Person) bool   { return p.Status == domain.StatusInvited && p.Invitation != nil }
func suspended(p *domain.Person) bool { return p.Status == domain.StatusSuspended }
func contact(p *domain.Person) bool   { return p.Type == domain.TypeContact }

// technician: a support user whose home company is a contractor.
func (g *gen) technician(p *domain.Person) bool {
	co := g.d.Companies[p.HomeCompany]
	return user(p) && co != nil && co.Kind == domain.KindContractor
}

// Companies, sites, groups, tenant.

func (g *gen) registerCompany() *op {
	kinds := []domain.CompanyKind{domain.KindCustomer, domain.KindCustomer, domain.KindCustomer, domain.KindPartner,
		domain.KindPartner, domain.KindProvider, domain.KindContractor}
	kind, _ := pick(g, kinds)
	var parent domain.CompanyID
	if g.chance(40) {
		parent, _ = pick(g, g.companies(nil))
	}
	id := domain.CompanyID(g.id("co"))
	return &op{actor: g.actor(g.withPerm(domain.PermCompaniesManage)),
		dir: domain.RegisterCompany{Company: id, Name: "Company " + string(id), Kind: kind, Parent: parent}}
}

func (g *gen) renameCompany() *op {
	c, _ := pick(g, g.companies(nil))
	return &op{actor: g.actor(g.companyManagers(c)), dir: domain.RenameCompany{Company: c, Name: "Renamed " + g.id("n")}}
}

func (g *gen) setParentCompany() *op {
	cs := g.companies(nil)
	c, _ := pick(g, cs)
	var parent domain.CompanyID
	if !g.chance(20) {
		parent, _ = pick(g, cs)
	}
	return &op{actor: g.actor(g.withPerm(domain.PermCompaniesManage)), dir: domain.SetParentCompany{Company: c, Parent: parent}}
}

func (g *gen) addSite() *op {
	c, _ := pick(g, g.companies(nil))
	site := domain.SiteID(g.id("s"))
	if len(g.removedSites) > 0 && g.chance(15) {
		site, _ = pick(g, g.removedSites) // an id freed by RemoveSite, reused
	}
	return &op{actor: g.actor(g.companyManagers(c)), dir: domain.AddSite{Company: c, Site: site, Name: "Site " + string(site)}}
}

func (g *gen) removeSite() *op {
	c, _ := pick(g, g.companies(func(co *domain.Company) bool { return len(co.Sites) > 0 }))
	site, ok := pick(g, g.sitesOf(c))
	if !ok {
		return nil
	}
	return &op{actor: g.actor(g.companyManagers(c)), dir: domain.RemoveSite{Company: c, Site: site}}
}

func (g *gen) createUserGroup() *op {
	id := domain.GroupID(g.id("g"))
	support := g.chance(45)
	return &op{actor: g.actor(g.withPerm(domain.PermTenantAdmin)),
		dir: domain.CreateUserGroup{Group: id, Name: "Group " + string(id), SupportUser: support, Permissions: g.groupPermissions(support)}}
}

func (g *gen) setGroupPermissions() *op {
	id, _ := pick(g, g.groups(nil))
	return &op{actor: g.actor(g.withPerm(domain.PermTenantAdmin)),
		dir: domain.SetGroupPermissions{Group: id, Permissions: g.groupPermissions(g.d.Groups[id].SupportUser)}}
}

func (g *gen) configureTenant() *op {
	return &op{actor: g.actor(g.withPerm(domain.PermTenantAdmin)),
		dir: domain.ConfigureTenant{Seats: g.d.SeatsUsed() + g.r.IntN(6)}}
}

// People.

func (g *gen) moveUserToGroup() *op {
	p, ok := pick(g, g.people(user))
	if !ok {
		return nil
	}
	var group domain.GroupID
	if !g.chance(10) {
		group, _ = pick(g, g.groups(nil))
	}
	return &op{actor: g.actor(g.withPerm(domain.PermUsersManage)), dir: domain.MoveUserToGroup{Person: p, Group: group}}
}

func (g *gen) addContact() *op {
	c, _ := pick(g, g.companies(nil))
	id := domain.PersonID(g.id("p"))
	prefs := some(g, domain.NotificationCategories, g.r.IntN(3))
	return &op{actor: g.actor(g.peopleManagers(c)),
		dir: domain.AddContact{Person: id, Name: "Contact " + string(id), Email: string(id) + "@world.test", HomeCompany: c, NotificationPrefs: prefs}}
}

func (g *gen) updatePrefs() *op {
	p, ok := pick(g, g.people(func(p *domain.Person) bool { return p.Status != domain.StatusRemoved }))
	if !ok {
		return nil
	}
	actor := g.actor(g.peopleManagers(g.d.People[p].HomeCompany))
	if g.chance(30) && active(g.d.People[p]) {
		actor = domain.User(p)
	}
	return &op{actor: actor, dir: domain.UpdateNotificationPreferences{Person: p, Prefs: some(g, domain.NotificationCategories, g.r.IntN(4))}}
}

// grantShape picks a group, a role and its sites for a new user of home acted by actor.
func (g *gen) grantShape(actor domain.Principal, home domain.CompanyID) (domain.GroupID, domain.Role, []domain.SiteID) {
	var group domain.GroupID
	x := g.r.IntN(100)
	switch {
	case x < 35:
		group, _ = pick(g, g.groups(func(gr *domain.Group) bool { return !gr.SupportUser }))
	case x < 85:
		group, _ = pick(g, g.groups(func(gr *domain.Group) bool { return gr.SupportUser }))
	}
	if sites, ok := g.managerSites(actor, home); ok && g.chance(80) {
		return group, domain.RoleBasic, sites
	}
	var role domain.Role
	if gr := g.d.Groups[group]; gr == nil || gr.SupportUser || g.chance(15) {
		role = g.role()
	}
	return group, role, g.sitesFor(role, home)
}

func (g *gen) inviteUser() *op {
	home, _ := pick(g, g.companies(nil))
	actor := g.actor(g.peopleManagers(home))
	group, role, sites := g.grantShape(actor, home)
	id := domain.PersonID(g.id("p"))
	return &op{actor: actor, dir: domain.InviteUser{Person: id, Name: "User " + string(id), Email: string(id) + "@world.test",
		HomeCompany: home, Group: group, Role: role, Permissions: g.perms(), Sites: sites, TokenHash: g.id("tok"), Now: g.now, TTL: g.ttl()}}
}

func (g *gen) promoteContact() *op {
	p, ok := pick(g, g.people(contact))
	if !ok {
		return nil
	}
	home := g.d.People[p].HomeCompany
	actor := g.actor(g.peopleManagers(home))
	group, role, sites := g.grantShape(actor, home)
	return &op{actor: actor, dir: domain.PromoteContactToUser{Person: p, Group: group, Role: role, Permissions: g.perms(),
		Sites: sites, TokenHash: g.id("tok"), Now: g.now, TTL: g.ttl()}}
}

func (g *gen) targetUser(keep func(*domain.Person) bool) (domain.PersonID, domain.Principal, bool) {
	p, ok := pick(g, g.people(keep))
	if !ok {
		return "", domain.Principal{}, false
	}
	return p, g.actor(g.peopleManagers(g.d.People[p].HomeCompany)), true
}

func (g *gen) demote() *op {
	p, actor, ok := g.targetUser(user)
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.DemoteUserToContact{Person: p}}
}

func (g *gen) resendInvitation() *op {
	p, actor, ok := g.targetUser(invited)
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.ResendInvitation{Person: p, TokenHash: g.id("tok"), Now: g.now, TTL: g.ttl()}}
}

func (g *gen) revokeInvitation() *op {
	p, actor, ok := g.targetUser(invited)
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.RevokeInvitation{Person: p}}
}

func (g *gen) acceptInvitation() *op {
	p, ok := pick(g, g.people(invited))
	if !ok {
		return nil
	}
	return &op{actor: domain.Principal{Kind: domain.PrincipalUser},
		dir: domain.AcceptInvitation{TokenHash: g.d.People[p].Invitation.TokenHash, Subject: "sub-" + g.id(string(p)+"-"), Now: g.now}}
}

func (g *gen) expireInvitation() *op {
	due := g.people(func(p *domain.Person) bool { return invited(p) && !g.now.Before(p.Invitation.ExpiresAt) })
	p, ok := pick(g, due)
	if !ok {
		return nil
	}
	return &op{actor: domain.System(), dir: domain.ExpireInvitation{Person: p, Now: g.now}}
}

func (g *gen) requireMFA() *op {
	p, actor, ok := g.targetUser(user)
	if !ok {
		return nil
	}
	if g.chance(30) && active(g.d.People[p]) {
		actor = domain.User(p)
	}
	return &op{actor: actor, dir: domain.RequireMFA{Person: p, Required: g.chance(70)}}
}

func (g *gen) suspendUser() *op {
	p, actor, ok := g.targetUser(active)
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.SuspendUser{Person: p}}
}

func (g *gen) reactivateUser() *op {
	p, actor, ok := g.targetUser(suspended)
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.ReactivateUser{Person: p}}
}

func (g *gen) removeUser() *op {
	p, actor, ok := g.targetUser(func(p *domain.Person) bool { return p.Status != domain.StatusRemoved })
	if !ok {
		return nil
	}
	return &op{actor: actor, dir: domain.RemoveUser{Person: p}}
}

// Memberships and site rights.

type held struct {
	person  domain.PersonID
	company domain.CompanyID
}

func (g *gen) memberships(keep func(*domain.Membership) bool) []held {
	var out []held
	for _, p := range g.people(user) {
		person := g.d.People[p]
		for _, c := range slices.Sorted(maps.Keys(person.Memberships)) {
			if keep == nil || keep(person.Memberships[c]) {
				out = append(out, held{p, c})
			}
		}
	}
	return out
}

func (g *gen) grantMembership() *op {
	p, ok := pick(g, g.people(func(p *domain.Person) bool { return user(p) && !g.normal(p) }))
	if !ok {
		return nil
	}
	c := g.d.People[p].HomeCompany
	if g.chance(75) {
		c, _ = pick(g, g.companies(nil))
	}
	actor := g.actor(g.peopleManagers(c))
	role := g.role()
	sites := g.sitesFor(role, c)
	if s, ok := g.managerSites(actor, c); ok && g.chance(80) {
		role, sites = domain.RoleBasic, s
	}
	return &op{actor: actor, dir: domain.GrantMembership{Person: p, Company: c, Role: role, Permissions: g.perms(), Sites: sites}}
}

func (g *gen) changeRole() *op {
	h, ok := pick(g, g.memberships(nil))
	if !ok {
		return nil
	}
	actor := g.actor(g.peopleManagers(h.company))
	role := g.role()
	sites := g.sitesFor(role, h.company)
	if s, ok := g.managerSites(actor, h.company); ok && g.chance(60) {
		role, sites = domain.RoleBasic, s
	}
	return &op{actor: actor, dir: domain.ChangeRole{Person: h.person, Company: h.company, Role: role, Sites: sites}}
}

func (g *gen) revokeMembership() *op {
	h, ok := pick(g, g.memberships(nil))
	if !ok {
		return nil
	}
	return &op{actor: g.actor(g.peopleManagers(h.company)), dir: domain.RevokeMembership{Person: h.person, Company: h.company}}
}

func (g *gen) assignManagedSites() *op {
	h, ok := pick(g, g.memberships(func(m *domain.Membership) bool { return m.Role == domain.RoleManager }))
	if !ok {
		return nil
	}
	return &op{actor: g.actor(g.peopleManagers(h.company)),
		dir: domain.AssignManagedSites{Person: h.person, Company: h.company, Sites: g.sitesFor(domain.RoleManager, h.company)}}
}

func (g *gen) transferMasterAdmin() *op {
	c, _ := pick(g, g.companies(nil))
	to, ok := pick(g, g.people(func(p *domain.Person) bool { return active(p) && (p.Memberships[c] != nil || g.normal(p)) }))
	if !ok {
		return nil
	}
	var cands []domain.PersonID
	if ma := g.d.Companies[c].MasterAdmin; ma != "" {
		cands = append(cands, ma)
	}
	return &op{actor: g.actor(cands, g.withPerm(domain.PermUsersManage)), dir: domain.TransferMasterAdmin{Company: c, To: to}}
}

func (g *gen) setSitePermissions() *op {
	p, actor, ok := g.targetUser(func(p *domain.Person) bool { return user(p) && !g.normal(p) })
	if !ok {
		return nil
	}
	person := g.d.People[p]
	var sites []domain.SiteID
	for _, c := range slices.Sorted(maps.Keys(person.Memberships)) {
		sites = append(sites, g.sitesOf(c)...)
	}
	if person.Memberships[person.HomeCompany] == nil {
		sites = append(sites, g.sitesOf(person.HomeCompany)...)
	}
	if g.chance(10) {
		sites = g.allSites()
	}
	read := some(g, sites, g.r.IntN(3))
	write := some(g, sites, g.r.IntN(3))
	var resp []string
	if g.chance(40) {
		for _, gr := range some(g, g.groups(nil), 1+g.r.IntN(2)) {
			resp = append(resp, "group:"+string(gr))
		}
		for _, u := range some(g, g.people(func(p *domain.Person) bool { return active(p) && g.normal(p) }), g.r.IntN(2)) {
			resp = append(resp, string(u))
		}
	}
	return &op{actor: actor, dir: domain.SetSitePermissions{Person: p, ReadSites: read, WriteSites: write, Responsible: resp}}
}

func (g *gen) setTicketRestrictions() *op {
	p, actor, ok := g.targetUser(func(p *domain.Person) bool { return user(p) && !g.normal(p) })
	if !ok {
		return nil
	}
	restricted := g.chance(40)
	var statuses []string
	if restricted {
		for _, s := range some(g, domain.TicketStatuses(), g.r.IntN(4)) {
			statuses = append(statuses, string(s))
		}
	}
	return &op{actor: actor, dir: domain.SetTicketRestrictions{Person: p, TicketTypes: some(g, ticketTypes, g.r.IntN(3)),
		Restricted: restricted, Statuses: statuses}}
}

// Company access.

func (g *gen) accessActor(level domain.AccessLevel) domain.Principal {
	switch level {
	case domain.LevelCompany:
		return g.actor(g.withPerm(domain.PermCompaniesManage))
	case domain.LevelGroup:
		return g.actor(g.withPerm(domain.PermTenantAdmin))
	}
	return g.actor(g.withPerm(domain.PermUsersManage))
}

// holders lists every (level, holder) with its current setting (nil when none), in order.
func (g *gen) holders() []domain.AccessHolder {
	var out []domain.AccessHolder
	for _, c := range g.companies(nil) {
		out = append(out, domain.AccessHolder{Level: domain.LevelCompany, Holder: string(c)})
	}
	for _, gr := range g.groups(nil) {
		out = append(out, domain.AccessHolder{Level: domain.LevelGroup, Holder: string(gr)})
	}
	for _, p := range g.people(user) {
		out = append(out, domain.AccessHolder{Level: domain.LevelUser, Holder: string(p)})
	}
	return out
}

func (g *gen) setting(h domain.AccessHolder) *domain.AccessSetting {
	switch h.Level {
	case domain.LevelCompany:
		return g.d.Companies[domain.CompanyID(h.Holder)].Access
	case domain.LevelGroup:
		return g.d.Groups[domain.GroupID(h.Holder)].Access
	}
	return g.d.People[domain.PersonID(h.Holder)].Access
}

func (g *gen) grantCompanyAccess() *op {
	levels := []domain.AccessLevel{domain.LevelUser, domain.LevelUser, domain.LevelGroup, domain.LevelCompany}
	level, _ := pick(g, levels)
	var cands []domain.AccessHolder
	for _, h := range g.holders() {
		if h.Level == level {
			cands = append(cands, h)
		}
	}
	h, ok := pick(g, cands)
	if !ok {
		return nil
	}
	parents := g.companies(func(co *domain.Company) bool { return len(g.d.Subsidiaries(co.ID)) > 0 })
	target, _ := pick(g, g.companies(nil))
	withSubs := g.chance(20)
	if len(parents) > 0 && g.chance(50) {
		target, _ = pick(g, parents)
		withSubs = g.chance(65)
	}
	return &op{actor: g.accessActor(level), dir: domain.GrantCompanyAccess{AccessHolder: h, Target: target, WithSubsidiaries: withSubs}}
}

func (g *gen) revokeCompanyAccess() *op {
	type grant struct {
		h      domain.AccessHolder
		target domain.CompanyID
	}
	var grants []grant
	for _, h := range g.holders() {
		if s := g.setting(h); s != nil {
			for _, t := range slices.Sorted(maps.Keys(s.Targets)) {
				grants = append(grants, grant{h, t})
			}
		}
	}
	gr, ok := pick(g, grants)
	if !ok {
		return nil
	}
	return &op{actor: g.accessActor(gr.h.Level), dir: domain.RevokeCompanyAccess{AccessHolder: gr.h, Target: gr.target}}
}

func (g *gen) clearCompanyAccess() *op {
	var set []domain.AccessHolder
	for _, h := range g.holders() {
		if g.setting(h) != nil {
			set = append(set, h)
		}
	}
	h, ok := pick(g, set)
	if !ok {
		return nil
	}
	return &op{actor: g.accessActor(h.Level), dir: domain.ClearCompanyAccess{AccessHolder: h}}
}

// Contractors.

func (g *gen) registerGuestContractor() *op {
	customer, ok := pick(g, g.companies(func(co *domain.Company) bool { return co.Kind == domain.KindCustomer }))
	if !ok || g.chance(5) {
		customer, _ = pick(g, g.companies(nil))
	}
	id := domain.CompanyID(g.id("co"))
	return &op{actor: g.actor(g.withPerm(domain.PermContractorsManage), g.adminsOf(customer)),
		dir: domain.RegisterGuestContractor{Company: id, Name: "Contractor " + string(id), RegisteredBy: customer}}
}

func (g *gen) addTechnician() *op {
	c, ok := pick(g, g.companies(func(co *domain.Company) bool { return co.Kind == domain.KindContractor }))
	if !ok {
		return nil
	}
	busy := g.companies(func(co *domain.Company) bool {
		return co.Kind == domain.KindContractor && slices.ContainsFunc(g.w.TicketIDs, func(t domain.TicketID) bool {
			return g.w.Tickets[t].Company == co.RegisteredBy
		})
	})
	if b, ok := pick(g, busy); ok && g.chance(70) {
		c = b // a contractor whose customer has tickets
	}
	id := domain.PersonID(g.id("p"))
	return &op{actor: g.actor(g.withPerm(domain.PermContractorsManage), g.adminsOf(c), g.registrarAdmins(c)),
		dir: domain.AddTechnician{Person: id, Company: c, Name: "Tech " + string(id), Email: string(id) + "@world.test",
			TokenHash: g.id("tok"), Now: g.now, TTL: g.ttl()}}
}

// Tickets and documents.

func (g *gen) openTicket() *op {
	var actor domain.Principal
	x := g.r.IntN(100)
	switch {
	case x < 10:
		actor = domain.System()
	case x < 17:
		actor = g.service()
	default:
		id, ok := pick(g, g.people(active))
		if !ok {
			return nil
		}
		actor = domain.User(id)
	}
	var cands []domain.SiteID
	var restr domain.SitePermissions
	if actor.Kind == domain.PrincipalUser {
		a := g.d.People[actor.Person]
		restr = a.Sites
		cands = append(cands, a.Sites.WriteSites...)
		for _, c := range slices.Sorted(maps.Keys(a.Memberships)) {
			switch m := a.Memberships[c]; m.Role {
			case domain.RoleManager, domain.RoleBasic:
				cands = append(cands, m.ManagedSites...)
			default:
				cands = append(cands, g.sitesOf(c)...)
			}
		}
		if g.normal(a) {
			cands = append(cands, g.allSites()...)
		}
	}
	site, ok := pick(g, cands)
	if !ok || g.chance(12) {
		site, _ = pick(g, g.allSites())
	}
	if c, ok := pick(g, g.withContractors()); ok && g.chance(25) {
		if s, ok := pick(g, g.sitesOf(c)); ok && (actor.Kind != domain.PrincipalUser || slices.Contains(cands, s) || g.chance(30)) {
			site = s // tickets of customers with contractors, for assignments
		}
	}
	var company domain.CompanyID
	if g.chance(12) || site == "" {
		site = ""
		company, _ = pick(g, g.companies(nil))
		if actor.Kind == domain.PrincipalUser && g.chance(70) {
			if c, ok := pick(g, slices.Sorted(maps.Keys(g.d.People[actor.Person].Memberships))); ok {
				company = c
			}
		}
	}
	typ, _ := pick(g, ticketTypes)
	if t, ok := pick(g, restr.TicketTypes); ok && g.chance(85) {
		typ = t
	}
	var rg domain.GroupID
	var ru domain.PersonID
	if r, ok := pick(g, restr.Responsible); ok && g.chance(50) {
		rg, ru = g.responsible(r)
	} else if g.chance(25) {
		rg, _ = pick(g, g.groups(nil))
	} else if g.chance(20) {
		ru, _ = pick(g, g.people(active))
	}
	id := domain.TicketID(g.id("t"))
	return &op{actor: actor, ticket: id, tcmd: domain.OpenTicket{Ticket: id, Company: company, Site: site, Type: typ,
		Title: "Ticket " + string(id), ResponsibleGroup: rg, ResponsibleUser: ru}}
}

// responsible resolves an entry of a responsible list ("group:x", "user:x" or a bare id).
func (g *gen) responsible(r string) (domain.GroupID, domain.PersonID) {
	switch {
	case strings.HasPrefix(r, "group:"):
		return domain.GroupID(strings.TrimPrefix(r, "group:")), ""
	case strings.HasPrefix(r, "user:"):
		return "", domain.PersonID(strings.TrimPrefix(r, "user:"))
	}
	if _, ok := g.d.Groups[domain.GroupID(r)]; ok {
		return domain.GroupID(r), ""
	}
	return "", domain.PersonID(r)
}

// ticketActor: the system, a service, mostly someone who sees the ticket, else anyone active.
func (g *gen) ticketActor(t *domain.Ticket, system, service int) domain.Principal {
	x := g.r.IntN(100)
	switch {
	case x < system:
		return domain.System()
	case x < system+service:
		return g.service()
	}
	if id, ok := pick(g, g.seers(t.View())); ok && g.chance(85) {
		return domain.User(id)
	}
	if id, ok := pick(g, g.people(active)); ok {
		return domain.User(id)
	}
	return domain.System()
}

func (g *gen) ticket() *domain.Ticket {
	id, ok := pick(g, g.w.TicketIDs)
	if !ok {
		return nil
	}
	return g.w.Tickets[id]
}

func (g *gen) changeTicketStatus() *op {
	t := g.ticket()
	if t == nil {
		return nil
	}
	actor := g.ticketActor(t, 15, 10)
	status, _ := pick(g, domain.TicketStatuses())
	if actor.Kind == domain.PrincipalUser {
		if r := g.d.People[actor.Person].Sites; r.Restricted && g.chance(70) {
			if s, ok := pick(g, r.Statuses); ok {
				status = domain.TicketStatus(s)
			}
		}
	}
	return &op{actor: actor, ticket: t.ID, tcmd: domain.ChangeTicketStatus{Ticket: t.ID, Status: status}}
}

func (g *gen) assignTicket() *op {
	t := g.ticket()
	if t == nil {
		return nil
	}
	c := domain.AssignTicket{Ticket: t.ID}
	if g.chance(50) {
		c.Group, _ = pick(g, g.groups(nil))
	} else if u, ok := pick(g, g.people(active)); ok {
		c.User = u
	}
	return &op{actor: g.ticketActor(t, 20, 15), ticket: t.ID, tcmd: c}
}

// withContractors lists the companies that registered a guest contractor, sorted.
func (g *gen) withContractors() []domain.CompanyID { return g.cached().cache.registrars }

func (g *gen) assignContractor() *op {
	t := g.ticket()
	if regs := g.withContractors(); g.chance(85) {
		var ids []domain.TicketID
		for _, id := range g.w.TicketIDs {
			if slices.Contains(regs, g.w.Tickets[id].Company) {
				ids = append(ids, id)
			}
		}
		if id, ok := pick(g, ids); ok {
			t = g.w.Tickets[id]
		}
	}
	if t == nil {
		return nil
	}
	contractors := g.companies(func(co *domain.Company) bool {
		return co.Kind == domain.KindContractor && co.RegisteredBy == t.Company
	})
	if len(contractors) == 0 || g.chance(10) {
		contractors = g.companies(func(co *domain.Company) bool { return co.Kind == domain.KindContractor })
	}
	x, ok := pick(g, contractors)
	if !ok {
		return nil
	}
	techsOf := func(x domain.CompanyID) []domain.PersonID {
		return g.people(func(p *domain.Person) bool { return active(p) && (p.HomeCompany == x || p.Memberships[x] != nil) })
	}
	if staffed := slices.DeleteFunc(slices.Clone(contractors), func(c domain.CompanyID) bool { return len(techsOf(c)) == 0 }); len(staffed) > 0 && g.chance(70) {
		x, _ = pick(g, staffed)
	}
	var tech domain.PersonID
	if g.chance(70) {
		tech, _ = pick(g, techsOf(x))
	}
	return &op{actor: g.ticketActor(t, 20, 15), ticket: t.ID, tcmd: domain.AssignContractor{Ticket: t.ID, Contractor: x, Technician: tech}}
}

func (g *gen) commentOnTicket() *op {
	t := g.ticket()
	if t == nil {
		return nil
	}
	return &op{actor: g.ticketActor(t, 10, 10), ticket: t.ID,
		tcmd: domain.CommentOnTicket{Ticket: t.ID, Comment: g.id("c"), Body: "A comment"}}
}

func (g *gen) docMeta() domain.DocumentMeta {
	return domain.DocumentMeta{Name: g.id("file-") + ".pdf", ContentType: "application/pdf", SizeBytes: int64(1 + g.r.IntN(1<<20))}
}

func (g *gen) attachTicketDocument() *op {
	t := g.ticket()
	if t == nil {
		return nil
	}
	return &op{actor: g.ticketActor(t, 10, 10), ticket: t.ID,
		tcmd: domain.AttachTicketDocument{Ticket: t.ID, Document: domain.DocID(g.id("d")), DocumentMeta: g.docMeta()}}
}

func (g *gen) attachCompanyDocument() *op {
	c, _ := pick(g, g.companies(nil))
	actor := g.actor(g.withPerm(domain.PermDocumentsWrite), g.companyManagers(c))
	if g.chance(10) {
		actor = g.service()
	}
	id := domain.DocID(g.id("d"))
	return &op{actor: actor, doc: id, dcmd: domain.AttachCompanyDocument{Document: id, Company: c, DocumentMeta: g.docMeta()}}
}

// sortedCounts renders counts by name, for reports.
func sortedCounts(m map[string]int) string {
	names := slices.SortedFunc(maps.Keys(m), cmp.Compare[string])
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%d ", n, m[n])
	}
	return strings.TrimSpace(b.String())
}

// Summary describes the world in one line, for test logs.
func (w *World) Summary() string {
	return fmt.Sprintf("seed %d: %d steps, %d companies, %d people, %d tickets, %d documents; accepted: %s",
		w.Seed, len(w.Steps), len(w.Directory.Companies), len(w.People), len(w.Tickets), len(w.Documents), sortedCounts(w.Accepted))
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)) }
