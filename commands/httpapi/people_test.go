package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
)

// people is a tenant built through the API: companies A and B with sites, a support-user group,
// a staff group (normal users), and active users of every portal role, a pending invitation and
// a contact — plus a second tenant, whose admin must never reach into the first.
type people struct {
	t     *testing.T
	api   *testkit.API
	tn    testkit.Tenant
	other testkit.Tenant

	A, B               string
	a1, a2, a3, b1     string
	portal, staffGroup string

	id  map[string]string // name -> person id
	tok map[string]string // name -> bearer token of an active user
	inv map[string]string // name -> invitation token of a pending invitation
}

func newPeople(t *testing.T) *people {
	t.Helper()
	api := testkit.StartAPI(t)
	w := &people{t: t, api: api, tn: api.CreateTenant("acme", 5), other: api.CreateTenant("other", 2),
		id: map[string]string{}, tok: map[string]string{}, inv: map[string]string{}}
	adm := w.tn.AdminToken
	w.id["root"], w.tok["root"] = w.tn.Admin, adm
	w.A = api.Must(201, api.Do("POST", "/v1/companies", adm, map[string]any{"name": "Alpha", "kind": "customer"})).ID("company_id")
	w.B = api.Must(201, api.Do("POST", "/v1/companies", adm, map[string]any{"name": "Beta", "kind": "customer"})).ID("company_id")
	site := func(co, name string) string {
		return api.Must(201, api.Do("POST", "/v1/companies/"+co+"/sites", adm, map[string]any{"name": name})).ID("site_id")
	}
	w.a1, w.a2, w.a3, w.b1 = site(w.A, "A1"), site(w.A, "A2"), site(w.A, "A3"), site(w.B, "B1")
	w.portal = api.Must(201, api.Do("POST", "/v1/groups", adm, map[string]any{"name": "Portal", "support_user": true})).ID("group_id")
	w.staffGroup = api.Must(201, api.Do("POST", "/v1/groups", adm, map[string]any{"name": "Staff", "permissions": map[string]any{"named": "support"}})).ID("group_id")

	w.user("aMaster", w.A, "master_admin")
	w.user("aAdmin", w.A, "admin")
	w.user("aMgr", w.A, "manager", w.a1, w.a2)
	w.user("aMember", w.A, "member")
	w.user("aBasic", w.A, "basic", w.a1)
	w.user("aBasic3", w.A, "basic", w.a3)
	w.user("bMaster", w.B, "master_admin")
	w.user("bAdmin", w.B, "admin")
	w.user("bMember", w.B, "member")
	w.invite("aInvited", w.A, "member")
	w.id["aContact"] = api.Must(201, api.Do("POST", "/v1/contacts", adm, map[string]any{
		"name": "Connie", "email": "connie@alpha.example", "home_company": w.A, "notification_prefs": []string{"tickets"}})).ID("person_id")
	return w
}

// invite invites name as a support user of home with role (by the tenant admin).
func (w *people) invite(name, home, role string, sites ...string) {
	w.t.Helper()
	r := w.api.Must(201, w.api.Do("POST", "/v1/invitations", w.tn.AdminToken, map[string]any{
		"name": name, "email": strings.ToLower(name) + "@example.test", "home_company": home, "group": w.portal, "role": role, "sites": sites}))
	w.id[name], w.inv[name] = r.ID("person_id"), r.ID("invitation_token")
}

// user invites name and accepts as subject "sub-<name>".
func (w *people) user(name, home, role string, sites ...string) {
	w.t.Helper()
	w.invite(name, home, role, sites...)
	w.tok[name] = w.api.Accept(w.tn.ID, w.inv[name], "sub-"+name)
	delete(w.inv, name)
}

// view runs fn on the tenant's current Directory.
func (w *people) view(fn func(d *domain.Directory)) {
	w.t.Helper()
	if err := w.api.Dirs.View(context.Background(), w.tn.ID, func(d *domain.Directory) error { fn(d); return nil }); err != nil {
		w.t.Fatal(err)
	}
}

func (w *people) person(name string) domain.Person {
	var p domain.Person
	w.view(func(d *domain.Directory) { p = *d.People[domain.PersonID(w.id[name])] })
	return p
}

// expect asserts a status and a problem code ("" for a success).
func expect(t *testing.T, r testkit.Response, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.Code() != code) {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("a refusal is not problem+json: %s", r.Header.Get("Content-Type"))
	}
}

