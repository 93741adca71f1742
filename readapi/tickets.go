package readapi

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// Tickets are listed newest first (by the log position each was opened at), merged from the
// viewer's per-scope indexes: its companies, sites, own requests, and contractor assignments.
// A page reads O(page + number of scopes) index entries, never the viewer's whole ticket set.
// A company or site filter reads that one index. Each candidate is judged from the viewer's
// scope (the reasons come from there), and filters that no index covers (status, type,
// updated_since) are applied to candidates; a sparse filter therefore answers a short page with
// a next_cursor once the call has examined maxScan candidates.

// maxScan bounds the candidates one listing call examines.
const maxScan = 2000

// ticketCursor is a place in the newest-first order: (score, id), exclusive.
type ticketCursor struct {
	score float64
	id    string
}

func (c ticketCursor) String() string { return strconv.FormatFloat(c.score, 'f', -1, 64) + ":" + c.id }

// before reports whether (score, id) comes after the cursor in the listing order (score
// descending, then id descending, as Redis orders a reverse range).
func (c ticketCursor) before(s visibility.Scored) bool {
	return s.Score < c.score || s.Score == c.score && s.ID < c.id
}

func parseTicketCursor(s string) (ticketCursor, bool) {
	if s == "" {
		return ticketCursor{score: math.Inf(1)}, true
	}
	sc, id, ok := strings.Cut(s, ":")
	f, err := strconv.ParseFloat(sc, 64)
	if !ok || err != nil || id == "" {
		return ticketCursor{}, false
	}
	return ticketCursor{score: f, id: id}, true
}

// topAfter returns the n newest tickets after cursor among the indexes (merged inside Redis, one
// round trip) and the in-memory source, and whether more follow.
func topAfter(ctx context.Context, vis *visibility.Reader, t domain.TenantID, viewer domain.PersonID, indexes []visibility.Index, whole bool, extra []visibility.Scored, cur ticketCursor, n int) ([]visibility.Scored, bool, error) {
	got, more, err := vis.ListTickets(ctx, t, viewer, indexes, whole, cur.score, cur.id, n)
	if err != nil || len(extra) == 0 {
		return got, more, err
	}
	seen := make(map[string]bool, len(got))
	for _, s := range got {
		seen[s.ID] = true
	}
	for _, e := range extra {
		if cur.before(e) && !seen[e.ID] {
			got = append(got, e)
			seen[e.ID] = true
		}
	}
	slices.SortFunc(got, compareNewest)
	if len(got) > n {
		got, more = got[:n], true
	}
	return got, more, nil
}

func compareNewest(x, y visibility.Scored) int {
	switch {
	case newer(x, y):
		return -1
	case newer(y, x):
		return 1
	}
	return 0
}

func newer(a, b visibility.Scored) bool {
	return a.Score > b.Score || a.Score == b.Score && a.ID > b.ID
}

