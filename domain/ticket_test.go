package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/portal-access/backend/domain"
)

var u = domain.User

func TestCanSeeTicket(t *testing.T) {
	w := newWorld(t)
	tA1 := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic"}
	tA2 := domain.TicketView{Company: acme, Site: a2, Reporter: "acmeMember"}
	tA3 := domain.TicketView{Company: acme, Site: a3, Reporter: "siteUser"}
	tAcme := domain.TicketView{Company: acme, Reporter: "acmeMember"} // no site
	tG1 := domain.TicketView{Company: globex, Site: g1, Reporter: "globexAdmin"}
	tProv := domain.TicketView{Company: prov, Reporter: "root"}
	tFix := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic2", Contractor: fixit, Technician: "tech"}
	tFixNoTech := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic2", Contractor: fixit}
	tMgr := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeManager"}
	cases := []struct {
		name string
		by   domain.Principal
		t    domain.TicketView
		want []string // nil: not visible
	}{
		{"basic sees its own request", u("acmeBasic"), tA1, []string{"own_request"}},
		{"basic does not see another's request at its site", u("acmeBasic2"), tA1, nil},
		{"basic does not see another site", u("acmeBasic"), tA2, nil},
		{"master admin sees the company", u("acmeMaster"), tA1, []string{"company_role"}},
		{"admin sees the company", u("acmeAdmin"), tA2, []string{"company_role"}},
		{"member sees the company", u("acmeMember"), tA3, []string{"company_role"}},
		{"member sees its own request and by role", u("acmeMember"), tA2, []string{"own_request", "company_role"}},
		{"member sees a company-wide ticket", u("acmeMember"), tAcme, []string{"own_request", "company_role"}},
		{"member without tickets:read sees nothing", u("acmeMemberRO"), tA1, nil},
		{"admin with the billing set sees nothing", u("acmeBillingAdmin"), tA1, nil},
		{"manager sees a managed site", u("acmeManager"), tA1, []string{"managed_site"}},
		{"manager sees its own request", u("acmeManager"), tMgr, []string{"own_request", "managed_site"}},
		{"manager does not see another site", u("acmeManager"), tA3, nil},
		{"manager does not see a company-wide ticket", u("acmeManager"), tAcme, nil},
		{"read site", u("siteUser"), tA2, []string{"site_read"}},
		{"write site implies read", u("siteUser"), tA3, []string{"own_request", "site_read"}},
		{"no right at a1", u("siteUser"), tA1, nil},
		{"partner access at user level", u("partnerUser"), tA1, []string{"company_access"}},
		{"partner access does not reach globex", u("partnerUser"), tG1, nil},
		{"group-level access", u("grouped"), tA2, []string{"company_access"}},
		{"group-level access does not reach globex", u("grouped"), tG1, nil},
		{"scoped normal user: listed company", u("scoped"), tG1, []string{"company_access"}},
		{"scoped normal user: own company", u("scoped"), tProv, []string{"company_access"}},
		{"scoped normal user: unlisted company", u("scoped"), tA1, nil},
		{"unrestricted normal user", u("agent"), tG1, []string{"internal_unrestricted"}},
		{"tenant admin", u("root"), tA1, []string{"internal_unrestricted"}},
		{"normal user without tickets:read", u("clerk"), tA1, nil},
		{"other company's admin", u("globexAdmin"), tA1, nil},
		{"assigned technician", u("tech"), tFix, []string{"contractor_assignment"}},
		{"other technician of the contractor", u("tech2"), tFix, nil},
		{"contractor's admin", u("fixAdmin"), tFixNoTech, []string{"contractor_assignment"}},
		{"contractor's admin, unassigned ticket", u("fixAdmin"), tA1, nil},
		{"technician of another contractor", u("rivalTech"), tFix, nil},
		{"suspended user", u("suspended"), tA1, nil},
		{"invited technician", u("pendingTech"), domain.TicketView{Company: acme, Site: a1, Contractor: fixit, Technician: "pendingTech"}, nil},
		{"contact", u("contact"), tAcme, nil},
		{"unknown person", u("ghost"), tA1, nil},
		{"system", domain.System(), tG1, []string{"system"}},
		{"service with tickets:read", service(domain.PermTicketsRead), tG1, []string{"service"}},
		{"service without ticket scopes", service(domain.PermBillingRead), tG1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := w.d.CanSeeTicket(tc.by, tc.t)
			if ok != (tc.want != nil) || !slices.Equal(why, tc.want) && (len(why) > 0 || len(tc.want) > 0) {
				t.Fatalf("CanSeeTicket = %v %v, want %v", ok, why, tc.want)
			}
		})
	}
}

