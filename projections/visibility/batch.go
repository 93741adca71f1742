package visibility

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/boundedmap"
)

// Reads for the read API: indexes and ticket keys in bulk, one round trip each.

// TicketKeys are what the read model holds about a ticket for visibility and filtering.
type TicketKeys struct {
	View   domain.TicketView
	Status string
	Type   string
	// Opened is the log position (commit) the ticket was opened at: its place in listings.
	Opened uint64
}

// Index names a per-scope ticket index of a tenant (see the package documentation).
type Index string

// Ticket indexes.
func (r *Reader) AllTickets(t domain.TenantID) Index { return Index(r.keys.Tenant(t) + "vis:i:t") }
func (r *Reader) CompanyTickets(t domain.TenantID, c domain.CompanyID) Index {
	return Index(r.keys.Tenant(t) + "vis:i:tc:" + string(c))
}
func (r *Reader) SiteTickets(t domain.TenantID, s domain.SiteID) Index {
	return Index(r.keys.Tenant(t) + "vis:i:ts:" + string(s))
}
func (r *Reader) ReportedTickets(t domain.TenantID, p domain.PersonID) Index {
	return Index(r.keys.Tenant(t) + "vis:i:tr:" + string(p))
}
func (r *Reader) TechnicianTickets(t domain.TenantID, p domain.PersonID) Index {
	return Index(r.keys.Tenant(t) + "vis:i:tt:" + string(p))
}

// Members reads whole indexes, deduplicated and sorted by id.
func (r *Reader) Members(ctx context.Context, indexes ...Index) ([]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(indexes))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, idx := range indexes {
			cmds[i] = p.ZRange(ctx, string(idx), 0, -1)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []string
	for _, c := range cmds {
		out = append(out, c.Val()...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ResponsibleTickets is the index of the tickets whose responsible user is p.
func (r *Reader) ResponsibleTickets(t domain.TenantID, p domain.PersonID) Index {
	return Index(r.keys.Tenant(t) + "vis:i:tu:" + string(p))
}

// TicketsNaming lists the tickets that name person as reporter, responsible user or
// technician, sorted by id.
func (r *Reader) TicketsNaming(ctx context.Context, t domain.TenantID, person domain.PersonID) ([]domain.TicketID, error) {
	ids, err := r.Members(ctx, r.ReportedTickets(t, person), r.ResponsibleTickets(t, person), r.TechnicianTickets(t, person))
	out := make([]domain.TicketID, len(ids))
	for i, id := range ids {
		out[i] = domain.TicketID(id)
	}
	return out, err
}

// TicketKeysOf reads several tickets' keys; nil for a ticket the read model does not know.
func (r *Reader) TicketKeysOf(ctx context.Context, t domain.TenantID, ids []domain.TicketID) ([]*TicketKeys, error) {
	P := r.keys.Tenant(t) + "vis:t:"
	cmds := make([]*redis.SliceCmd, len(ids))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, P+string(id), "company", "site", "reporter", "contractor", "technician", "status", "type", "opened")
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]*TicketKeys, len(ids))
	for i, c := range cmds {
		v := c.Val()
		str := func(j int) string { s, _ := v[j].(string); return s }
		if str(0) == "" {
			continue
		}
		opened, _ := strconv.ParseUint(str(7), 10, 64)
		out[i] = &TicketKeys{View: domain.TicketView{Company: domain.CompanyID(str(0)), Site: domain.SiteID(str(1)),
			Reporter: domain.PersonID(str(2)), Contractor: domain.CompanyID(str(3)), Technician: domain.PersonID(str(4))},
			Status: str(5), Type: str(6), Opened: opened}
	}
	return out, nil
}