// guards checks what every endpoint must refuse: malformed JSON, no token, and a user of
// another tenant (who knows nothing of this tenant: 404 or 403, never a change).
func (w *people) guards(t *testing.T, method, path string, body any) {
	t.Helper()
	t.Run("malformed", func(t *testing.T) {
		expect(t, w.api.Do(method, path, w.tn.AdminToken, `{"x":`), 400, "malformed-request")
	})
	t.Run("unknown field", func(t *testing.T) {
		expect(t, w.api.Do(method, path, w.tn.AdminToken, `{"colour":"red"}`), 400, "malformed-request")
	})
	t.Run("unauthenticated", func(t *testing.T) {
		expect(t, w.api.Do(method, path, "", body), 401, "unauthenticated")
	})
	t.Run("wrong tenant", func(t *testing.T) {
		r := w.api.Do(method, path, w.other.AdminToken, body)
		if r.Status != 404 && r.Status != 403 {
			t.Fatalf("another tenant's admin: %s", r)
		}
		// The same subject in a tenant it is not bound to is unknown there.
		expect(t, w.api.Do(method, path, w.api.Token("other", "sub-aAdmin"), body), 403, "unknown-identity")
	})
}

func TestAddContactEndpoint(t *testing.T) {
	w := newPeople(t)
	body := func(email string) map[string]any {
		return map[string]any{"name": "Nina", "email": email, "home_company": w.A, "notification_prefs": []string{"invoices", "tickets"}}
	}
	w.guards(t, "POST", "/v1/contacts", body("guard@example.test"))

	r := w.api.Do("POST", "/v1/contacts", w.tok["aAdmin"], body("nina@example.test"))
	expect(t, r, 201, "")
	w.id["nina"] = r.ID("person_id")
	if p := w.person("nina"); p.Type != domain.TypeContact || p.HomeCompany != domain.CompanyID(w.A) || !slices.Equal(p.NotificationPrefs, []string{"invoices", "tickets"}) {
		t.Fatalf("contact %+v", p)
	}
	if r.Header.Get("X-Log-Position") == "" {
		t.Fatal("no log position")
	}

	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["aAdmin"], body("NINA@example.test")), 409, "email-taken")
	bad := body("x@example.test")
	bad["notification_prefs"] = []string{"spam"}
	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["aAdmin"], bad), 400, "invalid-command")
	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["aMgr"], body("m@example.test")), 403, "forbidden")
	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["aMember"], body("m@example.test")), 403, "forbidden")
	// An admin of B cannot add contacts to A, and does not learn that A exists.
	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["bAdmin"], body("b@example.test")), 404, "not-found")
	// The other tenant's admin does not know company A either.
	expect(t, w.api.Do("POST", "/v1/contacts", w.other.AdminToken, body("o@example.test")), 404, "not-found")
	// A suspended admin acts no more.
	expect(t, w.api.Do("POST", "/v1/people/"+w.id["aAdmin"]+"/suspend", w.tok["aMaster"], nil), 200, "")
	expect(t, w.api.Do("POST", "/v1/contacts", w.tok["aAdmin"], body("s@example.test")), 403, "forbidden")
}

func TestNotificationPreferencesEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/notification-preferences" }
	body := map[string]any{"notification_prefs": []string{"documents", "announcements"}}
	w.guards(t, "PUT", path("aContact"), body)

	expect(t, w.api.Do("PUT", path("aContact"), w.tok["aAdmin"], body), 200, "")
	if got := w.person("aContact").NotificationPrefs; !slices.Equal(got, []string{"announcements", "documents"}) {
		t.Fatalf("prefs %v", got)
	}
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aMember"], body), 200, "") // its own
	expect(t, w.api.Do("PUT", path("aContact"), w.tok["aMember"], body), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aContact"), w.tok["aMgr"], body), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aContact"), w.tok["bAdmin"], body), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aContact"), w.tok["aAdmin"], map[string]any{"notification_prefs": []string{"gossip"}}), 400, "invalid-command")
}

func TestPromoteContactEndpoint(t *testing.T) {
	w := newPeople(t)
	path := "/v1/contacts/" + w.id["aContact"] + "/promote"
	w.guards(t, "POST", path, map[string]any{})

	// Refusals first: the contact stays a contact.
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"role": "admin"}), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"group": w.staffGroup}), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["aMgr"], map[string]any{"role": "basic", "sites": []string{w.a1}}), 404, "not-found")
	expect(t, w.api.Do("POST", path, w.tok["bAdmin"], map[string]any{}), 404, "not-found")
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"role": "basic"}), 422, "site-required")
	expect(t, w.api.Do("PUT", "/v1/tenant", w.tn.AdminToken, map[string]any{"seats": 1}), 200, "")
	expect(t, w.api.Do("POST", path, w.tn.AdminToken, map[string]any{"group": w.staffGroup}), 422, "no-free-seat")
	if p := w.person("aContact"); p.Type != domain.TypeContact {
		t.Fatalf("changed by a refusal: %+v", p)
	}

	r := w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"role": "basic", "sites": []string{w.a2}, "expires_in_hours": 24})
	expect(t, r, 200, "")
	if r.ID("person_id") != w.id["aContact"] || r.ID("invitation_token") == "" {
		t.Fatalf("ids %s", r)
	}
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{}), 409, "wrong-state")
	// The invitation works: the same person logs in, preferences kept.
	tok := w.api.Accept(w.tn.ID, r.ID("invitation_token"), "sub-connie")
	p := w.person("aContact")
	if p.Status != domain.StatusActive || p.Memberships[domain.CompanyID(w.A)].Role != domain.RoleBasic || !slices.Equal(p.NotificationPrefs, []string{"tickets"}) {
		t.Fatalf("promoted %+v", p)
	}
	expect(t, w.api.Do("PUT", "/v1/people/"+w.id["aContact"]+"/mfa", tok, map[string]any{"required": true}), 200, "")
}

func TestDemoteEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/demote" }
	w.guards(t, "POST", path("aMember"), nil)

	expect(t, w.api.Do("POST", path("aMaster"), w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", path("aMaster"), w.tn.AdminToken, nil), 422, "master-admin-required")
	expect(t, w.api.Do("POST", path("aAdmin"), w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", path("aMember"), w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", path("aMember"), w.tok["bAdmin"], nil), 404, "not-found")
	expect(t, w.api.Do("POST", path("aContact"), w.tok["aAdmin"], nil), 409, "wrong-state")

	expect(t, w.api.Do("POST", path("aMember"), w.tok["aAdmin"], nil), 200, "")
	if p := w.person("aMember"); p.Type != domain.TypeContact || len(p.Memberships) != 0 {
		t.Fatalf("demoted %+v", p)
	}
	// Its login ends at once.
	expect(t, w.api.Do("PUT", "/v1/people/"+w.id["aMember"]+"/notification-preferences", w.tok["aMember"], map[string]any{"notification_prefs": []string{}}), 403, "unknown-identity")
}

func TestResendInvitationEndpoint(t *testing.T) {
	w := newPeople(t)
	path := "/v1/invitations/" + w.id["aInvited"] + "/resend"
	w.guards(t, "POST", path, nil)

	expect(t, w.api.Do("POST", path, w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["bAdmin"], nil), 404, "not-found")
	expect(t, w.api.Do("POST", "/v1/invitations/"+w.id["aMember"]+"/resend", w.tok["aAdmin"], nil), 409, "wrong-state")
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"expires_in_hours": -1}), 400, "invalid-command")

	before := w.person("aInvited").Invitation.ExpiresAt
	r := w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"expires_in_hours": 240})
	expect(t, r, 200, "")
	if after := w.person("aInvited").Invitation.ExpiresAt; !after.After(before.Add(48 * time.Hour)) {
		t.Fatalf("expiry %v -> %v", before, after)
	}
	// The old token is dead, the new one works.
	expect(t, w.api.Do("POST", "/v1/invitations/accept", w.api.Token(w.tn.ID, "sub-inv"), map[string]any{"token": w.inv["aInvited"]}), 404, "invitation-invalid")
	w.api.Accept(w.tn.ID, r.ID("invitation_token"), "sub-inv")
}

