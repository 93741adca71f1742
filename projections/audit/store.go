package audit

import (
	"strconv"

	"github.com/portal-access/backend/projections"
)

// memberSize is the length of <m>, and of each record of an index.
const memberSize = 32

// luaLess compares two members as positions: four 8-digit hex numbers, each exact as a Lua
// number (whole 64-bit positions are not), compared in turn. Lua's own string order follows
// the server's locale, so it is not used.
const luaLess = `local function less(a, b)
  if a == b then return false end
  for o = 1, 25, 8 do
    local x, y = tonumber(string.sub(a, o, o + 7), 16), tonumber(string.sub(b, o, o + 7), 16)
    if x ~= y then return x < y end
  end
  return false
end
`

// applyScript applies one tenant's events of a transaction. KEYS: the head, the time index
// (first, last), then the indexes. ARGV: the first and the last event's member, the number p of
// prefix-maximum and q of suffix-minimum candidates, the p pairs (second, member), the q pairs,
// then one blob of members per index, in log order. Events at or before the head were applied
// already (a replay): everything is skipped when the head is at or after the last event, and
// only what follows the head is applied when it is in between. It always returns an integer: a
// nil reply would fail the MULTI/EXEC in go-redis.
var applyScript = luaLess + `local head = redis.call('GET', KEYS[1])
if head and not less(head, ARGV[2]) then return 0 end
local partial = head and not less(head, ARGV[1])
local function fresh(m) return not partial or less(head, m) end
local function zadd(key, list)
  for i = 1, #list, 1000 do
    redis.call('ZADD', key, unpack(list, i, math.min(i + 999, #list)))
  end
end
local p, q = tonumber(ARGV[3]), tonumber(ARGV[4])
local at = 5
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local max = nil
if top[2] ~= nil then max = tonumber(top[2]) end
local add = {}
for j = at, at + 2 * p - 1, 2 do
  local s = tonumber(ARGV[j])
  if fresh(ARGV[j + 1]) and (max == nil or s > max) then
    add[#add + 1] = ARGV[j]
    add[#add + 1] = ARGV[j + 1]
    max = s
  end
end
zadd(KEYS[2], add)
at = at + 2 * p
add = {}
local least = nil
for j = at, at + 2 * q - 1, 2 do
  if fresh(ARGV[j + 1]) then
    if least == nil then least = ARGV[j] end
    add[#add + 1] = ARGV[j]
    add[#add + 1] = ARGV[j + 1]
  end
end
if least ~= nil then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], least, '+inf')
  zadd(KEYS[3], add)
end
at = at + 2 * q
for k = 4, #KEYS do
  local blob = ARGV[at + k - 4]
  if partial then
    local keep = {}
    for o = 1, #blob, 32 do
      local m = string.sub(blob, o, o + 31)
      if less(head, m) then keep[#keep + 1] = m end
    end
    blob = table.concat(keep)
  end
  if #blob > 0 then redis.call('APPEND', KEYS[k], blob) end
end
redis.call('SET', KEYS[1], ARGV[2])
return 0`

// indexed is one event's part of a tenantBatch.
type indexed struct {
	ks      keyspace
	member  string
	second  int64
	indexes []indexRef
}

// tenantBatch gathers a transaction's events of one tenant into one applyScript call: each
// index's members concatenated in log order, and the time index's candidates.
type tenantBatch struct {
	ks          keyspace
	first, last string
	members     []string
	seconds     []int64
	keys        []string
	blobs       [][]byte
	// at is where each index is in keys and blobs, one map per kind: a string key takes the
	// maps' fast path, which a struct key (indexRef) does not (a tenth of the audit's CPU).
	at [ixSubject + 1]map[string]int
}

func newTenantBatch() projections.Accumulator {
	b := &tenantBatch{}
	for k := range b.at {
		b.at[k] = map[string]int{}
	}
	return b
}

// Add takes one event (an indexed), in log order.
func (b *tenantBatch) Add(part any) {
	ev := part.(indexed)
	if b.first == "" {
		b.ks, b.first = ev.ks, ev.member
	}
	b.last = ev.member
	b.members = append(b.members, ev.member)
	b.seconds = append(b.seconds, ev.second)
	for _, ref := range ev.indexes {
		i, ok := b.at[ref.kind][ref.id]
		if !ok {
			i = len(b.keys)
			b.at[ref.kind][ref.id] = i
			b.keys = append(b.keys, ev.ks.index(ref))
			b.blobs = append(b.blobs, make([]byte, 0, memberSize))
		}
		if blob := b.blobs[i]; len(blob) >= memberSize && string(blob[len(blob)-memberSize:]) == ev.member {
			continue // an event names an id twice: it is in the index once
		}
		b.blobs[i] = append(b.blobs[i], ev.member...)
	}
}

// Command is the applyScript call. The time index's candidates are those the batch itself does
// not rule out: the prefix maxima of its own seconds, and its strict suffix minima (the script
// checks them against what is stored).
func (b *tenantBatch) Command() []any {
	var firsts []int
	for i, s := range b.seconds {
		if len(firsts) == 0 || s > b.seconds[firsts[len(firsts)-1]] {
			firsts = append(firsts, i)
		}
	}
	var lasts []int
	for i := len(b.seconds) - 1; i >= 0; i-- {
		if len(lasts) == 0 || b.seconds[i] < b.seconds[lasts[len(lasts)-1]] {
			lasts = append(lasts, i)
		}
	}
	args := make([]any, 0, 6+3+len(b.keys)+2*len(firsts)+2*len(lasts)+len(b.blobs))
	args = append(args, "eval", applyScript, 3+len(b.keys), b.ks.head(), b.ks.timeFirst(), b.ks.timeLast())
	for _, k := range b.keys {
		args = append(args, k)
	}
	args = append(args, b.first, b.last, len(firsts), len(lasts))
	for _, i := range firsts {
		args = append(args, strconv.FormatInt(b.seconds[i], 10), b.members[i])
	}
	for j := len(lasts) - 1; j >= 0; j-- { // in log order
		i := lasts[j]
		args = append(args, strconv.FormatInt(b.seconds[i], 10), b.members[i])
	}
	for _, blob := range b.blobs {
		args = append(args, blob)
	}
	return args
}
