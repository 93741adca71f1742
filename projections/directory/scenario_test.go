package directory_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
)

// world is a tenant driven through the command API.
type world struct {
	t   *testing.T
	api *testkit.API
	tn  testkit.Tenant
	id  map[string]string // name -> id (companies, sites, groups, people, tickets, documents)
	tok map[string]string // name -> bearer token of an active user
}

func (w *world) do(method, path, token string, body any) testkit.Response {
	w.t.Helper()
	r := w.api.Do(method, path, token, body)
	if r.Status >= 300 {
		w.t.Fatalf("%s %s: %s", method, path, r)
	}
	return r
}

// invite invites a person (by the tenant admin unless by is given) and, with a subject,
// lets it accept.
func (w *world) invite(name string, accept bool, body map[string]any) {
	w.t.Helper()
	body["name"], body["email"] = "Person "+name, strings.ToLower(name)+"@example.test"
	r := w.do("POST", "/v1/invitations", w.tn.AdminToken, body)
	w.id[name] = r.ID("person_id")
	if accept {
		w.tok[name] = w.api.Accept(w.tn.ID, r.ID("invitation_token"), "sub-"+name)
	}
}

// buildCompanies registers the companies, sites and groups (before the projection runs: it
// catches up on them).
func (w *world) buildCompanies() {
	adm := w.tn.AdminToken
	company := func(name, kind, parent string) {
		body := map[string]any{"name": name, "kind": kind}
		if parent != "" {
			body["parent"] = w.id[parent]
		}
		w.id[name] = w.do("POST", "/v1/companies", adm, body).ID("company_id")
	}
	company("holding", "customer", "")
	company("alpha", "customer", "holding")
	company("beta", "customer", "")
	company("gamma", "customer", "holding")
	company("partner", "partner", "")
	w.do("PUT", "/v1/companies/"+w.id["beta"]+"/parent", adm, map[string]any{"parent": w.id["holding"]})
	w.do("PUT", "/v1/companies/"+w.id["beta"]+"/parent", adm, map[string]any{"parent": w.id["alpha"]}) // moves between parents
	w.do("PUT", "/v1/companies/"+w.id["gamma"]+"/parent", adm, map[string]any{"parent": ""})           // becomes top-level
	w.do("PUT", "/v1/companies/"+w.id["alpha"]+"/name", adm, map[string]any{"name": "Alpha GmbH"})

	site := func(name, company, address string) {
		w.id[name] = w.do("POST", "/v1/companies/"+w.id[company]+"/sites", adm, map[string]any{"name": strings.ToUpper(name), "address": address}).ID("site_id")
	}
	site("a1", "alpha", "1 Main Street")
	site("a2", "alpha", "")
	site("a3", "alpha", "3 Dock Road")
	site("b1", "beta", "")
	site("h1", "holding", "HQ")

	group := func(name string, body map[string]any) {
		body["name"] = name
		w.id[name] = w.do("POST", "/v1/groups", adm, body).ID("group_id")
	}
	group("portal", map[string]any{"support_user": true})
	group("staff", map[string]any{"permissions": map[string]any{"named": "support"}})
	group("agents", map[string]any{"permissions": map[string]any{"list": []string{"tickets:read", "tickets:write"}}})
	w.do("PUT", "/v1/groups/"+w.id["staff"]+"/permissions", adm, map[string]any{"permissions": map[string]any{"named": "support", "list": []string{"documents:write"}}})
	// Company access is not the directory's business: these only move its checkpoint.
	w.do("POST", "/v1/companies/"+w.id["partner"]+"/access-grants", adm, map[string]any{"target": w.id["holding"], "with_subsidiaries": true})
}

