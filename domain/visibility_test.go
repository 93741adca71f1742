package domain_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
	worldgen "github.com/portal-access/backend/internal/testkit/world"
)

// reasonStrings renders reasons as "rule" or "rule:level".
func reasonStrings(rs []domain.TicketReason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func personStrings(rs []domain.PersonReason) []string {
	var out []string
	for _, r := range rs {
		s := r.Rule
		if r.Company != "" {
			s += ":" + string(r.Company)
		}
		if r.Ticket != "" {
			s += ":" + string(r.Ticket)
		}
		out = append(out, s)
	}
	return out
}

// checkTicket asserts the reference and the scope both give want (nil: not visible).
func checkTicket(t *testing.T, d *domain.Directory, by domain.PersonID, v domain.TicketView, want ...string) {
	t.Helper()
	ref := reasonStrings(d.TicketReasons(u(by), v))
	got := reasonStrings(d.ScopeOf(by).TicketReasons(v))
	if !slices.Equal(ref, want) {
		t.Errorf("%s on %+v: reference %v, want %v", by, v, ref, want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s on %+v: scope %v, want %v", by, v, got, want)
	}
}

func TestScopeTicketRules(t *testing.T) {
	w := newWorld(t)
	w.apply(domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: string(partnerco), Target: globex})
	w.support("partnerBasic", partnerco, domain.RoleMember, "")
	d := w.d
	tA1 := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic"}
	tA2 := domain.TicketView{Company: acme, Site: a2, Reporter: "acmeMember"}
	tA3 := domain.TicketView{Company: acme, Site: a3, Reporter: "siteUser"}
	tAcme := domain.TicketView{Company: acme, Reporter: "acmeMember"}
	tG1 := domain.TicketView{Company: globex, Site: g1, Reporter: "globexAdmin"}
	tProv := domain.TicketView{Company: prov, Reporter: "root"}
	tFix := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic2", Contractor: fixit, Technician: "tech"}

	t.Run("own_request", func(t *testing.T) {
		checkTicket(t, d, "acmeBasic", tA1, "own_request")
		checkTicket(t, d, "acmeBasic2", tA1)
		checkTicket(t, d, "acmeBasic", tA2)
	})
	t.Run("company_role", func(t *testing.T) {
		checkTicket(t, d, "acmeMaster", tA1, "company_role")
		checkTicket(t, d, "acmeAdmin", tA2, "company_role")
		checkTicket(t, d, "acmeMember", tAcme, "own_request", "company_role")
		checkTicket(t, d, "acmeMemberRO", tA1)     // billing set: no tickets:read
		checkTicket(t, d, "acmeBillingAdmin", tA1) // idem
		checkTicket(t, d, "globexAdmin", tA1)
	})
	t.Run("managed_site", func(t *testing.T) {
		checkTicket(t, d, "acmeManager", tA1, "managed_site")
		checkTicket(t, d, "acmeManager", tA3)
		checkTicket(t, d, "acmeManager", tAcme) // a company-wide ticket is at no site
	})
	t.Run("site_read", func(t *testing.T) {
		checkTicket(t, d, "siteUser", tA2, "site_read")
		checkTicket(t, d, "siteUser", tA3, "own_request", "site_read") // write implies read
		checkTicket(t, d, "siteUser", tA1)
	})
	t.Run("company_access with its level", func(t *testing.T) {
		checkTicket(t, d, "partnerUser", tA1, "company_access:user")
		checkTicket(t, d, "grouped", tA2, "company_access:group")
		checkTicket(t, d, "partnerBasic", tG1, "company_access:company")
		checkTicket(t, d, "scoped", tProv, "company_access:own") // a normal user's own company counts
		checkTicket(t, d, "scoped", tG1, "company_access:user")
		checkTicket(t, d, "scoped", tA1)
		checkTicket(t, d, "acmeBasic", tAcme) // a support user's own company does not
	})
	t.Run("internal_unrestricted", func(t *testing.T) {
		checkTicket(t, d, "agent", tG1, "internal_unrestricted")
		checkTicket(t, d, "root", tA1, "internal_unrestricted")
		checkTicket(t, d, "clerk", tA1) // group without tickets:read
	})
	t.Run("contractor_assignment", func(t *testing.T) {
		checkTicket(t, d, "tech", tFix, "contractor_assignment")
		checkTicket(t, d, "tech2", tFix)
		checkTicket(t, d, "fixAdmin", tFix, "contractor_assignment")
		checkTicket(t, d, "fixAdmin", tA1)
		checkTicket(t, d, "rivalTech", tFix)
		checkTicket(t, d, "tech", domain.TicketView{Company: acme, Technician: "tech"}) // no contractor: no assignment
	})
	t.Run("several grounds, in the order of the table", func(t *testing.T) {
		w.apply(domain.SitePermissionsSet{Person: "acmeManager", ReadSites: []domain.SiteID{a1}})
		checkTicket(t, w.d, "acmeManager", domain.TicketView{Company: acme, Site: a1, Reporter: "acmeManager"},
			"own_request", "managed_site", "site_read")
	})
	t.Run("removing a site ends managing it, and a reused site id is another site", func(t *testing.T) {
		w := newWorld(t)
		w.apply(domain.SiteRemoved{Company: acme, Site: a2}, domain.SiteAdded{Company: globex, Site: a2, Name: "reused"},
			domain.MembershipGranted{Person: "globexAdmin", Company: globex, Role: domain.RoleAdmin, Permissions: domain.PermissionSet{Named: "full"}})
		w.support("globexMgr", globex, domain.RoleManager, "", a2)
		checkTicket(t, w.d, "acmeManager", domain.TicketView{Company: acme, Site: a2})
		checkTicket(t, w.d, "globexMgr", domain.TicketView{Company: acme, Site: a2}) // the old acme ticket at the old a2
		checkTicket(t, w.d, "globexMgr", domain.TicketView{Company: globex, Site: a2}, "managed_site")
	})
}

// The reference change: every permission-gated ground is decided by one company of the ticket.
func TestTicketReadPermissionIsDecidedPerGround(t *testing.T) {
	w := newWorld(t)
	// A partner user whose home membership lacks tickets:read but who is a member of a
	// contractor with it: partner access follows the home membership, never the contractor's.
	w.support("pc", partnerco, domain.RoleMember, "billing")
	w.apply(domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: "pc", Target: acme},
		domain.MembershipGranted{Person: "pc", Company: fixit, Role: domain.RoleMember, Permissions: domain.PermissionSet{Named: "support"}})
	checkTicket(t, w.d, "pc", domain.TicketView{Company: acme, Site: a1})
	checkTicket(t, w.d, "pc", domain.TicketView{Company: acme, Site: a1, Contractor: fixit}) // was company_access:user

	// A contractor admin's assignment follows its membership of the contractor, not of the
	// ticket's company.
	w.support("dual", acme, domain.RoleBasic, "support", a1)
	w.apply(domain.MembershipGranted{Person: "dual", Company: fixit, Role: domain.RoleAdmin, Permissions: domain.PermissionSet{Named: "billing"}})
	checkTicket(t, w.d, "dual", domain.TicketView{Company: acme, Site: a2, Contractor: fixit}) // was contractor_assignment
	w.support("dual2", acme, domain.RoleBasic, "billing", a1)
	w.apply(domain.MembershipGranted{Person: "dual2", Company: fixit, Role: domain.RoleAdmin, Permissions: domain.PermissionSet{Named: "full"}})
	checkTicket(t, w.d, "dual2", domain.TicketView{Company: acme, Site: a2, Contractor: fixit}, "contractor_assignment") // was none

	// A normal user holding a contractor's admin membership: its group or that membership.
	w.apply(domain.MasterAdminTransferred{Company: fixit, To: "clerk"})
	checkTicket(t, w.d, "clerk", domain.TicketView{Company: acme, Site: a2, Contractor: fixit}, "contractor_assignment") // was none
	checkTicket(t, w.d, "clerk", domain.TicketView{Company: acme, Site: a2})
}

