package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
)

type countingAuth struct {
	calls int
	ids   map[string]Identity
}

func (c *countingAuth) Authenticate(_ context.Context, token string) (Identity, error) {
	c.calls++
	id, ok := c.ids[token]
	if !ok {
		return Identity{}, ErrUnauthenticated
	}
	return id, nil
}

func TestCachedRemembersTokensUntilTheyExpireAndNeverRefusals(t *testing.T) {
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	next := &countingAuth{ids: map[string]Identity{
		"good":    {Tenant: "acme", Kind: domain.PrincipalUser, Subject: "ann", Expires: now.Add(time.Minute)},
		"forever": {Tenant: "acme", Kind: domain.PrincipalUser, Subject: "bob"}, // no expiry: never cached
	}}
	c := Cached(next, 2).(*cache)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if id, err := c.Authenticate(ctx, "good"); err != nil || id.Subject != "ann" {
			t.Fatalf("good: %v %v", id, err)
		}
	}
	if next.calls != 1 {
		t.Fatalf("verified %d times, want once", next.calls)
	}
	for range 2 {
		if _, err := c.Authenticate(ctx, "bad"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("bad: %v", err)
		}
	}
	c.Authenticate(ctx, "forever")
	c.Authenticate(ctx, "forever")
	if next.calls != 5 {
		t.Fatalf("refusals or tokens without expiry were remembered: %d calls", next.calls)
	}
	// Past its expiry the token is verified again (and refused by the verifier if it says so).
	now = now.Add(time.Minute)
	delete(next.ids, "good")
	if _, err := c.Authenticate(ctx, "good"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("an expired token was answered from the cache: %v", err)
	}
	// The cache holds at most its size.
	for i := range 10 {
		tok := string(rune('a' + i))
		next.ids[tok] = Identity{Tenant: "acme", Kind: domain.PrincipalUser, Subject: tok, Expires: now.Add(time.Hour)}
		c.Authenticate(ctx, tok)
	}
	if len(c.ids) > 2 {
		t.Fatalf("the cache holds %d tokens, more than its size", len(c.ids))
	}
}
