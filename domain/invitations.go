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
	g, err := d.judgeUserGrant(p, home, c.Group, c.Role, c.Permissions, c.Sites)
	if err != nil {
		return nil, err
	}
	if _, taken := d.PersonByEmail(email); taken {
		return nil, refuse(ErrEmailTaken, "%s is already used in this tenant", email)
	}
	if _, exists := d.People[c.Person]; exists {
		return nil, refuse(ErrAlreadyExists, "person %q exists", c.Person)
	}
	if g.class == ClassNormal && d.SeatsUsed() >= d.Seats {
		return nil, refuse(ErrNoFreeSeat, "all %d seats are taken", d.Seats)
	}
	events := []Event{UserInvited{Person: c.Person, Name: name, Email: email, HomeCompany: home.ID, Group: c.Group,
		Class: g.class, TokenHash: c.TokenHash, ExpiresAt: expiry(c.Now, c.TTL)}}
	return append(events, g.membership(c.Person, home.ID)...), nil
}

// userGrant is what inviting or promoting makes of a person: its class (from the group) and,
// for support users or when a role is given, its membership of the home company.
type userGrant struct {
	class Class
	role  Role
	perms PermissionSet
	sites []SiteID
}

// judgeUserGrant decides the class and home membership of a new user of company home, and
// whether p may create it: a normal user needs users:manage; a support user's role must be
// one p may grant (a first master admin only by a tenant user manager, and only when the
// company has none).
func (d *Directory) judgeUserGrant(p Principal, home *Company, group GroupID, role Role, perms PermissionSet, sites []SiteID) (userGrant, error) {
	g := userGrant{class: ClassSupport, role: role, perms: perms, sites: slices.Clone(sites)}
	if group != "" {
		grp, ok := d.Groups[group]
		if !ok {
			return g, notFound("group", string(group))
		}
		if !grp.SupportUser {
			g.class = ClassNormal
		}
	}
	if g.role == "" && g.class == ClassSupport {
		g.role = RoleMember
	}
	if g.role != "" && !g.role.valid() {
		return g, invalid("role", "must be master_admin, admin, manager, member or basic")
	}
	if err := perms.validate("permissions"); err != nil {
		return g, err
	}
	switch {
	case g.class == ClassNormal:
		if !d.hasTenantPermission(p, PermUsersManage) {
			return g, forbidden("creating normal users needs users:manage")
		}
	case g.role == RoleMasterAdmin:
		if !d.hasTenantPermission(p, PermUsersManage) {
			return g, forbidden("only a tenant user manager appoints a first master admin; otherwise transfer the role")
		}
	default:
		if !d.canManageUserAs(p, home.ID, g.role, sites) {
			return g, forbidden("the acting user may not make a %s of company %q", g.role, home.ID)
		}
	}
	if g.role != "" {
		if err := d.checkRoleSites(home, g.role, sites); err != nil {
			return g, err
		}
		if g.role == RoleMasterAdmin && home.MasterAdmin != "" {
			return g, refuse(ErrMasterAdminExists, "company %q already has a master admin", home.ID)
		}
	}
	if g.perms.Named == "" && len(g.perms.List) == 0 {
		g.perms = defaultPermissions(g.role)
	}
	return g, nil
}

// membership is the MembershipGranted of the grant, if it has a role.
func (g userGrant) membership(person PersonID, home CompanyID) []Event {
	if g.role == "" {
		return nil
	}
	return []Event{MembershipGranted{Person: person, Company: home, Role: g.role, Permissions: g.perms, Sites: g.sites}}
}

// expiry is when an invitation issued at now with ttl (default DefaultInvitationTTL) runs out.
func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	return now.Add(ttl)
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

// ResendInvitation replaces a pending invitation's token with a new one and a new expiry (the
// old token stops working). Whoever may manage the invited user may resend it.
type ResendInvitation struct {
	Person    PersonID
	TokenHash string
	Now       time.Time
	TTL       time.Duration
}

func (ResendInvitation) CommandName() string { return "ResendInvitation" }

func (c ResendInvitation) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if c.TokenHash == "" {
		return nil, invalid("token", "a new token is required")
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if target.Status != StatusInvited || target.Invitation == nil {
		return nil, refuse(ErrWrongState, "%q has no pending invitation (it is %s)", target.ID, target.Status)
	}
	return []Event{InvitationResent{Person: target.ID, TokenHash: c.TokenHash, ExpiresAt: expiry(c.Now, c.TTL)}}, nil
}

// RevokeInvitation withdraws a pending invitation: the invited user is removed and its seat and
// e-mail are freed. An invited master admin keeps its company's role until it is transferred
// (a deliberate act never leaves a company without its master admin).
type RevokeInvitation struct {
	Person PersonID
}

func (RevokeInvitation) CommandName() string { return "RevokeInvitation" }

func (c RevokeInvitation) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if target.Status != StatusInvited || target.Invitation == nil {
		return nil, refuse(ErrWrongState, "%q has no pending invitation (it is %s)", target.ID, target.Status)
	}
	if co := d.masterAdminOf(target.ID); co != "" {
		return nil, refuse(ErrLastMasterAdmin, "%q is the master admin of company %q; transfer the role first", target.ID, co)
	}
	return []Event{InvitationRevoked{Person: target.ID}}, nil
}

// ExpireInvitation records that an invitation ran out unused (the timer's command; Now is the
// time the timer judged it at): only once it is past its expiry. The invited user is removed.
// Expiry is a fact of time, not a choice: it ends even an invited master admin's role (the
// company never had an active one; a tenant user manager appoints another).
type ExpireInvitation struct {
	Person PersonID
	Now    time.Time
}

func (ExpireInvitation) CommandName() string { return "ExpireInvitation" }

func (c ExpireInvitation) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.hasTenantPermission(p, PermUsersManage) {
		return nil, forbidden("expiring invitations is the system's (or a tenant user manager's) task")
	}
	target, ok := d.People[c.Person]
	if !ok || target.Status == StatusRemoved {
		return nil, notFound("person", string(c.Person))
	}
	if target.Status != StatusInvited || target.Invitation == nil {
		return nil, refuse(ErrWrongState, "%q has no pending invitation (it is %s)", target.ID, target.Status)
	}
	if c.Now.IsZero() {
		return nil, invalid("now", "the time of judgement is required")
	}
	if c.Now.Before(target.Invitation.ExpiresAt) {
		return nil, refuse(ErrWrongState, "the invitation of %q is valid until %s", target.ID, target.Invitation.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return []Event{InvitationExpired{Person: target.ID}}, nil
}
