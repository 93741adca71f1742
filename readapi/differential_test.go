package readapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/internal/testkit/world"
	"github.com/portal-access/backend/readapi"
)

// item is what the differential test compares of a listed item: its id and reasons.
type item struct {
	ID         string          `json:"id"`
	Reasons    json.RawMessage `json:"reasons"`
	Visibility string          `json:"visibility"`
}

// listAll pages through a listing with a small page size (so that cursors are exercised).
func listAll(t *testing.T, svc *testkit.Service, path, token string) []item {
	t.Helper()
	var out []item
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("%s: more than 1000 pages", path)
		}
		url := path + "?limit=7"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		r := svc.Do("GET", url, token, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %s", url, r)
		}
		var page struct {
			Items      []item `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

func reasonsJSON(v any) string {
	b, _ := json.Marshal(v)
	var norm any
	_ = json.Unmarshal(b, &norm)
	if norm == nil {
		norm = []any{}
	}
	out, _ := json.Marshal(norm)
	return string(out)
}

func ids(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// TestReadAPIEqualsReferenceOnRandomWorlds appends random worlds (revocations, suspensions,
// demotions, group moves, subsidiaries, contractors…) to the service's event store and compares
// every /v1/viewers/{id}/* listing and a check of every resource, for every person, with the
// reference rules of DESIGN §2 computed by the domain from the same events. PORTAL_DIFF_WORLDS
// sets the number of worlds (default 6).
func TestReadAPIEqualsReferenceOnRandomWorlds(t *testing.T) {
	n := 6
	if s := os.Getenv("PORTAL_DIFF_WORLDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	lists, checks := 0, 0
	for seed := int64(1); seed <= int64(n); seed++ {
		w := world.Generate(seed*7919, 60+int(seed%4)*40)
		l, c := diffWorld(t, w)
		lists, checks = lists+l, checks+c
	}
	t.Logf("%d worlds: %d listings and %d checks equal to the reference", n, lists, checks)
}

func diffWorld(t *testing.T, w *world.World) (lists, checks int) {
	svc := testkit.StartService(t)
	ctx := context.Background()
	pos, err := w.Append(ctx, svc.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.App.Projections.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
	tok := svc.ServiceToken(w.Tenant, "differential", string(domain.PermViewersRead))
	d := w.Directory
	refs := w.TicketRefs()
	var sites []domain.SiteID
	for _, c := range d.Companies {
		sites = append(sites, slices.Collect(maps.Keys(c.Sites))...)
	}
	slices.Sort(sites)
	for _, v := range w.People {
		base := "/v1/viewers/" + string(v)
		if !d.ScopeOf(v).HasTable {
			r := svc.Do("GET", base+"/tickets", tok, nil)
			if r.Status != http.StatusForbidden || r.Code() != "viewer-without-access" {
				t.Fatalf("seed %d: viewer %s (status %s) without a table: %s", w.Seed, v, d.People[v].Status, r)
			}
			continue
		}
		p := domain.User(v)
		// Tickets, newest first.
		var want []item
		for i := len(w.TicketIDs) - 1; i >= 0; i-- {
			id := w.TicketIDs[i]
			if rs := d.TicketReasons(p, w.Tickets[id].View()); len(rs) > 0 {
				want = append(want, item{ID: string(id), Reasons: json.RawMessage(reasonsJSON(rs))})
			}
		}
		compareItems(t, w, v, "tickets", listAll(t, svc, base+"/tickets", tok), want)
		// Companies, sites, company documents and people, by id.
		want = nil
		for _, c := range w.Companies() {
			if ok, rs := d.CanSeeCompany(p, c); ok {
				want = append(want, item{ID: string(c), Reasons: json.RawMessage(reasonsJSON(rs))})
			}
		}
		compareItems(t, w, v, "companies", listAll(t, svc, base+"/companies", tok), want)
		want = nil
		for _, s := range sites {
			if rs := d.SiteReasons(p, s); len(rs) > 0 {
				want = append(want, item{ID: string(s), Reasons: json.RawMessage(reasonsJSON(rs))})
			}
		}
		compareItems(t, w, v, "sites", listAll(t, svc, base+"/sites", tok), want)
		want = nil
		for _, id := range slices.Sorted(maps.Keys(w.Documents)) {
			doc := w.Documents[id]
			if doc.Ticket == "" && doc.Attached {
				if rs := d.CompanyDocumentReasons(p, doc.Company); len(rs) > 0 {
					want = append(want, item{ID: string(id), Reasons: json.RawMessage(reasonsJSON(rs))})
				}
			}
		}
		compareItems(t, w, v, "documents", listAll(t, svc, base+"/documents", tok), want)
		visible := d.VisibleTickets(p, refs)
		want = nil
		for _, id := range slices.Sorted(slices.Values(w.People)) {
			if d.People[id].Status == domain.StatusRemoved {
				continue
			}
			if vz, rs := d.PersonVisibility(p, id, visible); vz == domain.VisibilityFull {
				want = append(want, item{ID: string(id), Reasons: json.RawMessage(reasonsJSON(rs)), Visibility: string(vz)})
			}
		}
		compareItems(t, w, v, "people", listAll(t, svc, base+"/people", tok), want)
		lists += 5
		checks += checkAll(t, svc, w, v, tok, sites, visible)
	}
	return lists, checks
}

func compareItems(t *testing.T, w *world.World, v domain.PersonID, what string, got, want []item) {
	t.Helper()
	if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
		t.Fatalf("seed %d: viewer %s %s: API lists %v, reference %v", w.Seed, v, what, ids(got), ids(want))
	}
	for i := range got {
		if reasonsJSON(got[i].Reasons) != string(want[i].Reasons) || got[i].Visibility != want[i].Visibility {
			t.Fatalf("seed %d: viewer %s %s %s: API reasons %s %s, reference %s %s", w.Seed, v, what, got[i].ID,
				got[i].Visibility, got[i].Reasons, want[i].Visibility, want[i].Reasons)
		}
	}
}

// checkAll asks POST /v1/check, in batches, about every ticket, company, site, document and
// person for viewer v and compares each answer with the reference.
func checkAll(t *testing.T, svc *testkit.Service, w *world.World, v domain.PersonID, tok string, sites []domain.SiteID, visible []domain.TicketRef) int {
	d, p := w.Directory, domain.User(v)
	type expect struct {
		allowed    bool
		reasons    string
		visibility string
	}
	var reqs []readapi.CheckRequest
	var wants []expect
	add := func(typ, id string, allowed bool, reasons any, vz string) {
		reqs = append(reqs, readapi.CheckRequest{Viewer: v, Resource: readapi.Resource{Type: typ, ID: id}})
		wants = append(wants, expect{allowed, reasonsJSON(reasons), vz})
	}
	for _, id := range w.TicketIDs {
		rs := d.TicketReasons(p, w.Tickets[id].View())
		add(readapi.ResourceTicket, string(id), len(rs) > 0, rs, "")
	}
	for _, c := range w.Companies() {
		ok, rs := d.CanSeeCompany(p, c)
		add(readapi.ResourceCompany, string(c), ok, rs, "")
	}
	for _, s := range sites {
		rs := d.SiteReasons(p, s)
		add(readapi.ResourceSite, string(s), len(rs) > 0, rs, "")
	}
	for _, id := range w.DocIDs {
		doc := w.Documents[id]
		var tv *domain.TicketView
		if t, ok := w.Tickets[doc.Ticket]; ok {
			view := t.View()
			tv = &view
		}
		ok, rs := d.CanSeeDocument(p, doc, tv)
		add(readapi.ResourceDocument, string(id), ok, rs, "")
	}
	for _, id := range w.People {
		vz, rs := d.PersonVisibility(p, id, visible)
		if vz == domain.VisibilityNone {
			vz = ""
		}
		add(readapi.ResourcePerson, string(id), len(rs) > 0, rs, string(vz))
	}
	for start := 0; start < len(reqs); start += readapi.MaxChecks {
		end := min(len(reqs), start+readapi.MaxChecks)
		r := svc.Do("POST", "/v1/check", tok, map[string]any{"checks": reqs[start:end]})
		if r.Status != http.StatusOK {
			t.Fatalf("check: %s", r)
		}
		var res readapi.BatchResult
		if err := json.Unmarshal(r.Raw, &res); err != nil {
			t.Fatal(err)
		}
		for i, got := range res.Results {
			want := wants[start+i]
			if got.Allowed != want.allowed || reasonsJSON(got.Reasons) != want.reasons || string(got.Visibility) != want.visibility {
				t.Fatalf("seed %d: viewer %s may read %s %s: API %v %s %s, reference %v %s %s", w.Seed, v, got.Resource.Type, got.Resource.ID,
					got.Allowed, reasonsJSON(got.Reasons), got.Visibility, want.allowed, want.reasons, want.visibility)
			}
		}
	}
	return len(reqs)
}
