package domain

import "strings"

// CreateUserGroup creates a user group. Its support-user flag is fixed for life: changing it
// would silently change the class (and seat use) of every member.
type CreateUserGroup struct {
	Group       GroupID
	Name        string
	SupportUser bool
	Permissions PermissionSet
}

func (CreateUserGroup) CommandName() string { return "CreateUserGroup" }

func (c CreateUserGroup) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.IsTenantAdmin(p) {
		return nil, forbidden("creating user groups needs tenant:admin")
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if c.Group == "" {
		return nil, invalid("id", "required")
	}
	if _, ok := d.Groups[c.Group]; ok {
		return nil, refuse(ErrAlreadyExists, "group %q exists", c.Group)
	}
	for _, g := range d.Groups {
		if strings.EqualFold(g.Name, name) {
			return nil, refuse(ErrAlreadyExists, "a group named %q exists", name)
		}
	}
	if err := c.Permissions.validate("permissions"); err != nil {
		return nil, err
	}
	if c.SupportUser && c.Permissions.Has(PermTenantAdmin) {
		return nil, invalid("permissions", "support users cannot administer the tenant")
	}
	return []Event{UserGroupCreated{Group: c.Group, Name: name, SupportUser: c.SupportUser, Permissions: c.Permissions}}, nil
}

// SetGroupPermissions replaces a group's permission set.
type SetGroupPermissions struct {
	Group       GroupID
	Permissions PermissionSet
}

func (SetGroupPermissions) CommandName() string { return "SetGroupPermissions" }

func (c SetGroupPermissions) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.IsTenantAdmin(p) {
		return nil, forbidden("changing group permissions needs tenant:admin")
	}
	g, ok := d.Groups[c.Group]
	if !ok {
		return nil, notFound("group", string(c.Group))
	}
	if err := c.Permissions.validate("permissions"); err != nil {
		return nil, err
	}
	if g.SupportUser && c.Permissions.Has(PermTenantAdmin) {
		return nil, invalid("permissions", "support users cannot administer the tenant")
	}
	// The tenant must keep an administrator: refuse removing tenant:admin from the last group
	// whose active members hold it.
	if g.Permissions.Has(PermTenantAdmin) && !c.Permissions.Has(PermTenantAdmin) && !d.otherActiveTenantAdmin(g.ID, "") {
		return nil, refuse(ErrLastMasterAdmin, "the tenant would be left without an active administrator")
	}
	return []Event{GroupPermissionsSet{Group: c.Group, Permissions: c.Permissions}}, nil
}

// otherActiveTenantAdmin reports whether an active normal user outside group exceptGroup (and
// other than exceptPerson) holds tenant:admin.
func (d *Directory) otherActiveTenantAdmin(exceptGroup GroupID, exceptPerson PersonID) bool {
	for _, p := range d.People {
		if p.Status != StatusActive || p.ID == exceptPerson || p.Group == exceptGroup || d.ClassOf(p) != ClassNormal {
			continue
		}
		if g := d.Groups[p.Group]; g != nil && g.Permissions.Has(PermTenantAdmin) {
			return true
		}
	}
	return false
}

// MoveUserToGroup moves a user into a group (or out of any, with an empty group). Moving into
// a group without the support-user flag makes it a normal user and needs a free seat.
type MoveUserToGroup struct {
	Person PersonID
	Group  GroupID
}

func (MoveUserToGroup) CommandName() string { return "MoveUserToGroup" }

func (c MoveUserToGroup) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.hasTenantPermission(p, PermUsersManage) {
		return nil, forbidden("moving users between groups needs users:manage")
	}
	person, ok := d.People[c.Person]
	if !ok || person.Status == StatusRemoved {
		return nil, notFound("person", string(c.Person))
	}
	if person.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "a contact has no group; promote it to a user first")
	}
	if c.Group != "" {
		if _, ok := d.Groups[c.Group]; !ok {
			return nil, notFound("group", string(c.Group))
		}
	}
	if person.Group == c.Group {
		return nil, nil
	}
	before := d.ClassOf(person)
	moved := *person
	moved.Group = c.Group
	after := d.ClassOf(&moved)
	if before != ClassNormal && after == ClassNormal && d.SeatsUsed() >= d.Seats {
		return nil, refuse(ErrNoFreeSeat, "all %d seats are taken", d.Seats)
	}
	if g := d.Groups[person.Group]; g != nil && g.Permissions.Has(PermTenantAdmin) && person.Status == StatusActive {
		ng := d.Groups[c.Group]
		if (ng == nil || !ng.Permissions.Has(PermTenantAdmin)) && !d.otherActiveTenantAdmin("", person.ID) {
			return nil, refuse(ErrLastMasterAdmin, "the tenant would be left without an active administrator")
		}
	}
	return []Event{UserMovedToGroup{Person: c.Person, Group: c.Group, From: person.Group, Class: after}}, nil
}
