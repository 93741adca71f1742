package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/testkit"
)

// End-to-end: the built portald binary (embedded event store, real Redis), driven only over
// HTTP. One tenant is built through the command API so that it holds every class, role and
// rule of DESIGN §1–§2; then every viewer's tables are read back over the read API and compared
// with expectations written by hand from the rules (each one explained where it is written).
// Every read carries X-Min-Position with the position of the last accepted command, so the
// test never sleeps.

// e2eWorld is the running service, the tenant's ids by name, and the read-your-writes position.
type e2eWorld struct {
	t      *testing.T
	api    string
	dev    *auth.Dev
	tenant string
	pos    string            // X-Log-Position of the last accepted command
	ids    map[string]string // name -> id
	names  map[string]string // id -> name
	// The universe the per-viewer checks walk, by kind, in creation order.
	tickets, companies, sites, docs, people []string
	// removed people are left out of listings (and of the per-id walk).
	removed map[string]bool
	client  *http.Client
}

const e2eDevSecret = "e2e-development-secret-of-at-least-32-chars"

func TestE2EAccessModelOverHTTP(t *testing.T) {
	start := time.Now()
	bin := testkit.BuildPortald(t)
	_, prefix := testkit.Redis(t) // unique prefix; its keys are deleted when the test ends
	dir := t.TempDir()
	p := testkit.StartPortald(t, bin, dir, "--redis", "redis://"+testkit.RedisAddr(), "--redis-prefix", prefix,
		"--dev-secret", e2eDevSecret, "--log-level", "warn")
	t.Logf("portald built and started in %v", time.Since(start))
	start = time.Now()
	dev, err := auth.NewDev([]byte(e2eDevSecret))
	if err != nil {
		t.Fatal(err)
	}
	w := &e2eWorld{t: t, api: "http://" + p.HTTPAddr, dev: dev, tenant: "acme", ids: map[string]string{}, names: map[string]string{},
		removed: map[string]bool{}, client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		if t.Failed() {
			p.Kill() // the output is the process's until it exits
			t.Logf("portald output:\n%s", p.Output.String())
		}
	})

	w.build(bin, p)
	w.t.Logf("scenario built in %v", time.Since(start))
	w.verifyInitialTables()
	w.verifyCommandRefusals()
	w.verifyLifecycle()
	w.verifyRevocations()
	w.verifyWhoCanSee()
	w.verifyAudit()
	t.Logf("end-to-end scenario: %v", time.Since(start))
}

// --- building the tenant

