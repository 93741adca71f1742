package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RegisterCompany adds a company to the tenant.
type RegisterCompany struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Parent string `json:"parent,omitempty"`
}

// RegisterCompanyHandler runs RegisterCompany.
type RegisterCompanyHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RegisterCompanyHandler) Handle(ctx context.Context, m Meta, in RegisterCompany) (Result, error) {
	m = m.Prepare("RegisterCompany")
	id := m.NewID("company")
	return h.Directories.Execute(ctx, m, domain.RegisterCompany{Company: domain.CompanyID(id), Name: in.Name,
		Kind: domain.CompanyKind(in.Kind), Parent: domain.CompanyID(in.Parent)}, map[string]string{"company_id": id})
}
