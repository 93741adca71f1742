package domain

import (
	"slices"
	"time"
)

// Directory events. Each is a past-tense fact with its wire name; apply is its Evolve step.
// Field names are the stable JSON contract registered in eventschema.

// TenantConfigured: a tenant was created or its settings changed.
type TenantConfigured struct {
	Tenant TenantID `json:"tenant"`
	Name   string   `json:"name"`
	Seats  int      `json:"seats"`
}

func (TenantConfigured) EventType() string { return "TenantConfigured" }
func (e TenantConfigured) apply(d *Directory) {
	d.Configured, d.Name, d.Seats = true, e.Name, e.Seats
}

// CompanyRegistered: a company joined the tenant.
type CompanyRegistered struct {
	Company CompanyID   `json:"company"`
	Name    string      `json:"name"`
	Kind    CompanyKind `json:"kind"`
	Parent  CompanyID   `json:"parent,omitempty"`
	// RegisteredBy is the customer company that registered a guest contractor.
	RegisteredBy CompanyID `json:"registered_by,omitempty"`
}

func (CompanyRegistered) EventType() string { return "CompanyRegistered" }
func (e CompanyRegistered) apply(d *Directory) {
	d.Companies[e.Company] = &Company{ID: e.Company, Name: e.Name, Kind: e.Kind, Parent: e.Parent,
		RegisteredBy: e.RegisteredBy, Sites: map[SiteID]*Site{}}
}

// CompanyRenamed: a company's name changed.
type CompanyRenamed struct {
	Company CompanyID `json:"company"`
	Name    string    `json:"name"`
}

func (CompanyRenamed) EventType() string { return "CompanyRenamed" }
func (e CompanyRenamed) apply(d *Directory) {
	if c := d.Companies[e.Company]; c != nil {
		c.Name = e.Name
	}
}

// ParentCompanySet: a company became (or stopped being, with an empty parent) a daughter company.
type ParentCompanySet struct {
	Company CompanyID `json:"company"`
	Parent  CompanyID `json:"parent,omitempty"`
}

func (ParentCompanySet) EventType() string { return "ParentCompanySet" }
func (e ParentCompanySet) apply(d *Directory) {
	if c := d.Companies[e.Company]; c != nil {
		c.Parent = e.Parent
	}
}

// SiteAdded: a company gained an address or job site.
type SiteAdded struct {
	Company CompanyID `json:"company"`
	Site    SiteID    `json:"site"`
	Name    string    `json:"name"`
	Address string    `json:"address,omitempty"`
}

func (SiteAdded) EventType() string { return "SiteAdded" }
func (e SiteAdded) apply(d *Directory) {
	if c := d.Companies[e.Company]; c != nil {
		c.Sites[e.Site] = &Site{ID: e.Site, Name: e.Name, Address: e.Address}
	}
}

// SiteRemoved: a site was removed; every site right on it goes with it.
type SiteRemoved struct {
	Company CompanyID `json:"company"`
	Site    SiteID    `json:"site"`
}

func (SiteRemoved) EventType() string { return "SiteRemoved" }
func (e SiteRemoved) apply(d *Directory) {
	if c := d.Companies[e.Company]; c != nil {
		delete(c.Sites, e.Site)
	}
	d.retiredSites[e.Site] = true
	for _, p := range d.People {
		p.Sites.ReadSites = without(p.Sites.ReadSites, e.Site)
		p.Sites.WriteSites = without(p.Sites.WriteSites, e.Site)
		if m := p.Memberships[e.Company]; m != nil {
			m.ManagedSites = without(m.ManagedSites, e.Site)
		}
	}
}

// UserGroupCreated: a user group was created; its support-user flag is fixed for life.
type UserGroupCreated struct {
	Group       GroupID       `json:"group"`
	Name        string        `json:"name"`
	SupportUser bool          `json:"support_user"`
	Permissions PermissionSet `json:"permissions"`
}

func (UserGroupCreated) EventType() string { return "UserGroupCreated" }
func (e UserGroupCreated) apply(d *Directory) {
	d.Groups[e.Group] = &Group{ID: e.Group, Name: e.Name, SupportUser: e.SupportUser, Permissions: e.Permissions}
}

// GroupPermissionsSet: a group's permission set was replaced.
type GroupPermissionsSet struct {
	Group       GroupID       `json:"group"`
	Permissions PermissionSet `json:"permissions"`
}

