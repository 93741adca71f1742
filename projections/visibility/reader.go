package visibility

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

// Reader answers visibility questions from the read model.
type Reader struct {
	rdb  redis.Cmdable
	keys projections.Keys
}

// NewReader reads the generation keys describes.
func NewReader(rdb redis.Cmdable, keys projections.Keys) *Reader {
	return &Reader{rdb: rdb, keys: keys}
}

// ErrNoTable is returned for a viewer without a visibility table (contacts, invited, suspended,
// removed or unknown people): every read as them is refused.
var ErrNoTable = errors.New("visibility: the viewer has no visibility table")

// ErrNoSuchTicket is returned for a ticket the read model does not know.
var ErrNoSuchTicket = errors.New("visibility: no such ticket")

// Ticket is a ticket's visibility keys.
type Ticket struct {
	ID  domain.TicketID
	Key domain.TicketView
}

// CheckTicket answers "may viewer see ticket, and why" in two round trips of O(1) reads.
func (r *Reader) CheckTicket(ctx context.Context, t domain.TenantID, viewer domain.PersonID, ticket domain.TicketID) ([]domain.TicketReason, error) {
	P := r.keys.Tenant(t) + "vis:"
	v := P + "v:" + string(viewer)
	pipe := r.rdb.Pipeline()
	meta := pipe.HGetAll(ctx, v)
	tk := pipe.HGetAll(ctx, P+"t:"+string(ticket))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	if len(meta.Val()) == 0 {
		return nil, ErrNoTable
	}
	f := tk.Val()
	if len(f) == 0 {
		return nil, ErrNoSuchTicket
	}
	view := domain.TicketView{Company: domain.CompanyID(f["company"]), Site: domain.SiteID(f["site"]),
		Reporter: domain.PersonID(f["reporter"]), Contractor: domain.CompanyID(f["contractor"]), Technician: domain.PersonID(f["technician"])}
	pipe = r.rdb.Pipeline()
	tc := pipe.HGet(ctx, v+":tc", string(view.Company))
	var ts *redis.StringCmd
	if view.Site != "" {
		ts = pipe.HGet(ctx, v+":ts", string(view.Site))
	}
	var cx *redis.BoolCmd
	if view.Contractor != "" {
		cx = pipe.SIsMember(ctx, v+":cx", string(view.Contractor))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	s := domain.Scope{Person: viewer, HasTable: true, Unrestricted: meta.Val()["unrestricted"] == "1",
		Companies: map[domain.CompanyID][]domain.TicketReason{}, Sites: map[domain.SiteID][]domain.TicketReason{},
		ManagedSiteCompany: map[domain.SiteID]domain.CompanyID{}, ContractorAdminOf: map[domain.CompanyID]bool{}}
	s.Companies[view.Company] = DecodeReasons(tc.Val())
	if ts != nil {
		decodeSite(&s, view.Site, ts.Val())
	}
	if cx != nil {
		s.ContractorAdminOf[view.Contractor] = cx.Val()
	}
	return s.TicketReasons(view), nil
}

// TicketIDs lists every ticket the viewer sees: the union of its scope indexes (tests and
// exports; the read API pages through the same indexes).
func (r *Reader) TicketIDs(ctx context.Context, t domain.TenantID, viewer domain.PersonID) ([]domain.TicketID, error) {
	P := r.keys.Tenant(t) + "vis:"
	v := P + "v:" + string(viewer)
	meta, err := r.rdb.HGetAll(ctx, v).Result()
	if err != nil {
		return nil, err
	}
	if len(meta) == 0 {
		return nil, ErrNoTable
	}
	var indexes []string
	if meta["unrestricted"] == "1" {
		indexes = append(indexes, P+"i:t")
	}
	companies, err := r.rdb.HKeys(ctx, v+":tc").Result()
	if err != nil {
		return nil, err
	}
	for _, c := range companies {
		indexes = append(indexes, P+"i:tc:"+c)
	}
	sites, err := r.rdb.HKeys(ctx, v+":ts").Result()
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		indexes = append(indexes, P+"i:ts:"+s)
	}
	contractors, err := r.rdb.SMembers(ctx, v+":cx").Result()
	if err != nil {
		return nil, err
	}
	for _, x := range contractors {
		indexes = append(indexes, P+"i:tx:"+x)
	}
	indexes = append(indexes, P+"i:tr:"+string(viewer), P+"i:tt:"+string(viewer))
	seen := map[string]bool{}
	for _, idx := range indexes {
		ids, err := r.rdb.ZRange(ctx, idx, 0, -1).Result()
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			seen[id] = true
		}
	}
	out := make([]domain.TicketID, 0, len(seen))
	for id := range seen {
		out = append(out, domain.TicketID(id))
	}
	slices.Sort(out)
	return out, nil
}

// TicketScope loads the viewer's whole ticket table (its companies, sites, contractors and
// flag): O(size of the viewer's scope). Audits and tests evaluate many tickets against it.
func (r *Reader) TicketScope(ctx context.Context, t domain.TenantID, viewer domain.PersonID) (domain.Scope, error) {
	pipe := r.rdb.Pipeline()
	read := r.queueTicketScope(ctx, pipe, t, viewer)
	if _, err := pipe.Exec(ctx); err != nil {
		return domain.Scope{}, err
	}
	return read()
}

