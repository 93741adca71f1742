package benchkit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// KeyStat is the memory of the keys of one kind.
type KeyStat struct {
	Kind  string `json:"kind"`
	Keys  int64  `json:"keys"`
	Bytes int64  `json:"bytes"`
}

// MemoryByKind scans the keys matching pattern and sums MEMORY USAGE (exact: SAMPLES 0) by the
// kind classify gives each key; keys classified "" are left out. Kinds come sorted.
func MemoryByKind(ctx context.Context, rdb *redis.Client, pattern string, classify func(key string) string) ([]KeyStat, error) {
	stats := map[string]*KeyStat{}
	var batch []string
	measure := func() error {
		if len(batch) == 0 {
			return nil
		}
		pipe := rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(batch))
		for i, k := range batch {
			cmds[i] = pipe.MemoryUsage(ctx, k, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("MEMORY USAGE: %w", err)
		}
		for i, k := range batch {
			kind := classify(k)
			if kind == "" {
				continue
			}
			s := stats[kind]
			if s == nil {
				s = &KeyStat{Kind: kind}
				stats[kind] = s
			}
			s.Keys++
			s.Bytes += cmds[i].Val() // 0 when the key went away meanwhile
		}
		batch = batch[:0]
		return nil
	}
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := measure(); err != nil {
				return nil, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	if err := measure(); err != nil {
		return nil, err
	}
	out := make([]KeyStat, 0, len(stats))
	for _, k := range slices.Sorted(maps.Keys(stats)) {
		out = append(out, *stats[k])
	}
	return out, nil
}

// UsedMemory is the Redis server's used_memory (INFO memory), in bytes.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	v, ok := InfoFields(info)["used_memory"]
	if !ok {
		return 0, fmt.Errorf("no used_memory in INFO memory")
	}
	return strconv.ParseInt(v, 10, 64)
}

// DeleteKeys unlinks every key matching pattern and returns how many it removed.
func DeleteKeys(ctx context.Context, rdb *redis.Client, pattern string) (int64, error) {
	var n int64
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d, err := rdb.Unlink(ctx, batch...).Result()
		n += d
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
