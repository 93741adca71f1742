package visibility

import (
	"maps"
	"slices"
	"strconv"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// writeScopeDiff queues the writes that turn viewer id's table from old into s, and keeps the
// reverse indexes in step. A viewer losing its table (suspended, removed, demoted) loses every
// key in the same transaction.
func writeScopeDiff(tx *projections.Tx, P string, id domain.PersonID, old, s domain.Scope) {
	ctx, w := tx.Ctx, tx.W
	v := P + "v:" + string(id)
	if !s.HasTable {
		if old.HasTable {
			w.Del(ctx, v, v+":tc", v+":ts", v+":cx", v+":co", v+":cd", v+":pc", v+":ps")
			for c := range old.Companies {
				w.SRem(ctx, P+"r:tc:"+string(c), string(id))
			}
			for site := range old.Sites {
				w.SRem(ctx, P+"r:ts:"+string(site), string(id))
			}
			for x := range old.ContractorAdminOf {
				w.SRem(ctx, P+"r:cx:"+string(x), string(id))
			}
			w.SRem(ctx, P+"r:all", string(id))
		}
		return
	}
	meta := map[string]any{"class": string(s.Class), "home": string(s.HomeCompany), "unrestricted": flag(s.Unrestricted),
		"all_companies": flag(s.AllCompanies), "all_docs": flag(s.AllCompanyDocuments), "people_all": flag(s.PeopleOfAllCompanies)}
	oldMeta := map[string]any{"class": string(old.Class), "home": string(old.HomeCompany), "unrestricted": flag(old.Unrestricted),
		"all_companies": flag(old.AllCompanies), "all_docs": flag(old.AllCompanyDocuments), "people_all": flag(old.PeopleOfAllCompanies)}
	if !old.HasTable || !maps.Equal(meta, oldMeta) {
		w.HSet(ctx, v, meta)
	}
	if s.Unrestricted != old.Unrestricted || !old.HasTable {
		if s.Unrestricted {
			w.SAdd(ctx, P+"r:all", string(id))
		} else {
			w.SRem(ctx, P+"r:all", string(id))
		}
	}
	diffReasons(tx, v+":tc", P+"r:tc:", string(id), toStr(old.Companies), toStr(s.Companies))
	diffReasons(tx, v+":ts", P+"r:ts:", string(id), siteGrounds(old), siteGrounds(s))
	diffReasons(tx, v+":co", "", "", toStr(old.VisibleCompanies), toStr(s.VisibleCompanies))
	diffReasons(tx, v+":cd", "", "", toStr(old.CompanyDocs), toStr(s.CompanyDocs))
	diffHash(tx, v+":pc", joinStrings(old.PeopleCompanies), joinStrings(s.PeopleCompanies))
	diffHash(tx, v+":ps", siteCompanies(old.PeopleSites), siteCompanies(s.PeopleSites))
	for x := range old.ContractorAdminOf {
		if !s.ContractorAdminOf[x] {
			w.SRem(ctx, v+":cx", string(x))
			w.SRem(ctx, P+"r:cx:"+string(x), string(id))
		}
	}
	for x := range s.ContractorAdminOf {
		if !old.ContractorAdminOf[x] {
			w.SAdd(ctx, v+":cx", string(x))
			w.SAdd(ctx, P+"r:cx:"+string(x), string(id))
		}
	}
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
			s := slices.Clone(rs)
			out[string(k)] = joinComma(s)
		}
	}
	return out
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
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
			tx.W.HDel(tx.Ctx, key, f)
			if reverse != "" {
				tx.W.SRem(tx.Ctx, reverse+f, viewer)
			}
		}
	}
	for f, v := range new {
		if ov, ok := old[f]; !ok || ov != v {
			tx.W.HSet(tx.Ctx, key, f, v)
			if reverse != "" && !ok {
				tx.W.SAdd(tx.Ctx, reverse+f, viewer)
			}
		}
	}
}

func diffHash(tx *projections.Tx, key string, old, new map[string]string) {
	diffReasons(tx, key, "", "", old, new)
}

// Tickets and documents: resource indexes. No reads: every event carries what it changes.

func score(e projections.Event) float64 { return float64(e.Position.Commit) }

func applyTicketOpened(tx *projections.Tx, e projections.Event) error {
	t := e.Payload.(*domain.TicketOpened)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(t.Ticket)
	z := redisZ(score(e), id)
	tx.W.HSet(tx.Ctx, P+"t:"+id, "company", string(t.Company), "site", string(t.Site), "reporter", string(t.Reporter),
		"status", string(t.Status), "type", t.Type, "opened", strconv.FormatUint(e.Position.Commit, 10))
	tx.W.ZAdd(tx.Ctx, P+"i:t", z)
	tx.W.ZAdd(tx.Ctx, P+"i:tc:"+string(t.Company), z)
	if t.Site != "" {
		tx.W.ZAdd(tx.Ctx, P+"i:ts:"+string(t.Site), z)
	}
	if t.Reporter != "" {
		tx.W.ZAdd(tx.Ctx, P+"i:tr:"+string(t.Reporter), z)
	}
	return nil
}

func applyContractorAssigned(tx *projections.Tx, e projections.Event) error {
	a := e.Payload.(*domain.ContractorAssigned)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(a.Ticket)
	if a.FromContractor != "" && a.FromContractor != a.Contractor {
		tx.W.ZRem(tx.Ctx, P+"i:tx:"+string(a.FromContractor), id)
	}
	if a.FromTechnician != "" && a.FromTechnician != a.Technician {
		tx.W.ZRem(tx.Ctx, P+"i:tt:"+string(a.FromTechnician), id)
	}
	tx.W.HSet(tx.Ctx, P+"t:"+id, "contractor", string(a.Contractor), "technician", string(a.Technician))
	z := redisZ(score(e), id)
	tx.W.ZAdd(tx.Ctx, P+"i:tx:"+string(a.Contractor), z)
	if a.Technician != "" {
		tx.W.ZAdd(tx.Ctx, P+"i:tt:"+string(a.Technician), z)
	}
	return nil
}

func applyStatusChanged(tx *projections.Tx, e projections.Event) error {
	c := e.Payload.(*domain.TicketStatusChanged)
	tx.W.HSet(tx.Ctx, tx.Keys.Tenant(e.Tenant())+"vis:t:"+string(c.Ticket), "status", string(c.To))
	return nil
}

func applyDocumentAttached(tx *projections.Tx, e projections.Event) error {
	d := e.Payload.(*domain.DocumentAttached)
	P := tx.Keys.Tenant(e.Tenant()) + "vis:"
	id := string(d.Document)
	tx.W.HSet(tx.Ctx, P+"d:"+id, "ticket", string(d.Ticket), "company", string(d.Company), "name", d.Name)
	z := redisZ(score(e), id)
	if d.Ticket != "" {
		tx.W.ZAdd(tx.Ctx, P+"i:dt:"+string(d.Ticket), z)
	} else {
		tx.W.ZAdd(tx.Ctx, P+"i:dc:"+string(d.Company), z)
	}
	return nil
}
