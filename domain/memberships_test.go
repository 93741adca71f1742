package domain

import (
	"slices"
	"testing"
)

func TestGrantMembership(t *testing.T) {
	grant := func(id PersonID, co CompanyID, role Role, sites ...SiteID) GrantMembership {
		return GrantMembership{Person: id, Company: co, Role: role, Sites: sites}
	}
	support := PermissionSet{Named: "support"}
	runDecide(t, []decideCase{
		{name: "user manager gives B's member a role in A (one login, many accounts)", by: U(um), cmd: grant(bMember, coA, RoleMember),
			want: []Event{MembershipGranted{Person: bMember, Company: coA, Role: RoleMember, Permissions: support}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[bMember].Memberships[coA] == nil || d.People[bMember].Memberships[coB] == nil {
					t.Fatal("memberships")
				}
			}},
		{name: "registering customer's admin gives a member a role in its contractor", by: U(aAdmin), cmd: grant(aMember, coC, RoleManager, c1),
			want: []Event{MembershipGranted{Person: aMember, Company: coC, Role: RoleManager, Permissions: support, Sites: []SiteID{c1}}}},
		{name: "explicit permissions", by: U(um), cmd: GrantMembership{Person: bMember, Company: coA, Role: RoleMember, Permissions: PermissionSet{Named: "billing"}},
			want: []Event{MembershipGranted{Person: bMember, Company: coA, Role: RoleMember, Permissions: PermissionSet{Named: "billing"}}}},
		{name: "user manager appoints D's first master admin", given: companyD(), by: U(um), cmd: grant(bMember, coD, RoleMasterAdmin),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coD].MasterAdmin != bMember {
					t.Fatal("no master admin")
				}
			}},
		{name: "an invited user may be given one", by: U(aAdmin), cmd: grant(aInvited, coC, RoleMember),
			want: []Event{MembershipGranted{Person: aInvited, Company: coC, Role: RoleMember, Permissions: support}}},

		{name: "normal users need none", by: U(um), cmd: grant(staff, coA, RoleMember), err: ErrSupportUserOnly},
		{name: "contacts have none", by: U(um), cmd: grant(aContact, coB, RoleMember), err: ErrContactCannotLogIn},
		{name: "already a member: change the role instead", by: U(aAdmin), cmd: grant(aMember, coA, RoleBasic, a1), err: ErrAlreadyExists},
		{name: "admin may not make an admin", by: U(aAdmin), cmd: grant(aMember, coC, RoleAdmin), err: ErrForbidden},
		{name: "only a tenant user manager appoints a master admin", given: companyD(), by: U(aMaster), cmd: grant(aMember, coC, RoleMasterAdmin), err: ErrForbidden},
		{name: "B has a master admin", by: U(um), cmd: grant(aMember, coB, RoleMasterAdmin), err: ErrMasterAdminExists},
		{name: "nobody grants itself", by: U(aAdmin), cmd: grant(aAdmin, coC, RoleMember), err: ErrForbidden},
		{name: "member may not", by: U(aMember), cmd: grant(aBasic, coC, RoleMember), err: ErrNotFound}, // a member does not know the contractor
		{name: "manager may not", by: U(aMgr), cmd: grant(aBasic, coA, RoleBasic, a1), err: ErrAlreadyExists},
		{name: "manager does not know the contractor", by: U(aMgr), cmd: grant(aBasic, coC, RoleBasic, c1), err: ErrNotFound},
		{name: "admin of A does not know B's member", by: U(aAdmin), cmd: grant(bMember, coA, RoleMember), err: ErrNotFound},
		{name: "admin of A does not know company B", by: U(aAdmin), cmd: grant(aMember, coB, RoleMember), err: ErrNotFound},
		{name: "basic needs one site", by: U(aAdmin), cmd: grant(aMember, coC, RoleBasic), err: ErrSiteRequired},
		{name: "site of another company", by: U(um), cmd: grant(bMember, coA, RoleBasic, b1), err: ErrSiteRequired},
		{name: "bad role", by: U(um), cmd: grant(bMember, coA, ""), err: ErrInvalid, field: "role"},
		{name: "bad permissions", by: U(um), cmd: GrantMembership{Person: bMember, Company: coA, Role: RoleMember, Permissions: PermissionSet{Named: "god"}}, err: ErrInvalid},
		{name: "unknown person", by: U(um), cmd: grant("ghost", coA, RoleMember), err: ErrNotFound},
		{name: "unknown company", by: U(um), cmd: grant(bMember, "nope", RoleMember), err: ErrNotFound},
	})
}

