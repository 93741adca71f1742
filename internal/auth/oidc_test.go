package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
)

const audience = "portal-api"

// provider is a local OpenID Connect provider: a discovery document and a key set that the
// test can rotate, counting key-set fetches.
type provider struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	issuer  string // what the discovery document claims (the server URL unless changed)
	fetches atomic.Int64
}

func newProvider(t *testing.T) *provider {
	p := &provider{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		iss := p.issuer
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": p.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{}, p.keys...)}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// publish replaces the key set with the public halves of keys.
func (p *provider) publish(keys ...signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = nil
	for _, k := range keys {
		p.keys = append(p.keys, jose.JSONWebKey{Key: k.public(), KeyID: k.kid, Algorithm: k.method.Alg(), Use: "sig"})
	}
}

// signer is a provider signing key.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

func (s signer) public() crypto.PublicKey { return s.key.Public() }

func rsaKey(t *testing.T, kid string) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, method: jwt.SigningMethodRS256, key: k}
}

func ecKey(t *testing.T, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, method: jwt.SigningMethodES256, key: k}
}

func (s signer) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// claims are a valid user token's claims for the provider; overrides replace or (nil) delete.
func (p *provider) claims(overrides map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": p.srv.URL, "aud": []string{audience}, "sub": "alice", "tenant": "acme",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// clock is a settable time for the authenticator's rate limits and key age.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAuth(t *testing.T, p *provider, mod func(*auth.OIDCConfig)) *auth.OIDC {
	t.Helper()
	cfg := auth.OIDCConfig{Issuer: p.srv.URL, Audience: audience, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	a, err := auth.NewOIDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAccept(t *testing.T, a *auth.OIDC, token string) auth.Identity {
	t.Helper()
	id, err := a.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	return id
}

func mustRefuse(t *testing.T, a *auth.OIDC, token string) {
	t.Helper()
	id, err := a.Authenticate(context.Background(), token)
	if err == nil {
		t.Fatalf("token accepted as %+v", id)
	}
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("refusal is not ErrUnauthenticated: %v", err)
	}
}

func TestOIDCAcceptsValidTokens(t *testing.T) {
	p := newProvider(t)
	rs, es := rsaKey(t, "rs-1"), ecKey(t, "es-1")
	p.publish(rs, es)
	a := newAuth(t, p, nil)

	id := mustAccept(t, a, rs.sign(t, p.claims(nil)))
	if !identityEqual(id, auth.Identity{Tenant: "acme", Kind: domain.PrincipalUser, Subject: "alice"}) {
		t.Fatalf("identity %+v", id)
	}
	mustAccept(t, a, es.sign(t, p.claims(map[string]any{"sub": "bob"})))
	// "aud" as a single string, a few seconds of clock skew on nbf/iat.
	skew := time.Now().Add(10 * time.Second).Unix()
	mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"aud": audience, "iat": skew, "nbf": skew})))
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times, want 1 (cached)", n)
	}
}