func (w *e2eWorld) build(bin string, p *testkit.Portald) {
	t := w.t
	// Bootstrap through the operator command, against the running service's event store.
	code, stdout, stderr := runSplit(t, bin, "tenant", "create", "--eventstore", p.ESDBURL(), "--json", "--id", w.tenant,
		"--name", "Acme Support Center", "--seats", "10", "--admin-email", "ada@provider.example", "--admin-name", "Ada Admin",
		"--provider-name", "Provider")
	if code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, stdout, stderr)
	}
	var boot struct {
		ProviderCompanyID string `json:"provider_company_id"`
		AdminGroupID      string `json:"admin_group_id"`
		AdminPersonID     string `json:"admin_person_id"`
		InvitationToken   string `json:"invitation_token"`
		Position          string `json:"position"`
	}
	if err := json.Unmarshal([]byte(stdout), &boot); err != nil {
		t.Fatalf("tenant create --json: %v in %q", err, stdout)
	}
	w.pos = boot.Position
	w.name("provider", boot.ProviderCompanyID, &w.companies)
	w.name("ada", boot.AdminPersonID, &w.people)
	w.name("administrators", boot.AdminGroupID, nil)
	w.accept("ada", boot.InvitationToken)

	// Groups. Normal users' groups (no support_user flag) take seats; Customers is the
	// support-user group of portal users.
	w.create("agents", "group_id", nil, "ada", "POST", "/v1/groups", map[string]any{"name": "Agents", "permissions": map[string]any{"named": "support"}})
	w.create("partners", "group_id", nil, "ada", "POST", "/v1/groups", map[string]any{"name": "Partner staff", "permissions": map[string]any{"named": "support"}})
	w.create("partners-initech", "group_id", nil, "ada", "POST", "/v1/groups", map[string]any{"name": "Partner staff (Initech)", "permissions": map[string]any{"named": "support"}})
	w.create("customers", "group_id", nil, "ada", "POST", "/v1/groups", map[string]any{"name": "Customers", "support_user": true})

	// Companies: Globex with its daughter Globex Europe, Initech, the partner Contoso, and
	// Umbrella whom nobody but the unrestricted staff sees.
	w.create("globex", "company_id", &w.companies, "ada", "POST", "/v1/companies", map[string]any{"name": "Globex", "kind": "customer"})
	w.create("globex-eu", "company_id", &w.companies, "ada", "POST", "/v1/companies", map[string]any{"name": "Globex Europe", "kind": "customer", "parent": w.id("globex")})
	w.create("initech", "company_id", &w.companies, "ada", "POST", "/v1/companies", map[string]any{"name": "Initech", "kind": "customer"})
	w.create("contoso", "company_id", &w.companies, "ada", "POST", "/v1/companies", map[string]any{"name": "Contoso Partners", "kind": "partner"})
	w.create("umbrella", "company_id", &w.companies, "ada", "POST", "/v1/companies", map[string]any{"name": "Umbrella", "kind": "customer"})
	for _, s := range []struct{ name, company, label string }{
		{"hq", "globex", "Globex HQ"}, {"north", "globex", "Plant North"}, {"south", "globex", "Plant South"}, {"main", "initech", "Initech Main"},
	} {
		w.create(s.name, "site_id", &w.sites, "ada", "POST", "/v1/companies/"+w.id(s.company)+"/sites", map[string]any{"name": s.label, "address": s.label + " street"})
	}

	// Nina: a normal user (Agents) without any company-access setting: internal_unrestricted.
	w.invite("ada", "nina", map[string]any{"name": "Nina Agent", "email": "nina@provider.example", "home_company": w.id("provider"), "group": w.id("agents")})

	// Company access at the three levels.
	// Company level: Contoso's setting is Globex with its subsidiaries (Globex Europe).
	w.do("ada", "POST", "/v1/companies/"+w.id("contoso")+"/access-grants", map[string]any{"target": w.id("globex"), "with_subsidiaries": true})
	// Group level: the group "Partner staff (Initech)" is set to Initech.
	w.do("ada", "POST", "/v1/groups/"+w.id("partners-initech")+"/access-grants", map[string]any{"target": w.id("initech")})
	w.invite("ada", "paul", map[string]any{"name": "Paul Partner", "email": "paul@contoso.example", "home_company": w.id("contoso"), "group": w.id("partners")})
	w.invite("ada", "petra", map[string]any{"name": "Petra Partner", "email": "petra@contoso.example", "home_company": w.id("contoso"), "group": w.id("partners-initech")})
	w.invite("ada", "pete", map[string]any{"name": "Pete Partner", "email": "pete@contoso.example", "home_company": w.id("contoso"), "group": w.id("partners")})
	// User level: Pete is set to Globex Europe only (no subsidiaries, and not Globex).
	w.do("ada", "POST", "/v1/people/"+w.id("pete")+"/access-grants", map[string]any{"target": w.id("globex-eu")})

	// Globex's portal users, each invited by someone entitled to: the tenant admin appoints the
	// master admin, the master admin an admin, the admin a manager and members, the manager a
	// basic user at one of its sites.
	cust := w.id("customers")
	w.invite("ada", "gloria", map[string]any{"name": "Gloria Globex", "email": "gloria@globex.example", "home_company": w.id("globex"), "group": cust, "role": "master_admin"})
	w.invite("gloria", "gary", map[string]any{"name": "Gary Globex", "email": "gary@globex.example", "home_company": w.id("globex"), "group": cust, "role": "admin"})
	w.invite("gary", "molly", map[string]any{"name": "Molly Manager", "email": "molly@globex.example", "home_company": w.id("globex"), "group": cust, "role": "manager",
		"sites": []string{w.id("north"), w.id("south")}})
	w.invite("molly", "bob", map[string]any{"name": "Bob Basic", "email": "bob@globex.example", "home_company": w.id("globex"), "group": cust, "role": "basic", "sites": []string{w.id("north")}})
	w.invite("gary", "mia", map[string]any{"name": "Mia Member", "email": "mia@globex.example", "home_company": w.id("globex"), "group": cust, "role": "member"})
	for _, n := range []string{"sam", "rita", "dave"} {
		w.invite("gary", n, map[string]any{"name": strings.ToUpper(n[:1]) + n[1:] + " Globex", "email": n + "@globex.example", "home_company": w.id("globex"), "group": cust, "role": "member"})
	}
	w.do("ada", "PUT", "/v1/people/"+w.id("gloria")+"/mfa", map[string]any{"required": true})

	// Eve: an external user of Initech (basic at Initech Main), also a basic user of Globex at
	// HQ (one login, two client accounts; site rights need a company she belongs to), who reads
	// Globex HQ and writes at Initech Main, may open incidents only, send them only to the
	// Agents, and may set only in_progress and resolved.
	w.invite("ada", "eve", map[string]any{"name": "Eve External", "email": "eve@initech.example", "home_company": w.id("initech"), "group": cust, "role": "basic", "sites": []string{w.id("main")}})
	w.do("ada", "POST", "/v1/people/"+w.id("eve")+"/memberships", map[string]any{"company": w.id("globex"), "role": "basic", "sites": []string{w.id("hq")}})
	w.do("ada", "PUT", "/v1/people/"+w.id("eve")+"/site-permissions", map[string]any{"read_sites": []string{w.id("hq")}, "write_sites": []string{w.id("main")},
		"responsible": []string{w.id("agents")}})
	w.do("ada", "PUT", "/v1/people/"+w.id("eve")+"/ticket-restrictions", map[string]any{"ticket_types": []string{"incident"}, "restricted": true,
		"statuses": []string{"in_progress", "resolved"}})

	// A guest contractor registered by Globex's admin, its technician (added by the same
	// admin), and its own master admin (appointed by the tenant admin).
	w.create("acme-builders", "company_id", &w.companies, "gary", "POST", "/v1/contractors", map[string]any{"name": "Acme Builders", "registered_by": w.id("globex")})
	ids := w.do("gary", "POST", "/v1/contractors/"+w.id("acme-builders")+"/technicians", map[string]any{"name": "Tom Technician", "email": "tom@acme.example"})
	w.name("tom", ids["person_id"], &w.people)
	w.accept("tom", ids["invitation_token"])
	w.invite("ada", "carl", map[string]any{"name": "Carl Contractor", "email": "carl@acme.example", "home_company": w.id("acme-builders"), "group": cust, "role": "master_admin"})

	// Contacts: Cora stays one; Connor is promoted to a member of Globex.
	w.create("cora", "person_id", &w.people, "gary", "POST", "/v1/contacts", map[string]any{"name": "Cora Contact", "email": "cora@globex.example",
		"home_company": w.id("globex"), "notification_prefs": []string{"invoices"}})
	w.create("connor", "person_id", &w.people, "gary", "POST", "/v1/contacts", map[string]any{"name": "Connor Contact", "email": "connor@globex.example",
		"home_company": w.id("globex"), "notification_prefs": []string{"tickets"}})
	// A contact has no table: read on its behalf, the tenant admin is told so.
	w.refusedRead("ada", "/v1/viewers/"+w.id("connor")+"/tickets", http.StatusForbidden, "viewer-without-access")
	ids = w.do("gary", "POST", "/v1/contacts/"+w.id("connor")+"/promote", map[string]any{"group": cust, "role": "member"})
	if ids["person_id"] != w.id("connor") {
		t.Fatalf("promotion changed the person id: %v, want %s", ids, w.id("connor"))
	}
	// Invited, not yet accepted: still no table, and the login is not bound yet.
	w.refusedRead("ada", "/v1/viewers/"+w.id("connor")+"/tickets", http.StatusForbidden, "viewer-without-access")
	w.refusedRead("connor", "/v1/me", http.StatusForbidden, "unknown-identity")
	w.accept("connor", ids["invitation_token"])

	// Tickets, in this order (listings are newest first).
	open := func(name, actor string, body map[string]any) {
		w.create(name, "ticket_id", &w.tickets, actor, "POST", "/v1/tickets", body)
	}
	open("T1", "bob", map[string]any{"site": w.id("north"), "type": "incident", "title": "Leaking pipe in hall B"})
	open("T2", "gary", map[string]any{"site": w.id("hq"), "type": "request", "title": "New badge reader"})
	open("T3", "molly", map[string]any{"site": w.id("south"), "type": "incident", "title": "Forklift battery failure"})
	open("T4", "eve", map[string]any{"site": w.id("main"), "type": "incident", "title": "Printer jams", "responsible_group": w.id("agents")})
	open("T5", "nina", map[string]any{"company": w.id("globex-eu"), "type": "request", "title": "Quarterly service review"})
	open("T6", "ada", map[string]any{"company": w.id("umbrella"), "type": "request", "title": "Umbrella contract renewal"})
	// Globex's admin sends the contractor and its technician to Bob's ticket.
	w.do("gary", "PUT", "/v1/tickets/"+w.id("T1")+"/contractor", map[string]any{"contractor": w.id("acme-builders"), "technician": w.id("tom")})
	// The technician works on it: it may change the status of a ticket assigned to it.
	w.do("tom", "PUT", "/v1/tickets/"+w.id("T1")+"/status", map[string]any{"status": "in_progress"})
	w.create("comment", "comment_id", nil, "tom", "POST", "/v1/tickets/"+w.id("T1")+"/comments", map[string]any{"body": "On my way with a new valve."})

	// Documents: D1 of Globex, D2 of ticket T1, D3 of Umbrella.
	w.create("D1", "document_id", &w.docs, "gary", "POST", "/v1/companies/"+w.id("globex")+"/documents", map[string]any{"name": "contract.pdf", "content_type": "application/pdf", "size_bytes": 1200})
	w.create("D2", "document_id", &w.docs, "gary", "POST", "/v1/tickets/"+w.id("T1")+"/documents", map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 3400})
	w.create("D3", "document_id", &w.docs, "ada", "POST", "/v1/companies/"+w.id("umbrella")+"/documents", map[string]any{"name": "terms.pdf", "content_type": "application/pdf", "size_bytes": 560})
}

// --- the expected tables

// viewerWant is what one viewer must see. Reasons are written "rule" or "rule:level" (tickets,
// companies, sites, documents) and "rule@company" (people), joined by commas in the order of
// DESIGN §2. Limited people are name -> the ticket that names them.
type viewerWant struct {
	class                    string
	roles                    map[string]string // company -> role
	allCompanies, allTickets bool
	tickets, companies       map[string]string
	sites, docs, people      map[string]string
	limited                  map[string]string
}

// ticketDocs: a ticket's document is seen with its ticket, with the ticket's reasons.
var ticketDocs = map[string]string{"D2": "T1"}

