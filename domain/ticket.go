package domain

import (
	"slices"
	"strings"
)

// The Ticket aggregate (DESIGN §1 Resources): one stream per ticket. Its decider reads the
// Directory as it stands — read-only — to judge the acting principal's rights; it never
// changes it. Rights on tickets (DESIGN §2):
//
//   - seeing a ticket: CanSeeTicket, the reference of the visibility table;
//   - writing it (status, documents): a write site at its site, or tickets:write together with
//     a ground that covers it — own request, a role of its company covering its site, a normal
//     user's company-access scope, or the contractor assignment (see canWriteTicket);
//   - managing it (responsible, contractor, reopening a closed ticket): staff — normal users with
//     tickets:write whose scope covers the company, the company's master admin and admins, and
//     service clients with tickets:write (see isTicketStaff);
//   - commenting: whoever sees it, as its reporter or holding tickets:comment.
//
// Who may not see a ticket is answered not-found, never forbidden: existence does not leak.

// TicketStatus is where a ticket stands.
type TicketStatus string

// Ticket statuses.
const (
	TicketOpen       TicketStatus = "open"
	TicketInProgress TicketStatus = "in_progress"
	TicketWaiting    TicketStatus = "waiting"
	TicketResolved   TicketStatus = "resolved"
	TicketClosed     TicketStatus = "closed"
)

// TicketStatuses lists every status in lifecycle order.
func TicketStatuses() []TicketStatus {
	return []TicketStatus{TicketOpen, TicketInProgress, TicketWaiting, TicketResolved, TicketClosed}
}

func (s TicketStatus) valid() bool { return slices.Contains(TicketStatuses(), s) }

// CanTransition reports whether a ticket may move from one status to another. Every status
// but closed moves freely to any other (work resumes, waits, is resolved or reopened when the
// fix did not hold); a closed ticket only reopens (to open), and only by staff.
func CanTransition(from, to TicketStatus) bool {
	if !from.valid() || !to.valid() || from == to {
		return false
	}
	return from != TicketClosed || to == TicketOpen
}

// Ticket refusals beyond the shared sentinels.
var (
	ErrInvalidTransition     = newErr(KindConflict, "invalid-status-transition", "the ticket cannot move to that status from its current one")
	ErrResponsibleNotAllowed = newErr(KindRule, "responsible-not-allowed", "the responsible group or user is not among the acting user's allowed recipients")
	ErrContractorNotEligible = newErr(KindRule, "contractor-not-eligible", "the company is not a guest contractor registered by the ticket's company")
	ErrTechnicianNotEligible = newErr(KindRule, "technician-not-eligible", "the technician is not an active user of the assigned contractor")
	ErrTicketClosed          = newErr(KindConflict, "ticket-closed", "the ticket is closed; reopen it first")
)

// Ticket is the state of one ticket, rebuilt by EvolveTicket.
type Ticket struct {
	ID     TicketID
	Opened bool

	Company          CompanyID
	Site             SiteID
	Type             string
	Status           TicketStatus
	Reporter         PersonID
	ResponsibleGroup GroupID
	ResponsibleUser  PersonID
	Title            string
	Description      string
	Contractor       CompanyID
	Technician       PersonID

	// Comments and Documents count what was added.
	Comments  int
	Documents int

	comments  map[string]bool
	documents map[DocID]bool
}

// NewTicket is the state of a ticket that has not been opened (an empty stream).
func NewTicket(id TicketID) *Ticket { return &Ticket{ID: id} }

// HasComment reports whether a comment id was used on the ticket.
func (t *Ticket) HasComment(id string) bool { return t.comments[id] }

// HasDocument reports whether a document id is attached to the ticket.
func (t *Ticket) HasDocument(id DocID) bool { return t.documents[id] }

// View is what visibility depends on.
func (t *Ticket) View() TicketView {
	return TicketView{Company: t.Company, Site: t.Site, Reporter: t.Reporter, Contractor: t.Contractor, Technician: t.Technician}
}

// TicketCommand is a command judged by a Ticket (reading the Directory).
type TicketCommand interface {
	Command
	decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error)
}

