package audit_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/projections/audit"
)

func TestRefsNamesEveryIDAndTheCompanies(t *testing.T) {
	for _, tc := range []struct {
		name                string
		payload             any
		subjects, companies string
	}{
		{"tenant", domain.TenantConfigured{Tenant: "acme", Name: "Acme", Seats: 3}, "acme", ""},
		{"company with parent and registrar", domain.CompanyRegistered{Company: "k1", Name: "K", Kind: domain.KindCustomer, Parent: "p1", RegisteredBy: "c1"},
			"c1 k1 p1", "c1 k1 p1"},
		{"empty ids are left out", domain.CompanyRegistered{Company: "k1", Name: "K"}, "k1", "k1"},
		{"invited user", &domain.UserInvited{Person: "u1", HomeCompany: "c1", Group: "g1", Email: "a@b.c", TokenHash: "h"},
			"c1 g1 u1", "c1"},
		{"company access held by a company", domain.CompanyAccessGranted{Level: domain.LevelCompany, Holder: "c2", Target: "c3"},
			"c2 c3", "c2 c3"},
		{"company access held by a user", domain.CompanyAccessGranted{Level: domain.LevelUser, Holder: "u1", Target: "c3"},
			"c3 u1", "c3"},
		{"company access of a group cleared", domain.CompanyAccessCleared{Level: domain.LevelGroup, Holder: "g1"}, "g1", ""},
		{"status change: from/to are statuses, not ids", domain.TicketStatusChanged{Ticket: "t1", From: "open", To: "closed"}, "t1", ""},
		{"role change: from is a role; sites are ids", domain.RoleChanged{Person: "u1", Company: "c1", From: domain.RoleAdmin, Role: domain.RoleManager, Sites: []domain.SiteID{"s2", "s1"}},
			"c1 s1 s2 u1", "c1"},
		{"master admin transfer: from/to are people", domain.MasterAdminTransferred{Company: "c1", From: "u1", To: "u2"}, "c1 u1 u2", "c1"},
		{"site permissions with responsible recipients", domain.SitePermissionsSet{Person: "u1", ReadSites: []domain.SiteID{"s1"},
			WriteSites: []domain.SiteID{"s1", "s2"}, Responsible: []string{"g1", "u2"}}, "g1 s1 s2 u1 u2", ""},
		{"ticket", domain.TicketOpened{Ticket: "t1", Company: "c1", Site: "s1", Type: "bug", Reporter: "u1", ResponsibleGroup: "g1", ResponsibleUser: "u2"},
			"c1 g1 s1 t1 u1 u2", "c1"},
		{"contractor assignment", domain.ContractorAssigned{Ticket: "t1", Contractor: "k1", Technician: "u3", FromContractor: "k0", FromTechnician: "u4"},
			"k0 k1 t1 u3 u4", "k0 k1"},
		{"ticket assignment", domain.TicketAssigned{Ticket: "t1", User: "u1", FromGroup: "g1"}, "g1 t1 u1", ""},
		{"document", domain.DocumentAttached{Document: "d1", Ticket: "t1", Company: "c1", UploadedBy: "u1", Name: "x.pdf"}, "c1 d1 t1 u1", "c1"},
		{"comment: the author is an id, the comment text is not", domain.TicketCommented{Ticket: "t1", Comment: "cm1", Author: "u1", Body: "u9"}, "t1 u1", ""},
		{"duplicates collapse", domain.MasterAdminTransferred{Company: "c1", From: "u1", To: "u1"}, "c1 u1", "c1"},
		{"no payload", (*domain.UserRemoved)(nil), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subjects, companies := audit.Refs(tc.payload)
			if got := strings.Join(subjects, " "); got != tc.subjects {
				t.Errorf("subjects %q, want %q", got, tc.subjects)
			}
			if got := strings.Join(companies, " "); got != tc.companies {
				t.Errorf("companies %q, want %q", got, tc.companies)
			}
		})
	}
}

// idNamed is how a payload field that holds an id tends to be named. Every such field of every
// event must be indexed as a subject — unless it is listed in notIDs — so that a new event (or a
// new field) that names an entity with a plain string cannot silently escape the audit indexes.
func idNamed(name string) bool {
	for _, n := range []string{"tenant", "person", "company", "group", "site", "ticket", "document", "target", "holder",
		"to", "from", "technician", "reporter", "user", "author", "contractor", "parent", "responsible", "sites"} {
		if name == n || strings.HasSuffix(name, "_"+n) {
			return true
		}
	}
	return strings.HasSuffix(name, "_by")
}

var notIDs = map[string]bool{
	"TicketStatusChanged.from": true, // a TicketStatus
	"TicketStatusChanged.to":   true,
	"RoleChanged.from":         true, // a Role
}

func TestRefsCoverEveryIDNamedFieldOfEveryEvent(t *testing.T) {
	for _, ev := range domain.AllEvents() {
		typ := reflect.TypeOf(ev)
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !idNamed(name) {
				continue
			}
			key := ev.EventType() + "." + name
			v := reflect.New(typ)
			fv := v.Elem().Field(i)
			want := "ID-" + name
			switch {
			case fv.Kind() == reflect.String:
				fv.SetString(want)
			case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
				s := reflect.MakeSlice(fv.Type(), 1, 1)
				s.Index(0).SetString(want)
				fv.Set(s)
			default:
				continue // support_user and the like: not an id
			}
			subjects, _ := audit.Refs(v.Interface())
			if got := slices.Contains(subjects, want); got == notIDs[key] {
				t.Errorf("%s: indexed as a subject = %v, want %v", key, got, !notIDs[key])
			}
		}
	}
}

func TestProjectionCoversEveryRegisteredEventType(t *testing.T) {
	table := audit.Projection{}.Handlers()
	types := eventschema.MustPortal().Types()
	if len(table) != len(types) || len(types) < len(domain.AllEvents()) {
		t.Fatalf("%d handlers for %d registered types (%d domain events)", len(table), len(types), len(domain.AllEvents()))
	}
	for _, ti := range types {
		if table[ti.Type] == nil {
			t.Errorf("no audit handler for %s", ti.Type)
		}
	}
	if (audit.Projection{}).Name() != "audit.v3" {
		t.Fatal("projection name")
	}
}