// initialWants are the tables after build (before any lifecycle change or revocation).
func (w *e2eWorld) initialWants() map[string]viewerWant {
	everyone := func(extra map[string]string) map[string]string {
		// A normal user that sees every company sees every person with company_people at its
		// company (everyone here belongs to its home company only).
		home := map[string]string{
			"ada": "provider", "nina": "provider", "paul": "contoso", "petra": "contoso", "pete": "contoso",
			"gloria": "globex", "gary": "globex", "molly": "globex", "bob": "globex", "mia": "globex", "sam": "globex",
			"rita": "globex", "dave": "globex", "cora": "globex", "connor": "globex", "eve": "initech", "tom": "acme-builders", "carl": "acme-builders",
		}
		out := map[string]string{}
		for p, c := range home {
			out[p] = "company_people@" + c
		}
		// Eve belongs to Initech (home) and Globex (membership): both, by company name.
		out["eve"] = "company_people@globex,company_people@initech"
		for p, r := range extra {
			out[p] = r
		}
		return out
	}
	allCompanies := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for _, c := range []string{"provider", "globex", "globex-eu", "initech", "contoso", "umbrella", "acme-builders"} {
			out[c] = "internal_unrestricted"
		}
		for c, r := range extra {
			out[c] = r
		}
		return out
	}
	globexPeople := func(self, reason string) map[string]string {
		// Globex's people: home company Globex (contacts included, removed users left out), and
		// Eve, who holds a (basic) membership of Globex.
		out := map[string]string{}
		for _, p := range []string{"gloria", "gary", "molly", "bob", "mia", "sam", "rita", "dave", "cora", "connor", "eve"} {
			if w.removed[w.id(p)] {
				continue
			}
			out[p] = reason
			if p == self {
				out[p] = "self," + reason
			}
		}
		return out
	}
	globexSites := map[string]string{"hq": "membership,company_access:own", "north": "membership,company_access:own", "south": "membership,company_access:own"}
	// A master_admin, admin or member of Globex (support users, tickets:read in their set):
	// company_role on Globex's tickets T1–T3 (not T5: Globex Europe is a daughter, and a support
	// user without a setting sees its own company only); company documents (D1) with
	// company_role; Globex's people with company_role; Tom by name through T1.
	globexRole := func(self, role string, own ...string) viewerWant {
		tickets := map[string]string{"T1": "company_role", "T2": "company_role", "T3": "company_role"}
		for _, t := range own {
			tickets[t] = "own_request," + tickets[t]
		}
		return viewerWant{class: "support_user", roles: map[string]string{"globex": role}, tickets: tickets,
			companies: map[string]string{"globex": "membership,company_access:own"}, sites: globexSites,
			docs: map[string]string{"D1": "company_role"}, people: globexPeople(self, "company_role@globex"), limited: map[string]string{"tom": "T1"}}
	}
	contosoPeople := func(self string) map[string]string {
		out := map[string]string{"paul": "company_people@contoso", "petra": "company_people@contoso", "pete": "company_people@contoso"}
		out[self] = "self," + out[self]
		return out
	}
	merge := func(a, b map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out
	}
	all6 := func(reason string, own string) map[string]string {
		out := map[string]string{}
		for _, t := range []string{"T1", "T2", "T3", "T4", "T5", "T6"} {
			out[t] = reason
		}
		out[own] = "own_request," + reason
		return out
	}
	return map[string]viewerWant{
		// Ada: tenant admin, a normal user of the Administrators group with no company-access
		// setting anywhere: internal_unrestricted on everything; master_admin of the provider.
		"ada": {class: "normal_user", roles: map[string]string{"provider": "master_admin"}, allCompanies: true, allTickets: true,
			tickets:   all6("internal_unrestricted", "T6"),
			companies: allCompanies(map[string]string{"provider": "membership,internal_unrestricted"}),
			sites:     map[string]string{"hq": "internal_unrestricted", "north": "internal_unrestricted", "south": "internal_unrestricted", "main": "internal_unrestricted"},
			docs:      map[string]string{"D1": "internal_unrestricted", "D3": "internal_unrestricted"},
			// company_role@provider besides company_people: Ada is the provider's master admin.
			people: everyone(map[string]string{"ada": "self,company_people@provider,company_role@provider", "nina": "company_people@provider,company_role@provider"}),
		},
		// Nina: normal user (Agents, "support" set) without any setting: internal_unrestricted;
		// she reported T5.
		"nina": {class: "normal_user", roles: map[string]string{}, allCompanies: true, allTickets: true,
			tickets:   all6("internal_unrestricted", "T5"),
			companies: allCompanies(nil),
			sites:     map[string]string{"hq": "internal_unrestricted", "north": "internal_unrestricted", "south": "internal_unrestricted", "main": "internal_unrestricted"},
			docs:      map[string]string{"D1": "internal_unrestricted", "D3": "internal_unrestricted"},
			people:    everyone(map[string]string{"nina": "self,company_people@provider"}),
		},
		// Paul: normal user of Contoso; no user or group setting, so Contoso's company-level
		// setting applies: Globex with subsidiaries (Globex, Globex Europe), plus Contoso (own).
		"paul": {class: "normal_user", roles: map[string]string{},
			tickets:   map[string]string{"T1": "company_access:company", "T2": "company_access:company", "T3": "company_access:company", "T5": "company_access:company"},
			companies: map[string]string{"contoso": "company_access:own", "globex": "company_access:company", "globex-eu": "company_access:company"},
			sites:     map[string]string{"hq": "company_access:company", "north": "company_access:company", "south": "company_access:company"},
			docs:      map[string]string{"D1": "company_access:company"},
			people:    merge(contosoPeople("paul"), globexPeople("", "company_people@globex")),
			// Named by visible tickets but of companies Paul does not see: Tom (T1), Nina (T5).
			limited: map[string]string{"tom": "T1", "nina": "T5"},
		},
		// Petra: her group's setting (Initech) beats Contoso's company-level setting.
		"petra": {class: "normal_user", roles: map[string]string{},
			tickets:   map[string]string{"T4": "company_access:group"},
			companies: map[string]string{"contoso": "company_access:own", "initech": "company_access:group"},
			sites:     map[string]string{"main": "company_access:group"},
			docs:      map[string]string{},
			people:    merge(contosoPeople("petra"), map[string]string{"eve": "company_people@initech"}),
			limited:   map[string]string{},
		},
		// Pete: his user-level setting (Globex Europe only) beats Contoso's company level.
		"pete": {class: "normal_user", roles: map[string]string{},
			tickets:   map[string]string{"T5": "company_access:user"},
			companies: map[string]string{"contoso": "company_access:own", "globex-eu": "company_access:user"},
			sites:     map[string]string{},
			docs:      map[string]string{},
			people:    contosoPeople("pete"),
			limited:   map[string]string{"nina": "T5"},
		},
		"gloria": globexRole("gloria", "master_admin"),
		"gary":   globexRole("gary", "admin", "T2"),
		"mia":    globexRole("mia", "member"),
		"connor": globexRole("connor", "member"),
		"sam":    globexRole("sam", "member"),
		"rita":   globexRole("rita", "member"),
		"dave":   globexRole("dave", "member"),
		// Molly: manager of North and South: managed_site on T1 (North) and T3 (South, hers),
		// not T2 (HQ). She sees Globex (membership) hence all its sites, her own two with
		// managed_site; D1 (a role other than basic); people: the users holding a basic or
		// manager membership at her sites — Bob and herself.
		"molly": {class: "support_user", roles: map[string]string{"globex": "manager"},
			tickets:   map[string]string{"T1": "managed_site", "T3": "own_request,managed_site"},
			companies: map[string]string{"globex": "membership,company_access:own"},
			sites:     map[string]string{"hq": "membership,company_access:own", "north": "managed_site,membership,company_access:own", "south": "managed_site,membership,company_access:own"},
			docs:      map[string]string{"D1": "company_role"},
			people:    map[string]string{"molly": "self,managed_site@globex", "bob": "managed_site@globex"},
			limited:   map[string]string{"tom": "T1"},
		},
		// Bob: basic at North: only what he reported (T1); no company documents; only himself,
		// and the technician of his ticket by name.
		"bob": {class: "support_user", roles: map[string]string{"globex": "basic"},
			tickets:   map[string]string{"T1": "own_request"},
			companies: map[string]string{"globex": "membership,company_access:own"},
			sites:     globexSites,
			docs:      map[string]string{},
			people:    map[string]string{"bob": "self"},
			limited:   map[string]string{"tom": "T1"},
		},
		// Eve: external user: site_read on HQ (read site) and Initech Main (write site, and her
		// own T4). Basic in both companies: no company-wide tickets, no company documents, no
		// people but herself — only T2 at HQ, whose reporter Gary she sees by name. Globex is not
		// her home: membership only (company_access:own is for the home company).
		"eve": {class: "support_user", roles: map[string]string{"initech": "basic", "globex": "basic"},
			tickets:   map[string]string{"T2": "site_read", "T4": "own_request,site_read"},
			companies: map[string]string{"initech": "membership,company_access:own", "globex": "membership"},
			sites: map[string]string{"hq": "site_read,membership", "north": "membership", "south": "membership",
				"main": "site_read,membership,company_access:own"},
			docs:    map[string]string{},
			people:  map[string]string{"eve": "self"},
			limited: map[string]string{"gary": "T2"},
		},
		// Tom: technician (member of Acme Builders): T1 only, as its technician; the contractor's
		// people; Bob by name (reporter of T1).
		"tom": {class: "support_user", roles: map[string]string{"acme-builders": "member"},
			tickets:   map[string]string{"T1": "contractor_assignment"},
			companies: map[string]string{"acme-builders": "membership,company_access:own"},
			sites:     map[string]string{},
			docs:      map[string]string{},
			people:    map[string]string{"tom": "self,company_role@acme-builders", "carl": "company_role@acme-builders"},
			limited:   map[string]string{"bob": "T1"},
		},
		// Carl: the contractor's master admin sees the tickets assigned to his company (T1).
		"carl": {class: "support_user", roles: map[string]string{"acme-builders": "master_admin"},
			tickets:   map[string]string{"T1": "contractor_assignment"},
			companies: map[string]string{"acme-builders": "membership,company_access:own"},
			sites:     map[string]string{},
			docs:      map[string]string{},
			people:    map[string]string{"carl": "self,company_role@acme-builders", "tom": "company_role@acme-builders"},
			limited:   map[string]string{"bob": "T1"},
		},
	}
}

