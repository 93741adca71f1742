package domain

import "strings"

// RegisterCompany adds a company to the tenant.
type RegisterCompany struct {
	Company CompanyID
	Name    string
	Kind    CompanyKind
	Parent  CompanyID
}

func (RegisterCompany) CommandName() string { return "RegisterCompany" }

func (c RegisterCompany) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.hasTenantPermission(p, PermCompaniesManage) {
		return nil, forbidden("registering companies needs companies:manage")
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if !c.Kind.valid() {
		return nil, invalid("kind", "must be customer, partner, contractor or provider")
	}
	if c.Company == "" {
		return nil, invalid("id", "required")
	}
	if _, ok := d.Companies[c.Company]; ok {
		return nil, refuse(ErrAlreadyExists, "company %q exists", c.Company)
	}
	if c.Parent != "" {
		if _, ok := d.Companies[c.Parent]; !ok {
			return nil, notFound("company", string(c.Parent))
		}
	}
	return []Event{CompanyRegistered{Company: c.Company, Name: name, Kind: c.Kind, Parent: c.Parent}}, nil
}

// company finds a company the principal may know of, else answers not-found.
func (d *Directory) company(p Principal, id CompanyID) (*Company, error) {
	co, ok := d.Companies[id]
	if !ok || !d.canSeeCompany(p, id) {
		return nil, notFound("company", string(id))
	}
	return co, nil
}

// RenameCompany changes a company's name.
type RenameCompany struct {
	Company CompanyID
	Name    string
}

func (RenameCompany) CommandName() string { return "RenameCompany" }

func (c RenameCompany) decide(d *Directory, p Principal) ([]Event, error) {
	co, err := d.company(p, c.Company)
	if err != nil {
		return nil, err
	}
	if !d.canManageCompany(p, c.Company) {
		return nil, forbidden("renaming a company needs companies:manage or its admin role")
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if name == co.Name {
		return nil, nil
	}
	return []Event{CompanyRenamed{Company: c.Company, Name: name}}, nil
}

// SetParentCompany makes a company a daughter of another (or independent, with no parent).
type SetParentCompany struct {
	Company CompanyID
	Parent  CompanyID
}

func (SetParentCompany) CommandName() string { return "SetParentCompany" }

func (c SetParentCompany) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.hasTenantPermission(p, PermCompaniesManage) {
		return nil, forbidden("changing a company's parent needs companies:manage")
	}
	co, ok := d.Companies[c.Company]
	if !ok {
		return nil, notFound("company", string(c.Company))
	}
	if c.Parent != "" {
		if _, ok := d.Companies[c.Parent]; !ok {
			return nil, notFound("company", string(c.Parent))
		}
		if d.IsAncestor(c.Company, c.Parent) {
			return nil, refuse(ErrCycle, "%q is %q or one of its daughters", c.Parent, c.Company)
		}
	}
	if co.Parent == c.Parent {
		return nil, nil
	}
	return []Event{ParentCompanySet{Company: c.Company, Parent: c.Parent}}, nil
}

// AddSite adds an address or job site to a company.
type AddSite struct {
	Company CompanyID
	Site    SiteID
	Name    string
	Address string
}

func (AddSite) CommandName() string { return "AddSite" }

func (c AddSite) decide(d *Directory, p Principal) ([]Event, error) {
	if _, err := d.company(p, c.Company); err != nil {
		return nil, err
	}
	if !d.canManageCompany(p, c.Company) {
		return nil, forbidden("adding sites needs companies:manage or the company's admin role")
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if c.Site == "" {
		return nil, invalid("id", "required")
	}
	if d.siteOwner(c.Site) != "" || d.retiredSites[c.Site] {
		return nil, refuse(ErrAlreadyExists, "site %q exists", c.Site)
	}
	return []Event{SiteAdded{Company: c.Company, Site: c.Site, Name: name, Address: strings.TrimSpace(c.Address)}}, nil
}

// siteOwner finds the company of a site ("" if none).
func (d *Directory) siteOwner(s SiteID) CompanyID {
	for id, co := range d.Companies {
		if _, ok := co.Sites[s]; ok {
			return id
		}
	}
	return ""
}

// RemoveSite removes a site. A basic user's only site, or a manager's last site, cannot go:
// move those users first, so that no user is left with a role that has no site.
type RemoveSite struct {
	Company CompanyID
	Site    SiteID
}

func (RemoveSite) CommandName() string { return "RemoveSite" }

func (c RemoveSite) decide(d *Directory, p Principal) ([]Event, error) {
	co, err := d.company(p, c.Company)
	if err != nil {
		return nil, err
	}
	if !d.canManageCompany(p, c.Company) {
		return nil, forbidden("removing sites needs companies:manage or the company's admin role")
	}
	if _, ok := co.Sites[c.Site]; !ok {
		return nil, notFound("site", string(c.Site))
	}
	for _, person := range d.People {
		m := person.Memberships[c.Company]
		if m == nil || person.Status == StatusRemoved {
			continue
		}
		if (m.Role == RoleBasic || m.Role == RoleManager) && len(m.ManagedSites) == 1 && m.ManagedSites[0] == c.Site {
			return nil, refuse(ErrSiteRequired, "site %q is the only site of %s %q", c.Site, m.Role, person.ID)
		}
	}
	return []Event{SiteRemoved{Company: c.Company, Site: c.Site}}, nil
}
