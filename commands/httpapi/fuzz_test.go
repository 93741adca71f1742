package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/commands/httpapi"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/httpserver"
	"github.com/portal-access/backend/internal/openapi"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/readapi"
)

// FuzzCommandRequest sends fuzzed requests to the real Gin engine of the command API (in
// process, over an embedded event store): any route of httpapi.Operations() with fuzzed path
// parameters, body, Content-Type, bearer token and the Idempotency-Key, X-Correlation-Id and
// X-Reason headers. Whatever the input:
//
//   - nothing panics (the recovery middleware would answer 500) and no answer is a 5xx other
//     than 503 (event store unavailable or timeout);
//   - every refusal (4xx) of a routed request is problem+json with a status equal to the
//     answer's, a non-empty code and its type URI, and matches the OpenAPI document;
//   - a refusal never appends an event: the log's last position is unchanged;
//   - a success (2xx) names the log position of its last event in X-Log-Position and matches
//     the OpenAPI document.
//
// Inputs: route is "METHOD /v1/path" of an operation (anything else picks one by hash);
// params holds the path parameters separated by "|", where "$" is a valid id of the fixture
// (a missing one is "$" too); who is a token name of the fixture (admin, member, other, none,
// garbage, unbound, service) or else the bearer token itself.
func FuzzCommandRequest(f *testing.F) {
	fx := newCommandFuzz(f)

	valid := func(route, params, body, who string) {
		f.Add(route, params, []byte(body), "application/json", who, "", "", "")
	}
	valid("POST /v1/companies", "", `{"name":"Fuzz Co","kind":"customer"}`, "admin")
	valid("PUT /v1/companies/:company_id/name", "$", `{"name":"Alpha 2"}`, "admin")
	valid("POST /v1/companies/:company_id/sites", "$", `{"name":"A9"}`, "admin")
	valid("POST /v1/groups", "", `{"name":"G","permissions":{"named":"support"}}`, "admin")
	valid("PUT /v1/people/:person_id/notification-preferences", "$", `{"notification_prefs":["tickets"]}`, "member")
	valid("POST /v1/invitations", "", `{"name":"N","email":"n@example.test","home_company":"$A","role":"member"}`, "admin")
	valid("POST /v1/tickets", "", `{"site":"$site","type":"incident","title":"Leak"}`, "admin")
	valid("POST /v1/tickets/:ticket_id/comments", "$", `{"body":"hello"}`, "admin")
	valid("PUT /v1/tickets/:ticket_id/status", "$", `{"status":"in_progress"}`, "admin")
	valid("PUT /v1/people/:person_id/memberships/:company_id/role", "$|$", `{"role":"admin"}`, "admin")
	valid("PUT /v1/tenant", "", `{"name":"Acme","seats":60}`, "admin")
	valid("POST /v1/invitations/accept", "", `{"token":"not-a-token"}`, "unbound")

	// Near-valid and malformed bodies.
	for _, body := range []string{
		`{"name":`, `{"colour":"red"}`, `{"name":1,"kind":"customer"}`, `{"name":"x","kind":"customer"}{}`,
		`{"name":"x","kind":"customer"} trailing`, `null`, `[]`, `"name"`, `1e999`, `{"name":"\ud800"}`,
		`{"Name":"x","KIND":"customer"}`, `{"name":"x","name":"y","kind":"customer"}`, `{"name":"","kind":"customer"}`,
		`{"name":"x","kind":"alien"}`, `{"name":"x","kind":"customer","parent":{"a":[1,2,{"b":null}]}}`,
		"\xef\xbb\xbf{}", "\x00", ` `, strings.Repeat("[", 10000), `{"name":"` + strings.Repeat("x", 70<<10) + `"}`,
	} {
		f.Add("POST /v1/companies", "", []byte(body), "application/json", "admin", "", "", "")
	}
	// Content types, path parameters, tokens and headers.
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "text/plain", "admin", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json; charset=utf-8", "admin", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`name=x`), "application/x-www-form-urlencoded", "admin", "", "", "")
	f.Add("DELETE /v1/companies/:company_id/sites/:site_id", "$|nope", []byte(nil), "", "admin", "", "", "")
	f.Add("DELETE /v1/companies/:company_id/sites/:site_id", "a/b|", []byte(nil), "", "admin", "", "", "")
	f.Add("PUT /v1/groups/:group_id/permissions", strings.Repeat("g", 201), []byte(`{"permissions":{"named":"support"}}`), "application/json", "admin", "", "", "")
	f.Add("POST /v1/people/:person_id/suspend", "..", []byte(`{}`), "application/json", "member", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "none", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "garbage", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "other", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "service", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "unbound", "", "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "admin", "key-1", "corr-1", "because")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "admin", strings.Repeat("k", 201), "", "")
	f.Add("POST /v1/companies", "", []byte(`{"name":"x","kind":"customer"}`), "application/json", "admin", "", strings.Repeat("c", 201), strings.Repeat("r", 1001))
	f.Add("GET /v1/companies", "", []byte(nil), "", "admin", "", "", "")

	f.Fuzz(func(t *testing.T, route, params string, body []byte, contentType, who, idem, corr, reason string) {
		op := fx.pick(route)
		path := fx.path(op.Path, params)
		req := httptest.NewRequest(op.Method, "/", bytes.NewReader(fx.expand(body)))
		req.URL.Path = path
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if tok := fx.token(who); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range map[string]string{"Idempotency-Key": idem, "X-Correlation-Id": corr, "X-Reason": reason} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		fx.engine.ServeHTTP(rec, req)

		status, raw := rec.Code, rec.Body.Bytes()
		t.Logf("%s %q -> %d %.200s", op.Method, path, status, raw)
		if status >= 500 && status != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: %d %s", op.Method, path, status, raw)
		}
		routed := rec.Header().Get(routedHeader) != ""
		ct := rec.Header().Get("Content-Type")
		switch {
		case !routed: // no route matches the path: Gin's own not-found or redirect
		case status >= 400 && status < 500:
			if !strings.HasPrefix(ct, problem.ContentType) {
				t.Fatalf("%s %q: a %d refusal is %q, not problem+json: %s", op.Method, path, status, ct, raw)
			}
			var p problem.Details
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s %q: refusal body is not a problem: %v: %s", op.Method, path, err, raw)
			}
			if p.Code == "" || p.Status != status || p.Type != problem.TypeURI(p.Code) || p.Title == "" {
				t.Fatalf("%s %q: incomplete problem for %d: %s", op.Method, path, status, raw)
			}
		case status >= 200 && status < 300:
			if _, err := readapi.ParsePosition(rec.Header().Get("X-Log-Position")); err != nil {
				t.Fatalf("%s %q: success without a log position (%v): %s", op.Method, path, err, raw)
			}
		}
		if routed && docValidator != nil {
			if err := docValidator.ValidateResponse(op.Method, path, status, ct, raw); err != nil {
				t.Fatalf("%s %q: the answer does not match the OpenAPI document: %v", op.Method, path, err)
			}
		}

		last := fx.lastPosition(t)
		if status >= 400 && last != fx.last {
			t.Fatalf("%s %q: refused with %d but the log moved from %s to %s: %s", op.Method, path, status, fx.last, last, raw)
		}
		fx.last = last
	})
}