func (GroupPermissionsSet) EventType() string { return "GroupPermissionsSet" }
func (e GroupPermissionsSet) apply(d *Directory) {
	if g := d.Groups[e.Group]; g != nil {
		g.Permissions = e.Permissions
	}
}

// UserMovedToGroup: a user changed group (and possibly class). An empty group means none.
type UserMovedToGroup struct {
	Person PersonID `json:"person"`
	Group  GroupID  `json:"group,omitempty"`
	From   GroupID  `json:"from,omitempty"`
	// Class is the class the move leaves the user in, recorded for the audit trail.
	Class Class `json:"class"`
}

func (UserMovedToGroup) EventType() string { return "UserMovedToGroup" }
func (e UserMovedToGroup) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Group = e.Group
	}
}

// ContactAdded: a person who only receives notifications was added.
type ContactAdded struct {
	Person            PersonID  `json:"person"`
	Name              string    `json:"name"`
	Email             string    `json:"email"`
	HomeCompany       CompanyID `json:"home_company"`
	NotificationPrefs []string  `json:"notification_prefs"`
}

func (ContactAdded) EventType() string { return "ContactAdded" }
func (e ContactAdded) apply(d *Directory) {
	d.People[e.Person] = &Person{ID: e.Person, Type: TypeContact, Name: e.Name, Email: e.Email,
		HomeCompany: e.HomeCompany, Status: StatusContact, Memberships: map[CompanyID]*Membership{},
		NotificationPrefs: slices.Clone(e.NotificationPrefs)}
	d.emails[normalizeEmail(e.Email)] = e.Person
}

// NotificationPreferencesUpdated: the categories a person receives changed.
type NotificationPreferencesUpdated struct {
	Person PersonID `json:"person"`
	Prefs  []string `json:"prefs"`
}

func (NotificationPreferencesUpdated) EventType() string { return "NotificationPreferencesUpdated" }
func (e NotificationPreferencesUpdated) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.NotificationPrefs = slices.Clone(e.Prefs)
	}
}

// ContactPromotedToUser: a contact became an invited user (same id, history and preferences kept).
type ContactPromotedToUser struct {
	Person    PersonID  `json:"person"`
	Group     GroupID   `json:"group,omitempty"`
	Class     Class     `json:"class"`
	TokenHash string    `json:"token_hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (ContactPromotedToUser) EventType() string { return "ContactPromotedToUser" }
func (e ContactPromotedToUser) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Type, p.Group, p.Status = TypeSystemUser, e.Group, StatusInvited
		p.Invitation = &Invitation{TokenHash: e.TokenHash, ExpiresAt: e.ExpiresAt}
		d.tokens[e.TokenHash] = e.Person
	}
}

// UserDemotedToContact: a user became a contact; login, memberships and site rights end at once.
type UserDemotedToContact struct {
	Person PersonID `json:"person"`
}

func (UserDemotedToContact) EventType() string { return "UserDemotedToContact" }
func (e UserDemotedToContact) apply(d *Directory) {
	p := d.People[e.Person]
	if p == nil {
		return
	}
	d.dropInvitation(p)
	d.dropMasterAdmin(p)
	if p.Subject != "" {
		delete(d.subjects, p.Subject)
	}
	p.Type, p.Status, p.Group, p.Subject = TypeContact, StatusContact, "", ""
	p.Memberships = map[CompanyID]*Membership{}
	p.Sites, p.Access, p.MFARequired = SitePermissions{}, nil, false
}

// UserInvited: a user was invited; it holds a seat if normal, and logs in once it accepts.
type UserInvited struct {
	Person      PersonID  `json:"person"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	HomeCompany CompanyID `json:"home_company"`
	Group       GroupID   `json:"group,omitempty"`
	Class       Class     `json:"class"`
	TokenHash   string    `json:"token_hash"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (UserInvited) EventType() string { return "UserInvited" }
func (e UserInvited) apply(d *Directory) {
	d.People[e.Person] = &Person{ID: e.Person, Type: TypeSystemUser, Name: e.Name, Email: e.Email,
		HomeCompany: e.HomeCompany, Group: e.Group, Status: StatusInvited,
		Invitation:  &Invitation{TokenHash: e.TokenHash, ExpiresAt: e.ExpiresAt},
		Memberships: map[CompanyID]*Membership{}}
	d.emails[normalizeEmail(e.Email)] = e.Person
	d.tokens[e.TokenHash] = e.Person
}

// InvitationResent: a new token replaced the old one, with a new expiry.
type InvitationResent struct {
	Person    PersonID  `json:"person"`
	TokenHash string    `json:"token_hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (InvitationResent) EventType() string { return "InvitationResent" }
func (e InvitationResent) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		d.dropInvitation(p)
		p.Invitation = &Invitation{TokenHash: e.TokenHash, ExpiresAt: e.ExpiresAt}
		d.tokens[e.TokenHash] = e.Person
	}
}

