package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// GrantCompanyAccess adds a target company to a company's, group's or user's access list.
type GrantCompanyAccess struct {
	Level            domain.AccessLevel `json:"-"`
	Holder           string             `json:"-" path:"company_id|group_id|person_id"`
	Target           string             `json:"target"`
	WithSubsidiaries bool               `json:"with_subsidiaries"`
}

// GrantCompanyAccessHandler runs GrantCompanyAccess.
type GrantCompanyAccessHandler struct{ Directories *Directories }

// Handle runs the command.
func (h GrantCompanyAccessHandler) Handle(ctx context.Context, m Meta, in GrantCompanyAccess) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.GrantCompanyAccess{AccessHolder: domain.AccessHolder{Level: in.Level, Holder: in.Holder},
		Target: domain.CompanyID(in.Target), WithSubsidiaries: in.WithSubsidiaries}, nil)
}
