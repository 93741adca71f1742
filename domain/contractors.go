package domain

import (
	"strings"
	"time"
)

// Guest contractors (DESIGN §1 Contractors) are Directory commands: a contractor is a company
// and its technicians are people, so e-mail uniqueness and the registrar link live in the
// tenant-level aggregate with everything else.

// Contractor refusals beyond the shared sentinels.
var (
	ErrRegistrarNotCustomer = newErr(KindRule, "registrar-not-customer", "only a customer company registers guest contractors")
	ErrNotAContractor       = newErr(KindRule, "not-a-contractor", "the company is not a guest contractor")
)

// canManageContractors: tenant users with contractors:manage (or tenant:admin, or the system,
// or a service granted the scope), and the master admin and admins of company c.
func (d *Directory) canManageContractors(p Principal, c CompanyID) bool {
	if d.hasTenantPermission(p, PermContractorsManage) {
		return true
	}
	switch d.RoleIn(p, c) {
	case RoleMasterAdmin, RoleAdmin:
		return true
	}
	return false
}

// RegisterGuestContractor registers a company of kind contractor on behalf of the customer
// RegisteredBy, whose admins then manage it (its technicians, its assignment to their tickets).
type RegisterGuestContractor struct {
	Company      CompanyID
	Name         string
	RegisteredBy CompanyID
}

func (RegisterGuestContractor) CommandName() string { return "RegisterGuestContractor" }

func (c RegisterGuestContractor) decide(d *Directory, p Principal) ([]Event, error) {
	if c.RegisteredBy == "" {
		return nil, invalid("registered_by", "required")
	}
	customer, err := d.company(p, c.RegisteredBy)
	if err != nil {
		return nil, err
	}
	if !d.canManageContractors(p, customer.ID) {
		return nil, forbidden("registering a guest contractor needs contractors:manage or the customer's admin role")
	}
	if customer.Kind != KindCustomer {
		return nil, refuse(ErrRegistrarNotCustomer, "company %q is a %s, not a customer", customer.ID, customer.Kind)
	}
	name := strings.TrimSpace(c.Name)
	if name == "" || len(name) > 200 {
		return nil, invalid("name", "required, at most 200 characters")
	}
	if c.Company == "" {
		return nil, invalid("id", "required")
	}
	if _, ok := d.Companies[c.Company]; ok {
		return nil, refuse(ErrAlreadyExists, "company %q exists", c.Company)
	}
	return []Event{CompanyRegistered{Company: c.Company, Name: name, Kind: KindContractor, RegisteredBy: customer.ID}}, nil
}

// AddTechnician invites a technician: a support user of a guest contractor (member of it with
// the support permission set; no seat). Allowed to the registering customer's admins, the
// contractor's own admins, and tenant users with contractors:manage. E-mail is unique per tenant.
type AddTechnician struct {
	Person    PersonID
	Company   CompanyID
	Name      string
	Email     string
	TokenHash string
	Now       time.Time
	TTL       time.Duration
}

func (AddTechnician) CommandName() string { return "AddTechnician" }

func (c AddTechnician) decide(d *Directory, p Principal) ([]Event, error) {
	co, err := d.company(p, c.Company)
	if err != nil {
		return nil, err
	}
	if !d.canManageContractors(p, co.ID) && !d.adminOfRegistrar(p, co.ID) {
		return nil, forbidden("adding technicians needs contractors:manage or the admin role of the contractor or of its registering customer")
	}
	if co.Kind != KindContractor {
		return nil, refuse(ErrNotAContractor, "company %q is a %s", co.ID, co.Kind)
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
	if _, taken := d.PersonByEmail(email); taken {
		return nil, refuse(ErrEmailTaken, "%s is already used in this tenant", email)
	}
	if _, exists := d.People[c.Person]; exists {
		return nil, refuse(ErrAlreadyExists, "person %q exists", c.Person)
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	return []Event{TechnicianAdded{Person: c.Person, Company: co.ID, Name: name, Email: email,
		TokenHash: c.TokenHash, ExpiresAt: c.Now.Add(ttl)}}, nil
}