const routedHeader = "X-Fuzz-Route"

type commandFuzz struct {
	api    *testkit.API
	engine *gin.Engine
	ops    []openapi.Operation
	byKey  map[string]openapi.Operation
	tokens map[string]string
	ids    map[string]string // path parameter name or "$name" placeholder -> a valid id
	last   eventstore.Position
}

// newCommandFuzz builds the fixture once per fuzz target (once per worker process): a tenant
// with a company, a site, a group, a member and a ticket, a second tenant, and an in-process
// engine over the same handlers.
func newCommandFuzz(f *testing.F) *commandFuzz {
	f.Helper()
	api := testkit.StartAPI(f)
	tn, other := api.CreateTenant("acme", 50), api.CreateTenant("other", 2)
	adm := tn.AdminToken
	company := api.Must(201, api.Do("POST", "/v1/companies", adm, map[string]any{"name": "Alpha", "kind": "customer"})).ID("company_id")
	site := api.Must(201, api.Do("POST", "/v1/companies/"+company+"/sites", adm, map[string]any{"name": "A1"})).ID("site_id")
	group := api.Must(201, api.Do("POST", "/v1/groups", adm, map[string]any{"name": "Portal", "support_user": true})).ID("group_id")
	inv := api.Must(201, api.Do("POST", "/v1/invitations", adm, map[string]any{
		"name": "Mia", "email": "mia@example.test", "home_company": company, "group": group, "role": "member"}))
	member := api.Accept(tn.ID, inv.ID("invitation_token"), "sub-member")
	ticket := api.Must(201, api.Do("POST", "/v1/tickets", adm, map[string]any{"site": site, "type": "incident", "title": "Leak"})).ID("ticket_id")

	// Panics and 500s are logged (the test fails on them anyway); the rest is quiet.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	engine := httpserver.New(logger)
	engine.Use(func(c *gin.Context) {
		if c.FullPath() != "" {
			c.Header(routedHeader, c.FullPath())
		}
		c.Next()
	})
	httpapi.New(api.Handlers, api.Dirs, logger).Register(engine, api.Dev)

	fx := &commandFuzz{api: api, engine: engine, ops: httpapi.Operations(), byKey: map[string]openapi.Operation{},
		tokens: map[string]string{
			"admin": adm, "member": member, "other": other.AdminToken, "none": "", "garbage": "not.a.jwt",
			"unbound": api.Token(tn.ID, "sub-nobody"), "service": api.ServiceToken(tn.ID, "svc", "tenant:admin", "tickets:write"),
		},
		ids: map[string]string{"company_id": company, "site_id": site, "group_id": group, "person_id": inv.ID("person_id"), "ticket_id": ticket},
	}
	for _, op := range fx.ops {
		fx.byKey[op.Method+" "+op.Path] = op
	}
	for k, v := range fx.ids {
		fx.ids["$"+strings.TrimSuffix(k, "_id")] = v // "$company", "$site", ...
	}
	fx.ids["$A"] = company
	fx.last = fx.lastPosition(f)
	return fx
}

