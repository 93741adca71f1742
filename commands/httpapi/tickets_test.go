package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/testkit"
)

// ticketWorld is a tenant with two customers and their people, set up through the API:
//
//	acme (sites a1, a2): admin, basic user at a1, member restricted to type "incident" and
//	                     status "resolved"
//	globex (site g1):    admin
type ticketWorld struct {
	api                 *testkit.API
	tn                  testkit.Tenant
	acme, globex        string
	a1, a2, g1          string
	acmeAdmin, basic    string // tokens
	restricted, globexA string // tokens
	basicID             string
}

func newTicketWorld(t *testing.T) *ticketWorld {
	t.Helper()
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)
	w := &ticketWorld{api: api, tn: tn}
	company := func(name string) string {
		return api.Must(201, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": name, "kind": "customer"})).ID("company_id")
	}
	site := func(company, name string) string {
		return api.Must(201, api.Do("POST", "/v1/companies/"+company+"/sites", tn.AdminToken, map[string]any{"name": name})).ID("site_id")
	}
	w.acme, w.globex = company("Acme"), company("Globex")
	w.a1, w.a2, w.g1 = site(w.acme, "A1"), site(w.acme, "A2"), site(w.globex, "G1")
	invite := func(subject, company, role string, sites ...string) (token, id string) {
		body := map[string]any{"name": subject, "email": subject + "@example.com", "home_company": company, "role": role}
		if len(sites) > 0 {
			body["sites"] = sites
		}
		r := api.Must(201, api.Do("POST", "/v1/invitations", tn.AdminToken, body))
		return api.Accept(tn.ID, r.ID("invitation_token"), subject), r.ID("person_id")
	}
	w.acmeAdmin, _ = invite("carla", w.acme, "admin")
	w.basic, w.basicID = invite("bob", w.acme, "basic", w.a1)
	var restrictedID string
	w.restricted, restrictedID = invite("rita", w.acme, "member")
	w.globexA, _ = invite("gus", w.globex, "admin")
	api.Must(200, api.Do("PUT", "/v1/people/"+restrictedID+"/ticket-restrictions", tn.AdminToken,
		map[string]any{"ticket_types": []string{"incident"}, "restricted": true, "statuses": []string{"resolved"}}))
	return w
}

func (w *ticketWorld) open(token, site string) string {
	return w.api.Must(201, w.api.Do("POST", "/v1/tickets", token, map[string]any{"site": site, "type": "incident", "title": "Leak"})).ID("ticket_id")
}