func TestChangeRole(t *testing.T) {
	change := func(id PersonID, role Role, sites ...SiteID) ChangeRole {
		return ChangeRole{Person: id, Company: coA, Role: role, Sites: sites}
	}
	runDecide(t, []decideCase{
		{name: "admin makes a member a basic user", by: U(aAdmin), cmd: change(aMember, RoleBasic, a3),
			want: []Event{RoleChanged{Person: aMember, Company: coA, From: RoleMember, Role: RoleBasic, Sites: []SiteID{a3}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				m := d.People[aMember].Memberships[coA]
				if m.Role != RoleBasic || !slices.Equal(m.ManagedSites, []SiteID{a3}) {
					t.Fatalf("membership %+v", m)
				}
			}},
		{name: "manager moves its basic user to another of its sites", by: U(aMgr), cmd: change(aBasic, RoleBasic, a2),
			want: []Event{RoleChanged{Person: aBasic, Company: coA, From: RoleBasic, Role: RoleBasic, Sites: []SiteID{a2}}}},
		{name: "master admin makes an admin", by: U(aMaster), cmd: change(aMember, RoleAdmin),
			want: []Event{RoleChanged{Person: aMember, Company: coA, From: RoleMember, Role: RoleAdmin}}},
		{name: "master admin demotes an admin", by: U(aMaster), cmd: change(aSusp, RoleMember),
			want: []Event{RoleChanged{Person: aSusp, Company: coA, From: RoleAdmin, Role: RoleMember}}},
		{name: "user manager", by: U(um), cmd: change(aMgr, RoleMember), want: []Event{RoleChanged{Person: aMgr, Company: coA, From: RoleManager, Role: RoleMember}}},
		{name: "unchanged (sites as a set)", by: U(aAdmin), cmd: change(aMgr, RoleManager, a2, a1), noop: true},

		{name: "manager may not move a basic user to a site it does not manage", by: U(aMgr), cmd: change(aBasic, RoleBasic, a3), err: ErrForbidden},
		{name: "manager may not make a member", by: U(aMgr), cmd: change(aBasic, RoleMember), err: ErrForbidden},
		{name: "admin may not make an admin", by: U(aAdmin), cmd: change(aMember, RoleAdmin), err: ErrForbidden},
		{name: "admin may not demote a fellow admin", by: U(aAdmin), cmd: change(aSusp, RoleMember), err: ErrForbidden},
		{name: "nobody changes its own role", by: U(aAdmin), cmd: change(aAdmin, RoleMember), err: ErrForbidden},
		{name: "admin may not touch the master admin", by: U(aAdmin), cmd: change(aMaster, RoleMember), err: ErrForbidden},
		{name: "the master admin: transfer first", by: U(um), cmd: change(aMaster, RoleAdmin), err: ErrLastMasterAdmin},
		{name: "master_admin is transferred, not given", by: U(um), cmd: change(aAdmin, RoleMasterAdmin), err: ErrInvalid, field: "role"},
		{name: "manager needs a site", by: U(aAdmin), cmd: change(aMember, RoleManager), err: ErrSiteRequired},
		{name: "basic needs exactly one site", by: U(aAdmin), cmd: change(aMember, RoleBasic, a1, a2), err: ErrSiteRequired},
		{name: "members have no sites", by: U(aAdmin), cmd: change(aBasic, RoleMember, a1), err: ErrInvalid, field: "sites"},
		{name: "bad role", by: U(aAdmin), cmd: change(aMember, "boss"), err: ErrInvalid, field: "role"},
		{name: "no membership in that company", by: U(aAdmin), cmd: ChangeRole{Person: aMember, Company: coC, Role: RoleBasic, Sites: []SiteID{c1}}, err: ErrNotFound},
		{name: "admin of B does not know company A", by: U(bAdmin), cmd: change(aMember, RoleBasic, a1), err: ErrNotFound},
		{name: "admin may not touch a normal user's membership", given: []Event{MembershipGranted{Person: staff, Company: coA, Role: RoleMember}},
			by: U(aAdmin), cmd: change(staff, RoleBasic, a1), err: ErrForbidden},
	})
}

func TestRevokeMembership(t *testing.T) {
	revoke := func(id PersonID, co CompanyID) RevokeMembership { return RevokeMembership{Person: id, Company: co} }
	inC := []Event{MembershipGranted{Person: aMember, Company: coC, Role: RoleMember}}
	bInA := []Event{MembershipGranted{Person: bMember, Company: coA, Role: RoleMember}}
	runDecide(t, []decideCase{
		{name: "admin revokes a membership of its contractor", given: inC, by: U(aAdmin), cmd: revoke(aMember, coC),
			want: []Event{MembershipRevoked{Person: aMember, Company: coC}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aMember].Memberships[coC] != nil {
					t.Fatal("still a member")
				}
			}},
		{name: "admin of A revokes B's member from A", given: bInA, by: U(aAdmin), cmd: revoke(bMember, coA), want: []Event{MembershipRevoked{Person: bMember, Company: coA}}},
		{name: "a normal user's membership, by a user manager", given: []Event{MembershipGranted{Person: staff, Company: coA, Role: RoleMember}},
			by: U(um), cmd: revoke(staff, coA), want: []Event{MembershipRevoked{Person: staff, Company: coA}}},

		{name: "a support user keeps its home membership", by: U(aAdmin), cmd: revoke(aMember, coA), err: ErrHomeMembership},
		{name: "even for a manager's basic user", by: U(aMgr), cmd: revoke(aBasic, coA), err: ErrHomeMembership},
		{name: "the master admin: transfer first", by: U(um), cmd: revoke(aMaster, coA), err: ErrLastMasterAdmin},
		{name: "root's provider membership neither", by: U(um), cmd: revoke(root, prov), err: ErrLastMasterAdmin},
		{name: "admin may not revoke the master admin", by: U(aAdmin), cmd: revoke(aMaster, coA), err: ErrForbidden},
		{name: "admin may not revoke a fellow admin", given: []Event{MembershipGranted{Person: bAdmin, Company: coA, Role: RoleAdmin}}, by: U(aAdmin), cmd: revoke(bAdmin, coA), err: ErrForbidden},
		{name: "admin may not touch a normal user's membership", given: []Event{MembershipGranted{Person: staff, Company: coA, Role: RoleMember}},
			by: U(aAdmin), cmd: revoke(staff, coA), err: ErrForbidden},
		{name: "member may not", given: inC, by: U(aMember), cmd: revoke(aBasic, coA), err: ErrForbidden},
		{name: "no such membership", by: U(aAdmin), cmd: revoke(aMember, coC), err: ErrNotFound},
		{name: "admin of B does not know company A", by: U(bAdmin), cmd: revoke(aMember, coA), err: ErrNotFound},
	})
}

