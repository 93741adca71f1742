package world_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/testkit/world"
)

func TestStreamNamesAreTheCommandSides(t *testing.T) {
	if got, want := world.DirectoryStream("acme"), commands.DirectoryStream("acme"); got != want {
		t.Errorf("directory stream %q, commands say %q", got, want)
	}
	if got, want := world.TicketStream("acme", "t1"), commands.TicketStream("acme", "t1"); got != want {
		t.Errorf("ticket stream %q, commands say %q", got, want)
	}
	if got, want := world.DocumentStream("acme", "d1"), commands.DocumentStream("acme", "d1"); got != want {
		t.Errorf("document stream %q, commands say %q", got, want)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, seed := range []int64{1, 42, 977} {
		a, b := world.Generate(seed, 120), world.Generate(seed, 120)
		if !reflect.DeepEqual(a.Steps, b.Steps) || !reflect.DeepEqual(a.Directory, b.Directory) ||
			!reflect.DeepEqual(a.Tickets, b.Tickets) || !reflect.DeepEqual(a.Documents, b.Documents) || !slices.Equal(a.People, b.People) {
			t.Fatalf("seed %d: two generations differ", seed)
		}
	}
	if reflect.DeepEqual(world.Generate(1, 60).Steps, world.Generate(2, 60).Steps) {
		t.Fatal("seeds 1 and 2 made the same world")
	}
}

// Replaying the recorded steps stream by stream rebuilds exactly the final state: the log is
// complete and in append order, which is what a projection consumes.
func TestStepsReplayToTheFinalState(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		w := world.Generate(seed, 100)
		d := domain.NewDirectory(w.Tenant)
		tickets := map[domain.TicketID]*domain.Ticket{}
		docs := map[domain.DocID]*domain.Document{}
		for i, s := range w.Steps {
			if len(s.Events) == 0 || s.Command == "" {
				t.Fatalf("seed %d step %d: empty step %+v", seed, i, s)
			}
			if i > 0 && s.At.Before(w.Steps[i-1].At) {
				t.Fatalf("seed %d step %d: time goes back", seed, i)
			}
			switch {
			case s.Stream == world.DirectoryStream(w.Tenant):
				for _, e := range s.Events {
					if _, ok := e.(domain.DirectoryEvent); !ok {
						t.Fatalf("seed %d: %s in the directory stream", seed, e.EventType())
					}
					domain.Evolve(d, e)
				}
			case strings.HasPrefix(s.Stream, "ticket-"):
				for _, e := range s.Events {
					te, ok := e.(domain.TicketEvent)
					if !ok {
						t.Fatalf("seed %d: %s in a ticket stream", seed, e.EventType())
					}
					var id domain.TicketID
					switch e := te.(type) {
					case domain.TicketOpened:
						id = e.Ticket
					case domain.TicketStatusChanged:
						id = e.Ticket
					case domain.TicketAssigned:
						id = e.Ticket
					case domain.ContractorAssigned:
						id = e.Ticket
					case domain.TicketCommented:
						id = e.Ticket
					case domain.DocumentAttached:
						id = e.Ticket
						docs[e.Document] = domain.EvolveDocument(domain.NewDocument(e.Document), e)
					}
					if s.Stream != world.TicketStream(w.Tenant, id) {
						t.Fatalf("seed %d: event of ticket %s in stream %s", seed, id, s.Stream)
					}
					if tickets[id] == nil {
						tickets[id] = domain.NewTicket(id)
					}
					domain.EvolveTicket(tickets[id], e)
				}
			case strings.HasPrefix(s.Stream, "document-"):
				e, ok := s.Events[0].(domain.DocumentAttached)
				if len(s.Events) != 1 || !ok || e.Ticket != "" || s.Stream != world.DocumentStream(w.Tenant, e.Document) {
					t.Fatalf("seed %d: document step %+v", seed, s)
				}
				docs[e.Document] = domain.EvolveDocument(domain.NewDocument(e.Document), e)
			default:
				t.Fatalf("seed %d: unknown stream %q", seed, s.Stream)
			}
		}
		if !reflect.DeepEqual(d, w.Directory) || !reflect.DeepEqual(tickets, w.Tickets) || !reflect.DeepEqual(docs, w.Documents) {
			t.Fatalf("seed %d: replay differs from the final state", seed)
		}
		if len(w.TicketIDs) != len(w.Tickets) || len(w.DocIDs) != len(w.Documents) || len(w.People) != len(w.Directory.People) {
			t.Fatalf("seed %d: id lists do not match the state", seed)
		}
	}
}

// coverage counts what 200 worlds exercise.
type coverage map[string]int

func (c coverage) add(k string) { c[k]++ }

