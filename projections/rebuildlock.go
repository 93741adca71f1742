package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRebuildRunning: another rebuild of the same prefix holds the rebuild lock. Two rebuilds
// would both build the generation after the active one, each over the other's writes.
var ErrRebuildRunning = errors.New("projections: another rebuild of these read models is running")

// RebuildLockKey holds the token of the rebuild building the next generation.
func RebuildLockKey(prefix string) string { return prefix + ":rebuilding" }

// The lock expires unless renewed, so that a rebuild killed mid-way does not block the next
// one for longer than rebuildLockTTL.
const (
	rebuildLockTTL   = 30 * time.Second
	rebuildLockRenew = 10 * time.Second
)

// renewLock and releaseLock act only on the lock this rebuild holds (its token).
var (
	renewLock   = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`)
	releaseLock = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
)

// rebuildLock is the lock a rebuild holds while it builds a generation alone (Tx.Exclusive).
type rebuildLock struct {
	rdb   *redis.Client
	key   string
	token string
	stop  chan struct{}
	done  chan struct{}
}

// lockRebuild takes the rebuild lock, or answers ErrRebuildRunning. While the lock is held it
// is renewed; should a renewal find it lost (this process stalled past the TTL and another
// rebuild took it), lost is called, which cancels the rebuild before it switches anything.
func lockRebuild(ctx context.Context, rdb *redis.Client, prefix string, lost func(error)) (*rebuildLock, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	l := &rebuildLock{rdb: rdb, key: RebuildLockKey(prefix), token: hex.EncodeToString(b[:]),
		stop: make(chan struct{}), done: make(chan struct{})}
	ok, err := rdb.SetNX(ctx, l.key, l.token, rebuildLockTTL).Result()
	if err != nil {
		return nil, fmt.Errorf("projections: take the rebuild lock: %w", err)
	}
	if !ok {
		ttl, _ := rdb.PTTL(ctx, l.key).Result()
		return nil, fmt.Errorf("%w (lock %s, expires in %v unless renewed)", ErrRebuildRunning, l.key, ttl.Round(time.Second))
	}
	go func() {
		defer close(l.done)
		t := time.NewTicker(rebuildLockRenew)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				n, err := renewLock.Run(context.Background(), rdb, []string{l.key}, l.token, rebuildLockTTL.Milliseconds()).Int()
				if err == nil && n == 0 {
					lost(fmt.Errorf("projections: the rebuild lock %s was lost (this rebuild stalled past %v)", l.key, rebuildLockTTL))
					return
				}
				// A failed renewal (Redis unreachable) is tried again at the next tick; the
				// rebuild's own writes fail meanwhile.
			}
		}
	}()
	return l, nil
}

// holds reports whether the lock is still this rebuild's.
func (l *rebuildLock) holds(ctx context.Context) error {
	v, err := l.rdb.Get(ctx, l.key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("projections: check the rebuild lock: %w", err)
	}
	if v != l.token {
		return fmt.Errorf("projections: the rebuild lock %s was lost (this rebuild stalled past %v)", l.key, rebuildLockTTL)
	}
	return nil
}

// release gives the lock up (if it is still this rebuild's).
func (l *rebuildLock) release() {
	close(l.stop)
	<-l.done
	_ = releaseLock.Run(context.Background(), l.rdb, []string{l.key}, l.token).Err()
}
