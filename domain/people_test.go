package domain

import (
	"testing"
	"time"
)

func TestAddContact(t *testing.T) {
	nina := func(home CompanyID, prefs ...string) AddContact {
		return AddContact{Person: "nina", Name: " Nina ", Email: "nina@example.test", HomeCompany: home, NotificationPrefs: prefs}
	}
	runDecide(t, []decideCase{
		{name: "company admin adds a contact, prefs sorted and deduplicated", by: U(aAdmin), cmd: nina(coA, "tickets", "invoices", "tickets"),
			want: []Event{ContactAdded{Person: "nina", Name: "Nina", Email: "nina@example.test", HomeCompany: coA, NotificationPrefs: []string{"invoices", "tickets"}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				p := d.People["nina"]
				if d.ClassOf(p) != ClassContact || p.Status != StatusContact {
					t.Fatalf("not a contact: %+v", p)
				}
				if _, ok := d.PersonByEmail("NINA@example.test"); !ok {
					t.Fatal("e-mail not reserved")
				}
			}},
		{name: "tenant user manager, no prefs", by: U(um), cmd: nina(coB),
			want: []Event{ContactAdded{Person: "nina", Name: "Nina", Email: "nina@example.test", HomeCompany: coB, NotificationPrefs: []string{}}}},
		{name: "service with users:manage", by: service(PermUsersManage), cmd: nina(coB, "announcements"),
			want: []Event{ContactAdded{Person: "nina", Name: "Nina", Email: "nina@example.test", HomeCompany: coB, NotificationPrefs: []string{"announcements"}}}},
		{name: "registering customer's master admin adds a contact to its contractor", by: U(aMaster), cmd: nina(coC, "documents"),
			want: []Event{ContactAdded{Person: "nina", Name: "Nina", Email: "nina@example.test", HomeCompany: coC, NotificationPrefs: []string{"documents"}}}},
		{name: "e-mail of a removed user is free again", given: []Event{UserRemoved{Person: aMember}}, by: U(aAdmin),
			cmd:  AddContact{Person: "nina", Name: "Nina", Email: email(aMember), HomeCompany: coA},
			want: []Event{ContactAdded{Person: "nina", Name: "Nina", Email: email(aMember), HomeCompany: coA, NotificationPrefs: []string{}}}},

		{name: "manager may not", by: U(aMgr), cmd: nina(coA), err: ErrForbidden},
		{name: "member may not", by: U(aMember), cmd: nina(coA), err: ErrForbidden},
		{name: "normal user without users:manage may not", by: U(staff), cmd: nina(coA), err: ErrForbidden},
		{name: "service without the scope may not", by: service(PermTicketsRead), cmd: nina(coA), err: ErrForbidden},
		{name: "admin of B does not know company A", by: U(bAdmin), cmd: nina(coA), err: ErrNotFound},
		{name: "unknown company", by: U(um), cmd: nina("nope"), err: ErrNotFound},
		{name: "missing name", by: U(aAdmin), cmd: AddContact{Person: "nina", Name: " ", Email: "n@x.test", HomeCompany: coA}, err: ErrInvalid, field: "name"},
		{name: "bad e-mail", by: U(aAdmin), cmd: AddContact{Person: "nina", Name: "N", Email: "nope", HomeCompany: coA}, err: ErrInvalid, field: "email"},
		{name: "unknown category", by: U(aAdmin), cmd: nina(coA, "tickets", "gossip"), err: ErrInvalid, field: "notification_prefs"},
		{name: "missing id", by: U(aAdmin), cmd: AddContact{Name: "N", Email: "n@x.test", HomeCompany: coA}, err: ErrInvalid},
		{name: "e-mail taken, case-insensitively", by: U(aAdmin), cmd: AddContact{Person: "nina", Name: "N", Email: "A-MEMBER@example.TEST", HomeCompany: coA}, err: ErrEmailTaken},
		{name: "e-mail of a contact taken too", by: U(aAdmin), cmd: AddContact{Person: "nina", Name: "N", Email: email(aContact), HomeCompany: coA}, err: ErrEmailTaken},
		{name: "id exists", by: U(aAdmin), cmd: AddContact{Person: aMember, Name: "N", Email: "n@x.test", HomeCompany: coA}, err: ErrAlreadyExists},
	})
}

func TestUpdateNotificationPreferences(t *testing.T) {
	prefs := func(id PersonID, p ...string) UpdateNotificationPreferences {
		return UpdateNotificationPreferences{Person: id, Prefs: p}
	}
	runDecide(t, []decideCase{
		{name: "admin updates a contact", by: U(aAdmin), cmd: prefs(aContact, "documents", "announcements"),
			want: []Event{NotificationPreferencesUpdated{Person: aContact, Prefs: []string{"announcements", "documents"}}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if got := d.People[aContact].NotificationPrefs; len(got) != 2 || got[0] != "announcements" {
					t.Fatalf("prefs %v", got)
				}
			}},
		{name: "a user updates its own", by: U(aMember), cmd: prefs(aMember, "tickets"),
			want: []Event{NotificationPreferencesUpdated{Person: aMember, Prefs: []string{"tickets"}}}},
		{name: "clearing them", by: U(um), cmd: prefs(aContact),
			want: []Event{NotificationPreferencesUpdated{Person: aContact, Prefs: []string{}}}},
		{name: "unchanged", by: U(aAdmin), cmd: prefs(aContact, "tickets", "tickets"), noop: true},
		{name: "manager does not know the contact", by: U(aMgr), cmd: prefs(aContact), err: ErrNotFound},
		{name: "member may not change another's", by: U(aMember), cmd: prefs(aContact), err: ErrForbidden},
		{name: "admin may not change a fellow admin's", by: U(aAdmin), cmd: prefs(aSusp), err: ErrForbidden},
		{name: "admin of B does not know the contact", by: U(bAdmin), cmd: prefs(aContact), err: ErrNotFound},
		{name: "removed person", given: []Event{UserRemoved{Person: aContact}}, by: U(aAdmin), cmd: prefs(aContact), err: ErrNotFound},
		{name: "unknown category", by: U(aAdmin), cmd: prefs(aContact, "spam"), err: ErrInvalid, field: "notification_prefs"},
	})
}

func TestPromoteContactToUser(t *testing.T) {
	week := t0.Add(DefaultInvitationTTL)
	promote := func(group GroupID, role Role, sites ...SiteID) PromoteContactToUser {
		return PromoteContactToUser{Person: aContact, Group: group, Role: role, Sites: sites, TokenHash: "h", Now: t0}
	}
	runDecide(t, []decideCase{
		{name: "admin promotes to a member (default), prefs kept", by: U(aAdmin), cmd: promote("", ""),
			want: []Event{
				ContactPromotedToUser{Person: aContact, Class: ClassSupport, TokenHash: "h", ExpiresAt: week},
				MembershipGranted{Person: aContact, Company: coA, Role: RoleMember, Permissions: PermissionSet{Named: "support"}},
			},
			check: func(t *testing.T, d *Directory, _ []Event) {
				p := d.People[aContact]
				if p.Type != TypeSystemUser || p.Status != StatusInvited || len(p.NotificationPrefs) != 1 {
					t.Fatalf("promoted: %+v", p)
				}
				if got, ok := d.PersonByInvitation("h"); !ok || got.ID != aContact {
					t.Fatal("token not bound")
				}
			}},
		{name: "admin promotes to a basic user at a site with a TTL", by: U(aAdmin),
			cmd: PromoteContactToUser{Person: aContact, Group: grpPortal, Role: RoleBasic, Sites: []SiteID{a2}, TokenHash: "h", Now: t0, TTL: 48 * time.Hour},
			want: []Event{
				ContactPromotedToUser{Person: aContact, Group: grpPortal, Class: ClassSupport, TokenHash: "h", ExpiresAt: t0.Add(48 * time.Hour)},
				MembershipGranted{Person: aContact, Company: coA, Role: RoleBasic, Permissions: PermissionSet{Named: "support"}, Sites: []SiteID{a2}},
			}},
		{name: "user manager promotes to a normal user (takes the free seat)", by: U(um), cmd: promote(grpStaff, ""),
			want: []Event{ContactPromotedToUser{Person: aContact, Group: grpStaff, Class: ClassNormal, TokenHash: "h", ExpiresAt: week}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.SeatsUsed() != 4 {
					t.Fatalf("seats used %d", d.SeatsUsed())
				}
			}},
		{name: "user manager appoints the first master admin of D", given: cat(companyD(), []Event{ContactAdded{Person: "d-contact", Email: "d@x.test", HomeCompany: coD}}),
			by: U(um), cmd: PromoteContactToUser{Person: "d-contact", Role: RoleMasterAdmin, TokenHash: "h", Now: t0},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.Companies[coD].MasterAdmin != "d-contact" {
					t.Fatal("no master admin")
				}
			}},

		{name: "no free seat for a normal user", given: []Event{TenantConfigured{Tenant: tn, Name: "T", Seats: 3}}, by: U(um), cmd: promote(grpStaff, ""), err: ErrNoFreeSeat},
		{name: "admin may not create a normal user", by: U(aAdmin), cmd: promote(grpStaff, ""), err: ErrForbidden},
		{name: "admin may not create an admin", by: U(aAdmin), cmd: promote("", RoleAdmin), err: ErrForbidden},
		{name: "master admin may not appoint a second master admin", by: U(aMaster), cmd: promote("", RoleMasterAdmin), err: ErrForbidden},
		{name: "the company has a master admin", by: U(um), cmd: promote("", RoleMasterAdmin), err: ErrMasterAdminExists},
		{name: "basic user needs a site", by: U(aAdmin), cmd: promote("", RoleBasic), err: ErrSiteRequired},
		{name: "site of another company", by: U(um), cmd: promote("", RoleManager, b1), err: ErrSiteRequired},
		{name: "already a user", by: U(aAdmin), cmd: PromoteContactToUser{Person: aMember, TokenHash: "h", Now: t0}, err: ErrWrongState},
		{name: "unknown group", by: U(aAdmin), cmd: promote("nope", ""), err: ErrNotFound},
		{name: "bad role", by: U(aAdmin), cmd: promote("", "boss"), err: ErrInvalid, field: "role"},
		{name: "bad permissions", by: U(aAdmin), cmd: PromoteContactToUser{Person: aContact, TokenHash: "h", Permissions: PermissionSet{Named: "all"}}, err: ErrInvalid, field: "permissions.named"},
		{name: "missing token", by: U(aAdmin), cmd: PromoteContactToUser{Person: aContact}, err: ErrInvalid, field: "token"},
		{name: "manager does not know the contact", by: U(aMgr), cmd: promote("", RoleBasic, a1), err: ErrNotFound},
		{name: "admin of B does not know the contact", by: U(bAdmin), cmd: promote("", ""), err: ErrNotFound},
		{name: "unknown person", by: U(um), cmd: PromoteContactToUser{Person: "ghost", TokenHash: "h"}, err: ErrNotFound},
	})
}

