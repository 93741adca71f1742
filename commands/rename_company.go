package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RenameCompany changes a company's name.
type RenameCompany struct {
	Company string `json:"-" path:"company_id"`
	Name    string `json:"name"`
}

// RenameCompanyHandler runs RenameCompany.
type RenameCompanyHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RenameCompanyHandler) Handle(ctx context.Context, m Meta, in RenameCompany) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RenameCompany{Company: domain.CompanyID(in.Company), Name: in.Name}, nil)
}