func TestNoTableForContactsInvitedSuspendedRemovedUsers(t *testing.T) {
	w := newWorld(t)
	w.support("leaver", acme, domain.RoleMember, "")
	w.apply(domain.UserRemoved{Person: "leaver"})
	w.support("demoted", acme, domain.RoleAdmin, "")
	w.apply(domain.UserDemotedToContact{Person: "demoted"})
	w.apply(domain.UserInvited{Person: "newbie", Name: "N", Email: "n@acme.example", HomeCompany: acme, Class: domain.ClassSupport,
		TokenHash: "h-newbie", ExpiresAt: t0.Add(time.Hour)},
		domain.MembershipGranted{Person: "newbie", Company: acme, Role: domain.RoleAdmin, Permissions: domain.PermissionSet{Named: "full"}})
	d := w.d
	doc := &domain.Document{ID: "d1", Attached: true, Company: acme}
	tA1 := domain.TicketView{Company: acme, Site: a1, Reporter: "suspended"}
	for _, id := range []domain.PersonID{"contact", "pendingTech", "newbie", "suspended", "leaver", "demoted", "ghost"} {
		s := d.ScopeOf(id)
		if s.HasTable || !reflect.DeepEqual(s, domain.Scope{Person: id}) {
			t.Errorf("%s has a table: %+v", id, s)
		}
		if rs := d.TicketReasons(u(id), tA1); rs != nil || s.TicketReasons(tA1) != nil {
			t.Errorf("%s sees a ticket: %v", id, rs)
		}
		if ok, _ := d.CanSeeCompany(u(id), acme); ok {
			t.Errorf("%s sees its company", id)
		}
		if ok, _ := s.SeesCompany(acme); ok {
			t.Errorf("%s's scope sees its company", id)
		}
		if v, _ := d.PersonVisibility(u(id), id, nil); v != domain.VisibilityNone {
			t.Errorf("%s sees itself: %s", id, v)
		}
		if v, _ := s.PersonVisibility(d.People[id], nil); v != domain.VisibilityNone {
			t.Errorf("%s's scope sees itself: %s", id, v)
		}
		if ok, _ := d.CanSeeDocument(u(id), doc, nil); ok || d.CanSeeCompanyDocuments(u(id), acme) {
			t.Errorf("%s sees a document", id)
		}
		if ok, _ := s.SeesDocument(doc, nil); ok {
			t.Errorf("%s's scope sees a document", id)
		}
	}
	// Reactivation gives the table back.
	w.apply(domain.UserReactivated{Person: "suspended"})
	checkTicket(t, w.d, "suspended", tA1, "own_request", "company_role")
}