// InvitationRevoked: the invitation was withdrawn; the invited user is removed (seat freed).
type InvitationRevoked struct {
	Person PersonID `json:"person"`
}

func (InvitationRevoked) EventType() string    { return "InvitationRevoked" }
func (e InvitationRevoked) apply(d *Directory) { d.endInvitation(e.Person) }

// InvitationExpired: the invitation ran out unused; the invited user is removed (seat freed).
type InvitationExpired struct {
	Person PersonID `json:"person"`
}

func (InvitationExpired) EventType() string    { return "InvitationExpired" }
func (e InvitationExpired) apply(d *Directory) { d.endInvitation(e.Person) }

// InvitationAccepted: the user bound its external identity and became active.
type InvitationAccepted struct {
	Person  PersonID `json:"person"`
	Subject string   `json:"subject"`
}

func (InvitationAccepted) EventType() string { return "InvitationAccepted" }
func (e InvitationAccepted) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		d.dropInvitation(p)
		p.Status, p.Subject = StatusActive, e.Subject
		d.subjects[e.Subject] = e.Person
	}
}

// MembershipGranted: a user gained a role in a company.
type MembershipGranted struct {
	Person      PersonID      `json:"person"`
	Company     CompanyID     `json:"company"`
	Role        Role          `json:"role"`
	Permissions PermissionSet `json:"permissions"`
	Sites       []SiteID      `json:"sites,omitempty"`
}

func (MembershipGranted) EventType() string { return "MembershipGranted" }
func (e MembershipGranted) apply(d *Directory) {
	p := d.People[e.Person]
	if p == nil {
		return
	}
	p.Memberships[e.Company] = &Membership{Company: e.Company, Role: e.Role, Permissions: e.Permissions,
		ManagedSites: slices.Clone(e.Sites)}
	if e.Role == RoleMasterAdmin {
		if c := d.Companies[e.Company]; c != nil {
			c.MasterAdmin = e.Person
		}
	}
}

// RoleChanged: a membership's role (and sites, for managers and basic users) changed.
type RoleChanged struct {
	Person  PersonID  `json:"person"`
	Company CompanyID `json:"company"`
	From    Role      `json:"from"`
	Role    Role      `json:"role"`
	Sites   []SiteID  `json:"sites,omitempty"`
}

func (RoleChanged) EventType() string { return "RoleChanged" }
func (e RoleChanged) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		if m := p.Memberships[e.Company]; m != nil {
			m.Role, m.ManagedSites = e.Role, slices.Clone(e.Sites)
		}
	}
}

// MembershipRevoked: a user lost its role in a company.
type MembershipRevoked struct {
	Person  PersonID  `json:"person"`
	Company CompanyID `json:"company"`
}

func (MembershipRevoked) EventType() string { return "MembershipRevoked" }
func (e MembershipRevoked) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		delete(p.Memberships, e.Company)
	}
}

// MasterAdminTransferred: the master admin role moved; the former holder became an admin.
type MasterAdminTransferred struct {
	Company CompanyID `json:"company"`
	From    PersonID  `json:"from"`
	To      PersonID  `json:"to"`
}

func (MasterAdminTransferred) EventType() string { return "MasterAdminTransferred" }
func (e MasterAdminTransferred) apply(d *Directory) {
	if from := d.People[e.From]; from != nil {
		if m := from.Memberships[e.Company]; m != nil {
			m.Role = RoleAdmin
		}
	}
	if to := d.People[e.To]; to != nil {
		if m := to.Memberships[e.Company]; m != nil {
			m.Role, m.ManagedSites = RoleMasterAdmin, nil
		} else {
			to.Memberships[e.Company] = &Membership{Company: e.Company, Role: RoleMasterAdmin, Permissions: PermissionSet{Named: "full"}}
		}
	}
	if c := d.Companies[e.Company]; c != nil {
		c.MasterAdmin = e.To
	}
}

// ManagedSitesAssigned: a manager's sites were replaced.
type ManagedSitesAssigned struct {
	Person  PersonID  `json:"person"`
	Company CompanyID `json:"company"`
	Sites   []SiteID  `json:"sites"`
}

