package domain

import (
	"testing"
	"time"
)

func TestInviteUser(t *testing.T) {
	week := t0.Add(DefaultInvitationTTL)
	inv := func(home CompanyID, group GroupID, role Role, sites ...SiteID) InviteUser {
		return InviteUser{Person: "new", Name: "New", Email: "new@example.test", HomeCompany: home, Group: group, Role: role, Sites: sites, TokenHash: "h", Now: t0}
	}
	userInvited := func(home CompanyID, group GroupID, class Class) UserInvited {
		return UserInvited{Person: "new", Name: "New", Email: "new@example.test", HomeCompany: home, Group: group, Class: class, TokenHash: "h", ExpiresAt: week}
	}
	runDecide(t, []decideCase{
		{name: "admin invites a member (default role and permissions)", by: U(aAdmin), cmd: inv(coA, "", ""),
			want: []Event{userInvited(coA, "", ClassSupport), MembershipGranted{Person: "new", Company: coA, Role: RoleMember, Permissions: PermissionSet{Named: "support"}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if p, ok := d.PersonByInvitation("h"); !ok || p.Status != StatusInvited {
					t.Fatal("invitation not pending")
				}
			}},
		{name: "manager invites a basic user at its site", by: U(aMgr), cmd: inv(coA, grpPortal, RoleBasic, a2),
			want: []Event{userInvited(coA, grpPortal, ClassSupport), MembershipGranted{Person: "new", Company: coA, Role: RoleBasic, Permissions: PermissionSet{Named: "support"}, Sites: []SiteID{a2}}}},
		{name: "master admin invites an admin with full rights", by: U(aMaster), cmd: inv(coA, "", RoleAdmin),
			want: []Event{userInvited(coA, "", ClassSupport), MembershipGranted{Person: "new", Company: coA, Role: RoleAdmin, Permissions: PermissionSet{Named: "full"}}}},
		{name: "explicit permissions and TTL", by: U(aAdmin),
			cmd: InviteUser{Person: "new", Name: "New", Email: "new@example.test", HomeCompany: coA, Role: RoleMember,
				Permissions: PermissionSet{List: []Permission{PermBillingRead}}, TokenHash: "h", Now: t0, TTL: time.Hour},
			want: []Event{UserInvited{Person: "new", Name: "New", Email: "new@example.test", HomeCompany: coA, Class: ClassSupport, TokenHash: "h", ExpiresAt: t0.Add(time.Hour)},
				MembershipGranted{Person: "new", Company: coA, Role: RoleMember, Permissions: PermissionSet{List: []Permission{PermBillingRead}}}}},
		{name: "user manager invites a normal user (no membership)", by: U(um), cmd: inv(prov, grpStaff, ""),
			want: []Event{userInvited(prov, grpStaff, ClassNormal)}},
		{name: "user manager appoints D's first master admin", given: companyD(), by: U(um), cmd: inv(coD, "", RoleMasterAdmin),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coD].MasterAdmin != "new" {
					t.Fatal("no master admin")
				}
			}},
		{name: "registering customer's admin invites a technician", by: U(aAdmin), cmd: inv(coC, "", RoleMember),
			want: []Event{userInvited(coC, "", ClassSupport), MembershipGranted{Person: "new", Company: coC, Role: RoleMember, Permissions: PermissionSet{Named: "support"}}}},
		{name: "a removed user's e-mail is free", given: []Event{UserRemoved{Person: aMember}}, by: U(aAdmin),
			cmd: InviteUser{Person: "new", Name: "N", Email: email(aMember), HomeCompany: coA, TokenHash: "h", Now: t0},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if p, _ := d.PersonByEmail(email(aMember)); p == nil || p.ID != "new" {
					t.Fatal("e-mail not rebound")
				}
			}},

		{name: "manager may not invite an admin", by: U(aMgr), cmd: inv(coA, "", RoleAdmin), err: ErrForbidden},
		{name: "manager may not invite a member", by: U(aMgr), cmd: inv(coA, "", ""), err: ErrForbidden},
		{name: "manager may not invite at a site it does not manage", by: U(aMgr), cmd: inv(coA, "", RoleBasic, a3), err: ErrForbidden},
		{name: "admin may not invite an admin", by: U(aAdmin), cmd: inv(coA, "", RoleAdmin), err: ErrForbidden},
		{name: "master admin may not invite a master admin", by: U(aMaster), cmd: inv(coA, "", RoleMasterAdmin), err: ErrForbidden},
		{name: "admin of A does not know company B", by: U(aAdmin), cmd: inv(coB, "", ""), err: ErrNotFound},
		{name: "admin may not invite a normal user", by: U(aAdmin), cmd: inv(coA, grpStaff, ""), err: ErrForbidden},
		{name: "member may not invite", by: U(aMember), cmd: inv(coA, "", RoleBasic, a1), err: ErrForbidden},
		{name: "no free seat", given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(um), cmd: inv(prov, grpStaff, ""), err: ErrNoFreeSeat},
		{name: "support users need no seat", given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(aAdmin), cmd: inv(coA, grpPortal, ""),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People["new"] == nil || d.SeatsUsed() != 3 {
					t.Fatal("support user not invited, or took a seat")
				}
			}},
		{name: "A has a master admin", by: U(um), cmd: inv(coA, "", RoleMasterAdmin), err: ErrMasterAdminExists},
		{name: "basic needs exactly one site", by: U(aAdmin), cmd: inv(coA, "", RoleBasic, a1, a2), err: ErrSiteRequired},
		{name: "manager needs a site", by: U(aAdmin), cmd: inv(coA, "", RoleManager), err: ErrSiteRequired},
		{name: "site of another company", by: U(um), cmd: inv(coA, "", RoleManager, b1), err: ErrSiteRequired},
		{name: "a site twice", by: U(aAdmin), cmd: inv(coA, "", RoleManager, a1, a1), err: ErrInvalid, field: "sites"},
		{name: "members have no sites", by: U(aAdmin), cmd: inv(coA, "", RoleMember, a1), err: ErrInvalid, field: "sites"},
		{name: "e-mail taken, case-insensitively", by: U(aAdmin), cmd: InviteUser{Person: "new", Name: "N", Email: "A-Member@Example.test", HomeCompany: coA, TokenHash: "h"}, err: ErrEmailTaken},
		{name: "id exists", by: U(aAdmin), cmd: InviteUser{Person: aMember, Name: "N", Email: "x@x.test", HomeCompany: coA, TokenHash: "h"}, err: ErrAlreadyExists},
		{name: "unknown group", by: U(um), cmd: inv(coA, "nope", ""), err: ErrNotFound},
		{name: "bad role", by: U(aAdmin), cmd: inv(coA, "", "boss"), err: ErrInvalid, field: "role"},
		{name: "bad permission", by: U(aAdmin), cmd: InviteUser{Person: "new", Name: "N", Email: "x@x.test", HomeCompany: coA, TokenHash: "h", Permissions: PermissionSet{List: []Permission{"root"}}}, err: ErrInvalid, field: "permissions.list"},
		{name: "missing name", by: U(aAdmin), cmd: InviteUser{Person: "new", Email: "x@x.test", HomeCompany: coA, TokenHash: "h"}, err: ErrInvalid, field: "name"},
		{name: "bad e-mail", by: U(aAdmin), cmd: InviteUser{Person: "new", Name: "N", Email: "x@", HomeCompany: coA, TokenHash: "h"}, err: ErrInvalid, field: "email"},
		{name: "missing token", by: U(aAdmin), cmd: InviteUser{Person: "new", Name: "N", Email: "x@x.test", HomeCompany: coA}, err: ErrInvalid},
	})
}

