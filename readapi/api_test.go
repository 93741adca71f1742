package readapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/readapi"
)

// portal is a tenant built through the command API of a running service: companies A (sites a1,
// a2) and B (site b1), a support-user group, users of each portal role, a contact, tickets —
// plus a second tenant whose callers must never reach into the first.
type portal struct {
	t     *testing.T
	svc   *testkit.Service
	tn    testkit.Tenant
	other testkit.Tenant

	A, B, a1, a2, b1 string
	group            string
	id, tok          map[string]string
	t1, t2, t3       string // t1: aBasic at a1; t2: bMember at b1; t3: aMgr at a2
	last             testkit.Response
}

func newPortal(t *testing.T, opts ...testkit.ServiceOption) *portal {
	t.Helper()
	svc := testkit.StartService(t, opts...)
	p := &portal{t: t, svc: svc, tn: svc.CreateTenant("acme", 20), other: svc.CreateTenant("other", 3),
		id: map[string]string{}, tok: map[string]string{}}
	adm := p.tn.AdminToken
	p.id["root"], p.tok["root"] = p.tn.Admin, adm
	p.A = p.do(201, "POST", "/v1/companies", adm, map[string]any{"name": "Alpha", "kind": "customer"}).ID("company_id")
	p.B = p.do(201, "POST", "/v1/companies", adm, map[string]any{"name": "Beta", "kind": "customer"}).ID("company_id")
	site := func(co, name string) string {
		return p.do(201, "POST", "/v1/companies/"+co+"/sites", adm, map[string]any{"name": name}).ID("site_id")
	}
	p.a1, p.a2, p.b1 = site(p.A, "A1"), site(p.A, "A2"), site(p.B, "B1")
	p.group = p.do(201, "POST", "/v1/groups", adm, map[string]any{"name": "Portal", "support_user": true}).ID("group_id")
	p.user("aAdmin", p.A, "admin")
	p.user("aMgr", p.A, "manager", p.a1, p.a2)
	p.user("aBasic", p.A, "basic", p.a1)
	p.user("aBasic2", p.A, "basic", p.a2)
	p.user("bMember", p.B, "member")
	p.id["aContact"] = p.do(201, "POST", "/v1/contacts", adm, map[string]any{
		"name": "Connie Contact", "email": "connie@alpha.example", "home_company": p.A}).ID("person_id")
	ticket := func(who, site, title string) string {
		return p.do(201, "POST", "/v1/tickets", p.tok[who], map[string]any{"site": site, "type": "incident", "title": title}).ID("ticket_id")
	}
	p.t1, p.t2, p.t3 = ticket("aBasic", p.a1, "Leak at A1"), ticket("bMember", p.b1, "Beta secret"), ticket("aMgr", p.a2, "Door at A2")
	p.svc.Sync(p.last)
	return p
}

func (p *portal) do(status int, method, path, token string, body any) testkit.Response {
	p.t.Helper()
	r := p.svc.Must(status, p.svc.Do(method, path, token, body))
	p.last = r
	return r
}

// user invites name as a support user of home with role and accepts as subject "sub-<name>".
func (p *portal) user(name, home, role string, sites ...string) {
	p.t.Helper()
	r := p.do(201, "POST", "/v1/invitations", p.tn.AdminToken, map[string]any{
		"name": name, "email": strings.ToLower(name) + "@example.test", "home_company": home, "group": p.group, "role": role, "sites": sites})
	p.id[name] = r.ID("person_id")
	p.tok[name] = p.svc.Accept(p.tn.ID, r.ID("invitation_token"), "sub-"+name)
}

// get reads as token at least as fresh as the last command.
func (p *portal) get(path, token string) testkit.Response {
	p.t.Helper()
	return p.svc.DoWith("GET", path, token, nil, map[string]string{readapi.MinPositionHeader: p.last.Header.Get("X-Log-Position")})
}

