package domain

import (
	"strings"
	"time"
)

// CreateTenant bootstraps a tenant: its settings, the provider company, an administrators'
// group (normal users with tenant:admin) and the first admin, invited as the provider's master
// admin. Only the system (the operator's CLI) may do it.
type CreateTenant struct {
	Name          string
	Seats         int
	Provider      CompanyID
	ProviderName  string
	AdminGroup    GroupID
	Admin         PersonID
	AdminName     string
	AdminEmail    string
	TokenHash     string
	Now           time.Time
	InvitationTTL time.Duration
}

func (CreateTenant) CommandName() string { return "CreateTenant" }

func (c CreateTenant) decide(d *Directory, p Principal) ([]Event, error) {
	if p.Kind != PrincipalSystem {
		return nil, forbidden("only the operator creates tenants")
	}
	if d.Configured {
		return nil, refuse(ErrAlreadyExists, "tenant %q exists", d.Tenant)
	}
	if err := validateTenantSettings(c.Name, c.Seats); err != nil {
		return nil, err
	}
	if c.Seats < 1 {
		return nil, invalid("seats", "the first admin needs a seat: seats must be at least 1")
	}
	if !validEmail(c.AdminEmail) {
		return nil, invalid("admin_email", "not an e-mail address")
	}
	if strings.TrimSpace(c.AdminName) == "" {
		return nil, invalid("admin_name", "required")
	}
	if c.Provider == "" || c.AdminGroup == "" || c.Admin == "" || c.TokenHash == "" {
		return nil, invalid("", "ids and token are required")
	}
	provider := c.ProviderName
	if strings.TrimSpace(provider) == "" {
		provider = c.Name
	}
	ttl := c.InvitationTTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	return []Event{
		TenantConfigured{Tenant: d.Tenant, Name: strings.TrimSpace(c.Name), Seats: c.Seats},
		CompanyRegistered{Company: c.Provider, Name: strings.TrimSpace(provider), Kind: KindProvider},
		UserGroupCreated{Group: c.AdminGroup, Name: "Administrators", Permissions: PermissionSet{List: []Permission{PermTenantAdmin}}},
		UserInvited{Person: c.Admin, Name: strings.TrimSpace(c.AdminName), Email: strings.TrimSpace(c.AdminEmail),
			HomeCompany: c.Provider, Group: c.AdminGroup, Class: ClassNormal, TokenHash: c.TokenHash, ExpiresAt: c.Now.Add(ttl)},
		MembershipGranted{Person: c.Admin, Company: c.Provider, Role: RoleMasterAdmin, Permissions: PermissionSet{Named: "full"}},
	}, nil
}

// ConfigureTenant changes a tenant's name and seat count. Seats never drop below the normal
// users the tenant already has.
type ConfigureTenant struct {
	Name  string
	Seats int
}

func (ConfigureTenant) CommandName() string { return "ConfigureTenant" }

func (c ConfigureTenant) decide(d *Directory, p Principal) ([]Event, error) {
	if !d.IsTenantAdmin(p) {
		return nil, forbidden("configuring the tenant needs tenant:admin")
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = d.Name
	}
	if err := validateTenantSettings(name, c.Seats); err != nil {
		return nil, err
	}
	if used := d.SeatsUsed(); c.Seats < used {
		return nil, refuse(ErrSeatsBelowUsage, "%d seats requested, %d normal users hold one", c.Seats, used)
	}
	if name == d.Name && c.Seats == d.Seats {
		return nil, nil
	}
	return []Event{TenantConfigured{Tenant: d.Tenant, Name: name, Seats: c.Seats}}, nil
}

func validateTenantSettings(name string, seats int) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return invalid("name", "required, at most 200 characters")
	}
	if seats < 0 || seats > 1_000_000 {
		return invalid("seats", "must be between 0 and 1000000")
	}
	return nil
}
