// Package httpapi is the resource-shaped HTTP API of the command side (Gin): JSON in and out,
// each accepted command answering with the ids it created and the log position of its last
// event, each refusal a problem+json (RFC 9457) with a stable type.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/internal/strictjson"
)

// MaxBodyBytes bounds a command's request body.
const MaxBodyBytes = 64 << 10

// API serves the command endpoints.
type API struct {
	h      *commands.Handlers
	dirs   *commands.Directories
	logger *slog.Logger
}

// New returns the command API over the handlers.
func New(h *commands.Handlers, dirs *commands.Directories, logger *slog.Logger) *API {
	return &API{h: h, dirs: dirs, logger: logger}
}

// meta turns the authenticated identity into the command's acting principal. A user is known
// by the person bound to its OIDC subject; an unbound subject may only accept an invitation.
func (a *API) meta(c *gin.Context, allowUnbound bool) (commands.Meta, error) {
	id, ok := auth.FromContext(c)
	if !ok {
		return commands.Meta{}, auth.ErrUnauthenticated
	}
	m := commands.Meta{
		Tenant:         id.Tenant,
		IdempotencyKey: c.GetHeader("Idempotency-Key"),
		CorrelationID:  c.GetHeader("X-Correlation-Id"),
		Reason:         c.GetHeader("X-Reason"),
	}
	if len(m.IdempotencyKey) > 200 || len(m.CorrelationID) > 200 || len(m.Reason) > 1000 {
		return m, errHeaderTooLong
	}
	switch id.Kind {
	case domain.PrincipalService:
		m.Principal = domain.Principal{Kind: domain.PrincipalService, Service: id.Service, Scopes: id.Scopes}
		return m, nil
	case domain.PrincipalUser:
		m.Subject = id.Subject
		var person domain.PersonID
		err := a.dirs.View(c.Request.Context(), id.Tenant, func(d *domain.Directory) error {
			if p, ok := d.PersonBySubject(id.Subject); ok {
				person = p.ID
			}
			return nil
		})
		if err != nil {
			return m, err
		}
		if person == "" {
			if !allowUnbound {
				return m, errUnboundSubject
			}
			m.Principal = domain.Principal{Kind: domain.PrincipalUser}
			return m, nil
		}
		m.Principal = domain.User(person)
		return m, nil
	}
	return m, auth.ErrUnauthenticated
}

var (
	errHeaderTooLong  = errors.New("a header is too long")
	errUnboundSubject = &domain.Error{Kind: domain.KindForbidden, Code: "unknown-identity",
		Message: "this identity is not bound to a user of the tenant; accept an invitation first"}
)

// pathTag marks input fields filled from the URL: `path:"company_id"` (or "a|b": the first present).
const pathTag = "path"

// route builds the Gin handler of one command: decode the body strictly, fill path
// parameters, resolve the acting principal, run the handler, answer.
func route[C any](a *API, h commands.Handler[C], created bool, opts ...routeOpt) gin.HandlerFunc {
	var o routeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return func(c *gin.Context) {
		var in C
		if err := decodeBody(c, &in); err != nil {
			problem.Write(c, *err)
			return
		}
		if err := fillPath(c, &in); err != nil {
			problem.Write(c, *err)
			return
		}
		m, err := a.meta(c, o.allowUnbound)
		if err != nil {
			writeErr(c, err)
			return
		}
		res, err := h.Handle(c.Request.Context(), m, in)
		if err != nil {
			writeErr(c, err)
			return
		}
		status := http.StatusOK
		if created && !res.Replayed {
			status = http.StatusCreated
		}
		c.Header("X-Log-Position", res.Position.String())
		c.JSON(status, res)
	}
}

type routeOptions struct{ allowUnbound bool }
type routeOpt func(*routeOptions)

// unbound lets a token whose subject is not yet bound call the route (accepting an invitation).
func unbound() routeOpt { return func(o *routeOptions) { o.allowUnbound = true } }

func writeErr(c *gin.Context, err error) {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		problem.Write(c, problem.Unauthenticated())
	case errors.Is(err, errHeaderTooLong):
		problem.Write(c, problem.Invalid("headers", err.Error()))
	default:
		p := problem.FromError(err)
		if p.Status >= 500 {
			slog.Default().Error("command failed", "path", c.Request.URL.Path, "error", err)
		}
		problem.Write(c, p)
	}
}

// decodeBody reads a JSON object strictly: size-limited, unknown fields refused, nothing
// trailing. An empty body is an empty object.
func decodeBody(c *gin.Context, dst any) *problem.Details {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p := problem.New(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes))
			return &p
		}
		p := problem.Invalid("body", "the body could not be read")
		return &p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		p := problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "send application/json")
		return &p
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		p := jsonProblem(err)
		return &p
	}
	if dec.More() {
		p := problem.Invalid("body", "trailing data after the JSON object")
		return &p
	}
	// encoding/json matches keys case-insensitively and lets a repeated key override: refuse
	// both, as the schema does ("Name" is not "name").
	if err := strictjson.ExactKeys(body, reflect.TypeOf(dst)); err != nil {
		p := problem.Invalid(err.Field, err.Msg)
		return &p
	}
	return nil
}

func jsonProblem(err error) problem.Details {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem.Invalid("body", fmt.Sprintf("malformed JSON at offset %d", syn.Offset))
	case errors.As(err, &typ) && typ.Field == "":
		return problem.Invalid("body", "the body must be a JSON object, not "+typ.Value)
	case errors.As(err, &typ):
		return problem.Invalid(typ.Field, fmt.Sprintf("%s must be %s, not %s", typ.Field, jsonType(typ.Type), typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Invalid(f, fmt.Sprintf("unknown field %q", f))
	}
	return problem.Invalid("body", "malformed JSON: "+err.Error())
}

// jsonType names what JSON a Go type decodes from, for a client (never the Go type's name).
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another JSON type"
}

// fillPath copies URL parameters into the fields tagged `path:"name"`.
func fillPath(c *gin.Context, dst any) *problem.Details {
	v := reflect.ValueOf(dst).Elem()
	if v.Kind() != reflect.Struct {
		return nil
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get(pathTag)
		if name == "" {
			continue
		}
		var val string
		for _, alt := range strings.Split(name, "|") { // alternatives: the first present wins
			if val = c.Param(alt); val != "" {
				break
			}
		}
		if val == "" || len(val) > 200 {
			p := problem.Invalid(name, "a path parameter is missing or too long")
			return &p
		}
		v.Field(i).SetString(val)
	}
	return nil
}