func checkCompany(t *testing.T, d *domain.Directory, by domain.Principal, c domain.CompanyID, want ...string) {
	t.Helper()
	ok, rs := d.CanSeeCompany(by, c)
	if got := reasonStrings(rs); ok != (len(want) > 0) || !slices.Equal(got, want) {
		t.Errorf("%v on company %s: %v %v, want %v", by, c, ok, got, want)
	}
	if by.Kind != domain.PrincipalUser {
		return
	}
	if _, ok := d.Companies[c]; !ok {
		return // the scope answers for companies of the tenant only
	}
	sok, srs := d.ScopeOf(by.Person).SeesCompany(c)
	if got := reasonStrings(srs); sok != ok || !slices.Equal(got, want) {
		t.Errorf("%v on company %s: scope %v %v, want %v", by, c, sok, got, want)
	}
}

func TestCompanyVisibility(t *testing.T) {
	w := newWorld(t)
	w.apply(domain.CompanyRegistered{Company: "globex-east", Name: "Globex East", Kind: domain.KindCustomer, Parent: globex},
		domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: string(partnerco), Target: globex, WithSubsidiaries: true})
	w.support("partnerBasic", partnerco, domain.RoleBasic, "")
	d := w.d
	checkCompany(t, d, u("acmeMember"), acme, "membership", "company_access:own")
	checkCompany(t, d, u("acmeMember"), globex)
	checkCompany(t, d, u("acmeBasic"), acme, "membership", "company_access:own") // a basic user sees its company
	checkCompany(t, d, u("partnerUser"), partnerco, "membership", "company_access:own")
	checkCompany(t, d, u("partnerUser"), acme, "company_access:user") // user level wins over partnerco's company level
	checkCompany(t, d, u("partnerUser"), globex)
	checkCompany(t, d, u("partnerBasic"), globex, "company_access:company")
	checkCompany(t, d, u("partnerBasic"), "globex-east", "company_access:company") // with subsidiaries
	checkCompany(t, d, u("grouped"), acme, "company_access:group")
	checkCompany(t, d, u("grouped"), prov, "company_access:own")
	checkCompany(t, d, u("grouped"), globex)
	checkCompany(t, d, u("scoped"), globex, "company_access:user")
	checkCompany(t, d, u("agent"), rivalfix, "internal_unrestricted")
	checkCompany(t, d, u("root"), prov, "internal_unrestricted")
	checkCompany(t, d, u("acmeMaster"), acme, "membership", "company_access:own")
	checkCompany(t, d, u("fixAdmin"), fixit, "membership", "company_access:own")
	checkCompany(t, d, u("tech"), fixit, "membership", "company_access:own")
	checkCompany(t, d, u("tech"), acme) // an assigned ticket does not show its company
	checkCompany(t, d, u("agent"), "nope")
	checkCompany(t, d, domain.System(), globex, "system")
	checkCompany(t, d, service(), globex, "service")
	// Revoking the last target keeps "own company only".
	w.apply(domain.CompanyAccessRevoked{Level: domain.LevelUser, Holder: "scoped", Target: globex})
	checkCompany(t, w.d, u("scoped"), globex)
	checkCompany(t, w.d, u("scoped"), prov, "company_access:own")
	// Clearing falls back to the next level: unrestricted.
	w.apply(domain.CompanyAccessCleared{Level: domain.LevelUser, Holder: "scoped"})
	checkCompany(t, w.d, u("scoped"), globex, "internal_unrestricted")
}

