package audit

import (
	"strconv"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

// memberSize is the length of <m>, and of each record of an index.
const memberSize = 32

// luaLess compares two members as positions — or two seconds of the time index: hex numbers
// of the same length, a multiple of 8 digits, compared 8 digits at a time (each exact as a Lua
// number; whole 64-bit values are not). Lua's own string order follows the server's locale, so
// it is not used.
const luaLess = `local function less(a, b)
  if a == b then return false end
  for o = 1, #a - 7, 8 do
    local x, y = tonumber(string.sub(a, o, o + 7), 16), tonumber(string.sub(b, o, o + 7), 16)
    if x ~= y then return x < y end
  end
  return false
end
`

// timeRecord is the size of a record of the time index: the second, 16 hex digits (see
// appendSecond), then <m>.
const timeRecord = 16 + memberSize

// appendSecond appends a Unix second as 16 hex digits whose byte order is numeric order (offset
// binary: the sign bit flipped, so that seconds before 1970 sort first).
func appendSecond(b []byte, s int64) []byte {
	const digits = "0123456789abcdef"
	u := uint64(s) ^ 1<<63
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[u>>uint(shift)&0xf])
	}
	return b
}

// applyScript applies one tenant's events of a transaction. KEYS: the head, the time index
// (first: a string of records; last: a list of records), then the indexes. ARGV: the first and
// the last event's member, the records of the prefix-maximum candidates, those of the
// suffix-minimum candidates (both in log order, concatenated), then one blob of members per
// index, in log order. Events at or before the head were applied already (a replay):
// everything is skipped when the head is at or after the last event, and only what follows the
// head is applied when it is in between. It always returns an integer: a nil reply would fail
// the MULTI/EXEC in go-redis.
var applyScript = luaLess + `local head = redis.call('GET', KEYS[1])
if head and not less(head, ARGV[2]) then return 0 end
local partial = head and not less(head, ARGV[1])
local function fresh(m) return not partial or less(head, m) end
local R = ` + strconv.Itoa(timeRecord) + `
local function second(r) return string.sub(r, 1, 16) end
-- Prefix maxima: those later than the last stored are appended.
local blob, add, max = ARGV[3], {}, nil
local top = redis.call('GETRANGE', KEYS[2], -R, -1)
if #top == R then max = second(top) end
for o = 1, #blob, R do
  local r = string.sub(blob, o, o + R - 1)
  if fresh(string.sub(r, 17)) and (max == nil or less(max, second(r))) then
    add[#add + 1] = r
    max = second(r)
  end
end
if #add > 0 then redis.call('APPEND', KEYS[2], table.concat(add)) end
-- Strict suffix minima (a monotone stack): the stored records of the first fresh candidate's
-- second or later go, the fresh candidates are pushed.
blob, add = ARGV[4], {}
local least = nil
for o = 1, #blob, R do
  local r = string.sub(blob, o, o + R - 1)
  if fresh(string.sub(r, 17)) then
    if least == nil then least = second(r) end
    add[#add + 1] = r
  end
end
if least ~= nil then
  local n = redis.call('LLEN', KEYS[3])
  -- The records to keep are those before the first one not earlier than least: searched from
  -- the tail (where LINDEX is cheap and the cut usually is), doubling the step, then bisected.
  local lo, hi, step = 0, n, 1
  while step <= n do
    local i = n - step
    if less(second(redis.call('LINDEX', KEYS[3], i)), least) then lo = i + 1 break end
    hi, step = i, step * 2
  end
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(second(redis.call('LINDEX', KEYS[3], mid)), least) then lo = mid + 1 else hi = mid end
  end
  if lo == 0 then redis.call('DEL', KEYS[3]) elseif lo < n then redis.call('LTRIM', KEYS[3], 0, lo - 1) end
  for i = 1, #add, 1000 do
    redis.call('RPUSH', KEYS[3], unpack(add, i, math.min(i + 999, #add)))
  end
end
for k = 4, #KEYS do
  local blob = ARGV[k + 1]
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
	// entries is which event goes into which index, in log order: pairs of an index (in keys)
	// and an event (in members). Command lays each index's members out in one buffer sized
	// from counts, rather than growing a slice per index event by event.
	entries []int32
	counts  []int32
	// lastEvent is the last event added to each index: an event naming an id twice is in its
	// index once.
	lastEvent []int32
	// at is where each index is in keys, one map per kind: a string key takes the maps' fast
	// path, which a struct key (indexRef) does not (a tenth of the audit's CPU).
	at [ixSubject + 1]map[string]int32

	// clock is the tenant's time index as stored, in an exclusive build (Tx.Build); nil
	// otherwise. With it the batch computes the time index's changes itself and makes plain
	// commands (Commands) instead of applyScript: the script's work over the time index, a
	// record or two per event, was about a fifth of Redis's CPU in a rebuild.
	clock *tenantClock
	// In an exclusive build: the events whose records go at the end of t:first, and those
	// pushed onto t:last (clock.stack[trim:] are theirs); stored is t:last's length when the
	// batch began, trim how much of it stays.
	firsts, pushes []int32
	stored, trim   int
}

// tenantClock is what an exclusive build knows of one tenant's time index in Redis: the second
// of t:first's last record, and the seconds of t:last's records in order.
type tenantClock struct {
	max    int64
	hasMax bool
	stack  []int64
}

// clocks are the tenants' time indexes of an exclusive build (Tx.Build).
type clocks map[domain.TenantID]*tenantClock

type clocksKey struct{}

func newTenantBatch() projections.Accumulator { return newTenantBatchOn(nil) }

func newTenantBatchOn(clock *tenantClock) projections.Accumulator {
	b := &tenantBatch{clock: clock}
	for k := range b.at {
		b.at[k] = map[string]int32{}
	}
	if clock != nil {
		b.stored, b.trim = len(clock.stack), len(clock.stack)
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
	j := int32(len(b.members))
	b.members = append(b.members, ev.member)
	b.seconds = append(b.seconds, ev.second)
	if c := b.clock; c != nil {
		// t:first: a record when the second is later than every one before it.
		if !c.hasMax || ev.second > c.max {
			c.max, c.hasMax = ev.second, true
			b.firsts = append(b.firsts, j)
		}
		// t:last, a monotone stack: the records of this second or later go, this one is pushed.
		for len(c.stack) > 0 && c.stack[len(c.stack)-1] >= ev.second {
			c.stack = c.stack[:len(c.stack)-1]
			if len(c.stack) < b.trim {
				b.trim = len(c.stack) // a stored record
			} else {
				b.pushes = b.pushes[:len(b.pushes)-1]
			}
		}
		c.stack = append(c.stack, ev.second)
		b.pushes = append(b.pushes, j)
	}
	for _, ref := range ev.indexes {
		i, ok := b.at[ref.kind][ref.id]
		if !ok {
			i = int32(len(b.keys))
			b.at[ref.kind][ref.id] = i
			b.keys = append(b.keys, ev.ks.index(ref))
			b.counts = append(b.counts, 0)
			b.lastEvent = append(b.lastEvent, -1)
		}
		if b.lastEvent[i] == j {
			continue // an event names an id twice: it is in the index once
		}
		b.lastEvent[i] = j
		b.counts[i]++
		b.entries = append(b.entries, i, j)
	}
}

// blobs lays out each index's members, concatenated in log order, in one buffer.
func (b *tenantBatch) blobs() [][]byte {
	total := 0
	for _, n := range b.counts {
		total += int(n)
	}
	buf := make([]byte, total*memberSize)
	out := make([][]byte, len(b.counts))
	at := 0
	for i, n := range b.counts {
		out[i] = buf[at : at : at+int(n)*memberSize]
		at += int(n) * memberSize
	}
	for k := 0; k < len(b.entries); k += 2 {
		i := b.entries[k]
		out[i] = append(out[i], b.members[b.entries[k+1]]...)
	}
	return out
}

// Commands are an exclusive build's plain commands (nil outside one, where Command is the
// script): the records appended to t:first; t:last cut to the records that stay and the new
// ones pushed; every index's members appended; the head set. They leave Redis as applyScript
// would on a generation nobody else writes, where no event can be a replay.
func (b *tenantBatch) Commands() [][]any {
	if b.clock == nil {
		return nil
	}
	record := func(out []byte, i int32) []byte { return append(appendSecond(out, b.seconds[i]), b.members[i]...) }
	cmds := make([][]any, 0, 4+len(b.keys))
	if len(b.firsts) > 0 {
		recs := make([]byte, 0, len(b.firsts)*timeRecord)
		for _, i := range b.firsts {
			recs = record(recs, i)
		}
		cmds = append(cmds, []any{"append", b.ks.timeFirst(), recs})
	}
	switch {
	case b.trim == 0 && b.stored > 0:
		cmds = append(cmds, []any{"del", b.ks.timeLast()})
	case b.trim < b.stored:
		cmds = append(cmds, []any{"ltrim", b.ks.timeLast(), 0, b.trim - 1})
	}
	if len(b.pushes) > 0 {
		push := make([]any, 0, 2+len(b.pushes))
		push = append(push, "rpush", b.ks.timeLast())
		recs := make([]byte, 0, len(b.pushes)*timeRecord)
		for _, i := range b.pushes {
			at := len(recs)
			recs = record(recs, i)
			push = append(push, recs[at:len(recs):len(recs)])
		}
		cmds = append(cmds, push)
	}
	for i, blob := range b.blobs() {
		if len(blob) > 0 {
			cmds = append(cmds, []any{"append", b.keys[i], blob})
		}
	}
	return append(cmds, []any{"set", b.ks.head(), b.last})
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
	args := make([]any, 0, 6+3+len(b.keys)+2+len(b.keys))
	args = append(args, "eval", applyScript, 3+len(b.keys), b.ks.head(), b.ks.timeFirst(), b.ks.timeLast())
	for _, k := range b.keys {
		args = append(args, k)
	}
	record := func(out []byte, i int) []byte { return append(appendSecond(out, b.seconds[i]), b.members[i]...) }
	firstRecords := make([]byte, 0, len(firsts)*timeRecord)
	for _, i := range firsts {
		firstRecords = record(firstRecords, i)
	}
	lastRecords := make([]byte, 0, len(lasts)*timeRecord)
	for j := len(lasts) - 1; j >= 0; j-- { // in log order
		lastRecords = record(lastRecords, lasts[j])
	}
	args = append(args, b.first, b.last, firstRecords, lastRecords)
	for _, blob := range b.blobs() {
		args = append(args, blob)
	}
	return args
}
