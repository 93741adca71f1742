package readapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// The items of the viewer's listings: the directory's record and why the viewer sees it.

// CompanyView is a visible company.
type CompanyView struct {
	directory.Company
	Reasons []domain.TicketReason `json:"reasons"`
}

// SiteView is a visible site.
type SiteView struct {
	directory.Site
	Reasons []domain.TicketReason `json:"reasons"`
}

// TicketView is a visible ticket.
type TicketView struct {
	directory.Ticket
	Reasons []domain.TicketReason `json:"reasons"`
	// rendered, when set, is the ticket's JSON (a card: see cards.go) that the page renderer
	// sends instead of rendering Ticket, which then holds only the fields a listing filters by.
	rendered string
}

// DocumentView is a visible document.
type DocumentView struct {
	directory.Document
	Reasons []domain.TicketReason `json:"reasons"`
}

// PersonView is a visible person: in full (every field of the directory), or limited — a
// person of another company named by a ticket the viewer sees — with its id and name only.
type PersonView struct {
	ID         domain.PersonID       `json:"id"`
	Name       string                `json:"name"`
	Visibility domain.Visibility     `json:"visibility"`
	Reasons    []domain.PersonReason `json:"reasons"`
	// Person is the full record (visibility full only).
	Person *directory.Person `json:"person,omitempty"`
}

// CommentView is a comment of a visible ticket.
type CommentView = directory.Comment

// --- companies

func (a *API) listCompanies(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	var ids []string
	if s.AllCompanies {
		all, err := dir.Members(ctx, cl.tenant, directory.IndexMembers{AllCompanies: true})
		if err != nil {
			a.fail(c, err)
			return
		}
		ids = all
	} else {
		for id := range s.VisibleCompanies {
			ids = append(ids, string(id))
		}
		slices.Sort(ids)
	}
	page, err := pageByID(ids, q, func(batch []string) ([]CompanyView, []string, error) {
		cos, err := dir.CompaniesByID(ctx, cl.tenant, toIDs[domain.CompanyID](batch))
		var out []CompanyView
		var kept []string
		for _, co := range cos {
			if ok, rs := s.SeesCompany(co.ID); ok && q.wants(co.ID) && (q.Type == "" || q.Type == string(co.Kind)) {
				out, kept = append(out, CompanyView{Company: co, Reasons: rs}), append(kept, string(co.ID))
			}
		}
		return out, kept, err
	})
	a.answer(c, page, err)
}

func (a *API) getCompany(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	// The company must exist: an unrestricted viewer "sees" every id (SeesCompany assumes one of
	// the tenant's companies).
	co, err := directory.NewReader(a.rdb, cl.keys).GetCompany(c.Request.Context(), cl.tenant, domain.CompanyID(c.Param("id")))
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	seen, rs := s.SeesCompany(co.ID)
	if !seen {
		a.fail(c, errNotFound)
		return
	}
	a.answer(c, CompanyView{Company: co, Reasons: rs}, nil)
}

// --- sites

