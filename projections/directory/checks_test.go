package directory_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
)

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func commandTicket(t *testing.T, w *world, id domain.TicketID) *domain.Ticket {
	t.Helper()
	tk, err := commands.NewTickets(w.api.Store, eventschema.MustPortal()).Ticket(context.Background(), w.tn.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// checkSpotValues asserts what the scenario set out to do, by hand: the comparison with the
// command side proves the two agree, this proves the scenario reached the interesting states.
func checkSpotValues(t *testing.T, rd *directory.Reader, w *world) {
	t.Helper()
	ctx := context.Background()
	tn := w.tn.ID
	person := func(name string) directory.Person {
		t.Helper()
		p, err := rd.GetPerson(ctx, tn, domain.PersonID(w.id[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	company := func(name string) directory.Company {
		t.Helper()
		c, err := rd.GetCompany(ctx, tn, domain.CompanyID(w.id[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	check := func(what string, ok bool, v any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %s", what, asJSON(t, v))
		}
	}
	alpha, beta, gamma := company("alpha"), company("beta"), company("gamma")
	check("alpha renamed, daughter of holding, master admin transferred to aAdmin",
		alpha.Name == "Alpha GmbH" && alpha.Parent == domain.CompanyID(w.id["holding"]) && alpha.MasterAdmin == domain.PersonID(w.id["aAdmin"]), alpha)
	check("beta moved under alpha", beta.Parent == domain.CompanyID(w.id["alpha"]), beta)
	check("gamma detached", gamma.Parent == "", gamma)
	fix := company("fixit")
	check("guest contractor", fix.Kind == domain.KindContractor && fix.RegisteredBy == domain.CompanyID(w.id["alpha"]), fix)

	p := person("aMaster")
	check("former master admin is an admin", len(p.Memberships) == 1 && p.Memberships[0].Role == domain.RoleAdmin, p)
	p = person("aMember")
	check("demoted: contact, no memberships, no MFA, no group", p.Type == domain.TypeContact && p.Class == domain.ClassContact &&
		p.Status == domain.StatusContact && len(p.Memberships) == 0 && !p.MFARequired && p.Group == "", p)
	p = person("connie")
	check("promoted contact: active basic user at a2, preferences kept", p.Class == domain.ClassSupport && p.Status == domain.StatusActive &&
		len(p.Memberships) == 1 && p.Memberships[0].Role == domain.RoleBasic && slices.Equal(p.NotificationPrefs, []string{"announcements", "documents"}), p)
	p = person("aBasic2")
	check("suspended, site rights after a3 went", p.Status == domain.StatusSuspended && p.Group == "" && p.Class == domain.ClassSupport &&
		slices.Equal(p.SitePermissions.ReadSites, []domain.SiteID{domain.SiteID(w.id["a1"]), domain.SiteID(w.id["a2"])}) &&
		p.TicketRestrictions.Restricted, p)
	p = person("bMember")
	check("removed: no memberships", p.Status == domain.StatusRemoved && len(p.Memberships) == 0, p)
	p = person("bAdmin")
	check("reactivated, alpha membership revoked", p.Status == domain.StatusActive && len(p.Memberships) == 1, p)
	check("normal user moved to a support group", person("staff2").Class == domain.ClassSupport, person("staff2"))
	check("support user moved to a normal group", person("sup1").Class == domain.ClassNormal, person("sup1"))
	check("staff1 is a normal user", person("staff1").Class == domain.ClassNormal, person("staff1"))
	p = person("pending")
	check("pending invitation resent", p.Status == domain.StatusInvited && p.InvitationExpiresAt != nil, p)
	p = person("revoked")
	check("revoked invitation", p.Status == domain.StatusRemoved && p.InvitationExpiresAt == nil, p)
	p = person("aMgr")
	check("manager of a2 only after a3 went, basic at b1", len(p.Memberships) == 2, p)
	p = person("tim")
	check("technician", p.Status == domain.StatusActive && p.HomeCompany == domain.CompanyID(w.id["fixit"]) && p.Class == domain.ClassSupport, p)

	if _, err := rd.GetSite(ctx, tn, domain.SiteID(w.id["a3"])); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("removed site: %v", err)
	}
	if _, err := rd.SitePeople(ctx, tn, domain.SiteID(w.id["a3"]), directory.Page{}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("users of a removed site: %v", err)
	}
	tk, err := rd.GetTicket(ctx, tn, domain.TicketID(w.id["t1"]))
	check("t1 worked on", err == nil && tk.Status == domain.TicketInProgress && tk.ResponsibleUser == domain.PersonID(w.id["staff1"]) &&
		tk.ResponsibleGroup == "" && tk.Contractor == domain.CompanyID(w.id["fixit"]) && tk.Technician == "" && tk.Comments == 3 &&
		tk.Documents == 2 && tk.UpdatedAt.After(tk.OpenedAt), tk)

	// Paging: pages in the order comments were made, with the total.
	pg, err := rd.ListComments(ctx, tn, domain.TicketID(w.id["t1"]), directory.Page{Offset: 1, Limit: 1})
	check("second comment", err == nil && pg.Total == 3 && len(pg.Items) == 1 && pg.Items[0].Body == "On my way" &&
		pg.Items[0].Author == domain.PersonID(w.id["tim"]), pg)
	ppl, err := rd.CompanyPeople(ctx, tn, domain.CompanyID(w.id["alpha"]), directory.Page{Offset: 0, Limit: 2})
	check("first page of alpha's people", err == nil && len(ppl.Items) == 2 && ppl.Total > 2 &&
		ppl.Items[0].ID == domain.PersonID(w.id["aMaster"]) && ppl.Items[1].ID == domain.PersonID(w.id["aAdmin"]), ppl)
	names, err := rd.PersonNames(ctx, tn, tk.Reporter, tk.ResponsibleUser, "nobody")
	check("names of a ticket's people", err == nil && len(names) == 2 && names[0].Name == "Person aBasic" && names[1].Limited, names)
	for _, fn := range []func() error{
		func() error { _, err := rd.GetPerson(ctx, tn, "nobody"); return err },
		func() error { _, err := rd.LimitedPerson(ctx, tn, "nobody"); return err },
		func() error { _, err := rd.GetTicket(ctx, tn, "nobody"); return err },
		func() error { _, err := rd.ListComments(ctx, tn, "nobody", directory.Page{}); return err },
		func() error { _, err := rd.CompanyPeople(ctx, tn, "nobody", directory.Page{}); return err },
		func() error { _, err := rd.GetDocument(ctx, tn, "nobody"); return err },
		func() error { _, err := rd.GetGroup(ctx, tn, "nobody"); return err },
	} {
		if err := fn(); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
	}
}

// checkIsolation: a tenant's ids mean nothing in another tenant.
func checkIsolation(t *testing.T, rd *directory.Reader, a, b *world) {
	t.Helper()
	ctx := context.Background()
	if _, err := rd.GetCompany(ctx, b.tn.ID, domain.CompanyID(a.id["alpha"])); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("tenant %s sees %s's company: %v", b.tn.ID, a.tn.ID, err)
	}
	if _, err := rd.GetTicket(ctx, a.tn.ID, domain.TicketID(b.id["gt"])); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("tenant %s sees %s's ticket: %v", a.tn.ID, b.tn.ID, err)
	}
	if _, err := rd.GetPerson(ctx, b.tn.ID, domain.PersonID(a.tn.Admin)); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("tenant %s sees %s's admin: %v", b.tn.ID, a.tn.ID, err)
	}
}

// checkKeyLayout: every key is the checkpoint or lives under a tenant's "dir:" prefix.
func checkKeyLayout(t *testing.T, rdb *redis.Client, keys projections.Keys, tenants ...domain.TenantID) {
	t.Helper()
	for _, k := range testkit.Keys(context.Background(), rdb, keys.Generation()) {
		if k == keys.Checkpoint(directory.Name) {
			continue
		}
		ok := false
		for _, tn := range tenants {
			ok = ok || strings.HasPrefix(k, keys.Tenant(tn)+"dir:")
		}
		if !ok {
			t.Errorf("key %s outside the layout", k)
		}
	}
}

// Every event the directory handles is a registered event type, and every event that changes
// the command side's Directory, Ticket or Document is handled — but company access, which is
// the visibility projection's business.
func TestHandlersCoverTheEvents(t *testing.T) {
	h := directory.New().Handlers()
	known := map[string]bool{}
	for _, e := range domain.AllEvents() {
		known[e.EventType()] = true
	}
	for typ := range h {
		if !known[typ] {
			t.Errorf("handler for unknown event type %s", typ)
		}
	}
	ignored := map[string]bool{"CompanyAccessGranted": true, "CompanyAccessRevoked": true, "CompanyAccessCleared": true}
	for typ := range known {
		if h[typ] == nil && !ignored[typ] {
			t.Errorf("event %s is not projected", typ)
		}
	}
}