// DecideTicket judges cmd by principal p against ticket t and the Directory d. It changes neither.
func DecideTicket(t *Ticket, d *Directory, p Principal, cmd TicketCommand) ([]Event, error) {
	if !d.Configured {
		return nil, refuse(ErrTenantNotFound, "tenant %q does not exist", d.Tenant)
	}
	if p.Kind == PrincipalUser {
		if err := d.mustBeActiveUser(p.Person); err != nil {
			return nil, err
		}
	}
	return cmd.decideTicket(t, d, p)
}

// EvolveTicket applies e to t in place and returns t. Events of other aggregates are ignored.
func EvolveTicket(t *Ticket, e Event) *Ticket {
	if te, ok := e.(TicketEvent); ok {
		te.applyTicket(t)
	}
	return t
}

// --- visibility (DESIGN §2)

// TicketView is what visibility of a ticket depends on: company C, site S, reporter R and the
// contractor assignment. The read side builds it from its projection.
type TicketView struct {
	Company    CompanyID
	Site       SiteID
	Reporter   PersonID
	Contractor CompanyID
	Technician PersonID
}

// The reasons of DESIGN §2, as the API returns them.
const (
	ReasonOwnRequest           = "own_request"
	ReasonCompanyRole          = "company_role"
	ReasonManagedSite          = "managed_site"
	ReasonSiteRead             = "site_read"
	ReasonCompanyAccess        = "company_access"
	ReasonInternalUnrestricted = "internal_unrestricted"
	ReasonContractorAssignment = "contractor_assignment"
	// ReasonSystem and ReasonService are the grounds of non-user principals (not viewers).
	ReasonSystem  = "system"
	ReasonService = "service"
)

// TicketReason is one ground on which a viewer sees a ticket. Level is set for company_access:
// the level whose setting put the company in scope (user, group, company, or own for a normal
// user's own company).
type TicketReason struct {
	Rule  string      `json:"rule"`
	Level AccessLevel `json:"level,omitempty"`
}

// String is "rule" or "rule:level".
func (r TicketReason) String() string {
	if r.Level != "" {
		return r.Rule + ":" + string(r.Level)
	}
	return r.Rule
}

// CanSeeTicket tells whether p sees ticket t and why (the DESIGN §2 reason names, in the order of
// the table, each once). It is the reference of the visibility table; TicketReasons gives the
// company-access level as well.
func (d *Directory) CanSeeTicket(p Principal, t TicketView) (bool, []string) {
	rs := d.TicketReasons(p, t)
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Rule)
	}
	return len(out) > 0, out
}

