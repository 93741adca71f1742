package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
)

// Batch reads, for the read API: a page of records in one round trip. Each answer keeps the order
// of the ids given and leaves out the ids the read model does not know.

// ticketFieldArgs are ticketFields as command arguments, converted once rather than per read.
var ticketFieldArgs = func() []any {
	out := make([]any, len(ticketFields))
	for i, f := range ticketFields {
		out[i] = f
	}
	return out
}()

// TicketsByID reads several tickets.
func (r *Reader) TicketsByID(ctx context.Context, t domain.TenantID, ids []domain.TicketID) ([]Ticket, error) {
	vts, err := r.TicketsWithVersions(ctx, t, ids)
	out := make([]Ticket, len(vts))
	for i := range vts {
		out[i] = vts[i].Ticket
	}
	return out, err
}

// CompaniesByID reads several companies.
func (r *Reader) CompaniesByID(ctx context.Context, t domain.TenantID, ids []domain.CompanyID) ([]Company, error) {
	return batch(ctx, r, ids, spaceOf(r.keys, t).company, func(m map[string]string) (Company, error) { return companyFrom(m), nil })
}

// SitesByID reads several sites.
func (r *Reader) SitesByID(ctx context.Context, t domain.TenantID, ids []domain.SiteID) ([]Site, error) {
	return batch(ctx, r, ids, spaceOf(r.keys, t).site, func(m map[string]string) (Site, error) { return siteFrom(m), nil })
}

// PeopleByID reads several people in full.
func (r *Reader) PeopleByID(ctx context.Context, t domain.TenantID, ids []domain.PersonID) ([]Person, error) {
	return batch(ctx, r, ids, spaceOf(r.keys, t).person, readPerson)
}

// DocumentsByID reads several documents.
func (r *Reader) DocumentsByID(ctx context.Context, t domain.TenantID, ids []domain.DocID) ([]Document, error) {
	return batch(ctx, r, ids, spaceOf(r.keys, t).document, documentFrom)
}

