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
//	<T>audit:e:<m>                   STRING  the Entry as JSON: envelope, payload, stream, revision,
//	                                         position, and the subjects and companies it was indexed under
//	<T>audit:v3:head                 STRING  <m> of the tenant's last event applied
//	<T>audit:v3:i:all                STRING  index of every event
//	<T>audit:v3:i:actor:<actor>      STRING  by actor: "user:<person id>", "service:<client id>" or "system"
//	<T>audit:v3:i:type:<event type>  STRING  by event type
//	<T>audit:v3:i:company:<id>       STRING  by company: the envelope's actor company and every company the
//	                                         payload names (company, home_company, parent, target,
//	                                         registered_by, contractor, holder when level=company, …)
//	<T>audit:v3:i:subject:<id>       STRING  by subject: every id the payload names (person, company, group,
//	                                         site, ticket, document, target, holder, to/from when they are
//	                                         ids, technician, reporter, responsible, …); see Refs
//	<T>audit:v3:t:first              STRING  time index, prefix maxima: records <s><m>, an event's when its
//	                                         second is later than every event's before it (appended)
//	<T>audit:v3:t:last               LIST    time index, strict suffix minima: records <s><m>; an event's
//	                                         is pushed, and those of its second or later popped first (a
//	                                         monotone stack)
//
// <m> is the event's log position: commit and prepare as two 16-digit lower-case hex numbers (32
// characters), so that their byte order is log order. An index is the <m> of its events in log
// order, concatenated: 32 bytes per event, appended (APPEND) as the log is projected, searched by
// bisection (GETRANGE) — the log only grows and is projected in order, so an index never needs
// more than appending. Against a sorted set per index (the layout before, a member and a score
// per event and index) this is a third of Redis's CPU per event and a fraction of the memory.
//
// <s> is occurred_at's Unix second, floored, as 16 hex digits in offset binary (the sign bit
// flipped), so that byte order is time order; a record is 48 bytes. The time index holds one
// record per second of the log's activity rather than per event: pages are ordered by position
// and occurred_at is only nearly ordered by position (clock skew between writers), so a time
// range [From, To) maps to a window of positions — it starts at the first prefix maximum at or
// after From's second (every earlier event is earlier than that second) and ends at the last
// suffix minimum at or before the second of To's last instant (every later event is in a later
// second) — which narrows whatever index answers the query; each candidate's occurred_at is then
// checked exactly. Both are searched by bisection. (audit.v2 kept them in sorted sets: in a log
// with about one event a second, those were two sorted-set entries per event, half of the
// projection's Redis CPU.)
//
// Every event's writes go into the MULTI/EXEC that moves the projection's checkpoint: one MSET of
// the entries and one script per tenant (applyScript) for its indexes, its time index and its
// head, which skips the events at or before the head, so a replay — after a crash, or from the
// start — never duplicates an entry. A rebuild, which writes a new generation alone and from
// empty (projections.Tx.Build), has no replay to guard against and knows what it stored: it
// keeps each tenant's time index in memory and sends plain commands instead (APPEND, LTRIM or
// DEL, RPUSH, SET) that leave the same keys — the script's work on the time index, a record or
// two per event, was about a fifth of Redis's CPU in a rebuild.
//
// The entries are where audit.v2 kept them, with the same bytes: a store projected by audit.v2
// projects the trail again from the start (the projection's name is new), overwriting each
// entry with itself and building the rest under audit:v3:; the next rebuild drops the old keys.
package audit

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// Name is the projection's name (its checkpoint and Watermill handler). ".v3" is the layout with
// the time index in a string and a list: a store projected with an earlier layout projects the
// audit trail again from the start, under its new keys (the old ones go with the next rebuild).
const Name = "audit.v3"

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

// Name is "audit.v3".
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

