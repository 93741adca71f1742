package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted from a provider's key set.
const minRSABits = 2048

// remoteKeys is the provider's JSON Web Key Set, cached, implementing go-oidc's KeySet.
//
// go-oidc's own RemoteKeySet refetches the key set on every token whose signature does not
// verify, without limit; this one refetches only for an unknown key id or for keys older than
// maxAge, at most once per minRefresh, one fetch at a time (concurrent callers share it). A
// refetch replaces the whole set, so keys the provider removed stop verifying.
type remoteKeys struct {
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time
	logger     *slog.Logger

	mu        sync.RWMutex
	url       string
	keys      []verificationKey
	fetchedAt time.Time
	gen       uint64 // bumped by every successful fetch

	fetchMu     sync.Mutex // one fetch at a time
	lastAttempt time.Time
}

// verificationKey is one usable public key: RSA of at least 2048 bits for RS256, or ECDSA
// P-256 for ES256.
type verificationKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.PublicKey
}

var joseAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

func (r *remoteKeys) setURL(u string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.url = u
}

func (r *remoteKeys) jwksURL() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.url
}

// VerifySignature checks the token's signature and returns its payload. go-oidc has already
// refused algorithms outside Algorithms; the token is parsed again with the same list.
func (r *remoteKeys) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, joseAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("exactly one signature is required")
	}
	h := jws.Signatures[0].Header
	kid, alg := h.KeyID, jose.SignatureAlgorithm(h.Algorithm)

	cands, gen, fetchedAt := r.candidates(kid, alg)
	stale := fetchedAt.IsZero() || r.now().Sub(fetchedAt) > r.maxAge
	if len(cands) == 0 || stale {
		// An unknown key id: the provider may have rotated; this caller needs the fetch's
		// outcome. Stale keys: it may have removed one; while another caller fetches, this one
		// goes on with the keys it has rather than wait for a provider that may be slow.
		wait := len(cands) == 0
		if err := r.refresh(ctx, gen, wait); err != nil && wait {
			if kid == "" {
				return nil, fmt.Errorf("no %s key to verify with: %w", alg, err)
			}
			return nil, fmt.Errorf("unknown key id %q: %w", kid, err)
		}
		cands, _, _ = r.candidates(kid, alg)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("the provider has no %s key with id %q", alg, kid)
	}
	for _, c := range cands {
		if payload, err := jws.Verify(c.key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("the signature does not verify")
}

// candidates are the cached keys that may have signed a token with this key id and algorithm
// (all keys of the algorithm when the token names no key).
func (r *remoteKeys) candidates(kid string, alg jose.SignatureAlgorithm) ([]verificationKey, uint64, time.Time) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []verificationKey
	for _, k := range r.keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			out = append(out, k)
		}
	}
	return out, r.gen, r.fetchedAt
}

// refresh fetches the key set unless another caller did since seenGen, or the last attempt
// is more recent than minRefresh. Without wait, it returns at once when a fetch is under way.
func (r *remoteKeys) refresh(ctx context.Context, seenGen uint64, wait bool) error {
	if wait {
		r.fetchMu.Lock()
	} else if !r.fetchMu.TryLock() {
		return nil
	}
	defer r.fetchMu.Unlock()
	r.mu.RLock()
	gen, u := r.gen, r.url
	r.mu.RUnlock()
	if gen != seenGen {
		return nil // fetched while this caller waited
	}
	now := r.now()
	if !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.minRefresh {
		return fmt.Errorf("key set fetch %w", errRateLimited)
	}
	r.lastAttempt = now
	// The fetch serves every waiting caller: it does not end with this caller's request.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	keys, err := r.fetch(fctx, u)
	if err != nil {
		r.logger.Warn("OIDC key set fetch failed", "jwks_uri", u, "error", err)
		return err
	}
	r.mu.Lock()
	r.keys, r.fetchedAt = keys, now
	r.gen++
	r.mu.Unlock()
	r.logger.Debug("OIDC key set fetched", "jwks_uri", u, "keys", len(keys))
	return nil
}

func (r *remoteKeys) fetch(ctx context.Context, u string) ([]verificationKey, error) {
	if u == "" {
		return nil, errors.New("no key set URL (discovery has not succeeded)")
	}
	body, err := httpGetJSON(ctx, r.client, u)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%s: not a JSON Web Key Set: %v", u, err)
	}
	var keys []verificationKey
	for i, raw := range set.Keys {
		k, err := usableKey(raw)
		if err != nil {
			// Unknown key types and algorithms are skipped, as RFC 7517 §5 asks.
			r.logger.Debug("OIDC key skipped", "index", i, "reason", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		r.logger.Warn("OIDC key set holds no usable RS256/ES256 signing key: every token is refused", "jwks_uri", u)
	}
	return keys, nil
}

// usableKey accepts a signing key for RS256 (RSA ≥ 2048 bits) or ES256 (P-256).
func usableKey(raw json.RawMessage) (verificationKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return verificationKey{}, err
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return verificationKey{}, fmt.Errorf("key %q is for %q, not signatures", jwk.KeyID, jwk.Use)
	}
	k := verificationKey{kid: jwk.KeyID}
	if !jwk.IsPublic() {
		jwk = jwk.Public() // a symmetric key has no public part and is refused below
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return k, fmt.Errorf("RSA key %q has %d bits, fewer than %d", k.kid, pub.N.BitLen(), minRSABits)
		}
		k.alg, k.key = jose.RS256, pub
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return k, fmt.Errorf("EC key %q is not on P-256", k.kid)
		}
		k.alg, k.key = jose.ES256, pub
	default:
		return k, fmt.Errorf("key %q: unsupported key type %T", k.kid, jwk.Key)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(k.alg) {
		return k, fmt.Errorf("key %q is for %s", k.kid, jwk.Algorithm)
	}
	return k, nil
}
