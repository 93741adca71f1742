package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// Page sizes and the work one Query call may do.
const (
	DefaultLimit   = 100
	MaxLimit       = 1000
	DefaultMaxScan = 5000
)

// maxBatch bounds the candidates read from an index at once.
const maxBatch = 1000

// ErrInvalidFilter is returned (wrapped) for a filter that cannot be answered.
var ErrInvalidFilter = errors.New("audit: invalid filter")

// Filter selects audit entries. Empty fields do not filter; set fields must all match.
type Filter struct {
	// Actor is "user:<person id>", "service:<client id>" or "system" (eventschema.Actor.String).
	Actor string
	// Subject is any id the payload names (person, company, group, site, ticket, document, …).
	Subject string
	// Company is a company the event concerns: the actor's company or one the payload names.
	Company string
	// Type is an event type, e.g. "MembershipGranted".
	Type string
	// From (inclusive) and To (exclusive) bound occurred_at; zero means unbounded.
	From, To time.Time
	// After is the exclusive cursor: only entries after this log position. Zero: from the start.
	After eventstore.Position
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// MaxScan bounds the candidates one call examines (DefaultMaxScan when 0), so that a sparse
	// combination of filters answers a short page with a Next cursor instead of scanning the log.
	MaxScan int
}

// Page is one page of entries in log order. Next is the cursor to pass as After for the rest:
// zero when there is nothing more (as of this call). A page may hold fewer than Limit entries,
// even none, and still have a Next: the call reached its MaxScan.
type Page struct {
	Entries []Entry             `json:"entries"`
	Next    eventstore.Position `json:"next"`
}

// bound is one end of the window of members a query looks at.
type bound struct {
	member    string
	inclusive bool
	set       bool
}

// scriptArgs renders the window for the index scripts: the lower bound's member ("" for none)
// and whether it is inclusive, the upper bound's member (inclusive; "" for none).
func scriptArgs(lo, hi bound) []any {
	loM, incl, hiM := "", "0", ""
	if lo.set {
		loM = lo.member
		if lo.inclusive {
			incl = "1"
		}
	}
	if hi.set {
		hiM = hi.member
	}
	return []any{loM, incl, hiM}
}

// luaBound is the bisection of an index (see the package doc): the first record at or after
// index lo whose member is not before target — or, with after, is after it.
const luaBound = luaLess + `local function bound(key, lo, n, target, after)
  local hi = n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local r = redis.call('GETRANGE', key, mid * 32, mid * 32 + 31)
    if less(r, target) or (after and r == target) then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function window(key, n)
  local from, to = 0, n
  if ARGV[1] ~= '' then from = bound(key, 0, n, ARGV[1], ARGV[2] ~= '1') end
  if ARGV[3] ~= '' then to = bound(key, from, n, ARGV[3], true) end
  return from, to
end
local function size(key) return math.floor(redis.call('STRLEN', key) / 32) end
`

// countScript counts each index's events within the window (ARGV: scriptArgs).
var countScript = redis.NewScript(luaBound + `local out = {}
for k = 1, #KEYS do
  local from, to = window(KEYS[k], size(KEYS[k]))
  out[k] = math.max(0, to - from)
end
return out`)

// rangeScript reads up to ARGV[4] members of the index within the window (ARGV[1..3]:
// scriptArgs), as one blob, and whether more follow within the window.
var rangeScript = redis.NewScript(luaBound + `local from, to = window(KEYS[1], size(KEYS[1]))
local stop = math.min(to, from + tonumber(ARGV[4]))
if stop <= from then return {'', 0} end
local more = 0
if stop < to then more = 1 end
return {redis.call('GETRANGE', KEYS[1], from * 32, stop * 32 - 1), more}`)

// containsScript tells which members of ARGV (in log order) the index holds. When the index's
// records between the first and the last of them are not many more than they are, it answers
// those records, {0, blob}, for the caller to merge (one read, cheap for Redis); otherwise it
// bisects for each member and answers {1, {0 or 1, …}}.
var containsScript = redis.NewScript(luaBound + `local n = size(KEYS[1])
local from = bound(KEYS[1], 0, n, ARGV[1], false)
local to = bound(KEYS[1], from, n, ARGV[#ARGV], true)
if to - from <= math.min(256 * #ARGV, 65536) then
  if to <= from then return {0, ''} end
  return {0, redis.call('GETRANGE', KEYS[1], from * 32, to * 32 - 1)}
end
local lo, out = from, {}
for j = 1, #ARGV do
  lo = bound(KEYS[1], lo, to, ARGV[j], false)
  out[j] = 0
  if lo < to and redis.call('GETRANGE', KEYS[1], lo * 32, lo * 32 + 31) == ARGV[j] then out[j] = 1 end
end
return {1, out}`)

