package domain

import (
	"slices"
	"strings"
	"time"
)

// People: contacts, their notification preferences, promotion to a user and demotion back,
// and the MFA flag. Who may act on a person: tenant user managers always; otherwise whoever
// canManagePerson (a company's admins the people below admin, a manager the basic users at its
// sites). A person the actor may not even know of answers not-found.

// NotificationCategories are the categories a person may receive notifications of (DESIGN §1).
var NotificationCategories = []string{"announcements", "documents", "invoices", "tickets"}

// person finds a person the principal may know of, else answers not-found. Removed people are
// gone for every command.
func (d *Directory) person(p Principal, id PersonID) (*Person, error) {
	t, ok := d.People[id]
	if !ok || t.Status == StatusRemoved || !d.canSeePerson(p, t) {
		return nil, notFound("person", string(id))
	}
	return t, nil
}

// isSelf reports whether p is the person id.
func isSelf(p Principal, id PersonID) bool { return p.Kind == PrincipalUser && p.Person == id }

// notificationPrefs validates categories; the result is sorted, without duplicates, never nil.
func notificationPrefs(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, c := range in {
		if !slices.Contains(NotificationCategories, c) {
			return nil, invalid(field, "unknown notification category %q (tickets, invoices, documents, announcements)", c)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// AddContact adds a person who never logs in and only receives notifications. Adding a contact
// to a company needs users:manage or that company's admin role (a contact counts as a person
// below admin; a manager, who manages only basic users at its sites, cannot).
type AddContact struct {
	Person            PersonID
	Name              string
	Email             string
	HomeCompany       CompanyID
	NotificationPrefs []string
}

func (AddContact) CommandName() string { return "AddContact" }

func (c AddContact) decide(d *Directory, p Principal) ([]Event, error) {
	home, err := d.company(p, c.HomeCompany)
	if err != nil {
		return nil, err
	}
	name, email := strings.TrimSpace(c.Name), strings.TrimSpace(c.Email)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if !validEmail(email) {
		return nil, invalid("email", "not an e-mail address")
	}
	if c.Person == "" {
		return nil, invalid("id", "person id is required")
	}
	prefs, err := notificationPrefs("notification_prefs", c.NotificationPrefs)
	if err != nil {
		return nil, err
	}
	if !d.canManageUserAs(p, home.ID, RoleMember, nil) {
		return nil, forbidden("adding contacts to company %q needs users:manage or its admin role", home.ID)
	}
	if _, taken := d.PersonByEmail(email); taken {
		return nil, refuse(ErrEmailTaken, "%s is already used in this tenant", email)
	}
	if _, exists := d.People[c.Person]; exists {
		return nil, refuse(ErrAlreadyExists, "person %q exists", c.Person)
	}
	return []Event{ContactAdded{Person: c.Person, Name: name, Email: email, HomeCompany: home.ID, NotificationPrefs: prefs}}, nil
}

// UpdateNotificationPreferences replaces the categories a person (contact or user) receives.
// A user may change its own; otherwise it needs the right to manage the person.
type UpdateNotificationPreferences struct {
	Person PersonID
	Prefs  []string
}

func (UpdateNotificationPreferences) CommandName() string { return "UpdateNotificationPreferences" }

func (c UpdateNotificationPreferences) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	prefs, err := notificationPrefs("notification_prefs", c.Prefs)
	if err != nil {
		return nil, err
	}
	if !isSelf(p, target.ID) && !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if slices.Equal(prefs, target.NotificationPrefs) {
		return nil, nil
	}
	return []Event{NotificationPreferencesUpdated{Person: target.ID, Prefs: prefs}}, nil
}

// PromoteContactToUser turns a contact into an invited user: same person id, history and
// preferences kept, an invitation issued. Group, role, permissions and sites are those of
// InviteUser (a group without the support-user flag makes a normal user: users:manage and a
// free seat; otherwise a support user with a membership of its home company, default member).
type PromoteContactToUser struct {
	Person      PersonID
	Group       GroupID
	Role        Role
	Permissions PermissionSet
	Sites       []SiteID
	TokenHash   string
	Now         time.Time
	TTL         time.Duration
}

func (PromoteContactToUser) CommandName() string { return "PromoteContactToUser" }

func (c PromoteContactToUser) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type != TypeContact {
		return nil, refuse(ErrWrongState, "%q is already a user", target.ID)
	}
	if c.TokenHash == "" {
		return nil, invalid("token", "an invitation token is required")
	}
	home, ok := d.Companies[target.HomeCompany]
	if !ok {
		return nil, notFound("company", string(target.HomeCompany))
	}
	g, err := d.judgeUserGrant(p, home, c.Group, c.Role, c.Permissions, c.Sites)
	if err != nil {
		return nil, err
	}
	if g.class == ClassNormal && d.SeatsUsed() >= d.Seats {
		return nil, refuse(ErrNoFreeSeat, "all %d seats are taken", d.Seats)
	}
	events := []Event{ContactPromotedToUser{Person: target.ID, Group: c.Group, Class: g.class, TokenHash: c.TokenHash,
		ExpiresAt: expiry(c.Now, c.TTL)}}
	return append(events, g.membership(target.ID, home.ID)...), nil
}

// DemoteUserToContact turns a user (invited, active or suspended) back into a contact: its
// login, memberships, site rights and company access end at once; its e-mail and preferences
// stay. Nobody demotes itself, a company's master admin (transfer first) or the tenant's last
// active administrator.
type DemoteUserToContact struct {
	Person PersonID
}

func (DemoteUserToContact) CommandName() string { return "DemoteUserToContact" }

func (c DemoteUserToContact) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type == TypeContact {
		return nil, refuse(ErrWrongState, "%q is already a contact", target.ID)
	}
	if isSelf(p, target.ID) {
		return nil, forbidden("nobody demotes itself")
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if err := d.keepsAdministrators(target); err != nil {
		return nil, err
	}
	return []Event{UserDemotedToContact{Person: target.ID}}, nil
}

// RequireMFA makes the portal require (or stop requiring) a second factor for a user. It needs
// the right to manage the user; a user may always turn the requirement on for itself, never off.
type RequireMFA struct {
	Person   PersonID
	Required bool
}

func (RequireMFA) CommandName() string { return "RequireMFA" }

func (c RequireMFA) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "contacts never log in; MFA does not apply")
	}
	if !d.canManagePerson(p, target) && !(isSelf(p, target.ID) && c.Required) {
		return nil, forbidden("the acting user may not change the MFA requirement of %q", target.ID)
	}
	if target.MFARequired == c.Required {
		return nil, nil
	}
	return []Event{MFARequired{Person: target.ID, Required: c.Required}}, nil
}
