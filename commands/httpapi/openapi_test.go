package httpapi_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/commands/httpapi"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/openapi"
	"github.com/portal-access/backend/internal/openapi/openapitest"
	"github.com/portal-access/backend/internal/testkit"
)

// doc is the OpenAPI document of the command API; docValidator checks, through testkit.Observe,
// every answer any test of this package receives against it.
var (
	doc          []byte
	docValidator *openapitest.Validator
)

var docInfo = openapi.Info{Title: "portal access: command API", Version: "test"}

// TestMain validates every answer of every test of the package against the OpenAPI document,
// and, when the whole package ran, checks that every operation answered a validated success.
func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	doc, err = openapi.Build(docInfo, httpapi.Operations())
	if err == nil {
		docValidator, err = openapitest.NewValidator(doc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	benchmarking := flag.Lookup("test.bench").Value.String() != ""
	if !benchmarking { // validation would weigh on what a benchmark measures
		testkit.Observe = func(t testing.TB, method, path string, r testkit.Response) {
			if err := docValidator.ValidateResponse(method, path, r.Status, r.Header.Get("Content-Type"), r.Raw); err != nil {
				t.Errorf("the answer does not match the OpenAPI document: %v", err)
			}
		}
	}
	code := m.Run()
	filtered := flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.skip").Value.String() != ""
	if code == 0 && !filtered && !benchmarking && !testing.Short() {
		if missing := unexercised(docValidator.Seen()); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test validated a success answer of these operations against the OpenAPI document: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// unexercised lists the operations no validated answer covered with a 2xx.
func unexercised(seen map[string][]int) []string {
	var missing []string
	for _, op := range httpapi.Operations() {
		if !slices.ContainsFunc(seen[op.ID], func(s int) bool { return s >= 200 && s < 300 }) {
			missing = append(missing, op.ID)
		}
	}
	sort.Strings(missing)
	return missing
}

// TestOperationsAreTheRoutesGinServes: every route Gin registers has exactly one declared
// operation and every operation is a registered route.
func TestOperationsAreTheRoutesGinServes(t *testing.T) {
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	dev, err := auth.NewDev(testkit.DevSecret)
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(&commands.Handlers{}, nil, nil)
	api.Register(engine, dev)

	served := map[string]int{}
	for _, r := range engine.Routes() {
		served[r.Method+" "+r.Path]++
	}
	declared := map[string]int{}
	for _, op := range api.Operations() {
		declared[op.Method+" "+op.Path]++
	}
	for route, n := range served {
		if declared[route] != 1 {
			t.Errorf("%s is served (%d times) but declared %d times", route, n, declared[route])
		}
	}
	for route, n := range declared {
		if served[route] != 1 {
			t.Errorf("%s is declared (%d times) but served %d times", route, n, served[route])
		}
	}
	if len(served) != 47 {
		t.Errorf("%d routes, want 47", len(served))
	}
}

// TestPathTagsNameThePathParameters: every field an input fills from the URL names a parameter
// of its route, and every parameter of a route fills a field.
func TestPathTagsNameThePathParameters(t *testing.T) {
	for _, op := range httpapi.Operations() {
		_, params, err := openapi.PathTemplate(op.Path)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		in := reflect.TypeOf(op.Request)
		for i := 0; i < in.NumField(); i++ {
			tag := in.Field(i).Tag.Get("path")
			if tag == "" {
				continue
			}
			found := false
			for _, alt := range strings.Split(tag, "|") {
				if slices.Contains(params, alt) {
					used[alt], found = true, true
				}
			}
			if !found {
				t.Errorf("%s %s: field %s.%s (path:%q) names no parameter of the route", op.Method, op.Path, in.Name(), in.Field(i).Name, tag)
			}
		}
		for _, p := range params {
			if !used[p] {
				t.Errorf("%s %s: parameter %s fills no field of %s", op.Method, op.Path, p, in.Name())
			}
		}
	}
}

// TestOpenAPIDocumentIsValid checks the document (with the route that serves it) against the
// OpenAPI 3.1 specification, and that it is the same whatever the order of the operations.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	ops := append(httpapi.Operations(), openapi.Self())
	full, err := openapi.Build(docInfo, ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := openapitest.ValidateDocument(full); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ops)
	again, err := openapi.Build(docInfo, ops)
	if err != nil {
		t.Fatal(err)
	}
	if string(full) != string(again) {
		t.Fatal("the document depends on the order of the operations")
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Schemas map[string]json.RawMessage }
	}
	if err := json.Unmarshal(full, &d); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range d.Paths {
		n += len(item)
	}
	if n != 48 {
		t.Errorf("%d operations in the document, want 47 and the document's own", n)
	}
	for _, name := range []string{"Problem", "Result", "Position", "RegisterCompany", "PermissionSet"} {
		if d.Components.Schemas[name] == nil {
			t.Errorf("no component %s", name)
		}
	}
}

// TestAnswersMatchTheDocument drives each family of routes through successes and the refusals
// the API can answer; testkit.Observe validates every answer against the document, and the
// statuses are checked here so that a refusal the test means to cover is really answered.
func TestAnswersMatchTheDocument(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 20)
	adm := tn.AdminToken
	do := func(status int, method, path, token string, body any) testkit.Response {
		t.Helper()
		r := api.Do(method, path, token, body)
		if r.Status != status {
			t.Fatalf("%s %s: want %d, got %s", method, path, status, r)
		}
		return r
	}

	// Directory.
	do(200, "PUT", "/v1/tenant", adm, map[string]any{"name": "Acme", "seats": 20})
	parent := do(201, "POST", "/v1/companies", adm, map[string]any{"name": "Holding", "kind": "customer"}).ID("company_id")
	cust := do(201, "POST", "/v1/companies", adm, map[string]any{"name": "Globex", "kind": "customer"}).ID("company_id")
	partner := do(201, "POST", "/v1/companies", adm, map[string]any{"name": "Partner", "kind": "partner"}).ID("company_id")
	do(200, "PUT", "/v1/companies/"+cust+"/name", adm, map[string]any{"name": "Globex Corp"})
	do(200, "PUT", "/v1/companies/"+cust+"/parent", adm, map[string]any{"parent": parent})
	site := do(201, "POST", "/v1/companies/"+cust+"/sites", adm, map[string]any{"name": "HQ", "address": "1 Main St"}).ID("site_id")
	gone := do(201, "POST", "/v1/companies/"+cust+"/sites", adm, map[string]any{"name": "Old"}).ID("site_id")
	do(200, "DELETE", "/v1/companies/"+cust+"/sites/"+gone, adm, nil)
	portal := do(201, "POST", "/v1/groups", adm, map[string]any{"name": "Portal", "support_user": true}).ID("group_id")
	staff := do(201, "POST", "/v1/groups", adm, map[string]any{"name": "Staff", "permissions": map[string]any{"named": "support"}}).ID("group_id")
	do(200, "PUT", "/v1/groups/"+staff+"/permissions", adm, map[string]any{"permissions": map[string]any{"list": []string{"tickets:read"}}})
	for _, base := range []string{"/v1/companies/" + partner, "/v1/groups/" + staff, "/v1/people/" + tn.Admin} {
		do(200, "POST", base+"/access-grants", adm, map[string]any{"target": cust, "with_subsidiaries": true})
		do(200, "DELETE", base+"/access-grants/"+cust, adm, nil)
		do(404, "DELETE", base+"/access-grants/"+cust, adm, nil)
		do(200, "DELETE", base+"/access-grants", adm, nil)
	}

	// People: an admin of Globex, a contact, invitations, memberships.
	inv := do(201, "POST", "/v1/invitations", adm, map[string]any{"name": "Carla", "email": "carla@globex.example", "home_company": cust, "role": "admin"})
	carlaID := inv.ID("person_id")
	carla := api.Accept(tn.ID, inv.ID("invitation_token"), "carla")
	do(200, "PUT", "/v1/people/"+carlaID+"/group", adm, map[string]any{"group": portal})
	contact := do(201, "POST", "/v1/contacts", adm, map[string]any{"name": "Nina", "email": "nina@globex.example", "home_company": cust}).ID("person_id")
	do(200, "PUT", "/v1/people/"+contact+"/notification-preferences", adm, map[string]any{"notification_prefs": []string{"tickets"}})
	do(200, "POST", "/v1/contacts/"+contact+"/promote", adm, map[string]any{"role": "member"})
	do(200, "POST", "/v1/invitations/"+contact+"/resend", adm, map[string]any{"expires_in_hours": 48})
	do(200, "DELETE", "/v1/invitations/"+contact, adm, nil)

	mgr := do(201, "POST", "/v1/invitations", adm, map[string]any{"name": "Max", "email": "max@globex.example", "home_company": cust, "role": "member"})
	mgrID := mgr.ID("person_id")
	api.Accept(tn.ID, mgr.ID("invitation_token"), "max")
	do(201, "POST", "/v1/people/"+mgrID+"/memberships", adm, map[string]any{"company": parent, "role": "member"})
	do(200, "PUT", "/v1/people/"+mgrID+"/memberships/"+parent+"/role", adm, map[string]any{"role": "admin"})
	do(200, "DELETE", "/v1/people/"+mgrID+"/memberships/"+parent, adm, nil)
	do(200, "PUT", "/v1/people/"+mgrID+"/memberships/"+cust+"/role", adm, map[string]any{"role": "manager", "sites": []string{site}})
	do(200, "PUT", "/v1/people/"+mgrID+"/memberships/"+cust+"/managed-sites", adm, map[string]any{"sites": []string{site}})
	do(200, "PUT", "/v1/people/"+mgrID+"/site-permissions", adm, map[string]any{"read_sites": []string{site}, "write_sites": []string{site}, "responsible": []string{}})
	do(200, "PUT", "/v1/people/"+mgrID+"/ticket-restrictions", adm, map[string]any{"ticket_types": []string{}, "restricted": false, "statuses": []string{}})
	do(200, "PUT", "/v1/people/"+mgrID+"/mfa", adm, map[string]any{"required": true})
	do(200, "POST", "/v1/people/"+mgrID+"/suspend", adm, nil)
	do(200, "POST", "/v1/people/"+mgrID+"/reactivate", adm, nil)
	do(200, "POST", "/v1/people/"+mgrID+"/demote", adm, nil)
	do(200, "DELETE", "/v1/people/"+mgrID, adm, nil)

	pending := do(201, "POST", "/v1/invitations", adm, map[string]any{"name": "Pat", "email": "pat@globex.example", "home_company": cust, "role": "member", "expires_in_hours": 1})
	do(409, "POST", "/v1/invitations/"+pending.ID("person_id")+"/expire", adm, nil) // not yet due

	// Tickets and documents.
	contractor := do(201, "POST", "/v1/contractors", adm, map[string]any{"name": "Fixit", "registered_by": cust}).ID("company_id")
	techInv := do(201, "POST", "/v1/contractors/"+contractor+"/technicians", adm, map[string]any{"name": "Tom", "email": "tom@fixit.example"})
	tech := techInv.ID("person_id")
	api.Accept(tn.ID, techInv.ID("invitation_token"), "tom")
	ticket := do(201, "POST", "/v1/tickets", carla, map[string]any{"company": cust, "site": site, "type": "incident", "title": "Leak"}).ID("ticket_id")
	do(200, "PUT", "/v1/tickets/"+ticket+"/status", adm, map[string]any{"status": "in_progress"})
	do(200, "PUT", "/v1/tickets/"+ticket+"/assignee", adm, map[string]any{"group": staff})
	do(200, "PUT", "/v1/tickets/"+ticket+"/contractor", adm, map[string]any{"contractor": contractor, "technician": tech})
	do(201, "POST", "/v1/tickets/"+ticket+"/comments", carla, map[string]any{"body": "still dripping"})
	do(201, "POST", "/v1/tickets/"+ticket+"/documents", carla, map[string]any{"name": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 1024})
	do(201, "POST", "/v1/companies/"+cust+"/documents", adm, map[string]any{"name": "contract.pdf", "content_type": "application/pdf", "size_bytes": 2048})

	// An idempotent retry answers 200 where the first answer was 201.
	key := map[string]string{"Idempotency-Key": "once"}
	first := api.DoWith("POST", "/v1/companies", adm, map[string]any{"name": "Once", "kind": "customer"}, key)
	again := api.DoWith("POST", "/v1/companies", adm, map[string]any{"name": "Once", "kind": "customer"}, key)
	if first.Status != 201 || again.Status != 200 || again.Body["replayed"] != true {
		t.Fatalf("idempotent retry: %s then %s", first, again)
	}

	// Refusals of every kind, on every family.
	for _, path := range []string{"/v1/companies", "/v1/contacts", "/v1/tickets"} {
		r := do(401, "POST", path, "", map[string]any{})
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without a challenge: %s", r)
		}
		do(400, "POST", path, adm, `{"name":`)
		do(400, "POST", path, adm, map[string]any{"colour": "red"})
		do(413, "POST", path, adm, `{"name":"`+strings.Repeat("x", httpapi.MaxBodyBytes)+`"}`)
	}
	r, err := http.NewRequest("POST", api.URL+"/v1/companies", strings.NewReader("name=x"))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Bearer "+adm)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4096)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("form body: %d %s", resp.StatusCode, body[:n])
	}
	if err := docValidator.ValidateHTTP(r, resp, body[:n]); err != nil {
		t.Fatal(err)
	}
	do(400, "POST", "/v1/companies", adm, map[string]any{"name": "X", "kind": "friend"})
	do(403, "POST", "/v1/companies", carla, map[string]any{"name": "Initech", "kind": "customer"})
	do(403, "PUT", "/v1/tenant", api.Token("other", "nobody"), map[string]any{"name": "X", "seats": 1})
	do(404, "PUT", "/v1/companies/nope/name", adm, map[string]any{"name": "X"})
	do(404, "PUT", "/v1/people/nope/mfa", adm, map[string]any{"required": true})
	do(404, "PUT", "/v1/tickets/nope/status", adm, map[string]any{"status": "closed"})
	do(409, "POST", "/v1/contacts", adm, map[string]any{"name": "Nina", "email": "carla@globex.example", "home_company": cust})
	do(422, "POST", "/v1/people/"+carlaID+"/memberships", adm, map[string]any{"company": parent, "role": "basic"})
	do(400, "POST", "/v1/tickets", carla, map[string]any{"company": cust})
}

