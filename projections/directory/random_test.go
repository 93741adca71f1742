package directory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
)

// history makes Directory events the command side would mostly refuse in that order (a master
// admin demoted or removed, an invited master admin whose invitation expires, a transfer to
// someone without a membership or from nobody, events about people who do not exist, sites of
// any role, …) and keeps the domain's state beside them: the oracle is domain.Evolve itself.
// It keeps two invariants of the command side that the read model relies on: a group's flag is
// fixed and the group exists before anyone is put in it, and a membership's sites belong to
// the membership's company.
type history struct {
	rng    *rand.Rand
	tenant domain.TenantID
	reg    *eventschema.Registry
	d      *domain.Directory
	events []eventstore.RecordedEvent
	at     time.Time
}

var (
	rCompanies = []domain.CompanyID{"c1", "c2", "c3", "c4"}
	rSites     = map[domain.CompanyID][]domain.SiteID{"c1": {"s1", "s2"}, "c2": {"s3", "s4"}, "c3": {"s5"}, "c4": {}}
	rGroups    = []domain.GroupID{"g-support", "g-normal", "g-normal2"}
	rPeople    = []domain.PersonID{"p1", "p2", "p3", "p4", "p5", "p6", "nobody"}
	rRoles     = []domain.Role{domain.RoleMasterAdmin, domain.RoleAdmin, domain.RoleManager, domain.RoleMember, domain.RoleBasic}
	rPerms     = []domain.PermissionSet{{Named: "full"}, {Named: "support"}, {List: []domain.Permission{domain.PermTicketsRead}}, {}}
)

func (h *history) add(e domain.Event) {
	h.at = h.at.Add(time.Millisecond)
	env := eventschema.Envelope{EventID: uuid.New(), Type: e.EventType(), Tenant: string(h.tenant), OccurredAt: h.at,
		Actor: eventschema.SystemActor(), CorrelationID: "c", CausationID: "c", Command: "Test"}
	enc, err := h.reg.Encode(eventschema.Event{Envelope: env, Payload: e})
	if err != nil {
		panic(err)
	}
	n := uint64(len(h.events) + 1)
	rec := eventstore.RecordedEvent{ID: enc.EventID, Stream: "directory-" + string(h.tenant), Revision: n - 1, Type: enc.Type,
		Data: enc.Data, Metadata: enc.Metadata, Position: eventstore.Position{Commit: n * 10, Prepare: n * 10}}
	// The oracle evolves the event as stored, exactly as the projection reads it.
	dec, err := h.reg.Decode(rec.Type, rec.Data, rec.Metadata)
	if err != nil {
		panic(err)
	}
	domain.Evolve(h.d, dec.Payload.(domain.Event))
	h.events = append(h.events, rec)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (h *history) sites(c domain.CompanyID, atLeast int) []domain.SiteID {
	var out []domain.SiteID
	for _, s := range rSites[c] {
		if h.rng.IntN(2) == 0 {
			out = append(out, s)
		}
	}
	if len(out) < atLeast && len(rSites[c]) > 0 {
		out = append(out, rSites[c][0])
	}
	return out
}

func (h *history) anySites() []domain.SiteID {
	var out []domain.SiteID
	for _, c := range rCompanies {
		for _, s := range rSites[c] {
			if h.rng.IntN(3) == 0 {
				out = append(out, s)
			}
		}
	}
	return out
}

func (h *history) setup() {
	h.add(domain.TenantConfigured{Tenant: h.tenant, Name: "Random", Seats: 5})
	for i, c := range rCompanies {
		var parent domain.CompanyID
		if i > 0 && h.rng.IntN(2) == 0 {
			parent = rCompanies[h.rng.IntN(i)]
		}
		h.add(domain.CompanyRegistered{Company: c, Name: "Company " + string(c), Kind: domain.KindCustomer, Parent: parent})
	}
	for i, g := range rGroups {
		h.add(domain.UserGroupCreated{Group: g, Name: string(g), SupportUser: i == 0, Permissions: pick(h.rng, rPerms)})
	}
}

func (h *history) step() {
	r := h.rng
	p := pick(r, rPeople)
	c := pick(r, rCompanies)
	exp := h.at.Add(time.Duration(r.IntN(1000)) * time.Hour)
	token := uuid.NewString()
	switch r.IntN(30) {
	case 0:
		h.add(domain.CompanyRenamed{Company: c, Name: fmt.Sprintf("Renamed %d", r.IntN(100))})
	case 1:
		var parent domain.CompanyID
		if r.IntN(3) > 0 {
			parent = pick(r, rCompanies)
		}
		h.add(domain.ParentCompanySet{Company: c, Parent: parent})
	case 2, 3:
		if len(rSites[c]) > 0 {
			s := pick(r, rSites[c])
			h.add(domain.SiteAdded{Company: c, Site: s, Name: "Site " + string(s), Address: pick(r, []string{"", "1 Street"})})
		}
	case 4:
		if len(rSites[c]) > 0 {
			h.add(domain.SiteRemoved{Company: c, Site: pick(r, rSites[c])})
		}
	case 5:
		h.add(domain.GroupPermissionsSet{Group: pick(r, rGroups), Permissions: pick(r, rPerms)})
	case 6:
		var g domain.GroupID
		if r.IntN(4) > 0 {
			g = pick(r, rGroups)
		}
		h.add(domain.UserMovedToGroup{Person: p, Group: g, Class: domain.ClassSupport})
	case 7:
		h.add(domain.ContactAdded{Person: p, Name: "Contact " + string(p), Email: string(p) + "@x.test", HomeCompany: c,
			NotificationPrefs: pick(r, [][]string{nil, {"tickets"}, {"invoices", "tickets"}})})
	case 8:
		h.add(domain.NotificationPreferencesUpdated{Person: p, Prefs: pick(r, [][]string{{}, {"documents"}})})
	case 9:
		var g domain.GroupID
		if r.IntN(2) == 0 {
			g = pick(r, rGroups)
		}
		h.add(domain.ContactPromotedToUser{Person: p, Group: g, Class: domain.ClassSupport, TokenHash: token, ExpiresAt: exp})
	case 10:
		h.add(domain.UserDemotedToContact{Person: p})
	case 11, 12:
		var g domain.GroupID
		if r.IntN(2) == 0 {
			g = pick(r, rGroups)
		}
		h.add(domain.UserInvited{Person: p, Name: "User " + string(p), Email: string(p) + "@x.test", HomeCompany: c, Group: g,
			Class: domain.ClassSupport, TokenHash: token, ExpiresAt: exp})
	case 13:
		h.add(domain.InvitationResent{Person: p, TokenHash: token, ExpiresAt: exp})
	case 14:
		h.add(domain.InvitationRevoked{Person: p})
	case 15:
		h.add(domain.InvitationExpired{Person: p})
	case 16, 17:
		h.add(domain.InvitationAccepted{Person: p, Subject: "sub-" + string(p) + token[:4]})
	case 18, 19:
		h.add(domain.MembershipGranted{Person: p, Company: c, Role: pick(r, rRoles), Permissions: pick(r, rPerms), Sites: h.sites(c, 0)})
	case 20:
		h.add(domain.RoleChanged{Person: p, Company: c, Role: pick(r, rRoles), Sites: h.sites(c, 1)})
	case 21:
		h.add(domain.MembershipRevoked{Person: p, Company: c})
	case 22:
		from := domain.PersonID("")
		if co := h.d.Companies[c]; co != nil && r.IntN(4) > 0 {
			from = co.MasterAdmin
		} else if r.IntN(2) == 0 {
			from = pick(r, rPeople)
		}
		h.add(domain.MasterAdminTransferred{Company: c, From: from, To: p})
	case 23:
		h.add(domain.ManagedSitesAssigned{Person: p, Company: c, Sites: h.sites(c, 1)})
	case 24:
		h.add(domain.SitePermissionsSet{Person: p, ReadSites: h.anySites(), WriteSites: h.anySites(), Responsible: pick(r, [][]string{{}, {"g-normal"}, {"p1", "g-support"}})})
	case 25:
		h.add(domain.TicketRestrictionsSet{Person: p, TicketTypes: pick(r, [][]string{{}, {"incident"}}), Restricted: r.IntN(2) == 0,
			Statuses: pick(r, [][]string{{}, {"resolved", "closed"}})})
	case 26:
		h.add(domain.MFARequired{Person: p, Required: r.IntN(2) == 0})
	case 27:
		h.add(pick(r, []domain.Event{domain.UserSuspended{Person: p}, domain.UserReactivated{Person: p}}))
	case 28:
		h.add(domain.UserRemoved{Person: p})
	case 29:
		if r.IntN(2) == 0 {
			h.add(domain.TechnicianAdded{Person: p, Company: c, Name: "Tech " + string(p), Email: string(p) + "@t.test", TokenHash: token, ExpiresAt: exp})
		} else {
			h.add(domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: string(p), Target: c})
		}
	}
}

