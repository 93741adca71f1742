// Package demo loads a demo tenant that exercises every class, role and rule of the access
// model (DESIGN §1): a support center with agents, customers with master admin, admin,
// manager over job sites, basic user and member, a partner company with company access set
// at company, group and user level, an external user with read/write sites and restricted
// statuses, a guest contractor with a technician, contacts (one promoted), and users demoted,
// suspended and removed. Every person logs in with a development token for subject "demo-<name>".
package demo

import (
	"context"
	"fmt"
	"sort"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
)

// Tenant is the demo tenant's id.
const Tenant domain.TenantID = "demo"

// Summary says who is who in the demo, for the log and the README walkthrough.
type Summary struct {
	Loaded bool
	// People maps a login subject to a description of the person.
	People map[string]string
	IDs    map[string]string
}

// loader runs commands as the right actors and remembers ids.
type loader struct {
	ctx  context.Context
	h    *commands.Handlers
	ids  map[string]string
	who  map[string]string
	err  error
	subj map[string]domain.PersonID // subject -> person
}

// Load creates the demo tenant unless it exists.
func Load(ctx context.Context, h *commands.Handlers, dirs *commands.Directories) (Summary, error) {
	exists := false
	if err := dirs.View(ctx, Tenant, func(d *domain.Directory) error { exists = d.Configured; return nil }); err != nil {
		return Summary{}, err
	}
	if exists {
		return Summary{Loaded: false, People: people()}, nil
	}
	l := &loader{ctx: ctx, h: h, ids: map[string]string{}, who: map[string]string{}, subj: map[string]domain.PersonID{}}
	l.run()
	if l.err != nil {
		return Summary{}, l.err
	}
	return Summary{Loaded: true, People: people(), IDs: l.ids}, nil
}

func people() map[string]string {
	return map[string]string{
		"demo-ada":    "Ada — tenant admin, master admin of the provider Northwind Support (normal user)",
		"demo-nina":   "Nina — support agent, normal user, no company-access setting: sees the whole tenant",
		"demo-paul":   "Paul — partner staff at Contoso (normal user); Contoso's company-level access: Globex and its subsidiaries",
		"demo-petra":  "Petra — partner staff at Contoso (normal user) in group 'Partner staff' whose group-level access is Initech",
		"demo-pete":   "Pete — partner staff at Contoso (normal user) with user-level access: Globex Europe only",
		"demo-gloria": "Gloria — master admin of Globex (support user)",
		"demo-gary":   "Gary — admin of Globex (support user)",
		"demo-molly":  "Molly — manager of Globex's job sites Plant North and Plant South",
		"demo-bob":    "Bob — basic user of Globex at Plant North: sees only the tickets he reported",
		"demo-mia":    "Mia — member of Globex: sees all of Globex's tickets and directory",
		"demo-eve":    "Eve — external user of Initech (and basic at Globex HQ): reads Globex HQ, writes at Initech Main; may only set in_progress/resolved; opens incidents only",
		"demo-tom":    "Tom — technician of the guest contractor Acme Builders (registered by Globex), assigned to a ticket",
		"demo-connor": "Connor — a contact of Globex promoted to a user (member)",
		"demo-dave":   "Dave — demoted to a contact: every read as him is refused",
		"demo-sam":    "Sam — suspended: every read as him is refused",
	}
}

func (l *loader) meta(actor string) commands.Meta {
	if actor == "" {
		return commands.Meta{Tenant: Tenant, Principal: domain.System(), Reason: "demo data"}
	}
	return commands.Meta{Tenant: Tenant, Principal: domain.User(l.subj[actor]), Reason: "demo data"}
}

// do runs one command unless an earlier one failed, and records the ids it created under
// prefix.name.
func do[C any](l *loader, actor string, h commands.Handler[C], name string, in C) {
	if l.err != nil {
		return
	}
	r, err := h.Handle(l.ctx, l.meta(actor), in)
	if err != nil {
		l.err = fmt.Errorf("demo: %s: %w", name, err)
		return
	}
	keys := make([]string, 0, len(r.IDs))
	for k := range r.IDs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.ids[name+"."+k] = r.IDs[k]
	}
}

