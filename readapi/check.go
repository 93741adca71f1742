package readapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/internal/strictjson"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// Resource types a check or a reverse lookup can name.
const (
	ResourceTicket   = "ticket"
	ResourceCompany  = "company"
	ResourceSite     = "site"
	ResourcePerson   = "person"
	ResourceDocument = "document"
)

var resourceTypes = []string{ResourceTicket, ResourceCompany, ResourceSite, ResourcePerson, ResourceDocument}

// ActionRead is the one action a check answers: may the viewer see the resource. (What a
// viewer may change is the command side's to decide: it refuses with the same rules.)
const ActionRead = "read"

// MaxChecks bounds a batch.
const MaxChecks = 100

// Resource names a resource.
type Resource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// CheckRequest asks whether Viewer (default: the calling user) may perform Action (default
// read) on Resource.
type CheckRequest struct {
	Viewer   domain.PersonID `json:"viewer,omitempty"`
	Action   string          `json:"action,omitempty"`
	Resource Resource        `json:"resource"`
}

// CheckBody is one check, or a batch of them under "checks".
type CheckBody struct {
	CheckRequest
	Checks []CheckRequest `json:"checks,omitempty"`
}

// Reason is one ground that grants a check: a rule of DESIGN §2, with the company-access level,
// and for people the company or ticket through which.
type Reason struct {
	Rule    string             `json:"rule"`
	Level   domain.AccessLevel `json:"level,omitempty"`
	Company domain.CompanyID   `json:"company,omitempty"`
	Ticket  domain.TicketID    `json:"ticket,omitempty"`
}

// CheckResult answers one check: allowed, with every reason that grants it (in the order of
// DESIGN §2's table); when refused, Explanation says why in general terms (never whether the
// resource exists).
type CheckResult struct {
	Viewer   domain.PersonID `json:"viewer"`
	Action   string          `json:"action"`
	Resource Resource        `json:"resource"`
	Allowed  bool            `json:"allowed"`
	Reasons  []Reason        `json:"reasons"`
	// Visibility is how much of a person the viewer sees (person checks): full or limited.
	Visibility  domain.Visibility `json:"visibility,omitempty"`
	Explanation string            `json:"explanation,omitempty"`
}

// BatchResult answers a batch, in the order asked.
type BatchResult struct {
	Results []CheckResult `json:"results"`
}

