package readapi

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// Tickets are listed newest first (by the log position each was opened at). A page walks the
// tenant's every-ticket index (or the one index a company or site filter names) while the viewer
// sees a good share of what it walks, and otherwise merges the viewer's per-scope indexes: its
// companies, sites, own requests, and contractor assignments; either way it reads O(page +
// number of scopes) index entries, never the viewer's whole ticket set. Each candidate is judged
// from the viewer's scope (the reasons come from there), and filters that no index covers
// (status, type, updated_since) are applied to candidates; a sparse filter therefore answers a
// short page with a next_cursor once the call has examined maxScan candidates.

// maxScan bounds the candidates one listing call examines.
const maxScan = 2000

// ticketCursor is a place in the newest-first order: (score, id), exclusive.
type ticketCursor struct {
	score float64
	id    string
}

func (c ticketCursor) String() string { return strconv.FormatFloat(c.score, 'f', -1, 64) + ":" + c.id }

func parseTicketCursor(s string) (ticketCursor, bool) {
	if s == "" {
		return ticketCursor{score: math.Inf(1)}, true
	}
	sc, id, ok := strings.Cut(s, ":")
	f, err := strconv.ParseFloat(sc, 64)
	// A score is the log position a ticket was opened at: finite and not negative (ParseFloat
	// also reads "NaN" and "Inf", which no listing hands out and Redis would not take).
	if !ok || err != nil || id == "" || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return ticketCursor{}, false
	}
	return ticketCursor{score: f, id: id}, true
}