// pick returns the operation named by key ("METHOD /v1/path"), or one chosen by its hash.
func (fx *commandFuzz) pick(key string) openapi.Operation {
	if op, ok := fx.byKey[key]; ok {
		return op
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return fx.ops[h%uint32(len(fx.ops))]
}

// path fills the template's ":name" segments from params ("|"-separated; "$" or missing is a
// valid id of the fixture, anything else is used raw, even with slashes).
func (fx *commandFuzz) path(template, params string) string {
	vals := strings.Split(params, "|")
	segs := strings.Split(template, "/")
	n := 0
	for i, s := range segs {
		name, ok := strings.CutPrefix(s, ":")
		if !ok {
			continue
		}
		v := "$"
		if n < len(vals) && !(n == 0 && params == "") {
			v = vals[n]
		}
		n++
		if v == "$" {
			v = fx.ids[name]
		}
		segs[i] = v
	}
	return strings.Join(segs, "/")
}

// expand replaces the placeholders "$A", "$site", "$person", ... in a body by the fixture's ids,
// so that seeds can name real resources.
func (fx *commandFuzz) expand(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"$`)) {
		return body
	}
	for k, v := range fx.ids {
		if strings.HasPrefix(k, "$") {
			body = bytes.ReplaceAll(body, []byte(`"`+k+`"`), []byte(`"`+v+`"`))
		}
	}
	return body
}

func (fx *commandFuzz) token(who string) string {
	if tok, ok := fx.tokens[who]; ok {
		return tok
	}
	return who
}

func (fx *commandFuzz) lastPosition(t testing.TB) eventstore.Position {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := fx.api.Store.LastPosition(ctx)
	if err != nil {
		t.Fatalf("last position: %v", err)
	}
	return p
}
