// Package projections turns the event log into read models in Redis: a Watermill router with
// one handler per projection, fed by a catch-up subscription to $all, each projection a table
// from event type to a small function that updates Redis. Every event's changes and the
// projection's checkpoint are written in one MULTI/EXEC, so a crash can neither apply an event
// twice nor skip one. Read models live in a generation; a rebuild fills the next generation
// beside the live one and switches atomically once it has caught up.
package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
)

// Keys lays out the read models of one generation. Every tenant's keys carry the tenant as
// a Redis Cluster hash tag ({tenant}), so one tenant's keys stay in one slot.
//
//	{prefix}:active                         the live generation (an integer)
//	{prefix}:started                        the last generation a rebuild started (an integer)
//	{prefix}:g{N}:cp:{projection}           checkpoint of a projection: "commit/prepare"
//	{prefix}:g{N}:{tenant}:…                the tenant's read models (see each projection)
type Keys struct {
	Prefix string
	Gen    int64
}

// DefaultPrefix namespaces the service's keys in a shared Redis.
const DefaultPrefix = "pa"

// Checkpoint is the key of a projection's checkpoint.
func (k Keys) Checkpoint(projection string) string {
	return k.Prefix + ":g" + strconv.FormatInt(k.Gen, 10) + ":cp:" + projection
}

// Tenant is the key prefix of a tenant's read models (ends with ':'). Projections call it for
// every event: it is a concatenation, not a Sprintf.
func (k Keys) Tenant(t domain.TenantID) string {
	return k.Prefix + ":g" + strconv.FormatInt(k.Gen, 10) + ":{" + string(t) + "}:"
}

// Generation is the pattern of every key of the generation, for deletion.
func (k Keys) Generation() string { return fmt.Sprintf("%s:g%d:*", k.Prefix, k.Gen) }

// ActiveKey holds the live generation.
func ActiveKey(prefix string) string { return prefix + ":active" }

// StartedKey holds the last generation a rebuild started writing (see claimGeneration).
func StartedKey(prefix string) string { return prefix + ":started" }

// ActiveGeneration reads the live generation (0 when none was ever switched to).
func ActiveGeneration(ctx context.Context, rdb redis.Cmdable, prefix string) (int64, error) {
	v, err := rdb.Get(ctx, ActiveKey(prefix)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}
