package visibility

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// table is a viewer's table as last written to Redis, kept encoded as it is stored (field →
// value), so that a change encodes only the new scope and compares strings. nil: no table.
type table struct {
	meta                   map[string]any // the v:{viewer} hash
	unrestricted           bool
	tc, ts, co, cd, pc, ps map[string]string
	cx                     map[domain.CompanyID]bool
}

// encodeTable encodes scope s as writeScopeDiff stores it (nil when s has no table).
func encodeTable(s domain.Scope) *table {
	if !s.HasTable {
		return nil
	}
	t := &table{
		meta: map[string]any{"class": string(s.Class), "home": string(s.HomeCompany), "unrestricted": flag(s.Unrestricted),
			"all_companies": flag(s.AllCompanies), "all_docs": flag(s.AllCompanyDocuments), "people_all": flag(s.PeopleOfAllCompanies)},
		unrestricted: s.Unrestricted,
		tc:           toStr(s.Companies), ts: siteGrounds(s), co: toStr(s.VisibleCompanies), cd: toStr(s.CompanyDocs),
		pc: joinStrings(s.PeopleCompanies), ps: siteCompanies(s.PeopleSites),
		cx: make(map[domain.CompanyID]bool, len(s.ContractorAdminOf)),
	}
	for x, ok := range s.ContractorAdminOf {
		if ok {
			t.cx[x] = true
		}
	}
	t.meta["tdigest"] = ticketDigest(t)
	return t
}

// ticketDigest is the TicketDigest of a table as written.
func ticketDigest(t *table) string {
	cx := make([]string, 0, len(t.cx))
	for x := range t.cx {
		cx = append(cx, string(x))
	}
	return TicketDigest(t.unrestricted, t.tc, t.ts, cx)
}

