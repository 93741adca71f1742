package domain

import (
	"slices"
	"strings"
)

// Memberships, roles and site rights of support users (DESIGN §1). A membership is judged in
// its company: the actor needs, in that company, the right to manage a user holding the role
// before and after the change (canManageUserAs). Normal users need no membership (what they see
// comes from company access); only tenant user managers touch the memberships normal users
// already hold (the first admin's, a transferred master admin's). Nobody changes its own.

// Refusals of this file.
var (
	// ErrSupportUserOnly: memberships, site rights and ticket restrictions are for support users.
	ErrSupportUserOnly = newErr(KindRule, "support-user-only", "only support users hold memberships, site rights and ticket restrictions; normal users see through company access")
	// ErrHomeMembership: a support user keeps its membership of its home company.
	ErrHomeMembership = newErr(KindRule, "home-membership-required", "a support user keeps its membership of its home company; change its role or remove the user")
	// ErrMembershipRequired: the new master admin must be a member of the company (or a normal user).
	ErrMembershipRequired = newErr(KindRule, "membership-required", "the new master admin must hold a membership of the company")
)

// canActOnMembership: may p give target, in company c, a membership with role at sites (or take
// away one it holds)?
func (d *Directory) canActOnMembership(p Principal, target *Person, c CompanyID, role Role, sites []SiteID) bool {
	if d.hasTenantPermission(p, PermUsersManage) {
		return true
	}
	if isSelf(p, target.ID) || d.ClassOf(target) == ClassNormal {
		return false
	}
	return d.canManageUserAs(p, c, role, sites)
}

// membershipOf resolves the company, the person and its membership there (each not-found when
// missing or when the actor may not know of it).
func (d *Directory) membershipOf(p Principal, person PersonID, company CompanyID) (*Company, *Person, *Membership, error) {
	co, err := d.company(p, company)
	if err != nil {
		return nil, nil, nil, err
	}
	target, err := d.person(p, person)
	if err != nil {
		return nil, nil, nil, err
	}
	m, ok := target.Memberships[co.ID]
	if !ok {
		return nil, nil, nil, notFound("membership", string(person)+" in "+string(company))
	}
	return co, target, m, nil
}

// sameSites compares two site lists as sets.
func sameSites(a, b []SiteID) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// GrantMembership gives a support user a role in a company (its home company or another: one
// login, many client accounts). Granting master_admin appoints a company's first master admin:
// only a tenant user manager, only when the company has none.
type GrantMembership struct {
	Person      PersonID
	Company     CompanyID
	Role        Role
	Permissions PermissionSet
	Sites       []SiteID
}

func (GrantMembership) CommandName() string { return "GrantMembership" }

func (c GrantMembership) decide(d *Directory, p Principal) ([]Event, error) {
	co, err := d.company(p, c.Company)
	if err != nil {
		return nil, err
	}
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "contacts have no memberships; promote the contact to a user first")
	}
	if d.ClassOf(target) == ClassNormal {
		return nil, refuse(ErrSupportUserOnly, "%q is a normal user: it needs no membership, its company access decides what it sees", target.ID)
	}
	if !c.Role.valid() {
		return nil, invalid("role", "must be master_admin, admin, manager, member or basic")
	}
	if err := c.Permissions.validate("permissions"); err != nil {
		return nil, err
	}
	if c.Role == RoleMasterAdmin {
		if !d.hasTenantPermission(p, PermUsersManage) {
			return nil, forbidden("only a tenant user manager appoints a first master admin; otherwise transfer the role")
		}
	} else if !d.canActOnMembership(p, target, co.ID, c.Role, c.Sites) {
		return nil, forbidden("the acting user may not make %q a %s of company %q", target.ID, c.Role, co.ID)
	}
	if _, ok := target.Memberships[co.ID]; ok {
		return nil, refuse(ErrAlreadyExists, "%q already holds a membership of company %q; change its role instead", target.ID, co.ID)
	}
	if err := d.checkRoleSites(co, c.Role, c.Sites); err != nil {
		return nil, err
	}
	if c.Role == RoleMasterAdmin && co.MasterAdmin != "" {
		return nil, refuse(ErrMasterAdminExists, "company %q already has a master admin; transfer the role", co.ID)
	}
	perms := c.Permissions
	if perms.Named == "" && len(perms.List) == 0 {
		perms = defaultPermissions(c.Role)
	}
	return []Event{MembershipGranted{Person: target.ID, Company: co.ID, Role: c.Role, Permissions: perms, Sites: slices.Clone(c.Sites)}}, nil
}