func measure(seeds int, size int) (coverage, coverage) {
	events, facts := coverage{}, coverage{}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		w := world.Generate(seed, size)
		d := domain.NewDirectory(w.Tenant)
		removed := map[domain.SiteID]bool{}
		for _, s := range w.Steps {
			facts.add("actor:" + actorKind(d, s.Actor))
			for _, e := range s.Events {
				events.add(e.EventType())
				switch e := e.(type) {
				case domain.CompanyAccessGranted:
					facts.add("grant:" + string(e.Level))
					if e.WithSubsidiaries && len(d.Subsidiaries(e.Target)) > 0 {
						facts.add("grant with subsidiaries (target has some)")
					}
				case domain.CompanyAccessRevoked:
					facts.add("revoke:" + string(e.Level))
				case domain.CompanyAccessCleared:
					facts.add("clear:" + string(e.Level))
				case domain.MembershipGranted:
					facts.add("membership:" + string(e.Role))
					if e.Role == domain.RoleManager && len(e.Sites) > 1 {
						facts.add("manager over several sites")
					}
					if p := d.People[e.Person]; p != nil && p.HomeCompany != e.Company {
						facts.add("membership outside the home company")
					}
				case domain.RoleChanged:
					facts.add("role change to " + string(e.Role))
				case domain.ManagedSitesAssigned:
					if len(e.Sites) > 1 {
						facts.add("manager over several sites")
					}
				case domain.UserMovedToGroup:
					if before := d.ClassOf(d.People[e.Person]); before != e.Class {
						facts.add("group move " + string(before) + " -> " + string(e.Class))
					}
				case domain.SiteAdded:
					if removed[e.Site] {
						facts.add("site id reused after removal")
					}
				case domain.SiteRemoved:
					removed[e.Site] = true
				case domain.TicketOpened:
					if e.Reporter == "" {
						facts.add("ticket opened by a service or the system")
					} else {
						facts.add("ticket opened by " + string(d.ClassOf(d.People[e.Reporter])))
						if m := d.People[e.Reporter].Memberships[e.Company]; m != nil {
							facts.add("ticket opened by a " + string(m.Role))
						}
					}
					if e.Site == "" {
						facts.add("ticket without site")
					}
				case domain.ContractorAssigned:
					if e.Technician != "" {
						facts.add("technician assigned")
					}
					if e.FromContractor != "" {
						facts.add("contractor re-assigned")
					}
				case domain.DocumentAttached:
					if e.Ticket == "" {
						facts.add("company document")
					} else {
						facts.add("ticket document")
					}
				}
				domain.Evolve(d, e)
			}
		}
		for _, id := range w.People {
			p := w.Directory.People[id]
			facts.add("final status:" + string(p.Status))
			if p.Type == domain.TypeSystemUser && p.Status == domain.StatusActive {
				class := w.Directory.ClassOf(p)
				facts.add("active " + string(class))
				if class == domain.ClassNormal && len(p.Memberships) > 0 {
					facts.add("active normal user holding a membership")
				}
				if class == domain.ClassSupport && p.Memberships[p.HomeCompany] == nil {
					facts.add("active support user without home membership")
				}
				if ea := w.Directory.EffectiveAccessOf(p); ea.Unrestricted {
					facts.add("active unrestricted normal user")
				} else if ea.Level != "" {
					facts.add("active user with access at level " + string(ea.Level))
				}
			}
		}
	}
	return events, facts
}

func actorKind(d *domain.Directory, p domain.Principal) string {
	switch {
	case p.Kind != domain.PrincipalUser:
		return string(p.Kind)
	case p.Person == "":
		return "unbound login"
	}
	a := d.People[p.Person]
	if d.ClassOf(a) == domain.ClassNormal {
		return "normal user"
	}
	best := ""
	for _, m := range a.Memberships {
		if best == "" || roleRank(m.Role) > roleRank(domain.Role(best)) {
			best = string(m.Role)
		}
	}
	return "support user " + best
}

func roleRank(r domain.Role) int {
	return slices.Index([]domain.Role{domain.RoleBasic, domain.RoleMember, domain.RoleManager, domain.RoleAdmin, domain.RoleMasterAdmin}, r)
}

// Across 200 seeds every event type appears, and the moves that narrow or end access happen.
func TestWorldsAreVaried(t *testing.T) {
	events, facts := measure(200, 100)
	for _, e := range domain.AllEvents() {
		if events[e.EventType()] == 0 {
			t.Errorf("no %s in 200 worlds", e.EventType())
		}
	}
	for _, f := range []string{
		"grant:user", "grant:group", "grant:company", "revoke:user", "revoke:group", "revoke:company",
		"clear:user", "clear:group", "clear:company", "grant with subsidiaries (target has some)",
		"membership:master_admin", "membership:admin", "membership:manager", "membership:member", "membership:basic",
		"manager over several sites", "membership outside the home company", "role change to manager", "role change to basic",
		"group move support_user -> normal_user", "group move normal_user -> support_user",
		"ticket opened by normal_user", "ticket opened by support_user", "ticket opened by a service or the system",
		"ticket opened by a basic", "ticket opened by a manager", "ticket opened by a member", "ticket without site",
		"technician assigned", "contractor re-assigned", "company document", "ticket document",
		"final status:active", "final status:invited", "final status:suspended", "final status:removed", "final status:contact",
		"active normal_user", "active support_user", "active normal user holding a membership",
		"active support user without home membership", "active unrestricted normal user",
		"active user with access at level user", "active user with access at level group", "active user with access at level company",
		"actor:system", "actor:service", "actor:unbound login", "actor:normal user",
		"actor:support user admin", "actor:support user manager", "actor:support user basic",
	} {
		if facts[f] == 0 {
			t.Errorf("never in 200 worlds: %s", f)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("events: %s", render(events))
		t.Logf("facts: %s", render(facts))
	}
}

func render(c coverage) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(c)) {
		fmt.Fprintf(&b, "\n  %-55s %d", k, c[k])
	}
	return b.String()
}
