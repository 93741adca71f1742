package projections

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Who still reads a generation. A rebuild switches the active generation, then deletes the one
// it replaced. A serving Service keeps reading that one until it has followed the switch (at its
// next look at the active generation, then once the new generation's runners have started, which
// replays the log for a projection with in-memory state: seconds on a large log), and its
// requests in flight a little longer. Deleting at once would show those readers a half-deleted
// table — tickets missing from a listing, a viewer without a table — as if it were the truth.
//
// So every Service holds a lease, <prefix>:serving:<instance> (listed in the set <prefix>:servers),
// naming the generations it may read: the current one, and during a switch the next one too.
// Rebuilt.DropPrevious deletes the old generation only once no lease names it, plus a grace for
// the requests that began before their Service switched. From the switch until then the old
// generation is listed in <prefix>:stale: one still read after two minutes, or whose deletion was
// interrupted, stays there, and the next rebuild's DropPrevious deletes it once nobody reads it.

// ServersKey is the set of the Service instances that may hold a lease.
func ServersKey(prefix string) string { return prefix + ":servers" }

// ServingKey is an instance's lease: the generations it may read, comma-separated.
func ServingKey(prefix, instance string) string { return prefix + ":serving:" + instance }

// StaleKey lists the generations rebuilds replaced and have not deleted yet: from the switch until
// DropPrevious deletes them, and for good when that could not (still read, or interrupted).
func StaleKey(prefix string) string { return prefix + ":stale" }

// A lease lasts servingLease and is renewed every servingRenew, so a Service that died stops
// holding up the deletion of its generation after servingLease.
const (
	servingLease = 5 * time.Second
	servingRenew = time.Second
)

var (
	// dropGrace is how long a rebuild waits, after the last lease on the old generation went,
	// before deleting it: requests that read it began before their Service switched.
	dropGrace = 2 * time.Second
	// dropWait bounds a rebuild's wait for the readers of the old generation.
	dropWait = 2 * time.Minute
	// dropPoll is how often a waiting rebuild looks at the leases.
	dropPoll = 100 * time.Millisecond
)

// lease is a Service's announcement of the generations it reads.
type lease struct {
	rdb      redis.UniversalClient
	prefix   string
	instance string
	gens     func() []int64
	stop     chan struct{}
	done     chan struct{}
}

func newLease(rdb redis.UniversalClient, prefix string, gens func() []int64) *lease {
	return &lease{rdb: rdb, prefix: prefix, instance: uuid.NewString(), gens: gens,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// renew writes the lease now (at start, and whenever the generations read change).
func (l *lease) renew(ctx context.Context) error {
	parts := make([]string, 0, 2)
	for _, g := range l.gens() {
		parts = append(parts, strconv.FormatInt(g, 10))
	}
	if err := l.rdb.SAdd(ctx, ServersKey(l.prefix), l.instance).Err(); err != nil {
		return fmt.Errorf("projections: announce the generations read: %w", err)
	}
	if err := l.rdb.Set(ctx, ServingKey(l.prefix, l.instance), strings.Join(parts, ","), servingLease).Err(); err != nil {
		return fmt.Errorf("projections: announce the generations read: %w", err)
	}
	return nil
}

// keep renews the lease until stopped, then gives it up.
func (l *lease) keep() {
	defer close(l.done)
	t := time.NewTicker(servingRenew)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l.rdb.Del(ctx, ServingKey(l.prefix, l.instance))
			l.rdb.SRem(ctx, ServersKey(l.prefix), l.instance)
			cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), servingRenew)
			_ = l.renew(ctx) // a Redis outage: the lease lapses, and is written again when Redis is back
			cancel()
		}
	}
}

func (l *lease) close() {
	close(l.stop)
	<-l.done
}

// readersOf lists the instances whose lease names generation gen. Instances whose lease
// lapsed leave the set of servers.
func readersOf(ctx context.Context, rdb redis.Cmdable, prefix string, gen int64) ([]string, error) {
	servers, err := rdb.SMembers(ctx, ServersKey(prefix)).Result()
	if err != nil || len(servers) == 0 {
		return nil, err
	}
	keys := make([]string, len(servers))
	for i, s := range servers {
		keys[i] = ServingKey(prefix, s)
	}
	vals, err := rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var readers, lapsed []string
	want := strconv.FormatInt(gen, 10)
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			lapsed = append(lapsed, servers[i])
			continue
		}
		if slices.Contains(strings.Split(s, ","), want) {
			readers = append(readers, servers[i])
		}
	}
	if len(lapsed) > 0 {
		rdb.SRem(ctx, ServersKey(prefix), lapsed)
	}
	return readers, nil
}

// dropWhenUnread deletes generation gen once no Service reads it (and dropGrace after), and
// tells whether it did. Past dropWait, or when ctx ends first (an interrupted portald rebuild),
// it leaves the generation in place (listed as stale, by Rebuild, for the next rebuild).
func dropWhenUnread(ctx context.Context, rdb *redis.Client, prefix string, gen int64) (bool, error) {
	deadline := time.Now().Add(dropWait)
	for {
		readers, err := readersOf(ctx, rdb, prefix, gen)
		if err != nil {
			return false, fmt.Errorf("projections: who reads generation %d: %w", gen, err)
		}
		if len(readers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-time.After(dropPoll):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	select {
	case <-time.After(dropGrace):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if err := deleteGeneration(ctx, rdb, Keys{Prefix: prefix, Gen: gen}); err != nil {
		return false, err // interrupted part-way: the next rebuild deletes the rest
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return true, nil
}

// dropStale deletes the generations earlier rebuilds left in place that nobody reads any more
// (never active, the generation now active).
func dropStale(ctx context.Context, rdb *redis.Client, prefix string, active int64) error {
	stale, err := rdb.SMembers(ctx, StaleKey(prefix)).Result()
	if err != nil {
		return err
	}
	var unread []string
	for _, s := range stale {
		gen, err := strconv.ParseInt(s, 10, 64)
		if err != nil || gen == active {
			rdb.SRem(ctx, StaleKey(prefix), s)
			continue
		}
		readers, err := readersOf(ctx, rdb, prefix, gen)
		if err != nil {
			return err
		}
		if len(readers) == 0 {
			unread = append(unread, s)
		}
	}
	if len(unread) == 0 {
		return nil
	}
	select { // its last reader may have left it a moment ago
	case <-time.After(dropGrace):
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, s := range unread {
		gen, _ := strconv.ParseInt(s, 10, 64)
		if err := deleteGeneration(ctx, rdb, Keys{Prefix: prefix, Gen: gen}); err != nil {
			return err // it stays listed: the next rebuild deletes the rest
		}
		if ctx.Err() == nil {
			rdb.SRem(ctx, StaleKey(prefix), s)
		}
	}
	return ctx.Err()
}