func checkPerson(t *testing.T, d *domain.Directory, by, target domain.PersonID, visible []domain.TicketRef, want domain.Visibility, reasons ...string) {
	t.Helper()
	v, rs := d.PersonVisibility(u(by), target, visible)
	if got := personStrings(rs); v != want || !slices.Equal(got, reasons) {
		t.Errorf("%s on %s: %s %v, want %s %v", by, target, v, got, want, reasons)
	}
	sv, srs := d.ScopeOf(by).PersonVisibility(d.People[target], visible)
	if got := personStrings(srs); sv != want || !slices.Equal(got, reasons) {
		t.Errorf("%s on %s: scope %s %v, want %s %v", by, target, sv, got, want, reasons)
	}
}

func TestPersonVisibility(t *testing.T) {
	w := newWorld(t)
	w.support("acmeMgr2", acme, domain.RoleManager, "", a2, a3)
	w.support("acmeBasic3", acme, domain.RoleBasic, "", a3)
	w.apply(domain.MembershipGranted{Person: "globexAdmin", Company: acme, Role: domain.RoleBasic, Permissions: domain.PermissionSet{Named: "support"}, Sites: []domain.SiteID{a2}})
	d := w.d
	full, limited, none := domain.VisibilityFull, domain.VisibilityLimited, domain.VisibilityNone

	t.Run("everyone sees itself; a basic user only itself", func(t *testing.T) {
		checkPerson(t, d, "acmeBasic", "acmeBasic", nil, full, "self")
		checkPerson(t, d, "acmeBasic", "acmeBasic2", nil, none)
		checkPerson(t, d, "acmeBasic", "acmeMaster", nil, none)
		checkPerson(t, d, "tech", "tech", nil, full, "self", "company_role:fixit")
	})
	t.Run("a portal admin or member sees its company's people", func(t *testing.T) {
		checkPerson(t, d, "acmeMember", "acmeBasic", nil, full, "company_role:acme")
		checkPerson(t, d, "acmeAdmin", "contact", nil, full, "company_role:acme")        // contacts are people of the company
		checkPerson(t, d, "acmeMaster", "globexAdmin", nil, full, "company_role:acme")   // a member through a membership
		checkPerson(t, d, "acmeMemberRO", "acmeManager", nil, full, "company_role:acme") // not refined by permissions
		checkPerson(t, d, "acmeMember", "globexAdmin", nil, full, "company_role:acme")   // belongs to acme by membership
		checkPerson(t, d, "globexAdmin", "acmeBasic", nil, none)                         // a basic membership sees nobody
		checkPerson(t, d, "acmeMember", "partnerUser", nil, none)                        // partner access is not membership
		checkPerson(t, d, "fixAdmin", "pendingTech", nil, full, "company_role:fixit")    // invited people are listed too
		checkPerson(t, d, "acmeAdmin", "tech", nil, none)                                // a registrar's admin: not its contractor's people
		checkPerson(t, d, "acmeMember", "suspended", nil, full, "company_role:acme")     // status does not matter
		checkPerson(t, d, "acmeMember", "ghost", nil, none)
	})
	t.Run("a manager sees the users of its managed sites", func(t *testing.T) {
		checkPerson(t, d, "acmeManager", "acmeBasic", nil, full, "managed_site:acme")   // a1
		checkPerson(t, d, "acmeManager", "acmeBasic3", nil, none)                       // a3
		checkPerson(t, d, "acmeMgr2", "acmeBasic3", nil, full, "managed_site:acme")     // a3
		checkPerson(t, d, "acmeManager", "acmeMgr2", nil, full, "managed_site:acme")    // managers overlapping at a2
		checkPerson(t, d, "acmeManager", "globexAdmin", nil, full, "managed_site:acme") // basic at a2, through a membership
		checkPerson(t, d, "acmeManager", "acmeMember", nil, none)                       // a member has no site
		checkPerson(t, d, "acmeManager", "siteUser", nil, none)                         // a site right is not a membership
	})
	t.Run("a normal user sees the people of visible companies", func(t *testing.T) {
		checkPerson(t, d, "agent", "acmeBasic", nil, full, "company_people:acme")
		checkPerson(t, d, "agent", "globexAdmin", nil, full, "company_people:acme", "company_people:globex")
		checkPerson(t, d, "scoped", "globexAdmin", nil, full, "company_people:globex")
		checkPerson(t, d, "scoped", "root", nil, full, "company_people:prov")
		checkPerson(t, d, "scoped", "acmeBasic", nil, none)
		checkPerson(t, d, "grouped", "acmeBasic", nil, full, "company_people:acme")
		checkPerson(t, d, "clerk", "tech", nil, full, "company_people:fixit") // not refined by permissions
		checkPerson(t, d, "root", "agent", nil, full, "company_people:prov")
	})
	t.Run("people named by a visible ticket: by name only", func(t *testing.T) {
		tk := domain.TicketRef{ID: "T1", TicketView: domain.TicketView{Company: globex, Site: g1, Reporter: "acmeBasic",
			Contractor: rivalfix, Technician: "rivalTech"}, ResponsibleUser: "partnerUser"}
		vis := d.VisibleTickets(u("scoped"), []domain.TicketRef{tk})
		if len(vis) != 1 {
			t.Fatal("scoped should see the globex ticket")
		}
		checkPerson(t, d, "scoped", "acmeBasic", vis, limited, "ticket_reference:T1")
		checkPerson(t, d, "scoped", "partnerUser", vis, limited, "ticket_reference:T1")
		checkPerson(t, d, "scoped", "rivalTech", vis, limited, "ticket_reference:T1")
		checkPerson(t, d, "scoped", "globexAdmin", vis, full, "company_people:globex") // full wins
		checkPerson(t, d, "scoped", "acmeMember", vis, none)
		if got := d.VisibleTickets(u("acmeBasic2"), []domain.TicketRef{tk}); len(got) != 0 {
			t.Fatalf("acmeBasic2 sees %v", got)
		}
		// The technician sees the reporter of its assignment by name.
		fix := domain.TicketRef{ID: "T2", TicketView: domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic2", Contractor: fixit, Technician: "tech"}}
		checkPerson(t, d, "tech", "acmeBasic2", d.VisibleTickets(u("tech"), []domain.TicketRef{fix}), limited, "ticket_reference:T2")
	})
	t.Run("scope-level people sets", func(t *testing.T) {
		s := d.ScopeOf("acmeManager")
		if all, cs := s.FullPeopleCompanies(); all || len(cs) != 0 || !reflect.DeepEqual(s.PeopleSites, map[domain.SiteID]domain.CompanyID{a1: acme, a2: acme}) {
			t.Errorf("manager: sites %v, companies %v", s.PeopleSites, cs)
		}
		if all, cs := d.ScopeOf("scoped").FullPeopleCompanies(); all || !slices.Equal(cs, []domain.CompanyID{globex, prov}) {
			t.Errorf("scoped: %v %v", all, cs)
		}
		if all, cs := d.ScopeOf("acmeAdmin").FullPeopleCompanies(); all || !slices.Equal(cs, []domain.CompanyID{acme}) {
			t.Errorf("acmeAdmin: %v %v", all, cs)
		}
		if s := d.ScopeOf("agent"); !s.PeopleOfAllCompanies || !s.AllCompanies || !s.Unrestricted {
			t.Errorf("agent: %+v", s)
		}
		if all, _ := d.ScopeOf("agent").FullPeopleCompanies(); !all {
			t.Error("agent sees every company's people")
		}
		if s := d.ScopeOf("acmeBasic"); len(s.PeopleCompanies) != 0 || len(s.PeopleSites) != 0 {
			t.Errorf("basic: %+v", s)
		}
	})
}

func TestDocumentVisibility(t *testing.T) {
	w := newWorld(t)
	d := w.d
	companyDoc := func(c domain.CompanyID) *domain.Document {
		return domain.EvolveDocument(domain.NewDocument("cd"), domain.DocumentAttached{Document: "cd", Company: c, Name: "x", ContentType: "text/plain", SizeBytes: 1})
	}
	tk := ticket("T1", acme, a1, "acmeBasic")
	ticketDoc := domain.EvolveDocument(domain.NewDocument("td"), domain.DocumentAttached{Document: "td", Ticket: "T1", Company: acme, Name: "x", ContentType: "text/plain", SizeBytes: 1})
	view := tk.View()
	check := func(by domain.PersonID, doc *domain.Document, tv *domain.TicketView, want ...string) {
		t.Helper()
		ok, rs := d.CanSeeDocument(u(by), doc, tv)
		if got := reasonStrings(rs); ok != (len(want) > 0) || !slices.Equal(got, want) {
			t.Errorf("%s on %s of %s: %v %v, want %v", by, doc.ID, doc.Company, ok, got, want)
		}
		sok, srs := d.ScopeOf(by).SeesDocument(doc, tv)
		if got := reasonStrings(srs); sok != ok || !slices.Equal(got, want) {
			t.Errorf("%s on %s of %s: scope %v %v, want %v", by, doc.ID, doc.Company, sok, got, want)
		}
		if doc.Ticket == "" && d.CanSeeCompanyDocuments(u(by), doc.Company) != ok {
			t.Errorf("%s on %s: CanSeeCompanyDocuments disagrees", by, doc.Company)
		}
	}
	t.Run("a ticket's documents follow the ticket", func(t *testing.T) {
		check("acmeBasic", ticketDoc, &view, "own_request")
		check("acmeManager", ticketDoc, &view, "managed_site")
		check("acmeBasic2", ticketDoc, &view)
		check("acmeMemberRO", ticketDoc, &view)
		check("acmeBasic", ticketDoc, nil) // unknown ticket
	})
	t.Run("company documents: a role other than basic, or a normal user seeing the company", func(t *testing.T) {
		check("acmeMember", companyDoc(acme), nil, "company_role")
		check("acmeManager", companyDoc(acme), nil, "company_role")
		check("acmeMemberRO", companyDoc(acme), nil, "company_role") // billing grants documents:read
		check("acmeBasic", companyDoc(acme), nil)
		check("globexAdmin", companyDoc(acme), nil)
		check("partnerUser", companyDoc(acme), nil) // partner access of a support user: no
		check("archivist", companyDoc(acme), nil, "internal_unrestricted")
		check("agent", companyDoc(globex), nil, "internal_unrestricted")
		check("grouped", companyDoc(acme), nil, "company_access:group")
		check("grouped", companyDoc(prov), nil, "company_access:own")
		check("grouped", companyDoc(globex), nil)
		check("reader", companyDoc(acme), nil)                        // tickets:read only
		check("root", companyDoc(acme), nil, "internal_unrestricted") // tenant:admin grants every tenant-wide right
		check("desk", companyDoc(acme), nil)                          // contractors:manage only
		check("acmeBasic", &domain.Document{ID: "x", Company: acme}, nil)
	})
}

// --- the property: the scope is the reference, over generated worlds

// synthViews makes ticket views the deciders would never produce together (any company with
// any site, contractor and technician, sites that were removed or reused), so that the scope is
// checked for every ticket, not only the plausible ones.
func synthViews(w *worldgen.World, n int) []domain.TicketView {
	r := rand.New(rand.NewPCG(uint64(w.Seed), 7))
	companies := append(w.Companies(), "nope")
	var sites []domain.SiteID
	for _, c := range w.Companies() {
		for s := range w.Directory.Companies[c].Sites {
			sites = append(sites, s)
		}
	}
	for _, e := range w.Events() {
		if sr, ok := e.(domain.SiteRemoved); ok {
			sites = append(sites, sr.Site)
		}
	}
	slices.Sort(sites)
	sites = append(slices.Compact(sites), "")
	people := append(slices.Clone(w.People), "")
	pick := func(n int) int { return r.IntN(n) }
	out := make([]domain.TicketView, 0, n)
	for range n {
		v := domain.TicketView{Company: companies[pick(len(companies))], Site: sites[pick(len(sites))], Reporter: people[pick(len(people))]}
		if r.IntN(2) == 0 {
			v.Contractor = companies[pick(len(companies))]
			v.Technician = people[pick(len(people))]
		}
		out = append(out, v)
	}
	return out
}

type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) merge(m map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range m {
		c.n[k] += v
	}
}

