package domain

import "time"

// Event is a fact of the domain; its type name is its stable wire name.
type Event interface{ EventType() string }

// DirectoryEvent is an event of the Directory aggregate.
type DirectoryEvent interface {
	Event
	apply(d *Directory)
}

// Command is an intention; its name appears in every event's envelope.
type Command interface{ CommandName() string }

// DirectoryCommand is a command judged by the Directory.
type DirectoryCommand interface {
	Command
	decide(d *Directory, p Principal) ([]Event, error)
}

// Directory is the tenant-level aggregate: the tenant's configuration, companies with their
// sites, user groups, people, and every access setting. See the package comment for why it is
// one aggregate.
type Directory struct {
	Tenant     TenantID
	Name       string
	Seats      int
	Configured bool

	Companies map[CompanyID]*Company
	Groups    map[GroupID]*Group
	People    map[PersonID]*Person

	emails   map[string]PersonID // normalized e-mail -> person
	tokens   map[string]PersonID // invitation token hash -> person
	subjects map[string]PersonID // OIDC sub -> person
	// retiredSites are removed sites: ids are never reused, so a read model indexing tickets
	// by site never mixes two sites under one id.
	retiredSites map[SiteID]bool
}

// Company is a customer, partner, contractor or the provider itself.
type Company struct {
	ID     CompanyID
	Name   string
	Kind   CompanyKind
	Parent CompanyID
	Sites  map[SiteID]*Site
	// Access is the company-level company-access setting; nil when the level has none.
	Access *AccessSetting
	// MasterAdmin is the one master admin, once the company has one.
	MasterAdmin PersonID
	// RegisteredBy is the customer company that registered it as a guest contractor.
	RegisteredBy CompanyID
}

// Site is an address or job site of a company.
type Site struct {
	ID      SiteID
	Name    string
	Address string
}

// AccessSetting is a company-access list (DESIGN §1). It exists from its first grant and stays
// (possibly empty) until cleared, so that revoking never widens access.
type AccessSetting struct {
	Targets map[CompanyID]AccessTarget
}

// AccessTarget is one entry of an access list.
type AccessTarget struct {
	WithSubsidiaries bool
}

// Group is a user group: its flag decides whether members are support users.
type Group struct {
	ID          GroupID
	Name        string
	SupportUser bool
	Permissions PermissionSet
	Access      *AccessSetting
}

// Person is a user (normal or support) or a contact.
type Person struct {
	ID          PersonID
	Type        PersonType
	Name        string
	Email       string
	HomeCompany CompanyID
	Group       GroupID
	Status      Status
	Subject     string
	MFARequired bool
	Invitation  *Invitation
	Memberships map[CompanyID]*Membership
	Sites       SitePermissions
	Access      *AccessSetting
	// NotificationPrefs are the categories a contact (or user) receives.
	NotificationPrefs []string
}

// Invitation is a pending invitation; only the token's hash is kept.
type Invitation struct {
	TokenHash string
	ExpiresAt time.Time
}

// Membership is a support user's role in a company.
type Membership struct {
	Company     CompanyID
	Role        Role
	Permissions PermissionSet
	// ManagedSites are a manager's sites (at least one); a basic user's one site.
	ManagedSites []SiteID
}

// SitePermissions are an external user's site rights and ticket restrictions.
type SitePermissions struct {
	ReadSites   []SiteID
	WriteSites  []SiteID
	Responsible []string
	TicketTypes []string
	// Statuses, when Restricted, are the only ticket statuses the user may set.
	Restricted bool
	Statuses   []string
}

// NewDirectory is the empty state of a tenant that has not been created yet.
func NewDirectory(t TenantID) *Directory {
	return &Directory{
		Tenant: t, Companies: map[CompanyID]*Company{}, Groups: map[GroupID]*Group{}, People: map[PersonID]*Person{},
		emails: map[string]PersonID{}, tokens: map[string]PersonID{}, subjects: map[string]PersonID{},
		retiredSites: map[SiteID]bool{},
	}
}

// Decide judges cmd by principal p against d. It never changes d.
func Decide(d *Directory, p Principal, cmd DirectoryCommand) ([]Event, error) {
	if _, creating := cmd.(CreateTenant); !creating && !d.Configured {
		return nil, refuse(ErrTenantNotFound, "tenant %q does not exist", d.Tenant)
	}
	if u, ok := cmd.(interface{ allowsUnboundUser() bool }); ok && u.allowsUnboundUser() && p.Kind == PrincipalUser && p.Person == "" {
		return cmd.decide(d, p)
	}
	if p.Kind == PrincipalUser {
		if err := d.mustBeActiveUser(p.Person); err != nil {
			return nil, err
		}
	}
	return cmd.decide(d, p)
}

// Evolve applies e to d in place and returns d. Events of other aggregates are ignored.
// (In place rather than copy: a tenant's directory can hold many thousands of people; the
// command side owns its copy and applies only events that were appended.)
func Evolve(d *Directory, e Event) *Directory {
	if de, ok := e.(DirectoryEvent); ok {
		de.apply(d)
	}
	return d
}

// ClassOf derives a person's class from its type and group (DESIGN §1).
func (d *Directory) ClassOf(p *Person) Class {
	if p.Type == TypeContact {
		return ClassContact
	}
	if g, ok := d.Groups[p.Group]; ok && !g.SupportUser {
		return ClassNormal
	}
	return ClassSupport
}

// SeatsUsed counts the normal users that hold a seat (invited, active or suspended).
func (d *Directory) SeatsUsed() int {
	n := 0
	for _, p := range d.People {
		if p.Status != StatusRemoved && d.ClassOf(p) == ClassNormal {
			n++
		}
	}
	return n
}

// PersonByEmail finds a person by e-mail, case-insensitively.
func (d *Directory) PersonByEmail(email string) (*Person, bool) {
	id, ok := d.emails[normalizeEmail(email)]
	if !ok {
		return nil, false
	}
	return d.People[id], true
}

// PersonBySubject finds the user bound to an OIDC subject when it accepted its invitation.
func (d *Directory) PersonBySubject(sub string) (*Person, bool) {
	id, ok := d.subjects[sub]
	if !ok {
		return nil, false
	}
	return d.People[id], true
}

// PersonByInvitation finds the invited person holding an invitation token hash.
func (d *Directory) PersonByInvitation(tokenHash string) (*Person, bool) {
	id, ok := d.tokens[tokenHash]
	if !ok {
		return nil, false
	}
	return d.People[id], true
}

// IsAncestor reports whether a is b or one of b's parents.
func (d *Directory) IsAncestor(a, b CompanyID) bool {
	for seen := 0; b != "" && seen <= len(d.Companies); seen++ {
		if a == b {
			return true
		}
		c, ok := d.Companies[b]
		if !ok {
			return false
		}
		b = c.Parent
	}
	return false
}

// Subsidiaries returns c's daughter companies, recursively, c excluded.
func (d *Directory) Subsidiaries(c CompanyID) []CompanyID {
	var out []CompanyID
	for id := range d.Companies {
		if id != c && d.IsAncestor(c, id) {
			out = append(out, id)
		}
	}
	return out
}

func (d *Directory) mustBeActiveUser(id PersonID) error {
	p, ok := d.People[id]
	if !ok || p.Type != TypeSystemUser || p.Status != StatusActive {
		// The same answer for "no such person" and "not allowed to act": nothing leaks.
		return forbidden("the acting user is not an active user of this tenant")
	}
	return nil
}