// limitedOf fills the default: a viewer's limited people are given explicitly; nil means none.
func (v viewerWant) limitedOf() map[string]string {
	if v.limited == nil {
		return map[string]string{}
	}
	return v.limited
}

func (w *e2eWorld) verifyInitialTables() {
	wants := w.initialWants()
	viewers := make([]string, 0, len(wants))
	for v := range wants {
		viewers = append(viewers, v)
	}
	sort.Strings(viewers)
	for _, v := range viewers {
		w.verifyViewer(v, wants[v])
	}
	// Profile details beyond class and roles.
	var gloria, connor, molly map[string]any
	w.getJSON("gloria", "/v1/me", &gloria)
	if gloria["mfa_required"] != true {
		w.t.Errorf("gloria: mfa_required %v, want true", gloria["mfa_required"])
	}
	// Write sites imply read: Initech Main is among her read sites too.
	var eveSites struct {
		SitePermissions struct {
			ReadSites   []string `json:"read_sites"`
			WriteSites  []string `json:"write_sites"`
			Responsible []string `json:"responsible"`
		} `json:"site_permissions"`
		TicketRestrictions struct {
			TicketTypes []string `json:"ticket_types"`
			Restricted  bool
			Statuses    []string
		} `json:"ticket_restrictions"`
	}
	w.getJSON("eve", "/v1/me", &eveSites)
	sp, tr := eveSites.SitePermissions, eveSites.TicketRestrictions
	if got, want := w.namesOf(sp.ReadSites)+" / "+w.namesOf(sp.WriteSites)+" / "+w.namesOf(sp.Responsible), "hq,main / main / agents"; got != want {
		w.t.Errorf("eve: site permissions (read / write / responsible) %s, want %s", got, want)
	}
	if got := fmt.Sprint(tr.TicketTypes, tr.Restricted, tr.Statuses); got != "[incident] true [in_progress resolved]" {
		w.t.Errorf("eve: ticket restrictions %s", got)
	}
	// The promoted contact keeps its id and its notification preferences.
	w.getJSON("connor", "/v1/me", &connor)
	if connor["id"] != w.id("connor") || fmt.Sprint(connor["notification_prefs"]) != "[tickets]" || connor["type"] != "system_user" {
		w.t.Errorf("connor after promotion: id %v prefs %v type %v", connor["id"], connor["notification_prefs"], connor["type"])
	}
	w.getJSON("molly", "/v1/me", &molly)
	if ms, _ := json.Marshal(molly["memberships"]); !strings.Contains(string(ms), fmt.Sprintf(`"sites":[%q,%q]`, w.id("north"), w.id("south"))) &&
		!strings.Contains(string(ms), fmt.Sprintf(`"sites":[%q,%q]`, w.id("south"), w.id("north"))) {
		w.t.Errorf("molly: memberships %s lack her two managed sites", ms)
	}
	// Cora is a contact: no table, on behalf of her the admin is refused; a check about her
	// view is refused with an explanation that names no data.
	w.refusedRead("ada", "/v1/viewers/"+w.id("cora")+"/companies", http.StatusForbidden, "viewer-without-access")
	res := w.check("ada", []map[string]any{{"viewer": w.id("cora"), "resource": map[string]string{"type": "ticket", "id": w.id("T1")}}})
	if res[0].Allowed || !strings.Contains(res[0].Explanation, "not an active user") {
		w.t.Errorf("check as the contact cora: %+v", res[0])
	}
	// On behalf of a viewer (tenant admin holds viewers:read): same table as the viewer's own.
	w.expectListing("ada as bob", "ada", "/v1/viewers/"+w.id("bob")+"/tickets", "ticket", wants["bob"].tickets)
	// A viewer without viewers:read may not read or check on behalf of another.
	w.refusedRead("gloria", "/v1/viewers/"+w.id("bob")+"/tickets", http.StatusForbidden, "forbidden")
	w.refusedPost("gloria", "/v1/check", map[string]any{"viewer": w.id("bob"), "resource": map[string]string{"type": "ticket", "id": w.id("T1")}}, http.StatusForbidden, "forbidden")
	// Comments of T1 follow the ticket: Molly sees Tom's comment, Eve gets 404.
	var comments struct {
		Items []map[string]any `json:"items"`
	}
	w.getJSON("molly", "/v1/me/tickets/"+w.id("T1")+"/comments", &comments)
	if len(comments.Items) != 1 {
		w.t.Errorf("molly: T1 comments %v, want Tom's one", comments.Items)
	}
	w.refusedRead("eve", "/v1/me/tickets/"+w.id("T1")+"/comments", http.StatusNotFound, "not-found")
}

