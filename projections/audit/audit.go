// Package audit is the audit trail (DESIGN §4): a projection that records every event of the
// log with its envelope, and the query side that answers "what happened", by actor, subject,
// company, event type and time range, paged by log position and exportable as NDJSON.
//
// # Key layout
//
// Every key lives under the tenant's prefix of the generation, Keys.Tenant(tenant), which carries
// the tenant as a Redis Cluster hash tag, so one tenant's audit keys share a slot (MGET, EVAL and
// MULTI/EXEC over them are legal in a cluster). <T> below is that prefix, e.g. "pa:g1:{acme}:".
//
//	<T>audit:e:<m>              STRING  the Entry as JSON: envelope, payload, stream, revision, position,
//	                                    and the subjects and companies it was indexed under
//	<T>audit:all                ZSET    every event
//	<T>audit:actor:<actor>      ZSET    by actor: "user:<person id>", "service:<client id>" or "system"
//	<T>audit:type:<event type>  ZSET    by event type
//	<T>audit:company:<id>       ZSET    by company: the envelope's actor company and every company the
//	                                    payload names (company, home_company, parent, target,
//	                                    registered_by, contractor, holder when level=company, …)
//	<T>audit:subject:<id>       ZSET    by subject: every id the payload names (person, company, group,
//	                                    site, ticket, document, target, holder, to/from when they are
//	                                    ids, technician, reporter, responsible, …); see Refs
//	<T>audit:time:first         ZSET    time index, prefix maxima: score occurred_at (Unix ms); an event is
//	                                    added only when it is later than every event before it
//	<T>audit:time:last          ZSET    time index, suffix minima: score occurred_at (Unix ms); adding an
//	                                    event removes the entries later than it (a monotone stack)
//
// The member of every sorted set is the event's log position <m>: commit and prepare as two
// 16-digit lower-case hex numbers (32 characters), so that the members' byte order is log order.
// The by-position indexes (all, actor, type, company, subject) are scored by the commit position,
// so ZRANGE BYSCORE … LIMIT walks them in log order; events that share a commit position (one
// EventStoreDB transaction) have the same score and Redis orders them by member, i.e. by prepare
// position. Scores are exact up to 2^53, far beyond any real log.
//
// The time index is two monotone sets rather than one set of all events scored by time, because
// pages are ordered by position and occurred_at is only nearly ordered by position (clock skew
// between writers): a time range [From, To) maps exactly to a window of positions — it starts at
// the first prefix maximum at or after From (every earlier event is earlier than From) and ends at
// the last suffix minimum at or before To (every later event is at or after To) — which narrows
// whatever index answers the query; each candidate's occurred_at is then checked exactly. Both sets
// hold about one entry per event when clocks agree, and O(log N) lookups answer the bounds.
//
// Every event's writes go into the MULTI/EXEC that moves the projection's checkpoint, and every
// write is idempotent (SET, ZADD of the same member and score, conditional or monotone time
// entries), so a replay — after a crash, or from the start — never duplicates an entry.
package audit

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// Name is the projection's name (its checkpoint and Watermill handler).
const Name = "audit"

// Entry is one event of the audit trail, ready to be served as JSON: the envelope's fields at the
// top level (event_id, type, schema_version, tenant, occurred_at, actor, actor_company,
// correlation_id, causation_id, command, reason), the payload at the current schema version, the
// event's place in the log, and the ids it is indexed under.
type Entry struct {
	eventschema.Envelope
	Payload  json.RawMessage     `json:"payload"`
	Stream   string              `json:"stream"`
	Revision uint64              `json:"revision"`
	Position eventstore.Position `json:"position"`
	// Subjects are the ids the payload names; Companies the companies the event concerns (the
	// actor's company included). Both sorted.
	Subjects  []string `json:"subjects"`
	Companies []string `json:"companies"`
}

// Projection records every event in the audit trail. The zero value covers every event type of
// eventschema.MustPortal(); set Registry to cover another registry's types.
type Projection struct {
	Registry *eventschema.Registry
}

// Name is "audit".
func (Projection) Name() string { return Name }

// Handlers maps every registered event type to the same function: an audit trail has no gaps.
func (p Projection) Handlers() map[string]projections.ApplyFunc {
	reg := p.Registry
	if reg == nil {
		reg = eventschema.MustPortal()
	}
	table := map[string]projections.ApplyFunc{}
	for _, t := range reg.Types() {
		table[t.Type] = Apply
	}
	return table
}

// maxExactScore is the largest commit position a float64 score holds exactly.
const maxExactScore = 1 << 53

// prefixMax adds each (score, member) pair of ARGV to KEYS[1], in order, when its score is above
// the set's highest — in one ZADD of the pairs that qualify (projections.Writes.EvalEach: the
// pairs of a batch's events merge into one call). It always returns an integer: a nil reply
// would fail the MULTI/EXEC in go-redis.
var prefixMax = `local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local max = nil
if top[2] ~= nil then max = tonumber(top[2]) end
local add = {}
for i = 1, #ARGV, 2 do
  local s = tonumber(ARGV[i])
  if max == nil or max < s then
    add[#add + 1] = ARGV[i]
    add[#add + 1] = ARGV[i + 1]
    max = s
  end
end
for i = 1, #add, 1000 do
  redis.call('ZADD', KEYS[1], unpack(add, i, math.min(i + 999, #add)))
end
return 0`

