package domain

import (
	"testing"
	"time"
)

func TestCreateTenant(t *testing.T) {
	create := CreateTenant{Name: " Acme ", Seats: 5, Provider: "p", AdminGroup: "g", Admin: "first", AdminName: "First",
		AdminEmail: "first@acme.test", TokenHash: "h", Now: t0}
	with := func(f func(*CreateTenant)) CreateTenant { c := create; f(&c); return c }
	runDecide(t, []decideCase{
		{name: "the operator creates a tenant", fresh: true, by: System(), cmd: create,
			want: []Event{
				TenantConfigured{Tenant: tn, Name: "Acme", Seats: 5},
				CompanyRegistered{Company: "p", Name: "Acme", Kind: KindProvider},
				UserGroupCreated{Group: "g", Name: "Administrators", Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}},
				UserInvited{Person: "first", Name: "First", Email: "first@acme.test", HomeCompany: "p", Group: "g", Class: ClassNormal, TokenHash: "h", ExpiresAt: t0.Add(DefaultInvitationTTL)},
				MembershipGranted{Person: "first", Company: "p", Role: RoleMasterAdmin, Permissions: PermissionSet{Named: "full"}},
			},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if !d.Configured || d.SeatsUsed() != 1 || d.Companies["p"].MasterAdmin != "first" {
					t.Fatalf("tenant %+v", d)
				}
			}},
		{name: "provider name and invitation TTL", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.ProviderName = "Acme Services"; c.InvitationTTL = time.Hour }),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies["p"].Name != "Acme Services" || !d.People["first"].Invitation.ExpiresAt.Equal(t0.Add(time.Hour)) {
					t.Fatal("provider name or expiry")
				}
			}},
		{name: "only the operator", fresh: true, by: service(PermTenantAdmin), cmd: create, err: ErrForbidden},
		{name: "exists", by: System(), cmd: create, err: ErrAlreadyExists},
		{name: "the first admin needs a seat", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.Seats = 0 }), err: ErrInvalid, field: "seats"},
		{name: "negative seats", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.Seats = -1 }), err: ErrInvalid, field: "seats"},
		{name: "missing name", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.Name = "" }), err: ErrInvalid, field: "name"},
		{name: "bad admin e-mail", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.AdminEmail = "nope" }), err: ErrInvalid, field: "admin_email"},
		{name: "missing admin name", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.AdminName = " " }), err: ErrInvalid, field: "admin_name"},
		{name: "missing ids", fresh: true, by: System(), cmd: with(func(c *CreateTenant) { c.Admin = "" }), err: ErrInvalid},
	})
}

func TestConfigureTenant(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "tenant admin changes name and seats", by: U(root), cmd: ConfigureTenant{Name: " New ", Seats: 10},
			want: []Event{TenantConfigured{Tenant: tn, Name: "New", Seats: 10}}},
		{name: "an empty name keeps the name", by: U(root), cmd: ConfigureTenant{Seats: 3},
			want: []Event{TenantConfigured{Tenant: tn, Name: "Tenant One", Seats: 3}}},
		{name: "a service with tenant:admin", by: service(PermTenantAdmin), cmd: ConfigureTenant{Seats: 9},
			want: []Event{TenantConfigured{Tenant: tn, Name: "Tenant One", Seats: 9}}},
		{name: "unchanged", by: U(root), cmd: ConfigureTenant{Name: "Tenant One", Seats: 4}, noop: true},
		{name: "below the normal users", by: U(root), cmd: ConfigureTenant{Seats: 2}, err: ErrSeatsBelowUsage},
		{name: "a user manager may not", by: U(um), cmd: ConfigureTenant{Seats: 9}, err: ErrForbidden},
		{name: "a portal master admin may not", by: U(aMaster), cmd: ConfigureTenant{Seats: 9}, err: ErrForbidden},
		{name: "bad seats", by: U(root), cmd: ConfigureTenant{Seats: -1}, err: ErrInvalid, field: "seats"},
	})
}