// verifyViewer checks a viewer's profile, its five listings, every resource by id and a batch
// check of every resource, against want.
func (w *e2eWorld) verifyViewer(v string, want viewerWant) {
	w.t.Helper()
	var me struct {
		ID          string `json:"id"`
		Class       string `json:"class"`
		Status      string `json:"status"`
		Memberships []struct {
			Company string `json:"company"`
			Role    string `json:"role"`
		} `json:"memberships"`
		TenantPermissions []string `json:"tenant_permissions"`
		Scope             struct {
			AllCompanies bool `json:"all_companies"`
			AllTickets   bool `json:"all_tickets"`
		} `json:"scope"`
	}
	w.getJSON(v, "/v1/me", &me)
	roles := map[string]string{}
	for _, m := range me.Memberships {
		roles[w.nameOf(m.Company)] = m.Role
	}
	if me.ID != w.id(v) || me.Class != want.class || me.Status != "active" || fmt.Sprint(roles) != fmt.Sprint(want.roles) ||
		me.Scope.AllCompanies != want.allCompanies || me.Scope.AllTickets != want.allTickets {
		w.t.Errorf("%s: /v1/me = id %s class %s status %s roles %v all_companies %v all_tickets %v; want class %s roles %v all_companies %v all_tickets %v",
			v, w.nameOf(me.ID), me.Class, me.Status, roles, me.Scope.AllCompanies, me.Scope.AllTickets, want.class, want.roles, want.allCompanies, want.allTickets)
	}
	// Tenant-wide rights come from a normal user's group only.
	if (me.Class == "normal_user") != (len(me.TenantPermissions) > 0) {
		w.t.Errorf("%s: tenant_permissions %v for a %s", v, me.TenantPermissions, me.Class)
	}

	// Listings.
	order := w.expectListing(v, v, "/v1/me/tickets", "ticket", want.tickets)
	// Newest first: the tickets were opened T1 … T6.
	if !slices.IsSortedFunc(order, func(a, b string) int { return strings.Compare(b, a) }) {
		w.t.Errorf("%s: tickets not newest first: %v", v, order)
	}
	w.expectListing(v, v, "/v1/me/companies", "company", want.companies)
	w.expectListing(v, v, "/v1/me/sites", "site", want.sites)
	w.expectListing(v, v, "/v1/me/documents", "document", want.docs)
	w.expectListing(v, v, "/v1/me/people", "person", want.people)

	// Every resource by id, and a batch check of every resource.
	type probe struct {
		typ, path, name string
		reasons         string // "" = must not be visible
		visibility      string // people: full or limited
	}
	var probes []probe
	for _, t := range w.tickets {
		probes = append(probes, probe{"ticket", "tickets", t, want.tickets[t], ""})
	}
	for _, c := range w.companies {
		probes = append(probes, probe{"company", "companies", c, want.companies[c], ""})
	}
	for _, s := range w.sites {
		probes = append(probes, probe{"site", "sites", s, want.sites[s], ""})
	}
	for _, d := range w.docs {
		r := want.docs[d]
		if t, ok := ticketDocs[d]; ok {
			r = want.tickets[t]
		}
		probes = append(probes, probe{"document", "documents", d, r, ""})
	}
	limited := want.limitedOf()
	for _, p := range w.people {
		if w.removed[w.id(p)] {
			continue
		}
		switch {
		case want.people[p] != "":
			probes = append(probes, probe{"person", "people", p, want.people[p], "full"})
		case limited[p] != "":
			probes = append(probes, probe{"person", "people", p, "ticket_reference#" + limited[p], "limited"})
		default:
			probes = append(probes, probe{"person", "people", p, "", ""})
		}
	}
	var checks []map[string]any
	for _, pr := range probes {
		checks = append(checks, map[string]any{"resource": map[string]string{"type": pr.typ, "id": w.id(pr.name)}})
		code, body := w.read(v, "/v1/me/"+pr.path+"/"+w.id(pr.name))
		if pr.reasons == "" {
			if code != http.StatusNotFound || problemCode(body) != "not-found" {
				w.t.Errorf("%s: GET %s %s = %d %s, want 404 not-found", v, pr.typ, pr.name, code, body)
			}
			continue
		}
		if code != http.StatusOK {
			w.t.Errorf("%s: GET %s %s = %d %s, want 200 (%s)", v, pr.typ, pr.name, code, body, pr.reasons)
			continue
		}
		var item struct {
			Reasons    []e2eReason `json:"reasons"`
			Visibility string      `json:"visibility"`
		}
		_ = json.Unmarshal(body, &item)
		if got := w.reasons(item.Reasons); got != pr.reasons || item.Visibility != pr.visibility {
			w.t.Errorf("%s: GET %s %s: reasons %q visibility %q, want %q %q", v, pr.typ, pr.name, got, item.Visibility, pr.reasons, pr.visibility)
		}
	}
	results := w.check(v, checks)
	for i, pr := range probes {
		r := results[i]
		got := w.reasons(r.Reasons)
		if r.Allowed != (pr.reasons != "") || got != pr.reasons || r.Visibility != pr.visibility || r.Viewer != w.id(v) {
			w.t.Errorf("%s: check %s %s: allowed %v reasons %q visibility %q viewer %s, want %v %q %q",
				v, pr.typ, pr.name, r.Allowed, got, r.Visibility, w.nameOf(r.Viewer), pr.reasons != "", pr.reasons, pr.visibility)
		}
		if !r.Allowed && r.Explanation == "" {
			w.t.Errorf("%s: check %s %s refused without explanation", v, pr.typ, pr.name)
		}
	}
}

