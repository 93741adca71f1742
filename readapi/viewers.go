package readapi

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// Who can see a resource: the reverse lookup for admins and compliance. A ticket's (and a
// ticket document's) candidates come from the reverse indexes of its company, site and
// contractor, the unrestricted viewers, its reporter and technician — O(viewers with a ground
// on it). Companies, sites, people and company documents have no reverse index: their viewers
// are found by judging every person of the tenant in id order, at most maxJudge per call (a
// page may then be short, with a next_cursor).

// maxJudge bounds the viewers one reverse lookup judges by scope.
const maxJudge = 500

// ViewerGrant is one viewer of a resource and why.
type ViewerGrant struct {
	Viewer domain.PersonID `json:"viewer"`
	// Visibility is how much of a person the viewer sees (person lookups).
	Visibility domain.Visibility `json:"visibility,omitempty"`
	Reasons    []Reason          `json:"reasons"`
}

func (a *API) whoCanSee(c *gin.Context) {
	cl, ok := a.require(c, domain.PermViewersRead, domain.PermAuditRead)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	typ, id := c.Param("type"), c.Param("id")
	if !validType(typ) {
		a.fail(c, invalid("type", "type is one of ticket, company, site, person, document"))
		return
	}
	ctx := c.Request.Context()
	dir, vis := directory.NewReader(a.rdb, cl.keys), visibility.NewReader(a.rdb, cl.keys)
	var page Page[ViewerGrant]
	var err error
	switch typ {
	case ResourceTicket:
		page, err = a.ticketViewers(ctx, cl, vis, domain.TicketID(id), q)
	case ResourceDocument:
		d, derr := dir.GetDocument(ctx, cl.tenant, domain.DocID(id))
		if derr != nil {
			err = derr
			break
		}
		if d.Ticket != "" {
			page, err = a.ticketViewers(ctx, cl, vis, d.Ticket, q)
			break
		}
		page, err = a.scopeViewers(ctx, cl, q, func(s domain.Scope) (domain.Visibility, []Reason, error) {
			_, rs := s.CompanyDocuments(d.Company)
			return "", reasonsOf(rs), nil
		})
	case ResourceCompany:
		if _, err = dir.GetCompany(ctx, cl.tenant, domain.CompanyID(id)); err != nil {
			break
		}
		page, err = a.scopeViewers(ctx, cl, q, func(s domain.Scope) (domain.Visibility, []Reason, error) {
			_, rs := s.SeesCompany(domain.CompanyID(id))
			return "", reasonsOf(rs), nil
		})
	case ResourceSite:
		site, serr := dir.GetSite(ctx, cl.tenant, domain.SiteID(id))
		if serr != nil {
			err = serr
			break
		}
		page, err = a.scopeViewers(ctx, cl, q, func(s domain.Scope) (domain.Visibility, []Reason, error) {
			return "", reasonsOf(s.SiteReasons(site.ID, site.Company)), nil
		})
	case ResourcePerson:
		p, perr := dir.GetPerson(ctx, cl.tenant, domain.PersonID(id))
		if perr != nil {
			err = perr
			break
		}
		target := domainPerson(&p)
		page, err = a.scopeViewers(ctx, cl, q, func(s domain.Scope) (domain.Visibility, []Reason, error) {
			v, prs := s.PersonVisibility(target, nil)
			if v != domain.VisibilityFull {
				t, err := a.ticketNaming(ctx, cl, s, p.ID)
				if err != nil || t == "" {
					return "", nil, err
				}
				v, prs = domain.VisibilityLimited, []domain.PersonReason{{Rule: domain.ReasonTicketReference, Ticket: t}}
			}
			out := make([]Reason, len(prs))
			for i, pr := range prs {
				out[i] = Reason{Rule: pr.Rule, Company: pr.Company, Ticket: pr.Ticket}
			}
			return v, out, nil
		})
	}
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, visibility.ErrNoSuchTicket) {
		err = errNotFound
	}
	a.answer(c, page, err)
}

func reasonsOf(rs []domain.TicketReason) []Reason {
	out := make([]Reason, len(rs))
	for i, r := range rs {
		out[i] = Reason{Rule: r.Rule, Level: r.Level}
	}
	return out
}

// ticketViewers pages the viewers of a ticket, by viewer id.
func (a *API) ticketViewers(ctx context.Context, cl caller, vis *visibility.Reader, id domain.TicketID, q listQuery) (Page[ViewerGrant], error) {
	view, err := vis.TicketView(ctx, cl.tenant, id)
	if err != nil {
		return Page[ViewerGrant]{}, err
	}
	ids, err := vis.ViewersWithGrounds(ctx, cl.tenant, view)
	if err != nil {
		return Page[ViewerGrant]{}, err
	}
	return pageByID(ids, q, func(batch []string) ([]ViewerGrant, []string, error) {
		var out []ViewerGrant
		var kept []string
		for _, v := range batch {
			rs, err := vis.TicketReasonsOf(ctx, cl.tenant, domain.PersonID(v), id)
			if errors.Is(err, visibility.ErrNoTable) || errors.Is(err, visibility.ErrNoSuchTicket) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if len(rs) > 0 {
				out, kept = append(out, ViewerGrant{Viewer: domain.PersonID(v), Reasons: reasonsOf(rs)}), append(kept, v)
			}
		}
		return out, kept, nil
	})
}

// scopeViewers pages the viewers judge grants, judging the tenant's people in id order.
func (a *API) scopeViewers(ctx context.Context, cl caller, q listQuery, judge func(domain.Scope) (domain.Visibility, []Reason, error)) (Page[ViewerGrant], error) {
	ids, err := directory.NewReader(a.rdb, cl.keys).Members(ctx, cl.tenant, directory.IndexMembers{AllPeople: true})
	if err != nil {
		return Page[ViewerGrant]{}, err
	}
	vis := visibility.NewReader(a.rdb, cl.keys)
	judged := 0
	var lastJudged string
	page, err := pageByID(ids, q, func(batch []string) ([]ViewerGrant, []string, error) {
		var out []ViewerGrant
		var kept []string
		for _, v := range batch {
			if judged >= maxJudge {
				break
			}
			judged++
			lastJudged = v
			s, err := vis.FullScope(ctx, cl.tenant, domain.PersonID(v))
			if errors.Is(err, visibility.ErrNoTable) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			vz, rs, err := judge(s)
			if err != nil {
				return nil, nil, err
			}
			if len(rs) > 0 {
				out, kept = append(out, ViewerGrant{Viewer: s.Person, Visibility: vz, Reasons: rs}), append(kept, v)
			}
		}
		return out, kept, nil
	})
	if err == nil && judged >= maxJudge && page.NextCursor == "" && lastJudged != "" && lastJudged != ids[len(ids)-1] {
		page.NextCursor = encodeCursor(lastJudged)
	}
	return page, err
}
