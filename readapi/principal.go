package readapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// caller is who calls, as the read models know it.
type caller struct {
	tenant domain.TenantID
	keys   projections.Keys
	// person is the calling user ("" for a service client).
	person domain.PersonID
	// service is the calling service client's id ("" for a user).
	service string
	// rights are the tenant-wide rights the caller holds: a service's scopes, or an active
	// normal user's group permissions (expanded). tenant:admin holds every right.
	rights []domain.Permission
	// active: the calling user is an active system user (set by loadRights).
	active bool
}

// has reports a tenant-wide right.
func (c caller) has(p domain.Permission) bool {
	return slices.Contains(c.rights, p) || slices.Contains(c.rights, domain.PermTenantAdmin)
}

// Refusals of the read API. None of them says whether the thing asked about exists.
var (
	errNotFound = &domain.Error{Kind: domain.KindNotFound, Code: "not-found",
		Message: "no such resource, or the viewer may not see it"}
	errNoViewer = &domain.Error{Kind: domain.KindForbidden, Code: "not-a-viewer",
		Message: "the caller is not an active user of the tenant: only active users see the portal (contacts, invited, suspended and removed users see nothing)"}
	errForbidden = &domain.Error{Kind: domain.KindForbidden, Code: "forbidden",
		Message: "this read needs a tenant-wide right the caller does not hold"}
	errViewerWithoutTable = &domain.Error{Kind: domain.KindForbidden, Code: "viewer-without-access",
		Message: "the viewer is not an active user: contacts, invited, suspended and removed users see nothing"}
	// errRebuilding marks a refusal read from read models that had vanished; fail answers it 503.
	errRebuilding = errors.New("the read models are being rebuilt")
	errUnbound    = &domain.Error{Kind: domain.KindForbidden, Code: "unknown-identity",
		Message: "this identity is not bound to a user of the tenant; accept an invitation first"}
)

// callerOf resolves the authenticated identity against the read models: a user by the person
// its subject is bound to (one round trip). A user's tenant-wide rights are loaded only when a
// route needs them (loadRights).
func (a *API) callerOf(c *gin.Context) (caller, error) {
	id, ok := auth.FromContext(c)
	if !ok {
		return caller{}, auth.ErrUnauthenticated
	}
	cl := caller{tenant: id.Tenant, keys: a.models.Keys()}
	switch id.Kind {
	case domain.PrincipalService:
		cl.service, cl.rights = id.Service, slices.Clone(id.Scopes)
		return cl, nil
	case domain.PrincipalUser:
	default:
		return caller{}, auth.ErrUnauthenticated
	}
	person, err := directory.NewReader(a.rdb, cl.keys).PersonBySubject(c.Request.Context(), id.Tenant, id.Subject)
	if errors.Is(err, directory.ErrNotFound) {
		return caller{}, errUnbound
	}
	if err != nil {
		return caller{}, err
	}
	a.bindings.Put(bindingKey(cl, id.Subject), person)
	cl.person = person
	return cl, nil
}

// rememberedCaller is the calling user as last resolved, unconfirmed: for a read that confirms
// the binding in its own first round trip (directory.Reader.QueueBindingCheck) and otherwise
// starts again with callerOf. ok is false for anyone else (a service, a user not seen before).
func (a *API) rememberedCaller(c *gin.Context) (cl caller, subject string, ok bool) {
	id, found := auth.FromContext(c)
	if !found || id.Kind != domain.PrincipalUser {
		return caller{}, "", false
	}
	cl = caller{tenant: id.Tenant, keys: a.models.Keys()}
	if cl.person, ok = a.bindings.Get(bindingKey(cl, id.Subject)); !ok {
		return caller{}, "", false
	}
	return cl, id.Subject, true
}

func bindingKey(cl caller, subject string) string { return cl.keys.Tenant(cl.tenant) + subject }

// loadRights reads a calling user's standing: active or not, and its group's tenant-wide
// rights while it is an active normal user.
func (a *API) loadRights(ctx context.Context, cl *caller) error {
	if cl.person == "" {
		return nil
	}
	dir := directory.NewReader(a.rdb, cl.keys)
	p, err := dir.GetPerson(ctx, cl.tenant, cl.person)
	if errors.Is(err, directory.ErrNotFound) {
		return errUnbound
	}
	if err != nil {
		return err
	}
	cl.active = p.Type == domain.TypeSystemUser && p.Status == domain.StatusActive
	if cl.active && p.Class == domain.ClassNormal && p.Group != "" {
		g, err := dir.GetGroup(ctx, cl.tenant, p.Group)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return err
		}
		cl.rights = g.Permissions.Expand()
	}
	return nil
}

// viewerID is the viewer a request reads as: the caller itself under /v1/me, the path's viewer
// under /v1/viewers/{viewer_id} (which needs viewers:read).
func (a *API) viewerID(c *gin.Context, cl *caller) (domain.PersonID, error) {
	id := c.Param("viewer_id")
	if id == "" {
		if cl.person == "" {
			return "", errNoViewer
		}
		return cl.person, nil
	}
	if err := a.loadRights(c.Request.Context(), cl); err != nil {
		return "", err
	}
	if cl.person != "" && !cl.active {
		return "", errNoViewer
	}
	if !cl.has(domain.PermViewersRead) {
		return "", errForbidden
	}
	return domain.PersonID(id), nil
}