func (ManagedSitesAssigned) EventType() string { return "ManagedSitesAssigned" }
func (e ManagedSitesAssigned) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		if m := p.Memberships[e.Company]; m != nil {
			m.ManagedSites = slices.Clone(e.Sites)
		}
	}
}

// SitePermissionsSet: an external user's read/write sites and responsible recipients were replaced.
type SitePermissionsSet struct {
	Person      PersonID `json:"person"`
	ReadSites   []SiteID `json:"read_sites"`
	WriteSites  []SiteID `json:"write_sites"`
	Responsible []string `json:"responsible"`
}

func (SitePermissionsSet) EventType() string { return "SitePermissionsSet" }
func (e SitePermissionsSet) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Sites.ReadSites, p.Sites.WriteSites = slices.Clone(e.ReadSites), slices.Clone(e.WriteSites)
		p.Sites.Responsible = slices.Clone(e.Responsible)
	}
}

// TicketRestrictionsSet: the ticket types a user may open and, when restricted, the statuses it may set.
type TicketRestrictionsSet struct {
	Person      PersonID `json:"person"`
	TicketTypes []string `json:"ticket_types"`
	Restricted  bool     `json:"restricted"`
	Statuses    []string `json:"statuses"`
}

func (TicketRestrictionsSet) EventType() string { return "TicketRestrictionsSet" }
func (e TicketRestrictionsSet) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Sites.TicketTypes, p.Sites.Restricted = slices.Clone(e.TicketTypes), e.Restricted
		p.Sites.Statuses = slices.Clone(e.Statuses)
	}
}

// AccessLevel is where a company-access setting lives.
type AccessLevel string

// The levels of company access, most specific first.
const (
	LevelUser    AccessLevel = "user"
	LevelGroup   AccessLevel = "group"
	LevelCompany AccessLevel = "company"
	// LevelOwn marks the user's own company in an effective scope: always included.
	LevelOwn AccessLevel = "own"
)

// CompanyAccessGranted: a target company joined a level's access list (creating the setting).
type CompanyAccessGranted struct {
	Level            AccessLevel `json:"level"`
	Holder           string      `json:"holder"`
	Target           CompanyID   `json:"target"`
	WithSubsidiaries bool        `json:"with_subsidiaries"`
}

func (CompanyAccessGranted) EventType() string { return "CompanyAccessGranted" }
func (e CompanyAccessGranted) apply(d *Directory) {
	if s := d.accessSlot(e.Level, e.Holder); s != nil {
		if *s == nil {
			*s = &AccessSetting{Targets: map[CompanyID]AccessTarget{}}
		}
		(*s).Targets[e.Target] = AccessTarget{WithSubsidiaries: e.WithSubsidiaries}
	}
}

// CompanyAccessRevoked: a target left a level's list; the (possibly empty) setting stays.
type CompanyAccessRevoked struct {
	Level  AccessLevel `json:"level"`
	Holder string      `json:"holder"`
	Target CompanyID   `json:"target"`
}

func (CompanyAccessRevoked) EventType() string { return "CompanyAccessRevoked" }
func (e CompanyAccessRevoked) apply(d *Directory) {
	if s := d.accessSlot(e.Level, e.Holder); s != nil && *s != nil {
		delete((*s).Targets, e.Target)
	}
}

// CompanyAccessCleared: a level's setting was removed; the next level decides again.
type CompanyAccessCleared struct {
	Level  AccessLevel `json:"level"`
	Holder string      `json:"holder"`
}

func (CompanyAccessCleared) EventType() string { return "CompanyAccessCleared" }
func (e CompanyAccessCleared) apply(d *Directory) {
	if s := d.accessSlot(e.Level, e.Holder); s != nil {
		*s = nil
	}
}

// MFARequired: the portal must require (or stop requiring) a second factor for the user.
type MFARequired struct {
	Person   PersonID `json:"person"`
	Required bool     `json:"required"`
}

func (MFARequired) EventType() string { return "MFARequired" }
func (e MFARequired) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.MFARequired = e.Required
	}
}

// UserSuspended: the user can no longer log in or see anything, until reactivated.
type UserSuspended struct {
	Person PersonID `json:"person"`
}

func (UserSuspended) EventType() string { return "UserSuspended" }
func (e UserSuspended) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Status = StatusSuspended
	}
}

// UserReactivated: a suspended user is active again.
type UserReactivated struct {
	Person PersonID `json:"person"`
}

func (UserReactivated) EventType() string { return "UserReactivated" }
func (e UserReactivated) apply(d *Directory) {
	if p := d.People[e.Person]; p != nil {
		p.Status = StatusActive
	}
}

