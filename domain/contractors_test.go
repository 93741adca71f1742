package domain_test

import (
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
)

func TestRegisterGuestContractor(t *testing.T) {
	w := newWorld(t)
	reg := func(by domain.CompanyID) domain.RegisterGuestContractor {
		return domain.RegisterGuestContractor{Company: "newfix", Name: " New Fix ", RegisteredBy: by}
	}
	registered := func(by domain.CompanyID) []domain.Event {
		return []domain.Event{domain.CompanyRegistered{Company: "newfix", Name: "New Fix", Kind: domain.KindContractor, RegisteredBy: by}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		cmd  domain.RegisterGuestContractor
		code string
		want []domain.Event
	}{
		{"customer's admin", u("acmeAdmin"), reg(acme), "", registered(acme)},
		{"customer's master admin", u("acmeMaster"), reg(acme), "", registered(acme)},
		{"tenant user with contractors:manage", u("desk"), reg(globex), "", registered(globex)},
		{"tenant admin", u("root"), reg(acme), "", registered(acme)},
		{"service with contractors:manage", service(domain.PermContractorsManage), reg(acme), "", registered(acme)},
		{"customer's member", u("acmeMember"), reg(acme), "forbidden", nil},
		{"customer's basic user", u("acmeBasic"), reg(acme), "forbidden", nil},
		{"normal user without contractors:manage", u("agent"), reg(acme), "forbidden", nil},
		{"admin of another customer", u("globexAdmin"), reg(acme), "not-found", nil},
		{"registrar is not a customer", u("root"), reg(partnerco), "registrar-not-customer", nil},
		{"registrar missing", u("root"), reg(""), "invalid-command", nil},
		{"registrar unknown", u("root"), reg("nope"), "not-found", nil},
		{"name missing", u("acmeAdmin"), domain.RegisterGuestContractor{Company: "newfix", RegisteredBy: acme}, "invalid-command", nil},
		{"id missing", u("acmeAdmin"), domain.RegisterGuestContractor{Name: "X", RegisteredBy: acme}, "invalid-command", nil},
		{"company exists", u("acmeAdmin"), domain.RegisterGuestContractor{Company: fixit, Name: "X", RegisteredBy: acme}, "already-exists", nil},
		{"suspended actor", u("suspended"), reg(acme), "forbidden", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.Decide(w.d, tc.by, tc.cmd)
			compare(t, got, err, tc.code, tc.want)
		})
	}
	t.Run("the registrar's admins manage the contractor", func(t *testing.T) {
		w := newWorld(t)
		w.apply(registered(acme)...)
		got, err := domain.Decide(w.d, u("acmeAdmin"), domain.AddSite{Company: "newfix", Site: "nf1", Name: "Depot"})
		compare(t, got, err, "", []domain.Event{domain.SiteAdded{Company: "newfix", Site: "nf1", Name: "Depot"}})
	})
}

func TestAddTechnician(t *testing.T) {
	w := newWorld(t)
	add := func(c domain.CompanyID, email string) domain.AddTechnician {
		return domain.AddTechnician{Person: "p1", Company: c, Name: " Tom ", Email: email, TokenHash: "th", Now: t0}
	}
	added := func(c domain.CompanyID) []domain.Event {
		return []domain.Event{domain.TechnicianAdded{Person: "p1", Company: c, Name: "Tom", Email: "tom@fixit.example",
			TokenHash: "th", ExpiresAt: t0.Add(domain.DefaultInvitationTTL)}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		cmd  domain.AddTechnician
		code string
		want []domain.Event
	}{
		{"registering customer's admin", u("acmeAdmin"), add(fixit, "tom@fixit.example"), "", added(fixit)},
		{"contractor's own admin", u("fixAdmin"), add(fixit, "tom@fixit.example"), "", added(fixit)},
		{"tenant user with contractors:manage", u("desk"), add(fixit, "tom@fixit.example"), "", added(fixit)},
		{"custom expiry", u("acmeAdmin"), func() domain.AddTechnician { c := add(fixit, "tom@fixit.example"); c.TTL = time.Hour; return c }(), "",
			[]domain.Event{domain.TechnicianAdded{Person: "p1", Company: fixit, Name: "Tom", Email: "tom@fixit.example", TokenHash: "th", ExpiresAt: t0.Add(time.Hour)}}},
		{"technician is not an admin", u("tech"), add(fixit, "tom@fixit.example"), "forbidden", nil},
		{"normal user without contractors:manage", u("agent"), add(fixit, "tom@fixit.example"), "forbidden", nil},
		{"customer's member cannot see the contractor", u("acmeMember"), add(fixit, "tom@fixit.example"), "not-found", nil},
		{"admin of another customer", u("globexAdmin"), add(fixit, "tom@fixit.example"), "not-found", nil},
		{"another customer's contractor", u("acmeAdmin"), add(rivalfix, "tom@fixit.example"), "not-found", nil},
		{"not a contractor", u("root"), add(globex, "tom@fixit.example"), "not-a-contractor", nil},
		{"unknown company", u("root"), add("nope", "tom@fixit.example"), "not-found", nil},
		{"e-mail taken (any case)", u("acmeAdmin"), add(fixit, "TECH@fixit.example"), "email-taken", nil},
		{"bad e-mail", u("acmeAdmin"), add(fixit, "tom"), "invalid-command", nil},
		{"missing name", u("acmeAdmin"), domain.AddTechnician{Person: "p1", Company: fixit, Email: "tom@fixit.example", TokenHash: "th", Now: t0}, "invalid-command", nil},
		{"person exists", u("acmeAdmin"), domain.AddTechnician{Person: "tech", Company: fixit, Name: "T", Email: "x@fixit.example", TokenHash: "th", Now: t0}, "already-exists", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.Decide(w.d, tc.by, tc.cmd)
			compare(t, got, err, tc.code, tc.want)
		})
	}
	t.Run("technician is a seat-free support user of the contractor", func(t *testing.T) {
		w := newWorld(t)
		seats := w.d.SeatsUsed()
		w.apply(added(fixit)...)
		p := w.d.People["p1"]
		if w.d.ClassOf(p) != domain.ClassSupport || w.d.SeatsUsed() != seats || p.Memberships[fixit] == nil || p.Status != domain.StatusInvited {
			t.Fatalf("technician %+v", p)
		}
	})
}