// Apply records one event: its entry and every index, queued on tx.W (the MULTI/EXEC that also
// moves the checkpoint). Exported for tools that fill an audit keyspace without the router.
func Apply(tx *projections.Tx, e projections.Event) (err error) {
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

	tk := tx.Memo(tenantKeysOf(e.Tenant()), func() any { return newTenantKeys(tx, e.Tenant()) }).(*tenantKeys)
	ks := tk.ks
	m := member(e.Position)
	indexes := make([]indexRef, 0, 3+len(companies)+len(subjects))
	indexes = append(indexes, indexRef{ixAll, ""}, indexRef{ixActor, e.Envelope.Actor.String()}, indexRef{ixType, e.Envelope.Type})
	for _, c := range companies {
		indexes = append(indexes, indexRef{ixCompany, c})
	}
	for _, s := range subjects {
		indexes = append(indexes, indexRef{ixSubject, s})
	}
	// Through projections.Writes: a batch's entries of one tenant make one MSET, and its
	// index writes one script call (tenantBatch).
	w := tx.B
	if w == nil { // a Tx made by hand, with the pipeline alone
		w = projections.NewWrites(tx.Ctx, tx.W)
		defer func() {
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
		}()
	}
	w.MSet(tk.entries, ks.entry(m), data)
	// Keyed by the head, which nothing else writes.
	w.Accumulate(tk.head, tk.batch, indexed{ks: ks, member: m, second: e.Envelope.OccurredAt.Unix(), indexes: indexes})
	return nil
}

// tenantKeysOf is the Tx.Memo key of a tenant's tenantKeys.
type tenantKeysOf domain.TenantID

// tenantKeys are what Apply needs for every event of a tenant, made once per transaction.
type tenantKeys struct {
	ks keyspace
	// head is the head's key; entries the prefix of the entries' keys, which names their MSET.
	head, entries string
	// batch makes the transaction's tenantBatch: in an exclusive build, one that tracks the
	// time index itself (see tenantBatch.clock).
	batch func() projections.Accumulator
}

func newTenantKeys(tx *projections.Tx, t domain.TenantID) *tenantKeys {
	ks := keyspaceOf(tx.Keys, t)
	tk := &tenantKeys{ks: ks, head: ks.head(), entries: string(ks) + "e:", batch: newTenantBatch}
	if cs, ok := tx.Build(clocksKey{}, func() any { return clocks{} }).(clocks); ok {
		c := cs[t]
		if c == nil {
			c = &tenantClock{}
			cs[t] = c
		}
		tk.batch = func() projections.Accumulator { return newTenantBatchOn(c) }
	}
	return tk
}

// keyspace names one tenant's audit keys (see the package doc).
type keyspace string

func keyspaceOf(k projections.Keys, t domain.TenantID) keyspace {
	return keyspace(k.Tenant(t) + "audit:")
}

// indexKind is the kind of an index: which key function names it.
type indexKind uint8

const (
	ixAll indexKind = iota
	ixActor
	ixType
	ixCompany
	ixSubject
)

// indexRef names one index of a tenant: its kind and the actor, type or id it is of.
type indexRef struct {
	kind indexKind
	id   string
}

// index is the key of an index.
func (k keyspace) index(r indexRef) string {
	switch r.kind {
	case ixAll:
		return k.all()
	case ixActor:
		return k.actor(r.id)
	case ixType:
		return k.eventType(r.id)
	case ixCompany:
		return k.company(r.id)
	default:
		return k.subject(r.id)
	}
}

func (k keyspace) entry(m string) string        { return string(k) + "e:" + m }
func (k keyspace) head() string                 { return string(k) + "v3:head" }
func (k keyspace) all() string                  { return string(k) + "v3:i:all" }
func (k keyspace) actor(a string) string        { return string(k) + "v3:i:actor:" + a }
func (k keyspace) eventType(t string) string    { return string(k) + "v3:i:type:" + t }
func (k keyspace) company(id string) string     { return string(k) + "v3:i:company:" + id }
func (k keyspace) subject(id string) string     { return string(k) + "v3:i:subject:" + id }
func (k keyspace) timeFirst() string            { return string(k) + "v3:t:first" }
func (k keyspace) timeLast() string             { return string(k) + "v3:t:last" }
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

// Batchable: applying an event never reads Redis, so a rebuild may apply many per transaction.
func (Projection) Batchable() bool { return true }