// buildPeople covers every person event: invitations (accepted, pending and resent, revoked),
// contacts (kept, promoted), demotion, suspension and reactivation, removal, memberships in
// several companies, role change, managed sites, site permissions, ticket restrictions, MFA,
// moves between groups that change the class, a master admin transfer, a site removal that
// reaches people, and a guest contractor's technician.
func (w *world) buildPeople() {
	adm := w.tn.AdminToken
	portal := w.id["portal"]
	w.invite("aMaster", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "master_admin"})
	w.invite("aAdmin", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "admin"})
	w.invite("aMgr", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "manager", "sites": []string{w.id["a1"], w.id["a2"], w.id["a3"]}})
	w.invite("aMember", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "member"})
	w.invite("aBasic", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "basic", "sites": []string{w.id["a1"]}})
	w.invite("aBasic2", true, map[string]any{"home_company": w.id["alpha"], "role": "basic", "sites": []string{w.id["a2"]}}) // no group: support
	w.invite("bAdmin", true, map[string]any{"home_company": w.id["beta"], "group": portal, "role": "admin"})
	w.invite("bMember", true, map[string]any{"home_company": w.id["beta"], "group": portal, "role": "member", "permissions": map[string]any{"named": "billing"}})
	w.invite("staff1", true, map[string]any{"home_company": w.tn.Provider, "group": w.id["staff"]})
	w.invite("staff2", true, map[string]any{"home_company": w.tn.Provider, "group": w.id["staff"]})
	w.invite("sup1", true, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "member"})
	w.invite("pending", false, map[string]any{"home_company": w.id["alpha"], "group": portal, "role": "member"})
	w.invite("revoked", false, map[string]any{"home_company": w.id["gamma"], "group": portal, "role": "admin"})

	w.do("POST", "/v1/invitations/"+w.id["pending"]+"/resend", adm, map[string]any{"expires_in_hours": 240})
	w.do("DELETE", "/v1/invitations/"+w.id["revoked"], adm, nil)

	// Contacts: one stays, one is promoted and logs in (preferences kept).
	w.id["carl"] = w.do("POST", "/v1/contacts", adm, map[string]any{"name": "Carl Contact", "email": "carl@beta.example",
		"home_company": w.id["beta"], "notification_prefs": []string{"invoices"}}).ID("person_id")
	w.id["connie"] = w.do("POST", "/v1/contacts", w.tok["aAdmin"], map[string]any{"name": "Connie", "email": "connie@alpha.example",
		"home_company": w.id["alpha"], "notification_prefs": []string{"tickets"}}).ID("person_id")
	w.do("PUT", "/v1/people/"+w.id["connie"]+"/notification-preferences", w.tok["aAdmin"], map[string]any{"notification_prefs": []string{"documents", "announcements"}})
	r := w.do("POST", "/v1/contacts/"+w.id["connie"]+"/promote", w.tok["aAdmin"], map[string]any{"role": "basic", "sites": []string{w.id["a2"]}})
	w.tok["connie"] = w.api.Accept(w.tn.ID, r.ID("invitation_token"), "sub-connie")

	// Memberships in other companies, a revoked one, a role change, managed sites.
	w.do("POST", "/v1/people/"+w.id["aMgr"]+"/memberships", adm, map[string]any{"company": w.id["beta"], "role": "basic", "sites": []string{w.id["b1"]}})
	w.do("POST", "/v1/people/"+w.id["bAdmin"]+"/memberships", adm, map[string]any{"company": w.id["alpha"], "role": "member"})
	w.do("POST", "/v1/people/"+w.id["bMember"]+"/memberships", adm, map[string]any{"company": w.id["alpha"], "role": "manager", "sites": []string{w.id["a3"]}})
	w.do("DELETE", "/v1/people/"+w.id["bAdmin"]+"/memberships/"+w.id["alpha"], w.tok["aAdmin"], nil)
	w.do("PUT", "/v1/people/"+w.id["aBasic"]+"/memberships/"+w.id["alpha"]+"/role", w.tok["aMaster"], map[string]any{"role": "manager", "sites": []string{w.id["a1"], w.id["a3"]}})
	w.do("PUT", "/v1/people/"+w.id["aMgr"]+"/memberships/"+w.id["alpha"]+"/managed-sites", w.tok["aAdmin"], map[string]any{"sites": []string{w.id["a2"], w.id["a3"]}})

	// Site rights and restrictions of external users, MFA.
	w.do("PUT", "/v1/people/"+w.id["aBasic2"]+"/site-permissions", w.tok["aAdmin"], map[string]any{
		"read_sites": []string{w.id["a1"], w.id["a3"]}, "write_sites": []string{w.id["a2"]}, "responsible": []string{w.id["staff"], w.id["staff1"]}})
	w.do("PUT", "/v1/people/"+w.id["aBasic2"]+"/ticket-restrictions", w.tok["aAdmin"], map[string]any{
		"ticket_types": []string{"incident", "request"}, "restricted": true, "statuses": []string{"resolved"}})
	w.do("PUT", "/v1/people/"+w.id["aAdmin"]+"/mfa", w.tok["aMaster"], map[string]any{"required": true})
	w.do("PUT", "/v1/people/"+w.id["aMember"]+"/mfa", w.tok["aAdmin"], map[string]any{"required": true})

	// Lifecycle: demotion (memberships, rights, MFA go; preferences stay), suspension,
	// suspension and reactivation, removal.
	w.do("POST", "/v1/people/"+w.id["aMember"]+"/demote", w.tok["aAdmin"], nil)
	w.do("POST", "/v1/people/"+w.id["aBasic2"]+"/suspend", w.tok["aMgr"], nil)
	w.do("POST", "/v1/people/"+w.id["bAdmin"]+"/suspend", adm, nil)
	w.do("POST", "/v1/people/"+w.id["bAdmin"]+"/reactivate", adm, nil)
	w.do("DELETE", "/v1/people/"+w.id["bMember"], adm, nil)

	// Class changes with the group: normal -> support, support -> normal.
	w.do("PUT", "/v1/people/"+w.id["staff2"]+"/group", adm, map[string]any{"group": portal})
	w.do("PUT", "/v1/people/"+w.id["sup1"]+"/group", adm, map[string]any{"group": w.id["agents"]})

	// The master admin role moves; the former master admin becomes an admin.
	w.do("POST", "/v1/companies/"+w.id["alpha"]+"/master-admin/transfer", w.tok["aMaster"], map[string]any{"to": w.id["aAdmin"]})

	// A site goes: aMgr keeps a2, aBasic keeps a1, aBasic2 reads only a1.
	w.do("DELETE", "/v1/companies/"+w.id["alpha"]+"/sites/"+w.id["a3"], adm, nil)

	// A guest contractor of alpha and its technician.
	w.id["fixit"] = w.do("POST", "/v1/contractors", w.tok["aAdmin"], map[string]any{"name": "FixIt", "registered_by": w.id["alpha"]}).ID("company_id")
	r = w.do("POST", "/v1/contractors/"+w.id["fixit"]+"/technicians", w.tok["aAdmin"], map[string]any{"name": "Tim Tech", "email": "tim@fixit.example"})
	w.id["tim"] = r.ID("person_id")
	w.tok["tim"] = w.api.Accept(w.tn.ID, r.ID("invitation_token"), "sub-tim")
}

