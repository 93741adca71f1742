package httpapi

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/openapi"
	"github.com/portal-access/backend/internal/problem"
)

// A routeDef is one route of the API: how it is served and how the OpenAPI document declares
// it. Register and Operations both read the same table, so the two cannot diverge.
type routeDef struct {
	op      openapi.Operation
	handler func(a *API) gin.HandlerFunc
}

// v1 is the prefix of every route; Register mounts the table under it.
const v1 = "/v1"

// routeTable is every route of the command API.
func routeTable() []routeDef {
	var out []routeDef
	out = append(out, directoryRoutes()...)
	out = append(out, peopleRoutes()...)
	out = append(out, ticketRoutes()...)
	return out
}

// Headers every command reads besides Authorization.
var commandHeaders = map[string]string{
	"Idempotency-Key":  "makes the command safe to retry: a retry with the same key answers the first result (200) without appending again, and names the same created ids (at most 200 characters)",
	"X-Correlation-Id": "ties the command's events to a wider operation in the audit trail (at most 200 characters)",
	"X-Reason":         "why the command is given, recorded in the audit trail (at most 1000 characters)",
}

// The refusals every command can answer: malformed input or invalid command (400), no valid
// token (401, implied), not allowed (403), unknown or invisible resource (404), conflict (409),
// body too large (413), body not JSON (415), business rule (422), unexpected (500), event
// store unavailable or timeout (503).
var commandProblems = []int{
	http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
	http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
	http.StatusInternalServerError, http.StatusServiceUnavailable,
}

// command declares the route of a command C: its input is C (decoded from the body, the
// fields tagged `path` from the URL), its answer a commands.Result — 201 when it creates
// something (200 when an idempotent retry answers the first result), else 200. The operation
// id is the command's name.
func command[C any](method, path, tag, summary string, pick func(*commands.Handlers) commands.Handler[C], created bool, opts ...routeOpt) routeDef {
	var in C
	op := openapi.Operation{
		Method:          method,
		Path:            v1 + path,
		ID:              reflect.TypeFor[C]().Name(),
		Summary:         summary,
		Tags:            []string{tag},
		Headers:         commandHeaders,
		Request:         in,
		Responses:       map[int]any{http.StatusOK: commands.Result{}},
		Problems:        commandProblems,
		ResponseHeaders: map[string]string{"X-Log-Position": "the log position (commit/prepare) of the command's last event: read-your-writes with the read API's minimum position"},
	}
	if created {
		op.Responses[http.StatusCreated] = commands.Result{}
		op.Description = "Answers 201 with the ids it created; a retry with the same Idempotency-Key answers 200 with the first result."
	}
	return routeDef{op: op, handler: func(a *API) gin.HandlerFunc {
		return route(a, pick(a.h), created, opts...)
	}}
}

// Operations declares every route the API registers, for the OpenAPI document.
func (a *API) Operations() []openapi.Operation { return Operations() }

// Operations declares every route of the command API (it needs no handlers).
func Operations() []openapi.Operation {
	t := routeTable()
	out := make([]openapi.Operation, len(t))
	for i, r := range t {
		out[i] = r.op
	}
	return out
}

// Register mounts the routes under /v1 with authentication.
func (a *API) Register(r gin.IRouter, authn auth.Authenticator) {
	group := r.Group(v1, auth.Middleware(authn, func(c *gin.Context, err error) {
		problem.Write(c, problem.Unauthenticated())
	}))
	for _, d := range routeTable() {
		group.Handle(d.op.Method, strings.TrimPrefix(d.op.Path, v1), d.handler(a))
	}
}
