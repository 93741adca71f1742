package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

// ErrNotFound: the tenant's directory has no such thing (or has not caught up with it yet).
var ErrNotFound = errors.New("directory: not found")

// Reader is the read side of the directory: every call is one or two Redis round trips, O(1)
// reads for a record and O(page) for a listing. It answers what is there; who may see it is
// the caller's business (the visibility read model).
type Reader struct {
	rdb  redis.Cmdable
	keys projections.Keys
}

// NewReader reads the directory of the generation keys names: the live one for the read API
// (projections.ActiveGeneration), or a rebuild's to inspect it before the switch.
func NewReader(rdb redis.Cmdable, keys projections.Keys) *Reader {
	return &Reader{rdb: rdb, keys: keys}
}

// Page selects a slice of a listing, in the order things were added.
type Page struct {
	Offset int64 `json:"offset"`
	// Limit defaults to DefaultLimit and is capped at MaxLimit.
	Limit int64 `json:"limit"`
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

func (p Page) bounds() (start, stop int64) {
	off, lim := max(p.Offset, 0), p.Limit
	if lim <= 0 {
		lim = DefaultLimit
	}
	lim = min(lim, MaxLimit)
	return off, off + lim - 1
}

// List is a page of a listing and the listing's total size.
type List[T any] struct {
	Items  []T   `json:"items"`
	Offset int64 `json:"offset"`
	Total  int64 `json:"total"`
}

// --- records

// GetTenant reads the tenant's settings.
func (r *Reader) GetTenant(ctx context.Context, t domain.TenantID) (Tenant, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).tenant())
	if err != nil {
		return Tenant{}, err
	}
	seats, _ := strconv.Atoi(m["seats"])
	return Tenant{ID: t, Name: m["name"], Seats: seats}, nil
}

// GetCompany reads one company.
func (r *Reader) GetCompany(ctx context.Context, t domain.TenantID, id domain.CompanyID) (Company, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).company(id))
	if err != nil {
		return Company{}, err
	}
	return companyFrom(m), nil
}

// GetSite reads one site.
func (r *Reader) GetSite(ctx context.Context, t domain.TenantID, id domain.SiteID) (Site, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).site(id))
	if err != nil {
		return Site{}, err
	}
	return siteFrom(m), nil
}

// GetGroup reads one user group.
func (r *Reader) GetGroup(ctx context.Context, t domain.TenantID, id domain.GroupID) (Group, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).group(id))
	if err != nil {
		return Group{}, err
	}
	return groupFrom(m)
}

// GetPerson reads everything about a person (for viewers that see it in full).
func (r *Reader) GetPerson(ctx context.Context, t domain.TenantID, id domain.PersonID) (Person, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).person(id))
	if err != nil {
		return Person{}, err
	}
	return readPerson(m)
}

// LimitedPerson reads a person's name only: the limited view of a foreign person that a
// visible ticket names (reporter, responsible user, technician).
func (r *Reader) LimitedPerson(ctx context.Context, t domain.TenantID, id domain.PersonID) (PersonName, error) {
	name, err := r.rdb.HGet(ctx, spaceOf(r.keys, t).person(id), "name").Result()
	if errors.Is(err, redis.Nil) {
		return PersonName{}, ErrNotFound
	}
	if err != nil {
		return PersonName{}, err
	}
	return PersonName{ID: id, Name: name, Limited: true}, nil
}

// PersonNames reads the names of several people in one round trip (limited views); unknown
// ids are left out.
func (r *Reader) PersonNames(ctx context.Context, t domain.TenantID, ids ...domain.PersonID) ([]PersonName, error) {
	s := spaceOf(r.keys, t)
	cmds := make([]*redis.StringCmd, len(ids))
	_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.person(id), "name")
		}
		return nil
	})
	out := make([]PersonName, 0, len(ids))
	for i, c := range cmds {
		name, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, PersonName{ID: ids[i], Name: name, Limited: true})
	}
	return out, nil
}

// GetTicket reads one ticket (without its comments and documents: see ListComments and
// TicketDocuments).
func (r *Reader) GetTicket(ctx context.Context, t domain.TenantID, id domain.TicketID) (Ticket, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).ticket(id))
	if err != nil {
		return Ticket{}, err
	}
	return ticketFrom(m)
}

// GetDocument reads one document's metadata (of a ticket or a company).
func (r *Reader) GetDocument(ctx context.Context, t domain.TenantID, id domain.DocID) (Document, error) {
	m, err := r.hash(ctx, spaceOf(r.keys, t).document(id))
	if err != nil {
		return Document{}, err
	}
	return documentFrom(m)
}

// --- listings

// Companies lists the tenant's companies.
func (r *Reader) Companies(ctx context.Context, t domain.TenantID, p Page) (List[Company], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, "", s.companies(), p, keyOf(s.company), func(m map[string]string) (Company, error) { return companyFrom(m), nil })
}

// CompanyDaughters lists a company's direct daughter companies.
func (r *Reader) CompanyDaughters(ctx context.Context, t domain.TenantID, c domain.CompanyID, p Page) (List[Company], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.company(c), s.daughters(c), p, keyOf(s.company), func(m map[string]string) (Company, error) { return companyFrom(m), nil })
}

// CompanySites lists a company's sites.
func (r *Reader) CompanySites(ctx context.Context, t domain.TenantID, c domain.CompanyID, p Page) (List[Site], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.company(c), s.companySites(c), p, keyOf(s.site), func(m map[string]string) (Site, error) { return siteFrom(m), nil })
}