func (a *API) check(c *gin.Context) {
	body, bad := decodeCheck(c)
	if bad != nil {
		problem.Write(c, *bad)
		return
	}
	if a.quickTicketCheck(c, body) {
		return
	}
	cl, err := a.callerOf(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	batch := body.Checks != nil
	reqs := body.Checks
	if !batch {
		reqs = []CheckRequest{body.CheckRequest}
	}
	// Validate every check and the caller's right to ask before answering any.
	needRights := false
	for i := range reqs {
		r := &reqs[i]
		field := "resource"
		if batch {
			field = "checks[" + strconv.Itoa(i) + "]"
		}
		if r.Action == "" {
			r.Action = ActionRead
		}
		if r.Action != ActionRead {
			problem.Write(c, problem.Invalid(field+".action", `the only action is "read" (may the viewer see the resource)`))
			return
		}
		if !validType(r.Resource.Type) || r.Resource.ID == "" {
			problem.Write(c, problem.Invalid(field+".resource", "a resource is {\"type\": ticket|company|site|person|document, \"id\": …}"))
			return
		}
		if r.Viewer == "" {
			if cl.person == "" {
				problem.Write(c, problem.Invalid(field+".viewer", "a service client names the viewer"))
				return
			}
			r.Viewer = cl.person
		}
		if r.Viewer != cl.person {
			needRights = true
		}
	}
	ctx := c.Request.Context()
	if needRights {
		if err := a.loadRights(ctx, &cl); err != nil {
			a.fail(c, err)
			return
		}
		if cl.person != "" && !cl.active {
			a.fail(c, errNoViewer)
			return
		}
		if !cl.has(domain.PermViewersRead) {
			a.fail(c, errForbidden)
			return
		}
	}
	results := make([]CheckResult, len(reqs))
	scopes := map[domain.PersonID]*domain.Scope{}
	for i, r := range reqs {
		res, err := a.checkOne(ctx, cl, r, scopes)
		if errors.Is(err, errNoViewer) && r.Viewer == cl.person {
			a.fail(c, errNoViewer)
			return
		}
		if err != nil {
			a.fail(c, err)
			return
		}
		results[i] = res
	}
	for _, r := range results {
		if !r.Allowed && a.vanished(c) {
			a.fail(c, errRebuilding)
			return
		}
		if !r.Allowed {
			break
		}
	}
	if batch {
		c.JSON(http.StatusOK, BatchResult{Results: results})
		return
	}
	c.JSON(http.StatusOK, results[0])
}

func validType(t string) bool {
	for _, v := range resourceTypes {
		if v == t {
			return true
		}
	}
	return false
}

const (
	explainNone     = "no rule of the access model grants this viewer this resource, or the resource does not exist"
	explainNoViewer = "the viewer is not an active user (contacts, invited, suspended and removed users see nothing), or does not exist"
)

// quickTicketCheck answers the commonest check — may the viewer read one ticket — in one round
// trip: a service asking on behalf of a viewer (its token's scopes hold viewers:read), or a user
// asking about itself whom an earlier request resolved (the binding is confirmed in that round
// trip, beside the ticket's keys, the viewer's table digest and whether the read models are
// there at all). It answers nothing and reports false for any other check, and when the binding
// changed: check then answers it the long way.
func (a *API) quickTicketCheck(c *gin.Context, body CheckBody) bool {
	r := body.CheckRequest
	if body.Checks != nil || r.Resource.Type != ResourceTicket || r.Resource.ID == "" || (r.Action != "" && r.Action != ActionRead) {
		return false
	}
	id, ok := auth.FromContext(c)
	if !ok {
		return false
	}
	var cl caller
	subject := ""
	switch id.Kind {
	case domain.PrincipalService:
		cl = caller{tenant: id.Tenant, keys: a.models.Keys(), service: id.Service, rights: id.Scopes}
		if r.Viewer == "" || !cl.has(domain.PermViewersRead) {
			return false // the long way answers the refusal
		}
	case domain.PrincipalUser:
		if cl, subject, ok = a.rememberedCaller(c); !ok || (r.Viewer != "" && r.Viewer != cl.person) {
			return false
		}
		r.Viewer = cl.person
	default:
		return false
	}
	r.Action = ActionRead
	ctx := c.Request.Context()
	pipe := a.rdb.Pipeline()
	var bound func() (bool, error)
	if subject != "" {
		bound = directory.NewReader(a.rdb, cl.keys).QueueBindingCheck(ctx, pipe, cl.tenant, subject, cl.person)
	}
	present := pipe.Exists(ctx, projections.ActiveKey(cl.keys.Prefix))
	judge := visibility.NewReader(a.rdb, cl.keys).QueueTicketReasons(ctx, pipe, cl.tenant, r.Viewer, domain.TicketID(r.Resource.ID), a.tables)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		a.fail(c, err)
		return true
	}
	if bound != nil {
		if ok, err := bound(); err != nil {
			a.fail(c, err)
			return true
		} else if !ok {
			return false
		}
	}
	res := CheckResult{Viewer: r.Viewer, Action: r.Action, Resource: r.Resource, Reasons: []Reason{}}
	rs, err := judge()
	switch {
	case errors.Is(err, visibility.ErrNoTable) && subject != "":
		err = errNoViewer
	case errors.Is(err, visibility.ErrNoTable):
		res.Explanation, err = explainNoViewer, nil
	case errors.Is(err, visibility.ErrNoSuchTicket):
		res.Explanation, err = explainNone, nil
	case err == nil:
		res = grant(res, rs, explainNone)
	}
	if err == nil && !res.Allowed && (a.rebuiltSince(c) || present.Err() == nil && present.Val() == 0) {
		err = errRebuilding // a refusal read from read models that vanished would be wrong
	}
	if err != nil {
		a.fail(c, err)
		return true
	}
	c.JSON(http.StatusOK, res)
	return true
}