func TestDemoteUserToContact(t *testing.T) {
	demote := func(id PersonID) DemoteUserToContact { return DemoteUserToContact{Person: id} }
	runDecide(t, []decideCase{
		{name: "admin demotes a member: login and memberships end, e-mail stays", by: U(aAdmin), cmd: demote(aMember),
			want: []Event{UserDemotedToContact{Person: aMember}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				p := d.People[aMember]
				if d.ClassOf(p) != ClassContact || p.Status != StatusContact || len(p.Memberships) != 0 {
					t.Fatalf("demoted: %+v", p)
				}
				if _, bound := d.PersonBySubject("sub-" + string(aMember)); bound {
					t.Fatal("login still bound")
				}
				if _, taken := d.PersonByEmail(email(aMember)); !taken {
					t.Fatal("a contact keeps its e-mail")
				}
			}},
		{name: "an invited user: its token stops working", by: U(aAdmin), cmd: demote(aInvited),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if _, ok := d.PersonByInvitation(tok(aInvited)); ok {
					t.Fatal("token still valid")
				}
			}},
		{name: "manager demotes a basic user at its site", by: U(aMgr), cmd: demote(aBasic), want: []Event{UserDemotedToContact{Person: aBasic}}},
		{name: "user manager demotes a normal user: seat freed", by: U(um), cmd: demote(staff),
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.SeatsUsed() != 2 {
					t.Fatalf("seats used %d", d.SeatsUsed())
				}
			}},
		{name: "a tenant admin when another remains", given: cat(rootNotMaster(), secondTenantAdmin()), by: U(um), cmd: demote(root),
			want: []Event{UserDemotedToContact{Person: root}}},

		{name: "already a contact", by: U(aAdmin), cmd: demote(aContact), err: ErrWrongState},
		{name: "nobody demotes itself", by: U(aAdmin), cmd: demote(aAdmin), err: ErrForbidden},
		{name: "user manager neither", given: secondTenantAdmin(), by: U(um), cmd: demote(um), err: ErrForbidden},
		{name: "admin may not demote the master admin", by: U(aAdmin), cmd: demote(aMaster), err: ErrForbidden},
		{name: "the master admin: transfer first", by: U(um), cmd: demote(aMaster), err: ErrLastMasterAdmin},
		{name: "root is the provider's master admin", by: U(um), cmd: demote(root), err: ErrLastMasterAdmin},
		{name: "the last active tenant admin", given: rootNotMaster(), by: U(um), cmd: demote(root), err: ErrLastMasterAdmin},
		{name: "member may not", by: U(aMember), cmd: demote(aBasic), err: ErrForbidden},
		{name: "manager does not know a basic user at another site", by: U(aMgr), cmd: demote(aBasic3), err: ErrNotFound},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: demote(aMember), err: ErrNotFound},
		{name: "admin may not touch a normal user", given: []Event{MembershipGranted{Person: staff, Company: coA, Role: RoleMember}}, by: U(aAdmin), cmd: demote(staff), err: ErrForbidden},
	})
}

