package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// GrantMembership gives a support user a role in a company.
type GrantMembership struct {
	Person      string               `json:"-" path:"person_id"`
	Company     string               `json:"company"`
	Role        string               `json:"role"`
	Permissions domain.PermissionSet `json:"permissions"`
	Sites       []string             `json:"sites,omitempty"`
}

// GrantMembershipHandler runs GrantMembership.
type GrantMembershipHandler struct{ Directories *Directories }

// Handle runs the command.
func (h GrantMembershipHandler) Handle(ctx context.Context, m Meta, in GrantMembership) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.GrantMembership{Person: domain.PersonID(in.Person), Company: domain.CompanyID(in.Company),
		Role: domain.Role(in.Role), Permissions: in.Permissions, Sites: siteIDs(in.Sites)}, nil)
}
