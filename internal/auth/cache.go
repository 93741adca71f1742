package auth

import (
	"context"
	"sync"
	"time"
)

// Cached remembers the tokens a verifies, each until it expires, at most size of them: a client
// sending the same bearer token again is not verified again. Verifying (a signature and a JSON
// parse) was a good part of the cost of a cheap read. A remembered token is never accepted past
// its own expiry, and refusals are never remembered, so the answers are exactly a's.
func Cached(a Authenticator, size int) Authenticator {
	return &cache{next: a, size: max(size, 1), ids: map[string]Identity{}, now: time.Now}
}

type cache struct {
	next Authenticator
	size int
	now  func() time.Time

	mu  sync.Mutex
	ids map[string]Identity
}

func (c *cache) Authenticate(ctx context.Context, token string) (Identity, error) {
	now := c.now()
	c.mu.Lock()
	id, ok := c.ids[token]
	if ok && !now.Before(id.Expires) {
		delete(c.ids, token)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := c.next.Authenticate(ctx, token)
	if err != nil || id.Expires.IsZero() || !now.Before(id.Expires) {
		return id, err
	}
	c.mu.Lock()
	if len(c.ids) >= c.size {
		// Make room: drop an eighth of the entries (map order is random), expired ones first.
		drop := max(c.size/8, 1)
		for k, v := range c.ids {
			if !now.Before(v.Expires) {
				delete(c.ids, k)
				drop--
			}
		}
		for k := range c.ids {
			if drop <= 0 {
				break
			}
			delete(c.ids, k)
			drop--
		}
	}
	c.ids[token] = id
	c.mu.Unlock()
	return id, nil
}