// checkScript reads, in one round trip, what a ticket check needs: whether the viewer has a
// table and its unrestricted flag, the ticket's keys, and the viewer's grounds on the ticket's
// company, site and contractor. Every key is declared (one hash tag: one cluster slot).
var checkScript = redis.NewScript(`
local meta = redis.call('HGET', KEYS[1], 'unrestricted')
if not meta then return {0} end
local t = redis.call('HMGET', KEYS[2], 'company', 'site', 'reporter', 'contractor', 'technician')
if not t[1] then return {1, meta} end
local tc = redis.call('HGET', KEYS[3], t[1]) or ''
local ts = ''
if t[2] and t[2] ~= '' then ts = redis.call('HGET', KEYS[4], t[2]) or '' end
local cx = 0
if t[4] and t[4] ~= '' then cx = redis.call('SISMEMBER', KEYS[5], t[4]) end
return {2, meta, t[1], t[2] or '', t[3] or '', t[4] or '', t[5] or '', tc, ts, cx}
`)

// TicketReasonsOf is CheckTicket in one round trip (a script): the reasons viewer sees ticket,
// ErrNoTable for a viewer without a table, ErrNoSuchTicket for an unknown ticket.
func (r *Reader) TicketReasonsOf(ctx context.Context, t domain.TenantID, viewer domain.PersonID, ticket domain.TicketID) ([]domain.TicketReason, error) {
	P := r.keys.Tenant(t) + "vis:"
	v := P + "v:" + string(viewer)
	res, err := checkScript.Run(ctx, r.rdb, []string{v, P + "t:" + string(ticket), v + ":tc", v + ":ts", v + ":cx"}).Slice()
	if err != nil {
		return nil, err
	}
	switch res[0].(int64) {
	case 0:
		return nil, ErrNoTable
	case 1:
		return nil, ErrNoSuchTicket
	}
	str := func(i int) string { s, _ := res[i].(string); return s }
	view := domain.TicketView{Company: domain.CompanyID(str(2)), Site: domain.SiteID(str(3)), Reporter: domain.PersonID(str(4)),
		Contractor: domain.CompanyID(str(5)), Technician: domain.PersonID(str(6))}
	s := domain.Scope{Person: viewer, HasTable: true, Unrestricted: str(1) == "1",
		Companies: map[domain.CompanyID][]domain.TicketReason{view.Company: DecodeReasons(str(7))}, Sites: map[domain.SiteID][]domain.TicketReason{},
		ManagedSiteCompany: map[domain.SiteID]domain.CompanyID{}, ContractorAdminOf: map[domain.CompanyID]bool{}}
	if view.Site != "" {
		decodeSite(&s, view.Site, str(8))
	}
	if view.Contractor != "" {
		s.ContractorAdminOf[view.Contractor] = res[9].(int64) == 1
	}
	return s.TicketReasons(view), nil
}

// TicketReasonsCached is TicketReasonsOf for a caller that checks the same viewers again and
// again (the read API's check): the viewer's ticket table comes from cache while the digest
// Redis holds beside it is the cached table's, so a check reads two small hashes in one round
// trip (no script); a viewer not cached has its table read in full in that round trip and
// cached.
func (r *Reader) TicketReasonsCached(ctx context.Context, t domain.TenantID, viewer domain.PersonID, ticket domain.TicketID, cache *TableCache) ([]domain.TicketReason, error) {
	pipe := r.rdb.Pipeline()
	judge := r.QueueTicketReasons(ctx, pipe, t, viewer, ticket, cache)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return judge()
}

// QueueTicketReasons queues TicketReasonsCached's reads on pipe, for a caller that has more to
// read in the same round trip; the function returned judges after the pipeline ran (with one
// more round trip when the cached table turned out stale).
func (r *Reader) QueueTicketReasons(ctx context.Context, pipe redis.Pipeliner, t domain.TenantID, viewer domain.PersonID, ticket domain.TicketID, cache *TableCache) func() ([]domain.TicketReason, error) {
	P := r.keys.Tenant(t) + "vis:"
	tableOf := r.queueCachedTable(ctx, pipe, P+"v:"+string(viewer), viewer, cache)
	keys := pipe.HMGet(ctx, P+"t:"+string(ticket), "company", "site", "reporter", "contractor", "technician")
	return func() ([]domain.TicketReason, error) {
		table, err := tableOf()
		if err != nil {
			return nil, err
		}
		f, err := keys.Result()
		if err != nil {
			return nil, err
		}
		if len(f) != 5 || f[0] == nil {
			return nil, ErrNoSuchTicket
		}
		str := func(i int) string { s, _ := f[i].(string); return s }
		view := domain.TicketView{Company: domain.CompanyID(str(0)), Site: domain.SiteID(str(1)), Reporter: domain.PersonID(str(2)),
			Contractor: domain.CompanyID(str(3)), Technician: domain.PersonID(str(4))}
		return table.scope.TicketReasons(view), nil
	}
}

