package domain

import "slices"

// Users' lifecycle (DESIGN §1): invited → active → suspended ⇄ active → removed. Invitations
// (invited → active or removed) are in invitations.go. Nobody suspends, removes or demotes
// itself; a company's master admin is never suspended, removed or demoted (transfer the role
// first); the tenant keeps at least one active administrator.

// SuspendUser stops an active user from logging in or seeing anything, until reactivated.
// Suspending an already suspended user changes nothing.
type SuspendUser struct {
	Person PersonID
}

func (SuspendUser) CommandName() string { return "SuspendUser" }

func (c SuspendUser) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "contacts never log in; there is nothing to suspend")
	}
	if isSelf(p, target.ID) {
		return nil, forbidden("nobody suspends itself")
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	switch target.Status {
	case StatusSuspended:
		return nil, nil
	case StatusActive:
	default:
		return nil, refuse(ErrWrongState, "only an active user can be suspended; %q is %s", target.ID, target.Status)
	}
	if err := d.keepsAdministrators(target); err != nil {
		return nil, err
	}
	return []Event{UserSuspended{Person: target.ID}}, nil
}

// ReactivateUser lets a suspended user log in again. A suspended normal user kept its seat, so
// no seat is needed. Reactivating an active user changes nothing.
type ReactivateUser struct {
	Person PersonID
}

func (ReactivateUser) CommandName() string { return "ReactivateUser" }

func (c ReactivateUser) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if target.Type == TypeContact {
		return nil, refuse(ErrContactCannotLogIn, "contacts never log in; there is nothing to reactivate")
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	switch target.Status {
	case StatusActive:
		return nil, nil
	case StatusSuspended:
		return []Event{UserReactivated{Person: target.ID}}, nil
	}
	return nil, refuse(ErrWrongState, "only a suspended user can be reactivated; %q is %s", target.ID, target.Status)
}

// RemoveUser removes a user (invited, active or suspended) or a contact for good: seat and
// e-mail are freed, history stays.
type RemoveUser struct {
	Person PersonID
}

func (RemoveUser) CommandName() string { return "RemoveUser" }

func (c RemoveUser) decide(d *Directory, p Principal) ([]Event, error) {
	target, err := d.person(p, c.Person)
	if err != nil {
		return nil, err
	}
	if isSelf(p, target.ID) {
		return nil, forbidden("nobody removes itself")
	}
	if !d.canManagePerson(p, target) {
		return nil, forbidden("the acting user may not manage %q", target.ID)
	}
	if err := d.keepsAdministrators(target); err != nil {
		return nil, err
	}
	return []Event{UserRemoved{Person: target.ID}}, nil
}

// masterAdminOf is the first company (by id) whose master admin is person, "" if none.
func (d *Directory) masterAdminOf(person PersonID) CompanyID {
	var ids []CompanyID
	for id, co := range d.Companies {
		if co.MasterAdmin == person {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return slices.Min(ids)
}

// isActiveTenantAdmin reports whether person is an active normal user whose group holds tenant:admin.
func (d *Directory) isActiveTenantAdmin(person *Person) bool {
	if person.Status != StatusActive || d.ClassOf(person) != ClassNormal {
		return false
	}
	g := d.Groups[person.Group]
	return g != nil && g.Permissions.Has(PermTenantAdmin)
}

// keepsAdministrators refuses ending target's login (suspend, remove, demote) when it is a
// company's master admin (whatever its status: transfer the role first) or the tenant's last
// active administrator.
func (d *Directory) keepsAdministrators(target *Person) error {
	if co := d.masterAdminOf(target.ID); co != "" {
		return refuse(ErrLastMasterAdmin, "%q is the master admin of company %q; transfer the role first", target.ID, co)
	}
	if d.isActiveTenantAdmin(target) && !d.otherActiveTenantAdmin("", target.ID) {
		return refuse(ErrLastMasterAdmin, "%q is the tenant's last active administrator", target.ID)
	}
	return nil
}