func TestRegisterCompany(t *testing.T) {
	reg := func(id CompanyID, name string, kind CompanyKind, parent CompanyID) RegisterCompany {
		return RegisterCompany{Company: id, Name: name, Kind: kind, Parent: parent}
	}
	runDecide(t, []decideCase{
		{name: "tenant admin registers a daughter company", by: U(root), cmd: reg("A2", " Alpha Two ", KindCustomer, coA),
			want: []Event{CompanyRegistered{Company: "A2", Name: "Alpha Two", Kind: KindCustomer, Parent: coA}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if !d.IsAncestor(coA, "A2") {
					t.Fatal("not a daughter")
				}
			}},
		{name: "a service with companies:manage", by: service(PermCompaniesManage), cmd: reg("P2", "Partner", KindPartner, ""),
			want: []Event{CompanyRegistered{Company: "P2", Name: "Partner", Kind: KindPartner}}},
		{name: "a user manager may not", by: U(um), cmd: reg("X", "X", KindCustomer, ""), err: ErrForbidden},
		{name: "a portal admin may not", by: U(aMaster), cmd: reg("X", "X", KindCustomer, ""), err: ErrForbidden},
		{name: "missing name", by: U(root), cmd: reg("X", " ", KindCustomer, ""), err: ErrInvalid, field: "name"},
		{name: "bad kind", by: U(root), cmd: reg("X", "X", "friend", ""), err: ErrInvalid, field: "kind"},
		{name: "missing id", by: U(root), cmd: reg("", "X", KindCustomer, ""), err: ErrInvalid},
		{name: "exists", by: U(root), cmd: reg(coA, "X", KindCustomer, ""), err: ErrAlreadyExists},
		{name: "unknown parent", by: U(root), cmd: reg("X", "X", KindCustomer, "nope"), err: ErrNotFound},
	})
}

func TestRenameCompany(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "its admin renames it", by: U(aAdmin), cmd: RenameCompany{Company: coA, Name: " Alpha Corp "},
			want: []Event{CompanyRenamed{Company: coA, Name: "Alpha Corp"}}},
		{name: "the registering customer's admin renames its contractor", by: U(aAdmin), cmd: RenameCompany{Company: coC, Name: "Gamma"},
			want: []Event{CompanyRenamed{Company: coC, Name: "Gamma"}}},
		{name: "tenant admin renames any", by: U(root), cmd: RenameCompany{Company: coB, Name: "B2"}, want: []Event{CompanyRenamed{Company: coB, Name: "B2"}}},
		{name: "unchanged", by: U(aAdmin), cmd: RenameCompany{Company: coA, Name: "Alpha"}, noop: true},
		{name: "a member may not", by: U(aMember), cmd: RenameCompany{Company: coA, Name: "X"}, err: ErrForbidden},
		{name: "a manager may not", by: U(aMgr), cmd: RenameCompany{Company: coA, Name: "X"}, err: ErrForbidden},
		{name: "admin of B does not know A", by: U(bAdmin), cmd: RenameCompany{Company: coA, Name: "X"}, err: ErrNotFound},
		{name: "missing name", by: U(aAdmin), cmd: RenameCompany{Company: coA, Name: ""}, err: ErrInvalid, field: "name"},
		{name: "unknown", by: U(root), cmd: RenameCompany{Company: "nope", Name: "X"}, err: ErrNotFound},
	})
}

func TestSetParentCompany(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "B becomes A's daughter", by: U(root), cmd: SetParentCompany{Company: coB, Parent: coA},
			want: []Event{ParentCompanySet{Company: coB, Parent: coA}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if subs := d.Subsidiaries(coA); len(subs) != 1 || subs[0] != coB {
					t.Fatalf("subsidiaries %v", subs)
				}
			}},
		{name: "independent again", given: []Event{ParentCompanySet{Company: coB, Parent: coA}}, by: U(root), cmd: SetParentCompany{Company: coB},
			want: []Event{ParentCompanySet{Company: coB}}},
		{name: "unchanged", by: U(root), cmd: SetParentCompany{Company: coB}, noop: true},
		{name: "its own parent", by: U(root), cmd: SetParentCompany{Company: coA, Parent: coA}, err: ErrCycle},
		{name: "a cycle through a daughter", given: []Event{ParentCompanySet{Company: coB, Parent: coA}}, by: U(root), cmd: SetParentCompany{Company: coA, Parent: coB}, err: ErrCycle},
		{name: "a portal admin may not", by: U(aMaster), cmd: SetParentCompany{Company: coA, Parent: coB}, err: ErrForbidden},
		{name: "unknown company", by: U(root), cmd: SetParentCompany{Company: "nope"}, err: ErrNotFound},
		{name: "unknown parent", by: U(root), cmd: SetParentCompany{Company: coA, Parent: "nope"}, err: ErrNotFound},
	})
}