func TestRequireMFA(t *testing.T) {
	mfa := func(id PersonID, on bool) RequireMFA { return RequireMFA{Person: id, Required: on} }
	on := []Event{MFARequired{Person: aMember, Required: true}}
	runDecide(t, []decideCase{
		{name: "admin requires it", by: U(aAdmin), cmd: mfa(aMember, true), want: []Event{MFARequired{Person: aMember, Required: true}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if !d.People[aMember].MFARequired {
					t.Fatal("flag not set")
				}
			}},
		{name: "admin lifts it", given: on, by: U(aAdmin), cmd: mfa(aMember, false), want: []Event{MFARequired{Person: aMember, Required: false}}},
		{name: "a user turns it on for itself", by: U(aMember), cmd: mfa(aMember, true), want: []Event{MFARequired{Person: aMember, Required: true}}},
		{name: "user manager on a normal user", by: U(um), cmd: mfa(root, true), want: []Event{MFARequired{Person: root, Required: true}}},
		{name: "unchanged", given: on, by: U(aAdmin), cmd: mfa(aMember, true), noop: true},
		{name: "a user may not turn it off for itself", given: on, by: U(aMember), cmd: mfa(aMember, false), err: ErrForbidden},
		{name: "contacts never log in", by: U(aAdmin), cmd: mfa(aContact, true), err: ErrContactCannotLogIn},
		{name: "member may not", by: U(aMember), cmd: mfa(aBasic, true), err: ErrForbidden},
		{name: "admin of B does not know A's member", by: U(bAdmin), cmd: mfa(aMember, true), err: ErrNotFound},
		{name: "admin does not know a normal user", by: U(aAdmin), cmd: mfa(staff, true), err: ErrNotFound},
	})
}