// buildTickets opens tickets and works on them: statuses, assignments, contractor and
// technician, comments, ticket and company documents.
func (w *world) buildTickets() {
	adm := w.tn.AdminToken
	open := func(name, token string, body map[string]any) {
		w.id[name] = w.do("POST", "/v1/tickets", token, body).ID("ticket_id")
	}
	open("t1", w.tok["aBasic"], map[string]any{"site": w.id["a1"], "type": "incident", "title": "Leak", "description": "Water in the basement"})
	open("t2", w.tok["aAdmin"], map[string]any{"company": w.id["alpha"], "type": "request", "title": "New badge", "responsible_user": w.tn.Admin})
	open("t3", w.tok["bAdmin"], map[string]any{"site": w.id["b1"], "type": "incident", "title": "Door", "responsible_group": w.id["staff"]})

	t1 := "/v1/tickets/" + w.id["t1"]
	for _, s := range []string{"in_progress", "waiting", "resolved", "closed"} {
		w.do("PUT", t1+"/status", w.tok["aAdmin"], map[string]any{"status": s})
	}
	w.do("PUT", t1+"/status", w.tok["aAdmin"], map[string]any{"status": "open"}) // reopened by staff
	w.do("PUT", t1+"/assignee", w.tok["aAdmin"], map[string]any{"group": w.tn.AdminGroup})
	w.do("PUT", t1+"/assignee", adm, map[string]any{"user": w.id["staff1"]})
	w.do("PUT", t1+"/contractor", w.tok["aAdmin"], map[string]any{"contractor": w.id["fixit"], "technician": w.id["tim"]})
	w.do("POST", t1+"/comments", w.tok["aBasic"], map[string]any{"body": "Any news?"})
	w.do("POST", t1+"/comments", w.tok["tim"], map[string]any{"body": "On my way"})
	w.do("PUT", t1+"/status", w.tok["tim"], map[string]any{"status": "in_progress"})
	w.do("POST", t1+"/comments", w.tok["aAdmin"], map[string]any{"body": "Thanks, Tim"})
	w.id["d1"] = w.do("POST", t1+"/documents", w.tok["aBasic"], map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 123456}).ID("document_id")
	w.id["d2"] = w.do("POST", t1+"/documents", w.tok["tim"], map[string]any{"name": "report.pdf", "content_type": "application/pdf", "size_bytes": 4096}).ID("document_id")
	w.do("PUT", t1+"/contractor", w.tok["aAdmin"], map[string]any{"contractor": w.id["fixit"]}) // the technician is taken off

	t2 := "/v1/tickets/" + w.id["t2"]
	w.do("POST", t2+"/comments", adm, map[string]any{"body": "Printing it"})
	w.do("PUT", t2+"/status", adm, map[string]any{"status": "resolved"})
	w.id["d3"] = w.do("POST", t2+"/documents", adm, map[string]any{"name": "badge.png", "content_type": "image/png", "size_bytes": 99}).ID("document_id")

	t3 := "/v1/tickets/" + w.id["t3"]
	w.do("POST", t3+"/comments", w.tok["bAdmin"], map[string]any{"body": "It squeaks"})

	w.id["cd1"] = w.do("POST", "/v1/companies/"+w.id["alpha"]+"/documents", w.tok["aAdmin"], map[string]any{"name": "contract.pdf", "content_type": "application/pdf", "size_bytes": 2048}).ID("document_id")
	w.id["cd2"] = w.do("POST", "/v1/companies/"+w.id["beta"]+"/documents", adm, map[string]any{"name": "prices.xlsx", "content_type": "application/vnd.ms-excel", "size_bytes": 512}).ID("document_id")
}