// checkWorld compares every scope-level answer with the reference in one world; it returns
// the first few differences and counts what was seen.
func checkWorld(w *worldgen.World, seen map[string]int) []string {
	var diffs []string
	fail := func(format string, args ...any) {
		if len(diffs) < 5 {
			diffs = append(diffs, fmt.Sprintf("seed %d: ", w.Seed)+fmt.Sprintf(format, args...))
		}
	}
	d := w.Directory
	refs := w.TicketRefs()
	views := make([]domain.TicketView, 0, len(refs)+40)
	for _, r := range refs {
		views = append(views, r.TicketView)
	}
	views = append(views, synthViews(w, 40)...)
	companies := w.Companies()
	targets := append(slices.Clone(w.People), "ghost")
	for _, v := range targets {
		by := u(v)
		s := d.ScopeOf(v)
		p := d.People[v]
		if table := p != nil && p.Type == domain.TypeSystemUser && p.Status == domain.StatusActive; s.HasTable != table {
			fail("%s: HasTable %v", v, s.HasTable)
		}
		switch {
		case p == nil:
			seen["viewer without table: unknown"]++
		case !s.HasTable:
			seen["viewer without table: "+string(p.Status)]++
			if !reflect.DeepEqual(s, domain.Scope{Person: v}) {
				fail("%s (%s) has a non-empty scope", v, p.Status)
			}
		default:
			seen["viewer: "+string(s.Class)]++
		}
		for _, tv := range views {
			want, got := d.TicketReasons(by, tv), s.TicketReasons(tv)
			if !slices.Equal(got, want) {
				fail("%s on ticket %+v: scope %v, reference %v", v, tv, got, want)
			}
			for _, r := range want {
				seen["ticket "+r.String()]++
			}
			if len(want) == 0 {
				seen["ticket not visible"]++
			}
		}
		for _, c := range companies {
			ok, want := d.CanSeeCompany(by, c)
			sok, got := s.SeesCompany(c)
			if ok != sok || !slices.Equal(got, want) {
				fail("%s on company %s: scope %v %v, reference %v %v", v, c, sok, got, ok, want)
			}
			for _, r := range want {
				seen["company "+r.String()]++
			}
			wantDocs := d.CompanyDocumentReasons(by, c)
			_, gotDocs := s.CompanyDocuments(c)
			if !slices.Equal(gotDocs, wantDocs) || d.CanSeeCompanyDocuments(by, c) != (len(wantDocs) > 0) {
				fail("%s on documents of %s: scope %v, reference %v", v, c, gotDocs, wantDocs)
			}
			for _, r := range wantDocs {
				seen["company documents "+r.String()]++
			}
		}
		for _, id := range w.DocIDs {
			doc := w.Documents[id]
			var tv *domain.TicketView
			if doc.Ticket != "" {
				view := w.Tickets[doc.Ticket].View()
				tv = &view
			}
			ok, want := d.CanSeeDocument(by, doc, tv)
			sok, got := s.SeesDocument(doc, tv)
			if ok != sok || !slices.Equal(got, want) {
				fail("%s on document %s: scope %v %v, reference %v %v", v, id, sok, got, ok, want)
			}
			if ok {
				seen[fmt.Sprintf("document visible (ticket document: %v)", doc.Ticket != "")]++
			}
		}
		visRef := d.VisibleTickets(by, refs)
		var visScope []domain.TicketRef
		for _, r := range refs {
			if s.SeesTicket(r.TicketView) {
				visScope = append(visScope, r)
			}
		}
		if !slices.Equal(visRef, visScope) {
			fail("%s: visible tickets differ", v)
		}
		for _, target := range targets {
			want, wantR := d.PersonVisibility(by, target, visRef)
			got, gotR := s.PersonVisibility(d.People[target], visScope)
			if got != want || !slices.Equal(gotR, wantR) {
				fail("%s on person %s: scope %s %v, reference %s %v", v, target, got, gotR, want, wantR)
			}
			seen["person "+string(want)]++
			for _, r := range wantR {
				seen["person reason "+r.Rule]++
			}
		}
	}
	return diffs
}