func batch[ID ~string, T any](ctx context.Context, r *Reader, ids []ID, key func(ID) string, decode func(map[string]string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, key(id))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		v, err := decode(c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// IndexMembers reads whole indexes of the directory and returns their members, deduplicated
// and sorted: the people of companies (home and memberships), the users of sites, the sites of
// companies. O(members): the read API uses it for listings bounded by the directory's size.
type IndexMembers struct {
	CompanyPeople  []domain.CompanyID // dir:co-people and dir:co-members of each
	SiteUsers      []domain.SiteID    // dir:site-users of each
	CompanySites   []domain.CompanyID // dir:co-sites of each
	CompanyDocs    []domain.CompanyID // dir:co-docs of each
	AllCompanies   bool               // dir:companies
	AllPeople      bool               // the people of every company
	AllSites       bool               // the sites of every company
	AllCompanyDocs bool               // the documents of every company
}

// Members reads the indexes q names.
func (r *Reader) Members(ctx context.Context, t domain.TenantID, q IndexMembers) ([]string, error) {
	s := spaceOf(r.keys, t)
	if q.AllPeople || q.AllSites || q.AllCompanyDocs {
		all, err := r.rdb.ZRange(ctx, s.companies(), 0, -1).Result()
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if q.AllPeople {
				q.CompanyPeople = append(q.CompanyPeople, domain.CompanyID(c))
			}
			if q.AllSites {
				q.CompanySites = append(q.CompanySites, domain.CompanyID(c))
			}
			if q.AllCompanyDocs {
				q.CompanyDocs = append(q.CompanyDocs, domain.CompanyID(c))
			}
		}
	}
	var keys []string
	if q.AllCompanies {
		keys = append(keys, s.companies())
	}
	for _, c := range q.CompanyPeople {
		keys = append(keys, s.companyPeople(c), s.members(c))
	}
	for _, site := range q.SiteUsers {
		keys = append(keys, s.siteUsers(site))
	}
	for _, c := range q.CompanySites {
		keys = append(keys, s.companySites(c))
	}
	for _, c := range q.CompanyDocs {
		keys = append(keys, s.companyDocs(c))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringSliceCmd, len(keys))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ZRange(ctx, k, 0, -1)
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

// subjectScript resolves a subject in one round trip: the person dir:subject:{subject} names,
// if that person's record still carries the subject. The person's key is built from the
// tenant's prefix (ARGV[1]), so it shares the subject key's hash tag and cluster slot.
var subjectScript = redis.NewScript(`
local p = redis.call('GET', KEYS[1])
if not p then return false end
if redis.call('HGET', ARGV[1] .. p, 'subject') ~= ARGV[2] then return false end
return p
`)

// PersonBySubject resolves a token's subject to the person it was bound to when the person
// accepted an invitation: dir:subject:{subject} names the person, and the person's own record
// must still carry that subject (a demotion or removal unbinds it; a later acceptance by the
// same person with another subject rebinds it). ErrNotFound when the subject is bound to nobody.
func (r *Reader) PersonBySubject(ctx context.Context, t domain.TenantID, subject string) (domain.PersonID, error) {
	s := spaceOf(r.keys, t)
	id, err := subjectScript.Run(ctx, r.rdb, []string{s.subject(subject)}, s.base+"p:", subject).Text()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return domain.PersonID(id), nil
}

// QueueBindingCheck queues on pipe the reads that confirm that subject is still bound to person
// — what PersonBySubject checks, without its script, for a reader that remembered the person
// and reads on its behalf in the same round trip. The function returned reports it after the
// pipeline ran.
func (r *Reader) QueueBindingCheck(ctx context.Context, pipe redis.Pipeliner, t domain.TenantID, subject string, person domain.PersonID) func() (bool, error) {
	s := spaceOf(r.keys, t)
	bound, carried := pipe.Get(ctx, s.subject(subject)), pipe.HGet(ctx, s.person(person), "subject")
	return func() (bool, error) {
		for _, c := range []redis.Cmder{bound, carried} {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return false, err
			}
		}
		return bound.Val() == string(person) && carried.Val() == subject, nil
	}
}

// TicketFromFields decodes a ticket's record read field by field (see TicketKeyPrefix).
func TicketFromFields(m map[string]string) (Ticket, error) { return ticketFrom(m) }

// TicketKeyPrefix is the prefix of a tenant's ticket records (prefix + ticket id), for reads
// that fetch them inside a script.
func (r *Reader) TicketKeyPrefix(t domain.TenantID) string { return spaceOf(r.keys, t).base + "t:" }

// Ticket cards: the read API keeps, beside each ticket's record, a rendering of it ready to send
// (a card). The projection deletes a ticket's card with every change of its record; the read
// API stores one with the record's version it rendered, and only if that is still the record's
// version, so that a card never outlives the record it shows. Cards expire unread.

// TicketCards reads the cards of several tickets, in the order of ids: "" where there is none.
func (r *Reader) TicketCards(ctx context.Context, t domain.TenantID, ids []domain.TicketID) ([]string, error) {
	if len(ids) == 0 {
		return []string{}, nil
	}
	pipe := r.rdb.Pipeline()
	read := r.QueueTicketCards(ctx, pipe, t, ids)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return read()
}

// QueueTicketCards queues TicketCards' read on pipe, for a reader that has more to read in the
// same round trip; the function returned answers after the pipeline ran. One MGET, read as
// strings: no interface value per card.
func (r *Reader) QueueTicketCards(ctx context.Context, pipe redis.Pipeliner, t domain.TenantID, ids []domain.TicketID) func() ([]string, error) {
	prefix := spaceOf(r.keys, t).ticketCard("")
	args := make([]any, 1, 1+len(ids))
	args[0] = "mget"
	for _, id := range ids {
		args = append(args, prefix+string(id))
	}
	cmd := redis.NewStringSliceCmd(ctx, args...)
	_ = pipe.Process(ctx, cmd)
	return func() ([]string, error) {
		if err := cmd.Err(); err != nil {
			return nil, fmt.Errorf("directory: ticket cards: %w", err)
		}
		if vals := cmd.Val(); len(vals) == len(ids) {
			return vals, nil
		}
		return nil, fmt.Errorf("directory: ticket cards: %d values for %d tickets", len(cmd.Val()), len(ids))
	}
}

// VersionedTicket is a ticket's record with its version, to render a card from.
type VersionedTicket struct {
	Ticket
	Version string
}

// TicketsWithVersions reads several tickets with their versions, in the order of ids, leaving
// out those the read model does not know. HMGET of the fixed fields: no map per ticket, which
// listings, reading 50 or more at a time, feel.
func (r *Reader) TicketsWithVersions(ctx context.Context, t domain.TenantID, ids []domain.TicketID) ([]VersionedTicket, error) {
	out := make([]VersionedTicket, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	sp := spaceOf(r.keys, t)
	cmds := make([]*redis.SliceCmd, len(ids))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			args := make([]any, 2, 3+len(ticketFields))
			args[0], args[1] = "hmget", sp.ticket(id)
			args = append(args, ticketFieldArgs...)
			cmds[i] = redis.NewSliceCmd(ctx, append(args, "ver")...)
			_ = p.Process(ctx, cmds[i])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, c := range cmds {
		v := c.Val()
		if len(v) != len(ticketFields)+1 {
			return nil, fmt.Errorf("directory: ticket record: %d fields", len(v))
		}
		tk, ok, err := ticketFromValues(v[:len(ticketFields)])
		if err != nil {
			return nil, err
		}
		if ok {
			ver, _ := v[len(ticketFields)].(string)
			out = append(out, VersionedTicket{Ticket: tk, Version: ver})
		}
	}
	return out, nil
}

// fillCard stores a card (ARGV[2], expiring after ARGV[3] seconds) only if the record's version
// is still the one it was rendered from (ARGV[1]); a record without a version gets no card. It
// is sent with EVAL: in a pipeline, go-redis cannot fall back from EVALSHA.
var fillCard = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'ver')
if v and v == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) return 1 end
return 0`)

// FillTicketCards stores cards rendered from the given versions of the tickets' records, each
// only if its record has not changed since; it reports how many were stored.
func (r *Reader) FillTicketCards(ctx context.Context, t domain.TenantID, tickets []VersionedTicket, cards []string, ttl time.Duration) (int, error) {
	if len(tickets) == 0 {
		return 0, nil
	}
	sp := spaceOf(r.keys, t)
	secs := max(1, int64(ttl/time.Second))
	cmds := make([]*redis.Cmd, len(tickets))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tk := range tickets {
			cmds[i] = fillCard.Eval(ctx, p, []string{sp.ticket(tk.ID), sp.ticketCard(tk.ID)}, tk.Version, cards[i], secs)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	n := 0
	for _, c := range cmds {
		if v, _ := c.Int(); v == 1 {
			n++
		}
	}
	return n, nil
}
