package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/commands/httpapi"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/httpserver"
)

// DevSecret signs development tokens in tests.
var DevSecret = []byte("test-secret-test-secret-test-secret!")

// API is the command API served in-process over an embedded event store (through the
// official client), with development authentication.
type API struct {
	t        testing.TB
	URL      string
	Dev      *auth.Dev
	Store    *eventstore.Client
	Dirs     *commands.Directories
	Handlers *commands.Handlers
}

// Observe, when set, sees every answer the helpers of every API receive, with the request's
// method and URL path (a package's TestMain sets it, e.g. to validate every answer against the
// OpenAPI document). It may be called from several goroutines at once.
var Observe func(t testing.TB, method, path string, r Response)

// StartAPI starts the command API on a fresh embedded event store.
func StartAPI(t testing.TB) *API {
	t.Helper()
	srv := StartEventStore(t)
	store := StoreClient(t, srv.ConnectionString())
	reg, err := eventschema.Portal()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := auth.NewDev(DevSecret)
	if err != nil {
		t.Fatal(err)
	}
	dirs := commands.NewDirectories(store, reg)
	h := commands.NewHandlers(dirs, commands.NewTickets(store, reg), Logger())
	engine := httpserver.New(Logger())
	httpapi.New(h, dirs, Logger()).Register(engine, dev)
	ts := httptest.NewServer(engine)
	t.Cleanup(ts.Close)
	return &API{t: t, URL: ts.URL, Dev: dev, Store: store, Dirs: dirs, Handlers: h}
}

// Token mints a user token for subject in tenant.
func (a *API) Token(tenant domain.TenantID, subject string) string {
	tok, err := a.Dev.Mint(tenant, domain.PrincipalUser, subject, nil, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// ServiceToken mints a service token with scopes.
func (a *API) ServiceToken(tenant domain.TenantID, client string, scopes ...string) string {
	tok, err := a.Dev.Mint(tenant, domain.PrincipalService, client, scopes, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// ID returns ids[name] of a command result.
func (r Response) ID(name string) string {
	ids, _ := r.Body["ids"].(map[string]any)
	s, _ := ids[name].(string)
	return s
}

// Code returns the problem code of a refusal.
func (r Response) Code() string { s, _ := r.Body["code"].(string); return s }

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Raw) }

// Do sends a request with a bearer token (none when empty) and a JSON body (none when nil).
func (a *API) Do(method, path, token string, body any) Response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = bytes.NewBufferString(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				a.t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// DoWith sends a request with extra headers.
func (a *API) DoWith(method, path, token string, body any, headers map[string]string) Response {
	a.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, a.URL+path, bytes.NewReader(b))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return a.send(req)
}

func (a *API) send(req *http.Request) Response {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	if Observe != nil {
		Observe(a.t, req.Method, req.URL.Path, r)
	}
	return r
}

// Must asserts the status of a response.
func (a *API) Must(status int, r Response) Response {
	a.t.Helper()
	if r.Status != status {
		a.t.Fatalf("want %d, got %s", status, r)
	}
	return r
}

// Tenant is a bootstrapped tenant with an active first admin (master admin of the provider,
// member of the Administrators group with tenant:admin).
type Tenant struct {
	ID         domain.TenantID
	Provider   string
	AdminGroup string
	Admin      string
	AdminToken string
}

// CreateTenant bootstraps a tenant the way "portald tenant create" does and lets its first
// admin accept the invitation as subject "<tenant>-admin".
func (a *API) CreateTenant(id string, seats int) Tenant {
	a.t.Helper()
	res, err := a.Handlers.Directory.CreateTenant.Handle(context.Background(), commands.Meta{Principal: domain.System()},
		commands.CreateTenant{Tenant: id, Name: "Tenant " + id, Seats: seats, AdminName: "First Admin", AdminEmail: "admin@" + id + ".example"})
	if err != nil {
		a.t.Fatalf("create tenant %s: %v", id, err)
	}
	tn := Tenant{ID: domain.TenantID(id), Provider: res.IDs["provider_company_id"], AdminGroup: res.IDs["admin_group_id"], Admin: res.IDs["admin_person_id"]}
	tn.AdminToken = a.Token(tn.ID, id+"-admin")
	a.Accept(tn.ID, res.IDs["invitation_token"], id+"-admin")
	return tn
}

// Accept accepts an invitation token as subject and returns that subject's token.
func (a *API) Accept(tenant domain.TenantID, invitationToken, subject string) string {
	a.t.Helper()
	tok := a.Token(tenant, subject)
	r := a.Do("POST", "/v1/invitations/accept", tok, map[string]any{"token": invitationToken})
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		a.t.Fatalf("accept invitation as %s: %s", subject, r)
	}
	return tok
}