// TicketDigest identifies the ticket part of a viewer's table — its unrestricted flag, company
// grounds (tc), site grounds (ts) and contractor set (cx), as stored — so that the read API can
// keep a decoded table while the digest stored beside it (v:{viewer} tdigest) is unchanged. A
// digest of the content, not a counter: a rebuild and the incremental projection store the same
// value, and a reader can compute it from what it read.
func TicketDigest(unrestricted bool, tc, ts map[string]string, cx []string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(parts ...string) {
		for _, p := range parts {
			h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
			h.Write([]byte(p))
		}
	}
	put("unrestricted", flag(unrestricted))
	for _, kv := range []struct {
		name string
		m    map[string]string
	}{{"tc", tc}, {"ts", ts}} {
		put(kv.name, strconv.Itoa(len(kv.m)))
		for _, k := range slices.Sorted(maps.Keys(kv.m)) {
			put(k, kv.m[k])
		}
	}
	put("cx", strconv.Itoa(len(cx)))
	for _, x := range slices.Sorted(slices.Values(cx)) {
		put(x)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// writeScopeDiff queues the writes that turn viewer id's table from old (nil: none) into nt (a
// scope as encodeTable encodes it; nil: none), keeps the reverse indexes in step, and returns nt.
// A viewer losing its table (suspended, removed, demoted) loses every key in the same
// transaction. Tables are never changed once encoded, so viewers alike may share one.
func writeScopeDiff(tx *projections.Tx, P string, id domain.PersonID, old, nt *table) *table {
	w := tx.B
	v := P + "v:" + string(id)
	if nt == nil {
		if old != nil {
			w.Del(v, v+":tc", v+":ts", v+":cx", v+":co", v+":cd", v+":pc", v+":ps")
			for c := range old.tc {
				w.SRem(P+"r:tc:"+c, string(id))
			}
			for site := range old.ts {
				w.SRem(P+"r:ts:"+site, string(id))
			}
			for x := range old.cx {
				w.SRem(P+"r:cx:"+string(x), string(id))
			}
			w.SRem(P+"r:all", string(id))
		}
		return nil
	}
	if old == nil || !maps.Equal(nt.meta, old.meta) {
		w.HSet(v, pairs(nt.meta)...)
	}
	if old == nil || nt.unrestricted != old.unrestricted {
		if nt.unrestricted {
			w.SAdd(P+"r:all", string(id))
		} else {
			w.SRem(P+"r:all", string(id))
		}
	}
	if old == nil {
		old = &table{}
	}
	diffReasons(tx, v+":tc", P+"r:tc:", string(id), old.tc, nt.tc)
	diffReasons(tx, v+":ts", P+"r:ts:", string(id), old.ts, nt.ts)
	diffReasons(tx, v+":co", "", "", old.co, nt.co)
	diffReasons(tx, v+":cd", "", "", old.cd, nt.cd)
	diffHash(tx, v+":pc", old.pc, nt.pc)
	diffHash(tx, v+":ps", old.ps, nt.ps)
	for x := range old.cx {
		if !nt.cx[x] {
			w.SRem(v+":cx", string(x))
			w.SRem(P+"r:cx:"+string(x), string(id))
		}
	}
	for x := range nt.cx {
		if !old.cx[x] {
			w.SAdd(v+":cx", string(x))
			w.SAdd(P+"r:cx:"+string(x), string(id))
		}
	}
	return nt
}

func toStr[K ~string](m map[K][]domain.TicketReason) map[string]string {
	out := make(map[string]string, len(m))
	for k, rs := range m {
		if len(rs) > 0 {
			out[string(k)] = EncodeReasons(rs)
		}
	}
	return out
}

// siteGrounds encodes a viewer's site grounds; a managed site carries the company whose manager
// membership manages it ("managed_site|company").
func siteGrounds(s domain.Scope) map[string]string {
	out := toStr(s.Sites)
	for site, c := range s.ManagedSiteCompany {
		if v, ok := out[string(site)]; ok {
			out[string(site)] = v + "|" + string(c)
		}
	}
	return out
}

func joinStrings[K ~string](m map[K][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, rs := range m {
		if len(rs) > 0 {
			out[string(k)] = strings.Join(rs, ",")
		}
	}
	return out
}

func siteCompanies(m map[domain.SiteID]domain.CompanyID) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// diffReasons updates hash key from old to new and, when reverse is set, the reverse index
// sets reverse+field for the viewer.
func diffReasons(tx *projections.Tx, key, reverse, viewer string, old, new map[string]string) {
	for f := range old {
		if _, ok := new[f]; !ok {
			tx.B.HDel(key, f)
			if reverse != "" {
				tx.B.SRem(reverse+f, viewer)
			}
		}
	}
	for f, v := range new {
		if ov, ok := old[f]; !ok || ov != v {
			tx.B.HSet(key, f, v)
			if reverse != "" && !ok {
				tx.B.SAdd(reverse+f, viewer)
			}
		}
	}
}

func diffHash(tx *projections.Tx, key string, old, new map[string]string) {
	diffReasons(tx, key, "", "", old, new)
}

func pairs(m map[string]any) []any {
	out := make([]any, 0, 2*len(m))
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// Tickets and documents: resource indexes. No reads: every event carries what it changes.

func score(e projections.Event) float64 { return float64(e.Position.Commit) }

func applyTicketOpened(tx *projections.Tx, e projections.Event) error {
	t := e.Payload.(*domain.TicketOpened)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(t.Ticket)
	z := redisZ(score(e), id)
	tx.B.HSet(P+"t:"+id, "company", string(t.Company), "site", string(t.Site), "reporter", string(t.Reporter),
		"status", string(t.Status), "type", t.Type, "opened", strconv.FormatUint(e.Position.Commit, 10))
	tx.B.ZAdd(P+"i:t", z)
	tx.B.ZAdd(P+"i:tc:"+string(t.Company), z)
	if t.Site != "" {
		tx.B.ZAdd(P+"i:ts:"+string(t.Site), z)
	}
	if t.Reporter != "" {
		tx.B.ZAdd(P+"i:tr:"+string(t.Reporter), z)
	}
	if t.ResponsibleUser != "" {
		tx.B.ZAdd(P+"i:tu:"+string(t.ResponsibleUser), z)
	}
	return nil
}

// applyTicketAssigned keeps the index of the people a ticket names as responsible user (a
// person named by a visible ticket is visible by name).
func applyTicketAssigned(tx *projections.Tx, e projections.Event) error {
	a := e.Payload.(*domain.TicketAssigned)
	if a.FromUser == a.User {
		return nil
	}
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	if a.FromUser != "" {
		tx.B.ZRem(P+"i:tu:"+string(a.FromUser), string(a.Ticket))
	}
	if a.User != "" {
		tx.B.ZAdd(P+"i:tu:"+string(a.User), redisZ(score(e), string(a.Ticket)))
	}
	return nil
}

func applyContractorAssigned(tx *projections.Tx, e projections.Event) error {
	a := e.Payload.(*domain.ContractorAssigned)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(a.Ticket)
	if a.FromContractor != "" && a.FromContractor != a.Contractor {
		tx.B.ZRem(P+"i:tx:"+string(a.FromContractor), id)
	}
	if a.FromTechnician != "" && a.FromTechnician != a.Technician {
		tx.B.ZRem(P+"i:tt:"+string(a.FromTechnician), id)
	}
	tx.B.HSet(P+"t:"+id, "contractor", string(a.Contractor), "technician", string(a.Technician))
	z := redisZ(score(e), id)
	tx.B.ZAdd(P+"i:tx:"+string(a.Contractor), z)
	if a.Technician != "" {
		tx.B.ZAdd(P+"i:tt:"+string(a.Technician), z)
	}
	return nil
}

func applyStatusChanged(tx *projections.Tx, e projections.Event) error {
	c := e.Payload.(*domain.TicketStatusChanged)
	tx.B.HSet(tx.Keys.Tenant(e.Tenant())+"vis:t:"+string(c.Ticket), "status", string(c.To))
	return nil
}

func applyDocumentAttached(tx *projections.Tx, e projections.Event) error {
	d := e.Payload.(*domain.DocumentAttached)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(d.Document)
	tx.B.HSet(P+"d:"+id, "ticket", string(d.Ticket), "company", string(d.Company), "name", d.Name)
	z := redisZ(score(e), id)
	if d.Ticket != "" {
		tx.B.ZAdd(P+"i:dt:"+string(d.Ticket), z)
	} else {
		tx.B.ZAdd(P+"i:dc:"+string(d.Company), z)
	}
	return nil
}