func TestAddSite(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "its admin adds a site", by: U(aAdmin), cmd: AddSite{Company: coA, Site: "a4", Name: " Depot ", Address: " 1 Road "},
			want: []Event{SiteAdded{Company: coA, Site: "a4", Name: "Depot", Address: "1 Road"}}},
		{name: "tenant admin", by: U(root), cmd: AddSite{Company: coB, Site: "b2", Name: "B2"}, want: []Event{SiteAdded{Company: coB, Site: "b2", Name: "B2"}}},
		{name: "a site id is unique across companies", by: U(root), cmd: AddSite{Company: coB, Site: a1, Name: "X"}, err: ErrAlreadyExists},
		{name: "a member may not", by: U(aMember), cmd: AddSite{Company: coA, Site: "a4", Name: "X"}, err: ErrForbidden},
		{name: "admin of B does not know A", by: U(bAdmin), cmd: AddSite{Company: coA, Site: "a4", Name: "X"}, err: ErrNotFound},
		{name: "missing name", by: U(aAdmin), cmd: AddSite{Company: coA, Site: "a4"}, err: ErrInvalid, field: "name"},
		{name: "missing id", by: U(aAdmin), cmd: AddSite{Company: coA, Name: "X"}, err: ErrInvalid},
	})
}

func TestRemoveSite(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "a manager's second site goes, and its rights with it", given: []Event{SitePermissionsSet{Person: aMember, ReadSites: []SiteID{a2}, WriteSites: []SiteID{a2}}},
			by: U(aAdmin), cmd: RemoveSite{Company: coA, Site: a2},
			want: []Event{SiteRemoved{Company: coA, Site: a2}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if got := d.People[aMgr].Memberships[coA].ManagedSites; len(got) != 1 || got[0] != a1 {
					t.Fatalf("managed sites %v", got)
				}
				if s := d.People[aMember].Sites; len(s.ReadSites)+len(s.WriteSites) != 0 {
					t.Fatalf("site rights %+v", s)
				}
			}},
		{name: "a basic user's only site stays", by: U(aAdmin), cmd: RemoveSite{Company: coA, Site: a3}, err: ErrSiteRequired},
		{name: "a manager's only site stays", given: []Event{ManagedSitesAssigned{Person: aMgr, Company: coA, Sites: []SiteID{a2}}}, by: U(root),
			cmd: RemoveSite{Company: coA, Site: a2}, err: ErrSiteRequired},
		{name: "a removed basic user does not hold it", given: []Event{UserRemoved{Person: aBasic3}}, by: U(aAdmin), cmd: RemoveSite{Company: coA, Site: a3},
			want: []Event{SiteRemoved{Company: coA, Site: a3}}},
		{name: "unknown site", by: U(aAdmin), cmd: RemoveSite{Company: coA, Site: b1}, err: ErrNotFound},
		{name: "a member may not", by: U(aMember), cmd: RemoveSite{Company: coA, Site: a2}, err: ErrForbidden},
		{name: "admin of B does not know A", by: U(bAdmin), cmd: RemoveSite{Company: coA, Site: a2}, err: ErrNotFound},
	})
}

func TestCreateUserGroup(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "tenant admin creates a support-user group", by: U(root), cmd: CreateUserGroup{Group: "g-ext", Name: " Externals ", SupportUser: true, Permissions: PermissionSet{Named: "support"}},
			want: []Event{UserGroupCreated{Group: "g-ext", Name: "Externals", SupportUser: true, Permissions: PermissionSet{Named: "support"}}}},
		{name: "a user manager may not", by: U(um), cmd: CreateUserGroup{Group: "g-x", Name: "X"}, err: ErrForbidden},
		{name: "a name is unique, case-insensitively", by: U(root), cmd: CreateUserGroup{Group: "g-x", Name: "STAFF"}, err: ErrAlreadyExists},
		{name: "an id is unique", by: U(root), cmd: CreateUserGroup{Group: grpStaff, Name: "Other"}, err: ErrAlreadyExists},
		{name: "support users never administer the tenant", by: U(root), cmd: CreateUserGroup{Group: "g-x", Name: "X", SupportUser: true, Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}},
			err: ErrInvalid, field: "permissions"},
		{name: "bad permissions", by: U(root), cmd: CreateUserGroup{Group: "g-x", Name: "X", Permissions: PermissionSet{List: []Permission{"x"}}}, err: ErrInvalid},
		{name: "missing name", by: U(root), cmd: CreateUserGroup{Group: "g-x"}, err: ErrInvalid, field: "name"},
		{name: "missing id", by: U(root), cmd: CreateUserGroup{Name: "X"}, err: ErrInvalid},
	})
}