func TestAcceptInvitation(t *testing.T) {
	unbound := Principal{Kind: PrincipalUser}
	accept := func(hash string, at time.Time) AcceptInvitation {
		return AcceptInvitation{TokenHash: hash, Subject: "sub-new", Now: at}
	}
	runDecide(t, []decideCase{
		{name: "the invitee accepts", by: unbound, cmd: accept(tok(aInvited), t0.Add(time.Hour)),
			want: []Event{InvitationAccepted{Person: aInvited, Subject: "sub-new"}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if p, ok := d.PersonBySubject("sub-new"); !ok || p.ID != aInvited || p.Status != StatusActive {
					t.Fatal("not bound and active")
				}
				if _, ok := d.PersonByInvitation(tok(aInvited)); ok {
					t.Fatal("a token is accepted once")
				}
			}},
		{name: "expired", by: unbound, cmd: accept(tok(aInvited), t0.Add(DefaultInvitationTTL)), err: ErrInvitationInvalid},
		{name: "unknown token", by: unbound, cmd: accept("nope", t0), err: ErrInvitationInvalid},
		{name: "resent: the old token is dead", given: []Event{InvitationResent{Person: aInvited, TokenHash: "h2", ExpiresAt: t0.Add(time.Hour)}},
			by: unbound, cmd: accept(tok(aInvited), t0), err: ErrInvitationInvalid},
		{name: "revoked", given: []Event{InvitationRevoked{Person: aInvited}}, by: unbound, cmd: accept(tok(aInvited), t0), err: ErrInvitationInvalid},
		{name: "login already bound", by: unbound, cmd: AcceptInvitation{TokenHash: tok(aInvited), Subject: "sub-" + string(aMember), Now: t0}, err: ErrAlreadyExists},
		{name: "a bound user cannot accept for another", by: U(aMember), cmd: accept(tok(aInvited), t0), err: ErrForbidden},
		{name: "not the system", by: System(), cmd: accept(tok(aInvited), t0), err: ErrForbidden},
		{name: "no subject", by: unbound, cmd: AcceptInvitation{TokenHash: tok(aInvited), Now: t0}, err: ErrInvalid, field: "subject"},
	})
}