// expectListing reads a listing (pages of 4, following next_cursor) and compares it with want
// (name -> reasons); it returns the names in the order listed.
func (w *e2eWorld) expectListing(label, sub, path, kind string, want map[string]string) []string {
	w.t.Helper()
	got := map[string]string{}
	var order []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 50 {
			w.t.Fatalf("%s: %s does not end", label, path)
		}
		q := "?limit=4"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				ID         string      `json:"id"`
				Reasons    []e2eReason `json:"reasons"`
				Visibility string      `json:"visibility"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		w.getJSON(sub, path+q, &page)
		for _, it := range page.Items {
			n := w.nameOf(it.ID)
			if _, dup := got[n]; dup {
				w.t.Errorf("%s: %s lists %s twice", label, path, n)
			}
			if kind == "person" && it.Visibility != "full" {
				w.t.Errorf("%s: %s lists %s with visibility %q", label, path, n, it.Visibility)
			}
			got[n] = w.reasons(it.Reasons)
			order = append(order, n)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		w.t.Errorf("%s: %s\n got: %v\nwant: %v", label, path, got, want)
	}
	return order
}

// --- refusals of commands

func (w *e2eWorld) verifyCommandRefusals() {
	// Eve may open incidents only.
	w.refusedPost("eve", "/v1/tickets", map[string]any{"site": w.id("main"), "type": "request", "title": "A request"}, http.StatusUnprocessableEntity, "ticket-type-not-allowed")
	// … and send them only to her responsible recipients (the Agents).
	w.refusedPost("eve", "/v1/tickets", map[string]any{"site": w.id("main"), "type": "incident", "title": "x", "responsible_group": w.id("customers")},
		http.StatusUnprocessableEntity, "responsible-not-allowed")
	// North is neither a write site of hers nor her basic site: she cannot open a ticket there.
	w.refusedPost("eve", "/v1/tickets", map[string]any{"site": w.id("north"), "type": "incident", "title": "x"}, http.StatusForbidden, "forbidden")
	// Restricted statuses: closed is not hers to set, in_progress is.
	w.refused("eve", "PUT", "/v1/tickets/"+w.id("T4")+"/status", map[string]any{"status": "closed"}, http.StatusUnprocessableEntity, "status-not-allowed")
	w.do("eve", "PUT", "/v1/tickets/"+w.id("T4")+"/status", map[string]any{"status": "in_progress"})
	// T2 she reads through her read site, but may not change.
	w.refused("eve", "PUT", "/v1/tickets/"+w.id("T2")+"/status", map[string]any{"status": "in_progress"}, http.StatusForbidden, "forbidden")
	// Bob does not see T2: it does not exist for him.
	w.refused("bob", "PUT", "/v1/tickets/"+w.id("T2")+"/status", map[string]any{"status": "in_progress"}, http.StatusNotFound, "")
	// A manager invites only basic users at its sites.
	w.refusedPost("molly", "/v1/invitations", map[string]any{"name": "X", "email": "x@globex.example", "home_company": w.id("globex"), "group": w.id("customers"), "role": "admin"},
		http.StatusForbidden, "forbidden")
	w.refusedPost("molly", "/v1/invitations", map[string]any{"name": "X", "email": "x@globex.example", "home_company": w.id("globex"), "group": w.id("customers"), "role": "basic",
		"sites": []string{w.id("hq")}}, http.StatusForbidden, "forbidden")
	// A portal admin cannot widen its company's partner access.
	w.refusedPost("gloria", "/v1/companies/"+w.id("globex")+"/access-grants", map[string]any{"target": w.id("umbrella")}, http.StatusForbidden, "forbidden")
	// The technician is not staff: it cannot reassign the contractor.
	w.refused("tom", "PUT", "/v1/tickets/"+w.id("T1")+"/contractor", map[string]any{"contractor": w.id("acme-builders")}, http.StatusForbidden, "forbidden")
	// The status Eve set is visible to the viewers of T4 (read-your-writes).
	var t4 struct {
		Status string `json:"status"`
	}
	w.getJSON("petra", "/v1/me/tickets/"+w.id("T4"), &t4)
	if t4.Status != "in_progress" {
		w.t.Errorf("petra: T4 status %q, want in_progress", t4.Status)
	}
}

// --- suspension, demotion, removal

func (w *e2eWorld) verifyLifecycle() {
	// Suspended: every read as Sam is refused at once; on his behalf, too.
	w.doWithReason("gary", "POST", "/v1/people/"+w.id("sam")+"/suspend", nil, "left for a month")
	for _, path := range []string{"/v1/me", "/v1/me/tickets", "/v1/me/companies", "/v1/me/people", "/v1/me/tickets/" + w.id("T1")} {
		w.refusedRead("sam", path, http.StatusForbidden, "not-a-viewer")
	}
	w.refusedPost("sam", "/v1/check", map[string]any{"resource": map[string]string{"type": "ticket", "id": w.id("T1")}}, http.StatusForbidden, "not-a-viewer")
	w.refusedRead("ada", "/v1/viewers/"+w.id("sam")+"/tickets", http.StatusForbidden, "viewer-without-access")
	// A suspended user's command is refused too.
	w.refusedPost("sam", "/v1/tickets", map[string]any{"site": w.id("hq"), "type": "request", "title": "x"}, http.StatusForbidden, "")
	// Reactivated: his table is back, as it was.
	w.do("gary", "POST", "/v1/people/"+w.id("sam")+"/reactivate", nil)
	w.expectListing("sam reactivated", "sam", "/v1/me/tickets", "ticket", map[string]string{"T1": "company_role", "T2": "company_role", "T3": "company_role"})

	// Demoted to a contact: his login is unbound (unknown-identity), his table gone.
	w.expectListing("dave before demotion", "dave", "/v1/me/tickets", "ticket", map[string]string{"T1": "company_role", "T2": "company_role", "T3": "company_role"})
	w.do("gary", "POST", "/v1/people/"+w.id("dave")+"/demote", nil)
	for _, path := range []string{"/v1/me", "/v1/me/tickets", "/v1/me/documents/" + w.id("D1")} {
		w.refusedRead("dave", path, http.StatusForbidden, "unknown-identity")
	}
	w.refusedPost("dave", "/v1/check", map[string]any{"resource": map[string]string{"type": "ticket", "id": w.id("T1")}}, http.StatusForbidden, "unknown-identity")
	w.refusedRead("ada", "/v1/viewers/"+w.id("dave")+"/tickets", http.StatusForbidden, "viewer-without-access")

	// Removed: same, and left out of every people listing.
	w.do("gary", "DELETE", "/v1/people/"+w.id("rita"), nil)
	w.removed[w.id("rita")] = true
	w.refusedRead("rita", "/v1/me", http.StatusForbidden, "unknown-identity")
	w.refusedRead("rita", "/v1/me/tickets", http.StatusForbidden, "unknown-identity")
	w.refusedRead("ada", "/v1/viewers/"+w.id("rita")+"/companies", http.StatusForbidden, "viewer-without-access")

	// Viewers after the changes: who checks about them gets "no viewer"; Globex's admin still
	// sees Dave (now a contact, company_role) but no longer lists Rita.
	for _, v := range []string{"dave", "rita"} {
		res := w.check("ada", []map[string]any{{"viewer": w.id(v), "resource": map[string]string{"type": "ticket", "id": w.id("T1")}}})
		if res[0].Allowed || !strings.Contains(res[0].Explanation, "not an active user") {
			w.t.Errorf("check as %s: %+v", v, res[0])
		}
	}
	wants := w.initialWants() // globexPeople leaves the removed out now
	w.expectListing("gloria after lifecycle", "gloria", "/v1/me/people", "person", wants["gloria"].people)
	w.expectListing("paul after lifecycle", "paul", "/v1/me/people", "person", wants["paul"].people)
	var dave struct {
		Visibility string `json:"visibility"`
		Person     struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"person"`
	}
	w.getJSON("gloria", "/v1/me/people/"+w.id("dave"), &dave)
	if dave.Visibility != "full" || dave.Person.Type != "contact" || dave.Person.Status != "contact" {
		w.t.Errorf("gloria: dave after demotion is %+v, want a contact seen in full", dave)
	}
	// A removed user is left out of listings, but its record still answers by id (status removed).
	var rita struct {
		Person struct {
			Status string `json:"status"`
		} `json:"person"`
	}
	w.getJSON("gloria", "/v1/me/people/"+w.id("rita"), &rita)
	if rita.Person.Status != "removed" {
		w.t.Errorf("gloria: rita after removal has status %q", rita.Person.Status)
	}
	// Sam again in full: a reactivated user's whole table is back.
	w.verifyViewer("sam", wants["sam"])
}

// --- revocations of company access

func (w *e2eWorld) verifyRevocations() {
	pete := w.id("pete")
	// Revoking Pete's last user-level target leaves an empty user-level setting: own company
	// only — it does not fall back to Contoso's company-level setting (revoking never widens).
	w.do("ada", "DELETE", "/v1/people/"+pete+"/access-grants/"+w.id("globex-eu"), nil)
	w.expectListing("pete revoked", "pete", "/v1/me/companies", "company", map[string]string{"contoso": "company_access:own"})
	w.expectListing("pete revoked", "pete", "/v1/me/tickets", "ticket", map[string]string{})
	w.refusedRead("pete", "/v1/me/tickets/"+w.id("T5"), http.StatusNotFound, "not-found")
	if r := w.check("pete", []map[string]any{{"resource": map[string]string{"type": "ticket", "id": w.id("T5")}}}); r[0].Allowed {
		w.t.Errorf("pete: T5 still allowed after revocation: %+v", r[0])
	}
	// Clearing the user level: the company level decides again (Globex with subsidiaries).
	w.do("ada", "DELETE", "/v1/people/"+pete+"/access-grants", nil)
	peteCleared := map[string]string{"T1": "company_access:company", "T2": "company_access:company", "T3": "company_access:company", "T5": "company_access:company"}
	w.expectListing("pete cleared", "pete", "/v1/me/tickets", "ticket", peteCleared)
	w.expectListing("pete cleared", "pete", "/v1/me/companies", "company",
		map[string]string{"contoso": "company_access:own", "globex": "company_access:company", "globex-eu": "company_access:company"})
}

