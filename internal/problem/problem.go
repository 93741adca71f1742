// Package problem writes RFC 9457 problem details and maps the service's typed errors to them
// in one place, so that every API answers the same refusal the same way.
package problem

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
)

// ContentType is the media type of problem details.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem. Type is a stable URI reference per kind of problem.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the offending input, for 400s.
	Field string `json:"field,omitempty"`
	// Code repeats the last segment of Type, for clients that switch on a string.
	Code string `json:"code"`
}

// TypeURI is the problem type of a code.
func TypeURI(code string) string { return "/problems/" + code }

// New builds a problem.
func New(status int, code, detail string) Details {
	return Details{Type: TypeURI(code), Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// Write sends p and aborts the request.
func Write(c *gin.Context, p Details) {
	if p.Instance == "" {
		p.Instance = c.Request.URL.Path
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="portal-access"`)
	}
	if p.Status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "1") // every 503 is temporary: say when to try again
	}
	c.Header("Content-Type", ContentType)
	c.AbortWithStatusJSON(p.Status, p)
}

// Invalid reports malformed input in a field.
func Invalid(field, detail string) Details {
	p := New(http.StatusBadRequest, "malformed-request", detail)
	p.Field = field
	return p
}

// Unauthenticated never says why a token was refused.
func Unauthenticated() Details {
	return New(http.StatusUnauthorized, "unauthenticated", "a valid bearer token is required")
}

// FromError maps an error to a problem: domain refusals by kind, infrastructure by cause.
// Unexpected errors become a 500 without their text, which could leak internals.
func FromError(err error) Details {
	var de *domain.Error
	if errors.As(err, &de) {
		status := map[domain.ErrorKind]int{
			domain.KindInvalid:   http.StatusBadRequest,
			domain.KindNotFound:  http.StatusNotFound,
			domain.KindForbidden: http.StatusForbidden,
			domain.KindConflict:  http.StatusConflict,
			domain.KindRule:      http.StatusUnprocessableEntity,
		}[de.Kind]
		if status == 0 {
			status = http.StatusUnprocessableEntity
		}
		p := New(status, de.Code, de.Message)
		p.Field = de.Field
		return p
	}
	switch {
	case errors.Is(err, eventstore.ErrConflict):
		return New(http.StatusConflict, "concurrent-modification", "the resource changed concurrently; retry the request")
	case errors.Is(err, eventstore.ErrUnavailable):
		return New(http.StatusServiceUnavailable, "event-store-unavailable", "the event store is not reachable; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return New(http.StatusServiceUnavailable, "timeout", "the request timed out; retry later")
	case errors.Is(err, context.Canceled):
		return New(499, "canceled", "the request was canceled")
	}
	return New(http.StatusInternalServerError, "internal", "an unexpected error occurred")
}
