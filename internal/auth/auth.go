// Package auth turns a request's bearer token into an Identity: who calls, for which tenant.
// Production verifies OpenID Connect tokens of the tenant's provider; development verifies
// HS256 tokens minted by "portald token" with a local secret, only when explicitly enabled.
package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
)

// Identity is an authenticated caller. Users are known by their OIDC subject (bound to a
// person when they accepted their invitation); services by their client id and scopes.
type Identity struct {
	Tenant  domain.TenantID
	Kind    domain.PrincipalKind // user or service
	Subject string               // users: the OIDC sub
	Service string               // services: the client id
	Scopes  []domain.Permission  // services: what they were granted
	// Expires is when the token stops being valid (zero: unknown, never cached).
	Expires time.Time
}

// Authenticator verifies a bearer token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// ErrUnauthenticated is returned for a missing, malformed, expired or unverifiable token.
// Its message never says which, so that a probe learns nothing.
var ErrUnauthenticated = errors.New("authentication required")

const identityKey = "portal.identity"

// Middleware authenticates every request; failures get 401 problem+json.
func Middleware(a Authenticator, onFail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			onFail(c, ErrUnauthenticated)
			return
		}
		id, err := a.Authenticate(c.Request.Context(), strings.TrimSpace(token))
		if err != nil {
			onFail(c, err)
			return
		}
		c.Set(identityKey, id)
		c.Next()
	}
}

// FromContext returns the identity Middleware stored.
func FromContext(c *gin.Context) (Identity, bool) {
	v, ok := c.Get(identityKey)
	if !ok {
		return Identity{}, false
	}
	id, ok := v.(Identity)
	return id, ok
}

// Challenge is the WWW-Authenticate value for 401 answers.
func Challenge() string { return `Bearer realm="portal-access"` }
