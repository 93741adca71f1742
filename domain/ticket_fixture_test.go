package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
)

// The fixture every ticket, document and contractor test judges against. State is built only
// through Evolve from events, as the command side rebuilds it.
//
//	companies: prov (provider), acme (customer: sites a1 a2 a3), globex (customer: g1),
//	           partnerco (partner), fixit (contractor of acme), rivalfix (contractor of globex)
//	groups:    admins (tenant:admin), staff (normal, support set), billing (normal, billing set),
//	           portal (support users), contractors (normal, contractors:manage only),
//	           docs (normal, documents:read/write only), readers (normal, tickets:read only),
//	           acmedesk (normal, support set, access: acme)
const (
	prov, acme, globex, partnerco, fixit, rivalfix domain.CompanyID = "prov", "acme", "globex", "partnerco", "fixit", "rivalfix"
	a1, a2, a3, g1                                 domain.SiteID    = "a1", "a2", "a3", "g1"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type world struct {
	t *testing.T
	d *domain.Directory
}

func (w *world) apply(events ...domain.Event) *world {
	for _, e := range events {
		domain.Evolve(w.d, e)
	}
	return w
}

// normal adds an active normal user of the provider in group.
func (w *world) normal(id domain.PersonID, group domain.GroupID) {
	w.apply(domain.UserInvited{Person: id, Name: string(id), Email: string(id) + "@prov.example", HomeCompany: prov, Group: group,
		Class: domain.ClassNormal, TokenHash: "h-" + string(id), ExpiresAt: t0.Add(time.Hour)},
		domain.InvitationAccepted{Person: id, Subject: "sub-" + string(id)})
}

// support adds an active support user of home holding role there (perms: named set; "" = default).
func (w *world) support(id domain.PersonID, home domain.CompanyID, role domain.Role, perms string, sites ...domain.SiteID) {
	if perms == "" {
		perms = "support"
		if role == domain.RoleMasterAdmin || role == domain.RoleAdmin {
			perms = "full"
		}
	}
	w.apply(domain.UserInvited{Person: id, Name: string(id), Email: string(id) + "@" + string(home) + ".example", HomeCompany: home,
		Class: domain.ClassSupport, TokenHash: "h-" + string(id), ExpiresAt: t0.Add(time.Hour)},
		domain.MembershipGranted{Person: id, Company: home, Role: role, Permissions: domain.PermissionSet{Named: perms}, Sites: sites},
		domain.InvitationAccepted{Person: id, Subject: "sub-" + string(id)})
}

// technician adds a technician of a contractor; active unless invitedOnly.
func (w *world) technician(id domain.PersonID, contractor domain.CompanyID, invitedOnly bool) {
	w.apply(domain.TechnicianAdded{Person: id, Company: contractor, Name: string(id), Email: string(id) + "@" + string(contractor) + ".example",
		TokenHash: "h-" + string(id), ExpiresAt: t0.Add(time.Hour)})
	if !invitedOnly {
		w.apply(domain.InvitationAccepted{Person: id, Subject: "sub-" + string(id)})
	}
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, d: domain.NewDirectory("t1")}
	w.apply(
		domain.TenantConfigured{Tenant: "t1", Name: "T", Seats: 100},
		domain.CompanyRegistered{Company: prov, Name: "Provider", Kind: domain.KindProvider},
		domain.CompanyRegistered{Company: acme, Name: "Acme", Kind: domain.KindCustomer},
		domain.SiteAdded{Company: acme, Site: a1, Name: "A1"}, domain.SiteAdded{Company: acme, Site: a2, Name: "A2"}, domain.SiteAdded{Company: acme, Site: a3, Name: "A3"},
		domain.CompanyRegistered{Company: globex, Name: "Globex", Kind: domain.KindCustomer},
		domain.SiteAdded{Company: globex, Site: g1, Name: "G1"},
		domain.CompanyRegistered{Company: partnerco, Name: "Partner", Kind: domain.KindPartner},
		domain.CompanyRegistered{Company: fixit, Name: "FixIt", Kind: domain.KindContractor, RegisteredBy: acme},
		domain.CompanyRegistered{Company: rivalfix, Name: "RivalFix", Kind: domain.KindContractor, RegisteredBy: globex},
		domain.UserGroupCreated{Group: "admins", Name: "Administrators", Permissions: domain.PermissionSet{List: []domain.Permission{domain.PermTenantAdmin}}},
		domain.UserGroupCreated{Group: "staff", Name: "Staff", Permissions: domain.PermissionSet{Named: "support"}},
		domain.UserGroupCreated{Group: "billing", Name: "Billing", Permissions: domain.PermissionSet{Named: "billing"}},
		domain.UserGroupCreated{Group: "portal", Name: "Portal", SupportUser: true, Permissions: domain.PermissionSet{Named: "support"}},
		domain.UserGroupCreated{Group: "contractors", Name: "Contractor desk", Permissions: domain.PermissionSet{List: []domain.Permission{domain.PermContractorsManage}}},
		domain.UserGroupCreated{Group: "docs", Name: "Docs", Permissions: domain.PermissionSet{List: []domain.Permission{domain.PermDocumentsWrite, domain.PermDocumentsRead}}},
		domain.UserGroupCreated{Group: "readers", Name: "Readers", Permissions: domain.PermissionSet{List: []domain.Permission{domain.PermTicketsRead}}},
		domain.UserGroupCreated{Group: "acmedesk", Name: "Acme desk", Permissions: domain.PermissionSet{Named: "support"}},
		domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: "acmedesk", Target: acme},
	)
	w.normal("root", "admins")
	w.normal("agent", "staff")
	w.normal("scoped", "staff") // user-level access: globex only
	w.apply(domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: "scoped", Target: globex})
	w.normal("grouped", "acmedesk") // group-level access: acme
	w.normal("clerk", "billing")
	w.normal("desk", "contractors")
	w.normal("archivist", "docs")
	w.normal("reader", "readers") // tickets:read only

	w.support("acmeMaster", acme, domain.RoleMasterAdmin, "")
	w.support("acmeAdmin", acme, domain.RoleAdmin, "")
	w.support("acmeBillingAdmin", acme, domain.RoleAdmin, "billing")
	w.support("acmeMember", acme, domain.RoleMember, "")
	w.support("acmeMemberRO", acme, domain.RoleMember, "billing")
	w.support("acmeManager", acme, domain.RoleManager, "", a1, a2)
	w.support("acmeBasic", acme, domain.RoleBasic, "", a1)
	w.support("acmeBasic2", acme, domain.RoleBasic, "", a1)
	w.support("globexAdmin", globex, domain.RoleAdmin, "")
	w.support("partnerUser", partnerco, domain.RoleMember, "") // user-level access: acme
	w.apply(domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: "partnerUser", Target: acme})
	w.support("siteUser", partnerco, domain.RoleMember, "") // read a2, write a3, restricted
	w.apply(domain.SitePermissionsSet{Person: "siteUser", ReadSites: []domain.SiteID{a2}, WriteSites: []domain.SiteID{a3}, Responsible: []string{"staff", "user:agent"}},
		domain.TicketRestrictionsSet{Person: "siteUser", TicketTypes: []string{"incident"}, Restricted: true, Statuses: []string{"resolved", "closed"}})
	w.support("fixAdmin", fixit, domain.RoleAdmin, "")
	w.technician("tech", fixit, false)
	w.technician("tech2", fixit, false)
	w.technician("pendingTech", fixit, true)
	w.technician("rivalTech", rivalfix, false)
	w.support("suspended", acme, domain.RoleMember, "")
	w.apply(domain.UserSuspended{Person: "suspended"})
	w.apply(domain.ContactAdded{Person: "contact", Name: "C", Email: "c@acme.example", HomeCompany: acme})
	return w
}