// ticketSources are the indexes that together hold every ticket the viewer may see that
// matches the query's company or site (and an in-memory source for contractor assignments,
// whose indexes are not ordered by opening).
func (a *API) ticketSources(ctx context.Context, cl caller, s domain.Scope, q listQuery, vis *visibility.Reader) ([]visibility.Index, []visibility.Scored, error) {
	t := cl.tenant
	switch {
	case q.Site != "":
		return []visibility.Index{vis.SiteTickets(t, q.Site)}, nil, nil
	case q.Company != "":
		return []visibility.Index{vis.CompanyTickets(t, q.Company)}, nil, nil
	case s.Unrestricted:
		return []visibility.Index{vis.AllTickets(t)}, nil, nil
	}
	var idx []visibility.Index
	for _, c := range slices.Sorted(mapKeys(s.Companies)) {
		if len(s.Companies[c]) > 0 {
			idx = append(idx, vis.CompanyTickets(t, c))
		}
	}
	for _, site := range slices.Sorted(mapKeys(s.Sites)) {
		idx = append(idx, vis.SiteTickets(t, site))
	}
	idx = append(idx, vis.ReportedTickets(t, s.Person))
	var contractor []visibility.Index
	for _, x := range slices.Sorted(mapKeys(s.ContractorAdminOf)) {
		if s.ContractorAdminOf[x] {
			contractor = append(contractor, vis.ContractorTickets(t, x))
		}
	}
	contractor = append(contractor, vis.TechnicianTickets(t, s.Person))
	ids, err := vis.Members(ctx, contractor...)
	if err != nil || len(ids) == 0 {
		return idx, nil, err
	}
	keys, err := vis.TicketKeysOf(ctx, t, toIDs[domain.TicketID](ids))
	if err != nil {
		return nil, nil, err
	}
	extra := make([]visibility.Scored, 0, len(ids))
	for i, k := range keys {
		if k != nil {
			extra = append(extra, visibility.Scored{ID: ids[i], Score: float64(k.Opened)})
		}
	}
	slices.SortFunc(extra, compareNewest)
	return idx, extra, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (a *API) listTickets(c *gin.Context) {
	cl, s, ok := a.readTicketsAs(c)
	if !ok {
		return
	}
	q, bad := parseList(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	cur, ok := parseTicketCursor(q.Cursor)
	if !ok {
		a.fail(c, invalid("cursor", "cursor is the next_cursor of a previous page, unchanged"))
		return
	}
	page, err := a.ticketPage(c.Request.Context(), cl, s, q, cur)
	a.answer(c, page, err)
}

func (a *API) ticketPage(ctx context.Context, cl caller, s domain.Scope, q listQuery, cur ticketCursor) (Page[TicketView], error) {
	vis, dir := visibility.NewReader(a.rdb, cl.keys), directory.NewReader(a.rdb, cl.keys)
	indexes, extra, err := a.ticketSources(ctx, cl, s, q, vis)
	if err != nil {
		return Page[TicketView]{}, err
	}
	out := Page[TicketView]{Items: make([]TicketView, 0, q.Limit)}
	scanned, more := 0, true
	for len(out.Items) < q.Limit && more {
		if scanned >= maxScan {
			out.NextCursor = encodeCursor(cur.String())
			return out, nil
		}
		var cands []visibility.Scored
		cands, more, err = topAfter(ctx, vis, cl.tenant, s.Person, indexes, q.Company == "" && q.Site == "", extra, cur, q.Limit-len(out.Items)+1)
		if err != nil {
			return out, err
		}
		if len(cands) == 0 {
			return out, nil
		}
		scanned += len(cands)
		ids := make([]domain.TicketID, len(cands))
		for i, cd := range cands {
			ids[i] = domain.TicketID(cd.ID)
		}
		// The directory's record carries what visibility depends on: the reasons are judged
		// from it and the viewer's scope, in the same round trip that reads the page.
		tickets, err := dir.TicketsByID(ctx, cl.tenant, ids)
		if err != nil {
			return out, err
		}
		byID := make(map[domain.TicketID]*directory.Ticket, len(tickets))
		for i := range tickets {
			byID[tickets[i].ID] = &tickets[i]
		}
		for i, cd := range cands {
			cur = ticketCursor{score: cd.Score, id: cd.ID}
			t := byID[domain.TicketID(cd.ID)]
			if t == nil || !q.wants(t.Company) || q.Site != "" && t.Site != q.Site || q.Status != "" && string(t.Status) != q.Status ||
				q.Type != "" && t.Type != q.Type || !q.UpdatedSince.IsZero() && t.UpdatedAt.Before(q.UpdatedSince) {
				continue
			}
			rs := s.TicketReasons(domain.TicketView{Company: t.Company, Site: t.Site, Reporter: t.Reporter, Contractor: t.Contractor, Technician: t.Technician})
			if len(rs) == 0 {
				continue
			}
			out.Items = append(out.Items, TicketView{Ticket: *t, Reasons: rs})
			if len(out.Items) == q.Limit {
				// The page is full: more follow if candidates remain in this batch or beyond it.
				if i < len(cands)-1 || more {
					out.NextCursor = encodeCursor(cur.String())
				}
				return out, nil
			}
		}
	}
	return out, nil
}

// ticketReasons judges one ticket for the viewer; nil when it cannot see it or it does not exist.
func (a *API) ticketReasons(ctx context.Context, cl caller, s domain.Scope, id domain.TicketID) ([]domain.TicketReason, error) {
	view, err := visibility.NewReader(a.rdb, cl.keys).TicketView(ctx, cl.tenant, id)
	if errors.Is(err, visibility.ErrNoSuchTicket) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.TicketReasons(view), nil
}

func (a *API) getTicket(c *gin.Context) {
	cl, s, ok := a.readTicketsAs(c)
	if !ok {
		return
	}
	ctx, id := c.Request.Context(), domain.TicketID(c.Param("id"))
	rs, err := a.ticketReasons(ctx, cl, s, id)
	if err == nil && len(rs) == 0 {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	t, err := directory.NewReader(a.rdb, cl.keys).GetTicket(ctx, cl.tenant, id)
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	a.answer(c, TicketView{Ticket: t, Reasons: rs}, err)
}

// TicketDetail lists a visible ticket's comments or documents.
func (a *API) ticketChildren(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, s, ok := a.readTicketsAs(c)
		if !ok {
			return
		}
		q, bad := parseList(c)
		if bad != nil {
			a.fail(c, bad)
			return
		}
		ctx, id := c.Request.Context(), domain.TicketID(c.Param("id"))
		rs, err := a.ticketReasons(ctx, cl, s, id)
		if err == nil && len(rs) == 0 {
			err = errNotFound
		}
		if err != nil {
			a.fail(c, err)
			return
		}
		off := int64(0)
		if q.Cursor != "" {
			n, err := strconv.ParseInt(q.Cursor, 10, 64)
			if err != nil || n < 0 {
				a.fail(c, invalid("cursor", "cursor is the next_cursor of a previous page, unchanged"))
				return
			}
			off = n
		}
		dir, p := directory.NewReader(a.rdb, cl.keys), directory.Page{Offset: off, Limit: int64(q.Limit)}
		next := func(n int, total int64) string {
			if off+int64(n) < total && n > 0 {
				return encodeCursor(strconv.FormatInt(off+int64(n), 10))
			}
			return ""
		}
		if kind == "comments" {
			l, err := dir.ListComments(ctx, cl.tenant, id, p)
			a.answer(c, Page[CommentView]{Items: l.Items, NextCursor: next(len(l.Items), l.Total)}, err)
			return
		}
		l, err := dir.TicketDocuments(ctx, cl.tenant, id, p)
		items := make([]DocumentView, len(l.Items))
		for i, d := range l.Items {
			items[i] = DocumentView{Document: d, Reasons: rs}
		}
		a.answer(c, Page[DocumentView]{Items: items, NextCursor: next(len(l.Items), l.Total)}, err)
	}
}