// TicketReasons lists every ground on which p sees ticket t; none means it does not.
//
// For an active user V (anyone else sees nothing):
//   - own_request: R = V.
//   - company_role: V is master_admin, admin or member of C.
//   - managed_site: V is manager of C and S is one of its managed sites.
//   - site_read: S is one of V's read sites (write sites imply read).
//   - company_access: C is in V's effective company-access scope (the level is recorded). For a
//     support user its own company does not count here: within its own company a support user
//     sees what its role gives (a basic user only its own requests), so only the listed
//     companies are company access. For a normal user with a setting, its own company counts
//     (level own).
//   - internal_unrestricted: V is a normal user with no company-access setting at any level.
//   - contractor_assignment: T's contractor is a company V is master_admin or admin of, or V is
//     T's technician.
//
// Permission sets refine the role- and scope-derived grounds: company_role, managed_site,
// company_access, internal_unrestricted and a contractor admin's assignment hold only when the
// permission set behind that ground grants tickets:read (see groundPermits): the membership
// the role is held in (C's for company_role and managed_site, the contractor's for its admin),
// and for company access the membership of C if V holds one, else V's home membership; a normal
// user's group grants it for every ground. Each ground is thus decided by one company of the
// ticket, never by the pair (company, contractor), so that a viewer's table can be materialized
// per company, site and contractor (Directory.ScopeOf). Explicit grounds — own request, a read
// site, being the assigned technician — need no permission.
//
// A system principal sees every ticket; a service client one when granted tickets:read or
// tickets:write.
func (d *Directory) TicketReasons(p Principal, t TicketView) []TicketReason {
	switch p.Kind {
	case PrincipalSystem:
		return []TicketReason{{Rule: ReasonSystem}}
	case PrincipalService:
		if d.hasTenantPermission(p, PermTicketsRead) || d.hasTenantPermission(p, PermTicketsWrite) {
			return []TicketReason{{Rule: ReasonService}}
		}
		return nil
	}
	a := d.actor(p)
	if a == nil || a.Type != TypeSystemUser || a.Status != StatusActive {
		return nil
	}
	// read: the permission set behind a role or partner-access ground in the ticket's company.
	read := d.groundPermits(p, a, t.Company, true, PermTicketsRead)
	var out []TicketReason
	if t.Reporter != "" && t.Reporter == a.ID {
		out = append(out, TicketReason{Rule: ReasonOwnRequest})
	}
	if m := a.Memberships[t.Company]; m != nil && read {
		switch m.Role {
		case RoleMasterAdmin, RoleAdmin, RoleMember:
			out = append(out, TicketReason{Rule: ReasonCompanyRole})
		case RoleManager:
			if t.Site != "" && slices.Contains(m.ManagedSites, t.Site) {
				out = append(out, TicketReason{Rule: ReasonManagedSite})
			}
		}
	}
	if t.Site != "" && (slices.Contains(a.Sites.ReadSites, t.Site) || slices.Contains(a.Sites.WriteSites, t.Site)) {
		out = append(out, TicketReason{Rule: ReasonSiteRead})
	}
	if read {
		ea := d.EffectiveAccessOf(a)
		if level, ok := ea.Companies[t.Company]; ok && !ea.Unrestricted && (level != LevelOwn || d.ClassOf(a) == ClassNormal) {
			out = append(out, TicketReason{Rule: ReasonCompanyAccess, Level: level})
		}
		if ea.Unrestricted {
			out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
		}
	}
	if t.Contractor != "" {
		adminOfContractor := false
		if m := a.Memberships[t.Contractor]; m != nil && (m.Role == RoleMasterAdmin || m.Role == RoleAdmin) &&
			d.groundPermits(p, a, t.Contractor, false, PermTicketsRead) {
			adminOfContractor = true
		}
		if adminOfContractor || (t.Technician != "" && t.Technician == a.ID) {
			out = append(out, TicketReason{Rule: ReasonContractorAssignment})
		}
	}
	return out
}

// groundPermits answers whether the permission set behind a visibility ground held in company
// c grants perm: a normal user's group (tenant-wide) grants it for every company; otherwise the
// membership of c decides when a has one. For a partner-access ground (viaScope) a support user
// without a membership of c carries its home company's membership. It depends on c alone —
// never on another company of the ticket — which is what lets ScopeOf resolve it per company.
func (d *Directory) groundPermits(p Principal, a *Person, c CompanyID, viaScope bool, perm Permission) bool {
	normal := d.ClassOf(a) == ClassNormal
	if normal && d.hasTenantPermission(p, perm) {
		return true
	}
	if m := a.Memberships[c]; c != "" && m != nil {
		return m.Permissions.Has(perm)
	}
	if viaScope && !normal {
		if m := a.Memberships[a.HomeCompany]; m != nil {
			return m.Permissions.Has(perm)
		}
	}
	return false
}

// ticketPermissions answers which permissions apply to user a for acting on a ticket (write,
// comment — not visibility, see groundPermits): a normal user's group (tenant-wide) together
// with its membership of the ticket's company, if any; a support user's membership of the
// ticket's company, else of the ticket's contractor, else of its home company (for tickets it
// sees through a site grant or partner access).
func (d *Directory) ticketPermissions(p Principal, a *Person, t TicketView) func(Permission) bool {
	var set *PermissionSet
	for _, c := range []CompanyID{t.Company, t.Contractor, a.HomeCompany} {
		if m := a.Memberships[c]; c != "" && m != nil {
			set = &m.Permissions
			break
		}
	}
	normal := d.ClassOf(a) == ClassNormal
	return func(perm Permission) bool {
		if normal {
			if d.hasTenantPermission(p, perm) {
				return true
			}
			m := a.Memberships[t.Company]
			return m != nil && m.Permissions.Has(perm)
		}
		return set != nil && set.Has(perm)
	}
}