func TestResendInvitation(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "admin resends: new token and expiry", by: U(aAdmin), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0.Add(24 * time.Hour), TTL: 48 * time.Hour},
			want: []Event{InvitationResent{Person: aInvited, TokenHash: "h2", ExpiresAt: t0.Add(72 * time.Hour)}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if _, ok := d.PersonByInvitation(tok(aInvited)); ok {
					t.Fatal("old token still valid")
				}
				if p, ok := d.PersonByInvitation("h2"); !ok || p.ID != aInvited {
					t.Fatal("new token not bound")
				}
			}},
		{name: "default expiry", by: U(um), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0},
			want: []Event{InvitationResent{Person: aInvited, TokenHash: "h2", ExpiresAt: t0.Add(DefaultInvitationTTL)}}},
		{name: "an expired (not yet recorded) invitation can be resent", by: U(aAdmin), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0.Add(30 * 24 * time.Hour)},
			want: []Event{InvitationResent{Person: aInvited, TokenHash: "h2", ExpiresAt: t0.Add(37 * 24 * time.Hour)}}},
		{name: "an active user has none", by: U(aAdmin), cmd: ResendInvitation{Person: aMember, TokenHash: "h2", Now: t0}, err: ErrWrongState},
		{name: "member may not", by: U(aMember), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0}, err: ErrForbidden},
		{name: "admin of B does not know the invitee", by: U(bAdmin), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0}, err: ErrNotFound},
		{name: "revoked", given: []Event{InvitationRevoked{Person: aInvited}}, by: U(aAdmin), cmd: ResendInvitation{Person: aInvited, TokenHash: "h2", Now: t0}, err: ErrNotFound},
		{name: "missing token", by: U(aAdmin), cmd: ResendInvitation{Person: aInvited, Now: t0}, err: ErrInvalid, field: "token"},
	})
}