// revokeContoso revokes Contoso's company-level Globex grant: Paul and Pete keep an empty
// company-level setting (own company only); Petra's group level is untouched.
func (w *e2eWorld) revokeContoso() {
	w.do("ada", "DELETE", "/v1/companies/"+w.id("contoso")+"/access-grants/"+w.id("globex"), nil)
	for _, v := range []string{"paul", "pete"} {
		w.expectListing(v+" after company revocation", v, "/v1/me/tickets", "ticket", map[string]string{})
		w.expectListing(v+" after company revocation", v, "/v1/me/companies", "company", map[string]string{"contoso": "company_access:own"})
		w.expectListing(v+" after company revocation", v, "/v1/me/documents", "document", map[string]string{})
		w.refusedRead(v, "/v1/me/documents/"+w.id("D1"), http.StatusNotFound, "not-found")
		w.refusedRead(v, "/v1/me/people/"+w.id("gloria"), http.StatusNotFound, "not-found")
	}
	w.expectListing("petra after company revocation", "petra", "/v1/me/tickets", "ticket", map[string]string{"T4": "company_access:group"})
}

// --- who can see, audit

func (w *e2eWorld) verifyWhoCanSee() {
	// Who can see T1 (Bob's ticket at North, assigned to Acme Builders and Tom), now: the
	// unrestricted staff, Contoso's partners at company level (Pete's user level is cleared),
	// Globex's master admin, admin and members (Sam reactivated; Dave demoted and Rita removed
	// are gone), the manager of North, the reporter, the technician and the contractor's admin.
	// Not Petra (Initech only), not Eve (HQ and Initech Main only), not the contacts.
	t1 := map[string]string{
		"ada": "internal_unrestricted", "nina": "internal_unrestricted",
		"paul": "company_access:company", "pete": "company_access:company",
		"gloria": "company_role", "gary": "company_role", "mia": "company_role", "connor": "company_role", "sam": "company_role",
		"molly": "managed_site", "bob": "own_request", "tom": "contractor_assignment", "carl": "contractor_assignment",
	}
	w.expectViewers("ada", "ticket", "T1", t1)
	// Its document D2 follows the ticket.
	w.expectViewers("ada", "document", "D2", t1)
	// T4 (Eve's, Initech Main): Eve, Petra by her group's setting, the unrestricted staff.
	w.expectViewers("ada", "ticket", "T4", map[string]string{"ada": "internal_unrestricted", "nina": "internal_unrestricted",
		"petra": "company_access:group", "eve": "own_request,site_read"})
	// Reverse lookups need viewers:read or audit:read.
	w.refusedRead("gloria", "/v1/resources/ticket/"+w.id("T1")+"/viewers", http.StatusForbidden, "forbidden")
	w.refusedRead("nina", "/v1/resources/ticket/"+w.id("T1")+"/viewers", http.StatusForbidden, "forbidden")

	// After revoking Contoso's company-level grant, Paul and Pete are gone from T1's viewers.
	w.revokeContoso()
	delete(t1, "paul")
	delete(t1, "pete")
	w.expectViewers("ada", "ticket", "T1", t1)
}

