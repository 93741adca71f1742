package readapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/internal/openapi"
)

type operation = openapi.Operation

// Query parameters of the listings and of the read-your-writes wait.
var (
	listQueryDoc = map[string]string{
		"limit":         "page size, 1 to 200 (default 50)",
		"cursor":        "the next_cursor of the previous page",
		"company":       "only what belongs to this company",
		"site":          "only what is at this site (tickets, people)",
		"status":        "only this status (tickets, people)",
		"type":          "only this type (tickets: ticket type; people: user or contact; companies: kind)",
		"updated_since": "RFC 3339 time: only tickets updated since",
		"min_position":  "wait until the read models reflect this log position (commit/prepare), as " + MinPositionHeader + " does",
	}
	consistencyHeaders = map[string]string{
		MinPositionHeader: "a log position (commit/prepare) an accepted command answered: the read waits, bounded, until the read models reflect it, else answers 503 not-yet-consistent with Retry-After",
	}
	readProblems = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusServiceUnavailable}
)

// viewerRoutes are the routes served both under /v1/me (the caller is the viewer) and
// /v1/viewers/{viewer_id} (on behalf of a viewer, with viewers:read).
func (a *API) viewerRoutes() []route {
	list := func(path, id, summary string, sample any, h gin.HandlerFunc) route {
		return route{op: operation{Method: http.MethodGet, Path: path, ID: id, Summary: summary, Tags: []string{"viewer"},
			Query: listQueryDoc, Headers: consistencyHeaders, Responses: map[int]any{http.StatusOK: sample}, Problems: readProblems}, handle: h}
	}
	get := func(path, id, summary string, sample any, h gin.HandlerFunc) route {
		h = a.onlyParams(h, "min_position")
		return route{op: operation{Method: http.MethodGet, Path: path, ID: id, Summary: summary, Tags: []string{"viewer"},
			Query: map[string]string{"min_position": listQueryDoc["min_position"]}, Headers: consistencyHeaders,
			Responses: map[int]any{http.StatusOK: sample}, Problems: readProblems}, handle: h}
	}
	return []route{
		get("", "Me", "the viewer: class, memberships and roles, effective permissions, breadth of its visibility", Profile{}, a.getMe),
		list("/companies", "Companies", "the companies the viewer sees, with the reasons", Page[CompanyView]{}, a.listCompanies),
		get("/companies/:id", "Company", "one company the viewer sees (404 otherwise)", CompanyView{}, a.getCompany),
		list("/sites", "Sites", "the sites the viewer sees, with the reasons", Page[SiteView]{}, a.listSites),
		get("/sites/:id", "Site", "one site the viewer sees (404 otherwise)", SiteView{}, a.getSite),
		list("/tickets", "Tickets", "the tickets the viewer sees, newest first, with the reasons", Page[TicketView]{}, a.listTickets),
		get("/tickets/:id", "Ticket", "one ticket the viewer sees (404 otherwise)", TicketView{}, a.getTicket),
		list("/tickets/:id/comments", "TicketComments", "the comments of a ticket the viewer sees", Page[CommentView]{}, a.ticketChildren("comments")),
		list("/tickets/:id/documents", "TicketDocuments", "the documents of a ticket the viewer sees", Page[DocumentView]{}, a.ticketChildren("documents")),
		list("/people", "People", "the people the viewer sees in full (removed users left out), with the reasons", Page[PersonView]{}, a.listPeople),
		get("/people/:id", "Person", "one person the viewer sees: in full, or by name only (limited) when a visible ticket names it", PersonView{}, a.getPerson),
		list("/documents", "Documents", "the company documents the viewer sees (a ticket's documents are listed with the ticket)", Page[DocumentView]{}, a.listDocuments),
		get("/documents/:id", "Document", "one document the viewer sees (404 otherwise)", DocumentView{}, a.getDocument),
	}
}

func (a *API) routes() []route {
	var out []route
	for _, r := range a.viewerRoutes() {
		me, on := r, r
		me.op.Path, me.op.ID = "/v1/me"+r.op.Path, "GetMy"+r.op.ID
		me.op.ID = strings.Replace(me.op.ID, "GetMyMe", "GetMe", 1)
		on.op.Path, on.op.ID = "/v1/viewers/:viewer_id"+r.op.Path, "GetViewer"+r.op.ID
		on.op.ID = strings.Replace(on.op.ID, "GetViewerMe", "GetViewer", 1)
		on.op.Summary = "on behalf of a viewer (viewers:read): " + r.op.Summary
		on.op.Tags = []string{"on behalf of a viewer"}
		out = append(out, me, on)
	}
	out = append(out,
		route{op: operation{Method: http.MethodPost, Path: "/v1/check", ID: "Check", Tags: []string{"check"},
			Summary: "may the viewer see the resource, and why (every reason that grants it); one check or a batch of up to 100 under \"checks\"",
			Headers: consistencyHeaders, Query: map[string]string{"min_position": listQueryDoc["min_position"]},
			Request: CheckBody{}, Responses: map[int]any{http.StatusOK: openapi.OneOf{CheckResult{}, BatchResult{}}}, Problems: readProblems}, handle: a.check},
		route{op: operation{Method: http.MethodGet, Path: "/v1/resources/:type/:id/viewers", ID: "WhoCanSee", Tags: []string{"check"},
			Summary: "who can see a resource (ticket, company, site, person, document), with the reasons; viewers:read or audit:read",
			Headers: consistencyHeaders, Query: map[string]string{"limit": listQueryDoc["limit"], "cursor": listQueryDoc["cursor"], "min_position": listQueryDoc["min_position"]},
			Responses: map[int]any{http.StatusOK: Page[ViewerGrant]{}}, Problems: readProblems}, handle: a.whoCanSee},
		route{op: operation{Method: http.MethodGet, Path: "/v1/audit", ID: "AuditTrail", Tags: []string{"audit"},
			Summary: "the audit trail (audit:read or tenant:admin), filtered, paged by log position; Accept: application/x-ndjson streams every matching entry",
			Headers: consistencyHeaders, Query: map[string]string{"actor": "user:<person id>, service:<client id> or system", "subject": "an id the event names",
				"company": "a company the event concerns", "type": "an event type", "from": "RFC 3339, inclusive", "to": "RFC 3339, exclusive",
				"cursor": "the next_cursor of the previous page (a log position)", "limit": "1 to 1000 (default 100)", "min_position": listQueryDoc["min_position"]},
			Responses: map[int]any{http.StatusOK: AuditPage{}}, Produces: []string{NDJSON}, Problems: readProblems}, handle: a.auditTrail},
	)
	return out
}

// onlyParams refuses a query string with other parameters than allowed, then runs h.
func (a *API) onlyParams(h gin.HandlerFunc, allowed ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if bad := checkParams(c, allowed, "this route takes"); bad != nil {
			a.fail(c, bad)
			return
		}
		h(c)
	}
}

// Operations declares the read routes for the OpenAPI document.
func (a *API) Operations() []openapi.Operation {
	rs := a.routes()
	out := make([]openapi.Operation, len(rs))
	for i, r := range rs {
		out[i] = r.op
	}
	return out
}
