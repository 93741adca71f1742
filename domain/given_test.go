package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// The fixture world every decider table starts from, built with Evolve from events only.
//
//	tenant t1, 4 seats (3 used: root, um, staff)
//	companies: prov (provider), A and B (customers), C (contractor registered by A)
//	sites: A: a1 a2 a3 · B: b1 · C: c1
//	groups: admins (normal, tenant:admin) · usermgrs (normal, users:manage) · staff (normal,
//	        support) · portal (support users)
//	normal users: root (tenant admin, master admin of prov) · um (users:manage) · staff (no rights)
//	A: a-master (master_admin) · a-admin · a-mgr (manager of a1,a2) · a-member · a-basic (a1) ·
//	   a-basic3 (a3) · a-invited (invited member) · a-susp (suspended admin) · a-contact
//	B: b-master · b-admin · b-member
const (
	tn TenantID = "t1"

	prov CompanyID = "prov"
	coA  CompanyID = "A"
	coB  CompanyID = "B"
	coC  CompanyID = "C"
	coD  CompanyID = "D" // only in cases that add it: a company without master admin

	a1 SiteID = "a1"
	a2 SiteID = "a2"
	a3 SiteID = "a3"
	b1 SiteID = "b1"
	c1 SiteID = "c1"

	grpAdmins GroupID = "g-admins"
	grpUM     GroupID = "g-usermgrs"
	grpStaff  GroupID = "g-staff"
	grpPortal GroupID = "g-portal"

	root     PersonID = "root"
	um       PersonID = "um"
	staff    PersonID = "staff"
	aMaster  PersonID = "a-master"
	aAdmin   PersonID = "a-admin"
	aMgr     PersonID = "a-mgr"
	aMember  PersonID = "a-member"
	aBasic   PersonID = "a-basic"
	aBasic3  PersonID = "a-basic3"
	aInvited PersonID = "a-invited"
	aSusp    PersonID = "a-susp"
	aContact PersonID = "a-contact"
	bMaster  PersonID = "b-master"
	bAdmin   PersonID = "b-admin"
	bMember  PersonID = "b-member"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func email(id PersonID) string { return string(id) + "@example.test" }
func tok(id PersonID) string   { return "tok-" + string(id) }

// invited is a user invited at t0 (default expiry), with an optional home membership.
func invited(id PersonID, home CompanyID, group GroupID, class Class, role Role, sites ...SiteID) []Event {
	evs := []Event{UserInvited{Person: id, Name: string(id), Email: email(id), HomeCompany: home, Group: group,
		Class: class, TokenHash: tok(id), ExpiresAt: t0.Add(DefaultInvitationTTL)}}
	if role != "" {
		evs = append(evs, MembershipGranted{Person: id, Company: home, Role: role, Permissions: defaultPermissions(role), Sites: sites})
	}
	return evs
}

// active is an invited user that accepted (subject "sub-<id>").
func active(id PersonID, home CompanyID, group GroupID, class Class, role Role, sites ...SiteID) []Event {
	return append(invited(id, home, group, class, role, sites...), InvitationAccepted{Person: id, Subject: "sub-" + string(id)})
}

// portalUser is an active support user of home with role.
func portalUser(id PersonID, home CompanyID, role Role, sites ...SiteID) []Event {
	return active(id, home, grpPortal, ClassSupport, role, sites...)
}

func world() []Event {
	evs := []Event{
		TenantConfigured{Tenant: tn, Name: "Tenant One", Seats: 4},
		CompanyRegistered{Company: prov, Name: "Provider", Kind: KindProvider},
		CompanyRegistered{Company: coA, Name: "Alpha", Kind: KindCustomer},
		CompanyRegistered{Company: coB, Name: "Beta", Kind: KindCustomer},
		CompanyRegistered{Company: coC, Name: "Gamma Builders", Kind: KindContractor, RegisteredBy: coA},
		SiteAdded{Company: coA, Site: a1, Name: "A1"}, SiteAdded{Company: coA, Site: a2, Name: "A2"},
		SiteAdded{Company: coA, Site: a3, Name: "A3"}, SiteAdded{Company: coB, Site: b1, Name: "B1"},
		SiteAdded{Company: coC, Site: c1, Name: "C1"},
		UserGroupCreated{Group: grpAdmins, Name: "Administrators", Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}},
		UserGroupCreated{Group: grpUM, Name: "User managers", Permissions: PermissionSet{List: []Permission{PermUsersManage}}},
		UserGroupCreated{Group: grpStaff, Name: "Staff", Permissions: PermissionSet{Named: "support"}},
		UserGroupCreated{Group: grpPortal, Name: "Portal", SupportUser: true},
	}
	evs = append(evs, active(root, prov, grpAdmins, ClassNormal, RoleMasterAdmin)...)
	evs = append(evs, active(um, prov, grpUM, ClassNormal, "")...)
	evs = append(evs, active(staff, prov, grpStaff, ClassNormal, "")...)
	evs = append(evs, portalUser(aMaster, coA, RoleMasterAdmin)...)
	evs = append(evs, portalUser(aAdmin, coA, RoleAdmin)...)
	evs = append(evs, portalUser(aMgr, coA, RoleManager, a1, a2)...)
	evs = append(evs, portalUser(aMember, coA, RoleMember)...)
	evs = append(evs, portalUser(aBasic, coA, RoleBasic, a1)...)
	evs = append(evs, portalUser(aBasic3, coA, RoleBasic, a3)...)
	evs = append(evs, invited(aInvited, coA, grpPortal, ClassSupport, RoleMember)...)
	evs = append(evs, portalUser(aSusp, coA, RoleAdmin)...)
	evs = append(evs, UserSuspended{Person: aSusp})
	evs = append(evs, ContactAdded{Person: aContact, Name: "Contact", Email: email(aContact), HomeCompany: coA, NotificationPrefs: []string{"tickets"}})
	evs = append(evs, portalUser(bMaster, coB, RoleMasterAdmin)...)
	evs = append(evs, portalUser(bAdmin, coB, RoleAdmin)...)
	evs = append(evs, portalUser(bMember, coB, RoleMember)...)
	return evs
}

