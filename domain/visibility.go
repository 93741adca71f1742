package domain

import (
	"maps"
	"slices"
)

// Visibility at the level of scopes (DESIGN §2, cost model).
//
// The per-viewer table is materialized as a Scope: what one person sees, keyed by the few
// attributes of a resource that visibility depends on — a ticket's company, site, reporter,
// contractor and technician; a person's companies and sites; a document's ticket or company.
// A check is then a handful of lookups in the viewer's scope plus per-scope indexes of
// resources (tickets by company, by site, by reporter, by contractor, by technician; people by
// company and by site), and a change costs in proportion to the viewers whose scope changes,
// never to the number of tickets.
//
// The reference rules are the Directory's methods (TicketReasons, CanSeeCompany,
// PersonVisibility, CanSeeDocument, CompanyDocumentReasons); the Scope's methods must give
// exactly the same answers, reasons and order included. Tests check that over generated
// worlds (internal/testkit/world).

// Reasons beyond the ticket reasons of DESIGN §2, for companies and people.
const (
	// ReasonMembership: V holds a membership (any role) of the company.
	ReasonMembership = "membership"
	// ReasonSelf: everyone sees itself.
	ReasonSelf = "self"
	// ReasonCompanyPeople: a normal user sees the people of a company it sees.
	ReasonCompanyPeople = "company_people"
	// ReasonTicketReference: the person is named by a ticket V sees (reporter, responsible
	// user, technician); its name only.
	ReasonTicketReference = "ticket_reference"
)

// ruleOrder is the order of DESIGN §2's table; reasons are always listed in it.
var ruleOrder = []string{ReasonOwnRequest, ReasonCompanyRole, ReasonManagedSite, ReasonSiteRead,
	ReasonCompanyAccess, ReasonInternalUnrestricted, ReasonContractorAssignment}

// Visibility is how much of a person a viewer sees.
type Visibility string

// Visibilities, widest first.
const (
	VisibilityFull    Visibility = "full"
	VisibilityLimited Visibility = "limited" // by name only, through a ticket
	VisibilityNone    Visibility = "none"
)

// PersonReason is one ground on which a viewer sees a person. Company is the company through
// which (company_people, company_role, managed_site); Ticket the ticket naming the person
// (ticket_reference; the first such ticket in the order given).
type PersonReason struct {
	Rule    string    `json:"rule"`
	Company CompanyID `json:"company,omitempty"`
	Ticket  TicketID  `json:"ticket,omitempty"`
}

// TicketRef is a ticket as people and document visibility need it: its id, what its
// visibility depends on, and the responsible user it names (a person named by a visible ticket
// is visible by name).
type TicketRef struct {
	ID TicketID
	TicketView
	ResponsibleUser PersonID
}

// Ref is the ticket as a TicketRef.
func (t *Ticket) Ref() TicketRef {
	return TicketRef{ID: t.ID, TicketView: t.View(), ResponsibleUser: t.ResponsibleUser}
}