// ticket reads a ticket's state from its stream.
func (w *ticketWorld) ticket(t *testing.T, id string) *domain.Ticket {
	t.Helper()
	tk, err := commands.NewTickets(w.api.Store, eventschema.MustPortal()).Ticket(context.Background(), w.tn.ID, domain.TicketID(id))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

type ticketAPICase struct {
	name   string
	token  string
	body   any
	status int
	code   string
	field  string
}

func runTicketCases(t *testing.T, api *testkit.API, method, path string, cases []ticketAPICase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := api.Do(method, path, tc.token, tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("want %d %s, got %s", tc.status, tc.code, r)
			}
			if tc.field != "" && r.Body["field"] != tc.field {
				t.Fatalf("want field %q, got %s", tc.field, r)
			}
			if tc.status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("content type %q", r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestOpenTicket(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	r := api.Must(201, api.Do("POST", "/v1/tickets", w.basic, map[string]any{"site": w.a1, "type": "incident", "title": "Leak", "description": "water"}))
	id := r.ID("ticket_id")
	if id == "" || r.Header.Get("X-Log-Position") == "" || r.Body["events"].(float64) != 1 {
		t.Fatalf("answer %s", r)
	}
	tk := w.ticket(t, id)
	if !tk.Opened || tk.Company != domain.CompanyID(w.acme) || tk.Site != domain.SiteID(w.a1) || tk.Reporter != domain.PersonID(w.basicID) || tk.Status != domain.TicketOpen {
		t.Fatalf("ticket %+v", tk)
	}
	ok := map[string]any{"site": w.a1, "type": "incident", "title": "Leak"}
	runTicketCases(t, api, "POST", "/v1/tickets", []ticketAPICase{
		{"malformed JSON", w.basic, `{"site":`, 400, "malformed-request", "body"},
		{"unknown field", w.basic, map[string]any{"site": w.a1, "type": "incident", "title": "x", "priority": 1}, 400, "malformed-request", "priority"},
		{"wrong type", w.basic, map[string]any{"site": w.a1, "type": "incident", "title": 5}, 400, "malformed-request", "title"},
		{"missing title", w.basic, map[string]any{"site": w.a1, "type": "incident"}, 400, "invalid-command", "title"},
		{"neither site nor company", w.basic, map[string]any{"type": "incident", "title": "x"}, 400, "invalid-command", "site"},
		{"no token", "", ok, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "bob"), ok, 403, "unknown-identity", ""},
		{"basic user at another site", w.basic, map[string]any{"site": w.a2, "type": "incident", "title": "x"}, 403, "forbidden", ""},
		{"admin of another company", w.globexA, ok, 404, "not-found", ""},
		{"type not allowed", w.restricted, map[string]any{"site": w.a2, "type": "request", "title": "x"}, 422, "ticket-type-not-allowed", ""},
		{"allowed type", w.restricted, map[string]any{"site": w.a2, "type": "incident", "title": "x"}, 201, "", ""},
		{"company-wide ticket by the admin", w.acmeAdmin, map[string]any{"company": w.acme, "type": "request", "title": "x"}, 201, "", ""},
		{"responsible user", w.acmeAdmin, map[string]any{"site": w.a2, "type": "request", "title": "x", "responsible_user": w.tn.Admin}, 201, "", ""},
		{"unknown responsible group", w.acmeAdmin, map[string]any{"site": w.a2, "type": "request", "title": "x", "responsible_group": "nope"}, 404, "not-found", ""},
	})
}

func TestChangeTicketStatus(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	id := w.open(w.basic, w.a1)
	path := "/v1/tickets/" + id + "/status"
	r := api.Must(200, api.Do("PUT", path, w.basic, map[string]any{"status": "in_progress"}))
	if r.Body["events"].(float64) != 1 || w.ticket(t, id).Status != domain.TicketInProgress {
		t.Fatalf("answer %s", r)
	}
	runTicketCases(t, api, "PUT", path, []ticketAPICase{
		{"same status changes nothing", w.basic, map[string]any{"status": "in_progress"}, 200, "", ""},
		{"unknown status", w.basic, map[string]any{"status": "done"}, 400, "invalid-command", "status"},
		{"malformed JSON", w.basic, `{"status"`, 400, "malformed-request", "body"},
		{"unknown field", w.basic, map[string]any{"status": "waiting", "why": "x"}, 400, "malformed-request", "why"},
		{"no token", "", map[string]any{"status": "waiting"}, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "bob"), map[string]any{"status": "waiting"}, 403, "unknown-identity", ""},
		{"admin of another company", w.globexA, map[string]any{"status": "closed"}, 404, "not-found", ""},
		{"restricted user, forbidden status", w.restricted, map[string]any{"status": "closed"}, 422, "status-not-allowed", ""},
		{"restricted user, allowed status", w.restricted, map[string]any{"status": "resolved"}, 200, "", ""},
		{"admin closes", w.acmeAdmin, map[string]any{"status": "closed"}, 200, "", ""},
		{"closed only reopens", w.acmeAdmin, map[string]any{"status": "waiting"}, 409, "invalid-status-transition", ""},
		{"reporter cannot reopen", w.basic, map[string]any{"status": "open"}, 403, "forbidden", ""},
		{"admin reopens", w.acmeAdmin, map[string]any{"status": "open"}, 200, "", ""},
	})
	runTicketCases(t, api, "PUT", "/v1/tickets/00000000-0000-4000-8000-000000000000/status", []ticketAPICase{
		{"unknown ticket", w.acmeAdmin, map[string]any{"status": "closed"}, 404, "not-found", ""},
	})
	runTicketCases(t, api, "PUT", "/v1/tickets/not-a-ticket/status", []ticketAPICase{
		{"malformed ticket id", w.acmeAdmin, map[string]any{"status": "closed"}, 404, "not-found", ""},
	})
	// Another tenant's admin does not reach this tenant's tickets.
	beta := api.CreateTenant("beta", 2)
	runTicketCases(t, api, "PUT", path, []ticketAPICase{
		{"admin of another tenant", beta.AdminToken, map[string]any{"status": "closed"}, 404, "not-found", ""},
	})
}

func TestContractorsAndAssignments(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	// Carla, Acme's admin, registers a guest contractor and one of its technicians.
	fix := api.Must(201, api.Do("POST", "/v1/contractors", w.acmeAdmin, map[string]any{"name": "FixIt", "registered_by": w.acme})).ID("company_id")
	techInv := api.Must(201, api.Do("POST", "/v1/contractors/"+fix+"/technicians", w.acmeAdmin, map[string]any{"name": "Tim", "email": "tim@fixit.example"}))
	tech := api.Accept(w.tn.ID, techInv.ID("invitation_token"), "tim")
	techID := techInv.ID("person_id")
	rival := api.Must(201, api.Do("POST", "/v1/contractors", w.globexA, map[string]any{"name": "Rival", "registered_by": w.globex})).ID("company_id")

	runTicketCases(t, api, "POST", "/v1/contractors", []ticketAPICase{
		{"basic user", w.basic, map[string]any{"name": "X", "registered_by": w.acme}, 403, "forbidden", ""},
		{"for another customer", w.acmeAdmin, map[string]any{"name": "X", "registered_by": w.globex}, 404, "not-found", ""},
		{"missing name", w.acmeAdmin, map[string]any{"registered_by": w.acme}, 400, "invalid-command", "name"},
		{"malformed JSON", w.acmeAdmin, `[]`, 400, "malformed-request", ""},
		{"no token", "", map[string]any{"name": "X", "registered_by": w.acme}, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "carla"), map[string]any{"name": "X", "registered_by": w.acme}, 403, "unknown-identity", ""},
		{"registrar not a customer", w.tn.AdminToken, map[string]any{"name": "X", "registered_by": w.tn.Provider}, 422, "registrar-not-customer", ""},
	})
	runTicketCases(t, api, "POST", "/v1/contractors/"+fix+"/technicians", []ticketAPICase{
		{"e-mail taken", w.acmeAdmin, map[string]any{"name": "Tim", "email": "TIM@fixit.example"}, 409, "email-taken", ""},
		{"bad e-mail", w.acmeAdmin, map[string]any{"name": "Tim", "email": "tim"}, 400, "invalid-command", "email"},
		{"other customer's admin", w.globexA, map[string]any{"name": "T", "email": "t2@fixit.example"}, 404, "not-found", ""},
		{"technician is no admin", tech, map[string]any{"name": "T", "email": "t2@fixit.example"}, 403, "forbidden", ""},
		{"no token", "", map[string]any{"name": "T", "email": "t2@fixit.example"}, 401, "unauthenticated", ""},
	})
	runTicketCases(t, api, "POST", "/v1/contractors/"+w.acme+"/technicians", []ticketAPICase{
		{"not a contractor", w.acmeAdmin, map[string]any{"name": "T", "email": "t3@fixit.example"}, 422, "not-a-contractor", ""},
	})

	assigned, other := w.open(w.basic, w.a1), w.open(w.basic, w.a1)
	api.Must(200, api.Do("PUT", "/v1/tickets/"+assigned+"/assignee", w.acmeAdmin, map[string]any{"group": w.tn.AdminGroup}))
	api.Must(200, api.Do("PUT", "/v1/tickets/"+assigned+"/contractor", w.acmeAdmin, map[string]any{"contractor": fix, "technician": techID}))
	tk := w.ticket(t, assigned)
	if tk.ResponsibleGroup != domain.GroupID(w.tn.AdminGroup) || tk.Contractor != domain.CompanyID(fix) || tk.Technician != domain.PersonID(techID) {
		t.Fatalf("ticket %+v", tk)
	}
	runTicketCases(t, api, "PUT", "/v1/tickets/"+assigned+"/assignee", []ticketAPICase{
		{"user", w.tn.AdminToken, map[string]any{"user": w.tn.Admin}, 200, "", ""},
		{"both", w.acmeAdmin, map[string]any{"user": w.tn.Admin, "group": w.tn.AdminGroup}, 400, "invalid-command", "responsible"},
		{"basic user is not staff", w.basic, map[string]any{"user": w.tn.Admin}, 403, "forbidden", ""},
		{"admin of another company", w.globexA, map[string]any{"user": w.tn.Admin}, 404, "not-found", ""},
		{"no token", "", map[string]any{"user": w.tn.Admin}, 401, "unauthenticated", ""},
		{"malformed JSON", w.acmeAdmin, `{`, 400, "malformed-request", "body"},
	})
	runTicketCases(t, api, "PUT", "/v1/tickets/"+other+"/contractor", []ticketAPICase{
		{"another customer's contractor is invisible", w.acmeAdmin, map[string]any{"contractor": rival}, 404, "not-found", ""},
		{"staff: another customer's contractor", w.tn.AdminToken, map[string]any{"contractor": rival}, 422, "contractor-not-eligible", ""},
		{"staff: not a contractor", w.tn.AdminToken, map[string]any{"contractor": w.globex}, 422, "contractor-not-eligible", ""},
		{"missing contractor", w.acmeAdmin, map[string]any{}, 400, "invalid-command", "contractor"},
		{"basic user is not staff", w.basic, map[string]any{"contractor": fix}, 403, "forbidden", ""},
		{"admin of another company", w.globexA, map[string]any{"contractor": fix}, 404, "not-found", ""},
		{"the technician cannot reassign", tech, map[string]any{"contractor": fix}, 404, "not-found", ""},
	})

	// The technician sees and works on the ticket assigned to it, and nothing else.
	api.Must(201, api.Do("POST", "/v1/tickets/"+assigned+"/comments", tech, map[string]any{"body": "On my way"}))
	api.Must(200, api.Do("PUT", "/v1/tickets/"+assigned+"/status", tech, map[string]any{"status": "in_progress"}))
	if r := api.Do("POST", "/v1/tickets/"+other+"/comments", tech, map[string]any{"body": "Hello?"}); r.Status != 404 || r.Code() != "not-found" {
		t.Fatalf("technician commenting on a ticket not assigned to it: %s", r)
	}
	// Reassigning to nobody in particular ends the technician's view.
	api.Must(200, api.Do("PUT", "/v1/tickets/"+assigned+"/contractor", w.acmeAdmin, map[string]any{"contractor": fix}))
	if r := api.Do("POST", "/v1/tickets/"+assigned+"/comments", tech, map[string]any{"body": "Still here"}); r.Status != 404 {
		t.Fatalf("technician after unassignment: %s", r)
	}
}