// ticket builds a ticket's state from its opening and further events.
func ticket(id domain.TicketID, company domain.CompanyID, site domain.SiteID, reporter domain.PersonID, more ...domain.Event) *domain.Ticket {
	t := domain.NewTicket(id)
	domain.EvolveTicket(t, domain.TicketOpened{Ticket: id, Company: company, Site: site, Type: "incident", Status: domain.TicketOpen,
		Reporter: reporter, Title: "Leak"})
	for _, e := range more {
		domain.EvolveTicket(t, e)
	}
	return t
}

func code(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Code
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func service(scopes ...domain.Permission) domain.Principal {
	return domain.Principal{Kind: domain.PrincipalService, Service: "crm", Scopes: scopes}
}

// run judges a ticket command and compares the outcome: a refusal code, or exactly the events.
func runTicket(t *testing.T, d *domain.Directory, by domain.Principal, tk *domain.Ticket, cmd domain.TicketCommand, wantCode string, want []domain.Event) {
	t.Helper()
	got, err := domain.DecideTicket(tk, d, by, cmd)
	compare(t, got, err, wantCode, want)
}

func compare(t *testing.T, got []domain.Event, err error, wantCode string, want []domain.Event) {
	t.Helper()
	if c := code(err); c != wantCode {
		t.Fatalf("refusal %q (%v), want %q", c, err, wantCode)
	}
	if wantCode != "" {
		if got != nil {
			t.Fatalf("a refusal with events %v", got)
		}
		return
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Fatalf("events\n got %#v\nwant %#v", got, want)
	}
}