// --- running the projection

func startProjection(t *testing.T, rdb *redis.Client, store projections.Source, keys projections.Keys) (*projections.Runner, func()) {
	t.Helper()
	return testkit.RunProjection(t, rdb, store, directory.New(), keys)
}

func waitFor(t *testing.T, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	testkit.WaitForProjection(t, r, p)
}

// logEvents reads the whole log (system events left out, as the subscription leaves them out).
func logEvents(t *testing.T, store *eventstore.Client) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	err := store.ReadAll(context.Background(), eventstore.Position{}, 1<<30, func(e eventstore.RecordedEvent) error {
		if !strings.HasPrefix(e.Type, "$") {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// feed hands events to a runner directly, as the router would deliver them.
func feed(t *testing.T, r *projections.Runner, events []eventstore.RecordedEvent) {
	t.Helper()
	for _, e := range events {
		if err := r.Handle(projections.ToMessage(e)); err != nil {
			t.Fatalf("handle %s at %v: %v", e.Type, e.Position, err)
		}
	}
}

// digest is a canonical hash of every key of a generation (names without the prefix and
// generation, values by type), and the number of keys.
func digest(t *testing.T, rdb *redis.Client, keys projections.Keys) (string, int) {
	t.Helper()
	ctx := context.Background()
	strip := fmt.Sprintf("%s:g%d:", keys.Prefix, keys.Gen)
	var lines []string
	for _, k := range testkit.Keys(ctx, rdb, keys.Generation()) {
		var v string
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			v = rdb.Get(ctx, k).Val()
		case "hash":
			m := rdb.HGetAll(ctx, k).Val()
			var kv []string
			for f, x := range m {
				kv = append(kv, f+"="+x)
			}
			sort.Strings(kv)
			v = strings.Join(kv, "\x1f")
		case "zset":
			var zs []string
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				zs = append(zs, fmt.Sprintf("%v@%v", z.Member, z.Score))
			}
			v = strings.Join(zs, "\x1f")
		case "list":
			v = strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), "\x1f")
		case "set":
			m := rdb.SMembers(ctx, k).Val()
			sort.Strings(m)
			v = strings.Join(m, "\x1f")
		default:
			t.Fatalf("key %s of type %s", k, typ)
		}
		lines = append(lines, strings.TrimPrefix(k, strip)+"\x1e"+v)
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:]), len(lines)
}

