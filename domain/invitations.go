package domain

import (
	"slices"
	"strings"
	"time"
)

// InviteUser invites a person to log in. With a group without the support-user flag it is a
// normal user (needs users:manage and a free seat); otherwise a support user holding a
// membership of its home company with Role (default member), which the actor must be allowed
// to grant (DESIGN §1: a manager invites basic users at its sites, an admin users below admin).
type InviteUser struct {
	Person      PersonID
	Name        string
	Email       string
	HomeCompany CompanyID
	Group       GroupID
	Role        Role
	Permissions PermissionSet
	Sites       []SiteID
	TokenHash   string
	Now         time.Time
	TTL         time.Duration
}

func (InviteUser) CommandName() string { return "InviteUser" }

func (c InviteUser) decide(d *Directory, p Principal) ([]Event, error) {
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
	if c.Person == "" || c.TokenHash == "" {
		return nil, invalid("id", "person id and token are required")
	}
	class := ClassSupport
	if c.Group != "" {
		g, ok := d.Groups[c.Group]
		if !ok {
			return nil, notFound("group", string(c.Group))
		}
		if !g.SupportUser {
			class = ClassNormal
		}
	}
	role := c.Role
	if role == "" && class == ClassSupport {
		role = RoleMember
	}
	if role != "" && !role.valid() {
		return nil, invalid("role", "must be master_admin, admin, manager, member or basic")
	}
	if err := c.Permissions.validate("permissions"); err != nil {
		return nil, err
	}
	switch class {
	case ClassNormal:
		if !d.hasTenantPermission(p, PermUsersManage) {
			return nil, forbidden("inviting normal users needs users:manage")
		}
	default:
		if role == RoleMasterAdmin {
			if !d.hasTenantPermission(p, PermUsersManage) {
				return nil, forbidden("only a tenant user manager appoints a first master admin; otherwise transfer the role")
			}
		} else if !d.canManageUserAs(p, home.ID, role, c.Sites) {
			return nil, forbidden("the acting user may not invite a %s into company %q", role, home.ID)
		}
	}
	if role != "" {
		if err := d.checkRoleSites(home, role, c.Sites); err != nil {
			return nil, err
		}
		if role == RoleMasterAdmin && home.MasterAdmin != "" {
			return nil, refuse(ErrMasterAdminExists, "company %q already has a master admin", home.ID)
		}
	}
	if _, taken := d.PersonByEmail(email); taken {
		return nil, refuse(ErrEmailTaken, "%s is already used in this tenant", email)
	}
	if _, exists := d.People[c.Person]; exists {
		return nil, refuse(ErrAlreadyExists, "person %q exists", c.Person)
	}
	if class == ClassNormal && d.SeatsUsed() >= d.Seats {
		return nil, refuse(ErrNoFreeSeat, "all %d seats are taken", d.Seats)
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	events := []Event{UserInvited{Person: c.Person, Name: name, Email: email, HomeCompany: home.ID, Group: c.Group,
		Class: class, TokenHash: c.TokenHash, ExpiresAt: c.Now.Add(ttl)}}
	if role != "" {
		perms := c.Permissions
		if perms.Named == "" && len(perms.List) == 0 {
			perms = defaultPermissions(role)
		}
		events = append(events, MembershipGranted{Person: c.Person, Company: home.ID, Role: role, Permissions: perms, Sites: slices.Clone(c.Sites)})
	}
	return events, nil
}

// defaultPermissions is the permission set a membership gets when none is given.
func defaultPermissions(r Role) PermissionSet {
	switch r {
	case RoleMasterAdmin, RoleAdmin:
		return PermissionSet{Named: "full"}
	}
	return PermissionSet{Named: "support"}
}

// checkRoleSites enforces the site rules of roles: a basic user has exactly one site of the
// company, a manager at least one, other roles none.
func (d *Directory) checkRoleSites(co *Company, role Role, sites []SiteID) error {
	for _, s := range sites {
		if _, ok := co.Sites[s]; !ok {
			return &Error{Kind: KindRule, Code: ErrSiteRequired.Code, Message: "site " + string(s) + " is not a site of company " + string(co.ID), Field: "sites"}
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(sites)))) != len(sites) {
		return invalid("sites", "a site is listed twice")
	}
	switch role {
	case RoleBasic:
		if len(sites) != 1 {
			return refuse(ErrSiteRequired, "a basic user has exactly one site")
		}
	case RoleManager:
		if len(sites) == 0 {
			return refuse(ErrSiteRequired, "a manager manages at least one site")
		}
	default:
		if len(sites) > 0 {
			return invalid("sites", "only managers and basic users have sites")
		}
	}
	return nil
}

// AcceptInvitation binds the caller's external identity (its OIDC subject) to the invited
// user holding the token, and activates it. The caller is not yet a user of the tenant.
type AcceptInvitation struct {
	TokenHash string
	Subject   string
	Now       time.Time
}

func (AcceptInvitation) CommandName() string { return "AcceptInvitation" }

func (AcceptInvitation) allowsUnboundUser() bool { return true }

func (c AcceptInvitation) decide(d *Directory, p Principal) ([]Event, error) {
	if p.Kind != PrincipalUser || p.Person != "" {
		return nil, forbidden("an invitation is accepted by the invited person's own login")
	}
	if strings.TrimSpace(c.Subject) == "" {
		return nil, invalid("subject", "the token carries no subject")
	}
	person, ok := d.PersonByInvitation(c.TokenHash)
	if !ok || person.Status != StatusInvited || person.Invitation == nil {
		return nil, ErrInvitationInvalid
	}
	if !c.Now.Before(person.Invitation.ExpiresAt) {
		return nil, refuse(ErrInvitationInvalid, "the invitation expired")
	}
	if _, bound := d.PersonBySubject(c.Subject); bound {
		return nil, refuse(ErrAlreadyExists, "this login is already bound to a user of the tenant")
	}
	return []Event{InvitationAccepted{Person: person.ID, Subject: c.Subject}}, nil
}