// inAccessScope reports whether a normal user's company-access scope covers c (unrestricted
// covers the whole tenant).
func (d *Directory) inAccessScope(a *Person, c CompanyID) bool {
	ea := d.EffectiveAccessOf(a)
	_, ok := ea.Companies[c]
	return ea.Unrestricted || ok
}

// canWriteTicket: change its status, attach documents. A write site at its site suffices;
// otherwise tickets:write (ticketPermissions) together with a ground that covers the ticket:
// its reporter, a master_admin/admin/member role of its company, a manager of its site, a normal
// user whose scope covers its company, or its contractor assignment (the contractor's admins,
// its technician). Support users' partner access (company_access) and read sites are read-only.
func (d *Directory) canWriteTicket(p Principal, t TicketView) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermTicketsWrite)
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	if t.Site != "" && slices.Contains(a.Sites.WriteSites, t.Site) {
		return true
	}
	if !d.ticketPermissions(p, a, t)(PermTicketsWrite) {
		return false
	}
	if t.Reporter != "" && t.Reporter == a.ID {
		return true
	}
	if m := a.Memberships[t.Company]; m != nil {
		switch m.Role {
		case RoleMasterAdmin, RoleAdmin, RoleMember:
			return true
		case RoleManager:
			if t.Site != "" && slices.Contains(m.ManagedSites, t.Site) {
				return true
			}
		}
	}
	if d.ClassOf(a) == ClassNormal && d.inAccessScope(a, t.Company) {
		return true
	}
	if t.Contractor != "" {
		if m := a.Memberships[t.Contractor]; m != nil && (m.Role == RoleMasterAdmin || m.Role == RoleAdmin) {
			return true
		}
		if t.Technician == a.ID {
			return true
		}
	}
	return false
}

// isTicketStaff: who manages a ticket of company c — sets its responsible, assigns a contractor,
// reopens it once closed. Normal users with tickets:write whose scope covers c, c's master admin
// and admins holding tickets:write, the system and service clients granted tickets:write.
func (d *Directory) isTicketStaff(p Principal, c CompanyID) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermTicketsWrite)
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	if d.ClassOf(a) == ClassNormal && d.hasTenantPermission(p, PermTicketsWrite) && d.inAccessScope(a, c) {
		return true
	}
	m := a.Memberships[c]
	return m != nil && (m.Role == RoleMasterAdmin || m.Role == RoleAdmin) && m.Permissions.Has(PermTicketsWrite)
}

// canOpenTicketAt: S among V's write sites, or tickets:write with a role of C that covers S
// (master_admin/admin/member: any site of C or none; manager: its managed sites; basic: its one
// site), or a normal user with tickets:write whose company-access scope covers C. Service
// clients need tickets:write.
func (d *Directory) canOpenTicketAt(p Principal, c CompanyID, s SiteID) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermTicketsWrite)
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	if s != "" && slices.Contains(a.Sites.WriteSites, s) {
		return true
	}
	if m := a.Memberships[c]; m != nil && m.Permissions.Has(PermTicketsWrite) {
		switch m.Role {
		case RoleMasterAdmin, RoleAdmin, RoleMember:
			return true
		case RoleManager, RoleBasic:
			if s != "" && slices.Contains(m.ManagedSites, s) {
				return true
			}
		}
	}
	return d.ClassOf(a) == ClassNormal && d.hasTenantPermission(p, PermTicketsWrite) && d.inAccessScope(a, c)
}