func TestTransferMasterAdmin(t *testing.T) {
	transfer := func(co CompanyID, to PersonID) TransferMasterAdmin { return TransferMasterAdmin{Company: co, To: to} }
	runDecide(t, []decideCase{
		{name: "the master admin hands over to an admin; it stays an admin", by: U(aMaster), cmd: transfer(coA, aAdmin),
			want: []Event{MasterAdminTransferred{Company: coA, From: aMaster, To: aAdmin}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coA].MasterAdmin != aAdmin || d.People[aAdmin].Memberships[coA].Role != RoleMasterAdmin ||
					d.People[aMaster].Memberships[coA].Role != RoleAdmin {
					t.Fatal("roles after transfer")
				}
				if n := countMasterAdmins(d, coA); n != 1 {
					t.Fatalf("%d master admins", n)
				}
			}},
		{name: "user manager hands over to a basic user: its site goes", by: U(um), cmd: transfer(coA, aBasic),
			check: func(t *testing.T, d *Directory, _ []Event) {
				m := d.People[aBasic].Memberships[coA]
				if m.Role != RoleMasterAdmin || len(m.ManagedSites) != 0 || countMasterAdmins(d, coA) != 1 {
					t.Fatalf("membership %+v", m)
				}
			}},
		{name: "to a normal user without membership: it gets one", by: U(um), cmd: transfer(coA, staff),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if m := d.People[staff].Memberships[coA]; m == nil || m.Role != RoleMasterAdmin {
					t.Fatal("no master admin membership")
				}
			}},
		{name: "user manager appoints one where there is none", given: cat(companyD(), []Event{MembershipGranted{Person: bMember, Company: coD, Role: RoleMember}}),
			by: U(um), cmd: transfer(coD, bMember), want: []Event{MasterAdminTransferred{Company: coD, To: bMember}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coD].MasterAdmin != bMember {
					t.Fatal("not appointed")
				}
			}},
		{name: "to the holder itself", by: U(aMaster), cmd: transfer(coA, aMaster), noop: true},

		{name: "an admin may not", by: U(aAdmin), cmd: transfer(coA, aAdmin), err: ErrForbidden},
		{name: "a member may not", by: U(aMember), cmd: transfer(coA, aMember), err: ErrForbidden},
		{name: "a former master admin may not", given: []Event{MasterAdminTransferred{Company: coA, From: aMaster, To: aAdmin}}, by: U(aMaster), cmd: transfer(coA, aMember), err: ErrForbidden},
		{name: "B's master admin does not know company A", by: U(bMaster), cmd: transfer(coA, bMaster), err: ErrNotFound},
		{name: "a contact", by: U(aMaster), cmd: transfer(coA, aContact), err: ErrContactCannotLogIn},
		{name: "an invited user cannot act yet", by: U(aMaster), cmd: transfer(coA, aInvited), err: ErrWrongState},
		{name: "a suspended user", by: U(aMaster), cmd: transfer(coA, aSusp), err: ErrWrongState},
		{name: "a support user without membership", by: U(um), cmd: transfer(coA, bMember), err: ErrMembershipRequired},
		{name: "the master admin does not know B's member", by: U(aMaster), cmd: transfer(coA, bMember), err: ErrNotFound},
		{name: "a removed user", given: []Event{UserRemoved{Person: aMember}}, by: U(aMaster), cmd: transfer(coA, aMember), err: ErrNotFound},
		{name: "missing to", by: U(aMaster), cmd: transfer(coA, ""), err: ErrInvalid, field: "to"},
		{name: "unknown company", by: U(um), cmd: transfer("nope", aMember), err: ErrNotFound},
	})
}