// accept lets the invitee of name accept as subject.
func (l *loader) accept(name, subject string) {
	if l.err != nil {
		return
	}
	m := commands.Meta{Tenant: Tenant, Principal: domain.Principal{Kind: domain.PrincipalUser}, Subject: subject}
	if _, err := l.h.People.AcceptInvitation.Handle(l.ctx, m, commands.AcceptInvitation{Token: l.ids[name+".invitation_token"]}); err != nil {
		l.err = fmt.Errorf("demo: accept %s: %w", name, err)
		return
	}
	l.subj[subject] = domain.PersonID(l.ids[name+".person_id"])
}

func (l *loader) id(key string) string { return l.ids[key] }

func (l *loader) run() {
	h := l.h
	do(l, "", h.Directory.CreateTenant, "tenant", commands.CreateTenant{Tenant: string(Tenant), Name: "Northwind Support Center",
		Seats: 10, ProviderName: "Northwind Support", AdminName: "Ada Admin", AdminEmail: "ada@northwind.example"})
	l.ids["ada.person_id"], l.ids["ada.invitation_token"] = l.id("tenant.admin_person_id"), l.id("tenant.invitation_token")
	l.accept("ada", "demo-ada")
	provider := l.id("tenant.provider_company_id")

	// Groups: agents and partner staff are normal users; customers are support users.
	do(l, "demo-ada", h.Directory.CreateUserGroup, "agents", commands.CreateUserGroup{Name: "Agents",
		Permissions: domain.PermissionSet{Named: "support", List: []domain.Permission{domain.PermUsersManage}}})
	do(l, "demo-ada", h.Directory.CreateUserGroup, "partners", commands.CreateUserGroup{Name: "Partner staff", Permissions: domain.PermissionSet{Named: "support"}})
	do(l, "demo-ada", h.Directory.CreateUserGroup, "partners-initech", commands.CreateUserGroup{Name: "Partner staff (Initech)", Permissions: domain.PermissionSet{Named: "support"}})
	do(l, "demo-ada", h.Directory.CreateUserGroup, "customers", commands.CreateUserGroup{Name: "Customers", SupportUser: true})

	// Companies and sites.
	do(l, "demo-ada", h.Directory.RegisterCompany, "globex", commands.RegisterCompany{Name: "Globex", Kind: "customer"})
	globex := l.id("globex.company_id")
	do(l, "demo-ada", h.Directory.RegisterCompany, "globex-eu", commands.RegisterCompany{Name: "Globex Europe", Kind: "customer", Parent: globex})
	do(l, "demo-ada", h.Directory.RegisterCompany, "initech", commands.RegisterCompany{Name: "Initech", Kind: "customer"})
	do(l, "demo-ada", h.Directory.RegisterCompany, "contoso", commands.RegisterCompany{Name: "Contoso Partners", Kind: "partner"})
	initech, contoso := l.id("initech.company_id"), l.id("contoso.company_id")
	do(l, "demo-ada", h.Directory.AddSite, "hq", commands.AddSite{Company: globex, Name: "Globex HQ", Address: "1 Main St"})
	do(l, "demo-ada", h.Directory.AddSite, "north", commands.AddSite{Company: globex, Name: "Plant North", Address: "North Rd"})
	do(l, "demo-ada", h.Directory.AddSite, "south", commands.AddSite{Company: globex, Name: "Plant South", Address: "South Rd"})
	do(l, "demo-ada", h.Directory.AddSite, "initech-main", commands.AddSite{Company: initech, Name: "Initech Main", Address: "2 Office Park"})
	hq, north, south, initechMain := l.id("hq.site_id"), l.id("north.site_id"), l.id("south.site_id"), l.id("initech-main.site_id")

	// Support center staff.
	invite := func(actor, name, subject string, in commands.InviteUser) {
		do(l, actor, h.People.InviteUser, name, in)
		l.accept(name, subject)
	}
	invite("demo-ada", "nina", "demo-nina", commands.InviteUser{Name: "Nina Agent", Email: "nina@northwind.example", HomeCompany: provider, Group: l.id("agents.group_id")})

	// Partner company access at all three levels.
	do(l, "demo-ada", h.Directory.GrantCompanyAccess, "contoso-access", commands.GrantCompanyAccess{Level: domain.LevelCompany, Holder: contoso, Target: globex, WithSubsidiaries: true})
	do(l, "demo-ada", h.Directory.GrantCompanyAccess, "group-access", commands.GrantCompanyAccess{Level: domain.LevelGroup, Holder: l.id("partners-initech.group_id"), Target: initech})
	invite("demo-ada", "paul", "demo-paul", commands.InviteUser{Name: "Paul Partner", Email: "paul@contoso.example", HomeCompany: contoso, Group: l.id("partners.group_id")})
	invite("demo-ada", "petra", "demo-petra", commands.InviteUser{Name: "Petra Partner", Email: "petra@contoso.example", HomeCompany: contoso, Group: l.id("partners-initech.group_id")})
	invite("demo-ada", "pete", "demo-pete", commands.InviteUser{Name: "Pete Partner", Email: "pete@contoso.example", HomeCompany: contoso, Group: l.id("partners.group_id")})
	do(l, "demo-ada", h.Directory.GrantCompanyAccess, "pete-access", commands.GrantCompanyAccess{Level: domain.LevelUser, Holder: l.id("pete.person_id"), Target: l.id("globex-eu.company_id")})

	// Globex: master admin, admin, manager over job sites, basic user, member.
	customers := l.id("customers.group_id")
	invite("demo-ada", "gloria", "demo-gloria", commands.InviteUser{Name: "Gloria Globex", Email: "gloria@globex.example", HomeCompany: globex, Group: customers, Role: "master_admin"})
	invite("demo-gloria", "gary", "demo-gary", commands.InviteUser{Name: "Gary Globex", Email: "gary@globex.example", HomeCompany: globex, Group: customers, Role: "admin"})
	invite("demo-gary", "molly", "demo-molly", commands.InviteUser{Name: "Molly Manager", Email: "molly@globex.example", HomeCompany: globex, Group: customers, Role: "manager", Sites: []string{north, south}})
	invite("demo-molly", "bob", "demo-bob", commands.InviteUser{Name: "Bob Basic", Email: "bob@globex.example", HomeCompany: globex, Group: customers, Role: "basic", Sites: []string{north}})
	invite("demo-gary", "mia", "demo-mia", commands.InviteUser{Name: "Mia Member", Email: "mia@globex.example", HomeCompany: globex, Group: customers, Role: "member"})

	// An external user with site permissions and ticket restrictions.
	invite("demo-ada", "eve", "demo-eve", commands.InviteUser{Name: "Eve External", Email: "eve@initech.example", HomeCompany: initech, Group: customers, Role: "basic", Sites: []string{initechMain}})
	// One login, many client accounts: Eve also holds a basic membership of Globex at its HQ.
	do(l, "demo-ada", h.People.GrantMembership, "eve-globex", commands.GrantMembership{Person: l.id("eve.person_id"), Company: globex, Role: "basic", Sites: []string{hq}})
	do(l, "demo-ada", h.People.SetSitePermissions, "eve-sites", commands.SetSitePermissions{Person: l.id("eve.person_id"),
		ReadSites: []string{hq}, WriteSites: []string{initechMain}, Responsible: []string{l.id("agents.group_id")}})
	do(l, "demo-ada", h.People.SetTicketRestrictions, "eve-restrictions", commands.SetTicketRestrictions{Person: l.id("eve.person_id"),
		TicketTypes: []string{"incident"}, Restricted: true, Statuses: []string{"in_progress", "resolved"}})

	// A guest contractor registered by Globex, with a technician.
	do(l, "demo-gary", h.Tickets.RegisterGuestContractor, "acme", commands.RegisterGuestContractor{Name: "Acme Builders", RegisteredBy: globex})
	do(l, "demo-gary", h.Tickets.AddTechnician, "tom", commands.AddTechnician{Company: l.id("acme.company_id"), Name: "Tom Technician", Email: "tom@acme.example"})
	l.accept("tom", "demo-tom")

	// Contacts: one stays a contact, one is promoted to a user.
	do(l, "demo-gary", h.People.AddContact, "cora", commands.AddContact{Name: "Cora Contact", Email: "cora@globex.example", HomeCompany: globex, NotificationPrefs: []string{"invoices", "announcements"}})
	do(l, "demo-gary", h.People.AddContact, "connor", commands.AddContact{Name: "Connor Contact", Email: "connor@globex.example", HomeCompany: globex, NotificationPrefs: []string{"tickets"}})
	do(l, "demo-gary", h.People.PromoteContactToUser, "connor", commands.PromoteContactToUser{Person: l.id("connor.person_id"), Group: customers, Role: "member"})
	l.accept("connor", "demo-connor")

	// Users demoted, suspended and removed.
	invite("demo-gary", "dave", "demo-dave", commands.InviteUser{Name: "Dave Demoted", Email: "dave@globex.example", HomeCompany: globex, Group: customers, Role: "member"})
	do(l, "demo-gary", h.People.DemoteUserToContact, "dave-demote", commands.DemoteUserToContact{Person: l.id("dave.person_id")})
	invite("demo-gary", "sam", "demo-sam", commands.InviteUser{Name: "Sam Suspended", Email: "sam@globex.example", HomeCompany: globex, Group: customers, Role: "member"})
	do(l, "demo-gary", h.People.SuspendUser, "sam-suspend", commands.SuspendUser{Person: l.id("sam.person_id")})
	invite("demo-gary", "rita", "demo-rita", commands.InviteUser{Name: "Rita Removed", Email: "rita@globex.example", HomeCompany: globex, Group: customers, Role: "member"})
	do(l, "demo-gary", h.People.RemoveUser, "rita-remove", commands.RemoveUser{Person: l.id("rita.person_id")})
	do(l, "demo-ada", h.People.RequireMFA, "gloria-mfa", commands.RequireMFA{Person: l.id("gloria.person_id"), Required: ptr(true)})

	// Tickets.
	do(l, "demo-bob", h.Tickets.OpenTicket, "t-leak", commands.OpenTicket{Site: north, Type: "incident", Title: "Leaking pipe in hall B"})
	do(l, "demo-gary", h.Tickets.OpenTicket, "t-badge", commands.OpenTicket{Site: hq, Type: "request", Title: "New badge reader at the HQ entrance"})
	do(l, "demo-molly", h.Tickets.OpenTicket, "t-forklift", commands.OpenTicket{Site: south, Type: "incident", Title: "Forklift battery failure"})
	do(l, "demo-eve", h.Tickets.OpenTicket, "t-printer", commands.OpenTicket{Site: initechMain, Type: "incident", Title: "Printer jams on floor 2", ResponsibleGroup: l.id("agents.group_id")})
	do(l, "demo-nina", h.Tickets.OpenTicket, "t-eu", commands.OpenTicket{Company: l.id("globex-eu.company_id"), Type: "request", Title: "Quarterly service review"})
	do(l, "demo-gary", h.Tickets.AssignContractor, "t-leak-acme", commands.AssignContractor{Ticket: l.id("t-leak.ticket_id"), Contractor: l.id("acme.company_id"), Technician: l.id("tom.person_id")})
	do(l, "demo-tom", h.Tickets.CommentOnTicket, "t-leak-comment", commands.CommentOnTicket{Ticket: l.id("t-leak.ticket_id"), Body: "On my way with a new valve."})
	do(l, "demo-nina", h.Tickets.ChangeTicketStatus, "t-printer-status", commands.ChangeTicketStatus{Ticket: l.id("t-printer.ticket_id"), Status: "in_progress"})
	do(l, "demo-gary", h.Tickets.AttachCompanyDocument, "doc-contract", commands.AttachCompanyDocument{Company: globex, Name: "service-contract.pdf", ContentType: "application/pdf", SizeBytes: 120_000})
}

func ptr[T any](v T) *T { return &v }