// knowsCompany: may p learn that company c exists? Beyond canSeeCompany, a support user knows the
// companies of its partner scope and those where it holds a site right.
func (d *Directory) knowsCompany(p Principal, c CompanyID) bool {
	if d.canSeeCompany(p, c) {
		return true
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	if _, ok := d.EffectiveAccessOf(a).Companies[c]; ok {
		return true
	}
	if co := d.Companies[c]; co != nil {
		for _, s := range slices.Concat(a.Sites.ReadSites, a.Sites.WriteSites) {
			if _, ok := co.Sites[s]; ok {
				return true
			}
		}
	}
	return false
}

// visibleTicket answers not-found for a ticket that does not exist or that p may not see.
func (d *Directory) visibleTicket(t *Ticket, p Principal) error {
	if t == nil {
		return notFound("ticket", "")
	}
	if !t.Opened {
		return notFound("ticket", string(t.ID))
	}
	if ok, _ := d.CanSeeTicket(p, t.View()); !ok {
		return notFound("ticket", string(t.ID))
	}
	return nil
}

// restrictions are the acting user's ticket restrictions (none for other principals).
func (d *Directory) restrictions(p Principal) SitePermissions {
	if a := d.actor(p); a != nil {
		return a.Sites
	}
	return SitePermissions{}
}

// responsibleAllowed matches a responsible group or user against a user's allowed recipients,
// given as bare ids or as "group:<id>" / "user:<id>".
func responsibleAllowed(list []string, kind, id string) bool {
	return slices.Contains(list, id) || slices.Contains(list, kind+":"+id)
}

// checkResponsible validates a responsible group or user (at most one; both empty = none) and,
// when the acting user has a list of allowed recipients, that it is on it.
func (d *Directory) checkResponsible(p Principal, g GroupID, u PersonID, required bool) error {
	switch {
	case g != "" && u != "":
		return invalid("responsible", "a group or a user, not both")
	case g == "" && u == "":
		if required {
			return invalid("responsible", "a group or a user is required")
		}
		return nil
	}
	allowed := d.restrictions(p).Responsible
	if g != "" {
		if _, ok := d.Groups[g]; !ok {
			return notFound("group", string(g))
		}
		if len(allowed) > 0 && !responsibleAllowed(allowed, "group", string(g)) {
			return refuse(ErrResponsibleNotAllowed, "group %q is not among the acting user's responsible recipients", g)
		}
		return nil
	}
	person, ok := d.People[u]
	if !ok || person.Type != TypeSystemUser || person.Status == StatusRemoved {
		return notFound("person", string(u))
	}
	if person.Status != StatusActive {
		return refuse(ErrWrongState, "user %q is not active", u)
	}
	if len(allowed) > 0 && !responsibleAllowed(allowed, "user", string(u)) {
		return refuse(ErrResponsibleNotAllowed, "user %q is not among the acting user's responsible recipients", u)
	}
	return nil
}

func actingPerson(p Principal) PersonID {
	if p.Kind == PrincipalUser {
		return p.Person
	}
	return ""
}

// --- commands

// Limits of ticket fields.
const (
	MaxTicketTitle       = 200
	MaxTicketDescription = 20000
	MaxTicketType        = 100
	MaxCommentBody       = 10000
)

// OpenTicket opens a ticket at a site of a company (or, with no site, for the company as a
// whole). Company may be left empty when Site is given: it is the site's company.
type OpenTicket struct {
	Ticket           TicketID
	Company          CompanyID
	Site             SiteID
	Type             string
	Title            string
	Description      string
	ResponsibleGroup GroupID
	ResponsibleUser  PersonID
}

func (OpenTicket) CommandName() string { return "OpenTicket" }

func (c OpenTicket) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	if c.Ticket == "" {
		return nil, invalid("id", "required")
	}
	title, typ, desc := strings.TrimSpace(c.Title), strings.TrimSpace(c.Type), strings.TrimSpace(c.Description)
	if title == "" || len(title) > MaxTicketTitle {
		return nil, invalid("title", "required, at most %d characters", MaxTicketTitle)
	}
	if typ == "" || len(typ) > MaxTicketType {
		return nil, invalid("type", "required, at most %d characters", MaxTicketType)
	}
	if len(desc) > MaxTicketDescription {
		return nil, invalid("description", "at most %d characters", MaxTicketDescription)
	}
	if t.Opened {
		return nil, refuse(ErrAlreadyExists, "ticket %q exists", c.Ticket)
	}
	company := c.Company
	switch {
	case c.Site != "":
		owner := d.siteOwner(c.Site)
		if owner == "" || (company != "" && owner != company) || !d.knowsCompany(p, owner) {
			return nil, notFound("site", string(c.Site))
		}
		company = owner
	case company == "":
		return nil, invalid("site", "a site or a company is required")
	default:
		if _, ok := d.Companies[company]; !ok || !d.knowsCompany(p, company) {
			return nil, notFound("company", string(company))
		}
	}
	if !d.canOpenTicketAt(p, company, c.Site) {
		if c.Site == "" {
			return nil, forbidden("the acting user may not open tickets for company %q as a whole", company)
		}
		return nil, forbidden("the acting user may not open tickets at site %q", c.Site)
	}
	if types := d.restrictions(p).TicketTypes; len(types) > 0 && !slices.Contains(types, typ) {
		return nil, refuse(ErrTypeNotAllowed, "the acting user may not open tickets of type %q", typ)
	}
	if err := d.checkResponsible(p, c.ResponsibleGroup, c.ResponsibleUser, false); err != nil {
		return nil, err
	}
	return []Event{TicketOpened{Ticket: c.Ticket, Company: company, Site: c.Site, Type: typ, Status: TicketOpen,
		Reporter: actingPerson(p), ResponsibleGroup: c.ResponsibleGroup, ResponsibleUser: c.ResponsibleUser,
		Title: title, Description: desc}}, nil
}

