package domain

// Company access (DESIGN §1): a list of target companies set on a company, a user group or a
// user. The most specific level with a setting wins; a setting created by a grant survives
// revoking its last target (revoking never widens access) until it is explicitly cleared.

// AccessHolder names the level and holder of a setting.
type AccessHolder struct {
	Level  AccessLevel
	Holder string
}

// GrantCompanyAccess adds target (optionally with its subsidiaries) to a level's list.
type GrantCompanyAccess struct {
	AccessHolder
	Target           CompanyID
	WithSubsidiaries bool
}

func (GrantCompanyAccess) CommandName() string { return "GrantCompanyAccess" }

func (c GrantCompanyAccess) decide(d *Directory, p Principal) ([]Event, error) {
	set, err := d.accessCheck(p, c.AccessHolder)
	if err != nil {
		return nil, err
	}
	if _, ok := d.Companies[c.Target]; !ok {
		return nil, notFound("company", string(c.Target))
	}
	if set != nil {
		if t, ok := set.Targets[c.Target]; ok && t.WithSubsidiaries == c.WithSubsidiaries {
			return nil, nil
		}
	}
	return []Event{CompanyAccessGranted{Level: c.Level, Holder: c.Holder, Target: c.Target, WithSubsidiaries: c.WithSubsidiaries}}, nil
}

// RevokeCompanyAccess removes target from a level's list; the setting stays (possibly empty).
type RevokeCompanyAccess struct {
	AccessHolder
	Target CompanyID
}

func (RevokeCompanyAccess) CommandName() string { return "RevokeCompanyAccess" }

func (c RevokeCompanyAccess) decide(d *Directory, p Principal) ([]Event, error) {
	set, err := d.accessCheck(p, c.AccessHolder)
	if err != nil {
		return nil, err
	}
	if set == nil {
		return nil, notFound("access grant", string(c.Target))
	}
	if _, ok := set.Targets[c.Target]; !ok {
		return nil, notFound("access grant", string(c.Target))
	}
	return []Event{CompanyAccessRevoked{Level: c.Level, Holder: c.Holder, Target: c.Target}}, nil
}

// ClearCompanyAccess removes a level's setting altogether: the next level decides again.
type ClearCompanyAccess struct {
	AccessHolder
}

func (ClearCompanyAccess) CommandName() string { return "ClearCompanyAccess" }

func (c ClearCompanyAccess) decide(d *Directory, p Principal) ([]Event, error) {
	set, err := d.accessCheck(p, c.AccessHolder)
	if err != nil {
		return nil, err
	}
	if set == nil {
		return nil, nil
	}
	return []Event{CompanyAccessCleared{Level: c.Level, Holder: c.Holder}}, nil
}

// accessCheck validates the holder, checks the right, and returns its current setting.
// Partner access widens what people see, so only tenant-level company or user managers may
// change it — never a portal admin of the company concerned.
func (d *Directory) accessCheck(p Principal, h AccessHolder) (*AccessSetting, error) {
	var perm Permission
	switch h.Level {
	case LevelCompany:
		perm = PermCompaniesManage
	case LevelGroup:
		perm = PermTenantAdmin
	case LevelUser:
		perm = PermUsersManage
	default:
		return nil, invalid("level", "must be user, group or company")
	}
	if !d.hasTenantPermission(p, perm) {
		return nil, forbidden("changing %s-level company access needs %s", h.Level, perm)
	}
	slot := d.accessSlot(h.Level, h.Holder)
	if slot == nil {
		return nil, notFound(string(h.Level), h.Holder)
	}
	if h.Level == LevelUser && d.People[PersonID(h.Holder)].Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "contacts have no visibility and no company access")
	}
	return *slot, nil
}

// EffectiveAccess is a user's company-access scope and where it comes from.
type EffectiveAccess struct {
	// Unrestricted: a normal user with no setting at any level sees the whole tenant.
	Unrestricted bool
	// Level is the level whose setting applies ("" when none applies).
	Level AccessLevel
	// Companies is the scope: the own company plus the listed targets (and subsidiaries).
	Companies map[CompanyID]AccessLevel
}

// EffectiveAccessOf resolves a person's company-access scope (DESIGN §1).
func (d *Directory) EffectiveAccessOf(p *Person) EffectiveAccess {
	out := EffectiveAccess{Companies: map[CompanyID]AccessLevel{}}
	var set *AccessSetting
	switch {
	case p.Access != nil:
		set, out.Level = p.Access, LevelUser
	case d.Groups[p.Group] != nil && d.Groups[p.Group].Access != nil:
		set, out.Level = d.Groups[p.Group].Access, LevelGroup
	case d.Companies[p.HomeCompany] != nil && d.Companies[p.HomeCompany].Access != nil:
		set, out.Level = d.Companies[p.HomeCompany].Access, LevelCompany
	}
	if set == nil && d.ClassOf(p) == ClassNormal {
		out.Unrestricted = true
		return out
	}
	if set != nil {
		for target, t := range set.Targets {
			if _, ok := d.Companies[target]; !ok {
				continue
			}
			out.Companies[target] = out.Level
			if t.WithSubsidiaries {
				for _, sub := range d.Subsidiaries(target) {
					out.Companies[sub] = out.Level
				}
			}
		}
	}
	out.Companies[p.HomeCompany] = LevelOwn
	return out
}
