package domain

import "testing"

func TestSuspendUser(t *testing.T) {
	suspend := func(id PersonID) SuspendUser { return SuspendUser{Person: id} }
	runDecide(t, []decideCase{
		{name: "admin suspends a member", by: U(aAdmin), cmd: suspend(aMember), want: []Event{UserSuspended{Person: aMember}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aMember].Status != StatusSuspended {
					t.Fatal("not suspended")
				}
				if _, err := Decide(d, U(aMember), RequireMFA{Person: aMember, Required: true}); err == nil {
					t.Fatal("a suspended user still acts")
				}
			}},
		{name: "manager suspends a basic user at its site", by: U(aMgr), cmd: suspend(aBasic), want: []Event{UserSuspended{Person: aBasic}}},
		{name: "master admin suspends an admin", by: U(aMaster), cmd: suspend(aAdmin), want: []Event{UserSuspended{Person: aAdmin}}},
		{name: "user manager suspends a normal user", by: U(um), cmd: suspend(staff), want: []Event{UserSuspended{Person: staff}}},
		{name: "service with users:manage", by: service(PermUsersManage), cmd: suspend(aMember), want: []Event{UserSuspended{Person: aMember}}},
		{name: "a tenant admin when another remains", given: cat(rootNotMaster(), secondTenantAdmin()), by: U(um), cmd: suspend(root),
			want: []Event{UserSuspended{Person: root}}},
		{name: "already suspended", by: U(aMaster), cmd: suspend(aSusp), noop: true},

		{name: "an invited user is not active", by: U(aAdmin), cmd: suspend(aInvited), err: ErrWrongState},
		{name: "contacts never log in", by: U(aAdmin), cmd: suspend(aContact), err: ErrContactCannotLogIn},
		{name: "nobody suspends itself", by: U(aAdmin), cmd: suspend(aAdmin), err: ErrForbidden},
		{name: "not even a user manager", by: U(um), cmd: suspend(um), err: ErrForbidden},
		{name: "admin may not suspend the master admin", by: U(aAdmin), cmd: suspend(aMaster), err: ErrForbidden},
		{name: "admin may not suspend a fellow admin", by: U(aAdmin), cmd: suspend(aSusp), err: ErrForbidden},
		{name: "the master admin: transfer first", by: U(um), cmd: suspend(aMaster), err: ErrLastMasterAdmin},
		{name: "the last active tenant admin", given: rootNotMaster(), by: U(um), cmd: suspend(root), err: ErrLastMasterAdmin},
		{name: "a suspended second admin does not count", given: cat(rootNotMaster(), secondTenantAdmin(), []Event{UserSuspended{Person: "root2"}}),
			by: U(um), cmd: suspend(root), err: ErrLastMasterAdmin},
		{name: "member may not", by: U(aMember), cmd: suspend(aBasic), err: ErrForbidden},
		{name: "manager does not know a member", by: U(aMgr), cmd: suspend(aMember), err: ErrNotFound},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: suspend(aMember), err: ErrNotFound},
		{name: "admin of A may not suspend an admin of B sharing A", given: []Event{MembershipGranted{Person: bAdmin, Company: coA, Role: RoleMember}},
			by: U(aAdmin), cmd: suspend(bAdmin), err: ErrForbidden},
		{name: "normal user without users:manage", by: U(staff), cmd: suspend(aMember), err: ErrForbidden},
		{name: "removed", given: []Event{UserRemoved{Person: aMember}}, by: U(aAdmin), cmd: suspend(aMember), err: ErrNotFound},
	})
}