func TestRevokeInvitationEndpoint(t *testing.T) {
	w := newPeople(t)
	path := "/v1/invitations/" + w.id["aInvited"]
	w.guards(t, "DELETE", path, nil)

	expect(t, w.api.Do("DELETE", path, w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("DELETE", path, w.tok["bAdmin"], nil), 404, "not-found")
	expect(t, w.api.Do("DELETE", "/v1/invitations/"+w.id["aMember"], w.tok["aAdmin"], nil), 409, "wrong-state")

	expect(t, w.api.Do("DELETE", path, w.tok["aAdmin"], nil), 200, "")
	if p := w.person("aInvited"); p.Status != domain.StatusRemoved {
		t.Fatalf("revoked %+v", p)
	}
	expect(t, w.api.Do("POST", "/v1/invitations/accept", w.api.Token(w.tn.ID, "sub-inv"), map[string]any{"token": w.inv["aInvited"]}), 404, "invitation-invalid")
	expect(t, w.api.Do("DELETE", path, w.tok["aAdmin"], nil), 404, "not-found")
	// Its e-mail is free again.
	expect(t, w.api.Do("POST", "/v1/invitations", w.tok["aAdmin"], map[string]any{"name": "Again", "email": "ainvited@example.test", "home_company": w.A}), 201, "")
}

func TestExpireInvitationEndpoint(t *testing.T) {
	w := newPeople(t)
	// An invitation issued eight days ago (the command's time comes from its Meta).
	res, err := w.api.Handlers.People.InviteUser.Handle(context.Background(),
		commands.Meta{Tenant: w.tn.ID, Principal: domain.User(domain.PersonID(w.tn.Admin)), Now: time.Now().Add(-8 * 24 * time.Hour)},
		commands.InviteUser{Name: "Late", Email: "late@example.test", HomeCompany: w.A})
	if err != nil {
		t.Fatal(err)
	}
	late := res.IDs["person_id"]
	path := "/v1/invitations/" + late + "/expire"
	w.guards(t, "POST", path, nil)

	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", "/v1/invitations/"+w.id["aInvited"]+"/expire", w.tn.AdminToken, nil), 409, "wrong-state") // not yet due
	expect(t, w.api.Do("POST", path, w.tn.AdminToken, nil), 200, "")
	var status domain.Status
	w.view(func(d *domain.Directory) { status = d.People[domain.PersonID(late)].Status })
	if status != domain.StatusRemoved {
		t.Fatalf("expired invitee is %s", status)
	}
	expect(t, w.api.Do("POST", path, w.tn.AdminToken, nil), 404, "not-found")
	// A service of the tenant's timer, with users:manage, may expire too.
	svc := w.api.ServiceToken(w.tn.ID, "expiry-timer", "users:manage")
	expect(t, w.api.Do("POST", "/v1/invitations/"+w.id["aInvited"]+"/expire", svc, nil), 409, "wrong-state")
}

func TestGrantMembershipEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/memberships" }
	body := map[string]any{"company": w.A, "role": "member"}
	w.guards(t, "POST", path("bMember"), body)

	expect(t, w.api.Do("POST", path("bMember"), w.tok["aAdmin"], body), 404, "not-found") // A's admin does not know B's member
	expect(t, w.api.Do("POST", path("aBasic"), w.tok["aMember"], map[string]any{"company": w.A, "role": "basic", "sites": []string{w.a1}}), 403, "forbidden")
	expect(t, w.api.Do("POST", path("root"), w.tn.AdminToken, body), 422, "support-user-only")
	expect(t, w.api.Do("POST", path("aContact"), w.tn.AdminToken, map[string]any{"company": w.B, "role": "member"}), 422, "contact-cannot-log-in")
	expect(t, w.api.Do("POST", path("bMember"), w.tn.AdminToken, map[string]any{"company": w.A, "role": "master_admin"}), 409, "master-admin-exists")
	expect(t, w.api.Do("POST", path("bMember"), w.tn.AdminToken, map[string]any{"company": w.A, "role": "basic"}), 422, "site-required")
	expect(t, w.api.Do("POST", path("bMember"), w.tn.AdminToken, map[string]any{"company": w.A, "role": "chief"}), 400, "invalid-command")

	expect(t, w.api.Do("POST", path("bMember"), w.tn.AdminToken, map[string]any{"company": w.A, "role": "manager", "sites": []string{w.a3}}), 201, "")
	m := w.person("bMember").Memberships[domain.CompanyID(w.A)]
	if m == nil || m.Role != domain.RoleManager || !slices.Equal(m.ManagedSites, []domain.SiteID{domain.SiteID(w.a3)}) {
		t.Fatalf("membership %+v", m)
	}
	expect(t, w.api.Do("POST", path("bMember"), w.tn.AdminToken, body), 409, "already-exists")
}

func TestChangeRoleEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/memberships/" + w.A + "/role" }
	w.guards(t, "PUT", path("aMember"), map[string]any{"role": "basic", "sites": []string{w.a1}})

	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"role": "admin"}), 403, "forbidden") // an admin cannot make an admin
	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMgr"], map[string]any{"role": "basic", "sites": []string{w.a3}}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMaster"), w.tn.AdminToken, map[string]any{"role": "admin"}), 422, "master-admin-required")
	expect(t, w.api.Do("PUT", path("aAdmin"), w.tn.AdminToken, map[string]any{"role": "master_admin"}), 400, "invalid-command")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["bAdmin"], map[string]any{"role": "basic", "sites": []string{w.a1}}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"role": "manager"}), 422, "site-required")

	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMgr"], map[string]any{"role": "basic", "sites": []string{w.a2}}), 200, "")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aMaster"], map[string]any{"role": "admin"}), 200, "")
	if r := w.person("aMember").Memberships[domain.CompanyID(w.A)].Role; r != domain.RoleAdmin {
		t.Fatalf("role %s", r)
	}
	if s := w.person("aBasic").Memberships[domain.CompanyID(w.A)].ManagedSites; !slices.Equal(s, []domain.SiteID{domain.SiteID(w.a2)}) {
		t.Fatalf("site %v", s)
	}
}