// Query answers one page of the tenant's audit trail. It picks the most selective index among
// the filters (counting each one's entries within the position window), walks it in log order
// from the cursor, checks the other filters for each batch of candidates (bisecting their
// indexes, then occurred_at on the fetched entries), and stops at Limit entries or MaxScan
// candidates, whichever comes first.
func Query(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, tenant domain.TenantID, f Filter) (Page, error) {
	raw, err := queryRaw(ctx, rdb, keys, tenant, f)
	if err != nil {
		return Page{}, err
	}
	page := Page{Entries: make([]Entry, len(raw.entries)), Next: raw.next}
	for i, data := range raw.entries {
		if err := json.Unmarshal([]byte(data), &page.Entries[i]); err != nil {
			return Page{}, fmt.Errorf("audit: entry: %w", err)
		}
	}
	return page, nil
}

// rawPage is a page of entries as stored (the JSON of Entry).
type rawPage struct {
	entries []string
	next    eventstore.Position
}

func queryRaw(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, tenant domain.TenantID, f Filter) (rawPage, error) {
	if tenant == "" {
		return rawPage{}, fmt.Errorf("%w: no tenant", ErrInvalidFilter)
	}
	if f.Limit < 0 || f.MaxScan < 0 {
		return rawPage{}, fmt.Errorf("%w: negative limit", ErrInvalidFilter)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return rawPage{}, fmt.Errorf("%w: from %s is not before to %s", ErrInvalidFilter, f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	maxScan := f.MaxScan
	if maxScan == 0 {
		maxScan = DefaultMaxScan
	}
	ks := keyspaceOf(keys, tenant)

	lo, hi, empty, err := window(ctx, rdb, ks, f)
	if err != nil || empty {
		return rawPage{}, err
	}

	var indexes []string
	if f.Actor != "" {
		indexes = append(indexes, ks.actor(f.Actor))
	}
	if f.Type != "" {
		indexes = append(indexes, ks.eventType(f.Type))
	}
	if f.Company != "" {
		indexes = append(indexes, ks.company(f.Company))
	}
	if f.Subject != "" {
		indexes = append(indexes, ks.subject(f.Subject))
	}
	if len(indexes) == 0 {
		indexes = append(indexes, ks.all())
	}
	if len(indexes) > 1 {
		counts, err := countScript.Run(ctx, rdb, indexes, scriptArgs(lo, hi)...).Int64Slice()
		if err != nil || len(counts) != len(indexes) {
			return rawPage{}, fmt.Errorf("audit: query: counting %d indexes: %d counts, %v", len(indexes), len(counts), err)
		}
		best := 0
		for i, c := range counts {
			if c == 0 {
				return rawPage{}, nil // one filter has nothing in the window
			}
			if c < counts[best] {
				best = i
			}
		}
		indexes[0], indexes[best] = indexes[best], indexes[0]
	}

	q := query{rdb: rdb, ks: ks, f: f, others: indexes[1:]}
	sc := scanner{key: indexes[0], lo: lo, hi: hi}
	return q.run(ctx, &sc, limit, maxScan)
}

// window turns the cursor and the time range into bounds on members. empty is true when the
// window holds no event.
func window(ctx context.Context, rdb redis.Cmdable, ks keyspace, f Filter) (lo, hi bound, empty bool, err error) {
	if !f.After.IsZero() {
		lo = bound{member: member(f.After), set: true}
	}
	if f.From.IsZero() && f.To.IsZero() {
		return lo, hi, false, nil
	}
	// The first event at or after From is in From's second or later, so it is at or after the
	// first prefix maximum of that second or later (every event before that maximum is in an
	// earlier second): a superset, checked exactly later. Symmetrically, the last event before
	// To is in the second of To's last instant (To is exclusive) or earlier, so it is at or
	// before the last suffix minimum of that second or earlier (every event after that minimum
	// is in a later second).
	var from, to string
	if !f.From.IsZero() {
		from = string(appendSecond(nil, f.From.Unix()))
	}
	if !f.To.IsZero() {
		to = string(appendSecond(nil, f.To.Add(-time.Nanosecond).Unix()))
	}
	res, err := timeWindowScript.Run(ctx, rdb, []string{ks.timeFirst(), ks.timeLast()}, from, to).StringSlice()
	if err != nil || len(res) != 2 {
		return lo, hi, false, fmt.Errorf("audit: query time window: %d answers, %v", len(res), err)
	}
	if from != "" {
		if res[0] == "" {
			return lo, hi, true, nil
		}
		if m := res[0]; !lo.set || m > lo.member {
			lo = bound{member: m, inclusive: true, set: true}
		}
	}
	if to != "" {
		if res[1] == "" {
			return lo, hi, true, nil
		}
		hi = bound{member: res[1], inclusive: true, set: true}
	}
	if lo.set && hi.set && (hi.member < lo.member || hi.member == lo.member && !lo.inclusive) {
		return lo, hi, true, nil
	}
	return lo, hi, false, nil
}

// timeWindowScript finds, by bisection, the <m> of the first prefix maximum of second ARGV[1] or
// later (KEYS[1]) and of the last suffix minimum of second ARGV[2] or earlier (KEYS[2]); "" for
// none, and for a bound not asked ("" in ARGV).
var timeWindowScript = redis.NewScript(luaLess + `local R = ` + strconv.Itoa(timeRecord) + `
local out = {'', ''}
if ARGV[1] ~= '' then
  local lo, hi = 0, math.floor(redis.call('STRLEN', KEYS[1]) / R)
  local n = hi
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(redis.call('GETRANGE', KEYS[1], mid * R, mid * R + 15), ARGV[1]) then lo = mid + 1 else hi = mid end
  end
  if lo < n then out[1] = redis.call('GETRANGE', KEYS[1], lo * R + 16, lo * R + R - 1) end
end
if ARGV[2] ~= '' then
  local lo, hi = 0, redis.call('LLEN', KEYS[2])
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(ARGV[2], string.sub(redis.call('LINDEX', KEYS[2], mid), 1, 16)) then hi = mid else lo = mid + 1 end
  end
  if lo > 0 then out[2] = string.sub(redis.call('LINDEX', KEYS[2], lo - 1), 17) end
end
return out`)

// scanner walks one index in log order within [lo, hi], batch by batch.
type scanner struct {
	key    string
	lo, hi bound
	done   bool // nothing left in the window after what was delivered
}

// next delivers up to n members after those already delivered, in log order; none once done.
func (s *scanner) next(ctx context.Context, rdb redis.Cmdable, n int) ([]string, error) {
	if s.done {
		return nil, nil
	}
	res, err := rangeScript.Run(ctx, rdb, []string{s.key}, append(scriptArgs(s.lo, s.hi), n)...).Slice()
	if err != nil {
		return nil, fmt.Errorf("audit: query %s: %w", s.key, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("audit: query %s: bad range reply", s.key)
	}
	blob, _ := res[0].(string)
	more, _ := res[1].(int64)
	if len(blob)%memberSize != 0 || len(blob)/memberSize > n {
		return nil, fmt.Errorf("audit: query %s: bad range of %d bytes", s.key, len(blob))
	}
	s.done = more == 0
	out := make([]string, 0, len(blob)/memberSize)
	for o := 0; o < len(blob); o += memberSize {
		out = append(out, blob[o:o+memberSize])
	}
	if len(out) > 0 {
		s.lo = bound{member: out[len(out)-1], set: true}
	} else {
		s.done = true
	}
	return out, nil
}

type query struct {
	rdb    redis.Cmdable
	ks     keyspace
	f      Filter
	others []string
}

// run fills a page from the scanner's candidates: at most limit entries, at most maxScan
// candidates consumed. A candidate is consumed once it is accepted or rejected; the cursor is
// the last one consumed.
func (q query) run(ctx context.Context, sc *scanner, limit, maxScan int) (rawPage, error) {
	var page rawPage
	examined := 0
	last := ""               // the last candidate consumed
	consumedBatch := true    // every candidate the scanner delivered was consumed
	size := max(2*limit, 64) // candidates per batch: doubles while filters reject them
	for len(page.entries) < limit && examined < maxScan {
		batch, err := sc.next(ctx, q.rdb, min(size, maxScan-examined, maxBatch))
		size *= 2
		if err != nil {
			return rawPage{}, err
		}
		if len(batch) == 0 {
			break
		}
		keep, err := q.matchIndexes(ctx, batch)
		if err != nil {
			return rawPage{}, err
		}
		i := 0 // the next candidate of batch to consume
		for i < len(batch) && len(page.entries) < limit {
			// Fetch as many survivors as could still fit in the page (all of them fit unless
			// the time range rejects some, then the loop fetches more).
			var want []string
			j := i
			for ; j < len(batch) && len(want) < limit-len(page.entries); j++ {
				if keep[j] {
					want = append(want, batch[j])
				}
			}
			entries, err := q.fetch(ctx, want)
			if err != nil {
				return rawPage{}, err
			}
			k := 0
			for ; i < j && len(page.entries) < limit; i++ {
				if !keep[i] {
					continue
				}
				ok, err := q.inTime(entries[k])
				if err != nil {
					return rawPage{}, fmt.Errorf("audit: entry %s: %w", batch[i], err)
				}
				if ok {
					page.entries = append(page.entries, entries[k])
				}
				k++
			}
		}
		examined += i
		last = batch[i-1]
		consumedBatch = i == len(batch)
	}
	if last == "" || sc.done && consumedBatch {
		return page, nil // the window is exhausted: no next page
	}
	pos, err := parseMember(last)
	if err != nil {
		return rawPage{}, err
	}
	page.next = pos
	return page, nil
}

// matchIndexes reports, for each candidate, whether it is in every other filter's index.
func (q query) matchIndexes(ctx context.Context, batch []string) ([]bool, error) {
	keep := make([]bool, len(batch))
	for i := range keep {
		keep[i] = true
	}
	if len(q.others) == 0 {
		return keep, nil
	}
	args := make([]any, len(batch))
	for i, m := range batch {
		args[i] = m
	}
	for _, k := range q.others { // one after the other: Run loads the script when Redis lacks it
		res, err := containsScript.Run(ctx, q.rdb, []string{k}, args...).Slice()
		if err != nil || len(res) != 2 {
			return nil, fmt.Errorf("audit: query: matching %s: %v", k, err)
		}
		if blob, ok := res[1].(string); ok { // the index's records over the candidates' span
			if len(blob)%memberSize != 0 {
				return nil, fmt.Errorf("audit: query: bad records of %s", k)
			}
			o := 0
			for i, m := range batch {
				for o < len(blob) && blob[o:o+memberSize] < m {
					o += memberSize
				}
				if o >= len(blob) || blob[o:o+memberSize] != m {
					keep[i] = false
				}
			}
			continue
		}
		found, _ := res[1].([]any)
		if len(found) != len(batch) {
			return nil, fmt.Errorf("audit: query: %s answered %d of %d", k, len(found), len(batch))
		}
		for i, v := range found {
			if v != int64(1) {
				keep[i] = false
			}
		}
	}
	return keep, nil
}

// fetch reads the stored entries of members, in order.
func (q query) fetch(ctx context.Context, members []string) ([]string, error) {
	if len(members) == 0 {
		return nil, nil
	}
	vals, err := q.rdb.MGet(ctx, q.ks.entries(members)...).Result()
	if err != nil {
		return nil, fmt.Errorf("audit: query entries: %w", err)
	}
	out := make([]string, len(members))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("audit: entry %s is indexed but missing", members[i])
		}
		out[i] = s
	}
	return out, nil
}

// inTime checks a stored entry's occurred_at against the filter's time range.
func (q query) inTime(data string) (bool, error) {
	if q.f.From.IsZero() && q.f.To.IsZero() {
		return true, nil
	}
	t, err := occurredAt(data)
	if err != nil {
		return false, err
	}
	return (q.f.From.IsZero() || !t.Before(q.f.From)) && (q.f.To.IsZero() || t.Before(q.f.To)), nil
}

// occurredAt reads the occurred_at of a stored entry without decoding all of it: Apply writes
// the envelope's fields before the payload, and a quote inside a JSON string is escaped, so the
// first `"occurred_at":"` is the envelope's key.
func occurredAt(data string) (time.Time, error) {
	const key = `"occurred_at":"`
	if i := strings.Index(data, key); i >= 0 {
		rest := data[i+len(key):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			if t, err := time.Parse(time.RFC3339Nano, rest[:j]); err == nil {
				return t, nil
			}
		}
	}
	var e struct {
		OccurredAt time.Time `json:"occurred_at"`
	}
	err := json.Unmarshal([]byte(data), &e)
	return e.OccurredAt, err
}

// ExportPageSize is the page size Export reads with when the filter has no Limit.
const ExportPageSize = 500

// Export writes every entry matching f after f.After, in log order, as NDJSON (one Entry as a
// JSON object per line), page by page: it holds one page in memory and flushes w after each.
// The lines are the entries as stored, without decoding and encoding them again. f.Limit is the
// page size (ExportPageSize when 0), not a total. n is the number of entries written.
func Export(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, tenant domain.TenantID, f Filter, w io.Writer) (n int, err error) {
	if f.Limit == 0 {
		f.Limit = ExportPageSize
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		page, err := queryRaw(ctx, rdb, keys, tenant, f)
		if err != nil {
			return n, err
		}
		for _, data := range page.entries {
			bw.WriteString(data) // json.Marshal output: one line
			if err := bw.WriteByte('\n'); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
			n++
		}
		if err := bw.Flush(); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if page.next.IsZero() {
			return n, nil
		}
		f.After = page.next
	}
}