func expect(t *testing.T, r testkit.Response, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.Code() != code) {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("a refusal is not problem+json: %s", r.Header.Get("Content-Type"))
	}
}

// listed returns the ids (and reasons, as JSON) of a listing's items.
func listed(t *testing.T, r testkit.Response) map[string]string {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("listing: %s", r)
	}
	var page struct {
		Items []struct {
			ID      string          `json:"id"`
			Reasons json.RawMessage `json:"reasons"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Raw, &page); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, it := range page.Items {
		out[it.ID] = string(it.Reasons)
	}
	return out
}

func TestViewersSeeWhatTheRulesGrantWithTheReason(t *testing.T) {
	p := newPortal(t)
	// A basic user sees its own request only; a manager the tickets at its managed sites; an admin
	// its company's; a member of B only B's.
	got := listed(t, p.get("/v1/me/tickets", p.tok["aBasic"]))
	if len(got) != 1 || got[p.t1] != `[{"rule":"own_request"}]` {
		t.Fatalf("aBasic sees %v", got)
	}
	got = listed(t, p.get("/v1/me/tickets", p.tok["aMgr"]))
	if len(got) != 2 || got[p.t1] != `[{"rule":"managed_site"}]` || got[p.t3] != `[{"rule":"own_request"},{"rule":"managed_site"}]` {
		t.Fatalf("aMgr sees %v", got)
	}
	got = listed(t, p.get("/v1/me/tickets", p.tok["aAdmin"]))
	if len(got) != 2 || got[p.t1] != `[{"rule":"company_role"}]` {
		t.Fatalf("aAdmin sees %v", got)
	}
	got = listed(t, p.get("/v1/me/tickets", p.tok["bMember"]))
	if len(got) != 1 || got[p.t2] == "" {
		t.Fatalf("bMember sees %v", got)
	}
	// What a viewer cannot see answers 404, as what does not exist, without naming it.
	for _, path := range []string{"/v1/me/tickets/" + p.t2, "/v1/me/tickets/no-such-ticket", "/v1/me/companies/" + p.B,
		"/v1/me/sites/" + p.b1, "/v1/me/people/" + p.id["bMember"], "/v1/me/tickets/" + p.t2 + "/comments"} {
		r := p.get(path, p.tok["aBasic"])
		expect(t, r, 404, "not-found")
		if bytes.Contains(r.Raw, []byte("Beta")) {
			t.Fatalf("%s leaks: %s", path, r)
		}
	}
	r := p.svc.Must(200, p.get("/v1/me/tickets/"+p.t1, p.tok["aAdmin"]))
	if r.Body["title"] != "Leak at A1" || r.Body["reasons"] == nil {
		t.Fatalf("ticket: %s", r)
	}
	// Filters and the profile.
	got = listed(t, p.get("/v1/me/tickets?site="+p.a2, p.tok["aMgr"]))
	if len(got) != 1 || got[p.t3] == "" {
		t.Fatalf("aMgr at a2 sees %v", got)
	}
	expect(t, p.get("/v1/me/tickets?colour=red", p.tok["aMgr"]), 400, "malformed-request")
	expect(t, p.get("/v1/me/tickets?limit=0", p.tok["aMgr"]), 400, "malformed-request")
	expect(t, p.get("/v1/me/tickets?cursor=Zm9v", p.tok["aMgr"]), 400, "malformed-request")
	me := p.svc.Must(200, p.get("/v1/me", p.tok["aMgr"]))
	if me.Body["id"] != p.id["aMgr"] || me.Body["class"] != "support_user" || len(me.Body["memberships"].([]any)) != 1 {
		t.Fatalf("profile: %s", me)
	}
	// People: a basic user sees itself; a manager the users of its sites; the foreign member
	// named by nothing it sees is not visible.
	got = listed(t, p.get("/v1/me/people", p.tok["aBasic"]))
	if len(got) != 1 || got[p.id["aBasic"]] != `[{"rule":"self"}]` {
		t.Fatalf("aBasic sees people %v", got)
	}
	got = listed(t, p.get("/v1/me/people", p.tok["aMgr"]))
	if got[p.id["aBasic"]] == "" || got[p.id["aBasic2"]] == "" || got[p.id["bMember"]] != "" {
		t.Fatalf("aMgr sees people %v", got)
	}
	// The manager sees the basic user's ticket, which names it: limited for nobody here, since
	// they share company A; but B's member is not named by anything A sees.
	expect(t, p.get("/v1/me/people/"+p.id["bMember"], p.tok["aMgr"]), 404, "not-found")
}

func TestCheckExplainsAndWhoCanSeeListsTheViewers(t *testing.T) {
	p := newPortal(t)
	check := func(token string, body any) testkit.Response {
		return p.svc.DoWith("POST", "/v1/check", token, body, map[string]string{readapi.MinPositionHeader: p.last.Header.Get("X-Log-Position")})
	}
	r := p.svc.Must(200, check(p.tok["aMgr"], map[string]any{"resource": map[string]any{"type": "ticket", "id": p.t1}}))
	if r.Body["allowed"] != true || r.Body["viewer"] != p.id["aMgr"] {
		t.Fatalf("check: %s", r)
	}
	r = p.svc.Must(200, check(p.tok["aMgr"], map[string]any{"resource": map[string]any{"type": "ticket", "id": p.t2}}))
	if r.Body["allowed"] != false || len(r.Body["reasons"].([]any)) != 0 || r.Body["explanation"] == "" {
		t.Fatalf("check refused: %s", r)
	}
	// Asking about another viewer needs viewers:read.
	expect(t, check(p.tok["aMgr"], map[string]any{"viewer": p.id["aAdmin"], "resource": map[string]any{"type": "ticket", "id": p.t1}}), 403, "forbidden")
	svcTok := p.svc.ServiceToken(p.tn.ID, "portal-backend", string(domain.PermViewersRead))
	r = p.svc.Must(200, check(svcTok, map[string]any{"checks": []map[string]any{
		{"viewer": p.id["aBasic"], "resource": map[string]any{"type": "ticket", "id": p.t1}},
		{"viewer": p.id["aBasic"], "resource": map[string]any{"type": "company", "id": p.B}},
		{"viewer": p.id["aAdmin"], "resource": map[string]any{"type": "person", "id": p.id["aBasic"]}},
		{"viewer": p.id["aContact"], "resource": map[string]any{"type": "ticket", "id": p.t1}},
	}}))
	res := r.Body["results"].([]any)
	allowed := func(i int) any { return res[i].(map[string]any)["allowed"] }
	if len(res) != 4 || allowed(0) != true || allowed(1) != false || allowed(2) != true || allowed(3) != false {
		t.Fatalf("batch: %s", r)
	}
	// Malformed checks.
	expect(t, check(svcTok, map[string]any{"resource": map[string]any{"type": "ticket", "id": p.t1}}), 400, "malformed-request")
	expect(t, check(svcTok, map[string]any{"viewer": p.id["aBasic"], "action": "delete", "resource": map[string]any{"type": "ticket", "id": p.t1}}), 400, "malformed-request")
	expect(t, check(svcTok, map[string]any{"viewer": p.id["aBasic"], "resource": map[string]any{"type": "planet", "id": "x"}}), 400, "malformed-request")
	expect(t, check(svcTok, map[string]any{"checks": []any{}}), 400, "malformed-request")
	expect(t, check(svcTok, `{"viewer":"x","resource":{"type":"ticket","id":"t"},"extra":1}`), 400, "malformed-request")

	// Who can see t1: its reporter, the manager of a1, A's admin, the tenant's unrestricted
	// normal admin — and nobody of B.
	r = p.svc.Must(200, p.get("/v1/resources/ticket/"+p.t1+"/viewers", p.tn.AdminToken))
	var page struct {
		Items []readapi.ViewerGrant `json:"items"`
	}
	_ = json.Unmarshal(r.Raw, &page)
	seen := map[string]bool{}
	for _, g := range page.Items {
		seen[string(g.Viewer)] = true
	}
	for _, who := range []string{"aBasic", "aMgr", "aAdmin", "root"} {
		if !seen[p.id[who]] {
			t.Fatalf("%s missing from the viewers of t1: %s", who, r)
		}
	}
	if seen[p.id["bMember"]] || seen[p.id["aBasic2"]] {
		t.Fatalf("viewers of t1: %s", r)
	}
	expect(t, p.get("/v1/resources/ticket/"+p.t1+"/viewers", p.tok["aAdmin"]), 403, "forbidden")
	expect(t, p.get("/v1/resources/ticket/no-such/viewers", p.tn.AdminToken), 404, "not-found")
	expect(t, p.get("/v1/resources/planet/x/viewers", p.tn.AdminToken), 400, "malformed-request")
	r = p.svc.Must(200, p.get("/v1/resources/company/"+p.B+"/viewers", p.tn.AdminToken))
	if !strings.Contains(string(r.Raw), p.id["bMember"]) || strings.Contains(string(r.Raw), p.id["aBasic"]) {
		t.Fatalf("viewers of B: %s", r)
	}
}

func TestRevocationThenReadAtItsPositionNeverShowsTheRevokedData(t *testing.T) {
	p := newPortal(t)
	expect(t, p.get("/v1/me/tickets/"+p.t1, p.tok["aAdmin"]), 200, "")
	// Demote the admin of A to a basic user at a2: a read at that position no longer shows t1.
	rev := p.do(200, "PUT", "/v1/people/"+p.id["aAdmin"]+"/memberships/"+p.A+"/role", p.tn.AdminToken, map[string]any{"role": "basic", "sites": []string{p.a2}})
	for i := 0; i < 20; i++ {
		r := p.svc.DoWith("GET", "/v1/me/tickets/"+p.t1, p.tok["aAdmin"], nil, map[string]string{readapi.MinPositionHeader: rev.Header.Get("X-Log-Position")})
		expect(t, r, 404, "not-found")
	}
	// Suspension: at its position the user is no viewer at all.
	sus := p.do(200, "POST", "/v1/people/"+p.id["aMgr"]+"/suspend", p.tn.AdminToken, nil)
	r := p.svc.Do("GET", "/v1/me/tickets?min_position="+sus.Header.Get("X-Log-Position"), p.tok["aMgr"], nil)
	expect(t, r, 403, "not-a-viewer")
	// Removal unbinds the identity.
	rm := p.do(200, "DELETE", "/v1/people/"+p.id["aBasic2"], p.tn.AdminToken, nil)
	r = p.svc.Do("GET", "/v1/me?min_position="+rm.Header.Get("X-Log-Position"), p.tok["aBasic2"], nil)
	expect(t, r, 403, "unknown-identity")
}

func TestAReadAheadOfTheProjectionsAnswersNotYetConsistent(t *testing.T) {
	p := newPortal(t, func(c *app.Config) { c.ReadMaxWait = 200 * time.Millisecond })
	start := time.Now()
	r := p.svc.DoWith("GET", "/v1/me/tickets", p.tok["aAdmin"], nil, map[string]string{readapi.MinPositionHeader: "999999999/999999999"})
	expect(t, r, 503, "not-yet-consistent")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("answered after %v, before the bounded wait", waited)
	}
	expect(t, p.svc.Do("GET", "/v1/me/tickets?min_position=abc", p.tok["aAdmin"], nil), 400, "malformed-request")
}

func TestAuditTrailIsForComplianceAndTenantAdmins(t *testing.T) {
	p := newPortal(t)
	r := p.svc.Must(200, p.get("/v1/audit?type=TicketOpened&limit=2", p.tn.AdminToken))
	entries := r.Body["entries"].([]any)
	if len(entries) != 2 || r.Body["next_cursor"] == nil {
		t.Fatalf("audit page: %s", r)
	}
	next := r.Body["next_cursor"].(string)
	r = p.svc.Must(200, p.get("/v1/audit?type=TicketOpened&limit=2&cursor="+next, p.tn.AdminToken))
	if len(r.Body["entries"].([]any)) != 1 {
		t.Fatalf("audit second page: %s", r)
	}
	compliance := p.svc.ServiceToken(p.tn.ID, "compliance", string(domain.PermAuditRead))
	r = p.svc.DoWith("GET", "/v1/audit?actor=user:"+p.id["aBasic"], compliance, nil, map[string]string{"Accept": readapi.NDJSON,
		readapi.MinPositionHeader: p.last.Header.Get("X-Log-Position")})
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), readapi.NDJSON) {
		t.Fatalf("export: %d %s", r.Status, r.Header)
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(r.Raw))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		if actor, _ := e["actor"].(map[string]any); actor["id"] != p.id["aBasic"] {
			t.Fatalf("export line of another actor: %s", sc.Text())
		}
		lines++
	}
	if lines < 2 { // its acceptance and its ticket
		t.Fatalf("export has %d lines", lines)
	}
	for _, tok := range []string{p.tok["aAdmin"], p.tok["aBasic"], p.svc.ServiceToken(p.tn.ID, "portal", string(domain.PermViewersRead))} {
		expect(t, p.get("/v1/audit", tok), 403, "forbidden")
	}
	expect(t, p.get("/v1/audit?from=yesterday", p.tn.AdminToken), 400, "malformed-request")
	// The other tenant's admin reads its own trail, never acme's.
	r = p.svc.Must(200, p.get("/v1/audit", p.other.AdminToken))
	if strings.Contains(string(r.Raw), p.t1) || strings.Contains(string(r.Raw), "Alpha") {
		t.Fatalf("another tenant's audit leaks: %s", r)
	}
}

// TestEveryReadRouteRefusesWhoMayNotRead drives every read route with tokens that must be
// refused — none, malformed, expired, badly signed, of another tenant, of a user without a
// table, of a user reading another viewer — and checks the refusal says nothing of the data.
func TestEveryReadRouteRefusesWhoMayNotRead(t *testing.T) {
	p := newPortal(t)
	// A suspended manager, a demoted user (now a contact), an unbound subject.
	p.user("gone", p.A, "member")
	p.user("demoted", p.A, "member")
	p.do(200, "POST", "/v1/people/"+p.id["aMgr"]+"/suspend", p.tn.AdminToken, nil)
	p.do(200, "POST", "/v1/people/"+p.id["demoted"]+"/demote", p.tn.AdminToken, nil)
	p.do(200, "DELETE", "/v1/people/"+p.id["gone"], p.tn.AdminToken, nil)
	p.svc.Sync(p.last)
	otherDev, err := auth.NewDev([]byte("another-secret-another-secret-1234"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := otherDev.Mint(p.tn.ID, domain.PrincipalUser, "sub-aAdmin", nil, time.Hour)
	expired, _ := p.svc.Dev.Mint(p.tn.ID, domain.PrincipalUser, "sub-aAdmin", nil, -time.Minute)
	secrets := []string{p.t1, p.t3, "Leak at A1", "Alpha", "aAdmin@example.test", p.id["aAdmin"]}

	ops := readapi.New(nil, nil, readapi.Config{}, nil).Operations()
	for _, op := range ops {
		path := strings.NewReplacer(":viewer_id", p.id["aAdmin"], ":type", "ticket", ":id", p.t1).Replace(op.Path)
		if strings.Contains(op.Path, "/companies/:id") {
			path = strings.Replace(op.Path, ":id", p.A, 1)
			path = strings.Replace(path, ":viewer_id", p.id["aAdmin"], 1)
		}
		var body any
		if op.Method == http.MethodPost {
			body = map[string]any{"viewer": p.id["aAdmin"], "resource": map[string]any{"type": "ticket", "id": p.t1}}
		}
		cases := []struct {
			name, token string
			status      int
			code        string
		}{
			{"no token", "", 401, "unauthenticated"},
			{"malformed", "not.a.token", 401, "unauthenticated"},
			{"expired", expired, 401, "unauthenticated"},
			{"wrong signature", forged, 401, "unauthenticated"},
			{"unbound subject", p.svc.Token(p.tn.ID, "sub-nobody"), 403, "unknown-identity"},
			{"demoted to contact", p.tok["demoted"], 403, "unknown-identity"},
			{"removed", p.tok["gone"], 403, "unknown-identity"},
		}
		suspended := struct {
			name, token string
			status      int
			code        string
		}{"suspended", p.tok["aMgr"], 403, "not-a-viewer"}
		cases = append(cases, suspended)
		if strings.HasPrefix(op.Path, "/v1/viewers/") || op.Path == "/v1/audit" || strings.HasPrefix(op.Path, "/v1/resources/") || op.Method == http.MethodPost {
			// Another viewer's data, the audit trail, a reverse lookup: refused to a plain viewer.
			cases = append(cases, struct {
				name, token string
				status      int
				code        string
			}{"plain viewer", p.tok["aBasic"], 403, "forbidden"})
		}
		for _, c := range cases {
			r := p.svc.DoWith(op.Method, path, c.token, body, nil)
			if r.Status != c.status || r.Code() != c.code {
				t.Fatalf("%s %s as %s: want %d %s, got %s", op.Method, path, c.name, c.status, c.code, r)
			}
			for _, s := range secrets {
				if strings.Contains(string(r.Raw), s) && !strings.Contains(r.Header.Get("Content-Type"), "problem") {
					t.Fatalf("%s %s as %s leaks %q: %s", op.Method, path, c.name, s, r)
				}
				if strings.Contains(string(r.Raw), s) && !strings.Contains(path, s) {
					t.Fatalf("%s %s as %s leaks %q: %s", op.Method, path, c.name, s, r)
				}
			}
		}
		// Another tenant's admin holds every right in its own tenant, none in this one: it
		// reads its own tenant, where these ids name nothing.
		r := p.svc.DoWith(op.Method, path, p.other.AdminToken, body, nil)
		if r.Status == 200 && !strings.HasPrefix(op.Path, "/v1/me") && op.Path != "/v1/audit" && op.Method != http.MethodPost {
			t.Fatalf("%s %s as the other tenant's admin: %s", op.Method, path, r)
		}
		for _, s := range secrets[2:5] {
			if strings.Contains(string(r.Raw), s) {
				t.Fatalf("%s %s as the other tenant's admin leaks %q: %s", op.Method, path, s, r)
			}
		}
	}
}

// TestEveryReadRouteAnswersAViewer reads every resource kind by id, as the viewer itself and on
// behalf of it, with comments and documents: each answer is checked against the OpenAPI
// document (TestMain) and against what the viewer may see.
func TestEveryReadRouteAnswersAViewer(t *testing.T) {
	p := newPortal(t)
	p.do(201, "POST", "/v1/tickets/"+p.t1+"/comments", p.tok["aBasic"], map[string]any{"body": "still dripping"})
	tdoc := p.do(201, "POST", "/v1/tickets/"+p.t1+"/documents", p.tok["aBasic"], map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 2048}).ID("document_id")
	cdoc := p.do(201, "POST", "/v1/companies/"+p.A+"/documents", p.tn.AdminToken, map[string]any{"name": "contract.pdf", "content_type": "application/pdf", "size_bytes": 4096}).ID("document_id")
	if tdoc == "" || cdoc == "" {
		t.Fatalf("document ids: %q %q", tdoc, cdoc)
	}
	svcTok := p.svc.ServiceToken(p.tn.ID, "portal-backend", string(domain.PermViewersRead))
	for _, base := range []struct{ prefix, token string }{{"/v1/me", p.tok["aAdmin"]}, {"/v1/viewers/" + p.id["aAdmin"], svcTok}} {
		for _, path := range []string{"", "/companies/" + p.A, "/sites/" + p.a1, "/tickets/" + p.t1, "/people/" + p.id["aBasic"],
			"/tickets/" + p.t1 + "/comments", "/tickets/" + p.t1 + "/documents", "/documents/" + tdoc, "/documents/" + cdoc,
			"/documents", "/companies", "/sites", "/people", "/tickets"} {
			r := p.get(base.prefix+path, base.token)
			if r.Status != 200 {
				t.Fatalf("GET %s%s: %s", base.prefix, path, r)
			}
		}
		r := p.svc.Must(200, p.get(base.prefix+"/tickets/"+p.t1+"/comments", base.token))
		if items := r.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["body"] != "still dripping" {
			t.Fatalf("comments: %s", r)
		}
		if got := listed(t, p.get(base.prefix+"/documents", base.token)); len(got) != 1 || got[cdoc] == "" {
			t.Fatalf("company documents: %v", got)
		}
	}
	// A basic user at a2 sees neither the ticket of a1 nor its document, comments or photo.
	for _, path := range []string{"/v1/me/documents/" + tdoc, "/v1/me/tickets/" + p.t1 + "/documents", "/v1/me/tickets/" + p.t1 + "/comments"} {
		expect(t, p.get(path, p.tok["aBasic2"]), 404, "not-found")
	}
	// Company documents need a role other than basic.
	expect(t, p.get("/v1/me/documents/"+cdoc, p.tok["aBasic2"]), 404, "not-found")
}

// TestReadQueriesAreStrict: a lookup refuses parameters it does not take, and an empty
// min_position is refused rather than read as "no minimum".
func TestReadQueriesAreStrict(t *testing.T) {
	p := newPortal(t)
	expect(t, p.svc.Do("GET", "/v1/me/tickets/"+p.t1+"?colour=red", p.tok["aAdmin"], nil), 400, "malformed-request")
	expect(t, p.svc.Do("GET", "/v1/me?limit=5", p.tok["aAdmin"], nil), 400, "malformed-request")
	expect(t, p.svc.Do("GET", "/v1/me/tickets?min_position=", p.tok["aAdmin"], nil), 400, "malformed-request")
	expect(t, p.get("/v1/me/tickets/"+p.t1+"?min_position="+p.last.Header.Get("X-Log-Position"), p.tok["aAdmin"]), 200, "")
}

// TestCheckBodyKeysAreExact: encoding/json would read "Viewer" as "viewer" and let a repeated
// key override the first; a check must mean exactly what the schema says.
func TestCheckBodyKeysAreExact(t *testing.T) {
	p := newPortal(t)
	check := func(body string) testkit.Response {
		return p.svc.DoWith("POST", "/v1/check", p.tok["aMgr"], json.RawMessage(body), nil)
	}
	ticket := `{"type":"ticket","id":"` + p.t1 + `"}`
	p.svc.Must(200, check(`{"resource":`+ticket+`}`))
	expect(t, check(`{"Resource":`+ticket+`}`), 400, "malformed-request")
	expect(t, check(`{"resource":{"Type":"ticket","id":"`+p.t1+`"}}`), 400, "malformed-request")
	expect(t, check(`{"resource":`+ticket+`,"resource":`+ticket+`}`), 400, "malformed-request")
	expect(t, check(`{"checks":[{"resource":`+ticket+`,"Viewer":"`+p.id["aMgr"]+`"}]}`), 400, "malformed-request")
}

// TestUnroutedRequestsAnswerProblemJSON: a path or a method no route serves is refused like
// every other refusal, and an unknown path looks the same with or without a token.
func TestUnroutedRequestsAnswerProblemJSON(t *testing.T) {
	p := newPortal(t)
	expect(t, p.svc.Do("GET", "/v1/no-such-thing", p.tok["aMgr"], nil), 404, "not-found")
	expect(t, p.svc.Do("GET", "/v1/no-such-thing", "", nil), 404, "not-found")
	expect(t, p.svc.Do("DELETE", "/v1/check", p.tok["aMgr"], nil), 405, "method-not-allowed")
}

// TestTicketCardsNeverOutliveTheRecord: a listing stores a card of each ticket it shows (see
// cards.go); every change of a ticket — status, assignment, contractor, comment, document —
// shows in the next listing at its position, never the card of before; and a card rendered from
// a version the record has left is not stored.
func TestTicketCardsNeverOutliveTheRecord(t *testing.T) {
	p := newPortal(t)
	adm, mgr := p.tok["root"], p.tok["aMgr"]
	ticketIn := func(r testkit.Response) map[string]any {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("listing: %s", r)
		}
		for _, it := range r.Body["items"].([]any) {
			if m := it.(map[string]any); m["id"] == p.t1 {
				return m
			}
		}
		t.Fatalf("%s not listed: %s", p.t1, r)
		return nil
	}
	list := func() map[string]any {
		return ticketIn(p.svc.Read("GET", "/v1/me/tickets", mgr, nil, p.last))
	}
	if got := list(); got["status"] != "open" || got["comments"] != 0.0 {
		t.Fatalf("before: %v", got)
	}
	gen, err := projections.ActiveGeneration(context.Background(), p.svc.Redis, p.svc.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	keys := projections.Keys{Prefix: p.svc.Prefix, Gen: gen}
	dir := directory.NewReader(p.svc.Redis, keys)
	if cards, err := dir.TicketCards(context.Background(), p.tn.ID, []domain.TicketID{domain.TicketID(p.t1)}); err != nil || cards[0] == "" {
		t.Fatalf("no card after a listing: %q %v", cards, err)
	}
	stale, err := dir.TicketsWithVersions(context.Background(), p.tn.ID, []domain.TicketID{domain.TicketID(p.t1)})
	if err != nil || len(stale) != 1 || stale[0].Version == "" {
		t.Fatalf("record: %+v %v", stale, err)
	}

	p.do(200, "PUT", "/v1/tickets/"+p.t1+"/status", adm, map[string]any{"status": "in_progress"})
	if got := list(); got["status"] != "in_progress" {
		t.Fatalf("after the status change: %v", got)
	}
	p.do(200, "PUT", "/v1/tickets/"+p.t1+"/assignee", adm, map[string]any{"group": p.group})
	if got := list(); got["responsible_group"] != p.group {
		t.Fatalf("after the assignment: %v", got)
	}
	p.do(201, "POST", "/v1/tickets/"+p.t1+"/comments", mgr, map[string]any{"body": "on it"})
	if got := list(); got["comments"] != 1.0 {
		t.Fatalf("after a comment: %v", got)
	}
	p.do(201, "POST", "/v1/tickets/"+p.t1+"/documents", mgr, map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 1024})
	if got := list(); got["documents"] != 1.0 {
		t.Fatalf("after a document: %v", got)
	}

	// A reader that rendered the first version too late to store it stores nothing.
	p.svc.Redis.Del(context.Background(), keys.Tenant(p.tn.ID)+"dir:cache:tcard:"+p.t1)
	n, err := dir.FillTicketCards(context.Background(), p.tn.ID, stale, []string{"stale card"}, time.Minute)
	if err != nil || n != 0 {
		t.Fatalf("a card of a version the record has left was stored: %d %v", n, err)
	}
	if got := list(); got["status"] != "in_progress" || got["documents"] != 1.0 {
		t.Fatalf("after a stale fill: %v", got)
	}
}
