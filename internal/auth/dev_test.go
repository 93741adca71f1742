package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
)

var devSecret = []byte("0123456789abcdef0123456789abcdef")

func TestDevMintAndAuthenticate(t *testing.T) {
	if _, err := auth.NewDev([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
	d, err := auth.NewDev(devSecret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.Mint("acme", domain.PrincipalUser, "alice", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.Authenticate(context.Background(), tok)
	if err != nil || !identityEqual(id, auth.Identity{Tenant: "acme", Kind: domain.PrincipalUser, Subject: "alice"}) {
		t.Fatalf("user: %+v %v", id, err)
	}
	tok, _ = d.Mint("acme", domain.PrincipalService, "crm", []string{"tickets:read"}, time.Hour)
	id, err = d.Authenticate(context.Background(), tok)
	if err != nil || id.Kind != domain.PrincipalService || id.Service != "crm" || id.Subject != "" || len(id.Scopes) != 1 {
		t.Fatalf("service: %+v %v", id, err)
	}

	other, _ := auth.NewDev([]byte("another-secret-another-secret-xx"))
	foreign, _ := other.Mint("acme", domain.PrincipalUser, "alice", nil, time.Hour)
	expired, _ := d.Mint("acme", domain.PrincipalUser, "alice", nil, -time.Hour)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": auth.DevIssuer, "aud": auth.DevAudience,
		"sub": "alice", "tenant": "acme", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noTenant, _ := d.Mint("", domain.PrincipalUser, "alice", nil, time.Hour)
	for name, tok := range map[string]string{"other secret": foreign, "expired": expired, "alg none": none, "no tenant": noTenant} {
		if _, err := d.Authenticate(context.Background(), tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