func TestRevokeMembershipEndpoint(t *testing.T) {
	w := newPeople(t)
	expect(t, w.api.Do("POST", "/v1/people/"+w.id["bMember"]+"/memberships", w.tn.AdminToken, map[string]any{"company": w.A, "role": "member"}), 201, "")
	path := func(name, co string) string { return "/v1/people/" + w.id[name] + "/memberships/" + co }
	w.guards(t, "DELETE", path("bMember", w.A), nil)

	expect(t, w.api.Do("DELETE", path("aMaster", w.A), w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("DELETE", path("aMaster", w.A), w.tn.AdminToken, nil), 422, "master-admin-required")
	expect(t, w.api.Do("DELETE", path("aMember", w.A), w.tok["aAdmin"], nil), 422, "home-membership-required")
	expect(t, w.api.Do("DELETE", path("bMember", w.A), w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("DELETE", path("bMember", w.A), w.tok["bAdmin"], nil), 404, "not-found") // B's admin does not know A
	expect(t, w.api.Do("DELETE", path("aMember", w.B), w.tn.AdminToken, nil), 404, "not-found")

	// A's admin takes A away from B's member (one login, many accounts).
	expect(t, w.api.Do("DELETE", path("bMember", w.A), w.tok["aAdmin"], nil), 200, "")
	if m := w.person("bMember").Memberships; m[domain.CompanyID(w.A)] != nil || m[domain.CompanyID(w.B)] == nil {
		t.Fatalf("memberships %v", m)
	}
}

func TestTransferMasterAdminEndpoint(t *testing.T) {
	w := newPeople(t)
	path := "/v1/companies/" + w.A + "/master-admin/transfer"
	w.guards(t, "POST", path, map[string]any{"to": w.id["aAdmin"]})

	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"to": w.id["aAdmin"]}), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["bMaster"], map[string]any{"to": w.id["bMaster"]}), 404, "not-found")
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{"to": w.id["aContact"]}), 422, "contact-cannot-log-in")
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{"to": w.id["aInvited"]}), 409, "wrong-state")
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{"to": w.id["bMember"]}), 404, "not-found")
	expect(t, w.api.Do("POST", path, w.tn.AdminToken, map[string]any{"to": w.id["bMember"]}), 422, "membership-required")
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{}), 400, "invalid-command")

	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{"to": w.id["aAdmin"]}), 200, "")
	w.view(func(d *domain.Directory) {
		if d.Companies[domain.CompanyID(w.A)].MasterAdmin != domain.PersonID(w.id["aAdmin"]) {
			t.Fatal("not transferred")
		}
	})
	if r := w.person("aMaster").Memberships[domain.CompanyID(w.A)].Role; r != domain.RoleAdmin {
		t.Fatalf("former master admin is %s", r)
	}
	// The former master admin transfers no more; the new one may.
	expect(t, w.api.Do("POST", path, w.tok["aMaster"], map[string]any{"to": w.id["aMember"]}), 403, "forbidden")
	expect(t, w.api.Do("POST", path, w.tok["aAdmin"], map[string]any{"to": w.id["aMaster"]}), 200, "")
}

func TestAssignManagedSitesEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/memberships/" + w.A + "/managed-sites" }
	w.guards(t, "PUT", path("aMgr"), map[string]any{"sites": []string{w.a3}})

	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["aMgr"], map[string]any{"sites": []string{w.a1, w.a2, w.a3}}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["aMember"], map[string]any{"sites": []string{w.a3}}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["bAdmin"], map[string]any{"sites": []string{w.a3}}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"sites": []string{w.a3}}), 409, "wrong-state")
	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["aAdmin"], map[string]any{"sites": []string{}}), 422, "site-required")
	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["aAdmin"], map[string]any{"sites": []string{w.b1}}), 422, "site-required")

	expect(t, w.api.Do("PUT", path("aMgr"), w.tok["aAdmin"], map[string]any{"sites": []string{w.a3}}), 200, "")
	if s := w.person("aMgr").Memberships[domain.CompanyID(w.A)].ManagedSites; !slices.Equal(s, []domain.SiteID{domain.SiteID(w.a3)}) {
		t.Fatalf("sites %v", s)
	}
	// The manager now manages a3's basic user, and no longer a1's.
	expect(t, w.api.Do("POST", "/v1/people/"+w.id["aBasic3"]+"/suspend", w.tok["aMgr"], nil), 200, "")
	expect(t, w.api.Do("POST", "/v1/people/"+w.id["aBasic"]+"/suspend", w.tok["aMgr"], nil), 404, "not-found")
}

func TestSetSitePermissionsEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/site-permissions" }
	body := map[string]any{"read_sites": []string{w.a1}, "write_sites": []string{w.a2}, "responsible": []string{w.staffGroup, w.tn.Admin}}
	w.guards(t, "PUT", path("aMember"), body)

	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMgr"], map[string]any{"read_sites": []string{w.a3}}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMember"], map[string]any{"read_sites": []string{w.a1}}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["bAdmin"], body), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"read_sites": []string{w.b1}}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tn.AdminToken, map[string]any{"read_sites": []string{w.b1}}), 422, "site-required")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"responsible": []string{w.id["bMember"]}}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"responsible": []string{w.id["aContact"]}}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("root"), w.tn.AdminToken, map[string]any{}), 422, "support-user-only")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"read_sites": []string{w.a1, w.a1}}), 400, "invalid-command")

	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], body), 200, "")
	s := w.person("aMember").Sites
	if !slices.Equal(s.ReadSites, []domain.SiteID{domain.SiteID(w.a1), domain.SiteID(w.a2)}) || !slices.Equal(s.WriteSites, []domain.SiteID{domain.SiteID(w.a2)}) ||
		!slices.Equal(s.Responsible, []string{w.staffGroup, w.tn.Admin}) {
		t.Fatalf("site permissions %+v", s)
	}
	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMgr"], map[string]any{"read_sites": []string{w.a1, w.a2}, "write_sites": []string{w.a1}}), 200, "")
}

func TestSetTicketRestrictionsEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/ticket-restrictions" }
	body := map[string]any{"ticket_types": []string{"incident"}, "restricted": true, "statuses": []string{"open", "closed"}}
	w.guards(t, "PUT", path("aMember"), body)

	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMember"], body), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["bAdmin"], body), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"statuses": []string{"open"}}), 400, "invalid-command")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"restricted": "yes"}), 400, "malformed-request")
	expect(t, w.api.Do("PUT", path("root"), w.tn.AdminToken, body), 422, "support-user-only")

	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], body), 200, "")
	if s := w.person("aMember").Sites; !s.Restricted || !slices.Equal(s.TicketTypes, []string{"incident"}) || !slices.Equal(s.Statuses, []string{"open", "closed"}) {
		t.Fatalf("restrictions %+v", s)
	}
}

func TestRequireMFAEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] + "/mfa" }
	w.guards(t, "PUT", path("aMember"), map[string]any{"required": true})

	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{}), 400, "invalid-command")
	expect(t, w.api.Do("PUT", path("aBasic"), w.tok["aMember"], map[string]any{"required": true}), 403, "forbidden")
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["bAdmin"], map[string]any{"required": true}), 404, "not-found")
	expect(t, w.api.Do("PUT", path("aContact"), w.tok["aAdmin"], map[string]any{"required": true}), 422, "contact-cannot-log-in")

	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aAdmin"], map[string]any{"required": true}), 200, "")
	if !w.person("aMember").MFARequired {
		t.Fatal("not required")
	}
	expect(t, w.api.Do("PUT", path("aMember"), w.tok["aMember"], map[string]any{"required": false}), 403, "forbidden") // not off for itself
}

