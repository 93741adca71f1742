package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portal-access/backend/internal/testkit"
)

func TestRegisterCompany(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)

	r := api.Must(http.StatusCreated, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Globex", "kind": "customer"}))
	if r.ID("company_id") == "" || r.Header.Get("X-Log-Position") == "" {
		t.Fatalf("no id or position: %s", r)
	}
	pos := r.Body["position"].(map[string]any)
	if pos["commit"].(float64) <= 0 {
		t.Fatalf("position %v", pos)
	}

	cases := []struct {
		name   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"malformed JSON", tn.AdminToken, `{"name": "x",`, 400, "malformed-request", "body"},
		{"unknown field", tn.AdminToken, map[string]any{"name": "X", "kind": "customer", "colour": "red"}, 400, "malformed-request", "colour"},
		{"wrong type", tn.AdminToken, map[string]any{"name": 5, "kind": "customer"}, 400, "malformed-request", "name"},
		{"missing name", tn.AdminToken, map[string]any{"kind": "customer"}, 400, "invalid-command", "name"},
		{"bad kind", tn.AdminToken, map[string]any{"name": "X", "kind": "friend"}, 400, "invalid-command", "kind"},
		{"unknown parent", tn.AdminToken, map[string]any{"name": "X", "kind": "customer", "parent": "nope"}, 404, "not-found", ""},
		{"no token", "", map[string]any{"name": "X", "kind": "customer"}, 401, "unauthenticated", ""},
		{"garbage token", "not-a-jwt", map[string]any{"name": "X", "kind": "customer"}, 401, "unauthenticated", ""},
		{"token of another tenant", api.Token("other", "acme-admin"), map[string]any{"name": "X", "kind": "customer"}, 403, "unknown-identity", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := api.Do("POST", "/v1/companies", tc.token, tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("want %d %s, got %s", tc.status, tc.code, r)
			}
			if tc.field != "" && r.Body["field"] != tc.field {
				t.Fatalf("want field %q, got %s", tc.field, r)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `","kind":"customer"}`
	if r := api.Do("POST", "/v1/companies", tn.AdminToken, big); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %s", r)
	}
}

func TestSupportUserCannotManageTheTenant(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)
	cust := api.Must(201, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Globex", "kind": "customer"})).ID("company_id")
	inv := api.Must(201, api.Do("POST", "/v1/invitations", tn.AdminToken, map[string]any{
		"name": "Carla", "email": "carla@globex.example", "home_company": cust, "role": "admin"}))
	carla := api.Accept(tn.ID, inv.ID("invitation_token"), "carla")

	// Carla administers Globex, not the tenant.
	if r := api.Do("POST", "/v1/companies", carla, map[string]any{"name": "Initech", "kind": "customer"}); r.Status != 403 {
		t.Fatalf("portal admin registering a company: %s", r)
	}
	if r := api.Do("PUT", "/v1/tenant", carla, map[string]any{"name": "Mine", "seats": 100}); r.Status != 403 {
		t.Fatalf("portal admin configuring the tenant: %s", r)
	}
	if r := api.Do("POST", "/v1/companies/"+cust+"/access-grants", carla, map[string]any{"target": tn.Provider}); r.Status != 403 {
		t.Fatalf("portal admin widening its company's access: %s", r)
	}
	// She may rename her own company and add its sites.
	api.Must(200, api.Do("PUT", "/v1/companies/"+cust+"/name", carla, map[string]any{"name": "Globex Corp"}))
	api.Must(201, api.Do("POST", "/v1/companies/"+cust+"/sites", carla, map[string]any{"name": "HQ"}))
	// Another company is invisible to her: 404, not 403.
	if r := api.Do("PUT", "/v1/companies/"+tn.Provider+"/name", carla, map[string]any{"name": "Hacked"}); r.Status != 404 {
		t.Fatalf("renaming a foreign company: %s", r)
	}
}

func TestAccessGrantsAtEveryLevel(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)
	partner := api.Must(201, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Partner", "kind": "partner"})).ID("company_id")
	cust := api.Must(201, api.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Cust", "kind": "customer"})).ID("company_id")
	group := api.Must(201, api.Do("POST", "/v1/groups", tn.AdminToken, map[string]any{"name": "Partners", "support_user": true})).ID("group_id")
	for _, base := range []string{"/v1/companies/" + partner, "/v1/groups/" + group, "/v1/people/" + tn.Admin} {
		api.Must(200, api.Do("POST", base+"/access-grants", tn.AdminToken, map[string]any{"target": cust, "with_subsidiaries": true}))
		api.Must(200, api.Do("DELETE", base+"/access-grants/"+cust, tn.AdminToken, nil))
		if r := api.Do("DELETE", base+"/access-grants/"+cust, tn.AdminToken, nil); r.Status != 404 {
			t.Fatalf("revoking twice at %s: %s", base, r)
		}
		api.Must(200, api.Do("DELETE", base+"/access-grants", tn.AdminToken, nil))
	}
	if r := api.Do("POST", "/v1/groups/nope/access-grants", tn.AdminToken, map[string]any{"target": cust}); r.Status != 404 {
		t.Fatalf("grant on a missing group: %s", r)
	}
}

// TestSeatsHoldUnderConcurrency: 50 concurrent invitations of normal users compete for the 10
// seats left; exactly 10 succeed and the rest are refused with no-free-seat.
func TestSeatsHoldUnderConcurrency(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 11) // the first admin holds one seat
	staff := api.Must(201, api.Do("POST", "/v1/groups", tn.AdminToken, map[string]any{"name": "Staff", "permissions": map[string]any{"named": "support"}})).ID("group_id")
	var wg sync.WaitGroup
	results := make([]testkit.Response, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = api.Do("POST", "/v1/invitations", tn.AdminToken, map[string]any{
				"name": "User", "email": "u" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "@acme.example",
				"home_company": tn.Provider, "group": staff})
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, r := range results {
		switch {
		case r.Status == 201:
			ok++
		case r.Status == 422 && r.Code() == "no-free-seat":
			refused++
		default:
			t.Fatalf("unexpected answer %s", r)
		}
	}
	if ok != 10 || refused != 40 {
		t.Fatalf("%d invitations accepted, %d refused; want 10 and 40", ok, refused)
	}
}

func TestIdempotencyKeyReturnsFirstResult(t *testing.T) {
	api := testkit.StartAPI(t)
	tn := api.CreateTenant("acme", 5)
	body := map[string]any{"name": "Globex", "kind": "customer"}
	h := map[string]string{"Idempotency-Key": "create-globex-1"}
	first := api.Must(201, api.DoWith("POST", "/v1/companies", tn.AdminToken, body, h))
	again := api.Must(200, api.DoWith("POST", "/v1/companies", tn.AdminToken, body, h))
	if first.ID("company_id") != again.ID("company_id") || again.Body["replayed"] != true {
		t.Fatalf("retry answered %s, first %s", again, first)
	}
	if first.Body["position"].(map[string]any)["commit"] != again.Body["position"].(map[string]any)["commit"] {
		t.Fatalf("retry position differs: %s vs %s", again, first)
	}
	// A different key creates a second company.
	other := api.Must(201, api.DoWith("POST", "/v1/companies", tn.AdminToken, body, map[string]string{"Idempotency-Key": "create-globex-2"}))
	if other.ID("company_id") == first.ID("company_id") {
		t.Fatal("a new key reused the id")
	}
}
