package projections

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// Writes queues a transaction's Redis writes and combines those on the same key: a write is
// merged into the last write queued on its key when both are of a kind that merges (HSET with
// HSET, a field set twice keeping its last value; ZADD with ZADD of the same flags; SADD, SREM,
// ZREM, HDEL, RPUSH with their like; HINCRBY of the same field; SET with SET, DEL with DEL).
// Writes on one key keep their order, and writes on different keys commute, so the combined transaction leaves Redis exactly as the writes one
// by one would — with far fewer commands when a batch touches a key many times (every ticket
// opened adds to its tenant's index of tickets; a ticket's record is written by each of its
// events). Flush queues the combined writes on the transaction's pipeline.
//
// A projection writes a key either through Writes (Tx.B) or straight on the pipeline (Tx.W),
// never both: writes on the pipeline are not ordered with those still held here.
type Writes struct {
	ctx  context.Context
	pipe redis.Pipeliner
	base int // the pipeline's length when the writes began: nothing else may queue meanwhile
	ops  []write
	last map[string]int // the index in ops of the last write queued on each key
}

type writeKind uint8

const (
	wHSet writeKind = iota + 1
	wHDel
	wZAdd
	wZAddNX
	wZRem
	wSAdd
	wSRem
	wRPush
	wHIncrBy
	wSet
	wDel
	wEval
	wMSet
	wAccumulate
)

var writeCommand = [...]string{wHSet: "hset", wHDel: "hdel", wZAdd: "zadd", wZAddNX: "zadd", wZRem: "zrem", wSAdd: "sadd",
	wSRem: "srem", wRPush: "rpush", wHIncrBy: "hincrby", wSet: "set", wDel: "del"}

// write is one command; args holds three free slots (command, key, and "nx" for ZADD NX) and
// then the arguments after the key, so that Flush builds the command without copying.
type write struct {
	kind   writeKind
	key    string
	script string // wEval
	args   []any
	acc    Accumulator // wAccumulate
}

const argsFrom = 3

// NewWrites begins combining writes for the transaction pipe.
func NewWrites(ctx context.Context, pipe redis.Pipeliner) *Writes {
	return NewWritesSized(ctx, pipe, 0)
}

// NewWritesSized is NewWrites with room for about n combined writes: a rebuild's batch makes
// tens of thousands, and growing the queue and its index of keys from nothing, doubling after
// doubling, copies and rehashes them over and over.
func NewWritesSized(ctx context.Context, pipe redis.Pipeliner, n int) *Writes {
	return &Writes{ctx: ctx, pipe: pipe, base: pipe.Len(), ops: make([]write, 0, n), last: make(map[string]int, n)}
}

// add queues (or merges) one write.
func (w *Writes) add(kind writeKind, key string, args ...any) {
	w.addScript(kind, key, "", args...)
}

func (w *Writes) addScript(kind writeKind, key, script string, args ...any) {
	if i, ok := w.last[key]; ok && w.ops[i].kind == kind && w.ops[i].script == script {
		prev := &w.ops[i]
		switch kind {
		case wHIncrBy:
			if prev.args[argsFrom] == args[0] {
				prev.args[argsFrom+1] = prev.args[argsFrom+1].(int64) + args[1].(int64)
				return
			}
		case wSet:
			prev.args[argsFrom] = args[0] // the last value wins
			return
		case wDel:
			return // deleting twice is deleting once
		case wHSet:
			prev.args = mergeFields(prev.args, args)
			return
		default:
			prev.args = append(prev.args, args...)
			return
		}
	}
	a := make([]any, argsFrom, argsFrom+len(args)+4)
	w.ops = append(w.ops, write{kind: kind, key: key, script: script, args: append(a, args...)})
	w.last[key] = len(w.ops) - 1
}

// mergeFields appends the field-value pairs of next to the HSET args prev, setting in place a
// field prev already sets: HSET with a field twice keeps the last value, so the merged command
// leaves the hash as the two would, with fewer arguments to send and for Redis to apply (a
// ticket's record is written by each of its events, most fields by several). Past
// maxMergedFields pairs it only appends — as correct, and a hash written with many fields in
// one batch (a tenant-wide one) costs no quadratic search.
func mergeFields(prev, next []any) []any {
	if len(prev)-argsFrom > 2*maxMergedFields {
		return append(prev, next...)
	}
	for j := 0; j+1 < len(next); j += 2 {
		f := next[j]
		found := false
		// The last pair of the field is the one Redis keeps (prev may set it twice itself).
		for i := len(prev) - 2; i >= argsFrom; i -= 2 {
			if prev[i] == f {
				prev[i+1], found = next[j+1], true
				break
			}
		}
		if !found {
			prev = append(prev, f, next[j+1])
		}
	}
	return prev
}

// maxMergedFields bounds the fields mergeFields searches (a record's are a few dozen).
const maxMergedFields = 64

// HSet sets hash fields: field, value, field, value…
func (w *Writes) HSet(key string, fieldValues ...any) {
	if len(fieldValues) > 0 {
		w.add(wHSet, key, fieldValues...)
	}
}

// HDel deletes hash fields.
func (w *Writes) HDel(key string, fields ...string) {
	if len(fields) > 0 {
		w.add(wHDel, key, strs(fields)...)
	}
}