func TestCommentOnTicket(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	id := w.open(w.basic, w.a1)
	path := "/v1/tickets/" + id + "/comments"
	r := api.Must(201, api.Do("POST", path, w.basic, map[string]any{"body": "Any news?"}))
	if r.ID("comment_id") == "" || r.ID("ticket_id") != id {
		t.Fatalf("answer %s", r)
	}
	runTicketCases(t, api, "POST", path, []ticketAPICase{
		{"admin", w.acmeAdmin, map[string]any{"body": "Looking"}, 201, "", ""},
		{"empty body", w.basic, map[string]any{"body": " "}, 400, "invalid-command", "body"},
		{"malformed JSON", w.basic, `{"body": 1}`, 400, "malformed-request", "body"},
		{"no token", "", map[string]any{"body": "x"}, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "bob"), map[string]any{"body": "x"}, 403, "unknown-identity", ""},
		{"admin of another company", w.globexA, map[string]any{"body": "x"}, 404, "not-found", ""},
	})
	if tk := w.ticket(t, id); tk.Comments != 2 {
		t.Fatalf("%d comments, want 2", tk.Comments)
	}
}

func TestAttachDocuments(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	id := w.open(w.basic, w.a1)
	doc := map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 123456}
	r := api.Must(201, api.Do("POST", "/v1/tickets/"+id+"/documents", w.basic, doc))
	if r.ID("document_id") == "" || !w.ticket(t, id).HasDocument(domain.DocID(r.ID("document_id"))) {
		t.Fatalf("answer %s", r)
	}
	runTicketCases(t, api, "POST", "/v1/tickets/"+id+"/documents", []ticketAPICase{
		{"exactly 100 MiB", w.acmeAdmin, map[string]any{"name": "big.bin", "content_type": "application/octet-stream", "size_bytes": 100 << 20}, 201, "", ""},
		{"over 100 MiB", w.acmeAdmin, map[string]any{"name": "big.bin", "content_type": "application/octet-stream", "size_bytes": 100<<20 + 1}, 400, "invalid-command", "size_bytes"},
		{"bad content type", w.acmeAdmin, map[string]any{"name": "x", "content_type": "jpeg", "size_bytes": 1}, 400, "invalid-command", "content_type"},
		{"size not a number", w.acmeAdmin, map[string]any{"name": "x", "content_type": "image/jpeg", "size_bytes": "1"}, 400, "malformed-request", "size_bytes"},
		{"no token", "", doc, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "bob"), doc, 403, "unknown-identity", ""},
		{"admin of another company", w.globexA, doc, 404, "not-found", ""},
	})
	runTicketCases(t, api, "POST", "/v1/companies/"+w.acme+"/documents", []ticketAPICase{
		{"company's admin", w.acmeAdmin, doc, 201, "", ""},
		{"tenant admin", w.tn.AdminToken, doc, 201, "", ""},
		{"basic user", w.basic, doc, 403, "forbidden", ""},
		{"admin of another company", w.globexA, doc, 404, "not-found", ""},
		{"missing name", w.acmeAdmin, map[string]any{"content_type": "image/jpeg", "size_bytes": 1}, 400, "invalid-command", "name"},
		{"malformed JSON", w.acmeAdmin, `x`, 400, "malformed-request", "body"},
		{"no token", "", doc, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "carla"), doc, 403, "unknown-identity", ""},
	})
	runTicketCases(t, api, "POST", "/v1/companies/nope/documents", []ticketAPICase{
		{"unknown company", w.tn.AdminToken, doc, 404, "not-found", ""},
	})
}

