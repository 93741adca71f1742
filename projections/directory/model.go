package directory

import (
	"time"

	"github.com/portal-access/backend/domain"
)

// Tenant is the tenant's own settings.
type Tenant struct {
	ID    domain.TenantID `json:"id"`
	Name  string          `json:"name"`
	Seats int             `json:"seats"`
}

// Company is a customer, partner, contractor or the provider.
type Company struct {
	ID     domain.CompanyID   `json:"id"`
	Name   string             `json:"name"`
	Kind   domain.CompanyKind `json:"kind"`
	Parent domain.CompanyID   `json:"parent,omitempty"`
	// RegisteredBy is the customer that registered a guest contractor.
	RegisteredBy domain.CompanyID `json:"registered_by,omitempty"`
	MasterAdmin  domain.PersonID  `json:"master_admin,omitempty"`
}

// Site is an address or job site of a company.
type Site struct {
	ID      domain.SiteID    `json:"id"`
	Company domain.CompanyID `json:"company"`
	Name    string           `json:"name"`
	Address string           `json:"address,omitempty"`
}

// Group is a user group.
type Group struct {
	ID          domain.GroupID       `json:"id"`
	Name        string               `json:"name"`
	SupportUser bool                 `json:"support_user"`
	Permissions domain.PermissionSet `json:"permissions"`
	// Effective is Permissions expanded (filled on read).
	Effective []domain.Permission `json:"effective_permissions"`
}

// Person is everything the directory shows about a user or contact. Only for viewers that may
// see the person in full; others get a PersonName.
type Person struct {
	ID          domain.PersonID   `json:"id"`
	Name        string            `json:"name"`
	Email       string            `json:"email"`
	Type        domain.PersonType `json:"type"`
	Class       domain.Class      `json:"class"`
	Status      domain.Status     `json:"status"`
	HomeCompany domain.CompanyID  `json:"home_company"`
	Group       domain.GroupID    `json:"group,omitempty"`
	// Subject is the identity provider's subject bound to the user when it accepted its
	// invitation (the read API resolves tokens with it); never shown.
	Subject     string `json:"-"`
	MFARequired bool   `json:"mfa_required"`
	// InvitationExpiresAt is set while an invitation is pending.
	InvitationExpiresAt *time.Time `json:"invitation_expires_at,omitempty"`
	// Memberships are ordered by company id.
	Memberships        []Membership       `json:"memberships"`
	SitePermissions    SitePermissions    `json:"site_permissions"`
	TicketRestrictions TicketRestrictions `json:"ticket_restrictions"`
	NotificationPrefs  []string           `json:"notification_prefs"`
}

// Membership is a user's role in a company.
type Membership struct {
	Company     domain.CompanyID     `json:"company"`
	Role        domain.Role          `json:"role"`
	Permissions domain.PermissionSet `json:"permissions"`
	// Effective is Permissions expanded (filled on read, never stored).
	Effective []domain.Permission `json:"effective_permissions,omitempty"`
	// Sites are a manager's sites or a basic user's one site.
	Sites []domain.SiteID `json:"sites,omitempty"`
}

// SitePermissions are an external user's read and write sites and allowed recipients.
type SitePermissions struct {
	ReadSites   []domain.SiteID `json:"read_sites"`
	WriteSites  []domain.SiteID `json:"write_sites"`
	Responsible []string        `json:"responsible"`
}

// TicketRestrictions are the ticket types a user may open and, when Restricted, the only
// statuses it may set.
type TicketRestrictions struct {
	TicketTypes []string `json:"ticket_types"`
	Restricted  bool     `json:"restricted"`
	Statuses    []string `json:"statuses"`
}

// PersonName is the limited view of a person: who a visible ticket names, nothing more.
type PersonName struct {
	ID      domain.PersonID `json:"id"`
	Name    string          `json:"name"`
	Limited bool            `json:"limited"`
}

// Ticket is a ticket as displayed.
type Ticket struct {
	ID               domain.TicketID     `json:"id"`
	Company          domain.CompanyID    `json:"company"`
	Site             domain.SiteID       `json:"site,omitempty"`
	Type             string              `json:"type"`
	Status           domain.TicketStatus `json:"status"`
	Title            string              `json:"title"`
	Description      string              `json:"description,omitempty"`
	Reporter         domain.PersonID     `json:"reporter,omitempty"`
	ResponsibleGroup domain.GroupID      `json:"responsible_group,omitempty"`
	ResponsibleUser  domain.PersonID     `json:"responsible_user,omitempty"`
	Contractor       domain.CompanyID    `json:"contractor,omitempty"`
	Technician       domain.PersonID     `json:"technician,omitempty"`
	OpenedAt         time.Time           `json:"opened_at"`
	UpdatedAt        time.Time           `json:"updated_at"`
	Comments         int64               `json:"comments"`
	Documents        int64               `json:"documents"`
}

// Comment is one comment of a ticket.
type Comment struct {
	ID     string          `json:"id"`
	Author domain.PersonID `json:"author,omitempty"`
	Body   string          `json:"body"`
	At     time.Time       `json:"at"`
}

// Document is a document's metadata, of a ticket (Ticket set) or of a company.
type Document struct {
	ID          domain.DocID     `json:"id"`
	Company     domain.CompanyID `json:"company"`
	Ticket      domain.TicketID  `json:"ticket,omitempty"`
	Name        string           `json:"name"`
	ContentType string           `json:"content_type"`
	SizeBytes   int64            `json:"size_bytes"`
	UploadedBy  domain.PersonID  `json:"uploaded_by,omitempty"`
	AttachedAt  time.Time        `json:"attached_at"`
}