// checkOne answers one check. A ticket is checked in one round trip; the others from the
// viewer's scope (loaded once per viewer and batch).
func (a *API) checkOne(ctx context.Context, cl caller, r CheckRequest, scopes map[domain.PersonID]*domain.Scope) (CheckResult, error) {
	res := CheckResult{Viewer: r.Viewer, Action: r.Action, Resource: r.Resource, Reasons: []Reason{}}
	refuse := func(why string) (CheckResult, error) { res.Explanation = why; return res, nil }
	vis := visibility.NewReader(a.rdb, cl.keys)
	if r.Resource.Type == ResourceTicket {
		rs, err := vis.TicketReasonsCached(ctx, cl.tenant, r.Viewer, domain.TicketID(r.Resource.ID), a.tables)
		switch {
		case errors.Is(err, visibility.ErrNoTable):
			if r.Viewer == cl.person {
				return res, errNoViewer
			}
			return refuse(explainNoViewer)
		case errors.Is(err, visibility.ErrNoSuchTicket):
			return refuse(explainNone)
		case err != nil:
			return res, err
		}
		return grant(res, rs, explainNone), nil
	}
	s := scopes[r.Viewer]
	if s == nil {
		sc, err := vis.FullScope(ctx, cl.tenant, r.Viewer)
		if err != nil && !errors.Is(err, visibility.ErrNoTable) {
			return res, err
		}
		s = &sc
		scopes[r.Viewer] = s
	}
	if !s.HasTable {
		if r.Viewer == cl.person {
			return res, errNoViewer
		}
		return refuse(explainNoViewer)
	}
	dir := directory.NewReader(a.rdb, cl.keys)
	var rs []domain.TicketReason
	switch r.Resource.Type {
	case ResourceCompany:
		if _, err := dir.GetCompany(ctx, cl.tenant, domain.CompanyID(r.Resource.ID)); err != nil {
			return missing(res, err)
		}
		_, rs = s.SeesCompany(domain.CompanyID(r.Resource.ID))
	case ResourceSite:
		site, err := dir.GetSite(ctx, cl.tenant, domain.SiteID(r.Resource.ID))
		if err != nil {
			return missing(res, err)
		}
		rs = s.SiteReasons(site.ID, site.Company)
	case ResourceDocument:
		d, err := dir.GetDocument(ctx, cl.tenant, domain.DocID(r.Resource.ID))
		if err != nil {
			return missing(res, err)
		}
		if rs, err = a.documentReasons(ctx, cl, *s, d); err != nil {
			return res, err
		}
	case ResourcePerson:
		p, err := dir.GetPerson(ctx, cl.tenant, domain.PersonID(r.Resource.ID))
		if err != nil {
			return missing(res, err)
		}
		v, prs := s.PersonVisibility(domainPerson(&p), nil)
		if v != domain.VisibilityFull {
			t, err := a.ticketNaming(ctx, cl, *s, p.ID)
			if err != nil {
				return res, err
			}
			if t != "" {
				v, prs = domain.VisibilityLimited, []domain.PersonReason{{Rule: domain.ReasonTicketReference, Ticket: t}}
			}
		}
		for _, pr := range prs {
			res.Reasons = append(res.Reasons, Reason{Rule: pr.Rule, Company: pr.Company, Ticket: pr.Ticket})
		}
		res.Allowed = len(prs) > 0
		if res.Allowed {
			res.Visibility = v
		} else {
			res.Explanation = explainNone
		}
		return res, nil
	}
	return grant(res, rs, explainNone), nil
}

func grant(res CheckResult, rs []domain.TicketReason, why string) CheckResult {
	for _, r := range rs {
		res.Reasons = append(res.Reasons, Reason{Rule: r.Rule, Level: r.Level})
	}
	res.Allowed = len(rs) > 0
	if !res.Allowed {
		res.Explanation = why
	}
	return res
}

func missing(res CheckResult, err error) (CheckResult, error) {
	if errors.Is(err, directory.ErrNotFound) {
		res.Explanation = explainNone
		return res, nil
	}
	return res, err
}

// decodeCheck reads the body strictly: unknown fields, trailing data, an empty batch or one
// over MaxChecks are refused.
func decodeCheck(c *gin.Context) (CheckBody, *problem.Details) {
	var body CheckBody
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 256<<10))
	if err != nil {
		p := problem.Invalid("body", "the body is too large (at most 256 KiB)")
		return body, &p
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		p := problem.Invalid("body", "the body is not a check: "+err.Error())
		return body, &p
	}
	if dec.More() {
		p := problem.Invalid("body", "the body holds more than one JSON value")
		return body, &p
	}
	// encoding/json would take "Viewer" for "viewer" and let a repeated key win: refuse both.
	if err := strictjson.ExactKeys(raw, reflect.TypeOf(body)); err != nil {
		p := problem.Invalid(err.Field, err.Msg)
		return body, &p
	}
	if body.Checks != nil {
		if body.Resource != (Resource{}) || body.Viewer != "" || body.Action != "" {
			p := problem.Invalid("checks", "give either one check or a batch under \"checks\", not both")
			return body, &p
		}
		if len(body.Checks) == 0 || len(body.Checks) > MaxChecks {
			p := problem.Invalid("checks", "a batch holds 1 to "+strconv.Itoa(MaxChecks)+" checks")
			return body, &p
		}
	}
	return body, nil
}
