package domain

// Sites follow their company (DESIGN §2: "companies, sites, people and documents follow"): a
// viewer sees a site of a company it sees, with the company's reasons, and besides those the
// sites it holds a site ground on — a manager its managed sites (managed_site), an external
// user its read and write sites (site_read) — whether or not its rights let it read tickets
// there.

// SiteReasons tells whether p sees site and why, in this order: managed_site, site_read, then
// the reasons it sees the site's company (CanSeeCompany). The system and service clients see
// every site.
func (d *Directory) SiteReasons(p Principal, site SiteID) []TicketReason {
	company, ok := d.companyOfSite(site)
	if !ok {
		return nil
	}
	switch p.Kind {
	case PrincipalSystem:
		return []TicketReason{{Rule: ReasonSystem}}
	case PrincipalService:
		return []TicketReason{{Rule: ReasonService}}
	}
	a := d.actor(p)
	if !hasTable(a) {
		return nil
	}
	var out []TicketReason
	if m := a.Memberships[company]; m != nil && m.Role == RoleManager && contains(m.ManagedSites, site) {
		out = append(out, TicketReason{Rule: ReasonManagedSite})
	}
	if contains(a.Sites.ReadSites, site) || contains(a.Sites.WriteSites, site) {
		out = append(out, TicketReason{Rule: ReasonSiteRead})
	}
	_, rs := d.CanSeeCompany(p, company)
	return append(out, rs...)
}

func (d *Directory) companyOfSite(site SiteID) (CompanyID, bool) {
	for id, c := range d.Companies {
		if _, ok := c.Sites[site]; ok {
			return id, true
		}
	}
	return "", false
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// SiteReasons is Directory.SiteReasons from the scope, for a site of company.
func (s Scope) SiteReasons(site SiteID, company CompanyID) []TicketReason {
	if !s.HasTable {
		return nil
	}
	var out []TicketReason
	if c, ok := s.PeopleSites[site]; ok && c == company {
		out = append(out, TicketReason{Rule: ReasonManagedSite})
	}
	if _, ok := hasRule(s.Sites[site], ReasonSiteRead); ok {
		out = append(out, TicketReason{Rule: ReasonSiteRead})
	}
	_, rs := s.SeesCompany(company)
	return append(out, rs...)
}