// ViewersWithGrounds lists, sorted, the viewers that may see a ticket with these keys: those with
// a ground on its company, site or contractor (the reverse indexes), the unrestricted ones, its
// reporter and technician. A superset: each must still be judged (TicketReasonsOf).
func (r *Reader) ViewersWithGrounds(ctx context.Context, t domain.TenantID, v domain.TicketView) ([]string, error) {
	P := r.keys.Tenant(t) + "vis:"
	keys := []string{P + "r:tc:" + string(v.Company), P + "r:all"}
	if v.Site != "" {
		keys = append(keys, P+"r:ts:"+string(v.Site))
	}
	if v.Contractor != "" {
		keys = append(keys, P+"r:cx:"+string(v.Contractor))
	}
	ids, err := r.rdb.SUnion(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	for _, p := range []domain.PersonID{v.Reporter, v.Technician} {
		if p != "" {
			ids = append(ids, string(p))
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// pageScript reads one page of the tickets a viewer may see, with everything the page shows, in
// one round trip: the viewer's table (KEYS[1..4]: v:{viewer}, :tc, :ts, :cx), its scope
// indexes — the tenant's every-ticket index (KEYS[5]) for an unrestricted viewer, else those of
// its companies and sites, its own requests and, in memory, its contractor assignments — or
// the one index ARGV[7] names (a company or site filter), then the n newest tickets after the
// cursor (score ARGV[2], id ARGV[3]; none when ARGV[2] is ""), newest first, each with the
// viewer's grounds on its company, site and contractor and its directory record (ARGV[6] .. id).
// It walks the tenant's index and keeps what the viewer's table grounds when the viewer's
// indexes hold at least an eighth of it; else it merges the indexes, reading each in chunks
// and stopping as soon as its unread members are older than the n-th candidate.
// Every key shares the tenant's hash tag (one cluster slot); the index keys are built from the
// prefix ARGV[5]. Returns {0} for a viewer without a table, else {1, more, unrestricted, {id, score, tc,
// ts, cx, company, site, reporter, contractor, technician}, …}.
var pageScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local cs = tonumber(ARGV[2])
local cid = ARGV[3]
local viewer = ARGV[4]
local P = ARGV[5]
local D = ARGV[6]
local filter = ARGV[7]
local unr = redis.call('HGET', KEYS[1], 'unrestricted')
if not unr then return {0} end
local cx = {}
for _, x in ipairs(redis.call('SMEMBERS', KEYS[4])) do cx[x] = true end
local maxs = '+inf'
if cs then maxs = ARGV[2] end
local function isafter(e) return not cs or e[2] < cs or (e[2] == cs and e[1] < cid) end
local function newer(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] > b[1]) end

-- The viewer's ticket grounds by company and site, read once.
local tc, ts = {}, {}
local h = redis.call('HGETALL', KEYS[2])
for j = 1, #h, 2 do tc[h[j]] = h[j + 1] end
h = redis.call('HGETALL', KEYS[3])
for j = 1, #h, 2 do ts[h[j]] = h[j + 1] end

local sources, extra = {}, {}
if filter ~= '' then
  sources = {filter}
elseif unr == '1' then
  sources = {KEYS[5]}
else
  for c, v in pairs(tc) do if v ~= '' then table.insert(sources, P .. 'i:tc:' .. c) end end
  for s, _ in pairs(ts) do table.insert(sources, P .. 'i:ts:' .. s) end
  table.insert(sources, P .. 'i:tr:' .. viewer)
  -- Contractor assignments are indexed by when they were assigned: place them by opening.
  local assigned = {}
  for x, _ in pairs(cx) do
    for _, id in ipairs(redis.call('ZRANGE', P .. 'i:tx:' .. x, 0, -1)) do assigned[id] = true end
  end
  for _, id in ipairs(redis.call('ZRANGE', P .. 'i:tt:' .. viewer, 0, -1)) do assigned[id] = true end
  for id, _ in pairs(assigned) do
    local opened = tonumber(redis.call('HGET', P .. 't:' .. id, 'opened'))
    if opened then
      local e = {id, opened}
      if isafter(e) then table.insert(extra, e) end
    end
  end
end

-- A candidate's keys (from its directory record) and the viewer's grounds on it, read once.
local function load(e)
  local t = redis.call('HMGET', D .. e[1], 'company', 'site', 'reporter', 'contractor', 'technician')
  e.f = {t[1] or '', t[2] or '', t[3] or '', t[4] or '', t[5] or ''}
  e.tc = (t[1] and tc[t[1]]) or ''
  e.ts = (t[2] and ts[t[2]]) or ''
  e.cx = (t[4] and cx[t[4]]) and '1' or '0'
  e.mine = t[3] == viewer or t[5] == viewer
  return e
end

local cands, more = {}, 0
local scan = false
if filter == '' and unr ~= '1' and #sources > 4 then
  -- Estimate the share of the tenant's tickets the viewer's indexes hold from a sample of them.
  local total, est, k = redis.call('ZCARD', KEYS[5]), 0, math.min(#sources, 8)
  for i = 1, k do est = est + redis.call('ZCARD', sources[math.floor((i - 1) * #sources / k) + 1]) end
  scan = total > 0 and est * #sources / k * 8 >= total
end
if scan then
  -- Walk the tenant's tickets, keeping those the viewer's table grounds.
  local off, step = 0, n + 16
  while #cands <= n do
    local r = redis.call('ZRANGE', KEYS[5], maxs, '-inf', 'BYSCORE', 'REV', 'LIMIT', off, step, 'WITHSCORES')
    off = off + #r / 2
    for j = 1, #r, 2 do
      local e = {r[j], tonumber(r[j + 1])}
      if isafter(e) then
        e = load(e)
        if e.tc ~= '' or e.ts ~= '' or e.mine or e.cx == '1' then
          table.insert(cands, e)
          if #cands > n then break end
        end
      end
    end
    if #r / 2 < step then break end
    step = math.min(step * 2, 1024)
  end
  if #cands > n then more = 1 end
else
  -- Merge the indexes.
  local bufs, off, done, last = {}, {}, {}, {}
  local chunk = math.floor(n / #sources) + 2
  local function fetch(i, c)
    local r = redis.call('ZRANGE', sources[i], maxs, '-inf', 'BYSCORE', 'REV', 'LIMIT', off[i], c, 'WITHSCORES')
    local got = #r / 2
    off[i] = off[i] + got
    if got < c then done[i] = true end
    for j = 1, #r, 2 do
      local e = {r[j], tonumber(r[j + 1])}
      last[i] = e
      if isafter(e) then table.insert(bufs[i], e) end
    end
  end
  for i = 1, #sources do
    bufs[i], off[i], done[i] = {}, 0, false
    fetch(i, chunk)
  end
  while true do
    local seen = {}
    cands = {}
    for i = 0, #sources do
      local b = extra
      if i > 0 then b = bufs[i] end
      for _, e in ipairs(b) do
        if not seen[e[1]] then seen[e[1]] = true; table.insert(cands, e) end
      end
    end
    table.sort(cands, newer)
    chunk = chunk * 2
    local again = false
    for i = 1, #sources do
      if not done[i] and (#cands < n or newer(last[i], cands[n])) then
        fetch(i, chunk)
        again = true
      end
    end
    if not again then
      if #cands > n then more = 1 end
      for i = 1, #sources do if not done[i] then more = 1 end end
      break
    end
  end
end
table.sort(cands, newer)

local out = {1, more, unr}
for j = 1, math.min(n, #cands) do
  local e = cands[j]
  if not e.f then e = load(e) end
  table.insert(out, {e[1], string.format('%.17g', e[2]), e.tc, e.ts, e.cx, e.f[1], e.f[2], e.f[3], e.f[4], e.f[5]})
end
return out
`)

// PageTicket is one ticket of a page: its place in the listing and the reasons the viewer sees
// it (empty: it does not — a candidate is a superset).
type PageTicket struct {
	ID      domain.TicketID
	Score   float64
	Reasons []domain.TicketReason
}

// TicketPage picks the n newest tickets after the cursor (afterScore, afterID; +Inf and "" for
// the start) that viewer may see, with the reasons, in one round trip (their records are read by
// the caller: a pipeline of HGETALL costs Redis less than the same reads inside a script), and
// whether more follow. filter, when set, is the one index to read (a company's or a site's
// tickets). dirTicketPrefix .. id is a ticket's directory record. ErrNoTable for a viewer without
// a table.
func (r *Reader) TicketPage(ctx context.Context, t domain.TenantID, viewer domain.PersonID, filter Index, dirTicketPrefix string, afterScore float64, afterID string, n int) ([]PageTicket, bool, error) {
	P := r.keys.Tenant(t) + "vis:"
	v := P + "v:" + string(viewer)
	cs := ""
	if !math.IsInf(afterScore, 1) {
		cs = strconv.FormatFloat(afterScore, 'f', -1, 64)
	}
	res, err := pageScript.Run(ctx, r.rdb, []string{v, v + ":tc", v + ":ts", v + ":cx", string(r.AllTickets(t))},
		n, cs, afterID, string(viewer), P, dirTicketPrefix, string(filter)).Slice()
	if err != nil {
		return nil, false, err
	}
	if res[0].(int64) == 0 {
		return nil, false, ErrNoTable
	}
	more, unrestricted := res[1].(int64) == 1, res[2] == "1"
	out := make([]PageTicket, 0, len(res)-3)
	for _, raw := range res[3:] {
		item, _ := raw.([]any)
		if len(item) != 10 {
			return nil, false, fmt.Errorf("visibility: ticket page: malformed item %v", raw)
		}
		str := func(i int) string { s, _ := item[i].(string); return s }
		sc, err := strconv.ParseFloat(str(1), 64)
		if err != nil {
			return nil, false, err
		}
		view := domain.TicketView{Company: domain.CompanyID(str(5)), Site: domain.SiteID(str(6)), Reporter: domain.PersonID(str(7)),
			Contractor: domain.CompanyID(str(8)), Technician: domain.PersonID(str(9))}
		s := domain.Scope{Person: viewer, HasTable: true, Unrestricted: unrestricted,
			Companies: map[domain.CompanyID][]domain.TicketReason{view.Company: DecodeReasons(str(2))}, Sites: map[domain.SiteID][]domain.TicketReason{},
			ManagedSiteCompany: map[domain.SiteID]domain.CompanyID{}, ContractorAdminOf: map[domain.CompanyID]bool{view.Contractor: str(4) == "1"}}
		if view.Site != "" {
			decodeSite(&s, view.Site, str(3))
		}
		out = append(out, PageTicket{ID: domain.TicketID(str(0)), Score: sc, Reasons: s.TicketReasons(view)})
	}
	return out, more, nil
}

// IndexEntry is a ticket of an index with its place in listings (the log position it was
// opened at).
type IndexEntry struct {
	ID    domain.TicketID
	Score float64
}

// Walk is a cursor over one ticket index, newest first, for a listing that judges each ticket
// itself (the read API does, from the directory records it shows anyway): one round trip per
// step, and the first step also reads the viewer's ticket table.
type Walk struct {
	r       *Reader
	idx     Index
	score   float64 // the cursor: the last entry handed out, exclusive; +Inf at the start
	id      string
	done    bool
	pending func() ([]IndexEntry, error)
}

// NewWalk starts a walk over idx after the cursor (afterScore, afterID; +Inf and "" for the
// start).
func (r *Reader) NewWalk(idx Index, afterScore float64, afterID string) *Walk {
	return &Walk{r: r, idx: idx, score: afterScore, id: afterID}
}

// Done reports whether the index has no entries after the ones handed out.
func (w *Walk) Done() bool { return w.done }

// queue queues the reads of the next count entries: those tied with the cursor's score and
// before it (by id, descending, as ZRANGE … REV orders ties), then the older ones.
func (w *Walk) queue(ctx context.Context, p redis.Pipeliner, count int) {
	var ties *redis.ZSliceCmd
	older := "+inf"
	if !math.IsInf(w.score, 1) {
		cs := strconv.FormatFloat(w.score, 'f', -1, 64)
		ties = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: string(w.idx), Start: cs, Stop: cs, ByScore: true, Rev: true})
		older = "(" + cs
	}
	// With REV, go-redis passes Start and Stop as they are: the maximum first.
	rest := p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: string(w.idx), Start: older, Stop: "-inf", ByScore: true, Rev: true, Count: int64(count)})
	afterID := w.id
	w.pending = func() ([]IndexEntry, error) {
		out := make([]IndexEntry, 0, count)
		if ties != nil {
			for _, z := range ties.Val() {
				if id, _ := z.Member.(string); id < afterID {
					out = append(out, IndexEntry{ID: domain.TicketID(id), Score: z.Score})
				}
			}
		}
		older := rest.Val()
		for _, z := range older {
			id, _ := z.Member.(string)
			out = append(out, IndexEntry{ID: domain.TicketID(id), Score: z.Score})
		}
		w.done = len(older) < count
		if len(out) > count {
			out, w.done = out[:count], false
		}
		if n := len(out); n > 0 {
			w.score, w.id = out[n-1].Score, string(out[n-1].ID)
		}
		return out, nil
	}
}

// Start reads, in one round trip, the viewer's ticket table (ErrNoTable when it has none) and
// the walk's first count entries. With a cache, the table is read only when the digest stored
// beside it differs from the cached table's.
func (w *Walk) Start(ctx context.Context, t domain.TenantID, viewer domain.PersonID, count int, cache *TableCache) (*TicketTable, []IndexEntry, error) {
	pipe := w.r.rdb.Pipeline()
	done := w.QueueStart(ctx, pipe, t, viewer, count, cache)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	return done()
}

// QueueStart queues Start's reads on pipe, for a caller that has more to read in the same round
// trip; the function it returns, called after the pipeline ran, answers as Start does (it may
// make one more round trip, when the cached table turned out stale).
func (w *Walk) QueueStart(ctx context.Context, pipe redis.Pipeliner, t domain.TenantID, viewer domain.PersonID, count int, cache *TableCache) func() (*TicketTable, []IndexEntry, error) {
	tableOf := w.r.queueCachedTable(ctx, pipe, w.r.keys.Tenant(t)+"vis:v:"+string(viewer), viewer, cache)
	w.queue(ctx, pipe, count)
	return func() (*TicketTable, []IndexEntry, error) {
		table, err := tableOf()
		if err != nil {
			return nil, nil, err
		}
		entries, err := w.pending()
		return table, entries, err
	}
}

// queueCachedTable queues on pipe the read of the digest Redis holds beside a viewer's ticket
// table (v is its key), and of the table itself when none is cached; the function returned, once
// the pipeline ran, is the table: the cached one when the digest is the one it was decoded from,
// else the one read (in one more round trip when the cached one turned out stale); ErrNoTable
// for a viewer without a table. A table read is cached only under the digest of its content,
// and only when Redis held that digest too (a change between the reads leaves the next reader
// to read again).
func (r *Reader) queueCachedTable(ctx context.Context, pipe redis.Pipeliner, v string, viewer domain.PersonID, cache *TableCache) func() (*TicketTable, error) {
	cached := cache.get(v)
	meta := pipe.HMGet(ctx, v, "unrestricted", "tdigest")
	var read func() (*TicketTable, error)
	if cached == nil {
		read = queueTicketTable(ctx, pipe, v, viewer)
	}
	return func() (*TicketTable, error) {
		vals, err := meta.Result()
		if err != nil {
			return nil, err
		}
		if len(vals) != 2 || vals[0] == nil {
			return nil, ErrNoTable
		}
		digest, _ := vals[1].(string)
		if cached != nil && digest != "" && digest == cached.digest {
			return cached, nil
		}
		if read == nil { // the cached table is stale: read it now
			p := r.rdb.Pipeline()
			read = queueTicketTable(ctx, p, v, viewer)
			if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
		}
		table, err := read()
		if err != nil {
			return nil, err
		}
		if table.digest == digest {
			cache.put(v, table)
		}
		return table, nil
	}
}

// queueTicketTable queues the reads of a viewer's ticket table (v is its key); the function
// returned decodes it after the pipeline ran (ErrNoTable when the viewer has none).
func queueTicketTable(ctx context.Context, pipe redis.Pipeliner, v string, viewer domain.PersonID) func() (*TicketTable, error) {
	unr := pipe.HGet(ctx, v, "unrestricted")
	tc, ts, cx := pipe.HGetAll(ctx, v+":tc"), pipe.HGetAll(ctx, v+":ts"), pipe.SMembers(ctx, v+":cx")
	return func() (*TicketTable, error) {
		if errors.Is(unr.Err(), redis.Nil) {
			return nil, ErrNoTable
		}
		for _, c := range []redis.Cmder{unr, tc, ts, cx} {
			if err := c.Err(); err != nil {
				return nil, err
			}
		}
		return newTicketTable(viewer, unr.Val() == "1", tc.Val(), ts.Val(), cx.Val()), nil
	}
}

// TicketTable is the ticket part of a viewer's table, decoded: immutable once made, so that one
// decoding serves every listing of the viewer until its table changes (TableCache).
type TicketTable struct {
	Unrestricted bool
	digest       string
	scope        domain.Scope
	grounds      int // entries read: its size
}

func newTicketTable(viewer domain.PersonID, unrestricted bool, companies, sites map[string]string, contractors []string) *TicketTable {
	s := domain.Scope{Person: viewer, HasTable: true, Unrestricted: unrestricted,
		Companies: make(map[domain.CompanyID][]domain.TicketReason, len(companies)), Sites: make(map[domain.SiteID][]domain.TicketReason, len(sites)),
		ManagedSiteCompany: map[domain.SiteID]domain.CompanyID{}, ContractorAdminOf: make(map[domain.CompanyID]bool, len(contractors))}
	for _, x := range contractors {
		s.ContractorAdminOf[domain.CompanyID(x)] = true
	}
	for c, rs := range companies {
		s.Companies[domain.CompanyID(c)] = DecodeReasons(rs)
	}
	for site, rs := range sites {
		decodeSite(&s, domain.SiteID(site), rs)
	}
	return &TicketTable{Unrestricted: unrestricted, digest: TicketDigest(unrestricted, companies, sites, contractors), scope: s,
		grounds: len(companies) + len(sites) + len(contractors)}
}

// Scope is the viewer's ticket scope. It is shared: read it, never change it.
func (t *TicketTable) Scope() domain.Scope { return t.scope }

// TableCache remembers decoded ticket tables by viewer key, each with the digest of the table it
// was decoded from; a listing uses an entry only when Redis still holds that digest, read in the
// same round trip as the listing's entries, so a changed table is never served from cache. A
// nil *TableCache caches nothing.
type TableCache struct {
	m *boundedmap.Map[string, *TicketTable]
}

// NewTableCache returns a cache of at most max tables.
func NewTableCache(max int) *TableCache {
	return &TableCache{m: boundedmap.New[string, *TicketTable](max)}
}

func (c *TableCache) get(key string) *TicketTable {
	if c == nil {
		return nil
	}
	t, _ := c.m.Get(key)
	return t
}

// maxCachedGrounds bounds the tables a TableCache keeps by their size (company and site grounds
// and contractors), so that the cache's memory stays bounded by its count: a viewer with more is
// read each time, as without a cache.
const maxCachedGrounds = 512

func (c *TableCache) put(key string, t *TicketTable) {
	if c != nil && t.grounds <= maxCachedGrounds {
		c.m.Put(key, t)
	}
}

// Next reads the next count entries.
func (w *Walk) Next(ctx context.Context, count int) ([]IndexEntry, error) {
	if w.done {
		return nil, nil
	}
	pipe := w.r.rdb.Pipeline()
	w.queue(ctx, pipe, count)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return w.pending()
}