func TestSetGroupPermissions(t *testing.T) {
	full := PermissionSet{Named: "full"}
	runDecide(t, []decideCase{
		{name: "tenant admin replaces a group's permissions", by: U(root), cmd: SetGroupPermissions{Group: grpStaff, Permissions: full},
			want: []Event{GroupPermissionsSet{Group: grpStaff, Permissions: full}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if !d.hasTenantPermission(U(staff), PermUsersManage) {
					t.Fatal("staff did not gain users:manage")
				}
			}},
		{name: "tenant:admin may leave the admins when another group's active member keeps it",
			given: cat([]Event{UserGroupCreated{Group: "g-admins2", Name: "Admins 2", Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}}},
				active("root2", prov, "g-admins2", ClassNormal, "")),
			by: U(root), cmd: SetGroupPermissions{Group: grpAdmins, Permissions: full}, want: []Event{GroupPermissionsSet{Group: grpAdmins, Permissions: full}}},
		{name: "the last administrators' group keeps tenant:admin", by: U(root), cmd: SetGroupPermissions{Group: grpAdmins, Permissions: full}, err: ErrLastMasterAdmin},
		{name: "support groups never get tenant:admin", by: U(root), cmd: SetGroupPermissions{Group: grpPortal, Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}}, err: ErrInvalid},
		{name: "a user manager may not", by: U(um), cmd: SetGroupPermissions{Group: grpStaff, Permissions: full}, err: ErrForbidden},
		{name: "unknown group", by: U(root), cmd: SetGroupPermissions{Group: "nope"}, err: ErrNotFound},
		{name: "bad permissions", by: U(root), cmd: SetGroupPermissions{Group: grpStaff, Permissions: PermissionSet{Named: "x"}}, err: ErrInvalid},
	})
}

func TestMoveUserToGroup(t *testing.T) {
	move := func(id PersonID, g GroupID) MoveUserToGroup { return MoveUserToGroup{Person: id, Group: g} }
	runDecide(t, []decideCase{
		{name: "a support user becomes a normal user (takes the free seat)", by: U(um), cmd: move(aMember, grpStaff),
			want: []Event{UserMovedToGroup{Person: aMember, Group: grpStaff, From: grpPortal, Class: ClassNormal}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.SeatsUsed() != 4 || d.ClassOf(d.People[aMember]) != ClassNormal {
					t.Fatal("class or seats")
				}
			}},
		{name: "a normal user becomes a support user (frees a seat), even with no seat free",
			given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(um), cmd: move(staff, grpPortal),
			want: []Event{UserMovedToGroup{Person: staff, Group: grpPortal, From: grpStaff, Class: ClassSupport}}},
		{name: "out of any group: a support user", by: U(um), cmd: move(staff, ""),
			want: []Event{UserMovedToGroup{Person: staff, From: grpStaff, Class: ClassSupport}}},
		{name: "normal to normal needs no new seat", given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(um), cmd: move(staff, grpUM),
			want: []Event{UserMovedToGroup{Person: staff, Group: grpUM, From: grpStaff, Class: ClassNormal}}},
		{name: "unchanged", by: U(um), cmd: move(staff, grpStaff), noop: true},
		{name: "no free seat", given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(um), cmd: move(aMember, grpStaff), err: ErrNoFreeSeat},
		{name: "the last tenant admin stays one", by: U(um), cmd: move(root, grpStaff), err: ErrLastMasterAdmin},
		{name: "contacts have no group", by: U(um), cmd: move(aContact, grpPortal), err: ErrContactCannotLogIn},
		{name: "removed", given: []Event{UserRemoved{Person: aMember}}, by: U(um), cmd: move(aMember, grpStaff), err: ErrNotFound},
		{name: "unknown group", by: U(um), cmd: move(aMember, "nope"), err: ErrNotFound},
		{name: "a portal admin may not", by: U(aMaster), cmd: move(aMember, grpStaff), err: ErrForbidden},
	})
}