func TestTicketReasonsNameTheAccessLevel(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		by   domain.PersonID
		t    domain.TicketView
		want string
	}{
		{"partnerUser", domain.TicketView{Company: acme, Site: a1}, "company_access:user"},
		{"grouped", domain.TicketView{Company: acme}, "company_access:group"},
		{"scoped", domain.TicketView{Company: prov}, "company_access:own"},
		{"scoped", domain.TicketView{Company: globex}, "company_access:user"},
	}
	for _, tc := range cases {
		rs := w.d.TicketReasons(u(tc.by), tc.t)
		if len(rs) != 1 || rs[0].String() != tc.want {
			t.Errorf("%s: reasons %v, want %s", tc.by, rs, tc.want)
		}
	}
	// A company-level setting is named as such.
	w.apply(domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: string(partnerco), Target: globex})
	w.support("partnerBasic", partnerco, domain.RoleMember, "")
	if rs := w.d.TicketReasons(u("partnerBasic"), domain.TicketView{Company: globex}); len(rs) != 1 || rs[0].String() != "company_access:company" {
		t.Errorf("company-level access: %v", rs)
	}
	// Revoking the last target leaves the setting: the user does not fall back to a wider level.
	w.apply(domain.CompanyAccessRevoked{Level: domain.LevelUser, Holder: "partnerUser", Target: acme})
	if ok, why := w.d.CanSeeTicket(u("partnerUser"), domain.TicketView{Company: acme}); ok {
		t.Errorf("revoked access still visible: %v", why)
	}
}

func TestCanTransition(t *testing.T) {
	all := domain.TicketStatuses()
	for _, from := range all {
		for _, to := range all {
			want := from != to && (from != domain.TicketClosed || to == domain.TicketOpen)
			if got := domain.CanTransition(from, to); got != want {
				t.Errorf("%s -> %s: %v, want %v", from, to, got, want)
			}
		}
	}
	if domain.CanTransition("open", "done") || domain.CanTransition("done", "open") {
		t.Error("unknown statuses transition")
	}
}

func TestEvolveTicket(t *testing.T) {
	tk := ticket("T1", acme, a1, "acmeBasic",
		domain.TicketStatusChanged{Ticket: "T1", From: domain.TicketOpen, To: domain.TicketInProgress},
		domain.TicketAssigned{Ticket: "T1", Group: "staff"},
		domain.TicketAssigned{Ticket: "T1", User: "agent", FromGroup: "staff"},
		domain.ContractorAssigned{Ticket: "T1", Contractor: fixit, Technician: "tech"},
		domain.TicketCommented{Ticket: "T1", Comment: "c1", Author: "acmeBasic", Body: "hi"},
		domain.DocumentAttached{Document: "d1", Ticket: "T1", Company: acme, Name: "a.pdf", ContentType: "application/pdf", SizeBytes: 3},
		domain.CompanyRenamed{Company: acme, Name: "ignored"}, // another aggregate's event
	)
	want := domain.TicketView{Company: acme, Site: a1, Reporter: "acmeBasic", Contractor: fixit, Technician: "tech"}
	if !tk.Opened || tk.Status != domain.TicketInProgress || tk.View() != want || tk.ResponsibleUser != "agent" || tk.ResponsibleGroup != "" {
		t.Fatalf("state %+v", tk)
	}
	if tk.Comments != 1 || !tk.HasComment("c1") || tk.Documents != 1 || !tk.HasDocument("d1") || tk.HasDocument("d2") {
		t.Fatalf("comments/documents %+v", tk)
	}
	doc := domain.EvolveDocument(domain.NewDocument("d9"), domain.DocumentAttached{Document: "d9", Company: acme, Name: "x", ContentType: "text/plain", SizeBytes: 1})
	if !doc.Attached || doc.Company != acme || doc.Ticket != "" {
		t.Fatalf("document %+v", doc)
	}
}

