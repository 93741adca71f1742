package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/portal-access/backend/domain"
)

// OIDCConfig configures the verification of access tokens issued by the tenant's OpenID
// Connect provider.
//
// Claims. "iss" must equal Issuer exactly, "aud" must contain Audience, "exp" is required and
// strict, "nbf" and "iat" may be at most Leeway in the future. The tenant is the string claim
// named TenantClaim ("tenant" by default). A user is known by "sub".
//
// Service tokens (OAuth client credentials) are separate principals. A token is a service's
// when its client id ("client_id", else "azp") is one of ServiceClients, or when it carries
// "kind": "service" (the claim development tokens use, which a provider can add with a claim
// mapper). A service is known by its client id ("sub" when the token names none) and acts with
// the scopes of "scope" (space-separated), "scp" (list or space-separated) and "scopes" (list),
// each taken as a domain.Permission (e.g. "tickets:read") after ScopePrefix is removed. A user's
// scopes are ignored: what a user may do comes from the directory, never from its token.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; discovery reads Issuer/.well-known/openid-configuration.
	// It must be https (plain http is accepted only on a loopback host, for local providers).
	Issuer string
	// Audience is this API's audience: tokens for other audiences are refused.
	Audience string
	// TenantClaim names the claim that carries the tenant id (default "tenant").
	TenantClaim string
	// ServiceClients are client ids whose tokens are service principals.
	ServiceClients []string
	// ScopePrefix, when set, is removed from service scopes; scopes without it are ignored
	// (for providers that namespace scopes, e.g. "portal/" + "tickets:read").
	ScopePrefix string
	// Leeway is the clock skew tolerated for "nbf" and "iat" (default 30 s).
	Leeway time.Duration
	// MinRefreshInterval is the least time between two fetches of the key set (or of the
	// discovery document): a token naming an unknown key triggers a fetch at most this often
	// (default 30 s).
	MinRefreshInterval time.Duration
	// MaxKeyAge is how long fetched keys are used before the key set is fetched again, so that
	// keys the provider removed stop verifying even when no new key appears (default 1 h).
	MaxKeyAge time.Duration
	// HTTPClient reaches the provider (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives key-set fetch failures (warn) and refusal reasons (debug).
	Logger *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Algorithms are the signature algorithms accepted from the provider. "none" and every HMAC
// algorithm are refused, whatever a token's header says.
var Algorithms = []string{oidc.RS256, oidc.ES256}

// DefaultTenantClaim is the claim that carries the tenant when none is configured.
const DefaultTenantClaim = "tenant"

// maxTokenBytes bounds the work an unauthenticated caller can ask for.
const maxTokenBytes = 16 << 10

// OIDC verifies access tokens of an OpenID Connect provider. Discovery and key fetches happen
// on demand (the first token, an unknown key id, keys older than MaxKeyAge), rate-limited, so a
// provider that is down at start only delays authentication, and a flood of tokens naming
// unknown keys cannot turn into a flood of requests to the provider.
type OIDC struct {
	cfg      OIDCConfig
	services map[string]bool
	keys     *remoteKeys
	verifier *oidc.IDTokenVerifier

	discoverMu    sync.Mutex
	lastDiscovery time.Time
	discoveryErr  error
}

// NewOIDC checks the configuration; it does not reach the provider (see Discover).
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: the OIDC issuer is required")
	}
	if err := checkProviderURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("auth: OIDC issuer: %w", err)
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("auth: the OIDC audience is required")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = DefaultTenantClaim
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 30 * time.Second
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &OIDC{cfg: cfg, services: map[string]bool{}}
	for _, c := range cfg.ServiceClients {
		if c = strings.TrimSpace(c); c != "" {
			o.services[c] = true
		}
	}
	o.keys = &remoteKeys{client: cfg.HTTPClient, minRefresh: cfg.MinRefreshInterval, maxAge: cfg.MaxKeyAge,
		now: cfg.Now, logger: cfg.Logger}
	o.verifier = oidc.NewVerifier(cfg.Issuer, o.keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: Algorithms,
		Now:                  cfg.Now,
	})
	return o, nil
}

// DiscoveryError is a failed discovery. Permanent is true when the provider answered with a
// document that can never work (another issuer, no key set): a configuration error.
type DiscoveryError struct {
	Permanent bool
	Err       error
}

func (e *DiscoveryError) Error() string { return "OIDC discovery: " + e.Err.Error() }
func (e *DiscoveryError) Unwrap() error { return e.Err }

var errRateLimited = errors.New("rate-limited: the last attempt was too recent")

// Discover reads the provider's discovery document once: the issuer it names must be Issuer,
// and its jwks_uri is where keys are fetched. A failed attempt is retried by a later call, at
// most once per MinRefreshInterval.
func (o *OIDC) Discover(ctx context.Context) error {
	if o.keys.jwksURL() != "" {
		return nil
	}
	o.discoverMu.Lock()
	defer o.discoverMu.Unlock()
	if o.keys.jwksURL() != "" {
		return nil
	}
	now := o.cfg.Now()
	if !o.lastDiscovery.IsZero() && now.Sub(o.lastDiscovery) < o.cfg.MinRefreshInterval {
		return fmt.Errorf("%w (%w)", o.discoveryErr, errRateLimited)
	}
	o.lastDiscovery = now
	jwksURL, err := o.discover(ctx)
	if err != nil {
		o.discoveryErr = err
		o.cfg.Logger.Warn("OIDC discovery failed; tokens are refused until it succeeds", "issuer", o.cfg.Issuer, "error", err)
		return err
	}
	o.keys.setURL(jwksURL)
	o.cfg.Logger.Info("OIDC provider discovered", "issuer", o.cfg.Issuer, "jwks_uri", jwksURL)
	return nil
}

