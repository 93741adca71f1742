package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// SetParentCompany makes a company a daughter of another (or independent, with no parent).
type SetParentCompany struct {
	Company string `json:"-" path:"company_id"`
	Parent  string `json:"parent"`
}

// SetParentCompanyHandler runs SetParentCompany.
type SetParentCompanyHandler struct{ Directories *Directories }

// Handle runs the command.
func (h SetParentCompanyHandler) Handle(ctx context.Context, m Meta, in SetParentCompany) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.SetParentCompany{Company: domain.CompanyID(in.Company), Parent: domain.CompanyID(in.Parent)}, nil)
}
