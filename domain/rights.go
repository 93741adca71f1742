package domain

import "slices"

// The rights of an acting principal, derived from the Directory alone.

// actor returns the acting person, if the principal is a user.
func (d *Directory) actor(p Principal) *Person {
	if p.Kind != PrincipalUser {
		return nil
	}
	return d.People[p.Person]
}

// hasTenantPermission reports a tenant-wide right: the system, a service granted the scope, or
// a normal user whose group grants it (tenant:admin grants every tenant-wide right).
func (d *Directory) hasTenantPermission(p Principal, perm Permission) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return slices.Contains(p.Scopes, perm) || slices.Contains(p.Scopes, PermTenantAdmin)
	}
	a := d.actor(p)
	if a == nil || d.ClassOf(a) != ClassNormal {
		return false
	}
	g := d.Groups[a.Group]
	return g != nil && (g.Permissions.Has(perm) || g.Permissions.Has(PermTenantAdmin))
}

// IsTenantAdmin reports whether p administers the whole tenant.
func (d *Directory) IsTenantAdmin(p Principal) bool { return d.hasTenantPermission(p, PermTenantAdmin) }

// RoleIn is p's portal role in company c ("" when it has no membership).
func (d *Directory) RoleIn(p Principal, c CompanyID) Role {
	a := d.actor(p)
	if a == nil {
		return ""
	}
	if m, ok := a.Memberships[c]; ok {
		return m.Role
	}
	return ""
}

// canManageCompany: rename it, add or remove its sites.
func (d *Directory) canManageCompany(p Principal, c CompanyID) bool {
	if d.hasTenantPermission(p, PermCompaniesManage) {
		return true
	}
	switch d.RoleIn(p, c) {
	case RoleMasterAdmin, RoleAdmin:
		return true
	}
	return d.adminOfRegistrar(p, c)
}

// adminOfRegistrar: a customer's admins manage the guest contractors their company registered.
func (d *Directory) adminOfRegistrar(p Principal, c CompanyID) bool {
	co, ok := d.Companies[c]
	if !ok || co.RegisteredBy == "" {
		return false
	}
	switch d.RoleIn(p, co.RegisteredBy) {
	case RoleMasterAdmin, RoleAdmin:
		return true
	}
	return false
}

// canManageUserAs reports whether p may create or manage a user of company c holding role
// (at sites, for managers and basic users): tenant user managers always; a master admin any
// role below master admin; an admin roles below admin; a manager basic users at its own sites;
// a registering customer's admins the contractor's technicians (below admin).
func (d *Directory) canManageUserAs(p Principal, c CompanyID, role Role, sites []SiteID) bool {
	if d.hasTenantPermission(p, PermUsersManage) {
		return true
	}
	actorRole := d.RoleIn(p, c)
	if actorRole == "" && d.adminOfRegistrar(p, c) {
		actorRole = RoleAdmin
	}
	switch actorRole {
	case RoleMasterAdmin:
		return role != RoleMasterAdmin
	case RoleAdmin:
		return role.rank() < RoleAdmin.rank()
	case RoleManager:
		if role != RoleBasic {
			return false
		}
		m := d.actor(p).Memberships[c]
		for _, s := range sites {
			if !slices.Contains(m.ManagedSites, s) {
				return false
			}
		}
		return len(sites) > 0
	}
	return false
}

// canManagePerson reports whether p may manage target (suspend, change, revoke…): the strongest
// of target's memberships decides, so an admin cannot act on a fellow admin.
func (d *Directory) canManagePerson(p Principal, target *Person) bool {
	if d.hasTenantPermission(p, PermUsersManage) {
		return true
	}
	if p.Kind == PrincipalUser && p.Person == target.ID {
		return false // nobody manages itself through these commands
	}
	if d.ClassOf(target) == ClassNormal {
		return false // only tenant user managers touch normal users
	}
	// Every membership of the target must be manageable by the actor, else an admin of one
	// company could suspend the admin of another through a shared basic membership.
	companies := []CompanyID{target.HomeCompany}
	for c := range target.Memberships {
		if c != target.HomeCompany {
			companies = append(companies, c)
		}
	}
	for _, c := range companies {
		role, sites := RoleBasic, []SiteID(nil)
		if m, ok := target.Memberships[c]; ok {
			role, sites = m.Role, m.ManagedSites
		}
		if !d.canManageUserAs(p, c, role, sites) {
			return false
		}
	}
	return true
}

// canSeePerson tells whether an actor may learn that target exists; used to answer 404
// instead of 403 where existence itself would leak.
func (d *Directory) canSeePerson(p Principal, target *Person) bool {
	if p.Kind != PrincipalUser || d.hasTenantPermission(p, PermUsersManage) {
		return true
	}
	a := d.actor(p)
	if a.ID == target.ID {
		return true
	}
	if d.ClassOf(a) == ClassNormal {
		return true
	}
	for c, m := range a.Memberships {
		switch m.Role {
		case RoleMasterAdmin, RoleAdmin, RoleMember:
			if target.HomeCompany == c || target.Memberships[c] != nil {
				return true
			}
		case RoleManager:
			if tm, ok := target.Memberships[c]; ok && tm.Role == RoleBasic && len(tm.ManagedSites) == 1 && slices.Contains(m.ManagedSites, tm.ManagedSites[0]) {
				return true
			}
		}
	}
	// A registering customer's admins know their guest contractor's people.
	return len(a.Memberships) > 0 && d.adminOfRegistrar(p, target.HomeCompany)
}

// canSeeCompany: existence of a company leaks less, but a portal user outside it still gets 404.
func (d *Directory) canSeeCompany(p Principal, c CompanyID) bool {
	if p.Kind != PrincipalUser || d.ClassOf(d.actor(p)) == ClassNormal {
		return true
	}
	a := d.actor(p)
	if a.HomeCompany == c || a.Memberships[c] != nil || d.adminOfRegistrar(p, c) {
		return true
	}
	return false
}