// given is the world with extra events applied on top.
func given(extra ...Event) *Directory {
	d := NewDirectory(tn)
	for _, e := range world() {
		Evolve(d, e)
	}
	for _, e := range extra {
		Evolve(d, e)
	}
	return d
}

// companyD adds company D (customer, sites d1, d2) that has no master admin.
func companyD() []Event {
	return []Event{CompanyRegistered{Company: coD, Name: "Delta", Kind: KindCustomer},
		SiteAdded{Company: coD, Site: "d1", Name: "D1"}, SiteAdded{Company: coD, Site: "d2", Name: "D2"}}
}

// secondTenantAdmin adds root2, another active tenant administrator.
func secondTenantAdmin() []Event { return active("root2", prov, grpAdmins, ClassNormal, "") }

// rootNotMaster moves the provider's master admin role from root to staff, so that root is only
// the tenant's (last) administrator.
func rootNotMaster() []Event {
	return []Event{MasterAdminTransferred{Company: prov, From: root, To: staff}}
}

func cat(groups ...[]Event) []Event {
	var out []Event
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func U(id PersonID) Principal { return User(id) }

func service(scopes ...Permission) Principal {
	return Principal{Kind: PrincipalService, Service: "crm", Scopes: scopes}
}

// decideCase is one row of a decider table.
type decideCase struct {
	name  string
	given []Event // on top of the world
	fresh bool    // start from an empty directory instead of the world
	by    Principal
	cmd   DirectoryCommand

	err   *Error // expected refusal (matched by code, and kind)
	field string // expected offending field of an invalid command

	want  []Event                                          // expected events, exactly
	noop  bool                                             // accepted without events
	check func(t *testing.T, d *Directory, events []Event) // on the state after the events
}

func (tc decideCase) directory() *Directory {
	if tc.fresh {
		d := NewDirectory(tn)
		for _, e := range tc.given {
			Evolve(d, e)
		}
		return d
	}
	return given(tc.given...)
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.directory()
			events, err := Decide(d, tc.by, tc.cmd)
			if !reflect.DeepEqual(d, tc.directory()) {
				t.Fatal("Decide changed the directory")
			}
			if tc.err != nil {
				if err == nil {
					t.Fatalf("want refusal %s, got events %#v", tc.err.Code, events)
				}
				var de *Error
				if !errors.As(err, &de) || !errors.Is(err, tc.err) || de.Kind != tc.err.Kind {
					t.Fatalf("want %s (kind %d), got %v", tc.err.Code, tc.err.Kind, err)
				}
				if tc.field != "" && de.Field != tc.field {
					t.Fatalf("want field %q, got %v", tc.field, err)
				}
				if events != nil {
					t.Fatalf("a refusal with events %#v", events)
				}
				return
			}
			if err != nil {
				t.Fatalf("want acceptance, got %v", err)
			}
			switch {
			case tc.noop:
				if len(events) != 0 {
					t.Fatalf("want no events, got %#v", events)
				}
			case tc.want == nil && tc.check == nil:
				t.Fatal("case asserts nothing")
			case tc.want != nil && !reflect.DeepEqual(events, tc.want):
				t.Fatalf("events:\n got %#v\nwant %#v", events, tc.want)
			}
			for _, e := range events {
				Evolve(d, e)
			}
			if tc.check != nil {
				tc.check(t, d, events)
			}
		})
	}
}

// TestWorld guards the fixture itself: the tables below rely on it.
func TestWorld(t *testing.T) {
	d := given()
	if d.SeatsUsed() != 3 || d.Seats != 4 {
		t.Fatalf("seats %d/%d", d.SeatsUsed(), d.Seats)
	}
	if d.Companies[coA].MasterAdmin != aMaster || d.Companies[coB].MasterAdmin != bMaster || d.Companies[prov].MasterAdmin != root {
		t.Fatal("master admins")
	}
	for id, class := range map[PersonID]Class{root: ClassNormal, staff: ClassNormal, aMember: ClassSupport, aContact: ClassContact} {
		if got := d.ClassOf(d.People[id]); got != class {
			t.Fatalf("%s is %s, want %s", id, got, class)
		}
	}
	if d.People[aSusp].Status != StatusSuspended || d.People[aInvited].Status != StatusInvited || d.People[aMember].Status != StatusActive {
		t.Fatal("statuses")
	}
	if !d.IsTenantAdmin(U(root)) || d.IsTenantAdmin(U(um)) || !d.hasTenantPermission(U(um), PermUsersManage) {
		t.Fatal("tenant rights")
	}
}

func TestDecideOnMissingTenant(t *testing.T) {
	_, err := Decide(NewDirectory("nope"), System(), RegisterCompany{Company: "x", Name: "X", Kind: KindCustomer})
	if !errors.Is(err, ErrTenantNotFound) {
		t.Fatalf("got %v", err)
	}
}

func TestInactiveActorsAreRefused(t *testing.T) {
	cmd := SuspendUser{Person: aBasic}
	for _, by := range []PersonID{aSusp, aInvited, aContact, "ghost"} {
		_, err := Decide(given(), U(by), cmd)
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("%s acting: %v", by, err)
		}
	}
	// Removed: the same answer.
	_, err := Decide(given(UserRemoved{Person: aAdmin}), U(aAdmin), cmd)
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("removed acting: %v", err)
	}
}