// ChangeTicketStatus moves a ticket to another status (see CanTransition). It needs write access
// to the ticket; a restricted user may set only its allowed statuses; only staff reopen a closed
// ticket. Setting the current status again changes nothing.
type ChangeTicketStatus struct {
	Ticket TicketID
	Status TicketStatus
}

func (ChangeTicketStatus) CommandName() string { return "ChangeTicketStatus" }

func (c ChangeTicketStatus) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	if !c.Status.valid() {
		return nil, invalid("status", "must be open, in_progress, waiting, resolved or closed")
	}
	if err := d.visibleTicket(t, p); err != nil {
		return nil, err
	}
	if !d.canWriteTicket(p, t.View()) {
		return nil, forbidden("the acting user may not change this ticket")
	}
	if r := d.restrictions(p); r.Restricted && !slices.Contains(r.Statuses, string(c.Status)) {
		return nil, refuse(ErrStatusNotAllowed, "the acting user may not set status %q", c.Status)
	}
	if t.Status == c.Status {
		return nil, nil
	}
	if !CanTransition(t.Status, c.Status) {
		return nil, refuse(ErrInvalidTransition, "a %s ticket cannot become %s; a closed ticket only reopens to open", t.Status, c.Status)
	}
	if t.Status == TicketClosed && !d.isTicketStaff(p, t.Company) {
		return nil, forbidden("only staff reopen a closed ticket")
	}
	return []Event{TicketStatusChanged{Ticket: t.ID, From: t.Status, To: c.Status}}, nil
}

// AssignTicket sets a ticket's responsible group or user (exactly one). Staff only; a user with
// a list of allowed recipients may assign only to them. A closed ticket is frozen.
type AssignTicket struct {
	Ticket TicketID
	Group  GroupID
	User   PersonID
}

func (AssignTicket) CommandName() string { return "AssignTicket" }

func (c AssignTicket) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	if c.Group != "" && c.User != "" || c.Group == "" && c.User == "" {
		return nil, invalid("responsible", "exactly one of group and user")
	}
	if err := d.visibleTicket(t, p); err != nil {
		return nil, err
	}
	if !d.isTicketStaff(p, t.Company) {
		return nil, forbidden("assigning a ticket needs tickets:write in scope or the company's admin role")
	}
	if t.Status == TicketClosed {
		return nil, refuse(ErrTicketClosed, "ticket %q is closed", t.ID)
	}
	if err := d.checkResponsible(p, c.Group, c.User, true); err != nil {
		return nil, err
	}
	if t.ResponsibleGroup == c.Group && t.ResponsibleUser == c.User {
		return nil, nil
	}
	return []Event{TicketAssigned{Ticket: t.ID, Group: c.Group, User: c.User, FromGroup: t.ResponsibleGroup, FromUser: t.ResponsibleUser}}, nil
}

// AssignContractor assigns a guest contractor registered by the ticket's company, and
// optionally one of its active users as technician, replacing any previous assignment. Staff
// only; a closed ticket is frozen.
type AssignContractor struct {
	Ticket     TicketID
	Contractor CompanyID
	Technician PersonID
}

func (AssignContractor) CommandName() string { return "AssignContractor" }

