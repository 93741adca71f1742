package demo_test

import (
	"context"
	"testing"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/demo"
	"github.com/portal-access/backend/internal/testkit"
)

// TestDemoCoversTheAccessModel loads the demo and checks that it exercises every class, role,
// access level and lifecycle state of DESIGN §1 — and that loading it again changes nothing.
func TestDemoCoversTheAccessModel(t *testing.T) {
	api := testkit.StartAPI(t)
	ctx := context.Background()
	sum, err := demo.Load(ctx, api.Handlers, api.Dirs)
	if err != nil || !sum.Loaded {
		t.Fatalf("load: %v (loaded %v)", err, sum.Loaded)
	}
	classes, roles, statuses, levels := map[domain.Class]int{}, map[domain.Role]int{}, map[domain.Status]int{}, map[domain.AccessLevel]int{}
	var restricted, siteRights, mfa, technician, promoted bool
	err = api.Dirs.View(ctx, demo.Tenant, func(d *domain.Directory) error {
		for _, p := range d.People {
			classes[d.ClassOf(p)]++
			statuses[p.Status]++
			for _, m := range p.Memberships {
				roles[m.Role]++
			}
			if p.Access != nil {
				levels[domain.LevelUser]++
			}
			restricted = restricted || p.Sites.Restricted
			siteRights = siteRights || (len(p.Sites.ReadSites) > 0 && len(p.Sites.WriteSites) > 0)
			mfa = mfa || p.MFARequired
			if co := d.Companies[p.HomeCompany]; co != nil && co.Kind == domain.KindContractor && p.Status == domain.StatusActive {
				technician = true
			}
			if p.Email == "connor@globex.example" && p.Type == domain.TypeSystemUser && p.Status == domain.StatusActive {
				promoted = true
			}
		}
		for _, g := range d.Groups {
			if g.Access != nil {
				levels[domain.LevelGroup]++
			}
		}
		for _, c := range d.Companies {
			if c.Access != nil {
				levels[domain.LevelCompany]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []domain.Class{domain.ClassNormal, domain.ClassSupport, domain.ClassContact} {
		if classes[c] == 0 {
			t.Errorf("no %s in the demo", c)
		}
	}
	for _, r := range []domain.Role{domain.RoleMasterAdmin, domain.RoleAdmin, domain.RoleManager, domain.RoleMember, domain.RoleBasic} {
		if roles[r] == 0 {
			t.Errorf("no %s in the demo", r)
		}
	}
	for _, s := range []domain.Status{domain.StatusActive, domain.StatusSuspended, domain.StatusRemoved, domain.StatusContact} {
		if statuses[s] == 0 {
			t.Errorf("no %s person in the demo", s)
		}
	}
	for _, l := range []domain.AccessLevel{domain.LevelUser, domain.LevelGroup, domain.LevelCompany} {
		if levels[l] == 0 {
			t.Errorf("no %s-level company access in the demo", l)
		}
	}
	if !restricted || !siteRights || !mfa || !technician || !promoted {
		t.Errorf("restricted statuses %v, read+write sites %v, MFA %v, technician %v, promoted contact %v", restricted, siteRights, mfa, technician, promoted)
	}

	// Every advertised login can act (or is refused, for the demoted and suspended ones).
	for subject := range sum.People {
		r := api.Do("PUT", "/v1/people/nobody/mfa", api.Token(demo.Tenant, subject), map[string]any{"required": true})
		refused := r.Status == 403 && (subject == "demo-dave" || subject == "demo-sam")
		if r.Status != 404 && !refused {
			t.Errorf("%s: %s", subject, r)
		}
	}

	again, err := demo.Load(ctx, api.Handlers, api.Dirs)
	if err != nil || again.Loaded {
		t.Fatalf("second load: %v, loaded %v", err, again.Loaded)
	}
}