func (a *API) listTickets(c *gin.Context) {
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
	// A user listing its own tickets, resolved before: the binding is confirmed in the page's
	// first round trip, and the listing starts again the long way when it no longer holds.
	if cl, subject, ok := a.rememberedCaller(c); ok && c.Param("viewer_id") == "" {
		page, err := a.ticketPage(c.Request.Context(), cl, cl.person, q, cur, subject)
		if !errors.Is(err, errBindingChanged) {
			a.answerTicketPage(c, cl, cl.person, page, err)
			return
		}
	}
	cl, err := a.callerOf(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	viewer, err := a.viewerID(c, &cl)
	if err != nil {
		a.fail(c, err)
		return
	}
	page, err := a.ticketPage(c.Request.Context(), cl, viewer, q, cur, "")
	a.answerTicketPage(c, cl, viewer, page, err)
}

func (a *API) answerTicketPage(c *gin.Context, cl caller, viewer domain.PersonID, page Page[TicketView], err error) {
	if errors.Is(err, visibility.ErrNoTable) {
		err = a.withoutTable(c, cl, viewer)
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Render(http.StatusOK, ticketPageJSON(page))
}

// errBindingChanged: the person a subject was remembered as is no longer the one it is bound to.
var errBindingChanged = errors.New("readapi: the caller's binding changed")

// walkShare: a listing walks one index (the tenant's every-ticket index, or the company's or
// site's a filter names) while at least one in walkShare of the tickets it judges is the
// viewer's; below that share, the viewer's own indexes are merged instead.
const walkShare = 8

// ticketPage fills a page by walking an index newest first in Go, judging each ticket from the
// viewer's table and the ticket's card (cards.go, read anyway, to be shown), without a script:
// the first round trip reads the table's digest (the table itself only when the cached one is
// stale), the first entries and the cards of the tickets the index's first page started with
// last time; later ones read the cards the first did not have, then one MGET per batch. A viewer
// who sees a small share of the tenant's tickets gets the rest of the page from mergedTicketPage.
//
// With a subject, cl.person is the person the subject was last resolved to, unconfirmed: the
// first round trip also confirms the binding (errBindingChanged when it no longer holds, before
// anything read is used).
func (a *API) ticketPage(ctx context.Context, cl caller, viewer domain.PersonID, q listQuery, cur ticketCursor, subject string) (Page[TicketView], error) {
	vis, dir := visibility.NewReader(a.rdb, cl.keys), directory.NewReader(a.rdb, cl.keys)
	var filter visibility.Index
	switch {
	case q.Site != "":
		filter = vis.SiteTickets(cl.tenant, q.Site)
	case q.Company != "":
		filter = vis.CompanyTickets(cl.tenant, q.Company)
	}
	idx := filter
	if idx == "" {
		idx = vis.AllTickets(cl.tenant)
	}
	out := Page[TicketView]{Items: make([]TicketView, 0, q.Limit)}
	w := vis.NewWalk(idx, cur.score, cur.id)
	step := q.Limit + 1
	pipe := a.rdb.Pipeline()
	var bound func() (bool, error)
	if subject != "" {
		bound = dir.QueueBindingCheck(ctx, pipe, cl.tenant, subject, cl.person)
	}
	started := w.QueueStart(ctx, pipe, cl.tenant, viewer, step, a.tables)
	// The first page of an index mostly starts with the tickets it started with last time: read
	// their cards now, and only those of tickets that are new at its head afterwards.
	var guess []domain.TicketID
	var guessed func() ([]string, error)
	atStart := math.IsInf(cur.score, 1)
	if atStart {
		if guess, _ = a.heads.Get(string(idx)); len(guess) > 0 {
			guessed = dir.QueueTicketCards(ctx, pipe, cl.tenant, guess)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return out, err
	}
	if bound != nil {
		if ok, err := bound(); err != nil || !ok {
			return out, cmp.Or(err, errBindingChanged)
		}
	}
	table, entries, err := started()
	if err != nil {
		return out, err
	}
	scope := table.Scope()
	ids := make([]domain.TicketID, 0, step)
	judged, visible, scanned := 0, 0, 0
	for first := true; ; first = false {
		ids = ids[:0]
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
		var raw []string
		if first && guessed != nil {
			raw, err = a.guessedCards(ctx, dir, cl.tenant, ids, guess, guessed)
		} else {
			raw, err = dir.TicketCards(ctx, cl.tenant, ids)
		}
		if err != nil {
			return out, err
		}
		if first && atStart && !slices.Equal(ids, guess) {
			a.heads.Put(string(idx), slices.Clone(ids))
		}
		cards, known, err := a.cardsOf(ctx, dir, cl.tenant, ids, raw)
		if err != nil {
			return out, err
		}
		for i, e := range entries {
			cur = ticketCursor{score: e.Score, id: string(e.ID)}
			scanned++
			if !known[i] {
				continue
			}
			c := &cards[i]
			judged++
			rs := scope.TicketReasons(c.view())
			if len(rs) == 0 {
				continue
			}
			visible++
			if !q.shows(&c.ticket) {
				continue
			}
			out.Items = append(out.Items, TicketView{Ticket: c.ticket, Reasons: rs, rendered: c.json})
			if len(out.Items) == q.Limit {
				if i < len(entries)-1 || !w.Done() {
					out.NextCursor = encodeCursor(cur.String())
				}
				return out, nil
			}
		}
		if w.Done() {
			return out, nil
		}
		if scanned >= maxScan {
			out.NextCursor = encodeCursor(cur.String())
			return out, nil
		}
		if filter == "" && !table.Unrestricted && visible*walkShare < judged {
			return a.mergedTicketPage(ctx, cl, viewer, q, cur, out, scanned)
		}
		// Enough entries for what the page still needs at the share seen so far, within bounds.
		need := q.Limit - len(out.Items)
		step = min(max(need*(judged+1)/(visible+1)+need/4, 16), 1024, maxScan-scanned)
		if entries, err = w.Next(ctx, step); err != nil {
			return out, err
		}
	}
}

// guessedCards is TicketCards for ids when the cards of the tickets in guess were read already
// (guessed answers them): those are taken as read, the others' are read now.
func (a *API) guessedCards(ctx context.Context, dir *directory.Reader, tenant domain.TenantID, ids, guess []domain.TicketID, guessed func() ([]string, error)) ([]string, error) {
	got, err := guessed()
	if err != nil {
		return nil, err
	}
	at := make(map[domain.TicketID]int, len(guess))
	for i, id := range guess {
		at[id] = i
	}
	raw := make([]string, len(ids))
	var missing []domain.TicketID
	var where []int
	for i, id := range ids {
		if j, ok := at[id]; ok {
			raw[i] = got[j]
		} else {
			missing, where = append(missing, id), append(where, i)
		}
	}
	if len(missing) > 0 {
		rest, err := dir.TicketCards(ctx, tenant, missing)
		if err != nil {
			return nil, err
		}
		for k, i := range where {
			raw[i] = rest[k]
		}
	}
	return raw, nil
}

// cardsOf parses the cards read for tickets (raw, in the order of ids; known false for a ticket
// the read model does not know) and, for the tickets without a card (new, changed, expired),
// reads their records, renders them and stores their cards for the next reader.
func (a *API) cardsOf(ctx context.Context, dir *directory.Reader, tenant domain.TenantID, ids []domain.TicketID, raw []string) ([]card, []bool, error) {
	cards, known := make([]card, len(ids)), make([]bool, len(ids))
	var missing []domain.TicketID
	for i, s := range raw {
		if c, ok := parseCard(s); ok && c.ticket.ID == ids[i] {
			cards[i], known[i] = c, true
		} else {
			missing = append(missing, ids[i])
		}
	}
	if len(missing) == 0 {
		return cards, known, nil
	}
	records, err := dir.TicketsWithVersions(ctx, tenant, missing)
	if err != nil {
		return nil, nil, err
	}
	rendered := make([]string, len(records))
	at := make(map[domain.TicketID]int, len(records))
	for i := range records {
		rendered[i], at[records[i].ID] = renderCard(&records[i].Ticket), i
	}
	if _, err := dir.FillTicketCards(ctx, tenant, records, rendered, cardTTL); err != nil {
		// Only the next reader pays: this page is rendered from the records all the same.
		a.logger.Warn("storing ticket cards failed", "tenant", tenant, "error", err)
	}
	for i, id := range ids {
		if j, ok := at[id]; ok && !known[i] {
			cards[i], known[i] = parseCard(rendered[j])
		}
	}
	return cards, known, nil
}

// shows applies the filters no index answers (and the company filter, also when the walk is
// over a site's index).
func (q listQuery) shows(t *directory.Ticket) bool {
	return q.wants(t.Company) && (q.Site == "" || t.Site == q.Site) && (q.Status == "" || string(t.Status) == q.Status) &&
		(q.Type == "" || t.Type == q.Type) && (q.UpdatedSince.IsZero() || !t.UpdatedAt.Before(q.UpdatedSince))
}

// mergedTicketPage goes on filling out after cur by merging the viewer's scope indexes (its
// companies, sites, own requests and contractor assignments), in a script that picks each batch
// of candidates with the viewer's grounds: O(page + number of scopes) index entries, however
// small the viewer's share of the tenant.
func (a *API) mergedTicketPage(ctx context.Context, cl caller, viewer domain.PersonID, q listQuery, cur ticketCursor, out Page[TicketView], scanned int) (Page[TicketView], error) {
	vis, dir := visibility.NewReader(a.rdb, cl.keys), directory.NewReader(a.rdb, cl.keys)
	prefix := dir.TicketKeyPrefix(cl.tenant)
	more := true
	for len(out.Items) < q.Limit && more {
		if scanned >= maxScan {
			out.NextCursor = encodeCursor(cur.String())
			return out, nil
		}
		cands, m, err := vis.TicketPage(ctx, cl.tenant, viewer, "", prefix, cur.score, cur.id, q.Limit-len(out.Items)+1)
		if err != nil {
			return out, err
		}
		more = m
		if len(cands) == 0 {
			return out, nil
		}
		scanned += len(cands)
		ids := make([]domain.TicketID, 0, len(cands))
		for _, cd := range cands {
			if len(cd.Reasons) > 0 {
				ids = append(ids, cd.ID)
			}
		}
		tickets, err := dir.TicketsByID(ctx, cl.tenant, ids)
		if err != nil {
			return out, err
		}
		byID := make(map[domain.TicketID]*directory.Ticket, len(tickets))
		for i := range tickets {
			byID[tickets[i].ID] = &tickets[i]
		}
		for i, cd := range cands {
			cur = ticketCursor{score: cd.Score, id: string(cd.ID)}
			t := byID[cd.ID]
			if t == nil || len(cd.Reasons) == 0 || !q.shows(t) {
				continue
			}
			out.Items = append(out.Items, TicketView{Ticket: *t, Reasons: cd.Reasons})
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