func TestOpenTicket(t *testing.T) {
	w := newWorld(t)
	open := func(site domain.SiteID) domain.OpenTicket {
		return domain.OpenTicket{Ticket: "T9", Site: site, Type: "incident", Title: " Leak ", Description: "water"}
	}
	opened := func(company domain.CompanyID, site domain.SiteID, reporter domain.PersonID) []domain.Event {
		return []domain.Event{domain.TicketOpened{Ticket: "T9", Company: company, Site: site, Type: "incident", Status: domain.TicketOpen,
			Reporter: reporter, Title: "Leak", Description: "water"}}
	}
	with := func(c domain.OpenTicket, f func(*domain.OpenTicket)) domain.OpenTicket { f(&c); return c }
	cases := []struct {
		name string
		by   domain.Principal
		cmd  domain.OpenTicket
		code string
		want []domain.Event
	}{
		{"basic at its site", u("acmeBasic"), open(a1), "", opened(acme, a1, "acmeBasic")},
		{"basic at its site, company given", u("acmeBasic"), with(open(a1), func(c *domain.OpenTicket) { c.Company = acme }), "", opened(acme, a1, "acmeBasic")},
		{"basic at another site", u("acmeBasic"), open(a2), "forbidden", nil},
		{"basic for the whole company", u("acmeBasic"), with(open(""), func(c *domain.OpenTicket) { c.Company = acme }), "forbidden", nil},
		{"basic at another company's site", u("acmeBasic"), open(g1), "not-found", nil},
		{"manager at a managed site", u("acmeManager"), open(a2), "", opened(acme, a2, "acmeManager")},
		{"manager at another site", u("acmeManager"), open(a3), "forbidden", nil},
		{"member at any site", u("acmeMember"), open(a3), "", opened(acme, a3, "acmeMember")},
		{"member for the whole company", u("acmeMember"), with(open(""), func(c *domain.OpenTicket) { c.Company = acme }), "", opened(acme, "", "acmeMember")},
		{"member without tickets:write", u("acmeMemberRO"), open(a1), "forbidden", nil},
		{"write site", u("siteUser"), open(a3), "", opened(acme, a3, "siteUser")},
		{"write site, type not allowed", u("siteUser"), with(open(a3), func(c *domain.OpenTicket) { c.Type = "request" }), "ticket-type-not-allowed", nil},
		{"read site only", u("siteUser"), open(a2), "forbidden", nil},
		{"no site right in a known company", u("siteUser"), open(a1), "forbidden", nil},
		{"allowed responsible group", u("siteUser"), with(open(a3), func(c *domain.OpenTicket) { c.ResponsibleGroup = "staff" }), "", []domain.Event{
			domain.TicketOpened{Ticket: "T9", Company: acme, Site: a3, Type: "incident", Status: domain.TicketOpen, Reporter: "siteUser",
				ResponsibleGroup: "staff", Title: "Leak", Description: "water"}}},
		{"allowed responsible user (prefixed)", u("siteUser"), with(open(a3), func(c *domain.OpenTicket) { c.ResponsibleUser = "agent" }), "", []domain.Event{
			domain.TicketOpened{Ticket: "T9", Company: acme, Site: a3, Type: "incident", Status: domain.TicketOpen, Reporter: "siteUser",
				ResponsibleUser: "agent", Title: "Leak", Description: "water"}}},
		{"responsible group not allowed", u("siteUser"), with(open(a3), func(c *domain.OpenTicket) { c.ResponsibleGroup = "portal" }), "responsible-not-allowed", nil},
		{"responsible user not allowed", u("siteUser"), with(open(a3), func(c *domain.OpenTicket) { c.ResponsibleUser = "root" }), "responsible-not-allowed", nil},
		{"partner access is read-only", u("partnerUser"), open(a1), "forbidden", nil},
		{"unrestricted normal user", u("agent"), open(g1), "", opened(globex, g1, "agent")},
		{"tenant admin", u("root"), open(a1), "", opened(acme, a1, "root")},
		{"scoped normal user in scope", u("scoped"), open(g1), "", opened(globex, g1, "scoped")},
		{"scoped normal user out of scope", u("scoped"), open(a1), "forbidden", nil},
		{"normal user without tickets:write", u("clerk"), open(a1), "forbidden", nil},
		{"other company's admin", u("globexAdmin"), open(a1), "not-found", nil},
		{"other company's admin, company only", u("globexAdmin"), with(open(""), func(c *domain.OpenTicket) { c.Company = acme }), "not-found", nil},
		{"site of another company than given", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Company = globex }), "not-found", nil},
		{"unknown site", u("root"), open("nowhere"), "not-found", nil},
		{"unknown company", u("root"), with(open(""), func(c *domain.OpenTicket) { c.Company = "nope" }), "not-found", nil},
		{"neither site nor company", u("root"), open(""), "invalid-command", nil},
		{"missing title", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Title = "  " }), "invalid-command", nil},
		{"long title", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Title = strings.Repeat("x", 201) }), "invalid-command", nil},
		{"missing type", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Type = "" }), "invalid-command", nil},
		{"long description", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Description = strings.Repeat("x", 20001) }), "invalid-command", nil},
		{"missing id", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.Ticket = "" }), "invalid-command", nil},
		{"both responsibles", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.ResponsibleGroup, c.ResponsibleUser = "staff", "agent" }), "invalid-command", nil},
		{"unknown responsible group", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.ResponsibleGroup = "nope" }), "not-found", nil},
		{"unknown responsible user", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.ResponsibleUser = "ghost" }), "not-found", nil},
		{"contact as responsible", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.ResponsibleUser = "contact" }), "not-found", nil},
		{"inactive responsible user", u("root"), with(open(a1), func(c *domain.OpenTicket) { c.ResponsibleUser = "pendingTech" }), "wrong-state", nil},
		{"suspended actor", u("suspended"), open(a1), "forbidden", nil},
		{"contact actor", u("contact"), open(a1), "forbidden", nil},
		{"service with tickets:write", service(domain.PermTicketsWrite), open(a1), "", opened(acme, a1, "")},
		{"service without tickets:write", service(domain.PermTicketsRead), open(a1), "forbidden", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runTicket(t, w.d, tc.by, domain.NewTicket(tc.cmd.Ticket), tc.cmd, tc.code, tc.want)
		})
	}
	t.Run("already opened", func(t *testing.T) {
		runTicket(t, w.d, u("root"), ticket("T9", acme, a1, "root"), open(a1), "already-exists", nil)
	})
	t.Run("tenant not configured", func(t *testing.T) {
		runTicket(t, domain.NewDirectory("nope"), domain.System(), domain.NewTicket("T9"), open(a1), "tenant-not-found", nil)
	})
}