func (a *API) listSites(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	idx := directory.IndexMembers{AllSites: s.AllCompanies}
	if !s.AllCompanies {
		idx.CompanySites = slices.Sorted(maps.Keys(s.VisibleCompanies))
	}
	ids, err := dir.Members(ctx, cl.tenant, idx)
	if err != nil {
		a.fail(c, err)
		return
	}
	for site := range s.Sites {
		ids = append(ids, string(site))
	}
	for site := range s.PeopleSites {
		ids = append(ids, string(site))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	page, err := pageByID(ids, q, func(batch []string) ([]SiteView, []string, error) {
		sites, err := dir.SitesByID(ctx, cl.tenant, toIDs[domain.SiteID](batch))
		var out []SiteView
		var kept []string
		for _, site := range sites {
			rs := s.SiteReasons(site.ID, site.Company)
			if len(rs) > 0 && q.wants(site.Company) {
				out, kept = append(out, SiteView{Site: site, Reasons: rs}), append(kept, string(site.ID))
			}
		}
		return out, kept, err
	})
	a.answer(c, page, err)
}

func (a *API) getSite(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	site, err := directory.NewReader(a.rdb, cl.keys).GetSite(c.Request.Context(), cl.tenant, domain.SiteID(c.Param("id")))
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	rs := s.SiteReasons(site.ID, site.Company)
	if len(rs) == 0 {
		a.fail(c, errNotFound)
		return
	}
	a.answer(c, SiteView{Site: site, Reasons: rs}, nil)
}

// --- people

func (a *API) listPeople(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	all, companies := s.FullPeopleCompanies()
	ids, err := dir.Members(ctx, cl.tenant, directory.IndexMembers{AllPeople: all, CompanyPeople: companies,
		SiteUsers: slices.Sorted(maps.Keys(s.PeopleSites))})
	if err != nil {
		a.fail(c, err)
		return
	}
	if i, found := slices.BinarySearch(ids, string(s.Person)); !found {
		ids = slices.Insert(ids, i, string(s.Person))
	}
	page, err := pageByID(ids, q, func(batch []string) ([]PersonView, []string, error) {
		people, err := dir.PeopleByID(ctx, cl.tenant, toIDs[domain.PersonID](batch))
		var out []PersonView
		var kept []string
		for i := range people {
			p := &people[i]
			if p.Status == domain.StatusRemoved || !q.wants(p.HomeCompany) && !hasMembership(p, q.Company) ||
				q.Status != "" && q.Status != string(p.Status) || q.Type != "" && q.Type != string(p.Type) ||
				q.Site != "" && !atSite(p, q.Site) {
				continue
			}
			if v, rs := s.PersonVisibility(domainPerson(p), nil); v == domain.VisibilityFull {
				out, kept = append(out, PersonView{ID: p.ID, Name: p.Name, Visibility: v, Reasons: rs, Person: p}), append(kept, string(p.ID))
			}
		}
		return out, kept, err
	})
	a.answer(c, page, err)
}

func (a *API) getPerson(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	p, err := dir.GetPerson(ctx, cl.tenant, domain.PersonID(c.Param("id")))
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if v, rs := s.PersonVisibility(domainPerson(&p), nil); v == domain.VisibilityFull {
		a.answer(c, PersonView{ID: p.ID, Name: p.Name, Visibility: v, Reasons: rs, Person: &p}, nil)
		return
	}
	ticket, err := a.ticketNaming(ctx, cl, s, p.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if ticket == "" {
		a.fail(c, errNotFound)
		return
	}
	a.answer(c, PersonView{ID: p.ID, Name: p.Name, Visibility: domain.VisibilityLimited,
		Reasons: []domain.PersonReason{{Rule: domain.ReasonTicketReference, Ticket: ticket}}}, nil)
}

// ticketNaming finds the first ticket (in opening order) the viewer sees that names person as
// reporter, responsible user or technician; "" if none.
func (a *API) ticketNaming(ctx context.Context, cl caller, s domain.Scope, person domain.PersonID) (domain.TicketID, error) {
	vis := visibility.NewReader(a.rdb, cl.keys)
	ids, err := vis.TicketsNaming(ctx, cl.tenant, person)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	keys, err := vis.TicketKeysOf(ctx, cl.tenant, ids)
	if err != nil {
		return "", err
	}
	best, bestAt := domain.TicketID(""), uint64(0)
	for i, k := range keys {
		if k != nil && (best == "" || k.Opened < bestAt) && s.SeesTicket(k.View) {
			best, bestAt = ids[i], k.Opened
		}
	}
	return best, nil
}

func hasMembership(p *directory.Person, c domain.CompanyID) bool {
	return slices.ContainsFunc(p.Memberships, func(m directory.Membership) bool { return m.Company == c })
}

func atSite(p *directory.Person, site domain.SiteID) bool {
	return slices.ContainsFunc(p.Memberships, func(m directory.Membership) bool { return slices.Contains(m.Sites, site) })
}

// domainPerson is what people visibility needs of a directory record.
func domainPerson(p *directory.Person) *domain.Person {
	out := &domain.Person{ID: p.ID, Type: p.Type, HomeCompany: p.HomeCompany, Status: p.Status,
		Memberships: make(map[domain.CompanyID]*domain.Membership, len(p.Memberships))}
	for _, m := range p.Memberships {
		out.Memberships[m.Company] = &domain.Membership{Company: m.Company, Role: m.Role, ManagedSites: m.Sites}
	}
	return out
}

// --- documents

func (a *API) listDocuments(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	idx := directory.IndexMembers{AllCompanyDocs: s.AllCompanyDocuments}
	if !s.AllCompanyDocuments {
		idx.CompanyDocs = slices.Sorted(maps.Keys(s.CompanyDocs))
	}
	if q.Company != "" {
		idx = directory.IndexMembers{CompanyDocs: []domain.CompanyID{q.Company}}
	}
	ids, err := dir.Members(ctx, cl.tenant, idx)
	if err != nil {
		a.fail(c, err)
		return
	}
	page, err := pageByID(ids, q, func(batch []string) ([]DocumentView, []string, error) {
		docs, err := dir.DocumentsByID(ctx, cl.tenant, toIDs[domain.DocID](batch))
		var out []DocumentView
		var kept []string
		for _, d := range docs {
			if ok, rs := s.CompanyDocuments(d.Company); ok && d.Ticket == "" && q.wants(d.Company) {
				out, kept = append(out, DocumentView{Document: d, Reasons: rs}), append(kept, string(d.ID))
			}
		}
		return out, kept, err
	})
	a.answer(c, page, err)
}

func (a *API) getDocument(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d, err := directory.NewReader(a.rdb, cl.keys).GetDocument(ctx, cl.tenant, domain.DocID(c.Param("id")))
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	rs, err := a.documentReasons(ctx, cl, s, d)
	if err != nil {
		a.fail(c, err)
		return
	}
	if len(rs) == 0 {
		a.fail(c, errNotFound)
		return
	}
	a.answer(c, DocumentView{Document: d, Reasons: rs}, nil)
}

// documentReasons: a ticket's document is seen with its ticket, a company document per the
// company's document grounds.
func (a *API) documentReasons(ctx context.Context, cl caller, s domain.Scope, d directory.Document) ([]domain.TicketReason, error) {
	if d.Ticket == "" {
		_, rs := s.CompanyDocuments(d.Company)
		return rs, nil
	}
	view, err := visibility.NewReader(a.rdb, cl.keys).TicketView(ctx, cl.tenant, d.Ticket)
	if errors.Is(err, visibility.ErrNoSuchTicket) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.TicketReasons(view), nil
}

// answer writes v as JSON, or the error.
func (a *API) answer(c *gin.Context, v any, err error) {
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func toIDs[ID ~string](s []string) []ID {
	out := make([]ID, len(s))
	for i, v := range s {
		out[i] = ID(v)
	}
	return out
}