func TestOIDCRefusesBadTokens(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)
	a := newAuth(t, p, nil)
	mustAccept(t, a, rs.sign(t, p.claims(nil))) // keys are cached from here on

	now := time.Now()
	impostor := rsaKey(t, "rs-1") // same key id, another key
	pubDER, err := x509.MarshalPKIXPublicKey(rs.public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWith := func(secret []byte, alg jwt.SigningMethod) string {
		tok := jwt.NewWithClaims(alg, p.claims(nil))
		tok.Header["kid"] = "rs-1"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, p.claims(nil))
	none.Header["kid"] = "rs-1"
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	valid := rs.sign(t, p.claims(nil))
	parts := strings.Split(valid, ".")
	otherPayload := strings.Split(rs.sign(t, p.claims(map[string]any{"sub": "mallory"})), ".")[1]

	cases := map[string]string{
		"expired":                 rs.sign(t, p.claims(map[string]any{"exp": now.Add(-time.Minute).Unix()})),
		"no exp":                  rs.sign(t, p.claims(map[string]any{"exp": nil})),
		"nbf in the future":       rs.sign(t, p.claims(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})),
		"iat in the future":       rs.sign(t, p.claims(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})),
		"wrong issuer":            rs.sign(t, p.claims(map[string]any{"iss": "https://evil.example"})),
		"wrong audience":          rs.sign(t, p.claims(map[string]any{"aud": []string{"another-api"}})),
		"no audience":             rs.sign(t, p.claims(map[string]any{"aud": nil})),
		"no tenant":               rs.sign(t, p.claims(map[string]any{"tenant": nil})),
		"tenant not a string":     rs.sign(t, p.claims(map[string]any{"tenant": 42})),
		"no subject":              rs.sign(t, p.claims(map[string]any{"sub": nil})),
		"unknown kind":            rs.sign(t, p.claims(map[string]any{"kind": "admin"})),
		"wrong signature":         impostor.sign(t, p.claims(nil)),
		"tampered payload":        parts[0] + "." + otherPayload + "." + parts[2],
		"alg none":                noneTok,
		"alg none, RS256 sig":     strings.Split(noneTok, ".")[0] + "." + parts[1] + "." + parts[2],
		"HS256 with the PEM key":  hmacWith(pubPEM, jwt.SigningMethodHS256),
		"HS256 with the DER key":  hmacWith(pubDER, jwt.SigningMethodHS256),
		"HS512 with the PEM key":  hmacWith(pubPEM, jwt.SigningMethodHS512),
		"RS384":                   signer{kid: "rs-1", method: jwt.SigningMethodRS384, key: rs.key}.sign(t, p.claims(nil)),
		"PS256":                   signer{kid: "rs-1", method: jwt.SigningMethodPS256, key: rs.key}.sign(t, p.claims(nil)),
		"garbage":                 "not.a.jwt",
		"two parts":               parts[0] + "." + parts[1],
		"JSON serialization":      `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		"oversized":               parts[0] + "." + strings.Repeat("A", 20<<10) + "." + parts[2],
		"ES256 header on RSA key": signer{kid: "rs-1", method: jwt.SigningMethodES256, key: ecKey(t, "x").key}.sign(t, p.claims(nil)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) { mustRefuse(t, a, tok) })
	}
	// None of these may make the provider's key set be fetched again but the ES256 one, whose
	// (algorithm, key id) pair is unknown: it may cause one fetch.
	if n := p.fetches.Load(); n > 2 {
		t.Fatalf("bad tokens caused %d key-set fetches", n-1)
	}
}

func TestOIDCUnknownKeyIDIsRefusedAndRefetchIsRateLimited(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)
	clk := &clock{now: time.Now()}
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.Now = clk.Now; c.MinRefreshInterval = time.Minute })
	mustAccept(t, a, rs.sign(t, p.claims(nil)))
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches %d", n)
	}

	stranger := rsaKey(t, "who-is-this")
	clk.Advance(2 * time.Minute)
	mustRefuse(t, a, stranger.sign(t, p.claims(nil))) // refetched once, still unknown
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("unknown kid: fetches %d, want 2", n)
	}
	for i := 0; i < 20; i++ { // a flood of unknown key ids inside the interval: no more fetches
		mustRefuse(t, a, rsaKey(t, "random-"+string(rune('a'+i))).sign(t, p.claims(nil)))
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("flood of unknown kids: fetches %d, want 2", n)
	}
	mustAccept(t, a, rs.sign(t, p.claims(nil))) // known keys keep working meanwhile
}

func TestOIDCConcurrentUnknownKeyIDsShareOneFetch(t *testing.T) {
	p := newProvider(t)
	old, next := rsaKey(t, "k1"), rsaKey(t, "k2")
	p.publish(old)
	// No rate limit here: what is tested is that concurrent callers share one fetch.
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.MinRefreshInterval = time.Nanosecond })
	mustAccept(t, a, old.sign(t, p.claims(nil)))
	p.publish(old, next)
	tok := next.sign(t, p.claims(nil))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(context.Background(), tok); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || p.fetches.Load() != 2 {
		t.Fatalf("%d refused, %d fetches (want 0 refused, 2 fetches)", failed.Load(), p.fetches.Load())
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	p := newProvider(t)
	k1, k2 := rsaKey(t, "2024-key"), rsaKey(t, "2025-key")
	p.publish(k1)
	clk := &clock{now: time.Now()}
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.Now = clk.Now; c.MinRefreshInterval = 10 * time.Second })
	oldTok := k1.sign(t, p.claims(nil))
	mustAccept(t, a, oldTok)

	// The provider switches to the new key and drops the old one.
	p.publish(k2)
	clk.Advance(11 * time.Second)
	mustAccept(t, a, k2.sign(t, p.claims(nil))) // unknown kid → refetch → verifies
	mustRefuse(t, a, oldTok)                    // the refetched set no longer holds the old key
	mustRefuse(t, a, k1.sign(t, p.claims(nil)))
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches %d, want 2", n)
	}
}

func TestOIDCRemovedKeyStopsVerifyingAfterMaxKeyAge(t *testing.T) {
	p := newProvider(t)
	k1, k2 := rsaKey(t, "k1"), ecKey(t, "k2")
	p.publish(k1, k2)
	clk := &clock{now: time.Now()}
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.Now = clk.Now; c.MaxKeyAge = time.Hour })
	long := map[string]any{"exp": time.Now().Add(3 * time.Hour).Unix()}
	tok := k1.sign(t, p.claims(long))
	mustAccept(t, a, tok)

	p.publish(k2) // k1 revoked; no token names an unknown key
	clk.Advance(30 * time.Minute)
	mustAccept(t, a, tok) // still cached
	clk.Advance(31 * time.Minute)
	mustRefuse(t, a, tok) // keys too old: refetched, k1 gone
	mustAccept(t, a, k2.sign(t, p.claims(long)))
}

func TestOIDCServiceTokens(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.ServiceClients = []string{"billing-sync", "crm"} })

	// A listed client (client credentials): "scope" is space-separated.
	id := mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"sub": "svc-123", "client_id": "billing-sync", "scope": "tickets:read billing:read"})))
	want := auth.Identity{Tenant: "acme", Kind: domain.PrincipalService, Service: "billing-sync",
		Scopes: []domain.Permission{domain.PermTicketsRead, domain.PermBillingRead}}
	if !identityEqual(id, want) {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
	// azp names the client when client_id is absent; "scp" as a list.
	id = mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"azp": "crm", "scp": []string{"tickets:write"}})))
	if id.Kind != domain.PrincipalService || id.Service != "crm" || len(id.Scopes) != 1 || id.Scopes[0] != domain.PermTicketsWrite {
		t.Fatalf("azp/scp: %+v", id)
	}
	// "kind": "service" marks a service whatever its client.
	id = mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"kind": "service", "sub": "reporting", "scopes": []string{"audit:read"}})))
	if id.Kind != domain.PrincipalService || id.Service != "reporting" || id.Subject != "" || id.Scopes[0] != domain.PermAuditRead {
		t.Fatalf("kind service: %+v", id)
	}
	// A frontend client not in the list: its tokens are users', scopes ignored.
	id = mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"azp": "portal-spa", "scope": "openid tickets:read"})))
	if id.Kind != domain.PrincipalUser || id.Subject != "alice" || id.Scopes != nil {
		t.Fatalf("user token: %+v", id)
	}
	// A listed client claiming to be a user is refused rather than guessed.
	mustRefuse(t, a, rs.sign(t, p.claims(map[string]any{"client_id": "crm", "kind": "user"})))
	mustRefuse(t, a, rs.sign(t, p.claims(map[string]any{"client_id": "crm", "scope": 7})))

	// A scope prefix: only prefixed scopes count.
	b := newAuth(t, p, func(c *auth.OIDCConfig) { c.ServiceClients = []string{"crm"}; c.ScopePrefix = "portal/" })
	id = mustAccept(t, b, rs.sign(t, p.claims(map[string]any{"client_id": "crm", "scope": "portal/tickets:read tickets:write openid"})))
	if len(id.Scopes) != 1 || id.Scopes[0] != domain.PermTicketsRead {
		t.Fatalf("prefixed scopes: %+v", id.Scopes)
	}
}

func TestOIDCTenantClaimIsConfigurable(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.TenantClaim = "https://portal.example/org" })
	id := mustAccept(t, a, rs.sign(t, p.claims(map[string]any{"tenant": nil, "https://portal.example/org": "globex"})))
	if id.Tenant != "globex" {
		t.Fatalf("tenant %q", id.Tenant)
	}
	mustRefuse(t, a, rs.sign(t, p.claims(nil))) // "tenant" is not the configured claim
}

func TestOIDCDiscovery(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)

	// The provider names another issuer: a permanent configuration error, tokens refused.
	p.mu.Lock()
	p.issuer = "https://elsewhere.example"
	p.mu.Unlock()
	clk := &clock{now: time.Now()}
	a := newAuth(t, p, func(c *auth.OIDCConfig) { c.Now = clk.Now })
	err := a.Discover(context.Background())
	var de *auth.DiscoveryError
	if !errors.As(err, &de) || !de.Permanent {
		t.Fatalf("issuer mismatch: %v", err)
	}
	mustRefuse(t, a, rs.sign(t, p.claims(nil)))

	// Fixed at the provider: the next attempt (after the rate limit) succeeds.
	p.mu.Lock()
	p.issuer = p.srv.URL
	p.mu.Unlock()
	clk.Advance(time.Minute)
	mustAccept(t, a, rs.sign(t, p.claims(nil)))

	// A provider that is down is a transient failure.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	b, err := auth.NewOIDC(auth.OIDCConfig{Issuer: down.URL, Audience: audience, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Discover(context.Background()); !errors.As(err, &de) || de.Permanent {
		t.Fatalf("provider down: %v", err)
	}
}

func TestOIDCConfigIsChecked(t *testing.T) {
	for name, cfg := range map[string]auth.OIDCConfig{
		"no issuer":        {Audience: audience},
		"no audience":      {Issuer: "https://id.example"},
		"http, not local":  {Issuer: "http://id.example", Audience: audience},
		"not a URL":        {Issuer: "id.example", Audience: audience},
		"another scheme":   {Issuer: "ftp://id.example", Audience: audience},
		"blank audience":   {Issuer: "https://id.example", Audience: "  "},
		"relative issuer":  {Issuer: "/realms/acme", Audience: audience},
		"javascript issue": {Issuer: "javascript:alert(1)", Audience: audience},
	} {
		if _, err := auth.NewOIDC(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, iss := range []string{"https://id.example/realms/acme", "http://localhost:8081", "http://127.0.0.1:9000/"} {
		if _, err := auth.NewOIDC(auth.OIDCConfig{Issuer: iss, Audience: audience}); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

func TestOIDCIgnoresUnusableKeys(t *testing.T) {
	p := newProvider(t)
	rs := rsaKey(t, "good")
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := rsaKey(t, "enc")
	p.mu.Lock()
	p.keys = []jose.JSONWebKey{
		{Key: weak.Public(), KeyID: "weak", Algorithm: "RS256", Use: "sig"},
		{Key: p384.Public(), KeyID: "p384", Algorithm: "ES384", Use: "sig"},
		{Key: enc.public(), KeyID: "enc", Use: "enc"},
		{Key: []byte("a-symmetric-key-a-symmetric-key!"), KeyID: "oct", Algorithm: "HS256"},
		{Key: rs.public(), KeyID: "good", Algorithm: "RS256", Use: "sig"},
	}
	p.mu.Unlock()
	a := newAuth(t, p, nil)
	mustAccept(t, a, rs.sign(t, p.claims(nil)))
	mustRefuse(t, a, signer{kid: "weak", method: jwt.SigningMethodRS256, key: weak}.sign(t, p.claims(nil)))
	mustRefuse(t, a, signer{kid: "enc", method: jwt.SigningMethodRS256, key: enc.key}.sign(t, p.claims(nil)))
	oct := jwt.NewWithClaims(jwt.SigningMethodHS256, p.claims(nil))
	oct.Header["kid"] = "oct"
	s, _ := oct.SignedString([]byte("a-symmetric-key-a-symmetric-key!"))
	mustRefuse(t, a, s)
}

func TestMiddlewareWithOIDC(t *testing.T) {
	gin.SetMode(gin.TestMode)
	p := newProvider(t)
	rs := rsaKey(t, "rs-1")
	p.publish(rs)
	a := newAuth(t, p, nil)
	h := auth.Middleware(a, func(c *gin.Context, err error) { c.AbortWithStatus(http.StatusUnauthorized) })
	r := gin.New()
	r.GET("/me", h, func(c *gin.Context) {
		id, _ := auth.FromContext(c)
		c.String(http.StatusOK, string(id.Tenant)+"/"+id.Subject)
	})
	for _, tc := range []struct {
		header string
		status int
		body   string
	}{
		{"Bearer " + rs.sign(t, p.claims(nil)), 200, "acme/alice"},
		{"bearer " + rs.sign(t, p.claims(nil)), 200, "acme/alice"},
		{"Bearer " + rs.sign(t, p.claims(map[string]any{"aud": "x"})), 401, ""},
		{"Basic dXNlcjpwYXNz", 401, ""},
		{"", 401, ""},
	} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/me", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		r.ServeHTTP(w, req)
		if w.Code != tc.status || (tc.body != "" && w.Body.String() != tc.body) {
			t.Errorf("%.20s…: %d %q", tc.header, w.Code, w.Body.String())
		}
	}
}

func identityEqual(a, b auth.Identity) bool {
	if a.Tenant != b.Tenant || a.Kind != b.Kind || a.Subject != b.Subject || a.Service != b.Service || len(a.Scopes) != len(b.Scopes) {
		return false
	}
	for i := range a.Scopes {
		if a.Scopes[i] != b.Scopes[i] {
			return false
		}
	}
	return true
}