// ChangeRole changes a membership's role and sites. master_admin is neither given nor taken
// here: TransferMasterAdmin hands it over.
type ChangeRole struct {
	Person  PersonID
	Company CompanyID
	Role    Role
	Sites   []SiteID
}

func (ChangeRole) CommandName() string { return "ChangeRole" }

func (c ChangeRole) decide(d *Directory, p Principal) ([]Event, error) {
	co, target, m, err := d.membershipOf(p, c.Person, c.Company)
	if err != nil {
		return nil, err
	}
	if !c.Role.valid() {
		return nil, invalid("role", "must be admin, manager, member or basic")
	}
	if c.Role == RoleMasterAdmin {
		return nil, invalid("role", "master_admin is handed over with TransferMasterAdmin")
	}
	if !d.canActOnMembership(p, target, co.ID, m.Role, m.ManagedSites) || !d.canActOnMembership(p, target, co.ID, c.Role, c.Sites) {
		return nil, forbidden("the acting user may not change %q from %s to %s in company %q", target.ID, m.Role, c.Role, co.ID)
	}
	if m.Role == RoleMasterAdmin {
		return nil, refuse(ErrLastMasterAdmin, "%q is the master admin of company %q; transfer the role first", target.ID, co.ID)
	}
	if err := d.checkRoleSites(co, c.Role, c.Sites); err != nil {
		return nil, err
	}
	if m.Role == c.Role && sameSites(m.ManagedSites, c.Sites) {
		return nil, nil
	}
	return []Event{RoleChanged{Person: target.ID, Company: co.ID, From: m.Role, Role: c.Role, Sites: slices.Clone(c.Sites)}}, nil
}

// RevokeMembership takes a user's role in a company away. The master admin's membership stays
// until the role is transferred; a support user keeps its home company's membership.
type RevokeMembership struct {
	Person  PersonID
	Company CompanyID
}

func (RevokeMembership) CommandName() string { return "RevokeMembership" }

func (c RevokeMembership) decide(d *Directory, p Principal) ([]Event, error) {
	co, target, m, err := d.membershipOf(p, c.Person, c.Company)
	if err != nil {
		return nil, err
	}
	if !d.canActOnMembership(p, target, co.ID, m.Role, m.ManagedSites) {
		return nil, forbidden("the acting user may not revoke the %s membership of %q in company %q", m.Role, target.ID, co.ID)
	}
	if m.Role == RoleMasterAdmin || co.MasterAdmin == target.ID {
		return nil, refuse(ErrLastMasterAdmin, "%q is the master admin of company %q; transfer the role first", target.ID, co.ID)
	}
	if co.ID == target.HomeCompany && d.ClassOf(target) == ClassSupport {
		return nil, refuse(ErrHomeMembership, "%q keeps its membership of its home company %q", target.ID, co.ID)
	}
	return []Event{MembershipRevoked{Person: target.ID, Company: co.ID}}, nil
}

// TransferMasterAdmin hands a company's master admin role to another user; the former holder
// stays an admin. Only the current master admin or a tenant user manager transfers it (a tenant
// user manager also appoints one where the company has none). The new holder must be an active
// user (it must be able to act) holding a membership of the company — or a normal user, who
// needs none and gets one with the role.
type TransferMasterAdmin struct {
	Company CompanyID
	To      PersonID
}

func (TransferMasterAdmin) CommandName() string { return "TransferMasterAdmin" }