func (o *OIDC) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	wellKnown := strings.TrimSuffix(o.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := httpGetJSON(ctx, o.cfg.HTTPClient, wellKnown)
	if err != nil {
		return "", &DiscoveryError{Err: err}
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", &DiscoveryError{Err: fmt.Errorf("%s: not a discovery document: %v", wellKnown, err)}
	}
	if doc.Issuer != o.cfg.Issuer {
		return "", &DiscoveryError{Permanent: true, Err: fmt.Errorf("the provider names itself %q, not %q", doc.Issuer, o.cfg.Issuer)}
	}
	if doc.JWKSURI == "" {
		return "", &DiscoveryError{Permanent: true, Err: errors.New("the discovery document has no jwks_uri")}
	}
	if err := checkProviderURL(doc.JWKSURI); err != nil {
		return "", &DiscoveryError{Permanent: true, Err: fmt.Errorf("jwks_uri: %w", err)}
	}
	return doc.JWKSURI, nil
}

// Authenticate verifies the token and maps its claims to an Identity. Every failure wraps
// ErrUnauthenticated; the reason is logged at debug level and never returned to the caller.
func (o *OIDC) Authenticate(ctx context.Context, token string) (Identity, error) {
	id, err := o.authenticate(ctx, token)
	if err != nil {
		o.cfg.Logger.Debug("OIDC token refused", "reason", err)
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return id, nil
}

func (o *OIDC) authenticate(ctx context.Context, token string) (Identity, error) {
	if len(token) > maxTokenBytes || strings.Count(token, ".") != 2 {
		return Identity{}, errors.New("not a compact JWT")
	}
	if err := o.Discover(ctx); err != nil {
		return Identity{}, err
	}
	// Signature (RS256/ES256 only, against the provider's keys), issuer, audience, expiry.
	tok, err := o.verifier.Verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, err
	}
	// go-oidc tolerates five minutes on "nbf" and does not look at "iat": hold both to Leeway.
	now := o.cfg.Now()
	for _, name := range []string{"nbf", "iat"} {
		t, present, err := numericDate(claims[name])
		if err != nil {
			return Identity{}, fmt.Errorf("claim %q: %v", name, err)
		}
		if present && t.After(now.Add(o.cfg.Leeway)) {
			return Identity{}, fmt.Errorf("claim %q is in the future (%s)", name, t.UTC().Format(time.RFC3339))
		}
	}
	id, err := o.identity(claims)
	id.Expires = tok.Expiry
	return id, err
}

func (o *OIDC) identity(claims map[string]json.RawMessage) (Identity, error) {
	str := func(name string) (string, error) {
		raw, ok := claims[name]
		if !ok || string(raw) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("claim %q is not a string", name)
		}
		return s, nil
	}
	var sub, tenant, kind, client string
	for _, f := range []struct {
		dst  *string
		name string
	}{{&sub, "sub"}, {&tenant, o.cfg.TenantClaim}, {&kind, "kind"}, {&client, "client_id"}} {
		v, err := str(f.name)
		if err != nil {
			return Identity{}, err
		}
		*f.dst = v
	}
	if client == "" {
		azp, err := str("azp")
		if err != nil {
			return Identity{}, err
		}
		client = azp
	}
	if tenant == "" {
		return Identity{}, fmt.Errorf("no tenant claim %q", o.cfg.TenantClaim)
	}
	listed := client != "" && o.services[client]
	switch {
	case kind == string(domain.PrincipalService) || (listed && kind == ""):
		service := client
		if service == "" {
			service = sub
		}
		if service == "" {
			return Identity{}, errors.New("service token without client id or subject")
		}
		scopes, err := o.scopes(claims)
		if err != nil {
			return Identity{}, err
		}
		return Identity{Tenant: domain.TenantID(tenant), Kind: domain.PrincipalService, Service: service, Scopes: scopes}, nil
	case kind == "" || kind == string(domain.PrincipalUser):
		if listed {
			return Identity{}, fmt.Errorf("client %q is a service client but the token says kind %q", client, kind)
		}
		if sub == "" {
			return Identity{}, errors.New("no subject")
		}
		return Identity{Tenant: domain.TenantID(tenant), Kind: domain.PrincipalUser, Subject: sub}, nil
	}
	return Identity{}, fmt.Errorf("unknown principal kind %q", kind)
}

// scopes collects "scope", "scp" and "scopes" as permissions.
func (o *OIDC) scopes(claims map[string]json.RawMessage) ([]domain.Permission, error) {
	var all []string
	for _, name := range []string{"scope", "scp", "scopes"} {
		raw, ok := claims[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			all = append(all, strings.Fields(s)...)
			continue
		}
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("claim %q is neither a string nor a list of strings", name)
		}
		all = append(all, list...)
	}
	var out []domain.Permission
	for _, s := range all {
		if o.cfg.ScopePrefix != "" {
			var ok bool
			if s, ok = strings.CutPrefix(s, o.cfg.ScopePrefix); !ok {
				continue
			}
		}
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, domain.Permission(s)) {
			out = append(out, domain.Permission(s))
		}
	}
	return out, nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly fractional).
func numericDate(raw json.RawMessage) (time.Time, bool, error) {
	if raw == nil || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return time.Time{}, false, errors.New("not a number")
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false, errors.New("not a number")
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// checkProviderURL accepts https URLs, and http only on a loopback host.
func checkProviderURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: the provider must be reached over https (plain http only on loopback)", raw)
	}
	return fmt.Errorf("%q: the provider must be reached over https", raw)
}

// maxDocumentBytes bounds a discovery document or key set.
const maxDocumentBytes = 1 << 20

func httpGetJSON(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("GET %s: the document exceeds %d bytes", u, maxDocumentBytes)
	}
	return body, nil
}