// --- the scenario

func TestDirectoryProjectionFollowsTheCommandSide(t *testing.T) {
	api := testkit.StartAPI(t)
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	keys := projections.Keys{Prefix: prefix, Gen: 1}

	w := &world{t: t, api: api, tn: api.CreateTenant("acme", 10), id: map[string]string{}, tok: map[string]string{}}
	w.buildCompanies()
	// The projection catches up on what is there, then follows live.
	runner, stop := startProjection(t, rdb, api.Store, keys)
	w.buildPeople()
	w.buildTickets()
	// A second tenant: nothing of it may show in the first, nor the other way round.
	other := &world{t: t, api: api, tn: api.CreateTenant("other", 2), id: map[string]string{}, tok: map[string]string{}}
	other.id["globex"] = other.do("POST", "/v1/companies", other.tn.AdminToken, map[string]any{"name": "Globex", "kind": "customer"}).ID("company_id")
	other.id["g1"] = other.do("POST", "/v1/companies/"+other.id["globex"]+"/sites", other.tn.AdminToken, map[string]any{"name": "G1"}).ID("site_id")
	other.id["gt"] = other.do("POST", "/v1/tickets", other.tn.AdminToken, map[string]any{"site": other.id["g1"], "type": "incident", "title": "Other"}).ID("ticket_id")

	events := logEvents(t, api.Store)
	last := events[len(events)-1].Position
	waitFor(t, runner, last)
	stop()

	rd := directory.NewReader(rdb, keys)
	for _, tw := range []*world{w, other} {
		checkDirectory(t, rd, tw.tn.ID, view(t, tw))
		checkTickets(t, rd, tw, events)
	}
	checkSpotValues(t, rd, w)
	checkIsolation(t, rd, w, other)
	checkKeyLayout(t, rdb, keys, w.tn.ID, other.tn.ID)

	full, n := digest(t, rdb, keys)
	t.Logf("%d events, %d keys, digest %s", len(events), n, full[:16])

	t.Run("restart from the checkpoint applies nothing and changes nothing", func(t *testing.T) {
		runner, stop := startProjection(t, rdb, api.Store, keys)
		waitFor(t, runner, last)
		// Every event delivered again (a reconnect from an older position) is skipped.
		feed(t, runner, events)
		stop()
		if runner.Applied() != 0 {
			t.Fatalf("applied %d events again", runner.Applied())
		}
		if d, _ := digest(t, rdb, keys); d != full {
			t.Fatal("the read model changed after a restart")
		}
	})

	t.Run("a crash half way resumes from the checkpoint to the same state", func(t *testing.T) {
		k2 := projections.Keys{Prefix: prefix, Gen: 2}
		first := projections.NewRunner(directory.New(), rdb, eventschema.MustPortal(), k2)
		if _, err := first.Checkpoint(ctx, directory.Name); err != nil {
			t.Fatal(err)
		}
		feed(t, first, events[:len(events)/2])
		runner, stop := startProjection(t, rdb, api.Store, k2) // a new process
		waitFor(t, runner, last)
		stop()
		if runner.Applied() != int64(len(events)-len(events)/2) {
			t.Fatalf("resumed and applied %d events, want %d", runner.Applied(), len(events)-len(events)/2)
		}
		if d, _ := digest(t, rdb, k2); d != full {
			t.Fatal("resuming after a crash gave another read model")
		}
	})

	t.Run("a clean rebuild into a fresh prefix gives the same keys and values", func(t *testing.T) {
		rdb2, prefix2 := testkit.Redis(t)
		k3 := projections.Keys{Prefix: prefix2, Gen: 7}
		runner, stop := startProjection(t, rdb2, api.Store, k3)
		waitFor(t, runner, last)
		stop()
		if d, n2 := digest(t, rdb2, k3); d != full || n2 != n {
			t.Fatalf("rebuild: %d keys digest %s, want %d keys %s", n2, d[:16], n, full[:16])
		}
	})
}