// queueTicketScope queues the reads of the viewer's ticket table on pipe; the function it
// returns decodes them once the pipeline has run.
func (r *Reader) queueTicketScope(ctx context.Context, pipe redis.Pipeliner, t domain.TenantID, viewer domain.PersonID) func() (domain.Scope, error) {
	v := r.keys.Tenant(t) + "vis:v:" + string(viewer)
	meta, tc, ts, cx := pipe.HGetAll(ctx, v), pipe.HGetAll(ctx, v+":tc"), pipe.HGetAll(ctx, v+":ts"), pipe.SMembers(ctx, v+":cx")
	return func() (domain.Scope, error) { return scopeOf(viewer, meta, tc, ts, cx) }
}

func scopeOf(viewer domain.PersonID, meta, tc, ts *redis.MapStringStringCmd, cx *redis.StringSliceCmd) (domain.Scope, error) {
	if len(meta.Val()) == 0 {
		return domain.Scope{Person: viewer}, ErrNoTable
	}
	s := domain.Scope{Person: viewer, HasTable: true, Unrestricted: meta.Val()["unrestricted"] == "1",
		Companies: map[domain.CompanyID][]domain.TicketReason{}, Sites: map[domain.SiteID][]domain.TicketReason{},
		ManagedSiteCompany: map[domain.SiteID]domain.CompanyID{}, ContractorAdminOf: map[domain.CompanyID]bool{}}
	for c, rs := range tc.Val() {
		s.Companies[domain.CompanyID(c)] = DecodeReasons(rs)
	}
	for site, rs := range ts.Val() {
		decodeSite(&s, domain.SiteID(site), rs)
	}
	for _, x := range cx.Val() {
		s.ContractorAdminOf[domain.CompanyID(x)] = true
	}
	return s, nil
}

// TicketView loads a ticket's visibility keys.
func (r *Reader) TicketView(ctx context.Context, t domain.TenantID, id domain.TicketID) (domain.TicketView, error) {
	f, err := r.rdb.HGetAll(ctx, r.keys.Tenant(t)+"vis:t:"+string(id)).Result()
	if err != nil {
		return domain.TicketView{}, err
	}
	if len(f) == 0 {
		return domain.TicketView{}, ErrNoSuchTicket
	}
	return domain.TicketView{Company: domain.CompanyID(f["company"]), Site: domain.SiteID(f["site"]),
		Reporter: domain.PersonID(f["reporter"]), Contractor: domain.CompanyID(f["contractor"]), Technician: domain.PersonID(f["technician"])}, nil
}

// decodeSite reads a site's grounds ("reasons|company" for a managed site) into the scope.
func decodeSite(s *domain.Scope, site domain.SiteID, v string) {
	rs, company, managed := strings.Cut(v, "|")
	s.Sites[site] = DecodeReasons(rs)
	if managed {
		s.ManagedSiteCompany[site] = domain.CompanyID(company)
	}
}

// FullScope loads everything of the viewer's table: tickets, companies, company documents and
// people (O(size of the viewer's scope)).
func (r *Reader) FullScope(ctx context.Context, t domain.TenantID, viewer domain.PersonID) (domain.Scope, error) {
	s, err := r.TicketScope(ctx, t, viewer)
	if err != nil {
		return s, err
	}
	v := r.keys.Tenant(t) + "vis:v:" + string(viewer)
	pipe := r.rdb.Pipeline()
	meta, co, cd, pc, ps := pipe.HGetAll(ctx, v), pipe.HGetAll(ctx, v+":co"), pipe.HGetAll(ctx, v+":cd"), pipe.HGetAll(ctx, v+":pc"), pipe.HGetAll(ctx, v+":ps")
	if _, err := pipe.Exec(ctx); err != nil {
		return s, err
	}
	m := meta.Val()
	s.Class, s.HomeCompany = domain.Class(m["class"]), domain.CompanyID(m["home"])
	s.AllCompanies, s.AllCompanyDocuments, s.PeopleOfAllCompanies = m["all_companies"] == "1", m["all_docs"] == "1", m["people_all"] == "1"
	s.VisibleCompanies, s.CompanyDocs = map[domain.CompanyID][]domain.TicketReason{}, map[domain.CompanyID][]domain.TicketReason{}
	s.PeopleCompanies, s.PeopleSites = map[domain.CompanyID][]string{}, map[domain.SiteID]domain.CompanyID{}
	for c, rs := range co.Val() {
		s.VisibleCompanies[domain.CompanyID(c)] = DecodeReasons(rs)
	}
	for c, rs := range cd.Val() {
		s.CompanyDocs[domain.CompanyID(c)] = DecodeReasons(rs)
	}
	for c, gs := range pc.Val() {
		s.PeopleCompanies[domain.CompanyID(c)] = strings.Split(gs, ",")
	}
	for site, c := range ps.Val() {
		s.PeopleSites[domain.SiteID(site)] = domain.CompanyID(c)
	}
	return s, nil
}