func countMasterAdmins(d *Directory, co CompanyID) int {
	n := 0
	for _, p := range d.People {
		if m := p.Memberships[co]; m != nil && m.Role == RoleMasterAdmin {
			n++
		}
	}
	return n
}

func TestAssignManagedSites(t *testing.T) {
	assign := func(id PersonID, sites ...SiteID) AssignManagedSites {
		return AssignManagedSites{Person: id, Company: coA, Sites: sites}
	}
	runDecide(t, []decideCase{
		{name: "admin replaces a manager's sites", by: U(aAdmin), cmd: assign(aMgr, a3, a1),
			want: []Event{ManagedSitesAssigned{Person: aMgr, Company: coA, Sites: []SiteID{a3, a1}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if got := d.People[aMgr].Memberships[coA].ManagedSites; !slices.Equal(got, []SiteID{a3, a1}) {
					t.Fatalf("sites %v", got)
				}
			}},
		{name: "user manager", by: U(um), cmd: assign(aMgr, a2), want: []Event{ManagedSitesAssigned{Person: aMgr, Company: coA, Sites: []SiteID{a2}}}},
		{name: "unchanged", by: U(aAdmin), cmd: assign(aMgr, a2, a1), noop: true},

		{name: "not a manager", by: U(aAdmin), cmd: assign(aMember, a1), err: ErrWrongState},
		{name: "a manager keeps a site", by: U(aAdmin), cmd: assign(aMgr), err: ErrSiteRequired},
		{name: "sites of another company", by: U(um), cmd: assign(aMgr, b1), err: ErrSiteRequired},
		{name: "a site twice", by: U(aAdmin), cmd: assign(aMgr, a1, a1), err: ErrInvalid, field: "sites"},
		{name: "a manager does not assign its own", by: U(aMgr), cmd: assign(aMgr, a1, a2, a3), err: ErrForbidden},
		{name: "member may not", by: U(aMember), cmd: assign(aMgr, a1), err: ErrForbidden},
		{name: "a manager does not know another manager", given: portalUser("a-mgr2", coA, RoleManager, a3), by: U(aMgr), cmd: assign("a-mgr2", a1), err: ErrNotFound},
		{name: "admin of B does not know company A", by: U(bAdmin), cmd: assign(aMgr, a1), err: ErrNotFound},
		{name: "no membership there", by: U(um), cmd: AssignManagedSites{Person: aMgr, Company: coB, Sites: []SiteID{b1}}, err: ErrNotFound},
	})
}

func TestSetSitePermissions(t *testing.T) {
	set := func(id PersonID, read, write []SiteID, responsible ...string) SetSitePermissions {
		return SetSitePermissions{Person: id, ReadSites: read, WriteSites: write, Responsible: responsible}
	}
	s := func(ids ...SiteID) []SiteID { return append([]SiteID{}, ids...) }
	runDecide(t, []decideCase{
		{name: "admin sets rights: write sites are read sites too", by: U(aAdmin), cmd: set(aMember, s(a1), s(a2), string(grpStaff), string(staff), string(aAdmin)),
			want: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(a1, a2), WriteSites: s(a2), Responsible: []string{string(grpStaff), string(staff), string(aAdmin)}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				got := d.People[aMember].Sites
				if !slices.Equal(got.ReadSites, s(a1, a2)) || !slices.Equal(got.WriteSites, s(a2)) || len(got.Responsible) != 3 {
					t.Fatalf("sites %+v", got)
				}
			}},
		{name: "clearing: lists are empty, not null", given: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(a1)}}, by: U(aAdmin), cmd: set(aMember, nil, nil),
			want: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(), WriteSites: s(), Responsible: []string{}}}},
		{name: "manager grants its own sites to its basic user", by: U(aMgr), cmd: set(aBasic, s(a1, a2), s(a1)),
			want: []Event{SitePermissionsSet{Person: aBasic, ReadSites: s(a1, a2), WriteSites: s(a1), Responsible: []string{}}}},
		{name: "sites of another company the user belongs to", given: []Event{MembershipGranted{Person: aMember, Company: coB, Role: RoleMember}},
			by: U(um), cmd: set(aMember, s(b1), nil), want: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(b1), WriteSites: s(), Responsible: []string{}}}},
		{name: "unchanged", given: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(a1, a2), WriteSites: s(a2), Responsible: []string{}}},
			by: U(aAdmin), cmd: set(aMember, s(a1), s(a2)), noop: true},

		{name: "manager may not grant a site it does not manage", by: U(aMgr), cmd: set(aBasic, s(a3), nil), err: ErrForbidden},
		{name: "manager may not take away a site it does not manage", given: []Event{SitePermissionsSet{Person: aBasic, ReadSites: s(a3)}},
			by: U(aMgr), cmd: set(aBasic, nil, nil), err: ErrForbidden},
		{name: "a site of a company the user does not belong to", by: U(um), cmd: set(aMember, s(b1), nil), err: ErrSiteRequired, field: "read_sites"},
		{name: "admin of A does not know B's site", by: U(aAdmin), cmd: set(aMember, s(b1), nil), err: ErrNotFound},
		{name: "unknown site", by: U(aAdmin), cmd: set(aMember, nil, s("zz")), err: ErrNotFound},
		{name: "a read site twice", by: U(aAdmin), cmd: set(aMember, s(a1, a1), nil), err: ErrInvalid, field: "read_sites"},
		{name: "a write site twice", by: U(aAdmin), cmd: set(aMember, nil, s(a1, a1)), err: ErrInvalid, field: "write_sites"},
		{name: "typed recipients, as ticket assignment matches them", by: U(aAdmin), cmd: set(aMember, nil, nil, "group:"+string(grpStaff), "user:"+string(staff)),
			want: []Event{SitePermissionsSet{Person: aMember, ReadSites: s(), WriteSites: s(), Responsible: []string{"group:" + string(grpStaff), "user:" + string(staff)}}}},
		{name: "a group typed as a user", by: U(aAdmin), cmd: set(aMember, nil, nil, "user:"+string(grpStaff)), err: ErrNotFound},
		{name: "a user typed as a group", by: U(aAdmin), cmd: set(aMember, nil, nil, "group:"+string(staff)), err: ErrNotFound},
		{name: "an unknown type", by: U(aAdmin), cmd: set(aMember, nil, nil, "team:"+string(grpStaff)), err: ErrNotFound},
		{name: "unknown responsible", by: U(aAdmin), cmd: set(aMember, nil, nil, "ghost"), err: ErrNotFound},
		{name: "a contact is never responsible", by: U(aAdmin), cmd: set(aMember, nil, nil, string(aContact)), err: ErrNotFound},
		{name: "a removed user is never responsible", given: []Event{UserRemoved{Person: aBasic}}, by: U(aAdmin), cmd: set(aMember, nil, nil, string(aBasic)), err: ErrNotFound},
		{name: "admin of A does not know B's member", by: U(aAdmin), cmd: set(aMember, nil, nil, string(bMember)), err: ErrNotFound},
		{name: "a recipient twice", by: U(aAdmin), cmd: set(aMember, nil, nil, string(staff), string(staff)), err: ErrInvalid, field: "responsible"},
		{name: "normal users have company access instead", by: U(um), cmd: set(staff, nil, nil), err: ErrSupportUserOnly},
		{name: "contacts have no rights", by: U(aAdmin), cmd: set(aContact, nil, nil), err: ErrContactCannotLogIn},
		{name: "nobody sets its own", by: U(aAdmin), cmd: set(aAdmin, s(a1), nil), err: ErrForbidden},
		{name: "member may not", by: U(aMember), cmd: set(aBasic, s(a1), nil), err: ErrForbidden},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: set(aMember, nil, nil), err: ErrNotFound},
	})
}