func TestChangeTicketStatus(t *testing.T) {
	w := newWorld(t)
	tA1 := ticket("T1", acme, a1, "acmeBasic")
	tA2 := ticket("T2", acme, a2, "acmeMember")
	tA3 := ticket("T3", acme, a3, "siteUser")
	tFix := ticket("T4", acme, a1, "acmeBasic2", domain.ContractorAssigned{Ticket: "T4", Contractor: fixit, Technician: "tech"})
	closed := ticket("T5", acme, a1, "acmeBasic", domain.TicketStatusChanged{Ticket: "T5", From: domain.TicketOpen, To: domain.TicketClosed})
	set := func(tk *domain.Ticket, s domain.TicketStatus) domain.ChangeTicketStatus {
		return domain.ChangeTicketStatus{Ticket: tk.ID, Status: s}
	}
	changed := func(tk *domain.Ticket, from, to domain.TicketStatus) []domain.Event {
		return []domain.Event{domain.TicketStatusChanged{Ticket: tk.ID, From: from, To: to}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		t    *domain.Ticket
		cmd  domain.ChangeTicketStatus
		code string
		want []domain.Event
	}{
		{"reporter", u("acmeBasic"), tA1, set(tA1, "in_progress"), "", changed(tA1, "open", "in_progress")},
		{"same status changes nothing", u("acmeBasic"), tA1, set(tA1, "open"), "", nil},
		{"another basic user cannot see it", u("acmeBasic2"), tA1, set(tA1, "closed"), "not-found", nil},
		{"other company's admin cannot see it", u("globexAdmin"), tA1, set(tA1, "closed"), "not-found", nil},
		{"member without tickets:read cannot see it", u("acmeMemberRO"), tA1, set(tA1, "closed"), "not-found", nil},
		{"partner access is read-only", u("partnerUser"), tA1, set(tA1, "closed"), "forbidden", nil},
		{"normal user with tickets:read only", u("reader"), tA1, set(tA1, "closed"), "forbidden", nil},
		{"manager at a managed site", u("acmeManager"), tA1, set(tA1, "waiting"), "", changed(tA1, "open", "waiting")},
		{"admin", u("acmeAdmin"), tA2, set(tA2, "resolved"), "", changed(tA2, "open", "resolved")},
		{"restricted user, allowed status", u("siteUser"), tA3, set(tA3, "resolved"), "", changed(tA3, "open", "resolved")},
		{"restricted user, forbidden status", u("siteUser"), tA3, set(tA3, "in_progress"), "status-not-allowed", nil},
		{"read site is read-only", u("siteUser"), tA2, set(tA2, "resolved"), "forbidden", nil},
		{"assigned technician", u("tech"), tFix, set(tFix, "in_progress"), "", changed(tFix, "open", "in_progress")},
		{"contractor's admin", u("fixAdmin"), tFix, set(tFix, "resolved"), "", changed(tFix, "open", "resolved")},
		{"other technician", u("tech2"), tFix, set(tFix, "in_progress"), "not-found", nil},
		{"unknown status", u("acmeAdmin"), tA1, set(tA1, "done"), "invalid-command", nil},
		{"reporter cannot reopen a closed ticket", u("acmeBasic"), closed, set(closed, "open"), "forbidden", nil},
		{"admin reopens", u("acmeAdmin"), closed, set(closed, "open"), "", changed(closed, "closed", "open")},
		{"staff reopens", u("agent"), closed, set(closed, "open"), "", changed(closed, "closed", "open")},
		{"closed only reopens to open", u("acmeAdmin"), closed, set(closed, "in_progress"), "invalid-status-transition", nil},
		{"unopened ticket", u("root"), domain.NewTicket("T0"), domain.ChangeTicketStatus{Ticket: "T0", Status: "closed"}, "not-found", nil},
		{"service with tickets:write", service(domain.PermTicketsWrite), tA1, set(tA1, "closed"), "", changed(tA1, "open", "closed")},
		{"service with tickets:read only", service(domain.PermTicketsRead), tA1, set(tA1, "closed"), "forbidden", nil},
		{"suspended actor", u("suspended"), tA1, set(tA1, "closed"), "forbidden", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTicket(t, w.d, tc.by, tc.t, tc.cmd, tc.code, tc.want) })
	}
}