// suffixMin does for each (score, member) pair of ARGV, in order, what a monotone stack does:
// remove the entries scored above it, then add it. Over many pairs that is: remove the entries
// scored above the least score, and add the pairs no later pair undercuts.
var suffixMin = `local least, at = nil, 0
for i = 1, #ARGV, 2 do
  local s = tonumber(ARGV[i])
  if least == nil or s < least then least, at = s, i end
end
if at == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. ARGV[at], '+inf')
local keep, low = {}, nil
for i = #ARGV - 1, 1, -2 do
  local s = tonumber(ARGV[i])
  if low == nil or s <= low then
    keep[#keep + 1] = ARGV[i]
    keep[#keep + 1] = ARGV[i + 1]
    low = s
  end
end
for i = 1, #keep, 1000 do
  redis.call('ZADD', KEYS[1], unpack(keep, i, math.min(i + 999, #keep)))
end
return 0`

// Apply records one event: its entry and every index, queued on tx.W (the MULTI/EXEC that also
// moves the checkpoint). Exported for tools that fill an audit keyspace without the router.
func Apply(tx *projections.Tx, e projections.Event) (err error) {
	if e.Position.Commit > maxExactScore {
		return fmt.Errorf("audit: commit position %d beyond exact scores", e.Position.Commit)
	}
	if e.Envelope.Tenant == "" {
		return errors.New("audit: event without tenant")
	}
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return fmt.Errorf("audit: payload of %s: %w", e.Envelope.Type, err)
	}
	subjects, companies := Refs(e.Payload)
	if c := e.Envelope.ActorCompany; c != "" {
		if i, found := slices.BinarySearch(companies, c); !found {
			companies = slices.Insert(companies, i, c)
		}
	}
	entry := Entry{Envelope: e.Envelope, Payload: payload, Stream: e.Stream, Revision: e.Revision,
		Position: e.Position, Subjects: subjects, Companies: companies}
	// json.Marshal(entry)'s bytes, written by hand (see appendEntry).
	data, err := appendEntry(make([]byte, 0, entrySize(&entry)), &entry)
	if err != nil {
		return fmt.Errorf("audit: entry of %s: %w", e.Envelope.Type, err)
	}

	ks := keyspaceOf(tx.Keys, e.Tenant())
	m := member(e.Position)
	z := redis.Z{Score: float64(e.Position.Commit), Member: m}
	// Through projections.Writes: a batch's additions to one index make one ZADD.
	w := tx.B
	if w == nil { // a Tx made by hand, with the pipeline alone
		w = projections.NewWrites(tx.Ctx, tx.W)
		defer func() {
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
		}()
	}
	w.MSet(string(ks), ks.entry(m), data)
	w.ZAdd(ks.all(), z)
	w.ZAdd(ks.actor(e.Envelope.Actor.String()), z)
	w.ZAdd(ks.eventType(e.Envelope.Type), z)
	for _, c := range companies {
		w.ZAdd(ks.company(c), z)
	}
	for _, s := range subjects {
		w.ZAdd(ks.subject(s), z)
	}
	ms := e.Envelope.OccurredAt.UnixMilli()
	w.EvalEach(prefixMax, ks.timeFirst(), ms, m)
	w.EvalEach(suffixMin, ks.timeLast(), ms, m)
	return nil
}

// keyspace names one tenant's audit keys (see the package doc).
type keyspace string

func keyspaceOf(k projections.Keys, t domain.TenantID) keyspace {
	return keyspace(k.Tenant(t) + "audit:")
}

func (k keyspace) entry(m string) string        { return string(k) + "e:" + m }
func (k keyspace) all() string                  { return string(k) + "all" }
func (k keyspace) actor(a string) string        { return string(k) + "actor:" + a }
func (k keyspace) eventType(t string) string    { return string(k) + "type:" + t }
func (k keyspace) company(id string) string     { return string(k) + "company:" + id }
func (k keyspace) subject(id string) string     { return string(k) + "subject:" + id }
func (k keyspace) timeFirst() string            { return string(k) + "time:first" }
func (k keyspace) timeLast() string             { return string(k) + "time:last" }
func (k keyspace) entries(ms []string) []string { return mapStrings(ms, k.entry) }

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// member is a position as a sorted-set member whose byte order is log order.
func member(p eventstore.Position) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], p.Commit)
	binary.BigEndian.PutUint64(b[8:], p.Prepare)
	return hex.EncodeToString(b[:])
}

// parseMember reads what member wrote.
func parseMember(m string) (eventstore.Position, error) {
	if len(m) != 32 {
		return eventstore.Position{}, fmt.Errorf("audit: bad member %q", m)
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(m)); err != nil {
		return eventstore.Position{}, fmt.Errorf("audit: bad member %q", m)
	}
	return eventstore.Position{Commit: binary.BigEndian.Uint64(b[:8]), Prepare: binary.BigEndian.Uint64(b[8:])}, nil
}

// commitOf is the commit position (the score) of a well-formed member.
func commitOf(m string) uint64 {
	c, _ := strconv.ParseUint(m[:16], 16, 64)
	return c
}

// Batchable: applying an event never reads Redis, so a rebuild may apply many per transaction.
func (Projection) Batchable() bool { return true }