// TestRandomHistoriesMatchTheDomain folds random histories both ways — domain.Evolve and the
// projection — and compares the read model with the domain's state every few events, then
// checks that a rebuild in another generation gives the same keys.
func TestRandomHistoriesMatchTheDomain(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	reg := eventschema.MustPortal()
	const seeds, steps, every = 12, 400, 50
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			tenant := domain.TenantID(fmt.Sprint("r", seed))
			h := &history{rng: rand.New(rand.NewPCG(seed, 42)), tenant: tenant, reg: reg, d: domain.NewDirectory(tenant),
				at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			h.setup()
			keys := projections.Keys{Prefix: prefix, Gen: int64(100 + seed)}
			runner := projections.NewRunner(directory.New(), rdb, reg, keys)
			if _, err := runner.Checkpoint(context.Background(), directory.Name); err != nil {
				t.Fatal(err)
			}
			rd := directory.NewReader(rdb, keys)
			done := 0
			for i := range steps {
				h.step()
				if (i+1)%every == 0 {
					feed(t, runner, h.events[done:])
					done = len(h.events)
					checkDirectory(t, rd, tenant, h.d)
					if t.Failed() {
						t.Fatalf("diverged within events %d..%d", done-every, done)
					}
				}
			}
			want, n := digest(t, rdb, keys)
			again := projections.Keys{Prefix: prefix, Gen: int64(200 + seed)}
			rebuild := projections.NewRunner(directory.New(), rdb, reg, again)
			if _, err := rebuild.Checkpoint(context.Background(), directory.Name); err != nil {
				t.Fatal(err)
			}
			feed(t, rebuild, h.events)
			if got, n2 := digest(t, rdb, again); got != want || n2 != n {
				t.Fatalf("rebuild differs: %d keys vs %d", n2, n)
			}
		})
	}
}
