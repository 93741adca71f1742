package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
)

// Random writes over a few keys, queued one by one on a transaction and, beside them, combined
// by projections.Writes: both must leave the same keys (real Redis).
func TestWritesCombineExactly(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	for seed := range uint64(25) {
		r := rand.New(rand.NewPCG(seed, 5))
		one, combined := fmt.Sprintf("%s:one%d:", prefix, seed), fmt.Sprintf("%s:comb%d:", prefix, seed)
		type write func(p redis.Pipeliner, w *projections.Writes, k string)
		val := func() string { return fmt.Sprint("v", r.IntN(4)) }
		ops := []func() write{
			func() write {
				f, v, f2, v2 := val(), val(), val(), val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.HSet(ctx, k+"h", f, v, f2, v2)
					} else {
						w.HSet(k+"h", f, v, f2, v2)
					}
				}
			},
			func() write {
				f := val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.HDel(ctx, k+"h", f)
					} else {
						w.HDel(k+"h", f)
					}
				}
			},
			func() write {
				f, n := fmt.Sprint("n", r.IntN(3)), int64(r.IntN(3))
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.HIncrBy(ctx, k+"h", f, n)
					} else {
						w.HIncrBy(k+"h", f, n)
					}
				}
			},
			func() write {
				z := redis.Z{Score: float64(r.IntN(5)), Member: val()}
				nx := r.IntN(2) == 0
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					switch {
					case p != nil && nx:
						p.ZAddNX(ctx, k+"z", z)
					case p != nil:
						p.ZAdd(ctx, k+"z", z)
					case nx:
						w.ZAddNX(k+"z", z)
					default:
						w.ZAdd(k+"z", z)
					}
				}
			},
			func() write {
				m := val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.ZRem(ctx, k+"z", m)
					} else {
						w.ZRem(k+"z", m)
					}
				}
			},
			func() write {
				m, add := val(), r.IntN(2) == 0
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					switch {
					case p != nil && add:
						p.SAdd(ctx, k+"s", m)
					case p != nil:
						p.SRem(ctx, k+"s", m)
					case add:
						w.SAdd(k+"s", m)
					default:
						w.SRem(k+"s", m)
					}
				}
			},
			func() write {
				v := val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.RPush(ctx, k+"l", v)
					} else {
						w.RPush(k+"l", v)
					}
				}
			},
			func() write {
				v := val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.Set(ctx, k+"str", v, 0)
					} else {
						w.Set(k+"str", v)
					}
				}
			},
			func() write {
				// MSet: keys written by nothing else, merged per group.
				key, v := fmt.Sprint("m", r.IntN(3)), val()
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.Set(ctx, k+key, v, 0)
					} else {
						w.MSet(k, k+key, v)
					}
				}
			},
			func() write {
				suffix := []string{"h", "z", "s", "l", "str"}[r.IntN(5)]
				return func(p redis.Pipeliner, w *projections.Writes, k string) {
					if p != nil {
						p.Del(ctx, k+suffix)
					} else {
						w.Del(k + suffix)
					}
				}
			},
		}
		var seq []write
		for range 40 + r.IntN(80) {
			seq = append(seq, ops[r.IntN(len(ops))]())
		}
		commands := 0
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, wr := range seq {
				wr(p, nil, one)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			w := projections.NewWrites(ctx, p)
			for _, wr := range seq {
				wr(nil, w, combined)
			}
			commands = w.Len()
			return w.Flush()
		}); err != nil {
			t.Fatal(err)
		}
		d1, n1 := testkit.Digest(ctx, rdb, one+"*", one, "")
		d2, n2 := testkit.Digest(ctx, rdb, combined+"*", combined, "")
		if d1 != d2 || n1 != n2 {
			t.Fatalf("seed %d: combined writes differ (%d keys vs %d)", seed, n2, n1)
		}
		if commands >= len(seq) {
			t.Errorf("seed %d: %d writes made %d commands", seed, len(seq), commands)
		}
	}
}

// Writing through the pipeline and through Writes in one transaction is refused.
func TestWritesRefuseMixing(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		w := projections.NewWrites(ctx, p)
		w.HSet(prefix+":a", "f", "v")
		p.Set(ctx, prefix+":b", "v", 0)
		return w.Flush()
	})
	if err != projections.ErrMixedWrites {
		t.Fatalf("err = %v, want ErrMixedWrites", err)
	}
}

// joined is an Accumulator that appends its parts to one string key in a single APPEND.
type joined struct {
	key   string
	parts []string
}

func (j *joined) Add(part any) { j.parts = append(j.parts, part.(string)) }
func (j *joined) Command() []any {
	out := ""
	for _, p := range j.parts {
		out += p
	}
	return []any{"append", j.key, out}
}

// Accumulate gives each accumulator every part handed to it, in order, and queues one command
// each, in the order of their first part among the other writes.
func TestWritesAccumulate(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	a, b := prefix+":acc:a", prefix+":acc:b"
	created := 0
	newA := func() projections.Accumulator { created++; return &joined{key: a} }
	newB := func() projections.Accumulator { created++; return &joined{key: b} }
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		w := projections.NewWrites(ctx, p)
		w.Set(b, "before:") // queued before b's accumulator: runs first
		w.Accumulate("acc:a", newA, "1")
		w.Accumulate("acc:b", newB, "x")
		w.Accumulate("acc:a", newA, "2")
		w.Accumulate("acc:a", newA, "3")
		w.Accumulate("acc:b", newB, "y")
		if w.Len() != 3 {
			t.Errorf("%d commands queued, want 3 (a SET and two accumulators)", w.Len())
		}
		return w.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	if created != 2 {
		t.Errorf("%d accumulators created, want 2", created)
	}
	if got := rdb.Get(ctx, a).Val(); got != "123" {
		t.Errorf("a = %q, want 123", got)
	}
	if got := rdb.Get(ctx, b).Val(); got != "before:xy" {
		t.Errorf("b = %q, want before:xy", got)
	}
}

// HSETs merged on one key send each field once, with its last value.
func TestWritesMergedHSetSendsEachFieldOnce(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	k := prefix + ":h"
	cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		w := projections.NewWrites(ctx, p)
		w.HSet(k, "a", "1", "b", "2", "a", "0") // a field twice in one call: Redis keeps the last
		w.HSet(k, "a", "3", "c", "4")
		w.HSet(k, "b", "5", "c", "6", "c", "7")
		return w.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 {
		t.Fatalf("%d commands, want one HSET", len(cmds))
	}
	if got, want := fmt.Sprint(cmds[0].Args()), fmt.Sprint([]any{"hset", k, "a", "1", "b", "5", "a", "3", "c", "7"}); got != want {
		t.Errorf("args %s, want %s", got, want)
	}
	if got := rdb.HGetAll(ctx, k).Val(); fmt.Sprint(got) != "map[a:3 b:5 c:7]" {
		t.Errorf("hash %v", got)
	}
}
