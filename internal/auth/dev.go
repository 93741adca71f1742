package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portal-access/backend/domain"
)

// DevIssuer and DevAudience mark development tokens; production tokens never carry them.
const (
	DevIssuer   = "portald-dev"
	DevAudience = "portal-access"
)

// Claims are the claims of a development token. Production OIDC tokens carry the tenant in
// the same "tenant" claim.
type Claims struct {
	jwt.RegisteredClaims
	Tenant string   `json:"tenant"`
	Kind   string   `json:"kind,omitempty"` // "user" (default) or "service"
	Scopes []string `json:"scopes,omitempty"`
}

// Dev verifies HS256 tokens signed with a local secret.
type Dev struct {
	secret []byte
}

// NewDev returns a development authenticator; the secret must be at least 32 bytes.
func NewDev(secret []byte) (*Dev, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: the development signing secret must be at least 32 bytes")
	}
	return &Dev{secret: secret}, nil
}

// Authenticate verifies signature, issuer, audience and expiry.
func (d *Dev) Authenticate(_ context.Context, token string) (Identity, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return d.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(DevIssuer), jwt.WithAudience(DevAudience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	id, err := identityFromClaims(c)
	if err == nil && c.ExpiresAt != nil {
		id.Expires = c.ExpiresAt.Time
	}
	return id, err
}

func identityFromClaims(c Claims) (Identity, error) {
	if c.Tenant == "" || c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: token without tenant or subject", ErrUnauthenticated)
	}
	id := Identity{Tenant: domain.TenantID(c.Tenant), Kind: domain.PrincipalUser, Subject: c.Subject}
	if c.Kind == string(domain.PrincipalService) {
		id.Kind, id.Service, id.Subject = domain.PrincipalService, c.Subject, ""
		for _, s := range c.Scopes {
			id.Scopes = append(id.Scopes, domain.Permission(s))
		}
	} else if c.Kind != "" && c.Kind != string(domain.PrincipalUser) {
		return Identity{}, fmt.Errorf("%w: unknown principal kind %q", ErrUnauthenticated, c.Kind)
	}
	return id, nil
}

// Mint signs a development token.
func (d *Dev) Mint(tenant domain.TenantID, kind domain.PrincipalKind, subject string, scopes []string, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: DevIssuer, Audience: jwt.ClaimStrings{DevAudience}, Subject: subject,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
		Tenant: string(tenant), Kind: string(kind), Scopes: scopes,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(d.secret)
}
