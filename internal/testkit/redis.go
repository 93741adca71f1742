package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/app"
)

// RedisAddr is the real Redis the tests use (PORTAL_TEST_REDIS overrides 127.0.0.1:6379).
func RedisAddr() string {
	if a := os.Getenv("PORTAL_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Redis connects to the real test Redis and returns a key prefix unique to the test; every key
// under it is deleted when the test ends. A test fails — never skips — when Redis is down.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	return RedisDB(t, 0)
}

// Logical databases the tests own alone. CI runs packages in parallel against one Redis, so a
// test that scans its keys often (a SCAN walks the whole database, whoever's keys they are)
// gets a database of its own, where the walk is over its own keys only.
const (
	// DBRandomWorlds holds the differential test's 1,000 worlds, deleted world by world.
	DBRandomWorlds = 9
)

// RedisDB is Redis on logical database db (one of the DB constants above, or 0).
func RedisDB(t testing.TB, db int) (*redis.Client, string) {
	t.Helper()
	// The protocol the service speaks (app.RedisProtocol).
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), Protocol: app.RedisProtocol, DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("the tests need a real Redis at %s (start it with: redis-server --daemonize yes --port 6379 --save \"\" --appendonly no): %v", RedisAddr(), err)
	}
	prefix := "test-" + uuid.NewString()[:8]
	t.Cleanup(func() {
		DeleteKeys(context.Background(), rdb, prefix+":*")
		DeleteKeys(context.Background(), rdb, prefix+"*")
		_ = rdb.Close()
	})
	return rdb, prefix
}

// DeleteKeys removes every key matching pattern.
func DeleteKeys(ctx context.Context, rdb *redis.Client, pattern string) int {
	n := 0
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			n += int(rdb.Unlink(ctx, batch...).Val())
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		n += int(rdb.Unlink(ctx, batch...).Val())
	}
	return n
}

// Keys lists every key matching pattern, for digests in tests.
func Keys(ctx context.Context, rdb *redis.Client, pattern string) []string {
	var out []string
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	return out
}

// Digest hashes every key matching pattern — its name without strip, and its content — so that
// two read models can be compared whatever their key prefix. Keys containing skip are left out
// ("" skips nothing).
func Digest(ctx context.Context, rdb *redis.Client, pattern, strip, skip string) (string, int) {
	names := Keys(ctx, rdb, pattern)
	slices.Sort(names)
	h := sha256.New()
	n := 0
	for _, k := range names {
		if skip != "" && strings.Contains(k, skip) || strings.Contains(k, ":cache:") {
			continue // caches (the read API's ticket cards) are not read models
		}
		n++
		fmt.Fprintf(h, "%s\n", strings.TrimPrefix(k, strip))
		switch rdb.Type(ctx, k).Val() {
		case "hash":
			m := rdb.HGetAll(ctx, k).Val()
			fs := make([]string, 0, len(m))
			for f, v := range m {
				fs = append(fs, f+"="+v)
			}
			slices.Sort(fs)
			fmt.Fprintln(h, fs)
		case "set":
			m := rdb.SMembers(ctx, k).Val()
			slices.Sort(m)
			fmt.Fprintln(h, m)
		case "zset":
			fmt.Fprintln(h, rdb.ZRangeWithScores(ctx, k, 0, -1).Val())
		case "list":
			fmt.Fprintln(h, rdb.LRange(ctx, k, 0, -1).Val())
		case "stream":
			fmt.Fprintln(h, len(rdb.XRange(ctx, k, "-", "+").Val()))
		default:
			fmt.Fprintln(h, rdb.Get(ctx, k).Val())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), n
}