func (c TransferMasterAdmin) decide(d *Directory, p Principal) ([]Event, error) {
	co, err := d.company(p, c.Company)
	if err != nil {
		return nil, err
	}
	holder := co.MasterAdmin != "" && isSelf(p, co.MasterAdmin)
	if !holder && !d.hasTenantPermission(p, PermUsersManage) {
		return nil, forbidden("only the master admin of company %q or a tenant user manager transfers the role", co.ID)
	}
	if c.To == "" {
		return nil, invalid("to", "required")
	}
	to, err := d.person(p, c.To)
	if err != nil {
		return nil, err
	}
	if to.ID == co.MasterAdmin {
		return nil, nil
	}
	if to.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "a contact cannot be a master admin")
	}
	if to.Status != StatusActive {
		return nil, refuse(ErrWrongState, "the new master admin must be an active user; %q is %s", to.ID, to.Status)
	}
	if _, member := to.Memberships[co.ID]; !member && d.ClassOf(to) != ClassNormal {
		return nil, refuse(ErrMembershipRequired, "%q holds no membership of company %q; grant one first", to.ID, co.ID)
	}
	return []Event{MasterAdminTransferred{Company: co.ID, From: co.MasterAdmin, To: to.ID}}, nil
}

// AssignManagedSites replaces a manager's sites (one or more sites of the company). A basic
// user's one site changes with ChangeRole.
type AssignManagedSites struct {
	Person  PersonID
	Company CompanyID
	Sites   []SiteID
}

func (AssignManagedSites) CommandName() string { return "AssignManagedSites" }

func (c AssignManagedSites) decide(d *Directory, p Principal) ([]Event, error) {
	co, target, m, err := d.membershipOf(p, c.Person, c.Company)
	if err != nil {
		return nil, err
	}
	if !d.canActOnMembership(p, target, co.ID, m.Role, m.ManagedSites) || !d.canActOnMembership(p, target, co.ID, RoleManager, c.Sites) {
		return nil, forbidden("the acting user may not assign the sites of %q in company %q", target.ID, co.ID)
	}
	if m.Role != RoleManager {
		return nil, refuse(ErrWrongState, "%q is a %s of company %q, not a manager", target.ID, m.Role, co.ID)
	}
	if err := d.checkRoleSites(co, RoleManager, c.Sites); err != nil {
		return nil, err
	}
	if sameSites(m.ManagedSites, c.Sites) {
		return nil, nil
	}
	return []Event{ManagedSitesAssigned{Person: target.ID, Company: co.ID, Sites: slices.Clone(c.Sites)}}, nil
}

// SetSitePermissions replaces a support user's read and write sites (write implies read: write
// sites are added to the read sites) and its responsible recipients. Sites must belong to a
// company the user belongs to (its home company or a membership); the actor needs the right to
// manage the user and, for every site added or taken away, the right to manage a basic user at
// that site (its company's admins, a manager at its own sites). Responsible recipients are user
// groups of the tenant, normal users (staff), or users the actor may see; never contacts.
type SetSitePermissions struct {
	Person      PersonID
	ReadSites   []SiteID
	WriteSites  []SiteID
	Responsible []string
}

func (SetSitePermissions) CommandName() string { return "SetSitePermissions" }

func (c SetSitePermissions) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.supportUser(p, c.Person)
	if err != nil {
		return nil, err
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if hasDuplicates(c.ReadSites) {
		return nil, invalid("read_sites", "a site is listed twice")
	}
	if hasDuplicates(c.WriteSites) {
		return nil, invalid("write_sites", "a site is listed twice")
	}
	read := slices.Clone(c.ReadSites)
	for _, s := range c.WriteSites {
		if !slices.Contains(read, s) {
			read = append(read, s)
		}
	}
	for _, s := range read {
		owner := d.siteOwner(s)
		if owner == "" || !d.canSeeCompany(p, owner) {
			return nil, notFound("site", string(s))
		}
		if _, member := target.Memberships[owner]; owner != target.HomeCompany && !member {
			return nil, &Error{Kind: KindRule, Code: ErrSiteRequired.Code, Field: "read_sites",
				Message: "site " + string(s) + " belongs to company " + string(owner) + ", which " + string(target.ID) + " does not belong to"}
		}
	}
	// Every site whose right changes needs the actor's authority over it.
	for _, s := range changedSites(target.Sites, read, c.WriteSites) {
		if owner := d.siteOwner(s); owner == "" {
			continue // a site removed meanwhile: nothing to guard
		} else if !d.canManageUserAs(p, owner, RoleBasic, []SiteID{s}) {
			return nil, forbidden("the acting user may not grant or take away rights on site %q", s)
		}
	}
	if hasDuplicates(c.Responsible) {
		return nil, invalid("responsible", "a recipient is listed twice")
	}
	for _, r := range c.Responsible {
		if !d.validResponsible(p, r) {
			return nil, notFound("responsible group or user", r)
		}
	}
	if slices.Equal(read, target.Sites.ReadSites) && slices.Equal(c.WriteSites, target.Sites.WriteSites) &&
		slices.Equal(c.Responsible, target.Sites.Responsible) {
		return nil, nil
	}
	return []Event{SitePermissionsSet{Person: target.ID, ReadSites: nonNil(read), WriteSites: nonNil(slices.Clone(c.WriteSites)),
		Responsible: nonNil(slices.Clone(c.Responsible))}}, nil
}