func TestAssignTicket(t *testing.T) {
	w := newWorld(t)
	tA1 := ticket("T1", acme, a1, "acmeBasic", domain.TicketAssigned{Ticket: "T1", Group: "staff"})
	closed := ticket("T5", acme, a1, "acmeBasic", domain.TicketStatusChanged{Ticket: "T5", From: domain.TicketOpen, To: domain.TicketClosed})
	cases := []struct {
		name string
		by   domain.Principal
		t    *domain.Ticket
		cmd  domain.AssignTicket
		code string
		want []domain.Event
	}{
		{"admin to a user", u("acmeAdmin"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "",
			[]domain.Event{domain.TicketAssigned{Ticket: "T1", User: "agent", FromGroup: "staff"}}},
		{"master admin to a group", u("acmeMaster"), tA1, domain.AssignTicket{Ticket: "T1", Group: "admins"}, "",
			[]domain.Event{domain.TicketAssigned{Ticket: "T1", Group: "admins", FromGroup: "staff"}}},
		{"staff", u("agent"), tA1, domain.AssignTicket{Ticket: "T1", User: "root"}, "",
			[]domain.Event{domain.TicketAssigned{Ticket: "T1", User: "root", FromGroup: "staff"}}},
		{"same responsible changes nothing", u("agent"), tA1, domain.AssignTicket{Ticket: "T1", Group: "staff"}, "", nil},
		{"member is not staff", u("acmeMember"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "forbidden", nil},
		{"manager is not staff", u("acmeManager"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "forbidden", nil},
		{"reporter is not staff", u("acmeBasic"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "forbidden", nil},
		{"normal user without tickets:write", u("reader"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "forbidden", nil},
		{"other company's admin", u("globexAdmin"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "not-found", nil},
		{"scoped staff out of scope", u("scoped"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "not-found", nil},
		{"both", u("agent"), tA1, domain.AssignTicket{Ticket: "T1", User: "agent", Group: "staff"}, "invalid-command", nil},
		{"neither", u("agent"), tA1, domain.AssignTicket{Ticket: "T1"}, "invalid-command", nil},
		{"unknown group", u("agent"), tA1, domain.AssignTicket{Ticket: "T1", Group: "nope"}, "not-found", nil},
		{"inactive user", u("agent"), tA1, domain.AssignTicket{Ticket: "T1", User: "suspended"}, "wrong-state", nil},
		{"closed ticket", u("agent"), closed, domain.AssignTicket{Ticket: "T5", User: "agent"}, "ticket-closed", nil},
		{"service with tickets:write", service(domain.PermTicketsWrite), tA1, domain.AssignTicket{Ticket: "T1", User: "agent"}, "",
			[]domain.Event{domain.TicketAssigned{Ticket: "T1", User: "agent", FromGroup: "staff"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTicket(t, w.d, tc.by, tc.t, tc.cmd, tc.code, tc.want) })
	}
	t.Run("staff limited to its responsible recipients", func(t *testing.T) {
		w := newWorld(t)
		w.apply(domain.SitePermissionsSet{Person: "agent", Responsible: []string{"group:staff"}})
		runTicket(t, w.d, u("agent"), tA1, domain.AssignTicket{Ticket: "T1", User: "root"}, "responsible-not-allowed", nil)
		runTicket(t, w.d, u("agent"), ticket("T2", acme, a1, ""), domain.AssignTicket{Ticket: "T2", Group: "staff"}, "",
			[]domain.Event{domain.TicketAssigned{Ticket: "T2", Group: "staff"}})
	})
}

func TestAssignContractor(t *testing.T) {
	w := newWorld(t)
	tA1 := ticket("T1", acme, a1, "acmeBasic")
	tFix := ticket("T4", acme, a1, "acmeBasic", domain.ContractorAssigned{Ticket: "T4", Contractor: fixit, Technician: "tech"})
	tG1 := ticket("T6", globex, g1, "globexAdmin")
	closed := ticket("T5", acme, a1, "acmeBasic", domain.TicketStatusChanged{Ticket: "T5", From: domain.TicketOpen, To: domain.TicketClosed})
	assign := func(tk *domain.Ticket, c domain.CompanyID, tech domain.PersonID) domain.AssignContractor {
		return domain.AssignContractor{Ticket: tk.ID, Contractor: c, Technician: tech}
	}
	cases := []struct {
		name string
		by   domain.Principal
		t    *domain.Ticket
		cmd  domain.AssignContractor
		code string
		want []domain.Event
	}{
		{"admin assigns its contractor and technician", u("acmeAdmin"), tA1, assign(tA1, fixit, "tech"), "",
			[]domain.Event{domain.ContractorAssigned{Ticket: "T1", Contractor: fixit, Technician: "tech"}}},
		{"without technician", u("acmeMaster"), tA1, assign(tA1, fixit, ""), "",
			[]domain.Event{domain.ContractorAssigned{Ticket: "T1", Contractor: fixit}}},
		{"another technician replaces the first", u("agent"), tFix, assign(tFix, fixit, "tech2"), "",
			[]domain.Event{domain.ContractorAssigned{Ticket: "T4", Contractor: fixit, Technician: "tech2", FromContractor: fixit, FromTechnician: "tech"}}},
		{"same assignment changes nothing", u("agent"), tFix, assign(tFix, fixit, "tech"), "", nil},
		{"globex's contractor on globex's ticket", u("globexAdmin"), tG1, assign(tG1, rivalfix, "rivalTech"), "",
			[]domain.Event{domain.ContractorAssigned{Ticket: "T6", Contractor: rivalfix, Technician: "rivalTech"}}},
		{"admin cannot see another customer's contractor", u("acmeAdmin"), tA1, assign(tA1, rivalfix, ""), "not-found", nil},
		{"staff: contractor of another customer", u("agent"), tA1, assign(tA1, rivalfix, ""), "contractor-not-eligible", nil},
		{"staff: not a contractor", u("agent"), tA1, assign(tA1, globex, ""), "contractor-not-eligible", nil},
		{"technician of another contractor", u("agent"), tA1, assign(tA1, fixit, "rivalTech"), "technician-not-eligible", nil},
		{"technician not active", u("agent"), tA1, assign(tA1, fixit, "pendingTech"), "technician-not-eligible", nil},
		{"unknown technician", u("agent"), tA1, assign(tA1, fixit, "ghost"), "not-found", nil},
		{"unknown contractor", u("agent"), tA1, assign(tA1, "nope", ""), "not-found", nil},
		{"missing contractor", u("agent"), tA1, assign(tA1, "", ""), "invalid-command", nil},
		{"member is not staff", u("acmeMember"), tA1, assign(tA1, fixit, ""), "forbidden", nil},
		{"contractor's admin is not staff", u("fixAdmin"), tFix, assign(tFix, fixit, "tech2"), "forbidden", nil},
		{"other company's admin", u("globexAdmin"), tA1, assign(tA1, fixit, ""), "not-found", nil},
		{"closed ticket", u("agent"), closed, assign(closed, fixit, ""), "ticket-closed", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTicket(t, w.d, tc.by, tc.t, tc.cmd, tc.code, tc.want) })
	}
}

func TestCommentOnTicket(t *testing.T) {
	w := newWorld(t)
	tA1 := ticket("T1", acme, a1, "acmeBasic", domain.TicketCommented{Ticket: "T1", Comment: "c0", Author: "acmeBasic", Body: "first"})
	tA2 := ticket("T2", acme, a2, "acmeMember")
	tFix := ticket("T4", acme, a1, "acmeBasic2", domain.ContractorAssigned{Ticket: "T4", Contractor: fixit, Technician: "tech"})
	closed := ticket("T5", acme, a1, "acmeBasic", domain.TicketStatusChanged{Ticket: "T5", From: domain.TicketOpen, To: domain.TicketClosed})
	comment := func(tk *domain.Ticket, body string) domain.CommentOnTicket {
		return domain.CommentOnTicket{Ticket: tk.ID, Comment: "c1", Body: body}
	}
	commented := func(tk *domain.Ticket, author domain.PersonID) []domain.Event {
		return []domain.Event{domain.TicketCommented{Ticket: tk.ID, Comment: "c1", Author: author, Body: "hello"}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		t    *domain.Ticket
		cmd  domain.CommentOnTicket
		code string
		want []domain.Event
	}{
		{"reporter", u("acmeBasic"), tA1, comment(tA1, " hello "), "", commented(tA1, "acmeBasic")},
		{"member", u("acmeMember"), tA1, comment(tA1, "hello"), "", commented(tA1, "acmeMember")},
		{"partner access with tickets:comment", u("partnerUser"), tA1, comment(tA1, "hello"), "", commented(tA1, "partnerUser")},
		{"read site, home membership grants tickets:comment", u("siteUser"), tA2, comment(tA2, "hello"), "", commented(tA2, "siteUser")},
		{"assigned technician", u("tech"), tFix, comment(tFix, "hello"), "", commented(tFix, "tech")},
		{"contractor's admin", u("fixAdmin"), tFix, comment(tFix, "hello"), "", commented(tFix, "fixAdmin")},
		{"closed tickets take comments", u("acmeBasic"), closed, comment(closed, "hello"), "", commented(closed, "acmeBasic")},
		{"other technician", u("tech2"), tFix, comment(tFix, "hello"), "not-found", nil},
		{"another basic user", u("acmeBasic2"), tA1, comment(tA1, "hello"), "not-found", nil},
		{"other company's admin", u("globexAdmin"), tA1, comment(tA1, "hello"), "not-found", nil},
		{"sees it without tickets:comment", u("reader"), tA1, comment(tA1, "hello"), "forbidden", nil},
		{"empty body", u("acmeBasic"), tA1, comment(tA1, "  "), "invalid-command", nil},
		{"long body", u("acmeBasic"), tA1, comment(tA1, strings.Repeat("x", 10001)), "invalid-command", nil},
		{"comment id used", u("acmeBasic"), tA1, domain.CommentOnTicket{Ticket: "T1", Comment: "c0", Body: "again"}, "already-exists", nil},
		{"missing comment id", u("acmeBasic"), tA1, domain.CommentOnTicket{Ticket: "T1", Body: "x"}, "invalid-command", nil},
		{"service with tickets:comment", service(domain.PermTicketsComment, domain.PermTicketsRead), tA1, comment(tA1, "hello"), "", commented(tA1, "")},
		{"service with tickets:read only", service(domain.PermTicketsRead), tA1, comment(tA1, "hello"), "forbidden", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTicket(t, w.d, tc.by, tc.t, tc.cmd, tc.code, tc.want) })
	}
}

func TestAttachTicketDocument(t *testing.T) {
	w := newWorld(t)
	tA1 := ticket("T1", acme, a1, "acmeBasic", domain.DocumentAttached{Document: "d0", Ticket: "T1", Company: acme, Name: "x", ContentType: "text/plain", SizeBytes: 1})
	meta := domain.DocumentMeta{Name: " report.pdf ", ContentType: "Application/PDF", SizeBytes: 2048}
	attach := func(m domain.DocumentMeta) domain.AttachTicketDocument {
		return domain.AttachTicketDocument{Ticket: "T1", Document: "d1", DocumentMeta: m}
	}
	with := func(f func(*domain.DocumentMeta)) domain.AttachTicketDocument { m := meta; f(&m); return attach(m) }
	attached := func(by domain.PersonID, size int64) []domain.Event {
		return []domain.Event{domain.DocumentAttached{Document: "d1", Ticket: "T1", Company: acme, Name: "report.pdf",
			ContentType: "application/pdf", SizeBytes: size, UploadedBy: by}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		cmd  domain.AttachTicketDocument
		code string
		want []domain.Event
	}{
		{"reporter", u("acmeBasic"), attach(meta), "", attached("acmeBasic", 2048)},
		{"admin, exactly 100 MiB", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.SizeBytes = 100 << 20 }), "", attached("acmeAdmin", 100<<20)},
		{"over 100 MiB", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.SizeBytes = 100<<20 + 1 }), "invalid-command", nil},
		{"empty file", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.SizeBytes = 0 }), "invalid-command", nil},
		{"missing name", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.Name = "" }), "invalid-command", nil},
		{"path in name", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.Name = "../etc/passwd" }), "invalid-command", nil},
		{"bad content type", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.ContentType = "pdf" }), "invalid-command", nil},
		{"missing content type", u("acmeAdmin"), with(func(m *domain.DocumentMeta) { m.ContentType = "" }), "invalid-command", nil},
		{"partner access is read-only", u("partnerUser"), attach(meta), "forbidden", nil},
		{"other company's admin", u("globexAdmin"), attach(meta), "not-found", nil},
		{"document id used", u("acmeAdmin"), domain.AttachTicketDocument{Ticket: "T1", Document: "d0", DocumentMeta: meta}, "already-exists", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTicket(t, w.d, tc.by, tA1, tc.cmd, tc.code, tc.want) })
	}
}