func (c AssignContractor) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	if c.Contractor == "" {
		return nil, invalid("contractor", "required")
	}
	if err := d.visibleTicket(t, p); err != nil {
		return nil, err
	}
	if !d.isTicketStaff(p, t.Company) {
		return nil, forbidden("assigning a contractor needs tickets:write in scope or the company's admin role")
	}
	if t.Status == TicketClosed {
		return nil, refuse(ErrTicketClosed, "ticket %q is closed", t.ID)
	}
	co, ok := d.Companies[c.Contractor]
	if !ok || !d.canSeeCompany(p, c.Contractor) {
		return nil, notFound("company", string(c.Contractor))
	}
	if co.Kind != KindContractor || co.RegisteredBy != t.Company {
		return nil, refuse(ErrContractorNotEligible, "company %q is not a guest contractor registered by %q", c.Contractor, t.Company)
	}
	if c.Technician != "" {
		tech, ok := d.People[c.Technician]
		if !ok || tech.Type != TypeSystemUser || tech.Status == StatusRemoved {
			return nil, notFound("person", string(c.Technician))
		}
		if tech.HomeCompany != c.Contractor && tech.Memberships[c.Contractor] == nil {
			return nil, refuse(ErrTechnicianNotEligible, "%q is not a user of contractor %q", c.Technician, c.Contractor)
		}
		if tech.Status != StatusActive {
			return nil, refuse(ErrTechnicianNotEligible, "technician %q is not active", c.Technician)
		}
	}
	if t.Contractor == c.Contractor && t.Technician == c.Technician {
		return nil, nil
	}
	return []Event{ContractorAssigned{Ticket: t.ID, Contractor: c.Contractor, Technician: c.Technician,
		FromContractor: t.Contractor, FromTechnician: t.Technician}}, nil
}

// CommentOnTicket adds a comment. Anyone who sees the ticket may comment as its reporter or with
// tickets:comment (ticketPermissions). Comments are allowed on closed tickets.
type CommentOnTicket struct {
	Ticket  TicketID
	Comment string
	Body    string
}

func (CommentOnTicket) CommandName() string { return "CommentOnTicket" }

func (c CommentOnTicket) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	body := strings.TrimSpace(c.Body)
	if body == "" || len(body) > MaxCommentBody {
		return nil, invalid("body", "required, at most %d characters", MaxCommentBody)
	}
	if c.Comment == "" {
		return nil, invalid("id", "required")
	}
	if err := d.visibleTicket(t, p); err != nil {
		return nil, err
	}
	if !d.canCommentOn(p, t.View()) {
		return nil, forbidden("commenting needs tickets:comment")
	}
	if t.HasComment(c.Comment) {
		return nil, refuse(ErrAlreadyExists, "comment %q exists", c.Comment)
	}
	return []Event{TicketCommented{Ticket: t.ID, Comment: c.Comment, Author: actingPerson(p), Body: body}}, nil
}

func (d *Directory) canCommentOn(p Principal, t TicketView) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermTicketsComment)
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	return (t.Reporter != "" && t.Reporter == a.ID) || d.ticketPermissions(p, a, t)(PermTicketsComment)
}

// AttachTicketDocument attaches a document's metadata to a ticket; it needs write access to the
// ticket. Attaching is allowed on closed tickets.
type AttachTicketDocument struct {
	Ticket   TicketID
	Document DocID
	DocumentMeta
}

func (AttachTicketDocument) CommandName() string { return "AttachDocument" }

func (c AttachTicketDocument) decideTicket(t *Ticket, d *Directory, p Principal) ([]Event, error) {
	meta, err := c.DocumentMeta.normalize()
	if err != nil {
		return nil, err
	}
	if c.Document == "" {
		return nil, invalid("id", "required")
	}
	if err := d.visibleTicket(t, p); err != nil {
		return nil, err
	}
	if !d.canWriteTicket(p, t.View()) {
		return nil, forbidden("attaching documents needs write access to the ticket")
	}
	if t.HasDocument(c.Document) {
		return nil, refuse(ErrAlreadyExists, "document %q exists", c.Document)
	}
	return []Event{DocumentAttached{Document: c.Document, Ticket: t.ID, Company: t.Company, Name: meta.Name,
		ContentType: meta.ContentType, SizeBytes: meta.SizeBytes, UploadedBy: actingPerson(p)}}, nil
}