func TestScopeMatchesReferenceOverGeneratedWorlds(t *testing.T) {
	worlds, size := 1000, 120
	if testing.Short() {
		worlds = 200
	}
	start := time.Now()
	seen := &tally{n: map[string]int{}}
	workers := runtime.GOMAXPROCS(0)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		diffs  []string
		checks int
	)
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for seed := int64(1 + k); seed <= int64(worlds); seed += int64(workers) {
				w := worldgen.Generate(seed, size)
				ds := checkWorld(w, local)
				mu.Lock()
				checks++
				if len(diffs) < 20 {
					diffs = append(diffs, ds...)
				}
				mu.Unlock()
			}
			seen.merge(local)
		}()
	}
	wg.Wait()
	if checks != worlds {
		t.Fatalf("checked %d worlds of %d", checks, worlds)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	// The property is only as good as what the worlds exercise: every rule, level and answer.
	for _, k := range []string{
		"ticket own_request", "ticket company_role", "ticket managed_site", "ticket site_read",
		"ticket company_access:user", "ticket company_access:group", "ticket company_access:company", "ticket company_access:own",
		"ticket internal_unrestricted", "ticket contractor_assignment", "ticket not visible",
		"company membership", "company company_access:user", "company company_access:group", "company company_access:company",
		"company company_access:own", "company internal_unrestricted",
		"company documents company_role", "company documents company_access:user", "company documents company_access:own",
		"company documents internal_unrestricted",
		"document visible (ticket document: true)", "document visible (ticket document: false)",
		"person full", "person limited", "person none", "person reason self", "person reason company_people",
		"person reason company_role", "person reason managed_site", "person reason ticket_reference",
		"viewer: normal_user", "viewer: support_user", "viewer without table: invited", "viewer without table: suspended",
		"viewer without table: removed", "viewer without table: contact", "viewer without table: unknown",
	} {
		if seen.n[k] == 0 {
			t.Errorf("the generated worlds never exercised %q", k)
		}
	}
	if t.Failed() || testing.Verbose() {
		keys := make([]string, 0, len(seen.n))
		for k := range seen.n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %-55s %d", k, seen.n[k])
		}
		t.Logf("%d worlds of size %d in %s; seen:%s", worlds, size, time.Since(start).Round(time.Millisecond), b.String())
	}
}