// People lists the people the ticket names: reporter, responsible user, technician (each
// once, in that order, empty ones left out).
func (t TicketRef) People() []PersonID {
	out := make([]PersonID, 0, 3)
	for _, p := range []PersonID{t.Reporter, t.ResponsibleUser, t.Technician} {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// hasTable: only active users have a visibility table; contacts, invited, suspended and
// removed users (and unknown ids) have none — every read as them is refused.
func hasTable(a *Person) bool {
	return a != nil && a.Type == TypeSystemUser && a.Status == StatusActive
}

// belongsTo reports whether person is one of company c's people: its home company, or a
// company it holds a membership of.
func belongsTo(person *Person, c CompanyID) bool {
	return person.HomeCompany == c || person.Memberships[c] != nil
}

// companiesOf lists the companies a person belongs to, sorted.
func companiesOf(person *Person) []CompanyID {
	out := []CompanyID{person.HomeCompany}
	for c := range person.Memberships {
		if c != person.HomeCompany {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// --- reference: companies

// CanSeeCompany tells whether p sees company c and why (DESIGN §2): V holds a membership of it
// (membership), or it is in V's company-access scope (company_access with the level; the own
// company is level own), or V is a normal user with no company-access setting
// (internal_unrestricted). Company visibility is not refined by permission sets. Only active
// users have a table; the system and service clients see every company.
func (d *Directory) CanSeeCompany(p Principal, c CompanyID) (bool, []TicketReason) {
	if _, ok := d.Companies[c]; !ok {
		return false, nil
	}
	switch p.Kind {
	case PrincipalSystem:
		return true, []TicketReason{{Rule: ReasonSystem}}
	case PrincipalService:
		return true, []TicketReason{{Rule: ReasonService}}
	}
	a := d.actor(p)
	if !hasTable(a) {
		return false, nil
	}
	var out []TicketReason
	if a.Memberships[c] != nil {
		out = append(out, TicketReason{Rule: ReasonMembership})
	}
	ea := d.EffectiveAccessOf(a)
	if level, ok := ea.Companies[c]; ok {
		out = append(out, TicketReason{Rule: ReasonCompanyAccess, Level: level})
	}
	if ea.Unrestricted {
		out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
	}
	return len(out) > 0, out
}

// --- reference: people

// VisibleTickets keeps the tickets p sees (TicketReasons), in the order given.
func (d *Directory) VisibleTickets(p Principal, tickets []TicketRef) []TicketRef {
	var out []TicketRef
	for _, t := range tickets {
		if len(d.TicketReasons(p, t.TicketView)) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// PersonVisibility tells how much of person target p sees and why (DESIGN §2). visible are the
// tickets p sees (see VisibleTickets); they are trusted as given.
//
// For an active user V (anyone else sees nobody):
//   - self: V sees itself, in full.
//   - company_people: V is a normal user and target belongs to a company V sees (CanSeeCompany);
//     a person belongs to its home company and to every company it holds a membership of.
//   - company_role: V is master_admin, admin or member of a company target belongs to.
//   - managed_site: V is manager of company X and target holds a basic or manager membership of
//     X at one of V's managed sites.
//   - ticket_reference: otherwise, target is named by a visible ticket (reporter, responsible
//     user, technician): limited, by name only.
//
// The target's own status does not matter (the read side shows it); people visibility is not
// refined by permission sets. Full reasons are listed rule by rule, each rule by company id.
// The system sees everyone; a service client too (it is not a viewer).
func (d *Directory) PersonVisibility(p Principal, target PersonID, visible []TicketRef) (Visibility, []PersonReason) {
	t, ok := d.People[target]
	if !ok {
		return VisibilityNone, nil
	}
	switch p.Kind {
	case PrincipalSystem:
		return VisibilityFull, []PersonReason{{Rule: ReasonSystem}}
	case PrincipalService:
		return VisibilityFull, []PersonReason{{Rule: ReasonService}}
	}
	a := d.actor(p)
	if !hasTable(a) {
		return VisibilityNone, nil
	}
	var out []PersonReason
	if a.ID == t.ID {
		out = append(out, PersonReason{Rule: ReasonSelf})
	}
	companies := companiesOf(t)
	if d.ClassOf(a) == ClassNormal {
		for _, c := range companies {
			if ok, _ := d.CanSeeCompany(p, c); ok {
				out = append(out, PersonReason{Rule: ReasonCompanyPeople, Company: c})
			}
		}
	}
	for _, c := range companies {
		if m := a.Memberships[c]; m != nil && (m.Role == RoleMasterAdmin || m.Role == RoleAdmin || m.Role == RoleMember) {
			out = append(out, PersonReason{Rule: ReasonCompanyRole, Company: c})
		}
	}
	for _, c := range slices.Sorted(maps.Keys(t.Memberships)) {
		tm, m := t.Memberships[c], a.Memberships[c]
		if m == nil || m.Role != RoleManager || (tm.Role != RoleBasic && tm.Role != RoleManager) {
			continue
		}
		if slices.ContainsFunc(tm.ManagedSites, func(s SiteID) bool { return slices.Contains(m.ManagedSites, s) }) {
			out = append(out, PersonReason{Rule: ReasonManagedSite, Company: c})
		}
	}
	if len(out) > 0 {
		return VisibilityFull, out
	}
	return referenced(target, visible)
}

// referenced is the limited visibility of a person named by one of the visible tickets.
func referenced(target PersonID, visible []TicketRef) (Visibility, []PersonReason) {
	for _, tk := range visible {
		if slices.Contains(tk.People(), target) {
			return VisibilityLimited, []PersonReason{{Rule: ReasonTicketReference, Ticket: tk.ID}}
		}
	}
	return VisibilityNone, nil
}

// --- reference: documents

// CompanyDocumentReasons lists the grounds on which p sees the documents of company c (DESIGN
// §2: V sees the company with a role other than basic, or as a normal user), refined by
// documents:read as tickets are by tickets:read:
//   - company_role: V holds a membership of c with a role other than basic whose permission set
//     grants documents:read;
//   - company_access (with the level) or internal_unrestricted: V is a normal user whose group
//     grants documents:read and whose company-access scope covers c.
//
// The system sees all; a service client with documents:read. CanSeeCompanyDocuments is its
// yes/no form.
func (d *Directory) CompanyDocumentReasons(p Principal, c CompanyID) []TicketReason {
	if _, ok := d.Companies[c]; !ok {
		return nil
	}
	switch p.Kind {
	case PrincipalSystem:
		return []TicketReason{{Rule: ReasonSystem}}
	case PrincipalService:
		if d.hasTenantPermission(p, PermDocumentsRead) {
			return []TicketReason{{Rule: ReasonService}}
		}
		return nil
	}
	a := d.actor(p)
	if !hasTable(a) {
		return nil
	}
	var out []TicketReason
	if m := a.Memberships[c]; m != nil && m.Role != RoleBasic && m.Permissions.Has(PermDocumentsRead) {
		out = append(out, TicketReason{Rule: ReasonCompanyRole})
	}
	if d.ClassOf(a) == ClassNormal && d.hasTenantPermission(p, PermDocumentsRead) {
		ea := d.EffectiveAccessOf(a)
		if level, ok := ea.Companies[c]; ok && !ea.Unrestricted {
			out = append(out, TicketReason{Rule: ReasonCompanyAccess, Level: level})
		}
		if ea.Unrestricted {
			out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
		}
	}
	return out
}

// CanSeeDocument tells whether p sees a document and why (DESIGN §2): a ticket's document when
// p sees its ticket (ticket is that ticket's view; nil — unknown ticket — sees nothing), with the
// ticket's reasons; a company document per CompanyDocumentReasons.
func (d *Directory) CanSeeDocument(p Principal, doc *Document, ticket *TicketView) (bool, []TicketReason) {
	if doc == nil || !doc.Attached {
		return false, nil
	}
	var rs []TicketReason
	if doc.Ticket != "" {
		if ticket == nil {
			return false, nil
		}
		rs = d.TicketReasons(p, *ticket)
	} else {
		rs = d.CompanyDocumentReasons(p, doc.Company)
	}
	return len(rs) > 0, rs
}

// --- the scope

// Scope is one person's visibility table at the level of scopes: everything the reference
// rules need about the viewer, resolved once (permission sets included), so that a resource
// is judged from the scope and the resource's own keys alone.
//
// A ticket (company C, site S, reporter R, contractor X, technician T) is visible when
// R = Person, or Companies[C] is not empty, or Sites[S] holds site_read (or managed_site with
// ManagedSiteCompany[S] = C), or Unrestricted, or ContractorAdminOf[X], or T = Person (with an
// X). See TicketReasons.
type Scope struct {
	Person PersonID
	// HasTable: an active user. Contacts, invited, suspended and removed users (and unknown ids)
	// have none: every other field is empty and every read as them is refused.
	HasTable    bool
	Class       Class
	HomeCompany CompanyID

	// Tickets.

	// Unrestricted: internal_unrestricted for every company — a normal user without any
	// company-access setting whose group grants tickets:read. (Without the group's right, the
	// memberships granting tickets:read give internal_unrestricted per company, in Companies.)
	Unrestricted bool
	// Companies are the company-wide grounds, per company: company_role, company_access (with
	// its level), internal_unrestricted — each only when its permission set grants tickets:read.
	Companies map[CompanyID][]TicketReason
	// Sites are the site grounds, per site: managed_site (valid for tickets of
	// ManagedSiteCompany[site] only) and site_read (read or write site, any company).
	Sites map[SiteID][]TicketReason
	// ManagedSiteCompany is, for each managed site, the company whose manager membership manages
	// it: managed_site holds only for that company's tickets at the site.
	ManagedSiteCompany map[SiteID]CompanyID
	// ContractorAdminOf are the companies whose assigned tickets V sees as their master admin or
	// admin (contractor_assignment), their membership granting tickets:read. The tickets whose
	// technician is V (an "assignment" scope keyed by V itself) need no permission.
	ContractorAdminOf map[CompanyID]bool

	// Companies seen.

	// AllCompanies: every company of the tenant is visible (a normal user with no company-access
	// setting; reason internal_unrestricted).
	AllCompanies bool
	// VisibleCompanies are the other visible companies with their reasons: membership,
	// company_access (with the level; own for the home company).
	VisibleCompanies map[CompanyID][]TicketReason

	// People seen in full (besides V itself).

	// PeopleOfAllCompanies: every person (a normal user that sees every company).
	PeopleOfAllCompanies bool
	// PeopleCompanies are the companies whose people (home or membership) V sees in full, with
	// the grounds: company_people (a normal user seeing the company), company_role (V is
	// master_admin, admin or member of it). With PeopleOfAllCompanies, only company_role entries.
	PeopleCompanies map[CompanyID][]string
	// PeopleSites are a manager's sites, each with its company: V sees the users holding a basic
	// or manager membership of that company at the site.
	PeopleSites map[SiteID]CompanyID

	// Company documents.

	// AllCompanyDocuments: the documents of every company (internal_unrestricted: a normal user
	// with no company-access setting whose group grants documents:read).
	AllCompanyDocuments bool
	// CompanyDocs are the other companies whose documents V sees, with the reasons:
	// company_role, company_access (with the level).
	CompanyDocs map[CompanyID][]TicketReason
}

// ScopeOf materializes person id's visibility table. It equals the reference rules: for every
// ticket t, ScopeOf(v).TicketReasons(t) = TicketReasons(User(v), t), and likewise for companies,
// people and documents.
func (d *Directory) ScopeOf(id PersonID) Scope {
	s := Scope{Person: id}
	a := d.People[id]
	if !hasTable(a) {
		return s
	}
	p := User(id)
	s.HasTable, s.Class, s.HomeCompany = true, d.ClassOf(a), a.HomeCompany
	s.Companies, s.Sites = map[CompanyID][]TicketReason{}, map[SiteID][]TicketReason{}
	s.ManagedSiteCompany, s.ContractorAdminOf = map[SiteID]CompanyID{}, map[CompanyID]bool{}
	s.VisibleCompanies, s.PeopleCompanies = map[CompanyID][]TicketReason{}, map[CompanyID][]string{}
	s.PeopleSites, s.CompanyDocs = map[SiteID]CompanyID{}, map[CompanyID][]TicketReason{}
	normal := s.Class == ClassNormal
	ea := d.EffectiveAccessOf(a)
	groupReads := normal && d.hasTenantPermission(p, PermTicketsRead)

	// Role grounds, per membership (sorted, for stable slices).
	for _, c := range slices.Sorted(maps.Keys(a.Memberships)) {
		m := a.Memberships[c]
		reads := d.groundPermits(p, a, c, true, PermTicketsRead)
		switch m.Role {
		case RoleMasterAdmin, RoleAdmin, RoleMember:
			if reads {
				s.Companies[c] = append(s.Companies[c], TicketReason{Rule: ReasonCompanyRole})
			}
			s.PeopleCompanies[c] = append(s.PeopleCompanies[c], ReasonCompanyRole)
		case RoleManager:
			for _, site := range m.ManagedSites {
				if reads {
					s.Sites[site] = append(s.Sites[site], TicketReason{Rule: ReasonManagedSite})
					s.ManagedSiteCompany[site] = c
				}
				s.PeopleSites[site] = c
			}
		}
		if (m.Role == RoleMasterAdmin || m.Role == RoleAdmin) && d.groundPermits(p, a, c, false, PermTicketsRead) {
			s.ContractorAdminOf[c] = true
		}
		s.VisibleCompanies[c] = append(s.VisibleCompanies[c], TicketReason{Rule: ReasonMembership})
		if m.Role != RoleBasic && m.Permissions.Has(PermDocumentsRead) {
			s.CompanyDocs[c] = append(s.CompanyDocs[c], TicketReason{Rule: ReasonCompanyRole})
		}
	}
	// Site rights: write sites imply read.
	for _, site := range slices.Concat(a.Sites.ReadSites, a.Sites.WriteSites) {
		if !slices.ContainsFunc(s.Sites[site], func(r TicketReason) bool { return r.Rule == ReasonSiteRead }) {
			s.Sites[site] = append(s.Sites[site], TicketReason{Rule: ReasonSiteRead})
		}
	}
	// Partner access and the unrestricted normal user.
	docsRead := normal && d.hasTenantPermission(p, PermDocumentsRead)
	if ea.Unrestricted {
		s.AllCompanies, s.PeopleOfAllCompanies = true, true
		s.Unrestricted = groupReads
		if !groupReads {
			for _, c := range slices.Sorted(maps.Keys(a.Memberships)) {
				if a.Memberships[c].Permissions.Has(PermTicketsRead) {
					s.Companies[c] = append(s.Companies[c], TicketReason{Rule: ReasonInternalUnrestricted})
				}
			}
		}
		s.AllCompanyDocuments = docsRead
	} else {
		for _, c := range slices.Sorted(maps.Keys(ea.Companies)) {
			level := ea.Companies[c]
			reason := TicketReason{Rule: ReasonCompanyAccess, Level: level}
			s.VisibleCompanies[c] = append(s.VisibleCompanies[c], reason)
			if normal {
				s.PeopleCompanies[c] = append([]string{ReasonCompanyPeople}, s.PeopleCompanies[c]...)
				if docsRead {
					s.CompanyDocs[c] = append(s.CompanyDocs[c], reason)
				}
			}
			if (level != LevelOwn || normal) && d.groundPermits(p, a, c, true, PermTicketsRead) {
				s.Companies[c] = append(s.Companies[c], reason)
			}
		}
	}
	if normal {
		// A normal user sees the people of the companies it holds a membership of, too.
		for c := range a.Memberships {
			if !slices.Contains(s.PeopleCompanies[c], ReasonCompanyPeople) && !s.PeopleOfAllCompanies {
				s.PeopleCompanies[c] = append([]string{ReasonCompanyPeople}, s.PeopleCompanies[c]...)
			}
		}
	}
	// Every list in the order of DESIGN §2 (entries exist only with at least one reason).
	for c, rs := range s.Companies {
		s.Companies[c] = sortReasons(rs)
	}
	for site, rs := range s.Sites {
		s.Sites[site] = sortReasons(rs)
	}
	return s
}

// sortReasons orders reasons as DESIGN §2's table.
func sortReasons(rs []TicketReason) []TicketReason {
	slices.SortStableFunc(rs, func(x, y TicketReason) int {
		return slices.Index(ruleOrder, x.Rule) - slices.Index(ruleOrder, y.Rule)
	})
	return rs
}

func hasRule(rs []TicketReason, rule string) (TicketReason, bool) {
	for _, r := range rs {
		if r.Rule == rule {
			return r, true
		}
	}
	return TicketReason{}, false
}

// TicketReasons evaluates a ticket from the scope alone (and the ticket's own keys): the same
// reasons, in the same order, as Directory.TicketReasons for the scope's person.
func (s Scope) TicketReasons(t TicketView) []TicketReason {
	if !s.HasTable {
		return nil
	}
	var out []TicketReason
	if t.Reporter != "" && t.Reporter == s.Person {
		out = append(out, TicketReason{Rule: ReasonOwnRequest})
	}
	company := s.Companies[t.Company]
	var site []TicketReason
	if t.Site != "" {
		site = s.Sites[t.Site]
	}
	if r, ok := hasRule(company, ReasonCompanyRole); ok {
		out = append(out, r)
	}
	if r, ok := hasRule(site, ReasonManagedSite); ok && s.ManagedSiteCompany[t.Site] == t.Company {
		out = append(out, r)
	}
	if r, ok := hasRule(site, ReasonSiteRead); ok {
		out = append(out, r)
	}
	if r, ok := hasRule(company, ReasonCompanyAccess); ok {
		out = append(out, r)
	}
	if _, ok := hasRule(company, ReasonInternalUnrestricted); ok || s.Unrestricted {
		out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
	}
	if t.Contractor != "" && (s.ContractorAdminOf[t.Contractor] || (t.Technician != "" && t.Technician == s.Person)) {
		out = append(out, TicketReason{Rule: ReasonContractorAssignment})
	}
	return out
}

// SameTableAs reports whether two scopes are equal but for their person: their visibility tables
// are the same, so a projection recomputing a group's members encodes the table once for all the
// members alike. Every field but Person is compared (TestSameTableAsComparesEveryField).
func (s Scope) SameTableAs(o Scope) bool {
	reasons := slices.Equal[[]TicketReason]
	return s.HasTable == o.HasTable && s.Class == o.Class && s.HomeCompany == o.HomeCompany &&
		s.Unrestricted == o.Unrestricted && s.AllCompanies == o.AllCompanies &&
		s.PeopleOfAllCompanies == o.PeopleOfAllCompanies && s.AllCompanyDocuments == o.AllCompanyDocuments &&
		maps.EqualFunc(s.Companies, o.Companies, reasons) && maps.EqualFunc(s.Sites, o.Sites, reasons) &&
		maps.Equal(s.ManagedSiteCompany, o.ManagedSiteCompany) && maps.Equal(s.ContractorAdminOf, o.ContractorAdminOf) &&
		maps.EqualFunc(s.VisibleCompanies, o.VisibleCompanies, reasons) &&
		maps.EqualFunc(s.PeopleCompanies, o.PeopleCompanies, slices.Equal[[]string]) &&
		maps.Equal(s.PeopleSites, o.PeopleSites) && maps.EqualFunc(s.CompanyDocs, o.CompanyDocs, reasons)
}

// SeesTicket is TicketReasons' yes/no form.
func (s Scope) SeesTicket(t TicketView) bool { return len(s.TicketReasons(t)) > 0 }

// SeesCompany is CanSeeCompany from the scope; c must be a company of the tenant.
func (s Scope) SeesCompany(c CompanyID) (bool, []TicketReason) {
	if !s.HasTable {
		return false, nil
	}
	out := slices.Clone(s.VisibleCompanies[c])
	if s.AllCompanies {
		out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
	}
	return len(out) > 0, out
}

// CompanyDocuments is CompanyDocumentReasons from the scope; c must be a company of the tenant.
func (s Scope) CompanyDocuments(c CompanyID) (bool, []TicketReason) {
	if !s.HasTable {
		return false, nil
	}
	out := slices.Clone(s.CompanyDocs[c])
	if s.AllCompanyDocuments {
		out = append(out, TicketReason{Rule: ReasonInternalUnrestricted})
	}
	return len(out) > 0, out
}

// SeesDocument is CanSeeDocument from the scope.
func (s Scope) SeesDocument(doc *Document, ticket *TicketView) (bool, []TicketReason) {
	if doc == nil || !doc.Attached || !s.HasTable {
		return false, nil
	}
	if doc.Ticket != "" {
		if ticket == nil {
			return false, nil
		}
		rs := s.TicketReasons(*ticket)
		return len(rs) > 0, rs
	}
	return s.CompanyDocuments(doc.Company)
}

// FullPeopleCompanies tells whose people V sees in full by company: every company (all), or
// the companies listed (sorted). A manager's site users come on top (PeopleSites).
func (s Scope) FullPeopleCompanies() (all bool, companies []CompanyID) {
	if s.PeopleOfAllCompanies {
		return true, nil
	}
	return false, slices.Sorted(maps.Keys(s.PeopleCompanies))
}

// PersonVisibility is Directory.PersonVisibility from the scope: target's own keys (its id,
// home company, memberships with their roles and sites) and the tickets V sees (visible; see
// VisibleTickets, or keep those whose TicketReasons are not empty).
func (s Scope) PersonVisibility(target *Person, visible []TicketRef) (Visibility, []PersonReason) {
	if !s.HasTable || target == nil {
		return VisibilityNone, nil
	}
	var out []PersonReason
	if target.ID == s.Person {
		out = append(out, PersonReason{Rule: ReasonSelf})
	}
	companies := companiesOf(target)
	if s.Class == ClassNormal {
		for _, c := range companies {
			if s.PeopleOfAllCompanies || slices.Contains(s.PeopleCompanies[c], ReasonCompanyPeople) {
				out = append(out, PersonReason{Rule: ReasonCompanyPeople, Company: c})
			}
		}
	}
	for _, c := range companies {
		if slices.Contains(s.PeopleCompanies[c], ReasonCompanyRole) {
			out = append(out, PersonReason{Rule: ReasonCompanyRole, Company: c})
		}
	}
	for _, c := range slices.Sorted(maps.Keys(target.Memberships)) {
		tm := target.Memberships[c]
		if tm.Role != RoleBasic && tm.Role != RoleManager {
			continue
		}
		if slices.ContainsFunc(tm.ManagedSites, func(site SiteID) bool { co, ok := s.PeopleSites[site]; return ok && co == c }) {
			out = append(out, PersonReason{Rule: ReasonManagedSite, Company: c})
		}
	}
	if len(out) > 0 {
		return VisibilityFull, out
	}
	return referenced(target.ID, visible)
}