// UserRemoved: the user is gone for good; its seat and e-mail are freed, its history stays.
type UserRemoved struct {
	Person PersonID `json:"person"`
}

func (UserRemoved) EventType() string { return "UserRemoved" }
func (e UserRemoved) apply(d *Directory) {
	p := d.People[e.Person]
	if p == nil {
		return
	}
	d.dropInvitation(p)
	d.dropMasterAdmin(p)
	if p.Subject != "" {
		delete(d.subjects, p.Subject)
	}
	delete(d.emails, normalizeEmail(p.Email))
	p.Status, p.Memberships = StatusRemoved, map[CompanyID]*Membership{}
}

// TechnicianAdded: a support user of a guest contractor was created (invited).
type TechnicianAdded struct {
	Person    PersonID  `json:"person"`
	Company   CompanyID `json:"company"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	TokenHash string    `json:"token_hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (TechnicianAdded) EventType() string { return "TechnicianAdded" }
func (e TechnicianAdded) apply(d *Directory) {
	d.People[e.Person] = &Person{ID: e.Person, Type: TypeSystemUser, Name: e.Name, Email: e.Email,
		HomeCompany: e.Company, Status: StatusInvited,
		Invitation: &Invitation{TokenHash: e.TokenHash, ExpiresAt: e.ExpiresAt},
		Memberships: map[CompanyID]*Membership{
			e.Company: {Company: e.Company, Role: RoleMember, Permissions: PermissionSet{Named: "support"}},
		}}
	d.emails[normalizeEmail(e.Email)] = e.Person
	d.tokens[e.TokenHash] = e.Person
}

// --- helpers shared by apply steps

func (d *Directory) accessSlot(level AccessLevel, holder string) **AccessSetting {
	switch level {
	case LevelUser:
		if p := d.People[PersonID(holder)]; p != nil {
			return &p.Access
		}
	case LevelGroup:
		if g := d.Groups[GroupID(holder)]; g != nil {
			return &g.Access
		}
	case LevelCompany:
		if c := d.Companies[CompanyID(holder)]; c != nil {
			return &c.Access
		}
	}
	return nil
}

func (d *Directory) dropInvitation(p *Person) {
	if p.Invitation != nil {
		delete(d.tokens, p.Invitation.TokenHash)
		p.Invitation = nil
	}
}

func (d *Directory) dropMasterAdmin(p *Person) {
	for c := range p.Memberships {
		if co := d.Companies[c]; co != nil && co.MasterAdmin == p.ID {
			co.MasterAdmin = ""
		}
	}
}

func (d *Directory) endInvitation(id PersonID) {
	p := d.People[id]
	if p == nil {
		return
	}
	d.dropInvitation(p)
	if p.Status == StatusInvited {
		d.dropMasterAdmin(p)
		delete(d.emails, normalizeEmail(p.Email))
		p.Status, p.Memberships = StatusRemoved, map[CompanyID]*Membership{}
	}
}

func without[T comparable](s []T, v T) []T {
	return slices.DeleteFunc(slices.Clone(s), func(x T) bool { return x == v })
}

// DirectoryEvents lists one zero value of every Directory event, for registries and tests.
func DirectoryEvents() []DirectoryEvent {
	return []DirectoryEvent{TenantConfigured{}, CompanyRegistered{}, CompanyRenamed{}, ParentCompanySet{},
		SiteAdded{}, SiteRemoved{}, UserGroupCreated{}, GroupPermissionsSet{}, UserMovedToGroup{},
		ContactAdded{}, NotificationPreferencesUpdated{}, ContactPromotedToUser{}, UserDemotedToContact{},
		UserInvited{}, InvitationResent{}, InvitationRevoked{}, InvitationExpired{}, InvitationAccepted{},
		MembershipGranted{}, RoleChanged{}, MembershipRevoked{}, MasterAdminTransferred{},
		ManagedSitesAssigned{}, SitePermissionsSet{}, TicketRestrictionsSet{}, CompanyAccessGranted{},
		CompanyAccessRevoked{}, CompanyAccessCleared{}, MFARequired{}, UserSuspended{}, UserReactivated{},
		UserRemoved{}, TechnicianAdded{}}
}

// AllEvents lists one zero value of every event of every aggregate.
func AllEvents() []Event {
	var out []Event
	for _, e := range DirectoryEvents() {
		out = append(out, e)
	}
	return append(out, ticketEvents()...)
}