// TestSameTableAsComparesEveryField changes each field of a scope but Person in turn (a field
// added to Scope is covered by construction) and expects SameTableAs to tell the difference.
func TestSameTableAsComparesEveryField(t *testing.T) {
	base := domain.Scope{Person: "p1", HasTable: true}
	other := base
	other.Person = "p2"
	if !base.SameTableAs(other) {
		t.Fatal("scopes that differ only in their person are not the same table")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "Person" {
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Map:
			m := reflect.MakeMap(f.Type)
			m.SetMapIndex(reflect.New(f.Type.Key()).Elem(), reflect.New(f.Type.Elem()).Elem())
			v.Set(m)
		default:
			t.Fatalf("field %s of kind %s: teach this test (and SameTableAs) about it", f.Name, v.Kind())
		}
		if base.SameTableAs(changed) || changed.SameTableAs(base) {
			t.Errorf("SameTableAs ignores field %s", f.Name)
		}
	}
	// Values inside maps count too: the same companies with other reasons.
	a, b := base, base
	a.Companies = map[domain.CompanyID][]domain.TicketReason{"c1": {{Rule: domain.ReasonCompanyRole}}}
	b.Companies = map[domain.CompanyID][]domain.TicketReason{"c1": {{Rule: domain.ReasonCompanyAccess, Level: domain.LevelGroup}}}
	if a.SameTableAs(b) {
		t.Error("SameTableAs ignores the reasons of a company")
	}
}
