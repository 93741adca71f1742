package app

import (
	"net/url"

	"github.com/redis/go-redis/v9"
)

// RedisProtocol is the protocol the service speaks to Redis unless its URL names one (?protocol=).
// RESP2: the read models use no reply that only RESP3 has, and over RESP3 go-redis looks for push
// notifications before every reply it reads, which was 7% of a ticket listing's CPU.
const RedisProtocol = 2

// ParseRedisURL reads a redis:// URL into the options the service connects with.
func ParseRedisURL(s string) (*redis.Options, error) {
	opts, err := redis.ParseURL(s)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(s); err == nil && !u.Query().Has("protocol") {
		opts.Protocol = RedisProtocol
	}
	return opts, nil
}