// CompanyPeople lists the people whose home company c is (users of every status but removed,
// and contacts).
func (r *Reader) CompanyPeople(ctx context.Context, t domain.TenantID, c domain.CompanyID, p Page) (List[Person], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.company(c), s.companyPeople(c), p, keyOf(s.person), readPerson)
}

// CompanyMembers lists the people holding a membership (any role) in c.
func (r *Reader) CompanyMembers(ctx context.Context, t domain.TenantID, c domain.CompanyID, p Page) (List[Person], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.company(c), s.members(c), p, keyOf(s.person), readPerson)
}

// CompanyDocuments lists a company's own documents (not its tickets').
func (r *Reader) CompanyDocuments(ctx context.Context, t domain.TenantID, c domain.CompanyID, p Page) (List[Document], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.company(c), s.companyDocs(c), p, keyOf(s.document), documentFrom)
}

// SitePeople lists the users of a site: those whose basic or manager membership covers it.
func (r *Reader) SitePeople(ctx context.Context, t domain.TenantID, site domain.SiteID, p Page) (List[Person], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.site(site), s.siteUsers(site), p, keyOf(s.person), readPerson)
}

// Groups lists the tenant's user groups.
func (r *Reader) Groups(ctx context.Context, t domain.TenantID, p Page) (List[Group], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, "", s.groups(), p, keyOf(s.group), groupFrom)
}

// TicketDocuments lists a ticket's documents.
func (r *Reader) TicketDocuments(ctx context.Context, t domain.TenantID, id domain.TicketID, p Page) (List[Document], error) {
	s := spaceOf(r.keys, t)
	return listOf(ctx, r, s.ticket(id), s.ticketDocs(id), p, keyOf(s.document), documentFrom)
}

// ListComments lists a ticket's comments, oldest first.
func (r *Reader) ListComments(ctx context.Context, t domain.TenantID, id domain.TicketID, p Page) (List[Comment], error) {
	s := spaceOf(r.keys, t)
	start, stop := p.bounds()
	var exists *redis.IntCmd
	var rng *redis.StringSliceCmd
	var total *redis.IntCmd
	if _, err := r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		exists = pipe.Exists(ctx, s.ticket(id))
		rng = pipe.LRange(ctx, s.comments(id), start, stop)
		total = pipe.LLen(ctx, s.comments(id))
		return nil
	}); err != nil {
		return List[Comment]{}, err
	}
	if exists.Val() == 0 {
		return List[Comment]{}, ErrNotFound
	}
	out := List[Comment]{Items: make([]Comment, 0, len(rng.Val())), Offset: start, Total: total.Val()}
	for _, raw := range rng.Val() {
		var c Comment
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return List[Comment]{}, fmt.Errorf("directory: comment of ticket %s: %w", id, err)
		}
		out.Items = append(out.Items, c)
	}
	return out, nil
}

// --- helpers

func (r *Reader) hash(ctx context.Context, key string) (map[string]string, error) {
	m, err := r.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return m, nil
}

// listOf reads a page of an index (and checks its owner exists, unless owner is "") in one
// round trip, then the page's records in another. Records that vanished in between are
// skipped.
func listOf[T any](ctx context.Context, r *Reader, owner, index string, p Page, key func(string) string, decode func(map[string]string) (T, error)) (List[T], error) {
	start, stop := p.bounds()
	var exists, total *redis.IntCmd
	var ids *redis.StringSliceCmd
	if _, err := r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if owner != "" {
			exists = pipe.Exists(ctx, owner)
		}
		ids = pipe.ZRange(ctx, index, start, stop)
		total = pipe.ZCard(ctx, index)
		return nil
	}); err != nil {
		return List[T]{}, err
	}
	if exists != nil && exists.Val() == 0 {
		return List[T]{}, ErrNotFound
	}
	out := List[T]{Items: make([]T, 0, len(ids.Val())), Offset: start, Total: total.Val()}
	if len(ids.Val()) == 0 {
		return out, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids.Val()))
	if _, err := r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, id := range ids.Val() {
			cmds[i] = pipe.HGetAll(ctx, key(id))
		}
		return nil
	}); err != nil {
		return List[T]{}, err
	}
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		v, err := decode(c.Val())
		if err != nil {
			return List[T]{}, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// Adapters from typed ids to key builders.
func keyOf[ID ~string](f func(ID) string) func(string) string {
	return func(s string) string { return f(ID(s)) }
}

// readPerson decodes a stored person for the read side: lists are never null and memberships
// carry their effective permissions.
func readPerson(m map[string]string) (Person, error) {
	p, err := personFrom(m)
	if err != nil || p == nil {
		return Person{}, err
	}
	for i := range p.Memberships {
		p.Memberships[i].Effective = p.Memberships[i].Permissions.Expand()
	}
	p.Memberships = nonNil(p.Memberships)
	p.NotificationPrefs = nonNil(p.NotificationPrefs)
	p.SitePermissions.ReadSites = nonNil(p.SitePermissions.ReadSites)
	p.SitePermissions.WriteSites = nonNil(p.SitePermissions.WriteSites)
	p.SitePermissions.Responsible = nonNil(p.SitePermissions.Responsible)
	p.TicketRestrictions.TicketTypes = nonNil(p.TicketRestrictions.TicketTypes)
	p.TicketRestrictions.Statuses = nonNil(p.TicketRestrictions.Statuses)
	return *p, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