func TestTicketCommandsAreIdempotent(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	key := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
	body := map[string]any{"site": w.a1, "type": "incident", "title": "Leak"}

	first := api.Must(201, api.DoWith("POST", "/v1/tickets", w.basic, body, key("open-1")))
	again := api.Must(200, api.DoWith("POST", "/v1/tickets", w.basic, body, key("open-1")))
	id := first.ID("ticket_id")
	if again.ID("ticket_id") != id || again.Body["replayed"] != true || again.Header.Get("X-Log-Position") != first.Header.Get("X-Log-Position") {
		t.Fatalf("retry answered %s, first %s", again, first)
	}
	if other := api.Must(201, api.DoWith("POST", "/v1/tickets", w.basic, body, key("open-2"))); other.ID("ticket_id") == id {
		t.Fatal("a new key reused the ticket id")
	}
	// The same key from another user is another command.
	if r := api.Must(201, api.DoWith("POST", "/v1/tickets", w.acmeAdmin, body, key("open-1"))); r.ID("ticket_id") == id {
		t.Fatal("another actor's key reused the ticket id")
	}

	c1 := api.Must(201, api.DoWith("POST", "/v1/tickets/"+id+"/comments", w.basic, map[string]any{"body": "hi"}, key("c-1")))
	c2 := api.Must(200, api.DoWith("POST", "/v1/tickets/"+id+"/comments", w.basic, map[string]any{"body": "hi"}, key("c-1")))
	if c1.ID("comment_id") != c2.ID("comment_id") || c2.Body["replayed"] != true {
		t.Fatalf("comment retry %s, first %s", c2, c1)
	}
	api.Must(200, api.DoWith("PUT", "/v1/tickets/"+id+"/status", w.basic, map[string]any{"status": "waiting"}, key("s-1")))
	// Meanwhile the status moves on; the retry answers the first result and changes nothing.
	api.Must(200, api.Do("PUT", "/v1/tickets/"+id+"/status", w.acmeAdmin, map[string]any{"status": "in_progress"}))
	if r := api.Must(200, api.DoWith("PUT", "/v1/tickets/"+id+"/status", w.basic, map[string]any{"status": "waiting"}, key("s-1"))); r.Body["replayed"] != true {
		t.Fatalf("status retry %s", r)
	}
	d1 := api.Must(201, api.DoWith("POST", "/v1/tickets/"+id+"/documents", w.basic, map[string]any{"name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}, key("d-1")))
	d2 := api.Must(200, api.DoWith("POST", "/v1/tickets/"+id+"/documents", w.basic, map[string]any{"name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}, key("d-1")))
	if d1.ID("document_id") != d2.ID("document_id") {
		t.Fatalf("document retry %s, first %s", d2, d1)
	}
	tk := w.ticket(t, id)
	if tk.Comments != 1 || tk.Documents != 1 || tk.Status != domain.TicketInProgress {
		t.Fatalf("after retries: %+v", tk)
	}

	cd1 := api.Must(201, api.DoWith("POST", "/v1/companies/"+w.acme+"/documents", w.acmeAdmin, map[string]any{"name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}, key("cd-1")))
	cd2 := api.Must(200, api.DoWith("POST", "/v1/companies/"+w.acme+"/documents", w.acmeAdmin, map[string]any{"name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}, key("cd-1")))
	if cd1.ID("document_id") != cd2.ID("document_id") || cd2.Body["replayed"] != true {
		t.Fatalf("company document retry %s, first %s", cd2, cd1)
	}

	fix := api.Must(201, api.DoWith("POST", "/v1/contractors", w.acmeAdmin, map[string]any{"name": "FixIt", "registered_by": w.acme}, key("fx-1")))
	if r := api.Must(200, api.DoWith("POST", "/v1/contractors", w.acmeAdmin, map[string]any{"name": "FixIt", "registered_by": w.acme}, key("fx-1"))); r.ID("company_id") != fix.ID("company_id") {
		t.Fatalf("contractor retry %s", r)
	}
	t1 := api.Must(201, api.DoWith("POST", "/v1/contractors/"+fix.ID("company_id")+"/technicians", w.acmeAdmin, map[string]any{"name": "Tim", "email": "tim@fixit.example"}, key("t-1")))
	t2 := api.Must(200, api.DoWith("POST", "/v1/contractors/"+fix.ID("company_id")+"/technicians", w.acmeAdmin, map[string]any{"name": "Tim", "email": "tim@fixit.example"}, key("t-1")))
	if t1.ID("person_id") != t2.ID("person_id") || t2.ID("invitation_token") != "" || t1.ID("invitation_token") == "" {
		t.Fatalf("technician retry %s, first %s", t2, t1)
	}
	api.Accept(w.tn.ID, t1.ID("invitation_token"), "tim") // the first token is the valid one
}

// TestConcurrentTicketWritesLoseNothing: concurrent comments on one ticket are serialized per
// stream in the process (and guarded by the expected revision across processes): every one is
// accepted and in the stream exactly once.
func TestConcurrentTicketWritesLoseNothing(t *testing.T) {
	w := newTicketWorld(t)
	api := w.api
	id := w.open(w.basic, w.a1)
	const n = 16
	results := make([]testkit.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = api.Do("POST", "/v1/tickets/"+id+"/comments", w.acmeAdmin, map[string]any{"body": "comment"})
		}()
	}
	wg.Wait()
	accepted := 0
	for _, r := range results {
		if r.Status != http.StatusCreated {
			t.Fatalf("unexpected answer %s", r)
		}
		accepted++
	}
	if tk := w.ticket(t, id); tk.Comments != n || accepted != n {
		t.Fatalf("%d comments stored, %d accepted, want %d", tk.Comments, accepted, n)
	}
}