func TestSetTicketRestrictions(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "admin restricts types and statuses", by: U(aAdmin),
			cmd:  SetTicketRestrictions{Person: aMember, TicketTypes: []string{" incident ", "request"}, Restricted: true, Statuses: []string{"open", "closed"}},
			want: []Event{TicketRestrictionsSet{Person: aMember, TicketTypes: []string{"incident", "request"}, Restricted: true, Statuses: []string{"open", "closed"}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if got := d.People[aMember].Sites; !got.Restricted || len(got.Statuses) != 2 || got.TicketTypes[0] != "incident" {
					t.Fatalf("restrictions %+v", got)
				}
			}},
		{name: "restricted to no status at all", by: U(aMgr), cmd: SetTicketRestrictions{Person: aBasic, Restricted: true},
			want: []Event{TicketRestrictionsSet{Person: aBasic, TicketTypes: []string{}, Restricted: true, Statuses: []string{}}}},
		{name: "unchanged", given: []Event{TicketRestrictionsSet{Person: aMember, TicketTypes: []string{"incident"}}}, by: U(aAdmin),
			cmd: SetTicketRestrictions{Person: aMember, TicketTypes: []string{"incident"}}, noop: true},

		{name: "statuses only when restricted", by: U(aAdmin), cmd: SetTicketRestrictions{Person: aMember, Statuses: []string{"open"}}, err: ErrInvalid, field: "statuses"},
		{name: "an empty type", by: U(aAdmin), cmd: SetTicketRestrictions{Person: aMember, TicketTypes: []string{" "}}, err: ErrInvalid, field: "ticket_types"},
		{name: "a type twice", by: U(aAdmin), cmd: SetTicketRestrictions{Person: aMember, TicketTypes: []string{"a", "a "}}, err: ErrInvalid, field: "ticket_types"},
		{name: "a status twice", by: U(aAdmin), cmd: SetTicketRestrictions{Person: aMember, Restricted: true, Statuses: []string{"open", "open"}}, err: ErrInvalid, field: "statuses"},
		{name: "normal users", by: U(um), cmd: SetTicketRestrictions{Person: staff}, err: ErrSupportUserOnly},
		{name: "contacts", by: U(aAdmin), cmd: SetTicketRestrictions{Person: aContact}, err: ErrContactCannotLogIn},
		{name: "member may not", by: U(aMember), cmd: SetTicketRestrictions{Person: aBasic}, err: ErrForbidden},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: SetTicketRestrictions{Person: aMember}, err: ErrNotFound},
	})
}