// ZAdd adds (or moves) a member of a sorted set.
func (w *Writes) ZAdd(key string, z redis.Z) { w.add(wZAdd, key, z.Score, z.Member) }

// ZAddNX adds a member to a sorted set unless it is there already (its score stays).
func (w *Writes) ZAddNX(key string, z redis.Z) { w.add(wZAddNX, key, z.Score, z.Member) }

// ZRem removes members of a sorted set.
func (w *Writes) ZRem(key string, members ...string) {
	if len(members) > 0 {
		w.add(wZRem, key, strs(members)...)
	}
}

// SAdd adds members to a set.
func (w *Writes) SAdd(key string, members ...string) {
	if len(members) > 0 {
		w.add(wSAdd, key, strs(members)...)
	}
}

// SRem removes members of a set.
func (w *Writes) SRem(key string, members ...string) {
	if len(members) > 0 {
		w.add(wSRem, key, strs(members)...)
	}
}

// RPush appends values to a list.
func (w *Writes) RPush(key string, values ...string) {
	if len(values) > 0 {
		w.add(wRPush, key, strs(values)...)
	}
}

// HIncrBy adds n to a hash field.
func (w *Writes) HIncrBy(key, field string, n int64) { w.add(wHIncrBy, key, field, n) }

// Set sets a string key.
func (w *Writes) Set(key string, value any) { w.add(wSet, key, value) }

// Del deletes keys.
func (w *Writes) Del(keys ...string) {
	for _, k := range keys {
		w.add(wDel, k)
	}
}

// MSet sets a string key like Set, but the sets of one group (keys of one Redis Cluster slot,
// such as one tenant's, each written by nothing else) merge into one MSET. group names the MSET
// among the keys the writes are on, so it must be no key written through Writes (a prefix of
// the group's keys, such as "<tenant>audit:e:", is none).
func (w *Writes) MSet(group, key string, value any) { w.add(wMSet, group, key, value) }

// EvalEach queues a Lua script over the one key: its ARGV is a sequence of groups that the
// script applies one after the other, exactly as if each group came in its own call. Calls
// with the same script on the same key therefore merge, by concatenating their groups.
func (w *Writes) EvalEach(script, key string, args ...any) { w.addScript(wEval, key, script, args...) }

// Accumulator is a command that a projection builds up over a transaction: every call of
// Accumulate on its key hands it one part, and Flush queues the command it then makes. It lets
// a projection combine writes the other kinds cannot, such as one script over many keys.
type Accumulator interface {
	Add(part any)
	// Command is the command's arguments, "eval" or its name first.
	Command() []any
}

// MultiAccumulator is an Accumulator that may make several commands (queued in order): when
// Commands is not nil, Flush queues them instead of Command.
type MultiAccumulator interface {
	Accumulator
	Commands() [][]any
}

// Accumulate hands part to the accumulator queued under key, creating it with create on the
// first call. key names the accumulator, not necessarily a Redis key: nothing else may write
// through Writes to the keys its command writes.
func (w *Writes) Accumulate(key string, create func() Accumulator, part any) {
	if i, ok := w.last[key]; ok && w.ops[i].kind == wAccumulate {
		w.ops[i].acc.Add(part)
		return
	}
	acc := create()
	acc.Add(part)
	w.ops = append(w.ops, write{kind: wAccumulate, key: key, acc: acc})
	w.last[key] = len(w.ops) - 1
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ErrMixedWrites: a projection wrote both through Tx.B and straight on the pipeline (Tx.W) in
// one transaction, whose order Writes could not keep.
var ErrMixedWrites = errors.New("projections: a transaction wrote through both Tx.B and Tx.W")

// Flush queues the combined writes on the pipeline, in order, and forgets them. It refuses
// (ErrMixedWrites) when other commands were queued on the pipeline since the writes began.
func (w *Writes) Flush() error {
	if len(w.ops) > 0 && w.pipe.Len() != w.base {
		return ErrMixedWrites
	}
	for i := range w.ops {
		op := &w.ops[i]
		args := op.args
		if op.kind == wAccumulate {
			if m, ok := op.acc.(MultiAccumulator); ok {
				if cmds := m.Commands(); cmds != nil {
					for _, args := range cmds {
						_ = w.pipe.Process(w.ctx, redis.NewCmd(w.ctx, args...))
					}
					continue
				}
			}
			_ = w.pipe.Process(w.ctx, redis.NewCmd(w.ctx, op.acc.Command()...))
			continue
		}
		if op.kind == wEval {
			args = append([]any{"eval", op.script, 1, op.key}, args[argsFrom:]...)
			_ = w.pipe.Process(w.ctx, redis.NewCmd(w.ctx, args...))
			continue
		}
		if op.kind == wMSet {
			args = args[2:]
			args[0] = "mset"
			_ = w.pipe.Process(w.ctx, redis.NewCmd(w.ctx, args...))
			continue
		}
		if op.kind == wZAddNX {
			args[0], args[1], args[2] = "zadd", op.key, "nx"
		} else {
			args = args[1:]
			args[0], args[1] = writeCommand[op.kind], op.key
		}
		_ = w.pipe.Process(w.ctx, redis.NewCmd(w.ctx, args...))
	}
	w.ops = w.ops[:0]
	clear(w.last)
	w.base = w.pipe.Len()
	return nil
}

// Len is the number of commands the queued writes make.
func (w *Writes) Len() int { return len(w.ops) }