func (w *e2eWorld) expectViewers(sub, typ, name string, want map[string]string) {
	w.t.Helper()
	got := map[string]string{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 50 {
			w.t.Fatalf("who can see %s: does not end", name)
		}
		q := "?limit=5"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				Viewer  string      `json:"viewer"`
				Reasons []e2eReason `json:"reasons"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		w.getJSON(sub, "/v1/resources/"+typ+"/"+w.id(name)+"/viewers"+q, &page)
		for _, it := range page.Items {
			got[w.nameOf(it.Viewer)] = w.reasons(it.Reasons)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		w.t.Errorf("who can see %s %s\n got: %v\nwant: %v", typ, name, got, want)
	}
}

func (w *e2eWorld) verifyAudit() {
	type entry struct {
		Type  string `json:"type"`
		Actor struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		} `json:"actor"`
		Tenant   string   `json:"tenant"`
		Command  string   `json:"command"`
		Reason   string   `json:"reason"`
		Subjects []string `json:"subjects"`
	}
	var page struct {
		Entries    []entry `json:"entries"`
		NextCursor string  `json:"next_cursor"`
	}
	// Everything Gary did, attributed to him.
	w.getJSON("ada", "/v1/audit?limit=1000&actor=user:"+w.id("gary"), &page)
	cmds := map[string]bool{}
	for _, e := range page.Entries {
		if e.Actor.Kind != "user" || e.Actor.ID != w.id("gary") || e.Tenant != w.tenant {
			w.t.Errorf("audit by gary holds %+v", e)
		}
		cmds[e.Command] = true
	}
	for _, c := range []string{"InviteUser", "RegisterGuestContractor", "AddTechnician", "AddContact", "PromoteContactToUser", "OpenTicket",
		"AssignContractor", "AttachDocument", "SuspendUser", "ReactivateUser", "DemoteUserToContact", "RemoveUser"} {
		if !cmds[c] {
			w.t.Errorf("audit by gary lacks %s (has %v)", c, cmds)
		}
	}
	// The history of T1: opened by Bob, assigned by Gary, worked on by Tom.
	w.getJSON("ada", "/v1/audit?subject="+w.id("T1"), &page)
	var t1 []string
	for _, e := range page.Entries {
		t1 = append(t1, e.Type+" by "+w.nameOf(e.Actor.ID))
	}
	for _, want := range []string{"TicketOpened by bob", "ContractorAssigned by gary", "TicketStatusChanged by tom", "TicketCommented by tom", "DocumentAttached by gary"} {
		if !slices.Contains(t1, want) {
			w.t.Errorf("T1's audit trail lacks %q: %v", want, t1)
		}
	}
	// The reason given with the suspension is recorded.
	w.getJSON("ada", "/v1/audit?type=UserSuspended&subject="+w.id("sam"), &page)
	if len(page.Entries) != 1 || page.Entries[0].Reason != "left for a month" || page.Entries[0].Command != "SuspendUser" {
		w.t.Errorf("Sam's suspension in the audit trail: %+v", page.Entries)
	}
	// NDJSON export of T1's history.
	req := w.request("ada", "GET", "/v1/audit?subject="+w.id("T1"), nil)
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Tenant != w.tenant {
			w.t.Errorf("NDJSON line %q: %v", sc.Text(), err)
		}
		lines++
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || lines != len(t1) {
		w.t.Errorf("NDJSON export of T1: status %d, %d lines, want %d", resp.StatusCode, lines, len(t1))
	}
	// A compliance service with audit:read reads it; portal users and staff without the right
	// are refused, as are users without a table.
	svc, err := w.dev.Mint(domain.TenantID(w.tenant), domain.PrincipalService, "compliance", []string{"audit:read"}, time.Hour)
	if err != nil {
		w.t.Fatal(err)
	}
	if code, body := w.readWith(svc, "/v1/audit?limit=1"); code != http.StatusOK {
		w.t.Errorf("compliance service: audit %d %s", code, body)
	}
	for _, v := range []string{"gloria", "gary", "nina", "bob", "tom"} {
		w.refusedRead(v, "/v1/audit", http.StatusForbidden, "forbidden")
	}
	w.refusedRead("dave", "/v1/audit", http.StatusForbidden, "unknown-identity")
	// Another tenant's token reads nothing of this one.
	other, _ := w.dev.Mint("globex-tenant", domain.PrincipalUser, "ada", nil, time.Hour)
	if code, body := w.readWith(other, "/v1/me/tickets"); code != http.StatusForbidden || problemCode([]byte(body)) != "unknown-identity" {
		w.t.Errorf("another tenant's token: %d %s", code, body)
	}
}

// --- HTTP plumbing

type e2eReason struct {
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	Company string `json:"company"`
	Ticket  string `json:"ticket"`
}

type e2eCheck struct {
	Viewer      string      `json:"viewer"`
	Allowed     bool        `json:"allowed"`
	Reasons     []e2eReason `json:"reasons"`
	Visibility  string      `json:"visibility"`
	Explanation string      `json:"explanation"`
}

// reasons renders reasons as "rule", "rule:level", "rule@company" or "rule#ticket", by name.
func (w *e2eWorld) reasons(rs []e2eReason) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		s := r.Rule
		if r.Level != "" {
			s += ":" + r.Level
		}
		if r.Company != "" {
			s += "@" + w.nameOf(r.Company)
		}
		if r.Ticket != "" {
			s += "#" + w.nameOf(r.Ticket)
		}
		out[i] = s
	}
	// Within one rule, the service orders companies by id (random here): compare by name.
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && rs[j].Rule == rs[i].Rule {
			j++
		}
		sort.Strings(out[i:j])
		i = j
	}
	return strings.Join(out, ",")
}

func (w *e2eWorld) name(name, id string, kind *[]string) {
	if id == "" {
		w.t.Fatalf("no id for %s", name)
	}
	w.ids[name], w.names[id] = id, name
	if kind != nil {
		*kind = append(*kind, name)
	}
}

func (w *e2eWorld) id(name string) string {
	id, ok := w.ids[name]
	if !ok {
		w.t.Fatalf("unknown name %q", name)
	}
	return id
}

func (w *e2eWorld) nameOf(id string) string {
	if n, ok := w.names[id]; ok {
		return n
	}
	return id
}

// namesOf renders ids as their sorted names.
func (w *e2eWorld) namesOf(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.nameOf(id)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (w *e2eWorld) token(sub string) string {
	tok, err := w.dev.Mint(domain.TenantID(w.tenant), domain.PrincipalUser, sub, nil, time.Hour)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

func (w *e2eWorld) request(sub, method, path string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.api+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token(sub))
	req.Header.Set("Content-Type", "application/json")
	// Read-your-writes: at least as fresh as the last accepted command.
	req.Header.Set("X-Min-Position", w.pos)
	return req
}

func (w *e2eWorld) send(req *http.Request) (int, []byte, http.Header) {
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		w.t.Errorf("%s %s answered %d: %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return resp.StatusCode, b, resp.Header
}

// do runs a command as sub and fails unless it is accepted; it returns the created ids.
func (w *e2eWorld) do(sub, method, path string, body any) map[string]string {
	w.t.Helper()
	return w.doWithReason(sub, method, path, body, "")
}

func (w *e2eWorld) doWithReason(sub, method, path string, body any, reason string) map[string]string {
	w.t.Helper()
	req := w.request(sub, method, path, body)
	req.Header.Set("Idempotency-Key", uuid.NewString())
	if reason != "" {
		req.Header.Set("X-Reason", reason)
	}
	code, b, h := w.send(req)
	if code != http.StatusOK && code != http.StatusCreated {
		w.t.Fatalf("%s: %s %s: %d %s", sub, method, path, code, b)
	}
	var res struct {
		IDs map[string]string `json:"ids"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		w.t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	if p := h.Get("X-Log-Position"); p != "" {
		w.pos = p
	} else {
		w.t.Fatalf("%s %s: no X-Log-Position", method, path)
	}
	return res.IDs
}

// create runs a command that creates something and names the id it answers under key.
func (w *e2eWorld) create(name, key string, kind *[]string, sub, method, path string, body any) {
	w.t.Helper()
	ids := w.do(sub, method, path, body)
	w.name(name, ids[key], kind)
}

// invite invites a user as actor, names it, and accepts the invitation with the login "name".
func (w *e2eWorld) invite(actor, name string, body map[string]any) {
	w.t.Helper()
	ids := w.do(actor, "POST", "/v1/invitations", body)
	w.name(name, ids["person_id"], &w.people)
	w.accept(name, ids["invitation_token"])
}

// accept binds the login sub (an unbound token subject) to the invited user.
func (w *e2eWorld) accept(sub, invitation string) {
	w.t.Helper()
	if invitation == "" {
		w.t.Fatalf("no invitation token for %s", sub)
	}
	w.do(sub, "POST", "/v1/invitations/accept", map[string]any{"token": invitation})
}

// refused runs a command that must be refused with status and problem code ("" = any code).
func (w *e2eWorld) refused(sub, method, path string, body any, status int, code string) {
	w.t.Helper()
	c, b, h := w.send(w.request(sub, method, path, body))
	if c != status || (code != "" && problemCode(b) != code) || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		w.t.Errorf("%s: %s %s = %d %s, want %d %s (problem+json)", sub, method, path, c, b, status, code)
	}
}

func (w *e2eWorld) refusedPost(sub, path string, body any, status int, code string) {
	w.t.Helper()
	w.refused(sub, "POST", path, body, status, code)
}

func (w *e2eWorld) refusedRead(sub, path string, status int, code string) {
	w.t.Helper()
	w.refused(sub, "GET", path, nil, status, code)
}

func (w *e2eWorld) read(sub, path string) (int, []byte) {
	c, b, _ := w.send(w.request(sub, "GET", path, nil))
	return c, b
}

func (w *e2eWorld) readWith(token, path string) (int, string) {
	req, _ := http.NewRequest("GET", w.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Min-Position", w.pos)
	c, b, _ := w.send(req)
	return c, string(b)
}

func (w *e2eWorld) getJSON(sub, path string, dst any) {
	w.t.Helper()
	code, b := w.read(sub, path)
	if code != http.StatusOK {
		w.t.Fatalf("%s: GET %s = %d %s", sub, path, code, b)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		w.t.Fatalf("%s: GET %s: %v in %s", sub, path, err, b)
	}
}

// check sends a batch of checks as sub and returns the results in order.
func (w *e2eWorld) check(sub string, checks []map[string]any) []e2eCheck {
	w.t.Helper()
	var out []e2eCheck
	for start := 0; start < len(checks); start += 100 {
		batch := checks[start:min(start+100, len(checks))]
		code, b, _ := w.send(w.request(sub, "POST", "/v1/check", map[string]any{"checks": batch}))
		if code != http.StatusOK {
			w.t.Fatalf("%s: check: %d %s", sub, code, b)
		}
		var res struct {
			Results []e2eCheck `json:"results"`
		}
		if err := json.Unmarshal(b, &res); err != nil || len(res.Results) != len(batch) {
			w.t.Fatalf("%s: check: %v, %d results for %d checks", sub, err, len(res.Results), len(batch))
		}
		out = append(out, res.Results...)
	}
	return out
}

func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Code
}