// validResponsible: a user group of the tenant, a normal user (staff), or a user the actor may
// see — as a bare id, or typed as "group:<id>" or "user:<id>" (as ticket assignment matches them).
func (d *Directory) validResponsible(p Principal, id string) bool {
	kind, bare, typed := strings.Cut(id, ":")
	if !typed {
		bare = id
	}
	if _, ok := d.Groups[GroupID(bare)]; ok && (!typed || kind == "group") {
		return true
	}
	if typed && kind != "user" {
		return false
	}
	r, ok := d.People[PersonID(bare)]
	if !ok || r.Type != TypeSystemUser || r.Status == StatusRemoved {
		return false
	}
	return d.ClassOf(r) == ClassNormal || d.canSeePerson(p, r)
}

// changedSites lists the sites whose read or write right differs between before and after.
func changedSites(before SitePermissions, read, write []SiteID) []SiteID {
	var out []SiteID
	add := func(s SiteID) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	diff := func(a, b []SiteID) {
		for _, s := range a {
			if !slices.Contains(b, s) {
				add(s)
			}
		}
	}
	diff(read, before.ReadSites)
	diff(before.ReadSites, read)
	diff(write, before.WriteSites)
	diff(before.WriteSites, write)
	return out
}

// SetTicketRestrictions replaces the ticket types a support user may open (none listed: every
// type) and, when restricted, the only ticket statuses it may set (restricted with none listed:
// it may set no status).
type SetTicketRestrictions struct {
	Person      PersonID
	TicketTypes []string
	Restricted  bool
	Statuses    []string
}

func (SetTicketRestrictions) CommandName() string { return "SetTicketRestrictions" }

func (c SetTicketRestrictions) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.supportUser(p, c.Person)
	if err != nil {
		return nil, err
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	types, err := names("ticket_types", c.TicketTypes)
	if err != nil {
		return nil, err
	}
	statuses, err := names("statuses", c.Statuses)
	if err != nil {
		return nil, err
	}
	if !c.Restricted && len(statuses) > 0 {
		return nil, invalid("statuses", "statuses are listed only when restricted")
	}
	cur := target.Sites
	if slices.Equal(types, cur.TicketTypes) && c.Restricted == cur.Restricted && slices.Equal(statuses, cur.Statuses) {
		return nil, nil
	}
	return []Event{TicketRestrictionsSet{Person: target.ID, TicketTypes: types, Restricted: c.Restricted, Statuses: statuses}}, nil
}

// supportUser finds a support user the actor may know of: contacts and normal users are refused.
func (d *Directory) supportUser(p Principal, id PersonID) (*Person, error) {
	target, err := d.person(p, id)
	if err != nil {
		return nil, err
	}
	switch d.ClassOf(target) {
	case ClassContact:
		return nil, refuse(ErrContactCannotLogIn, "contacts have no site rights or ticket restrictions")
	case ClassNormal:
		return nil, refuse(ErrSupportUserOnly, "%q is a normal user: site rights and ticket restrictions are for support users", target.ID)
	}
	return target, nil
}

// names validates a list of short names (trimmed, 1–100 characters, each once), never nil.
func names(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || len(s) > 100 {
			return nil, invalid(field, "each entry is 1 to 100 characters")
		}
		if slices.Contains(out, s) {
			return nil, invalid(field, "%q is listed twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func hasDuplicates[T comparable](s []T) bool {
	seen := make(map[T]struct{}, len(s))
	for _, v := range s {
		if _, ok := seen[v]; ok {
			return true
		}
		seen[v] = struct{}{}
	}
	return false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