// TestValidationCatchesDrift: an answer whose field was renamed, or a document whose schema
// no longer matches the handler, fails validation.
func TestValidationCatchesDrift(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)
	r := api.Must(201, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Globex", "kind": "customer"}))
	ct := r.Header.Get("Content-Type")
	if err := docValidator.ValidateResponse("POST", "/v1/companies", 201, ct, r.Raw); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"position renamed":  strings.Replace(string(r.Raw), `"position"`, `"log_position"`, 1),
		"ids renamed":       strings.Replace(string(r.Raw), `"ids"`, `"created"`, 1),
		"commit renamed":    strings.Replace(string(r.Raw), `"commit"`, `"commit_position"`, 1),
		"events as string":  strings.Replace(string(r.Raw), `"events":`, `"events":"1","x":`, 1),
		"position a string": strings.Replace(string(r.Raw), `"position":{`, `"position":"1/1","was":{`, 1),
	} {
		if body == string(r.Raw) {
			t.Fatalf("%s: the answer did not change: %s", name, r.Raw)
		}
		if err := docValidator.ValidateResponse("POST", "/v1/companies", 201, ct, []byte(body)); err == nil {
			t.Errorf("%s: %s accepted", name, body)
		}
	}

	// A document that no longer matches the handler (a property renamed in its schema).
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	res := d["components"].(map[string]any)["schemas"].(map[string]any)["Result"].(map[string]any)
	props := res["properties"].(map[string]any)
	props["log_position"] = props["position"]
	delete(props, "position")
	res["required"] = []any{"events", "log_position"}
	drifted, _ := json.Marshal(d)
	if err := openapitest.ValidateResponse(drifted, "POST", "/v1/companies", 201, ct, r.Raw); err == nil {
		t.Fatal("a drifted document accepted the answer")
	}
	problem := api.Do("POST", "/v1/companies", "", map[string]any{})
	if err := openapitest.ValidateResponse(doc, "POST", "/v1/companies", problem.Status, "application/json", problem.Raw); err == nil {
		t.Fatal("a problem accepted under application/json")
	}
}