// --- comparisons with the command side

func view(t *testing.T, w *world) *domain.Directory {
	t.Helper()
	var out *domain.Directory
	if err := w.api.Dirs.View(context.Background(), w.tn.ID, func(d *domain.Directory) error { out = d; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

var all = directory.Page{Limit: directory.MaxLimit}

func ids[T any](t *testing.T, l directory.List[T], err error, id func(T) string) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(l.Items)) != l.Total {
		t.Fatalf("listing of %d items says %d", len(l.Items), l.Total)
	}
	out := make([]string, 0, len(l.Items))
	for _, x := range l.Items {
		out = append(out, id(x))
	}
	sort.Strings(out)
	return out
}

func sorted[T ~string](s []T) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		out = append(out, string(v))
	}
	sort.Strings(out)
	return out
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func companyID(c directory.Company) string { return string(c.ID) }
func siteID(s directory.Site) string       { return string(s.ID) }
func personID(p directory.Person) string   { return string(p.ID) }
func groupID(g directory.Group) string     { return string(g.ID) }
func docID(d directory.Document) string    { return string(d.ID) }

// expectedPerson is what the directory must say about p, from the command side's state.
func expectedPerson(d *domain.Directory, p *domain.Person) directory.Person {
	want := directory.Person{ID: p.ID, Name: p.Name, Email: p.Email, Type: p.Type, Class: d.ClassOf(p), Status: p.Status,
		HomeCompany: p.HomeCompany, Group: p.Group, MFARequired: p.MFARequired,
		Memberships: []directory.Membership{}, NotificationPrefs: orEmpty(p.NotificationPrefs),
		SitePermissions: directory.SitePermissions{ReadSites: orEmpty(p.Sites.ReadSites), WriteSites: orEmpty(p.Sites.WriteSites),
			Responsible: orEmpty(p.Sites.Responsible)},
		TicketRestrictions: directory.TicketRestrictions{TicketTypes: orEmpty(p.Sites.TicketTypes), Restricted: p.Sites.Restricted,
			Statuses: orEmpty(p.Sites.Statuses)}}
	if p.Invitation != nil {
		exp := p.Invitation.ExpiresAt.UTC()
		want.InvitationExpiresAt = &exp
	}
	for _, c := range slices.Sorted(mapKeys(p.Memberships)) {
		m := p.Memberships[c]
		sites := m.ManagedSites
		if len(sites) == 0 {
			sites = nil
		}
		want.Memberships = append(want.Memberships, directory.Membership{Company: c, Role: m.Role, Permissions: m.Permissions,
			Effective: m.Permissions.Expand(), Sites: sites})
	}
	return want
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkDirectory compares the read model of tenant tn with the command side's state d.
func checkDirectory(t *testing.T, rd *directory.Reader, tn domain.TenantID, d *domain.Directory) {
	t.Helper()
	ctx := context.Background()

	tenant, err := rd.GetTenant(ctx, tn)
	if err != nil || tenant.Name != d.Name || tenant.Seats != d.Seats {
		t.Errorf("tenant %+v (%v), want %s/%d", tenant, err, d.Name, d.Seats)
	}
	l, err := rd.Companies(ctx, tn, all)
	same(t, "companies", ids(t, l, err, companyID), sorted(slices.Collect(mapKeys(d.Companies))))
	for cid, c := range d.Companies {
		got, err := rd.GetCompany(ctx, tn, cid)
		want := directory.Company{ID: cid, Name: c.Name, Kind: c.Kind, Parent: c.Parent, RegisteredBy: c.RegisteredBy, MasterAdmin: c.MasterAdmin}
		if err != nil || got != want {
			t.Errorf("company %s: got %+v (%v), want %+v", c.Name, got, err, want)
		}
		var daughters []domain.CompanyID
		var peopleIDs, memberIDs []domain.PersonID
		for id, x := range d.Companies {
			if x.Parent == cid {
				daughters = append(daughters, id)
			}
		}
		for id, p := range d.People {
			if p.HomeCompany == cid && p.Status != domain.StatusRemoved {
				peopleIDs = append(peopleIDs, id)
			}
			if p.Memberships[cid] != nil {
				memberIDs = append(memberIDs, id)
			}
		}
		dl, err := rd.CompanyDaughters(ctx, tn, cid, all)
		same(t, c.Name+" daughters", ids(t, dl, err, companyID), sorted(daughters))
		pl, err := rd.CompanyPeople(ctx, tn, cid, all)
		same(t, c.Name+" people", ids(t, pl, err, personID), sorted(peopleIDs))
		ml, err := rd.CompanyMembers(ctx, tn, cid, all)
		same(t, c.Name+" members", ids(t, ml, err, personID), sorted(memberIDs))
		sl, err := rd.CompanySites(ctx, tn, cid, all)
		same(t, c.Name+" sites", ids(t, sl, err, siteID), sorted(slices.Collect(mapKeys(c.Sites))))
		for sid, s := range c.Sites {
			got, err := rd.GetSite(ctx, tn, sid)
			if want := (directory.Site{ID: sid, Company: cid, Name: s.Name, Address: s.Address}); err != nil || got != want {
				t.Errorf("site %s: got %+v (%v), want %+v", s.Name, got, err, want)
			}
			var users []domain.PersonID
			for id, p := range d.People {
				if m := p.Memberships[cid]; m != nil && (m.Role == domain.RoleBasic || m.Role == domain.RoleManager) && slices.Contains(m.ManagedSites, sid) {
					users = append(users, id)
				}
			}
			ul, err := rd.SitePeople(ctx, tn, sid, all)
			same(t, "users of site "+s.Name, ids(t, ul, err, personID), sorted(users))
		}
	}
	gl, err := rd.Groups(ctx, tn, all)
	same(t, "groups", ids(t, gl, err, groupID), sorted(slices.Collect(mapKeys(d.Groups))))
	for gid, g := range d.Groups {
		got, err := rd.GetGroup(ctx, tn, gid)
		if err != nil || got.Name != g.Name || got.SupportUser != g.SupportUser || fmt.Sprint(got.Permissions) != fmt.Sprint(g.Permissions) ||
			!slices.Equal(got.Effective, g.Permissions.Expand()) {
			t.Errorf("group %s: got %+v (%v), want %+v", g.Name, got, err, g)
		}
	}
	for id, p := range d.People {
		got, err := rd.GetPerson(ctx, tn, id)
		if err != nil {
			t.Errorf("person %s: %v", p.Name, err)
			continue
		}
		if want := expectedPerson(d, p); fmt.Sprintf("%+v", asJSON(t, got)) != fmt.Sprintf("%+v", asJSON(t, want)) {
			t.Errorf("person %s:\n got %s\nwant %s", p.Name, asJSON(t, got), asJSON(t, want))
		}
		lim, err := rd.LimitedPerson(ctx, tn, id)
		if err != nil || lim != (directory.PersonName{ID: id, Name: p.Name, Limited: true}) {
			t.Errorf("limited %s: %+v (%v)", p.Name, lim, err)
		}
	}
}

// checkTickets compares every ticket of the tenant with its events: state (as the command
// side folds them), times from the envelopes, comments in order, documents.
func checkTickets(t *testing.T, rd *directory.Reader, w *world, events []eventstore.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	reg := eventschema.MustPortal()
	type expected struct {
		state     *domain.Ticket
		opened    time.Time
		updated   time.Time
		comments  []directory.Comment
		documents []directory.Document
	}
	tickets := map[domain.TicketID]*expected{}
	var order []domain.TicketID
	companyDocs := map[domain.CompanyID][]directory.Document{}
	for _, rec := range events {
		ev, err := reg.Decode(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Envelope.Tenant != string(w.tn.ID) {
			continue
		}
		at := ev.Envelope.OccurredAt.UTC()
		var tid domain.TicketID
		switch e := ev.Payload.(type) {
		case *domain.TicketOpened:
			tid = e.Ticket
			tickets[tid] = &expected{state: domain.NewTicket(tid), opened: at}
			order = append(order, tid)
		case *domain.TicketStatusChanged:
			tid = e.Ticket
		case *domain.TicketAssigned:
			tid = e.Ticket
		case *domain.ContractorAssigned:
			tid = e.Ticket
		case *domain.TicketCommented:
			tid = e.Ticket
			tickets[tid].comments = append(tickets[tid].comments, directory.Comment{ID: e.Comment, Author: e.Author, Body: e.Body, At: at})
		case *domain.DocumentAttached:
			doc := directory.Document{ID: e.Document, Company: e.Company, Ticket: e.Ticket, Name: e.Name, ContentType: e.ContentType,
				SizeBytes: e.SizeBytes, UploadedBy: e.UploadedBy, AttachedAt: at}
			if e.Ticket == "" {
				companyDocs[e.Company] = append(companyDocs[e.Company], doc)
				continue
			}
			tid = e.Ticket
			tickets[tid].documents = append(tickets[tid].documents, doc)
		default:
			continue
		}
		x := tickets[tid]
		domain.EvolveTicket(x.state, ev.Payload.(domain.Event))
		x.updated = at
	}
	if len(order) == 0 {
		t.Fatalf("tenant %s has no tickets", w.tn.ID)
	}
	for _, tid := range order {
		x := tickets[tid]
		s := x.state
		want := directory.Ticket{ID: tid, Company: s.Company, Site: s.Site, Type: s.Type, Status: s.Status, Title: s.Title,
			Description: s.Description, Reporter: s.Reporter, ResponsibleGroup: s.ResponsibleGroup, ResponsibleUser: s.ResponsibleUser,
			Contractor: s.Contractor, Technician: s.Technician, OpenedAt: x.opened, UpdatedAt: x.updated,
			Comments: int64(s.Comments), Documents: int64(s.Documents)}
		got, err := rd.GetTicket(ctx, w.tn.ID, tid)
		if err != nil || asJSON(t, got) != asJSON(t, want) {
			t.Errorf("ticket %s (%v):\n got %s\nwant %s", tid, err, asJSON(t, got), asJSON(t, want))
		}
		cl, err := rd.ListComments(ctx, w.tn.ID, tid, all)
		if err != nil || cl.Total != int64(len(x.comments)) || asJSON(t, orEmpty(cl.Items)) != asJSON(t, orEmpty(x.comments)) {
			t.Errorf("comments of %s (%v):\n got %s\nwant %s", tid, err, asJSON(t, cl.Items), asJSON(t, x.comments))
		}
		dl, err := rd.TicketDocuments(ctx, w.tn.ID, tid, all)
		if err != nil || asJSON(t, orEmpty(dl.Items)) != asJSON(t, orEmpty(x.documents)) {
			t.Errorf("documents of %s (%v):\n got %s\nwant %s", tid, err, asJSON(t, dl.Items), asJSON(t, x.documents))
		}
		for _, doc := range x.documents {
			if got, err := rd.GetDocument(ctx, w.tn.ID, doc.ID); err != nil || asJSON(t, got) != asJSON(t, doc) {
				t.Errorf("document %s: got %s (%v), want %s", doc.ID, asJSON(t, got), err, asJSON(t, doc))
			}
		}
	}
	// And the command side's own view of each ticket agrees with the fold.
	for _, tid := range order {
		got, err := rd.GetTicket(ctx, w.tn.ID, tid)
		if err != nil {
			t.Fatal(err)
		}
		dt := commandTicket(t, w, tid)
		if got.Status != dt.Status || got.Contractor != dt.Contractor || got.Technician != dt.Technician ||
			got.ResponsibleUser != dt.ResponsibleUser || got.ResponsibleGroup != dt.ResponsibleGroup ||
			got.Comments != int64(dt.Comments) || got.Documents != int64(dt.Documents) {
			t.Errorf("ticket %s: read model %+v, command side %+v", tid, got, dt)
		}
	}
	d := view(t, w)
	for cid := range d.Companies {
		dl, err := rd.CompanyDocuments(ctx, w.tn.ID, cid, all)
		if err != nil || asJSON(t, orEmpty(dl.Items)) != asJSON(t, orEmpty(companyDocs[cid])) {
			t.Errorf("documents of company %s (%v):\n got %s\nwant %s", cid, err, asJSON(t, dl.Items), asJSON(t, companyDocs[cid]))
		}
	}
}