// withoutTable is the refusal of a read as a viewer without a visibility table: the caller
// itself is no viewer; another is unknown (404) or has no access.
func (a *API) withoutTable(c *gin.Context, cl caller, viewer domain.PersonID) error {
	if viewer == cl.person {
		return errNoViewer
	}
	_, err := directory.NewReader(a.rdb, cl.keys).GetPerson(c.Request.Context(), cl.tenant, viewer)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return errNotFound
	case err != nil:
		return err
	}
	return errViewerWithoutTable
}

// viewerOf loads the viewer's scope (its tickets part only, or all of it). The viewer must
// have a table.
func (a *API) viewerOf(c *gin.Context, cl caller, ticketsOnly bool) (domain.Scope, error) {
	viewer, err := a.viewerID(c, &cl)
	if err != nil {
		return domain.Scope{}, err
	}
	load := visibility.NewReader(a.rdb, cl.keys).FullScope
	if ticketsOnly {
		load = visibility.NewReader(a.rdb, cl.keys).TicketScope
	}
	s, err := load(c.Request.Context(), cl.tenant, viewer)
	if errors.Is(err, visibility.ErrNoTable) {
		return s, a.withoutTable(c, cl, viewer)
	}
	return s, err
}

// readAs resolves caller and viewer (its whole scope), or answers the refusal.
func (a *API) readAs(c *gin.Context) (caller, domain.Scope, bool) { return a.resolve(c, false) }

// readTicketsAs is readAs for ticket reads: only the ticket part of the scope is loaded.
func (a *API) readTicketsAs(c *gin.Context) (caller, domain.Scope, bool) { return a.resolve(c, true) }

func (a *API) resolve(c *gin.Context, ticketsOnly bool) (caller, domain.Scope, bool) {
	cl, err := a.callerOf(c)
	if err != nil {
		a.fail(c, err)
		return cl, domain.Scope{}, false
	}
	s, err := a.viewerOf(c, cl, ticketsOnly)
	if err != nil {
		a.fail(c, err)
		return cl, s, false
	}
	return cl, s, true
}

// require resolves the caller and checks it holds one of the rights.
func (a *API) require(c *gin.Context, rights ...domain.Permission) (caller, bool) {
	cl, err := a.callerOf(c)
	if err == nil {
		err = a.loadRights(c.Request.Context(), &cl)
	}
	if err != nil {
		a.fail(c, err)
		return cl, false
	}
	if cl.person != "" && !cl.active {
		a.fail(c, errNoViewer)
		return cl, false
	}
	for _, r := range rights {
		if cl.has(r) {
			return cl, true
		}
	}
	a.fail(c, errForbidden)
	return cl, false
}

// fail answers an error as problem+json: typed refusals by kind, the rest as a 500 that says
// nothing of the cause (which is logged).
func (a *API) fail(c *gin.Context, err error) {
	var de *domain.Error
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		problem.Write(c, problem.Unauthenticated())
	case errors.Is(err, errRebuilding), errors.As(err, &de) && a.vanished(c):
		// A refusal read from read models that have just vanished (a flush) would be wrong; once
		// a read saw them vanished, it says so even if they are back by now.
		c.Header("Retry-After", "1")
		problem.Write(c, problem.New(http.StatusServiceUnavailable, "read-models-rebuilding",
			"the read models are being rebuilt from the log and would answer wrongly; retry shortly"))
	case errors.As(err, &de):
		problem.Write(c, problem.FromError(err))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		problem.Write(c, problem.New(http.StatusServiceUnavailable, "unavailable", "the read models did not answer in time"))
	case unreachable(err):
		a.logger.Warn("read models unreachable", "path", c.FullPath(), "error", err)
		c.Header("Retry-After", "1")
		problem.Write(c, problem.New(http.StatusServiceUnavailable, "read-models-unavailable", "the read-model store cannot be reached; retry shortly"))
	default:
		a.logger.Error("read failed", "path", c.FullPath(), "error", err)
		problem.Write(c, problem.New(http.StatusInternalServerError, "internal", "the read failed; it was logged"))
	}
}

// unreachable tells a read-model store that cannot be reached (refused or broken connection,
// pool exhausted, store loading or read-only) from a failed read.
func unreachable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "CLUSTERDOWN") ||
		strings.HasPrefix(msg, "TRYAGAIN") || strings.Contains(msg, "connection refused")
}

// vanished tells whether the read models are gone from Redis (the active generation's key is
// missing: a flush, or a Redis restarted empty) — checked before answering a refusal or a
// negative check, which is what vanished read models would otherwise produce until the
// projections notice and rebuild.
//
// The models being rebuilt count as vanished too, and so does a rebuild begun since the request
// started (its epoch changed): after a flush the service re-creates the active generation's key
// before the models are back, so a read made meanwhile finds the key and still reads nothing.
func (a *API) vanished(c *gin.Context) bool {
	if a.rebuiltSince(c) {
		return true
	}
	n, err := a.rdb.Exists(c.Request.Context(), projections.ActiveKey(a.models.Keys().Prefix)).Result()
	return err == nil && n == 0
}

// rebuiltSince tells whether the read models are being rebuilt, or a rebuild began since the
// request started (their epoch changed): what the request read may be the empty models.
func (a *API) rebuiltSince(c *gin.Context) bool {
	if a.models.Serving() != nil {
		return true
	}
	if m, ok := a.models.(epocher); ok {
		if start, seen := c.Get(epochKey); seen && start != m.Epoch() {
			return true
		}
	}
	return false
}

// epocher is Models that count their (re)builds (projections.Service does).
type epocher interface{ Epoch() uint64 }

// epochKey holds, in a request's context, the models' epoch when it started.
const epochKey = "readapi.epoch"