func TestSuspendReactivateEndpoints(t *testing.T) {
	w := newPeople(t)
	suspend := func(name string) string { return "/v1/people/" + w.id[name] + "/suspend" }
	reactivate := func(name string) string { return "/v1/people/" + w.id[name] + "/reactivate" }
	w.guards(t, "POST", suspend("aMember"), nil)
	w.guards(t, "POST", reactivate("aMember"), nil)

	expect(t, w.api.Do("POST", suspend("aAdmin"), w.tok["aAdmin"], nil), 403, "forbidden") // itself
	expect(t, w.api.Do("POST", suspend("aMaster"), w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", suspend("aMaster"), w.tn.AdminToken, nil), 422, "master-admin-required")
	expect(t, w.api.Do("POST", suspend("root"), w.tok["aMaster"], nil), 404, "not-found")
	expect(t, w.api.Do("POST", suspend("aMember"), w.tok["aMgr"], nil), 404, "not-found")
	expect(t, w.api.Do("POST", suspend("aBasic"), w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", suspend("aInvited"), w.tok["aAdmin"], nil), 409, "wrong-state")
	expect(t, w.api.Do("POST", reactivate("aMember"), w.tok["aAdmin"], nil), 200, "") // already active: nothing to do

	expect(t, w.api.Do("POST", suspend("aMember"), w.tok["aAdmin"], nil), 200, "")
	if p := w.person("aMember"); p.Status != domain.StatusSuspended {
		t.Fatalf("status %s", p.Status)
	}
	// A suspended user is refused at once.
	expect(t, w.api.Do("PUT", "/v1/people/"+w.id["aMember"]+"/mfa", w.tok["aMember"], map[string]any{"required": true}), 403, "forbidden")
	expect(t, w.api.Do("POST", reactivate("aMember"), w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("POST", reactivate("aMember"), w.tok["bAdmin"], nil), 404, "not-found")

	expect(t, w.api.Do("POST", reactivate("aMember"), w.tok["aAdmin"], nil), 200, "")
	expect(t, w.api.Do("PUT", "/v1/people/"+w.id["aMember"]+"/mfa", w.tok["aMember"], map[string]any{"required": true}), 200, "")

	// The tenant's last active administrator stays.
	expect(t, w.api.Do("POST", "/v1/companies/"+w.tn.Provider+"/master-admin/transfer", w.tn.AdminToken, map[string]any{"to": w.id["aMember"]}), 422, "membership-required")
	staff := w.api.Must(201, w.api.Do("POST", "/v1/invitations", w.tn.AdminToken, map[string]any{"name": "Sam", "email": "sam@example.test", "home_company": w.tn.Provider, "group": w.staffGroup}))
	w.api.Accept(w.tn.ID, staff.ID("invitation_token"), "sub-sam")
	expect(t, w.api.Do("POST", "/v1/companies/"+w.tn.Provider+"/master-admin/transfer", w.tn.AdminToken, map[string]any{"to": staff.ID("person_id")}), 200, "")
	expect(t, w.api.Do("POST", suspend("root"), w.api.ServiceToken(w.tn.ID, "ops", "users:manage"), nil), 422, "master-admin-required")
}

func TestRemoveUserEndpoint(t *testing.T) {
	w := newPeople(t)
	path := func(name string) string { return "/v1/people/" + w.id[name] }
	w.guards(t, "DELETE", path("aMember"), nil)

	expect(t, w.api.Do("DELETE", path("aAdmin"), w.tok["aAdmin"], nil), 403, "forbidden")
	expect(t, w.api.Do("DELETE", path("aMaster"), w.tn.AdminToken, nil), 422, "master-admin-required")
	expect(t, w.api.Do("DELETE", path("aMember"), w.tok["aMember"], nil), 403, "forbidden")
	expect(t, w.api.Do("DELETE", path("aMember"), w.tok["bAdmin"], nil), 404, "not-found")
	expect(t, w.api.Do("DELETE", path("aBasic3"), w.tok["aMgr"], nil), 404, "not-found")

	expect(t, w.api.Do("DELETE", path("aMember"), w.tok["aAdmin"], nil), 200, "")
	expect(t, w.api.Do("DELETE", path("aContact"), w.tok["aAdmin"], nil), 200, "")
	expect(t, w.api.Do("DELETE", path("aBasic"), w.tok["aMgr"], nil), 200, "")
	expect(t, w.api.Do("DELETE", path("aMember"), w.tok["aAdmin"], nil), 404, "not-found")
	// Login refused at once; the e-mail is free again.
	expect(t, w.api.Do("PUT", "/v1/people/"+w.id["aMember"]+"/mfa", w.tok["aMember"], map[string]any{"required": true}), 403, "unknown-identity")
	expect(t, w.api.Do("POST", "/v1/invitations", w.tok["aAdmin"], map[string]any{"name": "Back", "email": "AMEMBER@example.test", "home_company": w.A}), 201, "")
}

// TestEveryPeopleRouteIsMounted guards against a route left out of routes_people.go.
func TestEveryPeopleRouteIsMounted(t *testing.T) {
	w := newPeople(t)
	for _, route := range []string{
		"POST /v1/contacts", "POST /v1/contacts/x/promote", "PUT /v1/people/x/notification-preferences", "POST /v1/people/x/demote",
		"POST /v1/invitations/x/resend", "POST /v1/invitations/x/expire", "DELETE /v1/invitations/x",
		"POST /v1/people/x/memberships", "PUT /v1/people/x/memberships/y/role", "PUT /v1/people/x/memberships/y/managed-sites",
		"DELETE /v1/people/x/memberships/y", "POST /v1/companies/y/master-admin/transfer", "PUT /v1/people/x/site-permissions",
		"PUT /v1/people/x/ticket-restrictions", "PUT /v1/people/x/mfa", "POST /v1/people/x/suspend", "POST /v1/people/x/reactivate",
		"DELETE /v1/people/x",
	} {
		method, path, _ := strings.Cut(route, " ")
		r := w.api.Do(method, path, w.tn.AdminToken, `{"x":`)
		if r.Status != http.StatusBadRequest || r.Code() != "malformed-request" {
			t.Errorf("%s: %s", route, fmt.Sprint(r))
		}
	}
}

// TestMasterAdminUnderConcurrency races transfers of company A's master admin role against each
// other and against revocations of the candidates' memberships, through the API and through a
// second command side over the same event store (another process: its races end in real
// wrong-expected-version conflicts, not in the in-process lock). Whatever wins, A ends with
// exactly one master admin who holds a membership, and the log's transfers form one chain.
func TestMasterAdminUnderConcurrency(t *testing.T) {
	w := newPeople(t)
	adm := w.tn.AdminToken
	const n = 6
	var cands, guests []string
	for i := range n {
		c, g := fmt.Sprintf("cand%d", i), fmt.Sprintf("guest%d", i)
		w.user(c, w.A, "member")
		w.user(g, w.B, "member")
		expect(t, w.api.Do("POST", "/v1/people/"+w.id[g]+"/memberships", adm, map[string]any{"company": w.A, "role": "member"}), 201, "")
		cands, guests = append(cands, w.id[c]), append(guests, w.id[g])
	}
	reg, err := eventschema.Portal()
	if err != nil {
		t.Fatal(err)
	}
	dirs2 := commands.NewDirectories(w.api.Store, reg)
	other := commands.NewHandlers(dirs2, commands.NewTickets(w.api.Store, reg), testkit.Logger()).People
	asAdmin := commands.Meta{Tenant: w.tn.ID, Principal: domain.User(domain.PersonID(w.tn.Admin))}
	outcome := func(_ commands.Result, err error) string {
		var de *domain.Error
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &de):
			return de.Code
		case errors.Is(err, eventstore.ErrConflict):
			return "concurrent-modification"
		}
		return "error: " + err.Error()
	}
	httpOutcome := func(r testkit.Response) string {
		if r.Status == 200 {
			return "ok"
		}
		return r.Code()
	}
	transferPath := "/v1/companies/" + w.A + "/master-admin/transfer"

	type op struct {
		revoke bool
		run    func() string
	}
	var ops []op
	for i := range n {
		cand, guest := cands[i], guests[i]
		ops = append(ops,
			op{false, func() string { return httpOutcome(w.api.Do("POST", transferPath, adm, map[string]any{"to": cand})) }},
			op{false, func() string {
				return httpOutcome(w.api.Do("POST", transferPath, w.tok["aMaster"], map[string]any{"to": guest}))
			}},
			op{false, func() string {
				return outcome(other.TransferMasterAdmin.Handle(context.Background(), asAdmin, commands.TransferMasterAdmin{Company: w.A, To: guest}))
			}},
			op{false, func() string {
				return outcome(other.TransferMasterAdmin.Handle(context.Background(), asAdmin, commands.TransferMasterAdmin{Company: w.A, To: cand}))
			}},
			op{true, func() string {
				return httpOutcome(w.api.Do("DELETE", "/v1/people/"+guest+"/memberships/"+w.A, adm, nil))
			}},
			op{true, func() string {
				return outcome(other.RevokeMembership.Handle(context.Background(), asAdmin, commands.RevokeMembership{Person: guest, Company: w.A}))
			}},
		)
	}
	results := make([]string, len(ops))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = o.run()
		}()
	}
	close(start)
	wg.Wait()

	allowed := map[string]bool{"ok": true, "forbidden": true, "membership-required": true, "master-admin-required": true,
		"not-found": true, "concurrent-modification": true}
	counts := map[string]int{}
	okTransfers, okRevokes := 0, 0
	for i, r := range results {
		if !allowed[r] {
			t.Fatalf("unexpected outcome %q (all: %v)", r, results)
		}
		counts[r]++
		if r == "ok" && ops[i].revoke {
			okRevokes++
		} else if r == "ok" {
			okTransfers++
		}
	}
	if okTransfers == 0 {
		t.Fatalf("no transfer succeeded: %v", counts)
	}
	t.Logf("outcomes: %v", counts)

	// The final state, as each command side sees it after catching up.
	for name, dirs := range map[string]*commands.Directories{"api": w.api.Dirs, "second": dirs2} {
		err := dirs.View(context.Background(), w.tn.ID, func(d *domain.Directory) error {
			var holders []domain.PersonID
			for _, p := range d.People {
				if m := p.Memberships[domain.CompanyID(w.A)]; m != nil && m.Role == domain.RoleMasterAdmin {
					holders = append(holders, p.ID)
				}
			}
			ma := d.Companies[domain.CompanyID(w.A)].MasterAdmin
			if len(holders) != 1 || holders[0] != ma {
				return fmt.Errorf("master admins %v, company says %q", holders, ma)
			}
			if d.People[ma].Status != domain.StatusActive {
				return fmt.Errorf("master admin %s is %s", ma, d.People[ma].Status)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	// The log: transfers chain (each hands over from the previous holder), and no revocation
	// ever took the holder's membership.
	holder := domain.PersonID(w.id["aMaster"])
	transfers, revokes := 0, 0
	err = w.api.Store.ReadStream(context.Background(), commands.DirectoryStream(w.tn.ID), 0, 1<<62, func(rec eventstore.RecordedEvent) error {
		ev, err := reg.Decode(rec.Type, rec.Data, rec.Metadata)
		if err != nil {
			return err
		}
		switch e := ev.Payload.(type) {
		case *domain.MasterAdminTransferred:
			if e.Company != domain.CompanyID(w.A) {
				return nil
			}
			if e.From != holder {
				return fmt.Errorf("transfer from %s while %s held the role", e.From, holder)
			}
			holder, transfers = e.To, transfers+1
		case *domain.MembershipRevoked:
			if e.Company != domain.CompanyID(w.A) {
				return nil
			}
			if e.Person == holder {
				return fmt.Errorf("the master admin's membership was revoked")
			}
			revokes++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every accepted revocation is in the log once; every transfer in the log was accepted (a
	// transfer to the holder itself is accepted without an event).
	if revokes != okRevokes || transfers == 0 || transfers > okTransfers {
		t.Fatalf("log has %d transfers and %d revocations; %d and %d were accepted", transfers, revokes, okTransfers, okRevokes)
	}
	w.view(func(d *domain.Directory) {
		if d.Companies[domain.CompanyID(w.A)].MasterAdmin != holder {
			t.Fatalf("log chain ends at %s, state says %s", holder, d.Companies[domain.CompanyID(w.A)].MasterAdmin)
		}
	})
}