func TestAttachCompanyDocument(t *testing.T) {
	w := newWorld(t)
	meta := domain.DocumentMeta{Name: "contract.pdf", ContentType: "application/pdf", SizeBytes: 10}
	attach := func(c domain.CompanyID) domain.AttachCompanyDocument {
		return domain.AttachCompanyDocument{Document: "d1", Company: c, DocumentMeta: meta}
	}
	attached := func(c domain.CompanyID, by domain.PersonID) []domain.Event {
		return []domain.Event{domain.DocumentAttached{Document: "d1", Company: c, Name: "contract.pdf", ContentType: "application/pdf", SizeBytes: 10, UploadedBy: by}}
	}
	cases := []struct {
		name string
		by   domain.Principal
		cmd  domain.AttachCompanyDocument
		code string
		want []domain.Event
	}{
		{"company's admin", u("acmeAdmin"), attach(acme), "", attached(acme, "acmeAdmin")},
		{"company's master admin", u("acmeMaster"), attach(acme), "", attached(acme, "acmeMaster")},
		{"tenant admin (companies:manage)", u("root"), attach(globex), "", attached(globex, "root")},
		{"normal user with documents:write", u("archivist"), attach(acme), "", attached(acme, "archivist")},
		{"service with documents:write", service(domain.PermDocumentsWrite), attach(acme), "", attached(acme, "")},
		{"admin without documents:write", u("acmeBillingAdmin"), attach(acme), "forbidden", nil},
		{"member", u("acmeMember"), attach(acme), "forbidden", nil},
		{"basic user", u("acmeBasic"), attach(acme), "forbidden", nil},
		{"normal user without documents:write", u("agent"), attach(acme), "forbidden", nil},
		{"partner access", u("partnerUser"), attach(acme), "forbidden", nil},
		{"service without documents:write", service(domain.PermDocumentsRead), attach(acme), "forbidden", nil},
		{"admin of another company", u("globexAdmin"), attach(acme), "not-found", nil},
		{"unknown company", u("root"), attach("nope"), "not-found", nil},
		{"bad metadata", u("acmeAdmin"), domain.AttachCompanyDocument{Document: "d1", Company: acme, DocumentMeta: domain.DocumentMeta{Name: "x", ContentType: "x", SizeBytes: 1}}, "invalid-command", nil},
		{"missing id", u("acmeAdmin"), domain.AttachCompanyDocument{Company: acme, DocumentMeta: meta}, "invalid-command", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideDocument(domain.NewDocument("d1"), w.d, tc.by, tc.cmd)
			compare(t, got, err, tc.code, tc.want)
		})
	}
	t.Run("already attached", func(t *testing.T) {
		doc := domain.EvolveDocument(domain.NewDocument("d1"), attached(acme, "acmeAdmin")[0])
		got, err := domain.DecideDocument(doc, w.d, u("acmeAdmin"), attach(acme))
		compare(t, got, err, "already-exists", nil)
	})
}

func TestCanSeeCompanyDocuments(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		by      domain.Principal
		company domain.CompanyID
		want    bool
	}{
		{u("acmeAdmin"), acme, true},
		{u("acmeMember"), acme, true},
		{u("acmeManager"), acme, true},
		{u("acmeBasic"), acme, false},
		{u("acmeMemberRO"), acme, true}, // billing set includes documents:read
		{u("globexAdmin"), acme, false},
		{u("partnerUser"), acme, false}, // partner access is no role
		{u("agent"), globex, true},
		{u("scoped"), acme, false},
		{u("scoped"), globex, true},
		{u("reader"), acme, false}, // no documents:read
		{u("suspended"), acme, false},
		{domain.System(), acme, true},
		{service(domain.PermDocumentsRead), acme, true},
		{service(domain.PermTicketsRead), acme, false},
	}
	for _, tc := range cases {
		if got := w.d.CanSeeCompanyDocuments(tc.by, tc.company); got != tc.want {
			t.Errorf("%v on %s: %v, want %v", tc.by, tc.company, got, tc.want)
		}
	}
}