func TestRevokeInvitation(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "admin revokes: invitee removed, e-mail freed", by: U(aAdmin), cmd: RevokeInvitation{Person: aInvited},
			want: []Event{InvitationRevoked{Person: aInvited}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aInvited].Status != StatusRemoved {
					t.Fatal("not removed")
				}
				if _, taken := d.PersonByEmail(email(aInvited)); taken {
					t.Fatal("e-mail still taken")
				}
			}},
		{name: "a normal user's invitation frees its seat", given: invited("n2", prov, grpStaff, ClassNormal, ""), by: U(um), cmd: RevokeInvitation{Person: "n2"},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.SeatsUsed() != 3 {
					t.Fatalf("seats used %d", d.SeatsUsed())
				}
			}},
		{name: "an active user has none", by: U(aAdmin), cmd: RevokeInvitation{Person: aMember}, err: ErrWrongState},
		{name: "an invited master admin: transfer first", given: cat(companyD(), invited("d-boss", coD, grpPortal, ClassSupport, RoleMasterAdmin)),
			by: U(um), cmd: RevokeInvitation{Person: "d-boss"}, err: ErrLastMasterAdmin},
		{name: "member may not", by: U(aMember), cmd: RevokeInvitation{Person: aInvited}, err: ErrForbidden},
		{name: "admin of B does not know the invitee", by: U(bAdmin), cmd: RevokeInvitation{Person: aInvited}, err: ErrNotFound},
		{name: "twice", given: []Event{InvitationRevoked{Person: aInvited}}, by: U(aAdmin), cmd: RevokeInvitation{Person: aInvited}, err: ErrNotFound},
	})
}

func TestExpireInvitation(t *testing.T) {
	due := t0.Add(DefaultInvitationTTL)
	runDecide(t, []decideCase{
		{name: "the system expires it at its expiry", by: System(), cmd: ExpireInvitation{Person: aInvited, Now: due},
			want: []Event{InvitationExpired{Person: aInvited}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aInvited].Status != StatusRemoved {
					t.Fatal("not removed")
				}
				if _, ok := d.PersonByInvitation(tok(aInvited)); ok {
					t.Fatal("token still valid")
				}
			}},
		{name: "a tenant user manager, later", by: U(um), cmd: ExpireInvitation{Person: aInvited, Now: due.Add(time.Hour)}, want: []Event{InvitationExpired{Person: aInvited}}},
		{name: "an invited master admin's role ends with it", given: cat(companyD(), invited("d-boss", coD, grpPortal, ClassSupport, RoleMasterAdmin)),
			by: System(), cmd: ExpireInvitation{Person: "d-boss", Now: due},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coD].MasterAdmin != "" {
					t.Fatal("an expired invitee is still master admin")
				}
			}},
		{name: "not yet due", by: System(), cmd: ExpireInvitation{Person: aInvited, Now: due.Add(-time.Second)}, err: ErrWrongState},
		{name: "resent: the new expiry counts", given: []Event{InvitationResent{Person: aInvited, TokenHash: "h2", ExpiresAt: due.Add(time.Hour)}},
			by: System(), cmd: ExpireInvitation{Person: aInvited, Now: due}, err: ErrWrongState},
		{name: "accepted", by: System(), cmd: ExpireInvitation{Person: aMember, Now: due}, err: ErrWrongState},
		{name: "portal admin may not", by: U(aAdmin), cmd: ExpireInvitation{Person: aInvited, Now: due}, err: ErrForbidden},
		{name: "master admin may not", by: U(aMaster), cmd: ExpireInvitation{Person: aInvited, Now: due}, err: ErrForbidden},
		{name: "unknown", by: System(), cmd: ExpireInvitation{Person: "ghost", Now: due}, err: ErrNotFound},
		{name: "no time", by: System(), cmd: ExpireInvitation{Person: aInvited}, err: ErrInvalid, field: "now"},
	})
}
