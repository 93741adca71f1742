package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ChangeRole changes a membership's role (and sites, for managers and basic users).
type ChangeRole struct {
	Person  string   `json:"-" path:"person_id"`
	Company string   `json:"-" path:"company_id"`
	Role    string   `json:"role"`
	Sites   []string `json:"sites,omitempty"`
}

// ChangeRoleHandler runs ChangeRole.
type ChangeRoleHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ChangeRoleHandler) Handle(ctx context.Context, m Meta, in ChangeRole) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.ChangeRole{Person: domain.PersonID(in.Person), Company: domain.CompanyID(in.Company),
		Role: domain.Role(in.Role), Sites: siteIDs(in.Sites)}, nil)
}