func TestReactivateUser(t *testing.T) {
	reactivate := func(id PersonID) ReactivateUser { return ReactivateUser{Person: id} }
	runDecide(t, []decideCase{
		{name: "master admin reactivates a suspended admin", by: U(aMaster), cmd: reactivate(aSusp), want: []Event{UserReactivated{Person: aSusp}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aSusp].Status != StatusActive {
					t.Fatal("not active")
				}
			}},
		{name: "user manager", by: U(um), cmd: reactivate(aSusp), want: []Event{UserReactivated{Person: aSusp}}},
		{name: "a suspended normal user kept its seat", given: []Event{UserSuspended{Person: staff}, TenantConfigured{Tenant: tn, Name: "T", Seats: 3}},
			by: U(um), cmd: reactivate(staff), want: []Event{UserReactivated{Person: staff}}},
		{name: "already active", by: U(aAdmin), cmd: reactivate(aMember), noop: true},

		{name: "admin may not reactivate a fellow admin", by: U(aAdmin), cmd: reactivate(aSusp), err: ErrForbidden},
		{name: "an invited user", by: U(aAdmin), cmd: reactivate(aInvited), err: ErrWrongState},
		{name: "a contact", by: U(aAdmin), cmd: reactivate(aContact), err: ErrContactCannotLogIn},
		{name: "admin of B does not know A's user", by: U(bAdmin), cmd: reactivate(aSusp), err: ErrNotFound},
		{name: "removed", given: []Event{UserRemoved{Person: aSusp}}, by: U(um), cmd: reactivate(aSusp), err: ErrNotFound},
	})
}

func TestRemoveUser(t *testing.T) {
	remove := func(id PersonID) RemoveUser { return RemoveUser{Person: id} }
	runDecide(t, []decideCase{
		{name: "admin removes a member: e-mail and login freed", by: U(aAdmin), cmd: remove(aMember), want: []Event{UserRemoved{Person: aMember}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aMember].Status != StatusRemoved || len(d.People[aMember].Memberships) != 0 {
					t.Fatalf("removed: %+v", d.People[aMember])
				}
				if _, taken := d.PersonByEmail(email(aMember)); taken {
					t.Fatal("e-mail still taken")
				}
				if _, bound := d.PersonBySubject("sub-" + string(aMember)); bound {
					t.Fatal("login still bound")
				}
			}},
		{name: "a contact", by: U(aAdmin), cmd: remove(aContact), want: []Event{UserRemoved{Person: aContact}}},
		{name: "an invited user: token dropped", by: U(aAdmin), cmd: remove(aInvited),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if _, ok := d.PersonByInvitation(tok(aInvited)); ok {
					t.Fatal("token still valid")
				}
			}},
		{name: "a suspended admin, by the master admin", by: U(aMaster), cmd: remove(aSusp), want: []Event{UserRemoved{Person: aSusp}}},
		{name: "a normal user: seat freed", by: U(um), cmd: remove(staff),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.SeatsUsed() != 2 {
					t.Fatalf("seats used %d", d.SeatsUsed())
				}
			}},
		{name: "manager removes a basic user at its site", by: U(aMgr), cmd: remove(aBasic), want: []Event{UserRemoved{Person: aBasic}}},

		{name: "nobody removes itself", by: U(aAdmin), cmd: remove(aAdmin), err: ErrForbidden},
		{name: "the master admin: transfer first", by: U(um), cmd: remove(aMaster), err: ErrLastMasterAdmin},
		{name: "an invited master admin too", given: cat(companyD(), invited("d-boss", coD, grpPortal, ClassSupport, RoleMasterAdmin)),
			by: U(um), cmd: remove("d-boss"), err: ErrLastMasterAdmin},
		{name: "the last active tenant admin", given: rootNotMaster(), by: U(um), cmd: remove(root), err: ErrLastMasterAdmin},
		{name: "admin may not remove the master admin", by: U(aAdmin), cmd: remove(aMaster), err: ErrForbidden},
		{name: "manager does not know a basic user at another site", by: U(aMgr), cmd: remove(aBasic3), err: ErrNotFound},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: remove(aMember), err: ErrNotFound},
		{name: "already removed", given: []Event{UserRemoved{Person: aMember}}, by: U(aAdmin), cmd: remove(aMember), err: ErrNotFound},
		{name: "unknown", by: U(um), cmd: remove("ghost"), err: ErrNotFound},
	})
}
